//! The history of runs as data: `drill report --list --json` against the text list, `--trend`
//! over several runs of a drill, a report's comparison with the previous run, the OpenMetrics
//! text read by `prometheus_client`'s parser, and the summary a `[notify]` hook gets.
//! The folders are built from `fixtures/report-v1-passed.json` (a real lab run's report) with
//! fields changed, except the notify test's, which runs the example drill in the lab.

use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::Drill;

const FIXTURE: &str = "tests/fixtures/report-v1-passed.json";

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

/// The fixture as a run of `drill` started on `day` at 03:00 UTC, with this (failover) write
/// outage and lost writes; an AWS run when `scale` is None, else a lab run at that scale.
fn run(
    drill: &str,
    day: &str,
    outage_ms: u64,
    lost: u64,
    outcome: &str,
    scale: Option<f64>,
) -> Value {
    let mut r = fixture();
    let tag: String = drill
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(4)
        .collect();
    r["run_id"] = json!(format!("{}T030000Z-{tag}", day.replace('-', "")));
    r["drill"]["name"] = json!(drill);
    r["started_at"] = json!(format!("{day}T03:00:00Z"));
    r["finished_at"] = json!(format!("{day}T03:13:20.500Z"));
    r["outcome"] = json!(outcome);
    r["exit_code"] = json!(if outcome == "passed" { 0 } else { 1 });
    let m = &mut r["measurements"];
    m["write_outage_ms"] = json!(outage_ms);
    // The fail-back's outage stays below every failover's here: the worse direction is ours.
    m["failback_write_outage_ms"] = json!(1_000);
    m["lost_writes"] = json!(lost);
    m["failback_lost_writes"] = json!(0);
    match scale {
        Some(scale) => r["time"]["scale"] = json!(scale),
        None => {
            r.as_object_mut().unwrap().remove("lab");
            r["time"] = json!({"clock": "real", "scale": 1.0});
        }
    }
    r
}

fn write(dir: &Path, report: &Value) {
    let name = format!("{}.json", report["run_id"].as_str().unwrap());
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(report).unwrap(),
    )
    .unwrap();
}

/// Three lab runs of `example` a month apart, the last slower and losing writes; one AWS run of
/// it in between; one lab run of `checkout` without measurements; and a file that is no report.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &run("example", "2026-09-05", 63_000, 0, "passed", Some(30.0)),
    );
    write(
        dir.path(),
        &run("example", "2026-10-06", 63_000, 0, "passed", Some(30.0)),
    );
    write(
        dir.path(),
        &run("example", "2026-11-29", 72_000, 2, "slo_failed", Some(30.0)),
    );
    write(
        dir.path(),
        &run("example", "2026-10-20", 80_000, 0, "passed", None),
    );
    let mut checkout = run("checkout", "2026-11-01", 0, 0, "refused", Some(2.5));
    checkout["measurements"] = json!({});
    checkout["slos"] = json!([]);
    checkout["exit_code"] = json!(3);
    write(dir.path(), &checkout);
    std::fs::write(dir.path().join("notes.json"), "not json").unwrap();
    dir
}

fn report(dir: &Path, args: &[&str]) -> String {
    let ran = Drill::new()
        .args(["report", "--dir"])
        .arg(dir)
        .args(args)
        .expect_code(0);
    ran.stdout
}

/// A duration as the text list's columns show it (whole seconds, at most two units).
fn short(ms: u64) -> String {
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

/// The text list's columns: name, width, right-aligned, and the separator before the next.
const COLUMNS: [(&str, usize, bool, usize); 9] = [
    ("RUN", 24, false, 1),
    ("DRILL", 20, false, 1),
    ("MODE", 10, false, 1),
    ("OUTCOME", 19, false, 1),
    ("STARTED (UTC)", 20, false, 1),
    ("TOOK", 11, true, 1),
    ("WRITE OUTAGE", 13, true, 1),
    ("LOST", 5, true, 2),
    ("TARGET", 9, false, 1),
];

/// A text list line cut into its columns (the last, SLOS, is the rest of the line).
fn columns(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut at = 0;
    let mut out = Vec::new();
    for (_, width, _, sep) in COLUMNS {
        let cell: String = chars[at..at + width].iter().collect();
        out.push(cell.trim().to_string());
        at += width;
        assert!(
            chars[at..at + sep].iter().all(|c| *c == ' '),
            "a column overflows: {line:?}"
        );
        at += sep;
    }
    out.push(chars[at..].iter().collect::<String>().trim().to_string());
    out
}

#[test]
fn the_json_list_round_trips_every_field_of_the_text_list() {
    let dir = folder();
    let text = Drill::new()
        .args(["report", "--list", "--dir"])
        .arg(dir.path())
        .expect_code(0);
    assert!(
        text.stderr.contains("notes.json: not a drill report"),
        "{}",
        text.stderr
    );
    let json = Drill::new()
        .args(["report", "--list", "--json", "--reports"])
        .arg(dir.path())
        .expect_code(0);
    // What cannot be read is named on stderr; stdout stays one JSON document.
    assert!(
        json.stderr.contains("notes.json: not a drill report"),
        "{}",
        json.stderr
    );
    let doc: Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(doc["list_version"], 1);
    let runs = doc["runs"].as_array().unwrap();

    let mut lines = text.stdout.lines();
    let header = columns(lines.next().unwrap());
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).chain(["SLOS"]).collect();
    assert_eq!(header, names);
    let lines: Vec<Vec<String>> = lines.map(columns).collect();
    assert_eq!(lines.len(), 5, "{}", text.stdout);
    assert_eq!(runs.len(), lines.len());

    let opt = |v: &Value, show: fn(u64) -> String| v.as_u64().map(show).unwrap_or("-".into());
    for (cells, run) in lines.iter().zip(runs) {
        let started: DateTime<Utc> = run["started_at"].as_str().unwrap().parse().unwrap();
        let finished: DateTime<Utc> = run["finished_at"].as_str().unwrap().parse().unwrap();
        let target = match run["target"]["kind"].as_str().unwrap() {
            "lab" => format!("lab {}×", run["target"]["time_scale"].as_f64().unwrap()),
            "aws" => {
                assert_eq!(run["target"].as_object().unwrap().len(), 1, "{run}");
                "aws".to_string()
            }
            other => panic!("target kind {other:?}"),
        };
        let slos = &run["slos"];
        let verdicts = match slos["total"].as_u64().unwrap() {
            0 => "-".to_string(),
            n => {
                let mut s = format!("{}/{n} met", slos["met"]);
                for (key, words) in [("missed", "missed"), ("not_measured", "not measured")] {
                    if slos[key].as_u64().unwrap() > 0 {
                        s += &format!(", {} {words}", slos[key]);
                    }
                }
                s
            }
        };
        let expected = [
            run["run_id"].as_str().unwrap().to_string(),
            run["drill"].as_str().unwrap().to_string(),
            run["mode"].as_str().unwrap().to_string(),
            run["outcome"].as_str().unwrap().to_string(),
            started.format("%Y-%m-%d %H:%M:%S").to_string(),
            short(run["duration_ms"].as_u64().unwrap()),
            opt(&run["write_outage_ms"], short),
            opt(&run["lost_writes"], |n| n.to_string()),
            target,
            verdicts,
        ];
        assert_eq!(cells.as_slice(), expected.as_slice(), "{run}");
        assert_eq!(
            run["duration_ms"].as_i64().unwrap(),
            (finished - started).num_milliseconds()
        );
        // The fields the text list leaves out match the report file each row names.
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(run["report"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(file["run_id"], run["run_id"]);
        assert_eq!(file["exit_code"], run["exit_code"]);
        assert_eq!(file["finished_at"], run["finished_at"]);
    }
    // Newest first; lab and AWS told apart; a run without measurements has nulls, not zeros.
    let ids: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "20261129T030000Z-exam",
            "20261101T030000Z-chec",
            "20261020T030000Z-exam",
            "20261006T030000Z-exam",
            "20260905T030000Z-exam",
        ]
    );
    assert_eq!(lines[0][8], "lab 30×");
    assert_eq!(lines[1][8], "lab 2.5×");
    assert_eq!(lines[2][8], "aws");
    assert_eq!(runs[0]["write_outage_ms"], 72_000);
    assert_eq!(runs[0]["lost_writes"], 2);
    assert_eq!(runs[1]["write_outage_ms"], Value::Null);
    assert_eq!(runs[1]["exit_code"], 3);

    // The filters apply to both forms alike.
    let json = report(
        dir.path(),
        &["--list", "--json", "--drill", "example", "-n", "2"],
    );
    let doc: Value = serde_json::from_str(&json).unwrap();
    let ids: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["20261129T030000Z-exam", "20261020T030000Z-exam"]);
    let empty = tempfile::tempdir().unwrap();
    let doc: Value = serde_json::from_str(&report(empty.path(), &["--list", "--json"])).unwrap();
    assert_eq!(doc["runs"], json!([]));
}

/// The Markdown table rows under a drill's `## \`NAME\`` heading.
fn trend_rows(md: &str, drill: &str) -> Vec<Vec<String>> {
    let section = md
        .split(&format!("## `{drill}`\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section for {drill}:\n{md}"));
    section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_trend_shows_each_run_and_its_change_against_the_previous_one() {
    let dir = folder();
    let md = report(dir.path(), &["--trend"]);
    let rows = trend_rows(&md, "example");
    let cells = |i: usize| rows[i].iter().map(String::as_str).collect::<Vec<_>>();
    // Oldest first. Each figure's change is against the previous run on the same kind of
    // target: the AWS run between the lab runs is compared with no lab run, and is no baseline.
    assert_eq!(
        cells(0),
        [
            "2026-09-05 03:00",
            "`20260905T030000Z-exam`",
            "lab 30×",
            "passed",
            "1m 3s",
            "30s",
            "48s",
            "0",
            "13m 20s"
        ],
        "{md}"
    );
    assert_eq!(
        cells(1)[2..],
        [
            "lab 30×",
            "passed",
            "1m 3s (±0)",
            "30s (±0)",
            "48s (±0)",
            "0 (±0)",
            "13m 20s (±0)"
        ],
        "{md}"
    );
    assert_eq!(
        cells(2)[2..],
        ["aws", "passed", "1m 20s", "30s", "48s", "0", "13m 20s"],
        "{md}"
    );
    assert_eq!(
        cells(3)[2..],
        [
            "lab 30×",
            "slo_failed",
            "1m 12s (+9s)",
            "30s (±0)",
            "48s (±0)",
            "2 (+2)",
            "13m 20s (±0)"
        ],
        "{md}"
    );
    assert_eq!(rows.len(), 4, "{md}");
    // A run that measured nothing says so rather than showing zeros.
    assert_eq!(
        trend_rows(&md, "checkout")[0][4..],
        ["—", "—", "—", "—", "13m 20s"],
        "{md}"
    );

    let md = report(dir.path(), &["--trend", "--drill", "checkout"]);
    assert!(!md.contains("`example`"), "{md}");
    assert_eq!(trend_rows(&md, "checkout").len(), 1);
    let md = report(dir.path(), &["--trend", "--drill", "nope"]);
    assert!(md.starts_with("no runs of drill \"nope\" in "), "{md}");
}

#[test]
fn a_report_compares_itself_with_the_previous_run_of_its_drill() {
    let dir = folder();
    let md = report(dir.path(), &["20261129T030000Z-exam"]);
    assert!(
        md.contains(
            "\nCompared with the previous lab run of `example`: write outage 1m 12s, +9s against \
             2026-10-06; lost writes 2, +2; took 13m 20s, ±0 (run `20261006T030000Z-exam`, \
             passed).\n"
        ),
        "{md}"
    );
    // The first run of a drill, and the first on AWS, have nothing to compare with.
    for first in ["20260905T030000Z-exam", "20261020T030000Z-exam"] {
        let md = report(dir.path(), &[first]);
        assert!(!md.contains("Compared with"), "{md}");
    }
    // A report file given by path is compared within its own folder.
    let md = Drill::new()
        .args(["report"])
        .arg(dir.path().join("20261006T030000Z-exam.json"))
        .expect_code(0)
        .stdout;
    assert!(
        md.contains("write outage 1m 3s, ±0 against 2026-09-05;"),
        "{md}"
    );
}

/// Reads OpenMetrics text with `prometheus_client`'s parser and prints every sample as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
"#;

fn parsed(text: &str) -> Value {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (prometheus_client is installed by .ci/run and the README's test command)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client's OpenMetrics parser failed (is prometheus_client installed? see \
         .ci/run):\n{}\n--- the text\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from the parser script")
}

#[test]
fn the_openmetrics_text_passes_prometheus_clients_parser() {
    let dir = folder();
    let text = report(dir.path(), &["--list", "--openmetrics"]);
    assert!(text.ends_with("# EOF\n"), "{text}");
    let families = parsed(&text);
    let family = |name: &str| -> Vec<(String, f64)> {
        let f = families
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no family {name}: {families}"));
        assert_eq!(f["type"], "gauge", "{f}");
        assert!(!f["help"].as_str().unwrap().is_empty(), "{f}");
        f["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let l = &s["labels"];
                let mut key = format!(
                    "{}/{}",
                    l["drill"].as_str().unwrap(),
                    l["target"].as_str().unwrap()
                );
                if let Some(outcome) = l["outcome"].as_str() {
                    key += &format!("/{outcome}");
                }
                (key, s["value"].as_f64().unwrap())
            })
            .collect()
    };
    let value = |name: &str, key: &str| {
        family(name)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    };
    let unix = |t: &str| t.parse::<DateTime<Utc>>().unwrap().timestamp_millis() as f64 / 1000.0;

    // The lab's last run of `example` missed an SLO; its last pass was the month before.
    assert_eq!(
        value("drill_last_outcome", "example/lab/slo_failed"),
        Some(1.0)
    );
    assert_eq!(value("drill_last_outcome", "example/lab/passed"), Some(0.0));
    let ones: Vec<String> = family("drill_last_outcome")
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        ones,
        [
            "checkout/lab/refused",
            "example/aws/passed",
            "example/lab/slo_failed"
        ]
    );
    assert_eq!(
        value("drill_last_run_timestamp_seconds", "example/lab"),
        Some(unix("2026-11-29T03:13:20.500Z"))
    );
    assert_eq!(
        value("drill_last_passed_timestamp_seconds", "example/lab"),
        Some(unix("2026-10-06T03:13:20.500Z"))
    );
    assert_eq!(
        value("drill_last_passed_timestamp_seconds", "example/aws"),
        Some(unix("2026-10-20T03:13:20.500Z"))
    );
    // Never passed: no sample, so an alert on its absence fires.
    assert_eq!(
        value("drill_last_passed_timestamp_seconds", "checkout/lab"),
        None
    );
    assert_eq!(
        value("drill_last_write_outage_seconds", "example/lab"),
        Some(72.0)
    );
    assert_eq!(
        value("drill_last_write_outage_seconds", "example/aws"),
        Some(80.0)
    );
    assert_eq!(
        value("drill_last_write_outage_seconds", "checkout/lab"),
        None
    );
    assert_eq!(value("drill_last_lost_writes", "example/lab"), Some(2.0));
    assert_eq!(
        value("drill_last_duration_seconds", "example/aws"),
        Some(800.5)
    );

    // A drill name that needs escaping stays one label value; an empty folder is a valid text.
    let odd = tempfile::tempdir().unwrap();
    write(
        odd.path(),
        &run("a\"b\\c", "2026-11-01", 1_000, 0, "passed", None),
    );
    let families = parsed(&report(odd.path(), &["--list", "--openmetrics"]));
    assert_eq!(
        families[0]["samples"][0]["labels"]["drill"], "a\"b\\c",
        "{families}"
    );
    let empty = tempfile::tempdir().unwrap();
    let text = report(empty.path(), &["--list", "--openmetrics"]);
    assert_eq!(parsed(&text).as_array().unwrap().len(), 6, "{text}");
}

#[test]
fn notify_gets_a_short_summary_beside_the_full_report() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\nprintf '%s' \"$DRILL_SUMMARY\" > summary\ncat > stdin\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("example.toml");
    let text = std::fs::read_to_string("drills/example.toml").unwrap();
    std::fs::write(
        &file,
        format!("{text}\n[notify]\ncommand = [\"./hook.sh\"]\n"),
    )
    .unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args([
            "run",
            file.to_str().unwrap(),
            "--lab",
            "--yes",
            "--time-scale",
            "60",
        ])
        .expect_code(0);

    // The run's report, as the history reads it: a lab run at 60×.
    let doc: Value = serde_json::from_str(
        &Drill::new()
            .state_dir(dir.path())
            .args(["report", "--list", "--json"])
            .expect_code(0)
            .stdout,
    )
    .unwrap();
    let run = &doc["runs"][0];
    assert_eq!(run["target"], json!({"kind": "lab", "time_scale": 60.0}));
    let outage = run["write_outage_ms"]
        .as_u64()
        .expect("the lab run measures the outage");

    let summary = std::fs::read_to_string(dir.path().join("summary")).unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    let report = Path::new(run["report"].as_str().unwrap());
    assert_eq!(
        lines,
        [
            format!(
                "Drill example passed (exit code 0, run {}, lab 60×)",
                run["run_id"].as_str().unwrap()
            ),
            format!("Write outage: {}", short(outage)),
            "Lost writes: 0".to_string(),
            format!("Report: {}", std::path::absolute(report).unwrap().display()),
        ],
        "{summary}"
    );
    // The whole Markdown still arrives on stdin.
    let stdin = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(stdin.starts_with("# Drill `example`: passed\n"), "{stdin}");
    assert!(stdin.lines().count() > 20, "{stdin}");
}
