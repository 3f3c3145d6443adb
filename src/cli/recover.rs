//! `drill recover (RUN_ID | --latest)`: restores what a run's journal says is still changed.

use crate::clock::Clock;
use crate::engine::journal::locate;
use crate::engine::{self, RecoverOptions};

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
    let cloud = common::aws_for(cli, &header.connection).await?;
    let opts = RecoverOptions {
        clock: Clock::real(),
        poll: common::POLL,
        insync_timeout: std::time::Duration::from_secs(300),
        promotion_timeout: std::time::Duration::from_secs(1800),
    };
    let recovery = engine::recover(&state_dir, replay, &cloud, &opts)
        .await
        .map_err(|e| CliError::Refused(e.to_string()))?;
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
