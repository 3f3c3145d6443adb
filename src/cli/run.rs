//! `drill run FILE`: confirms, runs the drill through the engine, writes the report and exits with
//! the code of its outcome.

use std::io::{BufRead, IsTerminal, Write};

use crate::clock::Clock;
use crate::engine::journal::Connection;
use crate::engine::{self, Outcome, RunOptions};
use crate::report::Report;

use super::args::{Cli, RunArgs};
use super::common;
use super::{CliError, exit};

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CliError> {
    let drill = common::load(&args.file)?;
    let state_dir = common::state_dir(cli)?;
    confirm(
        &drill.name,
        &drill.regions.primary,
        &drill.regions.secondary,
        args.yes,
    )?;
    let regions = vec![
        drill.regions.primary.clone(),
        drill.regions.secondary.clone(),
    ];
    let cloud = common::aws(cli, regions.clone()).await?;
    let clock = Clock::real();
    let run_id = engine::new_run_id(&clock);
    let failback = drill.failback && !args.no_failback;
    let opts = RunOptions {
        state_dir: state_dir.clone(),
        run_id: run_id.clone(),
        failback,
        cancel: common::cancel_on_signals(&run_id),
        connection: Connection {
            profile: cli.profile.clone(),
            // Recorded so `drill recover` reaches the same endpoint from another shell.
            endpoint_url: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            lab: false,
            regions,
        },
        poll: common::POLL,
        clock,
    };
    tracing::info!(run_id = %run_id, drill = %drill.name, "drill starting");
    let result = engine::run(&drill, &cloud, &opts).await;
    let code = exit::for_outcome(result.outcome);
    let report = Report::new(&drill, &result, failback, code, opts.clock.scale());
    let path = args
        .report
        .clone()
        .unwrap_or_else(|| Report::default_path(&state_dir, &run_id));
    let written = report.write(&path);
    summarise(&report);
    match written {
        Ok(()) => println!("report: {}", path.display()),
        Err(e) => eprintln!(
            "error: could not write the report to {}: {e}",
            path.display()
        ),
    }
    Ok(code)
}

/// On a terminal, the operator types the drill's name; without one, `--yes` is required.
fn confirm(name: &str, primary: &str, secondary: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Usage(
            "stdin is not a terminal, so nobody can confirm: pass --yes to run unattended"
                .to_string(),
        ));
    }
    eprint!(
        "This drill moves the writer and traffic from {primary} to {secondary} and back.\nType the drill name ({name}) to run it: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(format!("cannot read the confirmation: {e}")))?;
    if answer.trim() == name {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "confirmation {:?} does not match the drill name {name:?}; nothing was changed",
            answer.trim()
        )))
    }
}

fn summarise(report: &Report) {
    println!(
        "drill {} run {}: {}",
        report.drill.name,
        report.run_id,
        report.outcome_str()
    );
    for step in &report.steps {
        println!(
            "  {:<16} {:?} {} ms",
            step.name, step.status, step.duration_ms
        );
    }
    for slo in &report.slos {
        println!(
            "  SLO {:<18} target {} ms, measured {}: {}",
            slo.name,
            slo.target,
            slo.measured
                .map(|m| format!("{m} ms"))
                .unwrap_or_else(|| "—".to_string()),
            if slo.passed { "met" } else { "MISSED" }
        );
    }
    for e in &report.errors {
        eprintln!("  error: {e}");
    }
    if report.outcome == Outcome::RollbackIncomplete {
        eprintln!("STILL CHANGED — the drill could not restore:");
        for l in &report.left {
            eprintln!("  - {l}");
        }
        if let Some(cmd) = &report.recover_command {
            eprintln!("Fix with: {cmd}");
        }
    }
}
