//! `drill report (RUN | --latest | --list)`: a run's report as Markdown, or the history of runs.

use std::path::{Path, PathBuf};

use crate::report::{self, Report, render};

use super::args::{Cli, ReportArgs};
use super::common;
use super::{CliError, exit};

pub fn report(cli: &Cli, args: &ReportArgs) -> Result<i32, CliError> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => Report::default_dir(&common::state_dir(cli)?),
    };
    if args.list {
        return list(&dir, args);
    }
    let path = match &args.run {
        Some(run) => locate(&dir, run)?,
        None => latest(&dir)?,
    };
    let report = report::read(&path).map_err(|e| CliError::Usage(e.to_string()))?;
    print!("{}", render::markdown(&report));
    println!(
        "\nThe whole record, with every step's evidence and the probes' time series: `{}`.",
        path.display()
    );
    Ok(exit::PASSED)
}

/// A report file as given, else a run id's report in the folder.
fn locate(dir: &Path, run: &str) -> Result<PathBuf, CliError> {
    let given = Path::new(run);
    if given.is_file() {
        return Ok(given.to_path_buf());
    }
    let by_id = dir.join(format!("{run}.json"));
    if !run.contains(['/', '\\']) && by_id.is_file() {
        return Ok(by_id);
    }
    Err(CliError::Usage(format!(
        "no report {run:?}: neither a file nor a run id with a report in {}",
        dir.display()
    )))
}

fn latest(dir: &Path) -> Result<PathBuf, CliError> {
    let runs = report::history(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    runs.into_iter()
        .find(|(_, r)| r.is_ok())
        .map(|(p, _)| p)
        .ok_or_else(|| CliError::Usage(format!("no readable report in {}", dir.display())))
}

fn list(dir: &Path, args: &ReportArgs) -> Result<i32, CliError> {
    let runs = report::history(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut shown = 0;
    for (_, read) in &runs {
        match read {
            Ok(r) if args.drill.as_ref().is_none_or(|d| *d == r.drill.name) => {
                if args.count.is_some_and(|n| shown >= n) {
                    continue;
                }
                if shown == 0 {
                    println!("{}", render::history_header());
                }
                println!("{}", render::history_line(r));
                shown += 1;
            }
            Ok(_) => {}
            // A file that is not a report is named, not skipped in silence.
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    if shown == 0 {
        println!(
            "no runs{} in {}",
            args.drill
                .as_ref()
                .map(|d| format!(" of drill {d:?}"))
                .unwrap_or_default(),
            dir.display()
        );
    }
    Ok(exit::PASSED)
}
