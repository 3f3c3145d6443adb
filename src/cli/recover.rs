//! `drill recover (RUN_ID | --latest)`: restores what a run's journal says is still changed,
//! releases the lease the run left (by that run's own identity, never another's), and writes a
//! report for the run so it appears in `drill report --list`. A run with nothing left — nothing
//! changed and no lease of its own in Route 53 — is left as it is, and nothing is written.

use crate::clock::Clock;
use crate::engine::journal::{Header, locate};
use crate::engine::lock::RunLock;
use crate::engine::{self, Outcome, RecoverOptions, Recovery};
use crate::report::Report;
use crate::schedule::lease::{Lease, LeaseError, Place};

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
    if header.connection.lab {
        println!(
            "the run used the embedded lab, whose world (and the run's lease) ended with that process: nothing outside it was changed"
        );
        return Ok(exit::PASSED);
    }
    let place = lease_place(&header);
    if outstanding == 0 && place.is_none() {
        println!("nothing to recover");
        return Ok(exit::PASSED);
    }
    let (cloud, clock, port) = super::lab::reconnect(cli, &header.connection).await?;
    let since = clock.now();
    // A run still going on this host holds its run lock; its lease must not be taken from it.
    // Once the lock is free that run is over for good (the recovery takes the lock again).
    let lock = RunLock::acquire(
        &state_dir,
        &header.global_cluster,
        &format!("drill recover {}", header.run_id),
    )
    .map_err(|e| CliError::Refused(e.to_string()))?;
    let dead_owner = header.lease.as_ref().map(|l| l.owner.as_str());
    if let (0, Some(place)) = (outstanding, &place) {
        // Killed before its first change, or after its last undo: at most its lease is left.
        let released =
            Lease::release_dead(cloud.route53.as_ref(), place, dead_owner, &header.run_id)
                .await
                .map_err(|e| {
                    CliError::Refused(format!(
                        "cannot release the lease of run {}: {e}",
                        header.run_id
                    ))
                })?;
        let Some(holder) = released else {
            println!("nothing to recover");
            return Ok(exit::PASSED);
        };
        println!(
            "released the lease {} the run left behind ({holder})",
            place.lease_name()
        );
        engine::recover::finish(&replay, &clock).map_err(|e| CliError::Refused(e.to_string()))?;
        drop(lock);
        let recovery = Recovery {
            header: header.clone(),
            journal: path.clone(),
            outstanding: 0,
            left: Vec::new(),
            held: Vec::new(),
            changes: engine::changes(&replay),
            outcome: Outcome::Recovered,
        };
        write_report(&state_dir, &recovery, since, &clock);
        println!(
            "recovered: run {} changed nothing that is still changed",
            header.run_id
        );
        return Ok(exit::PASSED);
    }
    drop(lock);
    // The run's lease keeps other hosts (and schedulers) off the target while this undoes it.
    let lease = match place {
        Some(place) => {
            let taken = Lease::acquire_to_recover(
                cloud.route53.clone(),
                clock.clone(),
                place,
                dead_owner,
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
    let drill = drill_of(&header);
    let opts = RecoverOptions {
        clock: clock.clone(),
        poll: common::POLL,
        insync_timeout: drill
            .as_ref()
            .map_or(crate::spec::DEFAULT_INSYNC, |d| d.timeouts.insync),
        promotion_timeout: drill
            .as_ref()
            .map_or(JOURNAL_ALONE_PROMOTION, |d| d.timeouts.promotion),
        app: app_check(drill.as_ref(), port),
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
    if let Some(lease) = &lease
        && let Err(e) = lease.release().await
    {
        tracing::warn!("{e}");
    }
    let recovery = recovered.map_err(|e| CliError::Refused(e.to_string()))?;
    for change in &recovery.changes {
        println!(
            "  {:<60} {}",
            crate::escape::terminal(&change.resource),
            change.fate()
        );
    }
    write_report(&state_dir, &recovery, since, &clock);
    if recovery.left.is_empty() && !recovery.held.is_empty() {
        let lines: Vec<String> = recovery
            .held
            .iter()
            .map(|l| format!("  - {}: {}", l.resource, l.reason))
            .collect();
        eprintln!(
            "HELD — run {} is not failed back yet, because the way back cannot serve:\n{}\nRun `drill recover {}` again once it can.",
            header.run_id,
            lines.join("\n"),
            header.run_id
        );
        return Ok(exit::HELD);
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

/// How long a recovery without its drill file waits for one promotion: longer than the drill
/// default, because nothing says what this global cluster usually takes.
const JOURNAL_ALONE_PROMOTION: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The drill file the run read, when it is still there and unchanged: its timeouts bound the
/// recovery's waits, and its HTTP probe lets undo ask the application before it sends traffic
/// back. Without it, recovery works from the journal alone, with the default timeouts, and the
/// database and health checks decide.
fn drill_of(header: &Header) -> Option<crate::spec::Drill> {
    let drill = crate::spec::load(&header.drill_file).ok()?;
    if drill.sha256 != header.drill_sha256 {
        tracing::warn!(
            "{} changed since run {}; recovering from the journal alone",
            header.drill_file.display(),
            header.run_id
        );
        return None;
    }
    Some(drill)
}

fn app_check(
    drill: Option<&crate::spec::Drill>,
    port: Option<u16>,
) -> Option<engine::undo::AppCheck> {
    let http = drill?.probes.as_ref()?.http.as_ref()?;
    Some(engine::undo::AppCheck {
        url: http.url.clone(),
        port,
    })
}

/// Where the run's lease lives, from its journal header (or the zone older journals recorded).
fn lease_place(header: &Header) -> Option<Place> {
    let (zone_id, zone_name) = match (&header.lease, &header.lease_zone) {
        (Some(l), _) if l.private_lab => return None,
        (Some(l), _) => (l.zone_id.clone(), l.zone_name.clone()),
        (None, Some(z)) => (z.zone_id.clone(), z.zone_name.clone()),
        (None, None) => return None,
    };
    Some(Place {
        zone_id,
        zone_name,
        global_cluster: header.global_cluster.clone(),
    })
}

/// Writes the recovered run's report next to the runs' reports. A run that wrote its own report
/// (it ended `rollback_incomplete`) keeps it: the recovery's goes beside it.
fn write_report(
    state_dir: &std::path::Path,
    recovery: &Recovery,
    since: chrono::DateTime<chrono::Utc>,
    clock: &Clock,
) {
    let header = &recovery.header;
    let left: Vec<String> = recovery
        .left
        .iter()
        .chain(&recovery.held)
        .map(|l| format!("{}: {}", l.resource, l.reason))
        .collect();
    let report = Report::recovered(
        header,
        header.mode.as_deref().unwrap_or("unknown"),
        recovery.changes.clone(),
        left,
        since,
        clock.now(),
        recovery.outcome,
        super::exit::for_outcome(recovery.outcome),
        recovery.journal.clone(),
    );
    let mut report = report;
    let mut context = crate::report::Context::here(
        None,
        crate::report::Target::of_connection(
            &header.connection,
            Some(clock.scale()).filter(|s| *s != 1.0),
        ),
    );
    context.started_by = "drill recover".to_string();
    report.context = Some(context);
    let mut path = Report::default_path(state_dir, &header.run_id);
    if path.exists() {
        path = Report::default_dir(state_dir).join(format!("{}.recovery.json", header.run_id));
    }
    match report.write(&path) {
        Ok(()) => println!("report: {}", path.display()),
        Err(e) => eprintln!(
            "error: could not write the report to {}: {e}",
            path.display()
        ),
    }
}
