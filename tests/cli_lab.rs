//! The real binary against the embedded lab: the README's drill, and every lab fault, each ending
//! in its documented outcome with the world as it began; `drill lab` served to a non-Rust client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;

use crate::support::{Drill, Ran};

/// The parts of a lab run's report these tests check.
#[derive(Debug, Deserialize)]
struct Report {
    run_id: String,
    outcome: String,
    exit_code: i32,
    steps: Vec<Step>,
    errors: Vec<String>,
    time: Time,
    lab: Lab,
    #[serde(default)]
    stop: Option<serde_json::Value>,
    #[serde(default)]
    alarms: Option<serde_json::Value>,
    #[serde(default)]
    probes: Option<serde_json::Value>,
    changes: Vec<Change>,
    #[serde(default)]
    measurements: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Change {
    resource: String,
    restored: bool,
    #[serde(default)]
    how: Option<String>,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Step {
    name: String,
    status: String,
    #[serde(default)]
    details: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Time {
    clock: String,
    scale: f64,
}

/// The report's `lab` summary, with the sidecar it names read beside it.
#[derive(Debug, Deserialize)]
struct Lab {
    time_scale: f64,
    faults: Vec<String>,
    world_restored: bool,
    /// Every field that differs between the world before and after.
    differences: Vec<serde_json::Value>,
    /// The ground truth's key figures.
    ground_truth: serde_json::Value,
    /// The sidecar file's name.
    details: String,
    #[serde(default)]
    critical_path: serde_json::Value,
    /// What the sidecar holds: both snapshots and the whole ground truth.
    #[serde(skip)]
    full: Details,
}

#[derive(Debug, Default, Deserialize)]
struct Details {
    initial_state: serde_json::Value,
    final_state: serde_json::Value,
    ground_truth: serde_json::Value,
}

/// Runs `drill run FILE --lab` with the faults, checks the exit code and returns the report.
fn lab_run(file: &str, faults: &[&str], scale: Option<&str>, code: i32) -> Report {
    lab_run_with(Drill::new(), file, faults, scale, code).1
}

/// [`lab_run`] from a prepared command, also returning what it printed.
fn lab_run_with(
    drill: Drill,
    file: &str,
    faults: &[&str],
    scale: Option<&str>,
    code: i32,
) -> (Ran, Report) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut drill = drill
        .state_dir(dir.path())
        .args(["run", file, "--lab", "--yes", "--report"])
        .arg(&report);
    if let Some(scale) = scale {
        drill = drill.args(["--time-scale", scale]);
    }
    for fault in faults {
        drill = drill.args(["--fault", fault]);
    }
    let ran = drill.expect_code(code);
    (ran, read_report(&report))
}

/// Reads the report and the lab's sidecar file it names (beside it).
fn read_report(path: &Path) -> Report {
    let mut r: Report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sidecar = path.with_file_name(&r.lab.details);
    assert_eq!(sidecar, path.with_extension("lab.json"));
    r.lab.full = serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    r
}

fn step_names(report: &Report) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn the_readme_drill_passes_in_the_lab_and_leaves_the_world_as_it_began() {
    // An empty NO_COLOR does not ask for plain text; stderr being a pipe does.
    let (ran, report) = lab_run_with(
        Drill::new().env("NO_COLOR", ""),
        "drills/example.toml",
        &[],
        None,
        0,
    );
    assert!(!ran.stderr.contains('\x1b'), "{}", ran.stderr);
    let ran = ran
        .stdout_contains(&format!("drill example run {}: passed\n", report.run_id))
        .stdout_contains("\n  lower_ttls       passed  5m ")
        .stdout_contains("\n  probes, failover: dns_cutover ");
    assert!(!ran.stdout.contains('\x1b'), "{}", ran.stdout);
    assert_eq!(report.outcome, "passed", "{:?}", report.errors);
    assert_eq!(report.exit_code, 0);
    assert_eq!(
        step_names(&report),
        [
            "preflight",
            "lower_ttls",
            "promote",
            "shift_traffic",
            "verify_shift",
            "soak",
            "fail_back",
            "verify_recovery",
            "restore_ttls"
        ]
    );
    assert!(report.steps.iter().all(|s| s.status == "passed"));
    assert_eq!(report.time.clock, "modelled");
    assert_eq!(report.time.scale, 30.0);
    assert_eq!(report.lab.time_scale, 30.0);
    assert!(report.lab.world_restored);
    // The ground truth saw the writer move and come back.
    let events = report.lab.full.ground_truth["events"].as_array().unwrap();
    assert!(events.len() > 10, "{events:?}");
    let text = report.lab.full.ground_truth.to_string();
    assert!(text.contains("SwitchoverGlobalCluster"), "{text}");
    // The summary: nothing differs, and its figures are the sidecar's.
    assert!(
        report.lab.differences.is_empty(),
        "{:?}",
        report.lab.differences
    );
    let switchovers = events
        .iter()
        .filter(|e| e["what"]["operation"] == "SwitchoverGlobalCluster")
        .count();
    assert_eq!(switchovers, 2);
    assert_eq!(
        report.lab.ground_truth["api_calls"]["rds SwitchoverGlobalCluster"],
        switchovers
    );
    assert_eq!(report.lab.ground_truth["events"], events.len());
    assert_eq!(report.lab.ground_truth["lost_writes"], 0);
    // The critical path covers the span the drill's duration measures, and the drill took at
    // least as long as the waits it could not avoid.
    let path = &report.lab.critical_path;
    assert_eq!(
        path["duration_ms"],
        report.measurements["drill_duration_ms"]
    );
    let critical = path["critical_path_ms"].as_u64().unwrap();
    assert!(critical > 0, "{path}");
    assert!(path["ratio"].as_f64().unwrap() >= 1.0, "{path}");
    let whats: Vec<&str> = path["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["what"].as_str())
        .collect();
    for what in [
        "the longest original TTL",
        "the soak",
        "switchover of global-cluster example-global",
        "clients following the failover to us-west-2",
    ] {
        assert!(
            whats.iter().any(|w| w.starts_with(what)),
            "{what}: {whats:?}"
        );
    }
    assert!(
        !whats.iter().any(|w| w.contains("_drill-lease")),
        "{whats:?}"
    );
}

#[test]
fn plan_in_the_lab_lists_the_actions() {
    let dir = tempfile::tempdir().unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args(["plan", "drills/failover-records.toml", "--lab"])
        .expect_code(0)
        .stdout_contains("FailoverGlobalCluster AllowDataLoss=true")
        .stdout_contains("UpdateHealthCheck")
        .stdout_contains("TTL 300 → 30");
}

#[test]
fn plan_checks_the_steady_state_as_run_does_or_says_it_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let plan = |extra: &[&str]| {
        Drill::new()
            .state_dir(dir.path())
            .args([
                "plan",
                "drills/example.toml",
                "--lab",
                "--fault",
                "dns-silent",
            ])
            .args(extra)
    };
    // The DNS server answers nobody: the baseline sees only failures, and plan refuses with the
    // reasons run refuses with.
    let refused = plan(&[])
        .expect_code(3)
        .stderr_contains("drill example is not ready; nothing would be changed:")
        .stderr_contains("  - steady state: ")
        .stderr_contains("dns probes failed during the 30s baseline");
    assert!(
        !refused.stdout.contains("ready. A run would"),
        "{}",
        refused.stdout
    );
    plan(&["--no-steady-state"])
        .expect_code(0)
        .stdout_contains("steady state: not checked (--no-steady-state)\n")
        .stdout_contains("ready. A run would:");
    Drill::new()
        .state_dir(dir.path())
        .args(["plan", "drills/example.toml", "--lab"])
        .expect_code(0)
        .stdout_contains("steady state: ok over the 30s baseline");
    // `drill run` refuses the same drill for the same reason.
    let r = lab_run("drills/example.toml", &["dns-silent"], None, 3);
    assert_eq!(r.outcome, "refused");
    assert!(
        r.errors
            .iter()
            .any(|e| e.starts_with("steady state: ") && e.contains("dns probes failed")),
        "{:?}",
        r.errors
    );
}

/// Each fault, the drill it runs with, and the outcome the fault documentation promises.
#[test]
fn throttling_is_absorbed_by_retries() {
    let r = lab_run("drills/example.toml", &["throttle=0.2"], Some("60"), 0);
    assert!(r.lab.world_restored);
    assert_eq!(r.lab.faults, ["throttle=0.2"]);
    // The fault did bite, on both services the drill changes things through, and the drill passed
    // all the same.
    let throttled: Vec<&str> = r.lab.full.ground_truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["what"])
        .filter(|w| w["kind"] == "api_call" && w["error_code"] == "Throttling")
        .map(|w| w["service"].as_str().unwrap())
        .collect();
    for service in ["route53", "rds"] {
        assert!(throttled.contains(&service), "{service}: {throttled:?}");
    }
}

#[test]
fn a_failing_switchover_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    Drill::new()
        .state_dir(dir.path())
        .args(["run", "drills/example.toml", "--lab", "--yes"])
        .args([
            "--fault",
            "switchover-fails",
            "--time-scale",
            "60",
            "--report",
        ])
        .arg(&path)
        .expect_code(4);
    let r = read_report(&path);
    assert_eq!(r.outcome, "rolled_back");
    // The writer never moved: the report must not say it was moved and put back.
    let writer = r
        .changes
        .iter()
        .find(|c| c.resource.starts_with("writer of"))
        .expect("the switchover was journaled");
    assert!(writer.restored && writer.failed, "{writer:?}");
    assert!(
        writer
            .note
            .as_deref()
            .unwrap_or("")
            .contains("cancelled or failed"),
        "{writer:?}"
    );
    assert_eq!(writer.how.as_deref(), Some("already"), "{writer:?}");
    Drill::new()
        .args(["report"])
        .arg(&path)
        .expect_code(0)
        .stdout_contains("never changed (the change failed) |")
        .stdout_contains("put back, 1 never changed (the change failed).");
    assert!(r.lab.world_restored);
    assert!(
        r.errors.iter().any(|e| e.contains("cancelled or failed")),
        "{:?}",
        r.errors
    );
    assert_eq!(
        step_names(&r),
        ["preflight", "lower_ttls", "promote", "rollback"]
    );
}

#[test]
fn a_hanging_switchover_times_out_and_rolls_back() {
    let r = lab_run(
        "drills/example.toml",
        &["switchover-hangs=20m"],
        Some("60"),
        4,
    );
    assert!(r.lab.world_restored);
    assert!(
        r.errors.iter().any(|e| e.contains("timed out")),
        "{:?}",
        r.errors
    );
}

#[test]
fn a_primary_outage_stops_a_switchover_and_the_drill_rolls_back() {
    let r = lab_run(
        "drills/example.toml",
        &["primary-outage@promote/5m"],
        Some("60"),
        4,
    );
    assert!(r.lab.world_restored);
}

#[test]
fn a_failover_survives_a_primary_outage_and_fails_back_once_it_resyncs() {
    let r = lab_run(
        "drills/failover-records.toml",
        &["primary-outage@promote/10m"],
        Some("60"),
        0,
    );
    assert!(r.lab.world_restored, "{:?}", r.errors);
    assert!(
        r.lab
            .full
            .ground_truth
            .to_string()
            .contains("FailoverGlobalCluster")
    );
    // The primary's endpoint started failing during the promotion, after the pre-promotion
    // check read it healthy: the shift asks again and does not invert it (inverting would make
    // it healthy and send traffic back to the failing region).
    let shift = r.steps.iter().find(|s| s.name == "shift_traffic").unwrap();
    assert_eq!(
        shift.details["health_checks_inverted"],
        serde_json::json!([]),
        "{:?}",
        shift.details
    );
    assert_eq!(
        shift.details["health_checks_already_failing"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{:?}",
        shift.details
    );
}

#[test]
fn replication_lag_slows_but_does_not_fail_the_drill() {
    let r = lab_run(
        "drills/example.toml",
        &["replication-lag=5s"],
        Some("60"),
        0,
    );
    assert!(r.lab.world_restored);
}

#[test]
fn a_secondary_in_pending_resync_is_refused_and_nothing_changes() {
    let r = lab_run(
        "drills/example.toml",
        &["secondary-pending-resync"],
        Some("60"),
        3,
    );
    assert_eq!(r.outcome, "refused");
    assert!(r.lab.world_restored);
    assert!(
        r.errors.iter().any(|e| e.contains("pending-resync")),
        "{:?}",
        r.errors
    );
    // Refusal is read-only: not even the lease was written.
    assert_eq!(writes(&r), Vec::<String>::new());
    assert!(
        reads(&r, "ListHostedZones") >= 1,
        "the lease's zone was looked up"
    );
}

#[test]
fn a_sidecar_that_cannot_be_written_is_reported_and_the_report_still_is() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    // A folder where the sidecar goes: renaming the finished file over it fails.
    std::fs::create_dir(dir.path().join("report.lab.json")).unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args(["run", "drills/example.toml", "--lab", "--yes", "--report"])
        .arg(&report)
        .args(["--time-scale", "60", "--fault", "secondary-pending-resync"])
        .expect_code(3)
        .stderr_contains("error: could not write the lab's details to ");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["outcome"], "refused");
    assert_eq!(r["lab"]["details"], serde_json::Value::Null);
    assert!(
        r["lab"]["details_error"]
            .as_str()
            .unwrap()
            .contains("report.lab.json"),
        "{}",
        r["lab"]
    );
    // The summary is all there.
    assert_eq!(r["lab"]["world_restored"], true);
    // The two weighted records of api.example.com, and the zone's own NS and SOA.
    assert_eq!(r["lab"]["counts"]["record_sets"], 4, "{}", r["lab"]);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// The write calls the lab saw (whether or not it accepted them).
fn writes(r: &Report) -> Vec<String> {
    const WRITES: [&str; 4] = [
        "ChangeResourceRecordSets",
        "UpdateHealthCheck",
        "SwitchoverGlobalCluster",
        "FailoverGlobalCluster",
    ];
    r.lab.full.ground_truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["what"])
        .filter(|w| w["kind"] == "api_call")
        .filter_map(|w| w["operation"].as_str())
        .filter(|op| WRITES.contains(op))
        .map(str::to_string)
        .collect()
}

fn reads(r: &Report, operation: &str) -> usize {
    r.lab.full.ground_truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"]["kind"] == "api_call" && e["what"]["operation"] == operation)
        .count()
}

#[test]
fn a_passing_lab_run_takes_and_releases_its_lease_after_preflight() {
    let r = lab_run("drills/example.toml", &[], Some("60"), 0);
    assert!(r.lab.world_restored, "the lease was released");
    let ops: Vec<&str> = r.lab.full.ground_truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["what"])
        .filter(|w| w["kind"] == "api_call")
        .filter_map(|w| w["operation"].as_str())
        .collect();
    let first_write = ops
        .iter()
        .position(|op| *op == "ChangeResourceRecordSets")
        .unwrap();
    // The re-check of the global cluster comes after the lease, before the first change.
    let next_write = first_write
        + 1
        + ops[first_write + 1..]
            .iter()
            .position(|op| *op == "ChangeResourceRecordSets")
            .unwrap();
    assert!(
        ops[first_write..next_write].contains(&"DescribeGlobalClusters"),
        "{ops:?}"
    );
}

#[test]
fn a_slow_insync_times_out_and_rolls_back() {
    let r = lab_run("drills/example.toml", &["slow-insync=600s"], Some("60"), 4);
    assert!(r.lab.world_restored);
    assert!(
        r.errors.iter().any(|e| e.contains("INSYNC")),
        "{:?}",
        r.errors
    );
}

#[test]
fn an_unknown_fault_is_a_usage_error() {
    Drill::new()
        .args([
            "run",
            "drills/example.toml",
            "--lab",
            "--yes",
            "--fault",
            "meteor",
        ])
        .expect_code(2)
        .stderr_contains("--fault meteor");
}

#[test]
fn drill_lab_serves_a_world_that_boto3_can_drive() {
    // With stop alarms, so CloudWatch is served too (botocore speaks AWS JSON 1.0 to it).
    let dir = tempfile::tempdir().unwrap();
    let file = example_with(dir.path(), STOP_ALARMS);
    let mut child = Drill::new()
        .args(["lab".as_ref(), "--world".as_ref(), file.as_os_str()])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(&first).unwrap();
    let endpoint = line["aws_endpoint"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{first}");
    assert!(line["dns"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(
        line["regions"]["us-east-1"]["app"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.11:")
    );

    let script = r#"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], aws_access_key_id="LABACCESSKEY", aws_secret_access_key="lab-secret-key")
r53 = boto3.client("route53", region_name="us-east-1", **kw)
zone = r53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]
sets = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
api = sorted((s["SetIdentifier"], s["Weight"], s["TTL"]) for s in sets if s["Name"] == "api.example.com.")
print("api", api)
rds = boto3.client("rds", region_name="us-west-2", **kw)
g = rds.describe_global_clusters(GlobalClusterIdentifier="example-global")["GlobalClusters"][0]
writer = [m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"]]
print("writer", writer)
try:
    rds.describe_global_clusters(GlobalClusterIdentifier="nope")
except rds.exceptions.GlobalClusterNotFoundFault:
    print("missing ok")
cw = boto3.client("cloudwatch", region_name="us-west-2", **kw)
cw.set_alarm_state(AlarmName="api-5xx", StateValue="ALARM", StateReason="by hand")
a = cw.describe_alarms(AlarmNames=["api-5xx"])["MetricAlarms"][0]
print("alarm", a["StateValue"], a["StateReason"], a["StateUpdatedTimestamp"].year > 2000)
try:
    cw.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="x")
except cw.exceptions.ResourceNotFound:
    print("no alarm ok")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &endpoint])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("api [('us-east-1', 100, 300), ('us-west-2', 0, 300)]"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("writer ['arn:aws:rds:us-east-1:123456789012:cluster:example-global-use1']"),
        "{stdout}"
    );
    assert!(stdout.contains("missing ok"), "{stdout}");
    assert!(stdout.contains("alarm ALARM by hand True"), "{stdout}");
    assert!(stdout.contains("no alarm ok"), "{stdout}");

    // SIGTERM ends the lab cleanly.
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The example drill with `extra` (whole tables) appended.
fn example_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("example-with.toml");
    let text = std::fs::read_to_string("drills/example.toml").unwrap();
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path
}

/// The example drill with a `[lab]` table appended.
fn example_with_lab(dir: &Path, lab: &str) -> std::path::PathBuf {
    example_with(dir, &format!("[lab]\n{lab}"))
}

/// `[stop]` watching `api-5xx` in both regions every 5 s.
const STOP_ALARMS: &str = "[stop]\nalarms = [\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx\", \"arn:aws:cloudwatch:us-west-2:123456789012:alarm:api-5xx\"]\nalarm_interval = \"5s\"\n";

#[test]
fn stop_alarms_refuse_a_drill_or_stop_it_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_with(dir.path(), STOP_ALARMS);
    let file = file.to_str().unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args(["plan", file, "--lab"])
        .expect_code(0)
        .stdout_contains("reads these CloudWatch alarms every 5s")
        .stdout_contains("arn:aws:cloudwatch:us-west-2:123456789012:alarm:api-5xx");

    // In ALARM from the start: preflight refuses, nothing changes.
    let r = lab_run(file, &["alarm"], Some("60"), 3);
    assert_eq!(r.outcome, "refused");
    assert!(r.lab.world_restored);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("alarm api-5xx (us-east-1) is in ALARM")),
        "{:?}",
        r.errors
    );

    // Firing at the promotion: the next read stops the drill, which rolls everything back.
    let r = lab_run(file, &["alarm@promote"], Some("60"), 4);
    assert_eq!(r.outcome, "rolled_back", "{:?}", r.errors);
    assert!(r.lab.world_restored);
    let stop = r.stop.as_ref().expect("the stop condition in the report");
    assert_eq!(stop["condition"], "alarm", "{stop}");
    // Both regions' alarms fire at once; whichever region's read answers first is the one named.
    let detail = stop["detail"].as_str().unwrap();
    assert!(
        ["us-east-1", "us-west-2"]
            .iter()
            .any(|region| detail.contains(&format!("alarm api-5xx ({region}) is in ALARM since"))),
        "{stop}"
    );
    assert!(step_names(&r).contains(&"rollback"));
    let watched = r.alarms.as_ref().expect("the alarms evidence");
    assert!(watched["polls"].as_u64() >= Some(1), "{watched}");
    // Every alarm was OK at preflight; the one that stopped the drill was last read in ALARM (the
    // other region's may have been read just before it fired).
    let alarms = watched["alarms"].as_array().unwrap();
    for alarm in alarms {
        assert_eq!(alarm["at_preflight"], "OK", "{alarm}");
    }
    let named = alarms
        .iter()
        .find(|a| {
            let arn = a["arn"].as_str().unwrap_or_default();
            let region = arn.split(':').nth(3).unwrap_or_default();
            detail.contains(&format!("({region})"))
        })
        .expect("the alarm the stop names is watched");
    assert_eq!(named["last"], "ALARM", "{named}");
    // The lab saw the drill read the alarms over CloudWatch's own protocol.
    let reads = r.lab.full.ground_truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"]["operation"] == "DescribeAlarms" && e["what"]["status"] == 200)
        .count();
    assert!(reads >= 3, "{reads} DescribeAlarms calls");
}

#[test]
fn a_lab_table_in_the_drill_file_sets_the_scale_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_with_lab(
        dir.path(),
        "time_scale = 60\nfaults = [\"switchover-fails\"]\n",
    );
    let report = dir.path().join("report.json");
    Drill::new()
        .state_dir(dir.path())
        .args([
            "run".as_ref(),
            file.as_os_str(),
            "--lab".as_ref(),
            "--yes".as_ref(),
        ])
        .args(["--report".as_ref(), report.as_os_str()])
        .expect_code(4);
    let r = read_report(&report);
    assert_eq!(r.time.scale, 60.0);
    assert_eq!(r.lab.faults, ["switchover-fails"]);
    assert!(r.lab.world_restored);
}

#[test]
fn a_bad_fault_in_the_lab_table_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_with_lab(
        dir.path(),
        "faults = [\"switchover-fails\", \"meteor\"]\ntime_scale = 0\n",
    );
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    let ran = Drill::new()
        .args(["validate".as_ref(), file.as_os_str()])
        .expect_code(2);
    let faults_line = lines - 1;
    assert!(
        ran.stderr.contains(&format!(
            "{}:{faults_line}:31: lab.faults[1]: invalid fault `meteor`",
            file.display()
        )),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("{}:{lines}:14: lab.time_scale:", file.display())),
        "{}",
        ran.stderr
    );
}

/// A hook next to the drill file that records what it was given in its working directory, then
/// exits with `code` (and says why on stderr when it fails).
fn hook(dir: &Path, code: i32) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("hook.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > args\nenv | grep '^DRILL_' | sort > env\ncat > stdin\npwd > cwd\ncp \"$DRILL_REPORT\" report-seen.json\n[ {code} -eq 0 ] || echo 'the pager is down' >&2\nexit {code}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn env_of(dir: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A lab run at 60x of the example drill with `notify` (the `[notify]` table's keys) appended, in a
/// fresh folder that also holds a [`hook`] exiting `hook_exit`, if given. Checks the exit code.
struct Notified {
    dir: tempfile::TempDir,
    file: std::path::PathBuf,
    ran: Ran,
    report: Report,
}

fn run_notified(notify: &str, hook_exit: Option<i32>, faults: &[&str], code: i32) -> Notified {
    let dir = tempfile::tempdir().unwrap();
    if let Some(exit) = hook_exit {
        hook(dir.path(), exit);
    }
    let file = example_with(dir.path(), &format!("[notify]\n{notify}"));
    let (ran, report) = lab_run_with(
        Drill::new(),
        file.to_str().unwrap(),
        faults,
        Some("60"),
        code,
    );
    Notified {
        dir,
        file,
        ran,
        report,
    }
}

impl Notified {
    fn assert_logged(&self, line: &str) {
        assert!(self.ran.stderr.contains(line), "{}", self.ran.stderr);
    }
}

#[test]
fn notify_runs_its_command_with_the_outcome_and_the_rendered_report() {
    // `on` left out: every outcome; a relative program is the drill folder's.
    let n = run_notified(
        "command = [\"./hook.sh\", \"--channel\", \"#sre drills\"]\n",
        Some(0),
        &[],
        0,
    );
    let (dir, file, r) = (&n.dir, &n.file, &n.report);
    assert_eq!(r.outcome, "passed");
    n.assert_logged("notify: `./hook.sh --channel #sre drills` ran for outcome passed");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("args"), "--channel\n#sre drills\n");
    assert_eq!(
        Path::new(read("cwd").trim()).canonicalize().unwrap(),
        dir.path().canonicalize().unwrap()
    );
    let env = env_of(dir.path());
    assert_eq!(env["DRILL_RUN_ID"], r.run_id);
    assert_eq!(env["DRILL_NAME"], "example");
    assert_eq!(env["DRILL_OUTCOME"], "passed");
    assert_eq!(env["DRILL_EXIT_CODE"], "0");
    assert_eq!(env["DRILL_RECOVER_COMMAND"], "");
    assert_eq!(Path::new(&env["DRILL_FILE"]), file.as_path());
    // The report it names is the one the run wrote, complete by the time the hook runs.
    assert!(env["DRILL_REPORT"].ends_with("/report.json"), "{env:?}");
    let report: serde_json::Value = serde_json::from_str(&read("report-seen.json")).unwrap();
    assert_eq!(report["run_id"], r.run_id.as_str());
    let stdin = read("stdin");
    assert!(stdin.starts_with("# Drill `example`: passed\n"), "{stdin}");
    assert!(stdin.contains("## Changes"), "{stdin}");
}

#[test]
fn a_failing_notify_command_is_a_warning_and_changes_no_outcome() {
    let n = run_notified(
        "command = [\"./hook.sh\"]\non = [\"rolled_back\", \"rollback_incomplete\"]\n",
        Some(3),
        &["switchover-fails"],
        4,
    );
    assert_eq!(n.report.outcome, "rolled_back");
    n.assert_logged("notify: `./hook.sh` failed (exit status: 3): the pager is down");
    let env = env_of(n.dir.path());
    assert_eq!(env["DRILL_OUTCOME"], "rolled_back");
    assert_eq!(env["DRILL_EXIT_CODE"], "4");
}

#[test]
fn notify_is_not_run_for_an_outcome_it_does_not_list() {
    let n = run_notified(
        "command = [\"./hook.sh\"]\non = [\"passed\"]\n",
        Some(0),
        &["secondary-pending-resync"],
        3,
    );
    assert!(!n.dir.path().join("env").exists(), "the hook ran");
    assert!(!n.ran.stderr.contains("notify:"), "{}", n.ran.stderr);
}

#[test]
fn a_notify_command_that_hangs_is_killed_at_its_timeout() {
    let n = run_notified(
        "command = [\"sleep\", \"600\"]\ntimeout = \"1s\"\n",
        None,
        &["secondary-pending-resync"],
        3,
    );
    assert_eq!(n.report.outcome, "refused");
    n.assert_logged("notify: `sleep 600` was killed after its timeout of 1s");
}

#[test]
fn a_notify_command_that_cannot_run_refuses_the_drill_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_with(
        dir.path(),
        "[notify]\ncommand = [\"hooks/page.sh\", \"--team\", \"sre\"]\non = [\"rolled_back\"]\n",
    );
    let missing = dir.path().join("hooks/page.sh");
    let expected = format!(
        "notify.command program {} does not exist",
        missing.display()
    );
    Drill::new()
        .state_dir(dir.path())
        .args(["plan".as_ref(), file.as_os_str(), "--lab".as_ref()])
        .expect_code(3)
        .stderr_contains(&expected);
    Drill::new()
        .state_dir(dir.path())
        .args([
            "run".as_ref(),
            file.as_os_str(),
            "--lab".as_ref(),
            "--yes".as_ref(),
        ])
        .expect_code(3)
        .stderr_contains(&format!("{expected}; nothing was changed"));
    assert!(!dir.path().join("reports").exists(), "no run started");

    // There but not executable: refused too; made executable: the plan names it.
    std::fs::create_dir(dir.path().join("hooks")).unwrap();
    std::fs::write(&missing, "#!/bin/sh\n").unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args(["plan".as_ref(), file.as_os_str(), "--lab".as_ref()])
        .expect_code(3)
        .stderr_contains("is not an executable file");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Drill::new()
        .state_dir(dir.path())
        .args(["plan".as_ref(), file.as_os_str(), "--lab".as_ref()])
        .expect_code(0)
        .stdout_contains("After it, for outcome rolled_back, it runs ")
        .stdout_contains("     hooks/page.sh --team sre");
}

#[test]
fn a_permanent_primary_outage_holds_traffic_in_the_region_that_serves() {
    // A failover survives the outage; failing back into the dead region would send every client
    // there, so the drill holds the writer and traffic in us-west-2 and says so.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("held.toml");
    let text = std::fs::read_to_string("drills/example.toml")
        .unwrap()
        .replace("mode = \"switchover\"", "mode = \"failover\"")
        .replace("soak = \"2m\"", "soak = \"30s\"")
        .replace("promotion = \"15m\"", "promotion = \"5m\"");
    std::fs::write(&file, text).unwrap();
    let path = dir.path().join("report.json");
    let ran = Drill::new()
        .state_dir(dir.path())
        .args(["run".as_ref(), file.as_os_str(), "--lab".as_ref()])
        .args([
            "--yes",
            "--fault",
            "primary-outage@promote",
            "--time-scale",
            "60",
        ])
        .args(["--report".as_ref(), path.as_os_str()])
        .expect_code(6);
    let r = read_report(&path);
    let ran = ran
        .stdout_contains(&format!("drill example run {}: held\n", r.run_id))
        .stderr_contains("HELD — the writer and traffic were kept where they serve")
        .stderr_contains(&format!(
            "Fail back once the way back can serve: drill recover {}",
            r.run_id
        ));
    assert!(
        ran.stderr
            .contains("http://api.example.com/healthz at 127.0.0.11 answered 503"),
        "the app was asked: {}",
        ran.stderr
    );
    assert_eq!(r.outcome, "held");
    assert_eq!(r.exit_code, 6);
    assert!(!r.lab.world_restored);
    let end = &r.lab.full.final_state;
    // The summary names what differs: the writer, and the weights it kept traffic with.
    let differs = |kind: &str, field: &str| {
        r.lab
            .differences
            .iter()
            .filter(|d| d["kind"] == kind && d["field"] == field)
            .count()
    };
    assert_eq!(differs("cluster", "role"), 2, "{:?}", r.lab.differences);
    assert_eq!(
        differs("record set", "weight"),
        2,
        "{:?}",
        r.lab.differences
    );
    assert_eq!(differs("record set", "ttl"), 0, "{:?}", r.lab.differences);
    assert_ne!(r.lab.full.initial_state, r.lab.full.final_state);
    // The writer stayed where it serves, and so did the traffic; the TTLs, which move nothing,
    // are back.
    let members = end["global_clusters"][0]["members"].as_array().unwrap();
    let writer = members.iter().find(|m| m["role"] == "writer").unwrap();
    assert_eq!(writer["region"], "us-west-2", "{end}");
    let records = end["zones"][0]["records"].as_array().unwrap();
    let api: Vec<_> = records
        .iter()
        .filter(|r| r["name"] == "api.example.com.")
        .collect();
    assert_eq!(api.len(), 2, "{end}");
    for rec in api {
        let west = rec["set_identifier"] == "us-west-2";
        assert_eq!(rec["weight"], if west { 100 } else { 0 }, "{rec}");
        assert_eq!(rec["ttl"], 300, "{rec}");
    }
    // After the fail-back was given up, clients kept being served.
    let rollback = &r.probes.as_ref().unwrap()["phases"]["rollback"]["http"];
    assert!(rollback["count"].as_u64().unwrap() > 0, "{rollback}");
    assert_eq!(rollback["error_rate"], 0.0, "{rollback}");
    // The Markdown report says it first.
    let md = Drill::new()
        .args(["report".as_ref(), path.as_os_str()])
        .expect_code(0)
        .stdout;
    let held = md.find("## HELD — kept where it serves").expect(&md);
    assert!(held < md.find("## Steps").unwrap(), "{md}");
}
