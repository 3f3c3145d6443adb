//! `drill report (RUN | --latest | --list | --trend)`: a run's report as Markdown with one line
//! against the previous run of its drill, or the history of runs (text, JSON, OpenMetrics, trend).

use std::path::{Path, PathBuf};

use crate::report::history::{self, Run};
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
    if args.trend {
        return trend(&dir, args);
    }
    let path = match &args.run {
        Some(run) => locate(&dir, run)?,
        None => latest(&dir)?,
    };
    let report = report::read(&path).map_err(|e| CliError::Usage(e.to_string()))?;
    print!("{}", render::markdown(&report));
    // The previous run is looked for beside the report; a folder that cannot be read only
    // loses the comparison.
    let folder = path.parent().unwrap_or(Path::new("."));
    if let Ok(entries) = report::history(folder) {
        let runs: Vec<Run> = readable(entries, false);
        if let Some(line) = history::comparison(&runs, &Run::of(&path, &report)) {
            println!("\n{line}");
        }
    }
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

/// The readable reports of a folder's history as runs, newest first; each file that is not a
/// report is named on stderr when `warn`, never skipped in silence.
fn readable(entries: Vec<report::Entry>, warn: bool) -> Vec<Run> {
    entries
        .into_iter()
        .filter_map(|(path, read)| match read {
            Ok(r) => Some(Run::of(&path, &r)),
            Err(e) => {
                if warn {
                    eprintln!("warning: {e}");
                }
                None
            }
        })
        .collect()
}

/// The folder's runs, newest first, only `--drill`'s if given.
fn runs(dir: &Path, args: &ReportArgs) -> Result<Vec<Run>, CliError> {
    let entries = report::history(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut runs = readable(entries, true);
    if let Some(drill) = &args.drill {
        runs.retain(|r| r.drill == *drill);
    }
    Ok(runs)
}

fn none_found(dir: &Path, args: &ReportArgs) -> String {
    format!(
        "no runs{} in {}",
        args.drill
            .as_ref()
            .map(|d| format!(" of drill {d:?}"))
            .unwrap_or_default(),
        dir.display()
    )
}

fn list(dir: &Path, args: &ReportArgs) -> Result<i32, CliError> {
    let mut runs = runs(dir, args)?;
    if args.openmetrics {
        // An empty history is an empty exposition: the collector reads "no drill ran".
        print!("{}", history::openmetrics(&runs));
        return Ok(exit::PASSED);
    }
    if let Some(n) = args.count {
        runs.truncate(n);
    }
    if args.json {
        let doc = history::List::new(runs);
        let text = serde_json::to_string_pretty(&doc).expect("the list serializes");
        println!("{text}");
        return Ok(exit::PASSED);
    }
    if runs.is_empty() {
        println!("{}", none_found(dir, args));
        return Ok(exit::PASSED);
    }
    println!("{}", render::history_header());
    for run in &runs {
        println!("{}", render::history_line(run));
    }
    Ok(exit::PASSED)
}

fn trend(dir: &Path, args: &ReportArgs) -> Result<i32, CliError> {
    let runs = runs(dir, args)?;
    if runs.is_empty() {
        println!("{}", none_found(dir, args));
        return Ok(exit::PASSED);
    }
    print!("{}", history::trend(&runs));
    Ok(exit::PASSED)
}
