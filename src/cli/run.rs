//! `drill run FILE`: confirms, runs the drill through the engine, writes the report and exits with
//! the code of its outcome.

use std::io::{BufRead, IsTerminal, Write};

use crate::engine::{self, Outcome, RunOptions};
use crate::report::Report;

use super::args::{Cli, RunArgs};
use super::{CliError, exit};
use super::{common, lab};

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CliError> {
    let drill = common::load(&args.file)?;
    let state_dir = common::state_dir(cli)?;
    confirm(
        &drill.name,
        &drill.regions.primary,
        &drill.regions.secondary,
        args.yes,
    )?;
    let target = lab::target(cli, &drill, &args.lab).await?;
    let initial = target.lab.as_ref().map(|(world, _)| world.snapshot());
    let run_id = engine::new_run_id(&target.clock);
    let failback = drill.failback && !args.no_failback;
    let opts = RunOptions {
        state_dir: state_dir.clone(),
        run_id: run_id.clone(),
        failback,
        cancel: common::cancel_on_signals(&run_id),
        connection: target.connection.clone(),
        poll: target.poll,
        clock: target.clock.clone(),
    };
    tracing::info!(run_id = %run_id, drill = %drill.name, "drill starting");
    let result = engine::run(&drill, &target.cloud, &opts).await;
    let code = exit::for_outcome(result.outcome);
    let mut report = Report::new(&drill, &result, failback, code, opts.clock.scale());
    if let (Some((world, lab_opts)), Some(initial)) = (&target.lab, &initial) {
        let end = world.snapshot();
        report.lab = Some(serde_json::json!({
            "time_scale": lab_opts.time_scale,
            "faults": lab_opts.faults.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "world_restored": end == *initial,
            "initial_state": initial,
            "final_state": end,
            "ground_truth": world.ground_truth(),
        }));
    }
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
