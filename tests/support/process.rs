//! A running `drill` whose output (stderr and stdout) is read line by line (colour codes removed),
//! for tests that wait for a line, then signal or kill it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Drill;

pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(drill: Drill) -> Proc {
        let mut cmd = drill.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("drill starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(strip_ansi(&line)).is_err() {
                        return;
                    }
                }
            });
        }
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The first line from now on that contains `needle`, or None (with the process's output in
    /// `seen`) if it did not come within `limit` or the process ended first.
    pub fn try_wait_for(&mut self, needle: &str, limit: Duration) -> Option<String> {
        self.try_wait_for_any(&[needle], limit)
    }

    /// Like [`Proc::try_wait_for`], for the first of several needles.
    pub fn try_wait_for_any(&mut self, needles: &[&str], limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if needles.iter().any(|n| line.contains(n)) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Like [`Proc::wait_for`], for the first of several needles.
    pub fn wait_for_any(&mut self, needles: &[&str], limit: Duration) -> String {
        match self.try_wait_for_any(needles, limit) {
            Some(line) => line,
            None => panic!(
                "no line containing any of {needles:?} within {limit:?}; output:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// Like [`Proc::try_wait_for`], but panics with everything seen.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        match self.try_wait_for(needle, limit) {
            Some(line) => line,
            None => panic!(
                "no line containing {needle:?} within {limit:?}; output:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGKILL, and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the exit (bounded); returns the exit code and all output.
    pub fn finish(mut self, limit: Duration) -> (i32, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return (status.code().unwrap_or(-1), self.seen.join("\n"));
            }
            assert!(
                Instant::now() < deadline,
                "drill did not exit; output:\n{}",
                self.seen.join("\n")
            );
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(line);
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
