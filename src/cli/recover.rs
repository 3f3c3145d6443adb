//! `drill recover (RUN_ID | --latest)`: restores what a run's journal says is still changed.

use crate::engine::journal::locate;
use crate::engine::lock::RunLock;
use crate::engine::{self, RecoverOptions};
use crate::schedule::lease::{self, Lease, LeaseError, Place};

use super::args::{Cli, RecoverArgs};
use super::common;
use super::{CliError, exit};

pub async fn recover(cli: &Cli, args: &RecoverArgs) -> Result<i32, CliError> {
    let state_dir = common::state_dir(cli)?;
    let path = locate(&state_dir, args.run_id.as_deref().filter(|_| !args.latest))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let replay = engine::recover::read(&path).map_err(|e| CliError::Usage(e.to_string()))?;
    let header = replay.header.clone();
    let outstanding = replay.outstanding().len();
    println!(
        "run {} of drill {} ({}), started {}: {} change(s) not restored",
        header.run_id,
        header.drill_name,
        header.drill_file.display(),
        header.started_at,
        outstanding
    );
    if outstanding == 0 {
        println!("nothing to recover");
        return Ok(exit::PASSED);
    }
    if header.connection.lab {
        println!(
            "the run used the embedded lab, whose world ended with that process: nothing outside it was changed"
        );
        return Ok(exit::PASSED);
    }
    let (cloud, clock) = super::lab::reconnect(cli, &header.connection).await?;
    // A run still going on this host holds its run lock; its lease must not be taken from it.
    // Once the lock is free that run is over for good (the recovery takes the lock again).
    drop(
        RunLock::acquire(
            &state_dir,
            &header.global_cluster,
            &format!("drill recover {}", header.run_id),
        )
        .map_err(|e| CliError::Refused(e.to_string()))?,
    );
    // The run's lease keeps other hosts (and schedulers) off the target while this undoes it.
    let lease = match &header.lease_zone {
        Some(zone) => {
            let place = Place {
                zone_id: zone.zone_id.clone(),
                zone_name: zone.zone_name.clone(),
                global_cluster: header.global_cluster.clone(),
            };
            let taken = Lease::acquire_to_recover(
                cloud.route53.clone(),
                clock.clone(),
                place,
                &lease::owner(),
                &header.run_id,
                &header.drill_name,
            )
            .await;
            match taken {
                Ok(lease) => Some(lease),
                Err(e @ LeaseError::Busy { .. }) => {
                    return Err(CliError::Refused(format!(
                        "{e}. Recover run {} once that run has finished",
                        header.run_id
                    )));
                }
                Err(e) => {
                    return Err(CliError::Refused(format!(
                        "cannot take the lease to recover run {}: {e}; nothing was changed",
                        header.run_id
                    )));
                }
            }
        }
        None => None,
    };
    let opts = RecoverOptions {
        clock,
        poll: common::POLL,
        insync_timeout: std::time::Duration::from_secs(300),
        promotion_timeout: std::time::Duration::from_secs(1800),
    };
    let recovered = {
        let recovering = engine::recover(&state_dir, replay, &cloud, &opts);
        tokio::pin!(recovering);
        match &lease {
            Some(lease) => tokio::select! {
                r = &mut recovering => r,
                e = lease.keep() => {
                    // Undoing half-way would leave more changed than finishing: finish, and say so.
                    tracing::error!("{e}; finishing the recovery");
                    recovering.await
                }
            },
            None => recovering.await,
        }
    };
    if let Some(lease) = lease
        && let Err(e) = lease.release().await
    {
        tracing::warn!("{e}");
    }
    let recovery = recovered.map_err(|e| CliError::Refused(e.to_string()))?;
    for change in &recovery.changes {
        println!(
            "  {:<60} {}",
            change.resource,
            if change.restored {
                "restored"
            } else {
                "STILL CHANGED"
            }
        );
    }
    if recovery.left.is_empty() {
        println!(
            "recovered: every change of run {} is back at its original value",
            header.run_id
        );
        Ok(exit::PASSED)
    } else {
        let lines: Vec<String> = recovery
            .left
            .iter()
            .map(|l| format!("  - {}: {}", l.resource, l.reason))
            .collect();
        Err(CliError::Incomplete(format!(
            "could not restore everything of run {}:\n{}\nFix the cause, then run `drill recover {}` again.",
            header.run_id,
            lines.join("\n"),
            header.run_id
        )))
    }
}
