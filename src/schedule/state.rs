//! What the scheduler remembers between runs of itself, in `<state-dir>/schedule/state.json`: per
//! drill, the checkpoint up to which every fire has been dealt with (run, skipped or found
//! missed), and the last run it started. A restarted scheduler compares the checkpoint with the
//! schedule to find the runs it missed while it was down.
//!
//! The file is format-versioned (a newer version is refused, not guessed at) and replaced
//! atomically, so a crash leaves the old or the new state, never half of one. The scheduler holds
//! `<state-dir>/schedule/daemon.lock` while it runs: one scheduler per state directory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::lock::{Tried, try_lock_file};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("scheduler state {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scheduler state {path} is not valid: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "scheduler state {path} has format version {found}, newer than this drill understands ({FORMAT_VERSION}); upgrade drill"
    )]
    Newer { path: PathBuf, found: u32 },
    #[error("another scheduler already uses state directory {dir} ({holder})")]
    Busy { dir: PathBuf, holder: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// By drill name.
    pub drills: BTreeMap<String, DrillState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillState {
    /// Every fire at or before this time has been dealt with.
    pub checkpoint: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    /// The scheduled time the run was for.
    pub fire: DateTime<Utc>,
    pub run_id: Option<String>,
    /// The outcome (`passed`, `rolled_back`, …), or why it did not run (`skipped: …`).
    pub result: String,
}

/// The scheduler's corner of the state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(state_dir: &Path) -> Self {
        StateDir {
            dir: state_dir.join("schedule"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Takes the one-scheduler-per-state-directory lock; the OS drops it when the process ends.
    pub fn lock(&self) -> Result<DaemonLock, StateError> {
        let path = self.dir.join("daemon.lock");
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let who = format!("drill schedule, pid {}", std::process::id());
        match try_lock_file(&path, &who).map_err(io)? {
            Tried::Held(file) => Ok(DaemonLock { _file: file }),
            Tried::Busy(holder) => Err(StateError::Busy {
                dir: self.dir.clone(),
                holder,
            }),
        }
    }

    /// The saved state; empty when there is none yet.
    pub fn load(&self) -> Result<State, StateError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    format_version: FORMAT_VERSION,
                    drills: BTreeMap::new(),
                });
            }
            Err(source) => return Err(StateError::Io { path, source }),
        };
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        };
        let version: Version = serde_json::from_str(&text).map_err(corrupt)?;
        if version.format_version > FORMAT_VERSION {
            return Err(StateError::Newer {
                path,
                found: version.format_version,
            });
        }
        serde_json::from_str(&text).map_err(corrupt)
    }

    /// Replaces the state file atomically (write, fsync, rename, fsync the folder).
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let path = self.path();
        let tmp = self.dir.join(".state.json.tmp");
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(io)?;
        let mut text = serde_json::to_string_pretty(state).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        text.push('\n');
        let mut file = File::create(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Held while the scheduler runs.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_newer_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        assert!(sd.load().unwrap().drills.is_empty());
        let mut state = sd.load().unwrap();
        state.drills.insert(
            "checkout".into(),
            DrillState {
                checkpoint: Utc::now(),
                last_run: None,
            },
        );
        sd.save(&state).unwrap();
        assert_eq!(sd.load().unwrap(), state);
        fs::write(sd.path(), r#"{"format_version": 99, "drills": {}}"#).unwrap();
        assert!(matches!(
            sd.load(),
            Err(StateError::Newer { found: 99, .. })
        ));
    }

    #[test]
    fn one_scheduler_per_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        let first = sd.lock().unwrap();
        let err = sd.lock().unwrap_err();
        assert!(err.to_string().contains("pid"), "{err}");
        drop(first);
        sd.lock().unwrap();
    }
}
