//! Crashes and refusals against a served lab (`drill lab --world`), driven through separate `drill`
//! processes with `--lab-endpoint`, so the world outlives each run as AWS does:
//!
//! - the lab's control endpoint (`/_lab/info`, `/_lab/snapshot`, `/_lab/truth`) and a run that
//!   follows the lab's clock;
//! - the crash matrix: a run stopped after every journal line (the test pause hook,
//!   `DRILL_TEST_PAUSE_AFTER_JOURNAL_LINE`), during the INSYNC wait and during each promotion, by
//!   SIGKILL (then `drill recover` must put the world back, and a second recover must write
//!   nothing) or by SIGTERM (the run itself must put the world back);
//! - a refused run writes nothing (bad world, failed steady state, held lease).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use failover_drill::clock::Clock;
use failover_drill::cloud::aws::{AwsOptions, connect};
use failover_drill::cloud::{ChangeAction, Cloud, RecordChange, RecordSet};
use failover_drill::lab::{LAB_ACCESS_KEY_ID, LAB_SECRET_ACCESS_KEY};
use serde_json::Value;

use crate::support::Drill;
use crate::support::process::Proc;

/// The calls that change the world.
const WRITES: &[&str] = &[
    "ChangeResourceRecordSets",
    "UpdateHealthCheck",
    "SwitchoverGlobalCluster",
    "FailoverGlobalCluster",
    "RemoveFromGlobalCluster",
];

/// Modelled seconds per wall second for the matrix: fast, with the drills' timeouts raised so a
/// busy machine's pauses (each real second is minutes of modelled time) do not time a step out.
const SCALE: &str = "300";

// ---------------------------------------------------------------------------------------------
// A served lab

/// `drill lab --world FILE` and what its startup line says.
struct Served {
    proc: Proc,
    control: String,
    aws_endpoint: String,
    regions: Vec<String>,
    /// The lab's time scale: the library's clients pace Route 53 on it, as `drill` does.
    scale: f64,
}

impl Served {
    fn start(file: &Path, scale: &str, faults: &[&str]) -> Served {
        let mut drill = Drill::new()
            .args(["lab".as_ref(), "--world".as_ref(), file.as_os_str()])
            .args(["--time-scale", scale]);
        for fault in faults {
            drill = drill.args(["--fault", fault]);
        }
        let mut proc = Proc::spawn(drill);
        let line = proc.wait_for("aws_endpoint", Duration::from_secs(30));
        let line: Value = serde_json::from_str(&line).expect("the startup line is JSON");
        Served {
            scale: scale.parse().expect("a time scale"),
            proc,
            control: line["control"].as_str().expect("control").to_string(),
            aws_endpoint: line["aws_endpoint"].as_str().expect("endpoint").to_string(),
            regions: line["regions"]
                .as_object()
                .expect("regions")
                .keys()
                .cloned()
                .collect(),
        }
    }

    fn get(&self, what: &str) -> Value {
        let body = http_get(&format!("{}/{what}", self.control));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/_lab/{what}: {e}: {body}"))
    }

    fn snapshot(&self) -> Value {
        self.get("snapshot")
    }

    /// Every API call the lab answered so far: (operation, resource, HTTP status).
    fn calls(&self) -> Vec<(String, String, u64)> {
        self.get("truth")["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["what"]["kind"] == "api_call")
            .map(|e| {
                (
                    e["what"]["operation"].as_str().unwrap_or("").to_string(),
                    e["what"]["resource"].as_str().unwrap_or("").to_string(),
                    e["what"]["status"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// The write calls the lab carried out (a refused one changed nothing: a lease CREATE of a
    /// record that exists is how a held lease is found).
    fn writes(&self) -> Vec<String> {
        self.attempted_writes()
            .into_iter()
            .filter(|w| w.ends_with(" 200"))
            .collect()
    }

    /// Every write call, carried out or refused: `OPERATION RESOURCE STATUS`.
    fn attempted_writes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|(op, _, _)| WRITES.contains(&op.as_str()))
            .map(|(op, resource, status)| format!("{op} {resource} {status}"))
            .collect()
    }

    fn count(&self, ops: &[&str]) -> usize {
        self.calls()
            .iter()
            .filter(|(op, _, _)| ops.contains(&op.as_str()))
            .count()
    }

    /// The lab's Route 53 and RDS through the library's AWS clients.
    fn cloud(&self, rt: &tokio::runtime::Runtime) -> Cloud {
        rt.block_on(connect(AwsOptions {
            profile: None,
            endpoint_url: Some(self.aws_endpoint.clone()),
            static_credentials: Some((
                LAB_ACCESS_KEY_ID.to_string(),
                LAB_SECRET_ACCESS_KEY.to_string(),
            )),
            regions: self.regions.clone(),
            clock: Clock::scaled(self.scale),
        }))
        .expect("connect to the lab")
    }

    fn stop(self) {
        self.proc.signal("TERM");
        let _ = self.proc.finish(Duration::from_secs(30));
    }
}

/// A GET over plain HTTP/1.1 (the control endpoint is on loopback); the body.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("{url}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{url}: {head}");
    body.to_string()
}

/// What differs between two snapshots, record by record (for failure messages).
fn differences(before: &Value, after: &Value) -> String {
    if before == after {
        return String::new();
    }
    let mut out = Vec::new();
    let items = |v: &Value, key: &str| -> Vec<String> {
        match key {
            "records" => v["zones"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|z| z["records"].as_array().into_iter().flatten())
                .map(|r| r.to_string())
                .collect(),
            _ => v[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.to_string())
                .collect(),
        }
    };
    for key in [
        "records",
        "health_checks",
        "global_clusters",
        "standalone_clusters",
        "regions_down",
    ] {
        let (b, a) = (items(before, key), items(after, key));
        for gone in b.iter().filter(|x| !a.contains(x)) {
            out.push(format!("  - {gone}"));
        }
        for new in a.iter().filter(|x| !b.contains(x)) {
            out.push(format!("  + {new}"));
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------------
// The drills

/// drills/example.toml: a weighted drill (switchover), without probes, with a short soak, the
/// lab's records at TTL 120 so the TTLs really are lowered, and timeouts raised for the scale.
fn weighted_drill() -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("drills/example.toml"))
            .unwrap();
    let cut = text
        .find("# Optional: probes measure")
        .expect("the probes section");
    let text = text[..cut]
        .replace("soak = \"2m\"", "soak = \"2s\"")
        .replace("insync = \"5m\"", "insync = \"60m\"")
        .replace("promotion = \"15m\"", "promotion = \"120m\"")
        .replace("verify = \"5m\"", "verify = \"60m\"");
    assert!(text.contains("soak = \"2s\"") && text.contains("verify = \"60m\""));
    format!("{text}\n[lab]\noriginal_ttl = 120\n")
}

/// The weighted drill with drills/example.toml's probes (for a steady state that can fail).
fn weighted_drill_with_probes() -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("drills/example.toml"))
            .unwrap();
    let start = text.find("[probes]").expect("the probes table");
    let end = text
        .find("# Optional: stop and roll back")
        .expect("after probes");
    let probes = text[start..end].replace("baseline = \"30s\"", "baseline = \"10s\"");
    let base = weighted_drill();
    let cut = base.find("\n[lab]").unwrap();
    format!("{}\n{probes}{}", &base[..cut], &base[cut..])
}

/// drills/failover-records.toml: an inverted health check and a database failover, with a short
/// soak, no SLOs (a busy machine stretches modelled time) and timeouts raised for the scale.
fn failover_drill() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("drills/failover-records.toml"),
    )
    .unwrap();
    let text = text
        .replace("soak = \"10m\"", "soak = \"2s\"")
        .replace(
            "[slo]\nmax_write_outage = \"3m\"\nmax_duration = \"1h\"\n",
            "",
        )
        .replace(
            "[timeouts]\npromotion = \"20m\"",
            "[timeouts]\ninsync = \"60m\"\npromotion = \"120m\"\nverify = \"60m\"",
        );
    assert!(text.contains("soak = \"2s\"") && !text.contains("[slo]"));
    assert!(text.contains("verify = \"60m\""));
    format!("{text}\n[lab]\noriginal_ttl = 120\n")
}

fn write_drill(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("drill.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `drill run FILE --yes --lab-endpoint URL` with its own state directory.
fn run(file: &Path, state: &Path, served: &Served) -> Drill {
    Drill::new()
        .state_dir(state)
        .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()])
        .args(["--lab-endpoint", &served.control])
}

fn recover(state: &Path) -> crate::support::Ran {
    Drill::new()
        .state_dir(state)
        .args(["recover", "--latest"])
        .run()
}

fn journal_text(state: &Path) -> String {
    let dir = state.join("journal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one run, one journal: {files:?}");
    std::fs::read_to_string(files.pop().unwrap()).unwrap()
}

fn journal_lines(state: &Path) -> usize {
    journal_text(state).lines().count()
}

/// The first journal line (1-based) of the final TTL restore: an `undone` line of a `lower_ttls`
/// entry. A signal from there on lands in the restore itself, which is what a rollback would do:
/// the run may finish it and pass.
fn final_restore_line(state: &Path) -> usize {
    let lines: Vec<Value> = journal_text(state)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lowered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "intent" && l["step"] == "lower_ttls")
        .map(|l| &l["seq"])
        .collect();
    lines
        .iter()
        .position(|l| l["type"] == "undone" && lowered.contains(&&l["seq"]))
        .map(|i| i + 1)
        .expect("a full run restores its TTLs")
}

// ---------------------------------------------------------------------------------------------
// The control endpoint, and a run that follows the lab's clock

#[test]
fn a_served_lab_reports_its_clock_and_world_and_a_run_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_drill(dir.path(), &weighted_drill());
    let served = Served::start(&file, SCALE, &[]);
    let info = served.get("info");
    assert_eq!(info["time_scale"], 300.0);
    assert_eq!(info["aws_endpoint"].as_str().unwrap(), served.aws_endpoint);
    assert!(info["dns"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(
        info["regions"]["us-west-2"]["app"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.12:")
    );
    // The modelled clock runs at the scale: a tenth of a wall second is half a modelled minute.
    let now = |info: &Value| {
        let text = info["now"].as_str().unwrap();
        assert!(text.ends_with('Z') && text.contains('.'), "{text}");
        chrono::DateTime::parse_from_rfc3339(text).unwrap()
    };
    let t0 = now(&info);
    std::thread::sleep(Duration::from_millis(100));
    let moved = now(&served.get("info")) - t0;
    assert!(moved >= chrono::TimeDelta::seconds(30), "{moved}");

    let initial = served.snapshot();
    let records = initial["zones"][0]["records"].as_array().unwrap();
    let api: Vec<&Value> = records
        .iter()
        .filter(|r| r["name"] == "api.example.com.")
        .collect();
    assert_eq!(api.len(), 2, "{initial}");
    assert!(api.iter().all(|r| r["ttl"] == 120), "{initial}");
    assert_eq!(
        initial["global_clusters"][0]["failover_state"],
        Value::Null,
        "{initial}"
    );

    let state = dir.path().join("state");
    Drill::new()
        .state_dir(&state)
        .args(["plan".as_ref(), file.as_os_str()])
        .args(["--lab-endpoint", &served.aws_endpoint])
        .expect_code(0)
        .stdout_contains("ready");
    // The whole drill models more than twenty minutes of waits; on the lab's clock they take
    // seconds.
    let started = Instant::now();
    let ran = run(&file, &state, &served).expect_code(0);
    assert!(ran.stdout.contains(": passed"), "{}", ran.stdout);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(state.join("reports"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(report["time"]["scale"], 300.0, "{}", report["time"]);
    assert!(report.get("lab").is_none_or(Value::is_null), "not our lab");
    // The journal says how to reach the lab again.
    let journal = std::fs::read_dir(state.join("journal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(journal)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["connection"]["lab_endpoint"],
        served.control.as_str()
    );
    assert_eq!(header["connection"]["lab"], false);
    let end = served.snapshot();
    assert_eq!(
        end,
        initial,
        "the world ends as it began:\n{}",
        differences(&initial, &end)
    );
    served.stop();
}

// ---------------------------------------------------------------------------------------------
// The crash matrix

#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    /// Right after the N-th journal line is fsynced.
    Line(usize),
    /// While the TTL change waits for INSYNC (GetChange seen).
    InsyncWait,
    /// While the k-th promotion runs (its call seen; 1 = the drill's, 2 = the fail-back's).
    Promotion(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Term,
}

/// The points: every journal line of a full run, then the timed ones.
fn points(lines: usize) -> Vec<Point> {
    let mut points: Vec<Point> = (1..=lines).map(Point::Line).collect();
    points.extend([Point::InsyncWait, Point::Promotion(1), Point::Promotion(2)]);
    points
}

/// Waits (bounded) until the lab has answered more than `base` calls of `ops`.
fn await_calls(served: &Served, proc: &mut Proc, ops: &[&str], base: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline && proc.running() {
        if served.count(ops) > base {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// What a full run of the drill wrote: its journal's length, and where its final TTL restore
/// starts.
#[derive(Debug, Clone, Copy)]
struct FullRun {
    lines: usize,
    restore_from: usize,
}

/// Stops one run at `point` and checks the world comes back: Err says how it did not.
fn one_point(
    file: &Path,
    state: &Path,
    served: &Served,
    baseline: &Value,
    full: FullRun,
    point: Point,
    stop: Stop,
) -> Result<String, String> {
    let FullRun {
        lines,
        restore_from,
    } = full;
    let mut drill = run(file, state, served);
    let pause_ms = match stop {
        Stop::Kill => 20_000,
        Stop::Term => 300,
    };
    if let Point::Line(n) = point {
        drill = drill.env(
            "DRILL_TEST_PAUSE_AFTER_JOURNAL_LINE",
            format!("{n}:{pause_ms}"),
        );
    }
    let promotions = ["SwitchoverGlobalCluster", "FailoverGlobalCluster"];
    let base_getchange = served.count(&["GetChange"]);
    let base_promotions = served.count(&promotions);
    let mut proc = Proc::spawn(drill);
    let reached = match point {
        Point::Line(n) => proc
            .try_wait_for(
                &format!("drill: test pause after journal line {n}"),
                Duration::from_secs(120),
            )
            .is_some(),
        Point::InsyncWait => await_calls(served, &mut proc, &["GetChange"], base_getchange),
        Point::Promotion(k) => await_calls(served, &mut proc, &promotions, base_promotions + k - 1),
    };
    let during = served.snapshot()["global_clusters"][0]["failover_state"].clone();
    if !reached {
        let (code, output) = proc.finish(Duration::from_secs(120));
        return Err(format!("never reached (exit {code}):\n{output}"));
    }
    let mut said = format!("failover_state at the stop: {during}");
    match stop {
        Stop::Kill => {
            proc.kill9();
            let first = recover(state);
            said += &format!("; recover exit {}", first.code);
            let after = served.snapshot();
            let diff = differences(baseline, &after);
            if first.code != 0 || !diff.is_empty() {
                return Err(format!(
                    "{said}\n--- recover stdout\n{}--- recover stderr\n{}--- world differs:\n{diff}",
                    first.stdout, first.stderr
                ));
            }
            let before = served.writes().len();
            let second = recover(state);
            let writes = served.writes();
            if second.code != 0 || writes.len() != before {
                return Err(format!(
                    "{said}; second recover exit {} wrote {:?}\n{}{}",
                    second.code,
                    &writes[before..],
                    second.stdout,
                    second.stderr
                ));
            }
        }
        Stop::Term => {
            proc.signal("TERM");
            let (code, output) = proc.finish(Duration::from_secs(120));
            said += &format!("; run exit {code}");
            // Before the final TTL restore, a signal rolls back (4); within it, finishing the
            // restore is the rollback, so passing (0) is right too; after the last line, 0.
            let expected: &[i32] = match point {
                Point::Line(n) if n == lines => &[0],
                Point::Line(n) if n >= restore_from => &[0, 4],
                _ => &[4],
            };
            let after = served.snapshot();
            let diff = differences(baseline, &after);
            if !expected.contains(&code) || !diff.is_empty() {
                let tail: Vec<&str> = output.lines().rev().take(25).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(format!(
                    "{said} (expected {expected:?})\n--- run output (tail)\n{}\n--- world differs:\n{diff}",
                    tail.join("\n")
                ));
            }
        }
    }
    Ok(said)
}

/// Runs the whole matrix for one drill and one way of stopping; panics listing every point that
/// did not leave the world as it began.
fn matrix(text: &str, stop: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_drill(dir.path(), text);
    let mut served = Served::start(&file, SCALE, &[]);
    let mut baseline = served.snapshot();
    let full = dir.path().join("full");
    run(&file, &full, &served).expect_code(0);
    let lines = journal_lines(&full);
    let restore_from = final_restore_line(&full);
    let end = served.snapshot();
    assert_eq!(
        end,
        baseline,
        "a full run restores the world:\n{}",
        differences(&baseline, &end)
    );
    let mut failed = Vec::new();
    for (i, point) in points(lines).into_iter().enumerate() {
        let state = dir.path().join(format!("point-{i}"));
        let result = one_point(
            &file,
            &state,
            &served,
            &baseline,
            FullRun {
                lines,
                restore_from,
            },
            point,
            stop,
        );
        match &result {
            Ok(said) => eprintln!("{stop:?} at {point:?} of {lines} lines: ok ({said})"),
            Err(why) => {
                eprintln!("{stop:?} at {point:?} of {lines} lines: FAILED: {why}");
                failed.push(format!("{point:?}: {why}"));
            }
        }
        // A world left changed would fail every later point: start from a fresh one.
        if result.is_err() || served.snapshot() != baseline {
            served.stop();
            served = Served::start(&file, SCALE, &[]);
            baseline = served.snapshot();
        }
    }
    served.stop();
    assert!(
        failed.is_empty(),
        "{} of the points failed (of {} journal lines):\n\n{}",
        failed.len(),
        lines,
        failed.join("\n\n")
    );
}

#[test]
fn sigkill_at_every_point_of_a_weighted_drill_then_recover_restores_the_world() {
    matrix(&weighted_drill(), Stop::Kill);
}

#[test]
fn sigkill_at_every_point_of_a_failover_record_drill_then_recover_restores_the_world() {
    matrix(&failover_drill(), Stop::Kill);
}

#[test]
fn sigterm_at_every_point_of_a_weighted_drill_rolls_back_to_the_world_it_found() {
    matrix(&weighted_drill(), Stop::Term);
}

#[test]
fn sigterm_at_every_point_of_a_failover_record_drill_rolls_back_to_the_world_it_found() {
    matrix(&failover_drill(), Stop::Term);
}

// ---------------------------------------------------------------------------------------------
// A refused run writes nothing

/// Runs the drill against a lab served with `faults`, after `prepare`; expects exit 3 and
/// returns the write calls the run sent, whether the lab accepted them or not.
fn refused_writes(text: &str, faults: &[&str], prepare: impl FnOnce(&Served)) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = write_drill(dir.path(), text);
    let served = Served::start(&file, SCALE, faults);
    prepare(&served);
    let (before, tried) = (served.writes(), served.attempted_writes());
    let ran = run(&file, &dir.path().join("state"), &served).expect_code(3);
    let (after, tried_after) = (served.writes(), served.attempted_writes());
    served.stop();
    assert!(after.starts_with(&before), "{before:?} / {after:?}");
    eprintln!(
        "{}write calls tried: {:?}",
        ran.stderr,
        &tried_after[tried.len()..]
    );
    // Attempted, not only accepted: a refused run sends no write call at all.
    tried_after[tried.len()..].to_vec()
}

#[test]
fn a_run_refused_for_a_bad_world_makes_no_write_calls() {
    let writes = refused_writes(&weighted_drill(), &["secondary-pending-resync"], |_| {});
    assert_eq!(writes, Vec::<String>::new());
}

#[test]
fn a_run_refused_for_a_failed_steady_state_makes_no_write_calls() {
    let writes = refused_writes(&weighted_drill_with_probes(), &["dns-silent"], |_| {});
    assert_eq!(writes, Vec::<String>::new());
}

#[test]
fn a_run_refused_for_a_held_lease_makes_no_write_calls() {
    let writes = refused_writes(&weighted_drill(), &[], |served| {
        // Another host's live lease, created by hand through the lab's Route 53.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let cloud = served.cloud(&rt);
        let snapshot = served.snapshot();
        let zone = &snapshot["zones"][0];
        let name = format!(
            "_drill-lease.example-global.{}",
            zone["name"].as_str().unwrap()
        );
        let lease = RecordSet::simple(
            &name,
            "TXT",
            60,
            &[
                "\"drill-lease v=1 owner=elsewhere/1 run=r0 drill=example expires=2099-01-01T00:00:00Z\"",
            ],
        );
        rt.block_on(cloud.route53.change_records(
            zone["id"].as_str().unwrap(),
            &[RecordChange {
                action: ChangeAction::Create,
                record: lease,
            }],
            "another run's lease",
        ))
        .expect("the lease record is created");
    });
    assert_eq!(writes, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// A region that is down, then back

#[test]
fn a_held_drill_is_failed_back_by_recover_once_the_primary_region_is_back() {
    let dir = tempfile::tempdir().unwrap();
    // A failover survives the outage of us-east-1; the fail-back waits 5 minutes for it and then
    // holds the writer and traffic in us-west-2. The region comes back 25 minutes after the promotion.
    let text = weighted_drill_with_probes()
        .replace("mode = \"switchover\"", "mode = \"failover\"")
        .replace("promotion = \"120m\"", "promotion = \"5m\"");
    assert!(text.contains("mode = \"failover\"") && text.contains("promotion = \"5m\""));
    let file = write_drill(dir.path(), &text);
    let served = Served::start(&file, "60", &["primary-outage@promote/25m"]);
    let initial = served.snapshot();
    let state = dir.path().join("state");
    let ran = run(&file, &state, &served).expect_code(6);
    assert!(
        ran.stderr
            .contains("HELD — the writer and traffic were kept where they serve"),
        "{}",
        ran.stderr
    );
    let writer_region = |world: &Value| {
        world["global_clusters"][0]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "writer")
            .map(|m| m["region"].as_str().unwrap().to_string())
    };
    let held = served.snapshot();
    assert_eq!(writer_region(&held).as_deref(), Some("us-west-2"));
    assert_eq!(held["regions_down"], serde_json::json!(["us-east-1"]));

    // While the region is down, recover holds too, and moves nothing.
    let before = served.attempted_writes().len();
    let early = recover(&state);
    assert_eq!(early.code, 6, "{}{}", early.stdout, early.stderr);
    assert!(
        early.stderr.contains("is not failed back yet"),
        "{}",
        early.stderr
    );
    // Its only writes are its own lease, taken and given back: the world is exactly as held.
    let sent = served.attempted_writes()[before..].to_vec();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter()
            .all(|w| w.starts_with("ChangeResourceRecordSets ")),
        "{sent:?}"
    );
    assert_eq!(differences(&held, &served.snapshot()), "");

    // Once the region is back, recover finishes the fail-back.
    let deadline = Instant::now() + Duration::from_secs(180);
    while served.snapshot()["regions_down"] != serde_json::json!([]) {
        assert!(Instant::now() < deadline, "the outage never ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    let late = recover(&state);
    assert_eq!(late.code, 0, "{}{}", late.stdout, late.stderr);
    let end = served.snapshot();
    assert_eq!(
        end,
        initial,
        "the world is as it began:\n{}",
        differences(&initial, &end)
    );
    let before = served.attempted_writes().len();
    assert_eq!(recover(&state).code, 0);
    assert_eq!(
        served.attempted_writes().len(),
        before,
        "a second recover writes nothing"
    );
    served.stop();
}
