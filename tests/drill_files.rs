//! Every command that reads a drill file refuses the same things the same way: a named pipe, a
//! device, a file over the size bound. Each command runs under a timeout, so a regression that
//! blocks on a pipe or reads `/dev/zero` forever fails the test instead of hanging it. And the
//! shipped estate example — selections over 20 zones — validates and builds its 10,000-set lab.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use failover_drill::cloud::{RecordSet, ZoneRef};
use failover_drill::lab::{self, LabOptions};
use failover_drill::spec;

use crate::support::{Drill, Ran};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the command, killing it (and failing the test) if it takes longer than [`TIMEOUT`].
fn within_timeout(drill: Drill) -> Ran {
    let mut child = drill
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("drill binary runs");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drill did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `validate`, `plan --lab` and `run --lab --yes` on `file` each exit 2 naming it and `why`, and
/// no drill starts.
fn every_command_refuses(file: &Path, why: &str) {
    let state = tempfile::tempdir().unwrap();
    for args in [
        &["validate"][..],
        &["plan", "--lab"][..],
        &["run", "--lab", "--yes"][..],
    ] {
        let mut drill = Drill::new().state_dir(state.path()).arg(args[0]).arg(file);
        drill = drill.args(&args[1..]);
        let ran = within_timeout(drill);
        assert_eq!(
            ran.code, 2,
            "{args:?}\n--- stdout\n{}\n--- stderr\n{}",
            ran.stdout, ran.stderr
        );
        let named = format!("{}:1:1: <file>: {why}", file.display());
        assert!(ran.stderr.contains(&named), "{args:?}: {}", ran.stderr);
    }
    // Nothing was journaled or reported.
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);
}

#[test]
fn a_device_is_not_a_drill_file() {
    every_command_refuses(
        Path::new("/dev/zero"),
        "not a regular file (a character device)",
    );
}

#[test]
fn a_named_pipe_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("drill.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    every_command_refuses(&fifo, "not a regular file (a named pipe)");
}

#[test]
fn a_file_over_16_mib_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("drill.toml");
    let file = std::fs::File::create(&big).unwrap();
    // Sparse: the bound is checked on the size, not by reading it.
    file.set_len(failover_drill::spec::MAX_DRILL_FILE_BYTES + 1)
        .unwrap();
    every_command_refuses(
        &big,
        "the file is 16777217 bytes, more than a drill file may be",
    );
}

#[tokio::test]
async fn the_estate_example_validates_and_its_lab_holds_ten_thousand_record_sets() {
    let ran = within_timeout(Drill::new().args(["validate", "drills/estate.toml"]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("drills/estate.toml: ok"),
        "{}",
        ran.stdout
    );

    let drill = spec::load(Path::new("drills/estate.toml")).expect("valid");
    assert_eq!(drill.groups.len(), 20);
    assert!(
        drill
            .groups
            .iter()
            .all(|g| g.records.is_empty() && g.select.is_some())
    );
    let settings = drill.lab.clone().expect("[lab]");
    assert_eq!(settings.names_per_selection, Some(250));
    let opts = LabOptions {
        original_ttl: settings.original_ttl.expect("original_ttl"),
        ..LabOptions::default()
    };
    let clock = opts.clock();
    let lab = lab::start(std::slice::from_ref(&drill), opts, clock)
        .await
        .expect("lab starts");
    let snapshot = lab.snapshot();
    lab.shutdown().await;

    let weighted = |z: &failover_drill::lab::snapshot::ZoneSnapshot| -> Vec<RecordSet> {
        z.records
            .iter()
            .filter(|r| r.rtype == "A")
            .cloned()
            .collect()
    };
    assert_eq!(snapshot.zones.len(), 20);
    let total: usize = snapshot.zones.iter().map(|z| weighted(z).len()).sum();
    assert_eq!(total, 10_000);
    for z in &snapshot.zones {
        let sets = weighted(z);
        assert_eq!(sets.len(), 500, "zone {}", z.name);
        for r in &sets {
            let expected = match r.set_identifier.as_deref() {
                Some("use1") => 100,
                Some("usw2") => 0,
                other => panic!("{} has set identifier {other:?}", r.name),
            };
            assert_eq!(r.weight, Some(expected), "{}", r.name);
            assert_eq!(r.ttl, Some(300), "{}", r.name);
        }
        // What preflight will resolve for the zone's group: every set, shifted to us-west-2.
        let group = drill
            .groups
            .iter()
            .find(|g| matches!(&g.zone, ZoneRef::Name(n) if *n == z.name))
            .expect("a group per zone");
        let specs = spec::resolve(group, &drill.regions, &z.name, &z.records).expect("resolves");
        assert_eq!(specs.len(), 500, "zone {}", z.name);
        assert!(specs.iter().all(|s| s.drill_weight
            == Some(if s.region.as_deref() == Some("us-west-2") {
                100
            } else {
                0
            })));
    }
}
