//! Idle cost of `drill schedule`: starts the real daemon (release build) on a drill whose next run
//! is weeks away, lets it settle, then reads `/proc/PID/status` (VmRSS, VmHWM, threads) and counts
//! context switches and scheduled time slices of every thread (`/proc/PID/task/*/status` and
//! `schedstat`) across a 10 s window. An idle daemon should sit on one timer: no wake-ups at all.
//!
//! `cargo bench --bench idle_daemon` (Linux only). Prints the figures; fails if they miss the
//! targets (≤ 20 MiB resident, no wake-ups while idle).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The drill the idle daemon waits on.
fn drill() -> String {
    format!(
        r#"name = "idle"
schedule = "0 10 * * TUE#1"
timezone = "Europe/Berlin"

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "idle-global"
secondary_cluster = "idle-usw2"
mode = "switchover"

{}"#,
        failover_drill::lab::EXAMPLE_API_GROUP
    )
}

const SETTLE: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);
const RSS_TARGET_KIB: u64 = 20 * 1024;

fn status_field(pid: u32, field: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// (context switches, time slices) summed over every thread.
fn wakeups(pid: u32) -> (u64, u64) {
    let mut switches = 0;
    let mut slices = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task")).expect("list threads") {
        let dir = task.expect("thread entry").path();
        let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                switches += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
        // schedstat: time on cpu (ns), time waiting (ns), time slices run.
        let sched = fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        slices += sched
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    (switches, slices)
}

fn main() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("idle_daemon: needs Linux /proc; skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let drills = dir.path().join("drills");
    fs::create_dir(&drills).expect("drills dir");
    fs::write(drills.join("idle.toml"), drill()).expect("drill file");
    let log = dir.path().join("daemon.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drill"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("schedule")
        .arg(&drills)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("drill schedule starts");
    let pid = child.id();

    let started = Instant::now();
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("scheduled drill(s)")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon did not start:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(SETTLE);

    let (switches_before, slices_before) = wakeups(pid);
    std::thread::sleep(WINDOW);
    let (switches_after, slices_after) = wakeups(pid);
    let rss = status_field(pid, "VmRSS:");
    let hwm = status_field(pid, "VmHWM:");
    let threads = status_field(pid, "Threads:");

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();

    let log = fs::read_to_string(&log).unwrap_or_default();
    let next = log
        .lines()
        .find(|l| l.contains("next run"))
        .unwrap_or("(no next run logged)");
    let switches = switches_after - switches_before;
    let slices = slices_after - slices_before;
    println!(
        "idle `drill schedule` (pid {pid}), one drill: {}",
        next.trim()
    );
    println!(
        "  resident memory  VmRSS {:.1} MiB (peak VmHWM {:.1} MiB), {threads} threads; target <= 20 MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "  wake-ups in {} s  {switches} context switches, {slices} time slices (all threads); target 0",
        WINDOW.as_secs()
    );
    let mut failed = false;
    if rss > RSS_TARGET_KIB {
        eprintln!("FAIL: resident memory above 20 MiB");
        failed = true;
    }
    if switches > 0 {
        eprintln!("FAIL: the idle daemon woke up");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
