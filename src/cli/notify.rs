//! Runs a drill's `[notify]` command once its report is written: the outcome and a short summary
//! for a chat post (`DRILL_SUMMARY`) in the environment, the report rendered as Markdown on stdin. A hook that fails is a warning, never a change of the
//! drill's outcome or exit code: the drill is over by then.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::report::history::{self, Run};
use crate::report::{Report, render};
use crate::spec::{Drill, Notify};

/// How much of a failing hook's stderr the warning quotes.
const STDERR_QUOTED: usize = 2000;

/// Runs the hook if the drill has one for this outcome; logs what became of it. `report_path` is
/// None when the report could not be written (`DRILL_REPORT` is then empty).
pub async fn after_run(drill: &Drill, report: &Report, report_path: Option<&Path>) {
    let Some(notify) = &drill.notify else {
        return;
    };
    let outcome = report.outcome.as_str();
    if !notify.wants(outcome) {
        tracing::debug!("notify: not run for outcome {outcome}");
        return;
    }
    let shown = notify.command.join(" ");
    match run(notify, drill, report, report_path).await {
        Ok(()) => tracing::info!("notify: `{shown}` ran for outcome {outcome}"),
        Err(e) => tracing::warn!("notify: `{shown}` {e}"),
    }
}

async fn run(
    notify: &Notify,
    drill: &Drill,
    report: &Report,
    report_path: Option<&Path>,
) -> Result<(), String> {
    let program = notify.program(&drill.path)?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let summary = history::summary(
        &Run::of(&report_path.map(absolute).unwrap_or_default(), report),
        report.recover_command.as_deref(),
        report.left.len(),
    );
    let mut child = Command::new(&program)
        .args(&notify.command[1..])
        .current_dir(Notify::folder(&drill.path))
        .env("DRILL_RUN_ID", &report.run_id)
        .env("DRILL_NAME", &report.drill.name)
        .env("DRILL_FILE", absolute(&drill.path))
        .env("DRILL_OUTCOME", report.outcome.as_str())
        .env("DRILL_EXIT_CODE", report.exit_code.to_string())
        .env(
            "DRILL_REPORT",
            report_path.map(absolute).unwrap_or_default(),
        )
        .env("DRILL_SUMMARY", summary)
        .env(
            "DRILL_RECOVER_COMMAND",
            report.recover_command.as_deref().unwrap_or(""),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let markdown = render::markdown(report);
    let mut stdin = child.stdin.take().expect("stdin was piped");
    // A hook that does not read its stdin closes the pipe; that is its business.
    let feed = async move {
        let _ = stdin.write_all(markdown.as_bytes()).await;
    };
    let waited = tokio::time::timeout(notify.timeout, async {
        let ((), output) = tokio::join!(feed, child.wait_with_output());
        output
    })
    .await;
    let output = match waited {
        Err(_) => {
            return Err(format!(
                "was killed after its timeout of {}",
                humantime::format_duration(notify.timeout)
            ));
        }
        Ok(Err(e)) => return Err(format!("could not be waited for: {e}")),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    let quoted: String = stderr.chars().take(STDERR_QUOTED).collect();
    Err(format!(
        "failed ({}){}",
        output.status,
        if quoted.is_empty() {
            String::new()
        } else {
            format!(": {quoted}")
        }
    ))
}

#[cfg(test)]
mod tests {
    use crate::engine::Outcome;
    use crate::spec::notify::OUTCOMES;

    /// `on` is checked against the spec's list; every outcome the engine can end with is on it.
    #[test]
    fn every_outcome_can_be_notified() {
        for outcome in [
            Outcome::Passed,
            Outcome::SloFailed,
            Outcome::Refused,
            Outcome::RolledBack,
            Outcome::RollbackIncomplete,
        ] {
            assert!(OUTCOMES.contains(&outcome.as_str()), "{outcome:?}");
        }
        assert_eq!(OUTCOMES.len(), 5);
    }
}
