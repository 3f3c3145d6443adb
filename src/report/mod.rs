//! The run report: one versioned JSON document per run, for tooling and the post-mortem.
//! The schema is documented in `docs/report.md`; `SCHEMA_VERSION` changes whenever a field changes
//! meaning or disappears (adding fields does not bump it).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{ChangeRecord, Outcome, RunResult, SloResult, StepRecord, StopRecord};
use crate::spec::Drill;

pub const SCHEMA_VERSION: u32 = 1;

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
        let recover_command = (result.outcome == Outcome::RollbackIncomplete)
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

    pub fn outcome_str(&self) -> &'static str {
        self.outcome.as_str()
    }

    /// The default location: `<state-dir>/reports/<run-id>.json`.
    pub fn default_path(state_dir: &Path, run_id: &str) -> PathBuf {
        state_dir.join("reports").join(format!("{run_id}.json"))
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
