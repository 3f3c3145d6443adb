//! `drill schedule [PATH...]`: the scheduler daemon, which runs each drill with a `schedule` at its
//! fire times through the same code as `drill run --yes`; `--list` prints the next fire times and
//! `--due FILE` answers whether a drill is due this minute (the guard in `drill cron` lines).

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::schedule::daemon::{self, Control, DaemonError, Job, JobResult, Options, Runner, show};
use crate::schedule::due::{Due, due};
use crate::schedule::state::{StateDir, StateError};
use crate::schedule::{catalog, watch, window};

use super::args::{Cli, LabArgs, ScheduleArgs};
use super::run::{Executed, Execution, ReportTo, execute};
use super::{CliError, common, exit};

pub const HELP: &str = "\
Signals: SIGHUP (or a changed drill file) reloads the drills; an invalid file is rejected with its
PATH:LINE:COL problems and the others keep their schedule. SIGTERM or SIGINT rolls back a running
drill and stops; a second SIGINT stops at once and leaves the journal for `drill recover`.

Exit codes:
  0  stopped by a signal, with every run restored (or --list: every file valid; --due: due)
  2  usage error or invalid drill file
  3  another scheduler uses this state directory (--due: not due now, or a blackout or the allowed
     hours forbid starting now)
  5  a run left something changed; run the `drill recover` command it printed";

pub async fn schedule(cli: &Cli, args: &ScheduleArgs) -> Result<i32, CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("drills")]
    } else {
        args.paths.clone()
    };
    if args.list {
        return Ok(list(
            &paths,
            args.count,
            args.after.unwrap_or_else(Utc::now),
        ));
    }
    if args.due {
        return check_due(&paths);
    }
    serve(cli, args, paths).await
}

/// `--list`: every drill's next `n` fire times, in UTC and in its time zone, with the ones its
/// policy would skip marked.
fn list(paths: &[PathBuf], n: usize, after: chrono::DateTime<Utc>) -> i32 {
    let catalog = catalog::load(paths);
    for errors in &catalog.rejected {
        eprintln!("{errors}");
    }
    for (path, s) in &catalog.scheduled {
        let Some(schedule) = &s.drill.schedule else {
            continue;
        };
        let tz = s.fires.timezone();
        let policy = &schedule.policy;
        println!(
            "{} ({}): \"{}\" in {}; missed runs: {}, grace {}",
            s.drill.name,
            path.display(),
            schedule.cron,
            tz.name(),
            policy.missed_run.as_str(),
            humantime::format_duration(policy.grace)
        );
        let fires = s.fires.upcoming(after, n);
        if fires.is_empty() {
            println!("  never fires again");
        }
        for fire in fires {
            let local = fire.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z");
            match window::permits(schedule, tz, fire) {
                Ok(()) => println!("  {}  {local}", show(fire)),
                Err(blocked) => println!("  {}  {local}  skipped: {blocked}", show(fire)),
            }
        }
    }
    for path in &catalog.unscheduled {
        println!("{}: no schedule", path.display());
    }
    if catalog.rejected.is_empty() {
        exit::PASSED
    } else {
        exit::USAGE
    }
}

/// `--due FILE`: 0 if the drill fired within its grace and may start now, 3 otherwise.
fn check_due(paths: &[PathBuf]) -> Result<i32, CliError> {
    let catalog = catalog::load(paths);
    if let Some(errors) = catalog.rejected.first() {
        return Err(CliError::Invalid(errors.to_string()));
    }
    let mut scheduled = catalog.scheduled.values();
    let (Some(s), None) = (scheduled.next(), scheduled.next()) else {
        return Err(CliError::Usage(
            "--due takes exactly one drill file with a schedule".to_string(),
        ));
    };
    Ok(match due(s, Utc::now()) {
        Due::Yes(fire) => {
            tracing::debug!("drill {} is due (fire {})", s.drill.name, show(fire));
            exit::PASSED
        }
        // Not due: the usual answer on the days a widened crontab line wakes up. Silent, so cron
        // has nothing to mail.
        Due::No { .. } => exit::REFUSED,
        Due::Blocked(fire, blocked) => {
            eprintln!(
                "drill {}: skipping the run due at {}: a run may not start now: {blocked}",
                s.drill.name,
                show(fire)
            );
            exit::REFUSED
        }
    })
}

/// Runs each job exactly as `drill run FILE --yes` would, with the scheduler's cancel token.
struct CliRunner<'a> {
    cli: &'a Cli,
    lab: &'a LabArgs,
    reports: Option<PathBuf>,
}

#[async_trait(?Send)]
impl Runner for CliRunner<'_> {
    async fn run(&self, job: Job, cancel: CancellationToken) -> JobResult {
        let how = Execution {
            lab: self.lab,
            failback: job.drill.failback,
            report: match &self.reports {
                Some(dir) => ReportTo::Dir(dir.clone()),
                None => ReportTo::StateDir,
            },
            cancel: Some(cancel),
            fire: Some(job.fire),
        };
        match execute(self.cli, &job.drill, how).await {
            Ok(Executed::Ran {
                run_id,
                outcome,
                report,
                ..
            }) => JobResult::Finished {
                run_id,
                outcome,
                report: Some(report),
            },
            Ok(Executed::Busy(why)) => JobResult::Busy(why),
            Ok(Executed::AlreadyRan(by)) => JobResult::AlreadyRan(by),
            Err(e) => JobResult::Failed(e.to_string()),
        }
    }
}

async fn serve(cli: &Cli, args: &ScheduleArgs, paths: Vec<PathBuf>) -> Result<i32, CliError> {
    let state_dir = common::state_dir(cli)?;
    if !paths.iter().any(|p| p.exists()) {
        return Err(CliError::Usage(format!(
            "no such drill file or folder: {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(dir) = &args.reports {
        super::writable::reports_dir(dir)?;
    }
    let (tx, rx) = mpsc::channel(16);
    forward_signals(tx.clone())?;
    if let Err(e) = watch::spawn(&paths, tx) {
        tracing::warn!("cannot watch the drill files ({e}); send SIGHUP to reload them");
    }
    let reports = args
        .reports
        .clone()
        .unwrap_or_else(|| crate::report::Report::default_dir(&state_dir));
    tracing::info!(
        "scheduler starting: drills in {}, state in {}, reports to {}{}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        state_dir.display(),
        reports.display(),
        if args.lab.lab {
            " (each run against a fresh lab)"
        } else {
            ""
        }
    );
    let runner = CliRunner {
        cli,
        lab: &args.lab,
        reports: args.reports.clone(),
    };
    let opts = Options {
        paths,
        state: StateDir::new(&state_dir),
        clock: Clock::real(),
    };
    let stopped = daemon::run(opts, &runner, rx).await.map_err(|e| match e {
        DaemonError::State(e @ StateError::Busy { .. }) => CliError::Refused(e.to_string()),
        DaemonError::State(e) => CliError::Usage(e.to_string()),
    })?;
    for (run_id, outcome) in &stopped.interrupted {
        tracing::info!("interrupted run {run_id}: {}", outcome.as_str());
    }
    Ok(if stopped.incomplete {
        exit::ROLLBACK_INCOMPLETE
    } else {
        exit::PASSED
    })
}

/// SIGHUP reloads; the first SIGTERM or SIGINT stops (rolling back running drills); a second
/// SIGINT exits at once, leaving the journals for `drill recover`. Registered before the daemon
/// starts, so a signal during start-up is not lost.
fn forward_signals(tx: mpsc::Sender<Control>) -> Result<(), CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen =
        |kind| signal(kind).map_err(|e| CliError::Usage(format!("cannot listen for signals: {e}")));
    let mut hup = listen(SignalKind::hangup())?;
    let mut int = listen(SignalKind::interrupt())?;
    let mut term = listen(SignalKind::terminate())?;
    tokio::spawn(async move {
        let mut stopping = false;
        loop {
            let control = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = term.recv() => Control::Stop,
                _ = int.recv() => {
                    if stopping {
                        eprintln!(
                            "second SIGINT: stopping now without finishing the rollback. The journals are kept; run the `drill recover RUN_ID` the log names for each interrupted run."
                        );
                        std::process::exit(exit::ROLLBACK_INCOMPLETE);
                    }
                    Control::Stop
                }
            };
            if control == Control::Stop {
                if stopping {
                    continue;
                }
                tracing::warn!(
                    "stopping: running drills roll back first (press Ctrl-C again to stop at once)"
                );
                stopping = true;
            }
            if tx.send(control).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}
