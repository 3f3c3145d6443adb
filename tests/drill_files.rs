//! Every command that reads a drill file refuses the same things the same way: a named pipe, a
//! device, a file over the size bound. Each command runs under a timeout, so a regression that
//! blocks on a pipe or reads `/dev/zero` forever fails the test instead of hanging it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
