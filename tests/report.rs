//! `drill report`: a run's JSON report rendered for the post-mortem, and the history of runs.
//! `fixtures/report-v1-passed.json` is a real lab run's report (the lab's ground truth and the
//! probes' series cut out for size): reports written by schema 1 must stay readable.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::Drill;

const FIXTURE: &str = "tests/fixtures/report-v1-passed.json";

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

fn write(dir: &Path, name: &str, report: &Value) {
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(report).unwrap(),
    )
    .unwrap();
}

/// The fixture as a later run that could not restore the writer and was stopped by an alarm.
fn incomplete_run() -> Value {
    let mut r = fixture();
    r["run_id"] = json!("20261230T031234Z-c0de");
    r["started_at"] = json!("2026-12-30T03:12:46.616Z");
    r["finished_at"] = json!("2026-12-30T03:20:00.000Z");
    r["outcome"] = json!("rollback_incomplete");
    r["exit_code"] = json!(5);
    r["changes"][2]["restored"] = json!(false);
    r["changes"][2]["note"] = json!("SwitchoverGlobalCluster failed: Throttling | Rate exceeded");
    r["left"] = json!(["writer of global cluster example-global: us-west-2 (was us-east-1)"]);
    r["recover_command"] = json!("drill recover 20261230T031234Z-c0de");
    r["stop"] = json!({
        "condition": "alarm",
        "at": "2026-12-30T03:19:00.000Z",
        "detail": "checkout-5xx is in ALARM since 2026-12-30T03:18:55Z"
    });
    r["probes"]["read_backs"][0]["missing"] = json!([412, 413]);
    r["slos"][0]["measured"] = Value::Null;
    r["slos"][0]["passed"] = json!(false);
    r
}

#[test]
fn a_report_renders_as_markdown_for_the_post_mortem() {
    let ran = Drill::new().args(["report", FIXTURE]).expect_code(0);
    let md = &ran.stdout;
    for needle in [
        "# Drill `example`: passed\n",
        "| run | `20261129T031234Z-b135` |",
        "| route | us-east-1 → us-west-2 → us-east-1 |",
        "| outcome | passed (exit code 0) |",
        "which ran 30× faster than the wall clock",
        "faults: none; the lab's world ended as it began",
        "| lower_ttls | passed | 2026-11-29T03:13:41.049Z | 5m 30s 506ms |",
        // The timeline interleaves steps with what the probes saw, in time order.
        "| 2026-11-29T03:20:54.882Z | 8m 8s 265ms | failover: every authoritative answer points to us-west-2 |",
        "| Write outage (RTO) | 1m 17s | 1m 8s |",
        "| Lost writes | 0 | 0 |",
        "- `ttl_wait_ms`: 5m\n",
        "| `max_lost_writes` | 0 writes | 0 writes | met |",
        "| failover | canary | 461 | 77 | 16.70 % | 66ms | 110ms | us-east-1 375, us-west-2 9 |",
        "Canary read-back after the failback (2026-11-29T03:25:27.628Z): 592 acknowledged write(s) checked in us-east-1, none missing.",
        "Sampling timer: p99 skew 3.1ms, 0 missed tick(s).",
        "5 change(s) journaled before they were made; 5 put back.",
        "| 3 | promote | writer of global cluster example-global | `\"arn:aws:rds:us-east-1:123456789012:cluster:example-global-use1\"` |",
        FIXTURE,
    ] {
        assert!(md.contains(needle), "lacks {needle:?}\n{md}");
    }
    let timeline: Vec<&str> = md
        .split("## Timeline")
        .nth(1)
        .unwrap()
        .split("\n\n##")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| 2026"))
        .collect();
    let mut sorted = timeline.clone();
    sorted.sort();
    assert_eq!(timeline, sorted, "the timeline is in time order");
    assert!(!md.contains("STILL CHANGED"));
    assert!(!md.contains("## Stop condition"));
}

#[test]
fn a_report_that_left_something_changed_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "incomplete.json", &incomplete_run());
    let ran = Drill::new()
        .args(["report"])
        .arg(dir.path().join("incomplete.json"))
        .expect_code(0);
    let md = &ran.stdout;
    let still = md.find("## STILL CHANGED").expect(md);
    assert!(still < md.find("## Steps").unwrap(), "{md}");
    for needle in [
        "# Drill `example`: rollback_incomplete\n",
        "- writer of global cluster example-global: us-west-2 (was us-east-1)",
        "Finish the job with `drill recover 20261230T031234Z-c0de`.",
        "`alarm` fired at 2026-12-30T03:19:00.000Z: checkout-5xx is in ALARM since",
        "| 2026-12-30T03:19:00.000Z | 6m 13s 384ms | stop condition `alarm` fired |",
        "5 change(s) journaled before they were made; 4 put back, 1 STILL CHANGED.",
        // A `|` inside a cell does not split the table.
        "| **STILL CHANGED**: SwitchoverGlobalCluster failed: Throttling \\| Rate exceeded |",
        "| `max_lost_writes` | 0 writes | — | not measured |",
        "415 acknowledged write(s) checked in us-west-2, **2 missing**: 412, 413.",
    ] {
        assert!(md.contains(needle), "lacks {needle:?}\n{md}");
    }
}

#[test]
fn the_history_lists_runs_newest_first_and_names_what_it_cannot_read() {
    let state = tempfile::tempdir().unwrap();
    let reports = state.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    write(&reports, "20261129T031234Z-b135.json", &fixture());
    write(&reports, "20261230T031234Z-c0de.json", &incomplete_run());
    let mut other = fixture();
    other["run_id"] = json!("20261215T000000Z-0the");
    other["started_at"] = json!("2026-12-15T00:00:00Z");
    other["drill"]["name"] = json!("checkout");
    other["outcome"] = json!("slo_failed");
    other["slos"][0]["measured"] = json!(3);
    other["slos"][0]["passed"] = json!(false);
    write(&reports, "20261215T000000Z-0the.json", &other);
    let mut newer = fixture();
    newer["schema_version"] = json!(2);
    write(&reports, "from-the-future.json", &newer);
    std::fs::write(reports.join("notes.json"), "not json").unwrap();
    std::fs::write(reports.join("README.txt"), "ignored").unwrap();
    // A lab run's sidecar is not a report, and not an unreadable one either.
    std::fs::write(
        reports.join("20261129T031234Z-b135.lab.json"),
        r#"{"format": 1, "run_id": "20261129T031234Z-b135"}"#,
    )
    .unwrap();

    let ran = Drill::new()
        .state_dir(state.path())
        .args(["report", "--list"])
        .expect_code(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", ran.stdout);
    assert!(lines[0].starts_with("RUN "), "{}", lines[0]);
    let ids: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "20261230T031234Z-c0de",
            "20261215T000000Z-0the",
            "20261129T031234Z-b135"
        ]
    );
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first[1..5],
        ["example", "switchover", "rollback_incomplete", "2026-12-30"]
    );
    // Its SLO could not be measured: not met, and not called missed either.
    assert!(
        lines[1].ends_with("0/1 met, 1 not measured"),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with("0/1 met, 1 missed"), "{}", lines[2]);
    let last: Vec<&str> = lines[3].split_whitespace().collect();
    // Took 13m 29s; the worse write outage of the two directions; lost writes; target; SLOs.
    assert_eq!(
        last[6..],
        ["13m", "29s", "1m", "17s", "0", "lab", "30×", "1/1", "met"],
        "{}",
        lines[3]
    );
    assert!(
        ran.stderr
            .contains("from-the-future.json: schema_version 2 is newer"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("notes.json: not a drill report"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("README"), "{}", ran.stderr);
    assert!(!ran.stderr.contains(".lab.json"), "{}", ran.stderr);

    let ran = Drill::new()
        .state_dir(state.path())
        .args(["report", "--list", "--drill", "example", "-n", "1"])
        .expect_code(0);
    assert_eq!(ran.stdout.lines().count(), 2, "{}", ran.stdout);
    assert!(ran.stdout.contains("20261230T031234Z-c0de"));

    // --latest is the newest readable run; a run id finds its report in the folder.
    Drill::new()
        .state_dir(state.path())
        .args(["report", "--latest"])
        .expect_code(0)
        .stdout_contains("# Drill `example`: rollback_incomplete");
    Drill::new()
        .state_dir(state.path())
        .args(["report", "20261215T000000Z-0the"])
        .expect_code(0)
        .stdout_contains("# Drill `checkout`: slo_failed")
        .stdout_contains("| `max_lost_writes` | 0 writes | 3 writes | **MISSED** |");

    // What cannot be rendered is refused with the file or run named.
    Drill::new()
        .state_dir(state.path())
        .args(["report"])
        .arg(reports.join("from-the-future.json"))
        .expect_code(2)
        .stderr_contains(
            "from-the-future.json: schema_version 2 is newer than this drill understands (1)",
        );
    Drill::new()
        .state_dir(state.path())
        .args(["report", "20270101T000000Z-none"])
        .expect_code(2)
        .stderr_contains("no report \"20270101T000000Z-none\"");
    let empty = tempfile::tempdir().unwrap();
    Drill::new()
        .state_dir(empty.path())
        .args(["report", "--list"])
        .expect_code(0)
        .stdout_contains("no runs in");
    Drill::new()
        .state_dir(empty.path())
        .args(["report", "--latest"])
        .expect_code(2)
        .stderr_contains("no readable report in");
}
