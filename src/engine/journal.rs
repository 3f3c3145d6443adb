//! The journal: a JSON Lines file per run in `<state-dir>/journal/<run-id>.jsonl`. Before every
//! mutation the engine appends an intent (the resource, its value before, its value after) and
//! fsyncs; after the call it appends `done`. Fail-back, rollback and `drill recover` all read the
//! same lines and undo the same way (see `undo`), so a run killed at any point can be finished.
//!
//! The first line is a header carrying `format_version`; readers refuse a newer version instead of
//! guessing what it means.
//!
//! Test hook: with `DRILL_TEST_PAUSE_AFTER_JOURNAL_LINE=N[:MS]` in the environment, the process
//! that writes the N-th line of a journal file (the header is line 1) prints
//! `drill: test pause after journal line N` to stderr right after that line is fsynced, and blocks
//! the writing thread for MS milliseconds (default 5000) before going on. Tests use it to kill or
//! signal a run at an exact journal boundary (`tests/crash.rs`). It is not for production use.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloud::{HealthCheckSettings, RecordKey, RecordSet};

/// 2 added the `held` line (a mutation kept where it serves, still outstanding): a reader of
/// version 1 would not know it, so it must refuse the journal as too new rather than misread it.
/// Version 1 journals read as before.
pub const FORMAT_VERSION: u32 = 2;

/// One mutation of one cloud resource, with the value it replaces.
// Journal lines are built a few at a time and written at once; their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mutation {
    /// An UPSERT of a whole record set (TTL lowered, or weights shifted).
    RecordSet {
        key: RecordKey,
        before: RecordSet,
        after: RecordSet,
    },
    /// UpdateHealthCheck of Inverted/Disabled.
    HealthCheck {
        id: String,
        before: HealthCheckSettings,
        after: HealthCheckSettings,
    },
    /// A switchover or failover of the global cluster's writer.
    Writer {
        global_cluster: String,
        /// The region whose RDS endpoint the promotion is called on.
        region: String,
        before: String,
        after: String,
        /// `switchover` or `failover`.
        mode: String,
    },
}

impl Mutation {
    /// A stable name for the resource, for messages and the report.
    pub fn resource(&self) -> String {
        match self {
            Mutation::RecordSet { key, .. } => key.to_string(),
            Mutation::HealthCheck { id, .. } => format!("health check {id}"),
            Mutation::Writer { global_cluster, .. } => {
                format!("writer of global cluster {global_cluster}")
            }
        }
    }

    pub fn before_json(&self) -> serde_json::Value {
        match self {
            Mutation::RecordSet { before, .. } => serde_json::to_value(before),
            Mutation::HealthCheck { before, .. } => serde_json::to_value(before),
            Mutation::Writer { before, .. } => serde_json::to_value(before),
        }
        .unwrap_or_default()
    }

    pub fn after_json(&self) -> serde_json::Value {
        match self {
            Mutation::RecordSet { after, .. } => serde_json::to_value(after),
            Mutation::HealthCheck { after, .. } => serde_json::to_value(after),
            Mutation::Writer { after, .. } => serde_json::to_value(after),
        }
        .unwrap_or_default()
    }

    /// What the mutation changed, field by field, as people read it: `weight 100 → 0`.
    pub fn summary(&self) -> String {
        let (before, after) = (self.before_json(), self.after_json());
        let (serde_json::Value::Object(b), serde_json::Value::Object(a)) = (&before, &after) else {
            return format!("{before} → {after}");
        };
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort();
        keys.dedup();
        let none = serde_json::Value::Null;
        keys.into_iter()
            .filter(|k| b.get(*k) != a.get(*k))
            .map(|k| {
                format!(
                    "{k} {} → {}",
                    b.get(k).unwrap_or(&none),
                    a.get(k).unwrap_or(&none)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How to reach the cloud again for `drill recover`: never credentials, only where and as whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// True when the run went against the embedded lab, which does not outlive the process.
    #[serde(default)]
    pub lab: bool,
    /// The control endpoint of a served lab (`drill lab`) the run went against (`--lab-endpoint`):
    /// `drill recover` reaches the same lab through it and follows its clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_endpoint: Option<String>,
    pub regions: Vec<String>,
}

impl Connection {
    /// An embedded lab this process started, at its AWS endpoint.
    pub fn embedded_lab(endpoint_url: String, regions: Vec<String>) -> Self {
        Connection {
            profile: None,
            endpoint_url: Some(endpoint_url),
            lab: true,
            lab_endpoint: None,
            regions,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    pub run_id: String,
    pub drill_name: String,
    pub drill_file: PathBuf,
    pub drill_sha256: String,
    pub global_cluster: String,
    pub started_at: DateTime<Utc>,
    pub tool_version: String,
    pub connection: Connection,
    /// Where the run's lease record lives. Written for older drills to read; this one reads
    /// [`Header::lease`] first. Absent in lab runs and older journals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_zone: Option<LeaseZone>,
    /// The lease the run was about to take when this header was written (before the lease, the
    /// run's first write), so `drill recover` can release it by the run's own identity even when
    /// the run died before any change. Absent in older journals and in runs without a lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseRecord>,
    /// `switchover` or `failover`, for the report `drill recover` writes. Absent in older journals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// The lease a run takes, as its journal header records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub zone_id: String,
    /// Fully qualified, with the trailing dot.
    pub zone_name: String,
    /// The lease record's name.
    pub record: String,
    /// Who the lease names: `host/pid`.
    pub owner: String,
    pub run_id: String,
    /// True when the lease lives in the run's private embedded lab, which ended with the run's
    /// process: there is nothing left to release.
    #[serde(default)]
    pub private_lab: bool,
}

/// The hosted zone that holds a run's lease record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseZone {
    pub zone_id: String,
    /// Fully qualified, with the trailing dot.
    pub zone_name: String,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    /// About to make this mutation.
    Intent {
        seq: u64,
        step: String,
        at: DateTime<Utc>,
        mutation: Mutation,
    },
    /// The mutation's call succeeded.
    Done {
        seq: u64,
        at: DateTime<Utc>,
    },
    /// The mutation's call failed, or the operation it started (a promotion) ended without
    /// making the change; the resource may or may not have changed.
    Failed {
        seq: u64,
        at: DateTime<Utc>,
        error: String,
    },
    /// The resource is back at its `before` value (restored now, or found already restored).
    Undone {
        seq: u64,
        at: DateTime<Utc>,
        how: String,
    },
    /// Deliberately left at `after` (a drill run with `--no-failback`); `drill recover` skips it.
    Kept {
        seq: u64,
        at: DateTime<Utc>,
        reason: String,
    },
    /// Deliberately not moved back yet: the place it would move traffic or the writer to cannot
    /// serve (or the drill says `on_failure = "stay"`). Still outstanding: `drill recover` moves it
    /// once that place can serve.
    Held {
        seq: u64,
        at: DateTime<Utc>,
        reason: String,
    },
    /// Restoring failed; `drill recover` will try again.
    UndoFailed {
        seq: u64,
        at: DateTime<Utc>,
        error: String,
    },
    /// The run ended; nothing is left to recover if every intent is undone.
    Finished {
        at: DateTime<Utc>,
        outcome: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {path}:{line}: not a journal line: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "journal {path} has format version {found}, newer than this drill understands ({FORMAT_VERSION}); use a newer drill to recover it"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("journal {path} has no header line")]
    NoHeader { path: PathBuf },
    #[error("no journal for run {run_id} in {dir}")]
    NoSuchRun { run_id: String, dir: PathBuf },
    #[error("no journals in {dir}")]
    Empty { dir: PathBuf },
}

pub fn journal_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("journal")
}

/// An open journal being appended to.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    /// Lines in the file so far (for the test pause hook).
    lines: u64,
}

/// The environment variable of the test pause hook (see the module documentation).
pub const TEST_PAUSE_ENV: &str = "DRILL_TEST_PAUSE_AFTER_JOURNAL_LINE";

/// The test pause hook's setting, read once: (line, pause).
fn test_pause() -> Option<(u64, Duration)> {
    static PAUSE: OnceLock<Option<(u64, Duration)>> = OnceLock::new();
    *PAUSE.get_or_init(|| parse_test_pause(&std::env::var(TEST_PAUSE_ENV).ok()?))
}

/// `N` or `N:MS`.
fn parse_test_pause(text: &str) -> Option<(u64, Duration)> {
    let (line, ms) = match text.trim().split_once(':') {
        Some((line, ms)) => (line, ms.trim().parse().ok()?),
        None => (text.trim(), 5000),
    };
    Some((line.trim().parse().ok()?, Duration::from_millis(ms)))
}

impl Journal {
    /// Creates the journal for a new run and writes its header.
    pub fn create(state_dir: &Path, header: Header) -> Result<Self, JournalError> {
        let dir = journal_dir(state_dir);
        let path = dir.join(format!("{}.jsonl", header.run_id));
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(io)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut journal = Journal {
            path,
            file,
            next_seq: 1,
            lines: 0,
        };
        journal.append(&Line::Header(header))?;
        // Make the new directory entry itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(journal)
    }

    /// Re-opens an existing journal to append undo lines (used by `drill recover`).
    pub fn reopen(path: &Path, next_seq: u64) -> Result<Self, JournalError> {
        let lines = fs::read_to_string(path)
            .map(|t| t.lines().count() as u64)
            .unwrap_or(0);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next_seq,
            lines,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it before returning.
    pub fn append(&mut self, line: &Line) -> Result<(), JournalError> {
        self.append_all(std::slice::from_ref(line))
    }

    /// Appends lines with one write and one fsync: a batch's intents are all durable before its
    /// call, at the cost of one disk flush rather than one per record.
    pub fn append_all(&mut self, lines: &[Line]) -> Result<(), JournalError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for line in lines {
            text.push_str(
                &serde_json::to_string(line).map_err(|e| JournalError::Corrupt {
                    path: self.path.clone(),
                    line: 0,
                    message: e.to_string(),
                })?,
            );
            text.push('\n');
        }
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(text.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        let first = self.lines + 1;
        self.lines += lines.len() as u64;
        if let Some((line, pause)) = test_pause()
            && (first..=self.lines).contains(&line)
        {
            eprintln!("drill: test pause after journal line {line}");
            std::thread::sleep(pause);
        }
        Ok(())
    }

    /// Records the intent to make `mutation` and returns its sequence number.
    pub fn intent(
        &mut self,
        step: &str,
        at: DateTime<Utc>,
        mutation: Mutation,
    ) -> Result<u64, JournalError> {
        Ok(self.intents(step, at, vec![mutation])?[0])
    }

    /// Records the intent to make each mutation, in one write, and returns their sequence
    /// numbers in order.
    pub fn intents(
        &mut self,
        step: &str,
        at: DateTime<Utc>,
        mutations: Vec<Mutation>,
    ) -> Result<Vec<u64>, JournalError> {
        let first = self.next_seq;
        let lines: Vec<Line> = mutations
            .into_iter()
            .enumerate()
            .map(|(i, mutation)| Line::Intent {
                seq: first + i as u64,
                step: step.to_string(),
                at,
                mutation,
            })
            .collect();
        self.append_all(&lines)?;
        self.next_seq += lines.len() as u64;
        Ok((first..self.next_seq).collect())
    }
}

/// A journal read back from disk.
#[derive(Debug, Clone)]
pub struct Replay {
    pub path: PathBuf,
    pub header: Header,
    pub entries: Vec<Entry>,
    pub finished: Option<String>,
}

/// How an undone mutation got back to its `before` value: the `how` of its `undone` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoneHow {
    /// The undo put it back.
    Restored,
    /// It was found already at `before`: the change never took effect (its call failed, or the
    /// run stopped before making it), or something had put it back already.
    Already,
}

impl UndoneHow {
    /// The journal's word for it; None for a word this build does not know.
    pub fn parse(how: &str) -> Option<Self> {
        match how {
            "restored" => Some(UndoneHow::Restored),
            "already" => Some(UndoneHow::Already),
            _ => None,
        }
    }
}

/// One mutation and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub step: String,
    pub mutation: Mutation,
    pub done: bool,
    pub failed: Option<String>,
    pub undone: bool,
    /// How it was undone (None until it is, or when the journal's word is unknown).
    pub how: Option<UndoneHow>,
    pub kept: bool,
    pub undo_failed: Option<String>,
    /// Why it is held where it is (the last `held` line), until it is undone.
    pub held: Option<String>,
}

impl Entry {
    /// Undo of this entry was tried and did not finish (failed or held).
    pub fn stuck(&self) -> bool {
        self.undo_failed.is_some() || self.held.is_some()
    }
}

impl Replay {
    pub fn read(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut header = None;
        let mut entries: Vec<Entry> = Vec::new();
        let mut finished = None;
        for (n, text) in BufReader::new(file).lines().enumerate() {
            let text = text.map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            if text.trim().is_empty() {
                continue;
            }
            // Check the version before trusting the rest of the header's shape.
            if n == 0 {
                let raw: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: 1,
                        message: e.to_string(),
                    })?;
                let found = raw["format_version"].as_u64().unwrap_or(0) as u32;
                if found > FORMAT_VERSION {
                    return Err(JournalError::TooNew {
                        path: path.to_path_buf(),
                        found,
                    });
                }
            }
            let line: Line = match serde_json::from_str(&text) {
                Ok(line) => line,
                // A kill during the very last write can leave a torn final line; an intent whose
                // line is torn was never acted on, because the call comes after the fsync.
                Err(_) if is_last_line(path, n) => break,
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: n + 1,
                        message: e.to_string(),
                    });
                }
            };
            let find = |entries: &[Entry], seq: u64| entries.iter().position(|e| e.seq == seq);
            match line {
                Line::Header(h) => header = Some(h),
                Line::Intent {
                    seq,
                    step,
                    mutation,
                    ..
                } => entries.push(Entry {
                    seq,
                    step,
                    mutation,
                    done: false,
                    failed: None,
                    undone: false,
                    how: None,
                    kept: false,
                    undo_failed: None,
                    held: None,
                }),
                Line::Done { seq, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].done = true;
                    }
                }
                Line::Failed { seq, error, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].failed = Some(error);
                    }
                }
                Line::Undone { seq, how, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].undone = true;
                        entries[i].how = UndoneHow::parse(&how);
                        entries[i].undo_failed = None;
                        entries[i].held = None;
                    }
                }
                Line::Held { seq, reason, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].held = Some(reason);
                        entries[i].undo_failed = None;
                    }
                }
                Line::Kept { seq, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].kept = true;
                    }
                }
                Line::UndoFailed { seq, error, .. } => {
                    if let Some(i) = find(&entries, seq) {
                        entries[i].undo_failed = Some(error);
                        entries[i].held = None;
                    }
                }
                Line::Finished { outcome, .. } => finished = Some(outcome),
            }
        }
        let header = header.ok_or_else(|| JournalError::NoHeader {
            path: path.to_path_buf(),
        })?;
        Ok(Replay {
            path: path.to_path_buf(),
            header,
            entries,
            finished,
        })
    }

    /// Mutations that may have changed something and are not known to be restored, newest first.
    pub fn outstanding(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .rev()
            .filter(|e| !e.undone && !e.kept)
            .collect()
    }

    pub fn next_seq(&self) -> u64 {
        self.entries.iter().map(|e| e.seq).max().unwrap_or(0) + 1
    }
}

fn is_last_line(path: &Path, index: usize) -> bool {
    fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count() == index + 1)
        .unwrap_or(false)
}

/// Finds a run's journal by id, or the most recently started one.
pub fn locate(state_dir: &Path, run_id: Option<&str>) -> Result<PathBuf, JournalError> {
    let dir = journal_dir(state_dir);
    if let Some(id) = run_id {
        let path = dir.join(format!("{id}.jsonl"));
        return if path.is_file() {
            Ok(path)
        } else {
            Err(JournalError::NoSuchRun {
                run_id: id.to_string(),
                dir,
            })
        };
    }
    let mut newest: Option<(DateTime<Utc>, PathBuf)> = None;
    let listing = fs::read_dir(&dir).map_err(|_| JournalError::Empty { dir: dir.clone() })?;
    for entry in listing.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        if let Ok(replay) = Replay::read(&path) {
            let started = replay.header.started_at;
            if newest.as_ref().is_none_or(|(t, _)| started > *t) {
                newest = Some((started, path));
            }
        }
    }
    newest.map(|(_, p)| p).ok_or(JournalError::Empty { dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(run_id: &str) -> Header {
        Header {
            format_version: FORMAT_VERSION,
            run_id: run_id.to_string(),
            drill_name: "d".to_string(),
            drill_file: PathBuf::from("d.toml"),
            drill_sha256: "00".to_string(),
            global_cluster: "g".to_string(),
            started_at: Utc::now(),
            tool_version: "0".to_string(),
            connection: Connection::default(),
            lease_zone: None,
            lease: None,
            mode: None,
        }
    }

    fn hc_mutation() -> Mutation {
        let s = |inverted| HealthCheckSettings {
            inverted,
            disabled: false,
        };
        Mutation::HealthCheck {
            id: "hc".to_string(),
            before: s(false),
            after: s(true),
        }
    }

    #[test]
    fn replay_tracks_each_mutation_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), header("r1")).unwrap();
        let a = j.intent("lower_ttls", Utc::now(), hc_mutation()).unwrap();
        j.append(&Line::Done {
            seq: a,
            at: Utc::now(),
        })
        .unwrap();
        let b = j.intent("shift", Utc::now(), hc_mutation()).unwrap();
        j.append(&Line::Undone {
            seq: a,
            at: Utc::now(),
            how: "restored".into(),
        })
        .unwrap();
        let replay = Replay::read(j.path()).unwrap();
        assert_eq!(replay.entries.len(), 2);
        assert_eq!(replay.entries[0].how, Some(UndoneHow::Restored));
        assert_eq!(replay.entries[1].how, None);
        let outstanding: Vec<u64> = replay.outstanding().iter().map(|e| e.seq).collect();
        assert_eq!(outstanding, vec![b]);
        assert_eq!(replay.next_seq(), 3);
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_a_torn_middle_line_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), header("r2")).unwrap();
        j.intent("s", Utc::now(), hc_mutation()).unwrap();
        let path = j.path().to_path_buf();
        drop(j);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"type\":\"intent\",\"seq\":2,");
        fs::write(&path, &text).unwrap();
        assert_eq!(Replay::read(&path).unwrap().entries.len(), 1);
        text.push_str("\n{\"type\":\"done\",\"seq\":1,\"at\":\"2026-01-01T00:00:00Z\"}\n");
        fs::write(&path, &text).unwrap();
        assert!(matches!(
            Replay::read(&path),
            Err(JournalError::Corrupt { line: 3, .. })
        ));
    }

    #[test]
    fn the_test_pause_setting_reads_a_line_and_an_optional_pause() {
        assert_eq!(
            parse_test_pause("3"),
            Some((3, Duration::from_millis(5000)))
        );
        assert_eq!(
            parse_test_pause("7:250"),
            Some((7, Duration::from_millis(250)))
        );
        assert_eq!(parse_test_pause("x"), None);
        assert_eq!(parse_test_pause("3:x"), None);
    }

    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = header("r3");
        h.format_version = FORMAT_VERSION + 1;
        let j = Journal::create(dir.path(), h).unwrap();
        assert!(matches!(
            Replay::read(j.path()),
            Err(JournalError::TooNew { .. })
        ));
    }

    #[test]
    fn locate_finds_the_newest_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = header("old");
        old.started_at = Utc::now() - chrono::Duration::hours(1);
        Journal::create(dir.path(), old).unwrap();
        Journal::create(dir.path(), header("new")).unwrap();
        let path = locate(dir.path(), None).unwrap();
        assert!(path.ends_with("new.jsonl"));
        assert!(locate(dir.path(), Some("missing")).is_err());
    }
}
