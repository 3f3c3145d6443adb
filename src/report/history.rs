//! The history of runs as data: one [`Run`] per report with the figures people compare month
//! over month, the list as JSON (`drill report --list --json`), the trend per drill
//! (`drill report --trend`), one report against the previous run of its drill, the OpenMetrics
//! text a node_exporter textfile collector reads (`drill report --list --openmetrics`), and the
//! few lines a `[notify]` hook gets in `DRILL_SUMMARY`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Report;
use super::render::short;
use crate::engine::Outcome;
use crate::engine::probing::{sum_of_directions, worst_of_directions};

/// The version of the `--list --json` document; bumped when a field changes meaning or goes.
pub const LIST_VERSION: u32 = 1;

/// Every outcome a report can carry, in the order the OpenMetrics gauges list them.
pub const OUTCOMES: [Outcome; 8] = [
    Outcome::Passed,
    Outcome::SloFailed,
    Outcome::Refused,
    Outcome::RolledBack,
    Outcome::RollbackIncomplete,
    Outcome::Held,
    Outcome::Recovered,
    Outcome::RecoveryIncomplete,
];

/// What a run ran against: the embedded (or a served) lab, on its modelled clock, or AWS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Target {
    /// `time_scale` modelled seconds passed per wall second.
    Lab {
        time_scale: f64,
    },
    Aws,
}

impl Target {
    pub fn of(r: &Report) -> Self {
        if r.lab.is_some() || r.time.clock != "real" {
            Target::Lab {
                time_scale: r.time.scale,
            }
        } else {
            Target::Aws
        }
    }

    /// `lab` or `aws`: the label OpenMetrics carries, and what comparisons stay within.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Lab { .. } => "lab",
            Target::Aws => "aws",
        }
    }

    /// `lab 30×` or `aws`, for the text list and the trend.
    pub fn label(&self) -> String {
        match self {
            Target::Lab { time_scale } => format!("lab {time_scale}×"),
            Target::Aws => "aws".to_string(),
        }
    }
}

/// How a run's SLOs were judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloCounts {
    pub total: usize,
    pub met: usize,
    pub missed: usize,
    pub not_measured: usize,
}

/// One run of the history: every field of a `drill report --list` line and the figures the trend
/// compares. Durations in milliseconds; measured figures are `null` when the run did not measure
/// them (no `[probes]`, or it ended before the move). Write outage, DNS cut-over and traffic
/// shift are the worse of the failover and the fail-back; lost writes their sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub run_id: String,
    pub drill: String,
    pub mode: String,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub write_outage_ms: Option<u64>,
    pub dns_cutover_ms: Option<u64>,
    pub traffic_shift_ms: Option<u64>,
    pub lost_writes: Option<u64>,
    pub slos: SloCounts,
    pub target: Target,
    /// The report file this row was read from.
    pub report: PathBuf,
}

impl Run {
    pub fn of(path: &Path, r: &Report) -> Self {
        let m = &r.measurements;
        let count = |verdict: &str| r.slos.iter().filter(|s| s.verdict() == verdict).count();
        Run {
            run_id: r.run_id.clone(),
            drill: r.drill.name.clone(),
            mode: r.mode.clone(),
            outcome: r.outcome,
            exit_code: r.exit_code,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: (r.finished_at - r.started_at).num_milliseconds().max(0) as u64,
            write_outage_ms: worst_of_directions(m, "write_outage_ms"),
            dns_cutover_ms: worst_of_directions(m, "dns_cutover_ms"),
            traffic_shift_ms: worst_of_directions(m, "traffic_shift_ms"),
            lost_writes: sum_of_directions(m, "lost_writes"),
            slos: SloCounts {
                total: r.slos.len(),
                met: count("met"),
                missed: count("MISSED"),
                not_measured: count("not measured"),
            },
            target: Target::of(r),
            report: path.to_path_buf(),
        }
    }

    /// The SLO verdicts in a few words: `1/2 met, 1 missed`, `-` without SLOs.
    pub fn slo_words(&self) -> String {
        let s = &self.slos;
        if s.total == 0 {
            return "-".to_string();
        }
        let mut text = format!("{}/{} met", s.met, s.total);
        for (k, words) in [(s.missed, "missed"), (s.not_measured, "not measured")] {
            if k > 0 {
                let _ = write!(text, ", {k} {words}");
            }
        }
        text
    }
}

/// The `--list --json` document: the runs in the order of the text list (newest first).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct List {
    pub list_version: u32,
    pub runs: Vec<Run>,
}

impl List {
    pub fn new(runs: Vec<Run>) -> Self {
        List {
            list_version: LIST_VERSION,
            runs,
        }
    }
}

/// The run of the same drill against the same kind of target that started last before `run`,
/// among `runs` (any order). A lab run is never the baseline of an AWS run, nor the reverse.
pub fn previous<'a>(runs: &'a [Run], run: &Run) -> Option<&'a Run> {
    runs.iter()
        .filter(|p| {
            p.drill == run.drill
                && p.target.kind() == run.target.kind()
                && (p.started_at, &p.run_id) < (run.started_at, &run.run_id)
        })
        .max_by(|a, b| (a.started_at, &a.run_id).cmp(&(b.started_at, &b.run_id)))
}

/// A change in milliseconds as people read it: `+9s`, `-1m 2s`, `±0`.
fn delta_ms(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Equal => "±0".to_string(),
        std::cmp::Ordering::Greater => format!("+{}", short(now - before)),
        std::cmp::Ordering::Less => format!("-{}", short(before - now)),
    }
}

fn delta_count(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Equal => "±0".to_string(),
        std::cmp::Ordering::Greater => format!("+{}", now - before),
        std::cmp::Ordering::Less => format!("-{}", before - now),
    }
}

/// A figure and, when both runs measured it, its change: `1m 12s (+9s)`; `—` when not measured.
fn with_change(
    now: Option<u64>,
    before: Option<u64>,
    show: fn(u64) -> String,
    delta: fn(u64, u64) -> String,
) -> String {
    match (now, before) {
        (None, _) => "—".to_string(),
        (Some(n), Some(b)) => format!("{} ({})", show(n), delta(n, b)),
        (Some(n), None) => show(n),
    }
}

fn count(n: u64) -> String {
    n.to_string()
}

/// The trend as Markdown: per drill (by name), one row per run, oldest first, each figure with its
/// change against the previous run of that drill on the same kind of target.
pub fn trend(runs: &[Run]) -> String {
    let mut by_drill: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        by_drill.entry(&r.drill).or_default().push(r);
    }
    let mut o = String::new();
    let _ = writeln!(o, "# Drill trend\n");
    let _ = writeln!(
        o,
        "Each figure's change is against the previous run of the same drill on the same kind of \
         target (lab runs against lab runs, AWS runs against AWS runs). Write outage, DNS cut-over \
         and traffic shift are the worse of the failover and the fail-back, lost writes their sum; \
         lab figures are on the lab's modelled clock."
    );
    for (drill, mut rows) in by_drill {
        rows.sort_by(|a, b| (a.started_at, &a.run_id).cmp(&(b.started_at, &b.run_id)));
        let _ = writeln!(o, "\n## `{drill}`\n");
        let _ = writeln!(
            o,
            "| started (UTC) | run | target | outcome | write outage | DNS cut-over | traffic shift | lost writes | took |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            let p = previous(runs, r);
            let then = |f: fn(&Run) -> Option<u64>| p.and_then(f);
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
                r.started_at.format("%Y-%m-%d %H:%M"),
                r.run_id,
                r.target.label(),
                r.outcome.as_str(),
                with_change(
                    r.write_outage_ms,
                    then(|p| p.write_outage_ms),
                    short,
                    delta_ms
                ),
                with_change(
                    r.dns_cutover_ms,
                    then(|p| p.dns_cutover_ms),
                    short,
                    delta_ms
                ),
                with_change(
                    r.traffic_shift_ms,
                    then(|p| p.traffic_shift_ms),
                    short,
                    delta_ms
                ),
                with_change(r.lost_writes, then(|p| p.lost_writes), count, delta_count),
                with_change(
                    Some(r.duration_ms),
                    then(|p| Some(p.duration_ms)),
                    short,
                    delta_ms
                ),
            );
        }
    }
    o
}

/// One line comparing a run with the previous run of its drill: "Against the previous run …:
/// write outage 1m 12s, +9s against 2026-10-06; …". None without a previous run.
pub fn comparison(runs: &[Run], run: &Run) -> Option<String> {
    let p = previous(runs, run)?;
    let date = p.started_at.format("%Y-%m-%d");
    let mut parts = Vec::new();
    let mut figure = |name: &str, now: Option<u64>, before: Option<u64>, ms: bool| {
        let Some(n) = now else { return };
        let shown = if ms { short(n) } else { n.to_string() };
        let change = match (ms, before) {
            (true, Some(b)) => delta_ms(n, b),
            (false, Some(b)) => delta_count(n, b),
            (_, None) => "not measured then".to_string(),
        };
        parts.push(format!("{name} {shown}, {change}"));
    };
    figure("write outage", run.write_outage_ms, p.write_outage_ms, true);
    figure("lost writes", run.lost_writes, p.lost_writes, false);
    figure("took", Some(run.duration_ms), Some(p.duration_ms), true);
    let mut line = format!(
        "Compared with the previous {} run of `{}`: {}",
        run.target.kind(),
        run.drill,
        parts.join("; ")
    );
    // The date goes with the first figure, as people say it: "+9s against 2026-10-06".
    if let Some(first) = parts.first() {
        let at = line.find(first.as_str()).unwrap_or(0) + first.len();
        line.insert_str(at, &format!(" against {date}"));
    }
    let _ = write!(line, " (run `{}`, {}).", p.run_id, p.outcome.as_str());
    Some(line)
}

/// An OpenMetrics label value: backslash, double quote and line feed escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(t: &DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

/// The OpenMetrics text format for node_exporter's textfile collector: per drill and target kind
/// (`target="lab"` or `"aws"`), the last run's outcome (one 0/1 gauge per outcome), its finish
/// time, the last passing run's finish time, and the last run's write outage, lost writes and
/// duration. Ends with `# EOF`.
pub fn openmetrics(runs: &[Run]) -> String {
    // The newest run and the newest passing run of each (drill, target kind).
    let mut last: BTreeMap<(&str, &str), &Run> = BTreeMap::new();
    let mut passed: BTreeMap<(&str, &str), &Run> = BTreeMap::new();
    let newer = |a: &Run, b: &Run| (a.started_at, &a.run_id) > (b.started_at, &b.run_id);
    for r in runs {
        let key = (r.drill.as_str(), r.target.kind());
        if last.get(&key).is_none_or(|l| newer(r, l)) {
            last.insert(key, r);
        }
        if r.outcome == Outcome::Passed && passed.get(&key).is_none_or(|l| newer(r, l)) {
            passed.insert(key, r);
        }
    }
    let mut o = String::new();
    let labels =
        |(drill, target): (&str, &str)| format!("drill=\"{}\",target=\"{target}\"", label(drill));
    let mut family =
        |name: &str, help: &str, samples: &mut dyn Iterator<Item = (String, String)>| {
            let _ = writeln!(o, "# TYPE {name} gauge");
            let _ = writeln!(o, "# HELP {name} {help}");
            for (labels, value) in samples {
                let _ = writeln!(o, "{name}{{{labels}}} {value}");
            }
        };
    family(
        "drill_last_outcome",
        "1 for the outcome of the drill's last run, 0 for every other outcome.",
        &mut last.iter().flat_map(|(k, r)| {
            OUTCOMES.iter().map(move |outcome| {
                (
                    format!("{},outcome=\"{}\"", labels(*k), outcome.as_str()),
                    u8::from(r.outcome == *outcome).to_string(),
                )
            })
        }),
    );
    family(
        "drill_last_run_timestamp_seconds",
        "When the drill's last run finished, in Unix seconds.",
        &mut last
            .iter()
            .map(|(k, r)| (labels(*k), seconds(&r.finished_at))),
    );
    family(
        "drill_last_passed_timestamp_seconds",
        "When the drill's last passing run finished, in Unix seconds; absent if none passed.",
        &mut passed
            .iter()
            .map(|(k, r)| (labels(*k), seconds(&r.finished_at))),
    );
    family(
        "drill_last_write_outage_seconds",
        "The last run's write outage (the worse direction), in seconds; absent if not measured.",
        &mut last.iter().filter_map(|(k, r)| {
            r.write_outage_ms
                .map(|ms| (labels(*k), format!("{:.3}", ms as f64 / 1000.0)))
        }),
    );
    family(
        "drill_last_lost_writes",
        "Writes the last run's canary lost, both directions; absent if not measured.",
        &mut last
            .iter()
            .filter_map(|(k, r)| r.lost_writes.map(|n| (labels(*k), n.to_string()))),
    );
    family(
        "drill_last_duration_seconds",
        "How long the last run took, in seconds (modelled seconds for lab runs).",
        &mut last
            .iter()
            .map(|(k, r)| (labels(*k), format!("{:.3}", r.duration_ms as f64 / 1000.0))),
    );
    o.push_str("# EOF\n");
    o
}

/// At most five lines for a chat post: the drill and how it ended, the write outage, the lost
/// writes, what is still changed (if anything), and where the full report is.
pub fn summary(run: &Run, recover_command: Option<&str>, left: usize) -> String {
    let mut lines = vec![format!(
        "Drill {} {} (exit code {}, run {}, {})",
        run.drill,
        run.outcome.as_str(),
        run.exit_code,
        run.run_id,
        run.target.label()
    )];
    lines.push(format!(
        "Write outage: {}",
        run.write_outage_ms
            .map(short)
            .unwrap_or_else(|| "not measured".to_string())
    ));
    lines.push(format!(
        "Lost writes: {}",
        run.lost_writes
            .map(|n| n.to_string())
            .unwrap_or_else(|| "not measured".to_string())
    ));
    if left > 0 {
        lines.push(format!(
            "Still changed: {left} resource(s){}",
            recover_command
                .map(|c| format!("; {c}"))
                .unwrap_or_default()
        ));
    }
    lines.push(if run.report.as_os_str().is_empty() {
        "Report: not written".to_string()
    } else {
        format!("Report: {}", run.report.display())
    });
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Report {
        serde_json::from_str(include_str!("../../tests/fixtures/report-v1-passed.json")).unwrap()
    }

    #[test]
    fn changes_read_with_their_sign() {
        assert_eq!(delta_ms(72_000, 63_000), "+9s");
        assert_eq!(delta_ms(63_000, 72_000), "-9s");
        assert_eq!(delta_ms(5, 5), "±0");
        assert_eq!(delta_count(0, 2), "-2");
    }

    #[test]
    fn a_lab_run_is_never_the_baseline_of_an_aws_run() {
        let mut r = fixture();
        let lab = Run::of(Path::new("a.json"), &r);
        assert_eq!(lab.target, Target::Lab { time_scale: 30.0 });
        r.lab = None;
        r.time.clock = "real".to_string();
        r.time.scale = 1.0;
        r.run_id = "later".to_string();
        r.started_at += chrono::Duration::days(30);
        let aws = Run::of(Path::new("b.json"), &r);
        assert_eq!(aws.target, Target::Aws);
        let runs = [lab.clone(), aws.clone()];
        assert!(previous(&runs, &aws).is_none());
        assert!(comparison(&runs, &aws).is_none());
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_summary_fits_a_chat_post() {
        let r = fixture();
        let run = Run::of(Path::new("/var/lib/drill/reports/x.json"), &r);
        let s = summary(&run, Some("drill recover x"), 2);
        assert!(s.lines().count() <= 5, "{s}");
        assert!(
            s.contains("Still changed: 2 resource(s); drill recover x"),
            "{s}"
        );
    }
}
