//! Probes against the lab, through the real binary: a switchover that passes with every
//! measurement, a failover under a primary-region outage whose lost writes match the lab's ground
//! truth, a drill whose traffic never moves, a refused steady state, and the accuracy of each
//! measurement against the ground truth at 1 s and 100 ms intervals.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::Drill;

/// A small weighted drill for the lab; `extra` is appended (SLOs, stop conditions).
fn drill_file(dir: &Path, name: &str, mode: &str, interval: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
ttl = 5
soak = "30s"

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "probe-global"
secondary_cluster = "probe-usw2"
mode = "{mode}"

[lab]
original_ttl = 30

[probes]
interval = "{interval}"
baseline = "10s"

  [probes.dns]
  names = ["api.example.com"]

  [probes.http]
  url = "http://api.example.com/healthz"
  region_header = "x-lab-region"

  [probes.canary]
  write_url = "http://api.example.com/canary"

{extra}

{api_group}"#,
        api_group = crate::support::API_GROUP
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the drill");
    path
}

/// Runs `drill run FILE --lab` and returns the parsed report.
fn run(file: &Path, dir: &Path, scale: &str, faults: &[&str], code: i32) -> Value {
    let report = dir.join("report.json");
    let mut args: Vec<String> = vec![
        "run".into(),
        file.display().to_string(),
        "--lab".into(),
        "--yes".into(),
        "--time-scale".into(),
        scale.into(),
        "--report".into(),
        report.display().to_string(),
    ];
    for f in faults {
        args.push("--fault".into());
        args.push((*f).into());
    }
    Drill::new()
        .args(args)
        .state_dir(&dir.join("state"))
        .expect_code(code);
    let text = std::fs::read_to_string(&report).expect("a report");
    let mut r: Value = serde_json::from_str(&text).expect("the report is JSON");
    // The whole ground truth is in the sidecar file the report names.
    let sidecar = dir.join(r["lab"]["details"].as_str().expect("a sidecar file"));
    let text = std::fs::read_to_string(&sidecar).expect("the sidecar");
    let details: Value = serde_json::from_str(&text).expect("the sidecar is JSON");
    r["lab_details"] = details;
    r
}

/// A shorter soak and baseline, for the runs on a slow time scale.
fn shorten(file: &Path) {
    let text = std::fs::read_to_string(file)
        .expect("read")
        .replace("soak = \"30s\"", "soak = \"10s\"")
        .replace("baseline = \"10s\"", "baseline = \"5s\"");
    std::fs::write(file, text).expect("write");
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("a timestamp, got {v}"))
        .parse()
        .expect("RFC 3339")
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (a - b).num_microseconds().expect("small") as f64 / 1e6
}

fn measured(r: &Value, key: &str) -> u64 {
    r["measurements"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("measurement {key} in {}", r["measurements"]))
}

fn direction<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["probes"]["directions"]
        .as_array()
        .expect("directions")
        .iter()
        .find(|d| d["direction"] == name)
        .unwrap_or_else(|| panic!("direction {name}"))
}

fn events(r: &Value) -> &Vec<Value> {
    r["lab_details"]["ground_truth"]["events"]
        .as_array()
        .expect("events")
}

/// The ground truth's changes of `api.example.com A`, in order: (when, the new answer).
fn dns_changes(r: &Value) -> Vec<(DateTime<Utc>, String)> {
    events(r)
        .iter()
        .filter(|e| e["what"]["kind"] == "dns" && e["what"]["name"] == "api.example.com.")
        .map(|e| {
            (
                time(&e["at"]),
                e["what"]["after"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// When the lab accepted the change to `api.example.com` that made its answer change at `change`:
/// the last such change before it.
fn routing_call_before(r: &Value, change: DateTime<Utc>) -> DateTime<Utc> {
    events(r)
        .iter()
        .filter(|e| {
            e["what"]["kind"] == "state"
                && e["what"]["change"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("PENDING") && c.contains("api.example.com."))
        })
        .map(|e| time(&e["at"]))
        .filter(|t| *t < change)
        .max()
        .expect("a routing change before the answer changed")
}

fn within(what: &str, measured: f64, truth: f64, tolerance: f64) {
    assert!(
        (measured - truth).abs() <= tolerance,
        "{what}: measured {measured:.3} s, ground truth {truth:.3} s, allowed ±{tolerance} s"
    );
}

/// Every measurement against the lab's ground truth, each within one probe interval.
/// The replication lag the failover runs inject.
const LAG: f64 = 3.0;

fn check_accuracy(r: &Value, interval: f64, lost_expected: bool) {
    let gt = &r["lab_details"]["ground_truth"];
    let changes = dns_changes(r);
    assert_eq!(changes.len(), 2, "DNS moved out and back: {changes:?}");
    let ttl = 5.0;
    for (i, (name, prefix)) in [("failover", ""), ("failback", "failback_")]
        .iter()
        .enumerate()
    {
        let d = direction(r, name);
        let (changed, _) = &changes[i];
        let call = routing_call_before(r, *changed);
        // DNS cut-over: routing change accepted → every authoritative answer on the target.
        let cutover = measured(r, &format!("{prefix}dns_cutover_ms")) as f64 / 1000.0;
        within(
            &format!("{name} dns_cutover"),
            cutover,
            secs(*changed, call),
            interval,
        );
        within(
            &format!("{name} routing change time"),
            secs(time(&d["routing_change_at"]), call),
            0.0,
            interval,
        );
        // Traffic follows once the probes' resolver cache (the drill TTL) runs out.
        let shift_at = time(&d["traffic_shift_at"]);
        let after_dns = secs(shift_at, *changed);
        assert!(
            after_dns >= -interval && after_dns <= ttl + interval,
            "{name}: traffic shifted {after_dns:.3} s after DNS changed; expected within the {ttl} s TTL"
        );
        // The canary follows the same resolver: its outage ends when traffic moved (the two
        // probes tick independently, so within one interval of each other and a little jitter).
        let outage = &d["write_outage"];
        let to = time(&outage["to"]);
        within(
            &format!("{name} write outage end vs shift"),
            secs(to, shift_at),
            0.0,
            interval * 1.5,
        );
        let length = measured(r, &format!("{prefix}write_outage_ms")) as f64 / 1000.0;
        within(
            &format!("{name} write_outage_ms"),
            length,
            secs(to, time(&outage["from"])),
            0.002,
        );
    }
    // The write outage starts when the primary region stopped taking writes.
    let primary_down = &gt["write_unavailable"]["us-east-1"][0];
    within(
        "failover write outage start",
        secs(
            time(&direction(r, "failover")["write_outage"]["from"]),
            time(&primary_down["from_at"]),
        ),
        0.0,
        interval,
    );
    // Lost writes: exactly the lab's.
    let truth_lost = gt["lost_writes"].as_array().expect("lost").len() as u64;
    let lost = measured(r, "lost_writes") + measured(r, "failback_lost_writes");
    assert_eq!(
        lost, truth_lost,
        "lost writes vs ground truth {}",
        gt["lost_writes"]
    );
    assert_eq!(lost > 0, lost_expected, "lost {lost}");
    let measured_seqs: Vec<u64> = direction(r, "failover")["lost_writes"]
        .as_array()
        .expect("seqs")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let truth_seqs: Vec<u64> = gt["lost_writes"]
        .as_array()
        .expect("seqs")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(measured_seqs, truth_seqs, "the very writes the lab dropped");
    if lost_expected {
        // The data-loss window is the replication lag the lab applied (`replication-lag=3s`).
        assert!(
            gt["faults"].to_string().contains("replication-lag=3s"),
            "{}",
            gt["faults"]
        );
        within("rpo", measured(r, "rpo_ms") as f64 / 1000.0, LAG, interval);
    } else {
        assert_eq!(measured(r, "rpo_ms"), 0);
    }
}

#[test]
fn switchover_reports_every_measurement_and_passes_at_1s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(
        dir.path(),
        "probe-switchover",
        "switchover",
        "1s",
        "[slo]\nmax_traffic_shift = \"5m\"\nmax_dns_cutover = \"5m\"\nmax_write_outage = \"10m\"\nmax_error_rate = \"5%\"\n\n[probes.dns.test_dns_answer]\nclient_ips = [\"127.0.0.11\", \"127.0.0.12\"]\ninterval = \"10s\"",
    );
    let r = run(&file, dir.path(), "10", &[], 0);
    assert_eq!(r["outcome"], "passed");
    // Route 53's own view (TestDNSAnswer, from each region's clients) moved with the name
    // servers: the lab's name servers serve what its configuration says once INSYNC.
    for prefix in ["", "failback_"] {
        let api = measured(&r, &format!("{prefix}test_dns_answer_cutover_ms")) as f64 / 1000.0;
        let dns = measured(&r, &format!("{prefix}dns_cutover_ms")) as f64 / 1000.0;
        within(
            &format!("{prefix}TestDNSAnswer cut-over"),
            api,
            dns,
            10.0 + 1.0,
        );
    }
    let views = r["probes"]["phases"]["failover"]["test_dns_answer"].clone();
    assert!(views["count"].as_u64() > Some(0), "{views}");
    assert_eq!(views["errors"], 0, "{views}");
    for key in [
        "dns_cutover_ms",
        "traffic_shift_ms",
        "write_outage_ms",
        "lost_writes",
        "rpo_ms",
        "failback_dns_cutover_ms",
        "failback_traffic_shift_ms",
        "failback_write_outage_ms",
        "failback_lost_writes",
        "failback_rpo_ms",
        "p50_latency_ms",
        "p99_latency_ms",
    ] {
        assert!(
            r["measurements"][key].is_u64(),
            "{key} in {}",
            r["measurements"]
        );
    }
    assert!(r["measurements"]["error_rate"].is_f64());
    assert_eq!(measured(&r, "lost_writes"), 0);
    let slos = r["slos"].as_array().expect("slos");
    let lost_slo = slos
        .iter()
        .find(|s| s["name"] == "max_lost_writes")
        .expect("implicit 0-loss SLO");
    assert_eq!(
        (lost_slo["target"].as_u64(), lost_slo["unit"].as_str()),
        (Some(0), Some("writes"))
    );
    assert!(slos.iter().all(|s| s["passed"] == true), "{slos:?}");
    for phase in ["baseline", "failover", "soak", "failback"] {
        assert!(
            r["probes"]["phases"][phase]["http"]["count"].as_u64() > Some(0),
            "phase {phase}"
        );
    }
    assert!(r["probes"]["series"]["columns"]["http"]["us-west-2/ok"].is_array());
    check_accuracy(&r, 1.0, false);
}

#[test]
fn switchover_accuracy_at_100ms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(dir.path(), "probe-fine", "switchover", "100ms", "");
    shorten(&file);
    // At 100 ms a few milliseconds of wall time matter: a slow time scale keeps the lab's and the
    // engine's own processing well under one interval of modelled time.
    let r = run(&file, dir.path(), "2", &[], 0);
    check_accuracy(&r, 0.1, false);
}

fn failover_under_outage(interval: &str, scale: &str, tolerance: f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(
        dir.path(),
        "probe-failover",
        "failover",
        interval,
        "[slo]\nmax_lost_writes = 0",
    );
    shorten(&file);
    let r = run(
        &file,
        dir.path(),
        scale,
        &["primary-outage@promote/60s", "replication-lag=3s"],
        1,
    );
    assert_eq!(r["outcome"], "slo_failed");
    assert!(
        r["left"].as_array().expect("left").is_empty(),
        "{}",
        r["left"]
    );
    assert!(
        r["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["restored"] == true),
        "{}",
        r["changes"]
    );
    let slo = r["slos"]
        .as_array()
        .expect("slos")
        .iter()
        .find(|s| s["name"] == "max_lost_writes")
        .expect("the 0-loss SLO")
        .clone();
    assert_eq!(slo["passed"], false);
    assert!(slo["measured"].as_u64() > Some(0));
    check_accuracy(&r, tolerance, true);
}

#[test]
fn failover_under_a_primary_outage_loses_what_the_lab_lost_at_1s() {
    failover_under_outage("1s", "10", 1.0);
}

#[test]
fn failover_under_a_primary_outage_loses_what_the_lab_lost_at_100ms() {
    failover_under_outage("100ms", "2", 0.1);
}

#[test]
fn traffic_that_never_moves_stops_the_drill_and_rolls_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(
        dir.path(),
        "probe-stuck",
        "switchover",
        "1s",
        "[stop]\ntraffic_deadline = \"90s\"\n\n[probes.dns.test_dns_answer]\nclient_ips = [\"127.0.0.12\"]\ninterval = \"30s\"",
    );
    // From the promotion on the name servers keep answering the old records while the Route 53
    // API reports every change INSYNC: traffic never arrives in us-west-2.
    let r = run(&file, dir.path(), "30", &["dns-stale@promote"], 4);
    assert_eq!(r["outcome"], "rolled_back");
    assert_eq!(r["stop"]["condition"], "traffic_deadline", "{}", r["stop"]);
    assert!(
        r["errors"][0]
            .as_str()
            .expect("error")
            .contains("traffic_deadline")
    );
    assert!(r["left"].as_array().expect("left").is_empty());
    assert!(
        r["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["restored"] == true)
    );
    assert_eq!(r["lab"]["world_restored"], true);
    // The evidence of why: Route 53's configuration answered with us-west-2, the name servers
    // never did.
    assert!(
        r["measurements"]["test_dns_answer_cutover_ms"].is_u64(),
        "{}",
        r["measurements"]
    );
    assert!(
        r["measurements"]["dns_cutover_ms"].is_null(),
        "{}",
        r["measurements"]
    );
    let rollback = r["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "rollback")
        .expect("a rollback step");
    assert_eq!(rollback["status"], "passed");
    // It fired at the deadline, not at the verify timeout (5 min).
    let routed = time(&direction(&r, "failover")["routing_change_at"]);
    let fired = secs(time(&r["stop"]["at"]), routed);
    assert!(
        (90.0..95.0).contains(&fired),
        "fired {fired:.1} s after the routing change"
    );
}

#[test]
fn an_unsteady_service_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(dir.path(), "probe-unsteady", "switchover", "1s", "");
    // The service answers 404 on the probed path: the baseline sees only errors.
    let text = std::fs::read_to_string(&file)
        .expect("read")
        .replace("api.example.com/healthz", "api.example.com/missing");
    std::fs::write(&file, text).expect("write");
    let r = run(&file, dir.path(), "30", &[], 3);
    assert_eq!(r["outcome"], "refused");
    assert!(r["changes"].as_array().expect("changes").is_empty());
    let reasons = r["steps"][0]["details"]["reasons"].to_string();
    assert!(reasons.contains("steady state"), "{reasons}");
    assert!(reasons.contains("http probes failed"), "{reasons}");
}

#[test]
fn validate_rejects_slos_and_stops_without_their_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = drill_file(
        dir.path(),
        "probe-bad",
        "switchover",
        "10ms",
        "[stop]\ncloudwatch_alarm = \"x\"\n\n[probes.dns.test_dns_answer]\nclient_ips = [\"resolver-1\"]\ninterval = \"500ms\"",
    );
    let text = std::fs::read_to_string(&file)
        .expect("read")
        .replace("  [probes.http]\n  url = \"http://api.example.com/healthz\"\n  region_header = \"x-lab-region\"\n", "")
        .replace("[lab]\noriginal_ttl = 30\n", "[lab]\noriginal_ttl = 30\n\n[slo]\nmax_traffic_shift = \"1m\"\n");
    std::fs::write(&file, text).expect("write");
    let ran = Drill::new()
        .args(["validate".to_string(), file.display().to_string()])
        .expect_code(2);
    let out = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        out.contains("probes.interval: interval 10ms is out of range"),
        "{out}"
    );
    assert!(
        out.contains("slo.max_traffic_shift is measured by the http probe"),
        "{out}"
    );
    assert!(out.contains("stop.cloudwatch_alarm: unknown key"), "{out}");
    assert!(
        out.contains("probes.dns.test_dns_answer.client_ips: \"resolver-1\" is not an IP address"),
        "{out}"
    );
    assert!(
        out.contains(
            "probes.dns.test_dns_answer.interval: interval 500ms is out of range: 1s to 5m"
        ),
        "{out}"
    );
}
