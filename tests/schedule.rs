//! The scheduler: fire times (table tests: `TUE#1`, `L`, time zones across DST changes, the
//! seconds field), the `[scheduling]` keys, `drill schedule --list`, `--due` and `drill cron`, the
//! coordinator's rules with a stand-in runner on paused time (missed runs, grace, one run per
//! target, retries, stop), the Route 53 lease against the lab's Route 53, and the real daemon end
//! to end against the lab: a seconds-granularity schedule runs a drill and writes its report; two
//! schedulers sharing one world run it exactly once; SIGTERM mid-drill leaves the world as it began;
//! SIGHUP and edited files reload without dropping the valid drills.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use failover_drill::clock::Clock;
use failover_drill::cloud::aws::{AwsOptions, connect};
use failover_drill::cloud::memory::MemoryCloud;
use failover_drill::cloud::{ChangeAction, Cloud, RecordChange, RecordSet};
use failover_drill::engine::Outcome;
use failover_drill::lab::{self, LAB_ACCESS_KEY_ID, LAB_SECRET_ACCESS_KEY, LabOptions};
use failover_drill::schedule::daemon::{self, Control, Job, JobResult, Options, Runner};
use failover_drill::schedule::lease::{Lease, LeaseError, Place};
use failover_drill::schedule::state::{DrillState, State, StateDir};
use failover_drill::schedule::{Fires, catalog};
use failover_drill::spec::{self, Schedule};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::support::Drill;
use crate::support::process::Proc;

// ---------------------------------------------------------------------------------------------
// Fire times

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn fires(cron: &str, tz: Option<&str>) -> Fires {
    Fires::new(&Schedule {
        cron: cron.to_string(),
        timezone: tz.map(str::to_string),
        policy: Default::default(),
    })
    .unwrap_or_else(|e| panic!("{cron}: {e}"))
}

#[test]
fn next_fire_times() {
    // (schedule, time zone, after, the next fires in UTC)
    let table: &[(&str, Option<&str>, &str, &[&str])] = &[
        // First Tuesday of the month.
        (
            "0 10 * * TUE#1",
            None,
            "2025-01-01T00:00:00Z",
            &[
                "2025-01-07T10:00:00Z",
                "2025-02-04T10:00:00Z",
                "2025-03-04T10:00:00Z",
            ],
        ),
        // Last day of the month, leap February included.
        (
            "0 10 L * *",
            None,
            "2024-01-31T10:00:00Z",
            &[
                "2024-02-29T10:00:00Z",
                "2024-03-31T10:00:00Z",
                "2024-04-30T10:00:00Z",
            ],
        ),
        // Last Friday of the month.
        (
            "30 9 * * 5L",
            None,
            "2025-01-01T00:00:00Z",
            &["2025-01-31T09:30:00Z", "2025-02-28T09:30:00Z"],
        ),
        // Seconds field first.
        (
            "30 15 10 * * *",
            None,
            "2025-01-01T10:15:30Z",
            &["2025-01-02T10:15:30Z", "2025-01-03T10:15:30Z"],
        ),
        // Berlin across spring-forward (2025-03-30): 10:00 CET is 09:00Z, 10:00 CEST is 08:00Z.
        (
            "0 10 * * TUE#1",
            Some("Europe/Berlin"),
            "2025-02-15T00:00:00Z",
            &["2025-03-04T09:00:00Z", "2025-04-01T08:00:00Z"],
        ),
        // New York across its own change (2025-03-09): 10:00 EST is 15:00Z, 10:00 EDT 14:00Z.
        (
            "0 10 * * TUE#1",
            Some("America/New_York"),
            "2025-02-15T00:00:00Z",
            &["2025-03-04T15:00:00Z", "2025-04-01T14:00:00Z"],
        ),
        // 02:30 does not exist in Berlin on 2025-03-30: it runs at 03:00 CEST, right after the gap.
        (
            "30 2 * * *",
            Some("Europe/Berlin"),
            "2025-03-29T12:00:00Z",
            &["2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"],
        ),
        // 02:30 happens twice in Berlin on 2025-10-26: it runs once, the first time (CEST).
        (
            "30 2 * * *",
            Some("Europe/Berlin"),
            "2025-10-25T12:00:00Z",
            &["2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"],
        ),
        // Seconds and a time zone together.
        (
            "45 0 6 * * MON",
            Some("Asia/Tokyo"),
            "2025-01-01T00:00:00Z",
            &["2025-01-05T21:00:45Z", "2025-01-12T21:00:45Z"],
        ),
    ];
    for (cron, tz, after, expected) in table {
        let got: Vec<String> = fires(cron, *tz)
            .upcoming(utc(after), expected.len())
            .iter()
            .map(|t| daemon::show(*t))
            .collect();
        assert_eq!(&got, expected, "{cron} in {tz:?} after {after}");
    }
}

#[test]
fn the_latest_missed_fire_is_found() {
    let f = fires("0 10 * * TUE#1", None);
    // Down from mid-January to mid-March: February's and March's were missed; March's is latest.
    assert_eq!(
        f.latest_in(utc("2025-01-15T00:00:00Z"), utc("2025-03-15T00:00:00Z")),
        Some(utc("2025-03-04T10:00:00Z"))
    );
    assert_eq!(
        f.latest_in(utc("2025-03-04T10:00:00Z"), utc("2025-03-15T00:00:00Z")),
        None,
        "a fire at the checkpoint was already dealt with"
    );
}

// ---------------------------------------------------------------------------------------------
// Drill files for these tests

/// A drill with a schedule; `top` goes with the top-level keys, `tables` before [regions].
fn drill_text(name: &str, schedule: &str, top: &str, tables: &str) -> String {
    format!(
        r#"name = "{name}"
schedule = "{schedule}"
{top}

{tables}

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "{name}-global"
secondary_cluster = "{name}-usw2"
mode = "switchover"

{api_group}"#,
        api_group = crate::support::API_GROUP
    )
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// The [scheduling] table

#[test]
fn scheduling_keys_are_validated_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        &drill_text(
            "bad",
            "0 10 * * TUE#1",
            "",
            r#"[scheduling]
allowed_hours = "9-17"
missed_run = "later"
grce = "1h"

[[scheduling.blackout]]
from = "2025-12-20"

[[scheduling.blackout]]
cron = "* * * * FRI"
from = "2025-12-20"
to = "2025-12-21""#,
        ),
    );
    let ran = Drill::new()
        .args(["validate".as_ref(), bad.as_os_str()])
        .expect_code(2);
    let p = bad.display().to_string();
    for expected in [
        format!("{p}:6:17: scheduling.allowed_hours: invalid allowed_hours \"9-17\""),
        format!("{p}:7:14: scheduling.missed_run: unknown missed_run \"later\""),
        format!("{p}:8:1: scheduling.grce: unknown key `grce` (did you mean `grace`?)"),
        format!("{p}:10:1: scheduling.blackout[0]: missing `to`"),
        format!("{p}:13:1: scheduling.blackout[1]: a blackout is either `cron` or `from` and `to`"),
    ] {
        assert!(
            ran.stderr.contains(&expected),
            "missing {expected:?} in\n{}",
            ran.stderr
        );
    }

    // Windows that contradict the schedule, and a table without a schedule.
    let never = write(
        dir.path(),
        "never.toml",
        &drill_text(
            "never",
            "0 10 * * TUE#1",
            "",
            "[scheduling]\nallowed_hours = \"12:00-16:00\"\ngrace = \"40d\"",
        ),
    );
    let ran = Drill::new()
        .args(["validate".as_ref(), never.as_os_str()])
        .expect_code(2);
    assert!(
        ran.stderr
            .contains("outside allowed_hours 12:00-16:00; the drill would never run"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("scheduling.grace: duration \"40d\" is longer than 24h"),
        "{}",
        ran.stderr
    );
    let text = drill_text(
        "unscheduled",
        "0 10 * * TUE",
        "",
        "[scheduling]\ngrace = \"1h\"",
    )
    .replace("schedule = \"0 10 * * TUE\"\n", "");
    let unscheduled = write(dir.path(), "unscheduled.toml", &text);
    Drill::new()
        .args(["validate".as_ref(), unscheduled.as_os_str()])
        .expect_code(2)
        .stderr_contains("scheduling: [scheduling] only applies to scheduled runs");

    let good = write(
        dir.path(),
        "good.toml",
        &drill_text(
            "good",
            "0 10 * * TUE#1",
            "timezone = \"Europe/Berlin\"",
            r#"[scheduling]
allowed_hours = "08:00-18:00"
missed_run = "run"
grace = "2h"

[[scheduling.blackout]]
from = "2025-12-19"
to = "2026-01-04"
reason = "year-end change freeze"

[[scheduling.blackout]]
cron = "* * * 8 *"
reason = "August""#,
        ),
    );
    Drill::new()
        .args(["validate".as_ref(), good.as_os_str()])
        .expect_code(0);
    let drill = spec::load(&good).unwrap();
    let policy = &drill.schedule.unwrap().policy;
    assert_eq!(policy.grace, Duration::from_secs(7200));
    assert_eq!(policy.blackouts.len(), 2);
}

#[test]
fn list_prints_fire_times_in_utc_and_local_time_and_marks_blackouts() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "checkout.toml",
        &drill_text(
            "checkout",
            "0 10 * * TUE#1",
            "timezone = \"Europe/Berlin\"",
            r#"[scheduling]
[[scheduling.blackout]]
from = "2025-12-19"
to = "2026-01-06"
reason = "year-end change freeze""#,
        ),
    );
    write(
        dir.path(),
        "broken.toml",
        "name = \"broken\"\nschedule = \"* 10 * * TUE\"\n",
    );
    let ran = Drill::new()
        .args([
            "schedule".as_ref(),
            "--list".as_ref(),
            dir.path().as_os_str(),
        ])
        .args(["-n", "3", "--after", "2025-11-15T00:00:00Z"])
        .expect_code(2);
    assert!(
        ran.stdout.contains(
            "  2025-12-02T09:00:00Z  2025-12-02 10:00:00 CET\n  2026-01-06T09:00:00Z  2026-01-06 10:00:00 CET  skipped: inside blackout 2025-12-19 00:00..2026-01-07 00:00 (year-end change freeze)\n  2026-02-03T09:00:00Z  2026-02-03 10:00:00 CET\n"
        ),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("checkout ("), "{}", ran.stdout);
    // The invalid file is reported with its position; the valid one is still listed.
    assert!(
        ran.stderr.contains(
            "broken.toml:2:12: schedule: schedule \"* 10 * * TUE\" fires more than once an hour"
        ),
        "{}",
        ran.stderr
    );
}

#[test]
fn cron_lines_guard_every_run_with_due() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "monthly.toml",
        &drill_text(
            "monthly",
            "0 10 * * TUE#1",
            "timezone = \"Europe/Berlin\"",
            "",
        ),
    );
    write(
        dir.path(),
        "seconds.toml",
        &drill_text("seconds", "30 0 3 * * *", "", ""),
    );
    let state = dir.path().join("state");
    let ran = Drill::new()
        .state_dir(&state)
        .args(["cron".as_ref(), dir.path().as_os_str()])
        .expect_code(0);
    let file = std::path::absolute(&file).unwrap().display().to_string();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let line = lines
        .iter()
        .find(|l| l.starts_with("0 10 * * 2 "))
        .unwrap_or_else(|| panic!("no line for the monthly drill:\n{}", ran.stdout));
    assert!(
        line.ends_with(&format!(
            "schedule --due {file} && {} --state-dir {} run {file} --yes",
            env!("CARGO_BIN_EXE_drill"),
            state.display()
        )),
        "{line}"
    );
    assert!(
        ran.stdout.contains("CRON_TZ=Europe/Berlin\n0 10 * * 2 "),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("cannot run from cron: it fires at second 30 of the minute"),
        "{}",
        ran.stdout
    );
}

#[test]
fn due_answers_whether_the_schedule_fired_within_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let due = |name: &str, fired: DateTime<Utc>, tables: &str| {
        let file = write(
            dir.path(),
            &format!("{name}.toml"),
            &drill_text(
                name,
                &format!("{} {} * * *", fired.minute(), fired.hour()),
                "",
                tables,
            ),
        );
        Drill::new()
            .args(["schedule".as_ref(), "--due".as_ref(), file.as_os_str()])
            .run()
    };
    let now = Utc::now();
    // This minute (as cron starts it), and ten minutes late (a slow CronJob): due.
    assert_eq!(due("now", now, "").code, 0);
    assert_eq!(due("late", now - TimeDelta::minutes(10), "").code, 0);
    // Past the default grace of 30 minutes, or not yet: not due, and silent.
    for (name, fired) in [
        ("stale", now - TimeDelta::minutes(40)),
        ("later", now + TimeDelta::hours(2)),
    ] {
        let ran = due(name, fired, "");
        assert_eq!(ran.code, 3, "{name}");
        assert_eq!(ran.stderr, "", "not due is silent, so cron mails nothing");
    }
    // Due, but today is blacked out: refused, and said why.
    let freeze = format!(
        "[scheduling]\n[[scheduling.blackout]]\nfrom = \"{}\"\nto = \"{}\"\nreason = \"freeze\"",
        (now - TimeDelta::days(1)).format("%Y-%m-%d"),
        (now + TimeDelta::days(1)).format("%Y-%m-%d")
    );
    let ran = due("frozen", now, &freeze);
    assert_eq!(ran.code, 3);
    assert!(ran.stderr.contains("(freeze)"), "{}", ran.stderr);
}

// ---------------------------------------------------------------------------------------------
// The coordinator, with a stand-in runner on paused time

#[derive(Default)]
struct Script {
    /// (drill, fire, started at)
    started: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    /// Answers to give, in order, before running normally.
    busy_first: usize,
    /// How long a run takes.
    takes: Duration,
    /// Runs that saw their cancel token fire.
    cancelled: Vec<String>,
}

struct Stand {
    clock: Clock,
    script: Arc<Mutex<Script>>,
}

#[async_trait(?Send)]
impl Runner for Stand {
    async fn run(&self, job: Job, cancel: CancellationToken) -> JobResult {
        let takes = {
            let mut s = self.script.lock().unwrap();
            if s.busy_first > 0 {
                s.busy_first -= 1;
                return JobResult::Busy("held by other-host/1".to_string());
            }
            s.started
                .push((job.drill.name.clone(), job.fire, self.clock.now()));
            s.takes
        };
        tokio::select! {
            () = self.clock.sleep(takes) => JobResult::Finished {
                run_id: format!("run-{}", job.drill.name),
                outcome: Outcome::Passed,
                report: None,
            },
            () = cancel.cancelled() => {
                self.script.lock().unwrap().cancelled.push(job.drill.name.clone());
                JobResult::Finished {
                    run_id: format!("run-{}", job.drill.name),
                    outcome: Outcome::RolledBack,
                    report: None,
                }
            }
        }
    }
}

/// A daemon over the drills in `dir`, driven by the returned sender, on paused time.
fn coordinator(
    dir: &Path,
    state: &Path,
    script: &Arc<Mutex<Script>>,
) -> (
    impl std::future::Future<Output = daemon::Stopped>,
    tokio::sync::mpsc::Sender<Control>,
    Clock,
) {
    let clock = Clock::real();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let stand = Stand {
        clock: clock.clone(),
        script: script.clone(),
    };
    let opts = Options {
        paths: vec![dir.to_path_buf()],
        state: StateDir::new(state),
        clock: clock.clone(),
    };
    let fut = async move { daemon::run(opts, &stand, rx).await.expect("daemon runs") };
    (fut, tx, clock)
}

/// A schedule string firing once a day at `t` (seconds field first), in UTC.
fn daily_at(t: DateTime<Utc>) -> String {
    format!("{} {} {} * * *", t.second(), t.minute(), t.hour())
}

#[tokio::test(start_paused = true)]
async fn two_drills_on_one_target_run_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let at = (Utc::now() + TimeDelta::seconds(60))
        .with_nanosecond(0)
        .unwrap();
    // Same global cluster: the second waits for the first; within its grace it still runs.
    for name in ["first", "second"] {
        let text = drill_text(name, &daily_at(at), "", "[scheduling]\ngrace = \"15m\"")
            .replace(&format!("{name}-global"), "shared-global");
        write(dir.path(), &format!("{name}.toml"), &text);
    }
    let script = Arc::new(Mutex::new(Script {
        takes: Duration::from_secs(600),
        ..Script::default()
    }));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(60 + 1300)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    let (stopped, ()) = tokio::join!(run, stop_later);
    assert!(!stopped.incomplete);
    let s = script.lock().unwrap();
    assert_eq!(s.started.len(), 2, "{:?}", s.started);
    let (a, b) = (&s.started[0], &s.started[1]);
    assert!(
        b.2 - a.2 >= TimeDelta::seconds(600),
        "the second waited: {a:?} {b:?}"
    );
    assert_eq!(a.1, b.1, "both for the same fire");
}

#[tokio::test(start_paused = true)]
async fn a_queued_run_past_its_grace_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let at = (Utc::now() + TimeDelta::seconds(60))
        .with_nanosecond(0)
        .unwrap();
    // "first" (sorted first) runs 10 minutes; "second" waits for the target and its 5m grace ends.
    for (name, grace) in [("first", "15m"), ("second", "5m")] {
        let text = drill_text(
            name,
            &daily_at(at),
            "",
            &format!("[scheduling]\ngrace = \"{grace}\""),
        )
        .replace(&format!("{name}-global"), "shared-global");
        write(dir.path(), &format!("{name}.toml"), &text);
    }
    let script = Arc::new(Mutex::new(Script {
        takes: Duration::from_secs(600),
        ..Script::default()
    }));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(60 + 900)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    tokio::join!(run, stop_later);
    let names: Vec<String> = script
        .lock()
        .unwrap()
        .started
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(names, ["first"]);
    let saved = StateDir::new(state.path()).load().unwrap();
    let second = saved.drills["second"].last_run.clone().unwrap();
    assert!(
        second
            .result
            .starts_with("skipped: it could not start within its grace of 5m"),
        "{second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_refused_for_another_hosts_lease_is_retried_within_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let at = (Utc::now() + TimeDelta::seconds(60))
        .with_nanosecond(0)
        .unwrap();
    write(
        dir.path(),
        "retry.toml",
        &drill_text("retry", &daily_at(at), "", "[scheduling]\ngrace = \"15m\""),
    );
    let script = Arc::new(Mutex::new(Script {
        takes: Duration::from_secs(60),
        busy_first: 2,
        ..Script::default()
    }));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(60 + 600)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    tokio::join!(run, stop_later);
    let s = script.lock().unwrap();
    assert_eq!(s.started.len(), 1, "{:?}", s.started);
    // Two refusals, each retried a tenth of the grace later, at most a minute.
    let late = s.started[0].2 - at;
    assert!(
        late >= TimeDelta::seconds(120) && late < TimeDelta::seconds(125),
        "{late}"
    );
}

#[tokio::test(start_paused = true)]
async fn missed_runs_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let now = Utc::now();
    // Both fired 20 minutes ago, while no scheduler ran; the checkpoint is from before that.
    let fired = now - TimeDelta::minutes(20);
    write(
        dir.path(),
        "catch-up.toml",
        &drill_text(
            "catch-up",
            &daily_at(fired),
            "",
            "[scheduling]\nmissed_run = \"run\"\ngrace = \"1h\"",
        ),
    );
    write(
        dir.path(),
        "too-late.toml",
        &drill_text(
            "too-late",
            &daily_at(fired),
            "",
            "[scheduling]\nmissed_run = \"run\"\ngrace = \"10m\"",
        ),
    );
    write(
        dir.path(),
        "skipper.toml",
        &drill_text(
            "skipper",
            &daily_at(fired),
            "",
            "[scheduling]\ngrace = \"1h\"",
        ),
    );
    let mut saved = State {
        format_version: 1,
        ..State::default()
    };
    for name in ["catch-up", "too-late", "skipper"] {
        saved.drills.insert(
            name.to_string(),
            DrillState {
                checkpoint: now - TimeDelta::hours(2),
                last_run: None,
            },
        );
    }
    StateDir::new(state.path()).save(&saved).unwrap();
    let script = Arc::new(Mutex::new(Script {
        takes: Duration::from_secs(60),
        ..Script::default()
    }));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(120)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    tokio::join!(run, stop_later);
    let s = script.lock().unwrap();
    let names: Vec<&str> = s.started.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["catch-up"]);
    let saved = StateDir::new(state.path()).load().unwrap();
    let result = |n: &str| saved.drills[n].last_run.as_ref().unwrap().result.clone();
    assert_eq!(result("catch-up"), "passed");
    assert!(
        result("too-late").contains("grace of 10m"),
        "{}",
        result("too-late")
    );
    assert!(
        result("skipper").contains("missed_run = \"skip\""),
        "{}",
        result("skipper")
    );
    for name in ["catch-up", "too-late", "skipper"] {
        assert!(saved.drills[name].checkpoint >= fired - TimeDelta::seconds(1));
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_cancels_the_running_drill_and_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let at = Utc::now() + TimeDelta::seconds(10);
    write(
        dir.path(),
        "long.toml",
        &drill_text("long", &daily_at(at), "", ""),
    );
    let script = Arc::new(Mutex::new(Script {
        takes: Duration::from_secs(3600),
        ..Script::default()
    }));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(60)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    let (stopped, ()) = tokio::join!(run, stop_later);
    assert_eq!(
        stopped.interrupted,
        [("run-long".to_string(), Outcome::RolledBack)]
    );
    assert_eq!(script.lock().unwrap().cancelled, ["long"]);
}

#[tokio::test(start_paused = true)]
async fn outside_allowed_hours_a_fire_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let at = Utc::now() + TimeDelta::seconds(30);
    // A window that starts two hours after the fire: the fire is outside it.
    let from = at + TimeDelta::hours(2);
    let hours = format!(
        "{:02}:00-{:02}:00",
        from.hour(),
        (from + TimeDelta::hours(1)).hour()
    );
    // Validation rejects a window no fire can fall in, so the schedule fires twice a day: once
    // now, once inside the window.
    let schedule = format!(
        "{} {} {},{} * * *",
        at.second(),
        at.minute(),
        at.hour(),
        from.hour()
    );
    write(
        dir.path(),
        "office.toml",
        &drill_text(
            "office",
            &schedule,
            "",
            &format!("[scheduling]\nallowed_hours = \"{hours}\""),
        ),
    );
    let script = Arc::new(Mutex::new(Script::default()));
    let (run, tx, clock) = coordinator(dir.path(), state.path(), &script);
    let stop_later = async {
        clock.sleep(Duration::from_secs(90)).await;
        tx.send(Control::Stop).await.unwrap();
    };
    tokio::join!(run, stop_later);
    assert!(script.lock().unwrap().started.is_empty());
    let saved = StateDir::new(state.path()).load().unwrap();
    let last = saved.drills["office"].last_run.clone().unwrap();
    assert!(
        last.result
            .contains(&format!("outside allowed_hours {hours}")),
        "{last:?}"
    );
}

#[test]
fn an_invalid_file_does_not_unschedule_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good.toml",
        &drill_text("good", "0 10 * * TUE#1", "", ""),
    );
    write(
        dir.path(),
        "bad.toml",
        "name = \"bad\"\nschedule = \"0 10 * * TUE\"\nttl = \"60\"\n",
    );
    let c = catalog::load(&[dir.path().to_path_buf()]);
    assert_eq!(c.scheduled.len(), 1);
    assert_eq!(c.rejected.len(), 1);
    assert!(
        c.rejected[0]
            .to_string()
            .contains("bad.toml:3:7: ttl: expected"),
        "{}",
        c.rejected[0]
    );
}

// ---------------------------------------------------------------------------------------------
// The lease, against the lab's Route 53

async fn lab_cloud(drill: &spec::Drill) -> (lab::Lab, Cloud) {
    let opts = LabOptions::default();
    let world = lab::start(std::slice::from_ref(drill), opts.clone(), opts.clock())
        .await
        .expect("lab starts");
    let cloud = connect(AwsOptions {
        profile: None,
        endpoint_url: Some(world.aws_endpoint()),
        static_credentials: Some((LAB_ACCESS_KEY_ID.into(), LAB_SECRET_ACCESS_KEY.into())),
        regions: vec!["us-east-1".into(), "us-west-2".into()],
        clock: world.clock().clone(),
    })
    .await
    .expect("connect");
    (world, cloud)
}

fn parsed(name: &str) -> spec::Drill {
    spec::parse(
        Path::new(&format!("{name}.toml")),
        &drill_text(name, "0 10 * * TUE#1", "", ""),
    )
    .expect("valid drill")
}

fn stale_lease(place: &Place, owner: &str) -> RecordSet {
    RecordSet::simple(
        &place.lease_name(),
        "TXT",
        60,
        &[&format!(
            "\"drill-lease v=1 owner={owner} run=r0 drill=old expires=2020-01-01T00:00:00Z\""
        )],
    )
}

#[tokio::test]
async fn the_lease_is_exclusive_released_and_taken_over_only_when_stale() {
    let drill = parsed("leased");
    let (_world, cloud) = lab_cloud(&drill).await;
    let r53 = cloud.route53.clone();
    let clock = Clock::real();
    let place = Place::of(r53.as_ref(), &drill).await.unwrap();
    assert_eq!(
        place.lease_name(),
        "_drill-lease.leased-global.example.com."
    );

    let a = Lease::acquire(
        r53.clone(),
        clock.clone(),
        place.clone(),
        "host-a/1",
        "run-a",
        "leased",
    )
    .await
    .expect("the first taker wins");
    // The lab refuses a CREATE of an existing record, as Route 53 does.
    let again = r53
        .change_records(
            &place.zone_id,
            &[RecordChange {
                action: ChangeAction::Create,
                record: stale_lease(&place, "x/1"),
            }],
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("InvalidChangeBatch"), "{again}");
    let busy = Lease::acquire(
        r53.clone(),
        clock.clone(),
        place.clone(),
        "host-b/2",
        "run-b",
        "leased",
    )
    .await
    .unwrap_err();
    assert!(matches!(busy, LeaseError::Busy { .. }), "{busy}");
    assert!(
        busy.to_string()
            .contains("leased to host-a/1 (run run-a of drill leased"),
        "{busy}"
    );
    a.renew().await.expect("the holder renews");
    // A renewal still in flight when the run ended: Route 53 holds a newer value of ours than the
    // one `a` remembers. Release still finds and deletes it.
    let key = place.key(&place.lease_name());
    let held = r53.get_record(&key).await.unwrap().unwrap();
    let newer = RecordSet::simple(
        &place.lease_name(),
        "TXT",
        60,
        &[&held.values[0].replace(
            &format!("expires={}", a.holder().expires.format("%Y")),
            "expires=2099",
        )],
    );
    r53.change_records(
        &place.zone_id,
        &[
            RecordChange {
                action: ChangeAction::Delete,
                record: held,
            },
            RecordChange {
                action: ChangeAction::Create,
                record: newer,
            },
        ],
        "",
    )
    .await
    .unwrap();
    a.release().await.expect("the holder releases");
    assert_eq!(
        r53.get_record(&place.key(&place.lease_name()))
            .await
            .unwrap(),
        None
    );

    // A holder that died leaves a stale lease; two hosts race to take it over; one wins.
    r53.change_records(
        &place.zone_id,
        &[RecordChange {
            action: ChangeAction::Create,
            record: stale_lease(&place, "dead-host/9"),
        }],
        "",
    )
    .await
    .unwrap();
    let (b, c) = tokio::join!(
        Lease::acquire(
            r53.clone(),
            clock.clone(),
            place.clone(),
            "host-b/2",
            "run-b",
            "leased"
        ),
        Lease::acquire(
            r53.clone(),
            clock.clone(),
            place.clone(),
            "host-c/3",
            "run-c",
            "leased"
        ),
    );
    let (winner, loser) = match (b, c) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        (b, c) => panic!("exactly one should win: {b:?} / {c:?}"),
    };
    assert!(
        loser.to_string().contains(&winner.holder().owner),
        "the loser names the winner: {loser}"
    );
    // Someone deletes the winner's record: its next renewal finds it lost.
    let current = r53
        .get_record(&place.key(&place.lease_name()))
        .await
        .unwrap()
        .unwrap();
    r53.change_records(
        &place.zone_id,
        &[RecordChange {
            action: ChangeAction::Delete,
            record: current,
        }],
        "",
    )
    .await
    .unwrap();
    let lost = winner.renew().await.unwrap_err();
    assert!(matches!(lost, LeaseError::Lost { .. }), "{lost}");
}

/// Two hosts whose clocks differ by more than the takeover margin could each judge the other's
/// live lease stale; each host holds its own clock to Route 53's instead.
#[tokio::test]
async fn a_host_whose_clock_is_off_gives_the_lease_back() {
    let place = Place {
        zone_id: "Z1".to_string(),
        zone_name: "example.com.".to_string(),
        global_cluster: "g".to_string(),
    };
    let key = place.key(&place.lease_name());
    // Route 53's clock ahead of this host's, and what the lease makes of it.
    for (route53_ahead, expected) in [(95, Some(-95)), (-95, Some(95)), (20, None)] {
        let mut memory = MemoryCloud::new();
        memory.route53_clock_ahead = TimeDelta::seconds(route53_ahead);
        memory.add_zone("Z1", "example.com");
        let route53 = memory.cloud().route53;
        let taken = Lease::acquire(
            route53.clone(),
            Clock::real(),
            place.clone(),
            "host-a/1",
            "run-1",
            "d",
        )
        .await;
        match (taken, expected) {
            (Ok(lease), None) => lease.release().await.unwrap(),
            (Err(e @ LeaseError::ClockOffset { offset, .. }), Some(expected)) => {
                // Whole seconds, give or take the one the call itself took.
                assert!((offset - expected).abs() <= 1, "{offset} for {expected}");
                let text = e.to_string();
                let side = if expected > 0 { "ahead of" } else { "behind" };
                assert!(
                    text.contains(&format!("{side} Route 53's"))
                        && text.contains("within 30s of AWS time"),
                    "{text}"
                );
            }
            (other, expected) => panic!("{expected:?}: {:?}", other.map(|l| l.holder())),
        }
        // Given back either way: nothing of the lease is left in the zone.
        assert_eq!(route53.get_record(&key).await.unwrap(), None);
    }

    // A lease that looks stale on a wrong clock may be live: one taken over is put back as it was.
    let mut memory = MemoryCloud::new();
    memory.route53_clock_ahead = TimeDelta::seconds(-95);
    memory.add_zone("Z1", "example.com");
    let route53 = memory.cloud().route53;
    let theirs = stale_lease(&place, "host-z/9");
    let create = RecordChange {
        action: ChangeAction::Create,
        record: theirs.clone(),
    };
    route53
        .change_records("Z1", &[create], "a lease of another host")
        .await
        .unwrap();
    let taken = Lease::acquire(
        route53.clone(),
        Clock::real(),
        place.clone(),
        "host-a/1",
        "run-2",
        "d",
    )
    .await;
    assert!(
        matches!(taken, Err(LeaseError::ClockOffset { offset, .. }) if (94..=96).contains(&offset)),
        "{:?}",
        taken.map(|l| l.holder())
    );
    assert_eq!(route53.get_record(&key).await.unwrap(), Some(theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_run_is_refused_while_another_holds_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "held.toml",
        &drill_text("held", "0 10 * * TUE#1", "", ""),
    );
    let drill = spec::load(&file).unwrap();
    let (world, cloud) = lab_cloud(&drill).await;
    let place = Place::of(cloud.route53.as_ref(), &drill).await.unwrap();
    let until = (Utc::now() + TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    cloud
        .route53
        .change_records(
            &place.zone_id,
            &[RecordChange {
                action: ChangeAction::Create,
                record: RecordSet::simple(
                    &place.lease_name(),
                    "TXT",
                    60,
                    &[&format!(
                        "\"drill-lease v=1 owner=ops-2/4242 run=r9 drill=held expires={until}\""
                    )],
                ),
            }],
            "",
        )
        .await
        .unwrap();
    let before = world.snapshot();
    let state = dir.path().join("state");
    let endpoint = world.aws_endpoint();
    let ran = tokio::task::spawn_blocking(move || {
        Drill::new()
            .state_dir(&state)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
            .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()])
            .run()
    })
    .await
    .unwrap();
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("global cluster held-global is leased to ops-2/4242 (run r9 of drill held"),
        "{}",
        ran.stderr
    );
    assert_eq!(world.snapshot(), before, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn recover_takes_over_the_killed_runs_lease_but_not_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "killed.toml",
        &drill_text("killed", "0 10 * * TUE#1", "", ""),
    );
    let drill = spec::load(&file).unwrap();
    let (world, cloud) = lab_cloud(&drill).await;
    let before = world.snapshot();
    let place = Place::of(cloud.route53.as_ref(), &drill).await.unwrap();
    let lease_key = place.key(&place.lease_name());
    let state = dir.path().join("state");
    let endpoint = world.aws_endpoint();
    let against = move || {
        Drill::new()
            .state_dir(&state)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
    };
    // The run lowers the TTLs, then waits out the old 300 s TTL on the real clock: kill it there.
    let mut child = against()
        .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journals = dir.path().join("state").join("journal");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&journals)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|text| text.matches("\"type\":\"done\"").count() == 2)
    {
        assert!(Instant::now() < deadline, "the run never lowered the TTLs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = cloud
        .route53
        .get_record(&lease_key)
        .await
        .unwrap()
        .expect("the killed run left its lease");
    let swap = |from: RecordSet, to: RecordSet| {
        let cloud = cloud.clone();
        let zone = place.zone_id.clone();
        async move {
            let batch = [
                RecordChange {
                    action: ChangeAction::Delete,
                    record: from,
                },
                RecordChange {
                    action: ChangeAction::Create,
                    record: to,
                },
            ];
            cloud
                .route53
                .change_records(&zone, &batch, "")
                .await
                .unwrap();
        }
    };

    // Another run holds the lease (say it took over): recover refuses and changes nothing.
    let until = (Utc::now() + TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    let other = RecordSet::simple(
        &place.lease_name(),
        "TXT",
        60,
        &[&format!(
            "\"drill-lease v=1 owner=ops-2/4242 run=r9 drill=killed expires={until}\""
        )],
    );
    swap(killed.clone(), other.clone()).await;
    let left = world.snapshot();
    assert_ne!(left, before, "the killed run left the TTLs lowered");
    let recover = against();
    let ran = tokio::task::spawn_blocking(move || recover.args(["recover", "--latest"]).run())
        .await
        .unwrap();
    assert_eq!(ran.code, 3, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("leased to ops-2/4242 (run r9 of drill killed"),
        "{}",
        ran.stderr
    );
    assert_eq!(world.snapshot(), left, "a refused recover changed nothing");

    // The killed run's own lease, still unexpired, is taken over at once, then released.
    swap(other, killed).await;
    let recover = against();
    let ran = tokio::task::spawn_blocking(move || recover.args(["recover", "--latest"]).run())
        .await
        .unwrap();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("recovered"), "{}", ran.stdout);
    assert!(
        cloud
            .route53
            .get_record(&lease_key)
            .await
            .unwrap()
            .is_none(),
        "recover released the lease"
    );
    assert_eq!(world.snapshot(), before, "the world is as it began");
}

/// How many ChangeResourceRecordSets calls the lab has seen.
fn record_changes(world: &lab::Lab) -> usize {
    serde_json::to_value(world.ground_truth()).unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"]["operation"] == "ChangeResourceRecordSets")
        .count()
}

fn lease_record(place: &Place, owner: &str, run: &str, drill: &str) -> RecordSet {
    let until = (Utc::now() + TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    RecordSet::simple(
        &place.lease_name(),
        "TXT",
        60,
        &[&format!(
            "\"drill-lease v=1 owner={owner} run={run} drill={drill} expires={until}\""
        )],
    )
}

async fn create(cloud: &Cloud, zone: &str, record: RecordSet) {
    cloud
        .route53
        .change_records(
            zone,
            &[RecordChange {
                action: ChangeAction::Create,
                record,
            }],
            "",
        )
        .await
        .unwrap();
}

/// A journal as a run killed right after taking its lease leaves it: a header naming the lease,
/// no mutation.
fn killed_after_the_lease(state: &Path, drill: &spec::Drill, place: &Place, endpoint: &str) {
    use failover_drill::engine::journal::{
        Connection, FORMAT_VERSION, Header, Journal, LeaseRecord,
    };
    Journal::create(
        state,
        Header {
            format_version: FORMAT_VERSION,
            run_id: "r7".into(),
            drill_name: drill.name.clone(),
            drill_file: drill.path.clone(),
            drill_sha256: drill.sha256.clone(),
            global_cluster: drill.database.global_cluster.clone(),
            started_at: Utc::now(),
            tool_version: "test".into(),
            connection: Connection {
                profile: None,
                endpoint_url: Some(endpoint.to_string()),
                lab: false,
                lab_endpoint: None,
                regions: vec!["us-east-1".into(), "us-west-2".into()],
            },
            lease_zone: None,
            lease: Some(LeaseRecord {
                zone_id: place.zone_id.clone(),
                zone_name: place.zone_name.clone(),
                record: place.lease_name(),
                owner: "ops-1/77".into(),
                run_id: "r7".into(),
                private_lab: false,
            }),
            mode: Some("switchover".into()),
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_holder_died_on_this_host_names_drill_recover() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "dead.toml",
        &drill_text("dead", "0 10 * * TUE#1", "", ""),
    );
    let drill = spec::load(&file).unwrap();
    let (world, cloud) = lab_cloud(&drill).await;
    let place = Place::of(cloud.route53.as_ref(), &drill).await.unwrap();
    let state = dir.path().join("state");
    killed_after_the_lease(&state, &drill, &place, &world.aws_endpoint());
    create(
        &cloud,
        &place.zone_id,
        lease_record(&place, "ops-1/77", "r7", "dead"),
    )
    .await;
    let writes = record_changes(&world);
    let endpoint = world.aws_endpoint();
    let ran = tokio::task::spawn_blocking(move || {
        Drill::new()
            .state_dir(&state)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
            .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()])
            .run()
    })
    .await
    .unwrap();
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("Run `drill recover r7`"),
        "{}",
        ran.stderr
    );
    // The lease was read, not written: the refused run sent no change at all.
    assert_eq!(record_changes(&world), writes);
    let journals: Vec<_> = std::fs::read_dir(dir.path().join("state").join("journal"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(journals, ["r7.jsonl"], "the refused run left no journal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_releases_the_lease_of_a_run_killed_before_any_change_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "early.toml",
        &drill_text("early", "0 10 * * TUE#1", "", ""),
    );
    let drill = spec::load(&file).unwrap();
    let (world, cloud) = lab_cloud(&drill).await;
    let before = world.snapshot();
    let place = Place::of(cloud.route53.as_ref(), &drill).await.unwrap();
    let key = place.key(&place.lease_name());
    let state = dir.path().join("state");
    killed_after_the_lease(&state, &drill, &place, &world.aws_endpoint());
    let against = {
        let state = state.clone();
        move |args: &'static [&'static str]| {
            let state = state.clone();
            tokio::task::spawn_blocking(move || {
                Drill::new()
                    .state_dir(&state)
                    .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
                    .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
                    .args(args)
                    .run()
            })
        }
    };

    // Another run's lease is not the dead run's: left alone, nothing written.
    let other = lease_record(&place, "ops-2/4242", "r9", "early");
    create(&cloud, &place.zone_id, other.clone()).await;
    let writes = record_changes(&world);
    let ran = against(&["recover", "--latest"]).await.unwrap();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("nothing to recover"), "{}", ran.stdout);
    assert_eq!(record_changes(&world), writes, "a read-only answer");
    assert_eq!(
        cloud.route53.get_record(&key).await.unwrap(),
        Some(other.clone())
    );

    // The dead run's own lease is released, and the run gets a report.
    let dead = lease_record(&place, "ops-1/77", "r7", "early");
    let swap = [
        RecordChange {
            action: ChangeAction::Delete,
            record: other,
        },
        RecordChange {
            action: ChangeAction::Create,
            record: dead,
        },
    ];
    cloud
        .route53
        .change_records(&place.zone_id, &swap, "")
        .await
        .unwrap();
    let ran = against(&["recover", "--latest"]).await.unwrap();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("released the lease"), "{}", ran.stdout);
    assert_eq!(cloud.route53.get_record(&key).await.unwrap(), None);
    assert_eq!(world.snapshot(), before, "the world is as it began");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("reports").join("r7.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["outcome"], "recovered");
    assert_eq!(report["exit_code"], 0);
    // The recovery's report says who recovered, from where, against what the journal names.
    assert_eq!(report["context"]["started_by"], "drill recover", "{report}");
    assert!(
        report["context"]["operator"]
            .as_str()
            .unwrap()
            .contains('@'),
        "{report}"
    );
    assert_ne!(report["context"]["target"]["kind"], "lab", "{report}");
    let listed = against(&["report", "--list"]).await.unwrap();
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("r7 ") && l.contains("recovered")),
        "{}",
        listed.stdout
    );

    // Recovering again finds nothing and writes nothing.
    let writes = record_changes(&world);
    let ran = against(&["recover", "--latest"]).await.unwrap();
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("nothing to recover"), "{}", ran.stdout);
    assert_eq!(record_changes(&world), writes);
}

#[test]
fn two_drill_files_sharing_a_cluster_from_different_zones_take_one_lease() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    // Both drive global cluster shared-global; one keeps its records in example.com, the other
    // in example.org. Short waits on the real clock, as in the two-schedulers test.
    let text = |name: &str, group: &str| {
        format!(
            r#"name = "{name}"
ttl = 60
soak = "1s"

[lab]
original_ttl = 60

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "shared-global"
secondary_cluster = "shared-usw2"
mode = "switchover"

{group}"#
        )
    };
    let org_group = crate::support::API_GROUP.replace("example.com", "example.org");
    let a = write(&drills, "a.toml", &text("a", crate::support::API_GROUP));
    let b = write(&drills, "b.toml", &text("b", &org_group));
    let mut world = Proc::spawn(
        Drill::new()
            .args(["lab".as_ref(), "--world".as_ref(), drills.as_os_str()])
            .args(["--time-scale", "600"]),
    );
    let first = world.wait_for("aws_endpoint", Duration::from_secs(30));
    let endpoint = serde_json::from_str::<serde_json::Value>(&first).unwrap()["aws_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let run = |n: u32, file: &Path| {
        Proc::spawn(
            Drill::new()
                .state_dir(&dir.path().join(format!("state-{n}")))
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
                .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()]),
        )
    };
    let (one, two) = (run(1, &a), run(2, &b));
    let (c1, out1) = one.finish(Duration::from_secs(240));
    let (c2, out2) = two.finish(Duration::from_secs(240));
    world.signal("TERM");
    let _ = world.finish(Duration::from_secs(30));
    let mut codes = [c1, c2];
    codes.sort();
    assert_eq!(codes, [0, 3], "{out1}\n----\n{out2}");
    let refused = if c1 == 3 { &out1 } else { &out2 };
    assert!(
        refused.contains("global cluster shared-global is leased to ")
            && refused.contains(" (run "),
        "{refused}"
    );
}

// ---------------------------------------------------------------------------------------------
// The daemon end to end

/// Writes the drill scheduled `lead` from now and has every scheduler reload it (SIGHUP), until
/// each one reports that exact next run (a slow machine may pass the moment first: then again,
/// later). Returns the fire time.
fn arm(
    procs: &mut [&mut Proc],
    file: &Path,
    text: impl Fn(&str) -> String,
    lead: i64,
) -> DateTime<Utc> {
    for attempt in 1..=4 {
        let fire = (Utc::now() + TimeDelta::seconds(lead * attempt))
            .with_nanosecond(0)
            .unwrap();
        std::fs::write(file, text(&daily_at(fire))).unwrap();
        let expected = format!("next run {}", daemon::show(fire));
        let mut all = true;
        for p in procs.iter_mut() {
            p.signal("HUP");
            let line = p.wait_for("next run", Duration::from_secs(20));
            all &= line.contains(&expected);
        }
        if all && Utc::now() < fire - TimeDelta::seconds(1) {
            return fire;
        }
    }
    panic!("could not schedule ahead of the clock");
}

#[derive(Deserialize)]
struct Report {
    outcome: String,
    exit_code: i32,
    lab: Option<ReportLab>,
}

#[derive(Deserialize)]
struct ReportLab {
    world_restored: bool,
}

fn reports(dir: &Path) -> Vec<Report> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        // A lab run's sidecar (`<run>.lab.json`) sits beside its report.
        .filter(|path| !failover_drill::report::is_sidecar(path))
        .map(|path| {
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

#[test]
fn the_daemon_runs_a_lab_drill_at_a_seconds_granularity_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    let reports_dir = dir.path().join("reports");
    let mut d = Proc::spawn(
        Drill::new()
            .state_dir(&dir.path().join("state"))
            .args(["schedule".as_ref(), drills.as_os_str(), "--lab".as_ref()])
            .args(["--time-scale", "200", "--reports"])
            .arg(&reports_dir),
    );
    d.wait_for("0 scheduled drill(s)", Duration::from_secs(30));
    let file = drills.join("quick.toml");
    let text = |schedule: &str| drill_text("quick", schedule, "soak = \"1s\"", "");
    arm(&mut [&mut d], &file, text, 4);
    let done = d.wait_for("; report ", Duration::from_secs(120));
    assert!(
        done.contains("drill quick run ") && done.contains(": passed; report "),
        "{done}"
    );
    d.signal("TERM");
    let (code, output) = d.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{output}");
    let written = reports(&reports_dir);
    assert_eq!(written.len(), 1, "{output}");
    assert_eq!(written[0].outcome, "passed");
    assert!(written[0].lab.as_ref().unwrap().world_restored);
    let state = StateDir::new(&dir.path().join("state")).load().unwrap();
    assert_eq!(
        state.drills["quick"].last_run.as_ref().unwrap().result,
        "passed"
    );
}

#[test]
fn the_daemon_warns_at_load_when_a_drills_notify_program_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let text = drill_text(
        "paged",
        "0 10 * * TUE#1",
        "",
        "[notify]\ncommand = [\"./page.sh\"]\n",
    );
    write(dir.path(), "paged.toml", &text);
    let mut d = Proc::spawn(Drill::new().state_dir(&dir.path().join("state")).args([
        "schedule".as_ref(),
        dir.path().as_os_str(),
        "--lab".as_ref(),
    ]));
    let line = d.wait_for("notify.command", Duration::from_secs(30));
    assert!(
        line.contains(&format!(
            "drill paged: notify.command program {} does not exist; its runs will be refused until the program is there",
            dir.path().join("./page.sh").display()
        )),
        "{line}"
    );
    // Still scheduled: the program may arrive before the fire.
    d.wait_for("1 scheduled drill(s), 0 rejected", Duration::from_secs(30));
}

#[test]
fn sigterm_mid_drill_rolls_it_back_and_leaves_the_world_as_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    let reports_dir = dir.path().join("reports");
    let mut d = Proc::spawn(
        Drill::new()
            .state_dir(&dir.path().join("state"))
            .args(["schedule".as_ref(), drills.as_os_str(), "--lab".as_ref()])
            .args(["--time-scale", "200", "--reports"])
            .arg(&reports_dir),
    );
    d.wait_for("0 scheduled drill(s)", Duration::from_secs(30));
    // An hour's soak (18 s at 200x) is where the signal lands.
    let text = |schedule: &str| drill_text("soaker", schedule, "soak = \"1h\"", "");
    arm(&mut [&mut d], &drills.join("soaker.toml"), text, 4);
    d.wait_for("step started step=\"soak\"", Duration::from_secs(120));
    d.signal("TERM");
    let (code, output) = d.finish(Duration::from_secs(120));
    assert_eq!(code, 0, "a complete rollback is a clean stop:\n{output}");
    assert!(output.contains("rolling back drill soaker"), "{output}");
    let written = reports(&reports_dir);
    assert_eq!(written.len(), 1, "{output}");
    assert_eq!(written[0].outcome, "rolled_back");
    assert_eq!(written[0].exit_code, 4);
    assert!(
        written[0].lab.as_ref().unwrap().world_restored,
        "the lab world ends as it began"
    );
}

#[test]
fn two_schedulers_sharing_one_world_run_the_drill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    // The engine runs on the real clock against a served lab, so the drill keeps its waits short:
    // the records already carry the drill TTL (no TTL wait); at 600x the lab's promotions take
    // a fraction of a second; the engine's 5 s polls dominate.
    let text = |schedule: &str| {
        drill_text(
            "shared",
            schedule,
            "ttl = 60\nsoak = \"1s\"",
            "[scheduling]\ngrace = \"3m\"\n\n[lab]\noriginal_ttl = 60",
        )
    };
    let file = drills.join("shared.toml");
    std::fs::write(&file, text("0 0 3 * * *")).unwrap();
    let mut world = Proc::spawn(
        Drill::new()
            .args(["lab".as_ref(), "--world".as_ref(), file.as_os_str()])
            .args(["--time-scale", "600"]),
    );
    let first = world.wait_for("aws_endpoint", Duration::from_secs(30));
    let endpoint = serde_json::from_str::<serde_json::Value>(&first).unwrap()["aws_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let scheduler = |n: u32| {
        Proc::spawn(
            Drill::new()
                .state_dir(&dir.path().join(format!("state-{n}")))
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY)
                .args([
                    "schedule".as_ref(),
                    drills.as_os_str(),
                    "--reports".as_ref(),
                ])
                .arg(dir.path().join(format!("reports-{n}"))),
        )
    };
    let (mut one, mut two) = (scheduler(1), scheduler(2));
    one.wait_for("1 scheduled drill(s)", Duration::from_secs(30));
    two.wait_for("1 scheduled drill(s)", Duration::from_secs(30));
    arm(&mut [&mut one, &mut two], &file, text, 6);
    // Each ends its part of the fire one way: one runs the drill; the other, after waiting for
    // the lease, finds the fire claimed. Either may be which.
    let (mut ran, mut claimed) = (0, 0);
    for p in [&mut one, &mut two] {
        let line = p.wait_for_any(
            &["; report ", "was already started ("],
            Duration::from_secs(240),
        );
        if line.contains("was already started") {
            claimed += 1;
        } else {
            assert!(line.contains(": passed; report "), "{line}");
            ran += 1;
        }
    }
    assert_eq!((ran, claimed), (1, 1));
    one.signal("TERM");
    two.signal("TERM");
    let (c1, out1) = one.finish(Duration::from_secs(60));
    let (c2, out2) = two.finish(Duration::from_secs(60));
    world.signal("TERM");
    let _ = world.finish(Duration::from_secs(30));
    assert_eq!((c1, c2), (0, 0), "{out1}\n----\n{out2}");
    let all: Vec<Report> = (1..=2)
        .flat_map(|n| reports(&dir.path().join(format!("reports-{n}"))))
        .collect();
    assert_eq!(all.len(), 1, "exactly one run:\n{out1}\n----\n{out2}");
    assert_eq!(all[0].outcome, "passed", "{out1}\n----\n{out2}");
}

#[test]
fn sighup_and_edited_files_reload_without_dropping_valid_drills() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    write(
        &drills,
        "keep.toml",
        &drill_text("keep", "0 10 * * TUE#1", "", ""),
    );
    let mut d = Proc::spawn(Drill::new().state_dir(&dir.path().join("state")).args([
        "schedule".as_ref(),
        drills.as_os_str(),
        "--lab".as_ref(),
    ]));
    d.wait_for("1 scheduled drill(s), 0 rejected", Duration::from_secs(30));
    // An edit (noticed by the watcher, no signal) that breaks a second file.
    let bad = write(
        &drills,
        "typo.toml",
        &drill_text("typo", "0 10 * * TUE#1", "ttl = \"60\"", ""),
    );
    d.wait_for(
        &format!("{}:3:7: ttl: expected", bad.display()),
        Duration::from_secs(30),
    );
    d.wait_for("1 scheduled drill(s), 1 rejected", Duration::from_secs(30));
    // Fixed, and reloaded by SIGHUP.
    write(
        &drills,
        "typo.toml",
        &drill_text("typo", "0 11 * * TUE#1", "", ""),
    );
    d.signal("HUP");
    d.wait_for("2 scheduled drill(s), 0 rejected", Duration::from_secs(30));
    d.signal("TERM");
    let (code, output) = d.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("drill keep ("), "{output}");
}
