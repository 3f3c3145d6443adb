//! Reports for people: a run as Markdown for the post-mortem (`drill report RUN`), and the history
//! of runs as one line each (`drill report --list`). Both read only the JSON report, so a report
//! copied off the host that ran it renders the same anywhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::Report;
use super::history::Run;
use crate::engine::{ChangeRecord, Fate};
use crate::escape::{md_code, md_text};

/// The measurements taken once per direction: the failover's under its own name, the fail-back's
/// with a `failback_` prefix. In the order the post-mortem reads them.
const DIRECTIONAL: [(&str, &str); 7] = [
    ("dns_cutover_ms", "DNS cut-over (authoritative)"),
    ("resolver_cutover_ms", "DNS cut-over (resolvers)"),
    ("test_dns_answer_cutover_ms", "DNS cut-over (TestDNSAnswer)"),
    ("traffic_shift_ms", "Traffic shift"),
    ("write_outage_ms", "Write outage (RTO)"),
    ("lost_writes", "Lost writes"),
    ("rpo_ms", "RPO"),
];

/// A duration in milliseconds as people read it: `1m 17s`, `350ms`, `0s`.
pub fn millis(ms: u64) -> String {
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A measurement's value in its unit: `_ms` names are durations, `error_rate` a fraction, the
/// rest counts. `—` when it was not measured.
fn measurement(name: &str, value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".to_string(),
        Some(v) if name.ends_with("_ms") => v.as_u64().map(millis).unwrap_or_else(|| v.to_string()),
        Some(v) if name == "error_rate" => v
            .as_f64()
            .map(|f| format!("{:.2} %", f * 100.0))
            .unwrap_or_else(|| v.to_string()),
        Some(v) => v.to_string(),
    }
}

/// An SLO's target or measured value in its unit.
pub fn slo_value(value: u64, unit: &str) -> String {
    match unit {
        "ms" => millis(value),
        "basis_points" => format!("{:.2} %", value as f64 / 100.0),
        other => format!("{value} {other}"),
    }
}

/// The whole run as Markdown: what happened, what was measured, what was judged, what was
/// changed and whether it was put back.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "# Drill {}: {}\n",
        md_code(&r.drill.name),
        r.outcome.as_str()
    );
    if let Some(description) = &r.drill.description {
        let _ = writeln!(o, "{}\n", md_text(description.trim()));
    }
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| run | {} |", md_code(&r.run_id));
    let _ = writeln!(
        o,
        "| drill file | {} (sha256 {}) |",
        md_code(&r.drill.file.display().to_string()),
        md_code(&r.drill.sha256)
    );
    if let Some(c) = &r.context {
        let _ = writeln!(
            o,
            "| operator | {} (started by {}{}) |",
            md_text(&c.operator),
            md_code(&c.started_by),
            c.fire
                .map(|f| format!(" for the fire at {}", time(&f)))
                .unwrap_or_default()
        );
        let _ = writeln!(o, "| target | {} |", md_text(&c.target.describe()));
    }
    let route = if r.failback {
        format!(
            "{} → {} → {}",
            r.regions.primary, r.regions.secondary, r.regions.primary
        )
    } else {
        format!(
            "{} → {} (no fail-back)",
            r.regions.primary, r.regions.secondary
        )
    };
    let _ = writeln!(o, "| mode | {} |", r.mode);
    let _ = writeln!(o, "| route | {route} |");
    let _ = writeln!(o, "| started | {} |", time(&r.started_at));
    let _ = writeln!(o, "| finished | {} |", time(&r.finished_at));
    let elapsed = (r.finished_at - r.started_at).num_milliseconds().max(0) as u64;
    let _ = writeln!(o, "| took | {} |", millis(elapsed));
    let _ = writeln!(
        o,
        "| outcome | {} (exit code {}) |",
        r.outcome.as_str(),
        r.exit_code
    );
    let _ = writeln!(
        o,
        "| tool | {} {} |",
        md_text(&r.tool.name),
        md_text(&r.tool.version)
    );
    if r.time.clock != "real" {
        let _ = writeln!(
            o,
            "\nTimes are on the lab's modelled clock, which ran {}× faster than the wall clock.",
            r.time.scale
        );
    }
    if let Some(lab) = &r.lab {
        let faults: Vec<&str> = lab["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            o,
            "Run against the embedded lab; faults: {}; the lab's world {} as it began.",
            if faults.is_empty() {
                "none".to_string()
            } else {
                faults
                    .iter()
                    .map(|f| md_code(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if lab["world_restored"] == Value::Bool(true) {
                "ended"
            } else {
                "did NOT end"
            }
        );
        lab_evidence(o, lab);
    }

    if !r.left.is_empty() {
        let held = r.outcome == crate::engine::Outcome::Held;
        let _ = writeln!(
            o,
            "\n## {}\n",
            if held {
                "HELD — kept where it serves"
            } else {
                "STILL CHANGED"
            }
        );
        if held {
            let _ = writeln!(
                o,
                "Moving back was not safe, so the writer and traffic stay where they serve:\n"
            );
        }
        for line in &r.left {
            let _ = writeln!(o, "- {}", md_text(line));
        }
        if let Some(cmd) = &r.recover_command {
            if held {
                let _ = writeln!(o, "\nOnce the way back can serve, fail back with `{cmd}`.");
            } else {
                let _ = writeln!(o, "\nFinish the job with `{cmd}`.");
            }
        }
    }

    if let Some(stop) = &r.stop {
        let _ = writeln!(o, "\n## Stop condition\n");
        let _ = writeln!(
            o,
            "{} fired at {}: {}",
            md_code(&stop.condition),
            time(&stop.at),
            md_text(&stop.detail)
        );
    }

    if !r.errors.is_empty() {
        let _ = writeln!(o, "\n## Errors\n");
        for e in &r.errors {
            let _ = writeln!(o, "- {}", md_text(e));
        }
    }

    steps(o, r);
    timeline(o, r);
    measurements(o, r);
    probes(o, r);
    slos(o, r);
    alarms(o, r);
    changes(o, r);
    out
}

fn steps(o: &mut String, r: &Report) {
    if r.steps.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Steps\n");
    let _ = writeln!(o, "| step | status | started | took |\n|---|---|---|---|");
    for s in &r.steps {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            // The tool's own step names.
            s.name,
            s.status.as_str(),
            time(&s.started_at),
            millis(s.duration_ms)
        );
    }
}

/// Every dated moment of the run in order: step boundaries, the probes' moments per direction
/// and the stop condition.
fn timeline(o: &mut String, r: &Report) {
    let mut events: Vec<(DateTime<Utc>, String)> = Vec::new();
    for s in &r.steps {
        events.push((s.started_at, format!("step {} started", md_code(&s.name))));
        events.push((
            s.finished_at,
            format!("step {} {}", md_code(&s.name), s.status.as_str()),
        ));
    }
    let directions = r
        .probes
        .as_ref()
        .and_then(|p| p["directions"].as_array())
        .into_iter()
        .flatten();
    for d in directions {
        let name = md_text(d["direction"].as_str().unwrap_or("?"));
        let target = md_text(d["target"].as_str().unwrap_or("?"));
        let at = |key: &str| moment(&d[key]);
        for (key, what) in [
            (
                "promotion_at",
                format!("{name}: promotion to {target} called"),
            ),
            (
                "routing_change_at",
                format!("{name}: routing change accepted by Route 53"),
            ),
            (
                "dns_cutover_at",
                format!("{name}: every authoritative answer points to {target}"),
            ),
            (
                "test_dns_answer_cutover_at",
                format!("{name}: TestDNSAnswer points to {target}"),
            ),
            (
                "traffic_shift_at",
                format!("{name}: traffic served by {target}"),
            ),
        ] {
            if let Some(t) = at(key) {
                events.push((t, what));
            }
        }
        let outage = &d["write_outage"];
        if let Some(from) = moment(&outage["from"]) {
            events.push((from, format!("{name}: canary writes start failing")));
            match moment(&outage["to"]) {
                Some(to) => events.push((
                    to,
                    format!(
                        "{name}: canary writes work again ({} failed)",
                        outage["failed_writes"]
                    ),
                )),
                None => events.push((
                    from,
                    format!("{name}: canary writes never worked again while probing"),
                )),
            }
        }
    }
    if let Some(stop) = &r.stop {
        events.push((
            stop.at,
            format!("stop condition {} fired", md_code(&stop.condition)),
        ));
    }
    if events.is_empty() {
        return;
    }
    // Stable: moments at the same millisecond keep the order they were added in.
    events.sort_by_key(|(t, _)| *t);
    let _ = writeln!(o, "\n## Timeline\n");
    let _ = writeln!(o, "| time | since start | event |\n|---|---|---|");
    for (t, what) in events {
        let since = (t - r.started_at).num_milliseconds().max(0) as u64;
        // Each event's parts from the report are escaped where it was composed.
        let _ = writeln!(o, "| {} | {} | {what} |", time(&t), millis(since));
    }
}

/// A report timestamp (RFC 3339) as a moment; None when absent or not a time.
fn moment(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn measurements(o: &mut String, r: &Report) {
    let m = &r.measurements;
    if m.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Measurements\n");
    let rows: Vec<_> = DIRECTIONAL
        .iter()
        .filter(|(k, _)| m.contains_key(*k) || m.contains_key(&format!("failback_{k}")))
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(o, "| | failover | fail-back |\n|---|---|---|");
        for (key, label) in rows {
            let _ = writeln!(
                o,
                "| {label} | {} | {} |",
                measurement(key, m.get(*key)),
                measurement(key, m.get(&format!("failback_{key}")))
            );
        }
        let _ = writeln!(o);
    }
    let directional = |k: &str| {
        DIRECTIONAL
            .iter()
            .any(|(d, _)| k == *d || k.strip_prefix("failback_") == Some(d))
    };
    for (key, value) in m.iter().filter(|(k, _)| !directional(k)) {
        let _ = writeln!(o, "- `{key}`: {}", measurement(key, Some(value)));
    }
}

/// What the probes saw per phase, the canary read-backs and the sampling timer's health.
fn probes(o: &mut String, r: &Report) {
    let Some(p) = &r.probes else {
        return;
    };
    let _ = writeln!(o, "\n## Probes\n");
    let _ = writeln!(
        o,
        "| phase | probe | samples | errors | error rate | p50 | p99 | served by |\n|---|---|---|---|---|---|---|---|"
    );
    let phases = p["phases"].as_object();
    for phase in ["baseline", "failover", "soak", "failback", "rollback"] {
        let Some(kinds) = phases
            .and_then(|ph| ph.get(phase))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for kind in ["dns", "http", "canary", "test_dns_answer"] {
            let Some(k) = kinds.get(kind) else {
                continue;
            };
            let latency = |key: &str| {
                k[key]
                    .as_f64()
                    .map(|ms| format!("{ms:.0}ms"))
                    .unwrap_or_else(|| "—".to_string())
            };
            let served: Vec<String> = k["by_region"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(region, n)| format!("{region} {n}"))
                .collect();
            let _ = writeln!(
                o,
                "| {phase} | {kind} | {} | {} | {} | {} | {} | {} |",
                k["count"],
                k["errors"],
                measurement("error_rate", Some(&k["error_rate"])),
                latency("p50_ms"),
                latency("p99_ms"),
                served.join(", ")
            );
        }
    }
    for rb in p["read_backs"].as_array().into_iter().flatten() {
        let missing: Vec<String> = rb["missing"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect();
        let _ = writeln!(
            o,
            "\nCanary read-back after the {} ({}): {} acknowledged write(s) checked in {}, {}.",
            rb["after"].as_str().unwrap_or("?"),
            rb["at"].as_str().unwrap_or("?"),
            rb["checked"],
            rb["read_from"].as_str().unwrap_or("?"),
            if missing.is_empty() {
                "none missing".to_string()
            } else {
                format!("**{} missing**: {}", missing.len(), missing.join(", "))
            }
        );
    }
    if let Some(skew) = p["timer"]["p99_skew_ms"].as_f64() {
        let _ = writeln!(
            o,
            "\nSampling timer: p99 skew {skew:.1}ms, {} missed tick(s).",
            p["timer"]["missed_ticks"]
        );
    }
}

fn slos(o: &mut String, r: &Report) {
    if r.slos.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## SLOs\n");
    let _ = writeln!(
        o,
        "| SLO | target | measured | verdict | from |\n|---|---|---|---|---|"
    );
    for s in &r.slos {
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | `{}` |",
            s.name,
            slo_value(s.target, &s.unit),
            s.measured
                .map(|m| slo_value(m, &s.unit))
                .unwrap_or_else(|| "—".to_string()),
            match s.verdict() {
                "MISSED" => "**MISSED**",
                other => other,
            },
            s.source
        );
    }
}

fn alarms(o: &mut String, r: &Report) {
    let Some(a) = &r.alarms else {
        return;
    };
    let _ = writeln!(o, "\n## Stop alarms\n");
    let _ = writeln!(
        o,
        "Read every {} : {} read(s), {} failed.\n",
        a["interval_ms"].as_u64().map(millis).unwrap_or_default(),
        a["polls"],
        a["failed_polls"]
    );
    let _ = writeln!(
        o,
        "| alarm | at preflight | states seen | last | last read |\n|---|---|---|---|---|"
    );
    for alarm in a["alarms"].as_array().into_iter().flatten() {
        let seen: Vec<&str> = alarm["states_seen"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let text = |v: &Value| v.as_str().unwrap_or("—").to_string();
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} |",
            text(&alarm["arn"]),
            text(&alarm["at_preflight"]),
            seen.join(", "),
            text(&alarm["last"]),
            text(&alarm["last_read_at"])
        );
    }
}

/// What differs between the lab's world before and after (the first few, and how many), and the
/// critical path.
fn lab_evidence(o: &mut String, lab: &Value) {
    let text = |v: &Value| v.as_str().unwrap_or("—").to_string();
    let differences = lab["differences"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    const SHOWN: usize = 20;
    for d in differences.iter().take(SHOWN) {
        let _ = writeln!(
            o,
            "- {} {}: {} {} → {}",
            md_text(&text(&d["kind"])),
            md_text(&text(&d["resource"])),
            md_text(&text(&d["field"])),
            md_code(&d["before"].to_string()),
            md_code(&d["after"].to_string())
        );
    }
    if differences.len() > SHOWN {
        let _ = writeln!(
            o,
            "- … and {} more difference(s) (in the report's `lab.differences`)",
            differences.len() - SHOWN
        );
    }
    let path = &lab["critical_path"];
    if let (Some(duration), Some(critical)) = (
        path["duration_ms"].as_u64(),
        path["critical_path_ms"].as_u64(),
    ) {
        let _ = writeln!(
            o,
            "Critical path: {} of the drill's {} were waits it could not avoid; {} was its own overhead{}.",
            millis(critical),
            millis(duration),
            millis(duration.saturating_sub(critical)),
            path["ratio"]
                .as_f64()
                .map(|r| format!(" (duration / critical path = {r:.3})"))
                .unwrap_or_default()
        );
    }
}

fn changes(o: &mut String, r: &Report) {
    let _ = writeln!(o, "\n## Changes\n");
    if r.changes.is_empty() {
        let _ = writeln!(o, "None: the drill changed nothing.");
        return;
    }
    let omitted = r.changes_omitted.clone().unwrap_or_default();
    let _ = writeln!(
        o,
        "{} change(s) journaled before they were made; {}.\n",
        r.changes.len() + omitted.values().sum::<usize>(),
        fates(&r.changes, &omitted)
    );
    let _ = writeln!(
        o,
        "| # | step | resource | before | after | now |\n|---|---|---|---|---|---|"
    );
    for c in &r.changes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            c.seq,
            c.step,
            md_text(&c.resource),
            md_code(&c.before.to_string()),
            md_code(&c.after.to_string()),
            fate(c)
        );
    }
    let unlisted: usize = omitted.values().sum();
    if unlisted > 0 {
        let _ = writeln!(
            o,
            "\n{unlisted} more change(s) that came back are not listed; the journal{} has each.",
            r.journal
                .as_ref()
                .map(|j| format!(" ({})", j.display()))
                .unwrap_or_default()
        );
    }
}

/// How many changes came to each end, in a fixed order: `4 put back, 1 never changed (the call
/// failed)`; `omitted` counts, by fate, those the report does not list.
fn fates(changes: &[ChangeRecord], omitted: &BTreeMap<String, usize>) -> String {
    [
        Fate::PutBack,
        Fate::NeverChanged,
        Fate::FoundBack,
        Fate::Kept,
        Fate::StillChanged,
    ]
    .into_iter()
    .filter_map(|f| {
        let listed = changes.iter().filter(|c| c.fate() == f).count();
        match listed + omitted.get(f.as_str()).copied().unwrap_or(0) {
            0 => None,
            n => Some(format!("{n} {f}")),
        }
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// One change's end as a table cell: what became of it, and why when it is still changed.
fn fate(c: &ChangeRecord) -> String {
    match (c.fate(), &c.note) {
        (Fate::StillChanged, Some(note)) => format!("**STILL CHANGED**: {}", md_text(note)),
        (Fate::StillChanged, None) => "**STILL CHANGED**".to_string(),
        (f, _) => f.to_string(),
    }
}

/// The history header, for [`history_line`]s under it.
pub fn history_header() -> String {
    format!(
        "{:<24} {:<20} {:<10} {:<19} {:<20} {:>11} {:>13} {:>5}  {:<9} SLOS",
        "RUN",
        "DRILL",
        "MODE",
        "OUTCOME",
        "STARTED (UTC)",
        "TOOK",
        "WRITE OUTAGE",
        "LOST",
        "TARGET"
    )
}

/// One run in the history: when, what, how it ended, the worst write outage and lost writes of
/// its two directions, what it ran against (`lab 30×` or `aws`), and its SLO verdicts.
pub fn history_line(run: &Run) -> String {
    format!(
        "{:<24} {:<20} {:<10} {:<19} {:<20} {:>11} {:>13} {:>5}  {:<9} {}",
        run.run_id,
        run.drill,
        run.mode,
        run.outcome.as_str(),
        run.started_at.format("%Y-%m-%d %H:%M:%S"),
        short(run.duration_ms),
        run.write_outage_ms
            .map(short)
            .unwrap_or_else(|| "-".to_string()),
        run.lost_writes
            .map(|l| l.to_string())
            .unwrap_or_else(|| "-".to_string()),
        run.target.label(),
        run.slo_words(),
    )
}

/// A duration for a column: whole seconds (or milliseconds under one second), at most two units.
pub fn short(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::UndoneHow;

    /// A set identifier with an escape sequence, a `|` and a line break, in every place a report
    /// shows one: the Markdown keeps one row per change, shows the escape written out, and never
    /// carries the raw bytes.
    #[test]
    fn hostile_identifiers_stay_inside_their_cells() {
        let mut r: Report =
            serde_json::from_str(include_str!("../../tests/fixtures/report-v1-passed.json"))
                .unwrap();
        let hostile = "\x1b[31mblue|green\n| 9 | forged | row |";
        r.changes[0].resource = format!("record api.example.com. A {hostile}");
        r.changes[0].restored = false;
        r.changes[0].how = None;
        r.changes[0].note = Some(format!("set {hostile} is gone"));
        r.left = vec![format!(
            "record api.example.com. A {hostile}: still weight 0"
        )];
        r.errors = vec![format!("Route 53: no such set {hostile}")];
        r.drill.description = Some(format!("# Monthly drill <script>x</script> {hostile}"));
        let md = markdown(&r);
        assert!(!md.contains('\x1b'), "{md}");
        assert!(!md.contains("<script>"), "{md}");
        assert!(
            md.contains(r"\u{1b}\[31mblue\|green\u{a}\| 9 \| forged"),
            "{md}"
        );
        let table = md.split("## Changes").nth(1).unwrap();
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
            .collect();
        assert_eq!(rows.len(), r.changes.len(), "{table}");
        // Every row has the table's six cells: no `|` of the identifier splits one.
        for row in rows {
            let bare = row.replace("\\|", "");
            assert_eq!(bare.matches('|').count(), 7, "{row}");
        }
        assert!(md.contains("\\# Monthly drill \\<script\\>x"), "{md}");
    }

    #[test]
    fn measurements_read_in_their_units() {
        assert_eq!(measurement("rpo_ms", Some(&Value::from(77_000))), "1m 17s");
        assert_eq!(
            measurement("error_rate", Some(&Value::from(0.0125))),
            "1.25 %"
        );
        assert_eq!(measurement("lost_writes", Some(&Value::from(3))), "3");
        assert_eq!(measurement("lost_writes", Some(&Value::Null)), "—");
        assert_eq!(measurement("rpo_ms", None), "—");
        assert_eq!(slo_value(150, "basis_points"), "1.50 %");
        assert_eq!(slo_value(0, "writes"), "0 writes");
    }

    #[test]
    fn each_change_says_what_became_of_it() {
        let mut r: Report =
            serde_json::from_str(include_str!("../../tests/fixtures/report-v1-passed.json"))
                .unwrap();
        // The fixture predates `how`: a change back at its value reads as put back.
        assert!(r.changes.iter().all(|c| c.how.is_none()));
        assert!(
            markdown(&r).contains("5 change(s) journaled before they were made; 5 put back.\n")
        );
        // A switchover whose call failed and whose writer was found where it was never moved.
        let writer = &mut r.changes[2];
        writer.how = Some(UndoneHow::Already);
        writer.failed = true;
        writer.note = Some("switchover cancelled or failed".to_string());
        // A health check left changed on purpose, and a record that could not be put back.
        r.changes[3].restored = false;
        r.changes[3].kept = true;
        r.changes[4].restored = false;
        r.changes[4].note = Some("Throttling | Rate exceeded".to_string());
        r.changes[0].how = Some(UndoneHow::Restored);
        let md = markdown(&r);
        let table = md.split("## Changes").nth(1).unwrap();
        assert!(
            table.contains(
                "5 change(s) journaled before they were made; 2 put back, 1 never changed (the change failed), 1 kept (--no-failback), 1 STILL CHANGED.\n"
            ),
            "{table}"
        );
        let ends: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
            .map(|l| l.trim_end_matches(" |").rsplit(" | ").next().unwrap())
            .collect();
        assert_eq!(
            ends,
            [
                "put back",
                "put back",
                "never changed (the change failed)",
                "kept (--no-failback)",
                "**STILL CHANGED**: Throttling \\| Rate exceeded",
            ],
            "{table}"
        );
        assert!(!table.contains("yes"), "{table}");
    }

    #[test]
    fn short_durations_fit_a_column() {
        assert_eq!(short(0), "0s");
        assert_eq!(short(350), "350ms");
        assert_eq!(short(59_999), "59s");
        assert_eq!(short(77_000), "1m 17s");
        assert_eq!(short(3_725_000), "1h 2m");
    }
}
