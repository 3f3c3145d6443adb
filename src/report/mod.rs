//! The run report: one versioned JSON document per run, for tooling and the post-mortem.
//! The schema is documented in `docs/report.md`; `SCHEMA_VERSION` changes whenever a field changes
//! meaning or disappears (adding fields does not bump it).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::journal::Header;
use crate::engine::{
    ChangeRecord, Outcome, RunResult, SloResult, StepRecord, StepStatus, StopRecord,
};
use crate::spec::Drill;

pub mod render;

pub const SCHEMA_VERSION: u32 = 1;

/// Why a report could not be read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a drill report: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error(
        "{}: schema_version {found} is newer than this drill understands ({SCHEMA_VERSION}); read it with a newer failover-drill",
        path.display()
    )]
    Newer { path: PathBuf, found: u64 },
}

/// Reads a report, refusing one written by a newer schema than this build knows.
pub fn read(path: &Path) -> Result<Report, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = |message: String| ReadError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        None => return Err(malformed("no schema_version".to_string())),
        Some(found) if found > u64::from(SCHEMA_VERSION) => {
            return Err(ReadError::Newer {
                path: path.to_path_buf(),
                found,
            });
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
}

/// One file of a reports folder and what reading it gave.
pub type Entry = (PathBuf, Result<Report, ReadError>);

/// Every `*.json` report in `dir` with what reading it gave, newest run first (by start time,
/// then run id; unreadable files last, by name). A missing folder is an empty history.
pub fn history(dir: &Path) -> Result<Vec<Entry>, ReadError> {
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ReadError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut runs: Vec<Entry> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json") && p.is_file())
        .map(|p| {
            let read = read(&p);
            (p, read)
        })
        .collect();
    runs.sort_by(|(pa, a), (pb, b)| match (a, b) {
        (Ok(a), Ok(b)) => (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => pa.cmp(pb),
    });
    Ok(runs)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    pub tool: Tool,
    pub drill: DrillInfo,
    /// `switchover` or `failover`.
    pub mode: String,
    pub regions: Regions,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The exit code `drill run` ended with.
    pub exit_code: i32,
    pub failback: bool,
    pub steps: Vec<StepRecord>,
    pub changes: Vec<ChangeRecord>,
    /// Milliseconds unless the name says otherwise.
    pub measurements: BTreeMap<String, serde_json::Value>,
    pub slos: Vec<SloResult>,
    pub errors: Vec<String>,
    /// What the drill left changed, one line per resource; empty unless the outcome is
    /// `rollback_incomplete`.
    pub left: Vec<String>,
    /// The command that finishes the job when something is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<PathBuf>,
    pub time: TimeInfo,
    /// Lab runs only: the time scale, the faults, whether the world ended as it began, and the
    /// lab's ground truth (every control-plane call, state change, write outage and DNS change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<serde_json::Value>,
    /// Drills with `[probes]`: what the probes saw (directions, read-backs, phases, the time
    /// series). See `docs/report.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<serde_json::Value>,
    /// The stop condition (`[stop]`) that aborted the run, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRecord>,
    /// Drills with `[stop] alarms`: the evidence they were watched. See `docs/report.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillInfo {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regions {
    pub primary: String,
    pub secondary: String,
}

/// Whose clock the times and durations are on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeInfo {
    /// `real`, or `modelled` for lab runs, whose clock runs `scale` times faster than the wall.
    pub clock: String,
    pub scale: f64,
}

impl Report {
    pub fn new(
        drill: &Drill,
        result: &RunResult,
        failback: bool,
        exit_code: i32,
        scale: f64,
    ) -> Self {
        let recover_command = matches!(result.outcome, Outcome::RollbackIncomplete | Outcome::Held)
            .then(|| format!("drill recover {}", result.run_id));
        Report {
            schema_version: SCHEMA_VERSION,
            run_id: result.run_id.clone(),
            tool: Tool {
                name: "failover-drill".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            drill: DrillInfo {
                name: drill.name.clone(),
                file: drill.path.clone(),
                sha256: drill.sha256.clone(),
            },
            mode: drill.database.mode.as_str().to_string(),
            regions: Regions {
                primary: drill.regions.primary.clone(),
                secondary: drill.regions.secondary.clone(),
            },
            started_at: result.started_at,
            finished_at: result.finished_at,
            outcome: result.outcome,
            exit_code,
            failback,
            steps: result.steps.clone(),
            changes: result.changes.clone(),
            measurements: result.measurements.clone(),
            slos: result.slos.clone(),
            errors: result.errors.clone(),
            left: result.left.clone(),
            recover_command,
            journal: result.journal.clone(),
            time: TimeInfo {
                clock: if scale == 1.0 { "real" } else { "modelled" }.to_string(),
                scale,
            },
            lab: None,
            probes: result.probes.clone(),
            stop: result.stop.clone(),
            alarms: result.alarms.clone(),
        }
    }

    /// The report of a run `drill recover` finished (outcome `recovered` or
    /// `recovery_incomplete`): the drill and run from the journal's header, the changes from the
    /// journal, one `recover` step from `recovering_since` to `finished_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn recovered(
        header: &Header,
        mode: &str,
        changes: Vec<ChangeRecord>,
        left: Vec<String>,
        recovering_since: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        outcome: Outcome,
        exit_code: i32,
        journal: PathBuf,
    ) -> Self {
        let region = |i: usize| {
            header
                .connection
                .regions
                .get(i)
                .cloned()
                .unwrap_or_default()
        };
        let status = if left.is_empty() {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        };
        Report {
            schema_version: SCHEMA_VERSION,
            run_id: header.run_id.clone(),
            tool: Tool {
                name: "failover-drill".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            drill: DrillInfo {
                name: header.drill_name.clone(),
                file: header.drill_file.clone(),
                sha256: header.drill_sha256.clone(),
            },
            mode: mode.to_string(),
            regions: Regions {
                primary: region(0),
                secondary: region(1),
            },
            started_at: header.started_at,
            finished_at,
            outcome,
            exit_code,
            failback: true,
            steps: vec![StepRecord {
                name: "recover".to_string(),
                status,
                started_at: recovering_since,
                finished_at,
                duration_ms: (finished_at - recovering_since).num_milliseconds().max(0) as u64,
                details: serde_json::json!({ "left": left }),
            }],
            changes,
            measurements: BTreeMap::new(),
            slos: Vec::new(),
            errors: left.clone(),
            recover_command: (!left.is_empty()).then(|| format!("drill recover {}", header.run_id)),
            left,
            journal: Some(journal),
            time: TimeInfo {
                clock: "real".to_string(),
                scale: 1.0,
            },
            lab: None,
            probes: None,
            stop: None,
            alarms: None,
        }
    }

    pub fn outcome_str(&self) -> &'static str {
        self.outcome.as_str()
    }

    /// The default location: `<state-dir>/reports/<run-id>.json`.
    pub fn default_path(state_dir: &Path, run_id: &str) -> PathBuf {
        Self::default_dir(state_dir).join(format!("{run_id}.json"))
    }

    /// Where runs write their reports unless told otherwise: `<state-dir>/reports`.
    pub fn default_dir(state_dir: &Path) -> PathBuf {
        state_dir.join("reports")
    }

    /// Writes the report atomically (temp file, fsync, rename), creating the folder.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    }
}
