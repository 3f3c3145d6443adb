//! What a run produced: its outcome, steps, changes, measurements and SLO verdicts. The report
//! module turns this into the versioned JSON report; the CLI turns the outcome into an exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::journal::{Entry, UndoneHow};

/// How a run ended. Each maps to one exit code (see `cli::exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Completed, everything restored, every SLO met.
    Passed,
    /// Completed and everything restored, but an SLO was missed.
    SloFailed,
    /// Preflight refused (or the lock was held); nothing was changed.
    Refused,
    /// Aborted (failure or signal) and every change was rolled back.
    RolledBack,
    /// Something the drill changed could not be restored; `drill recover` must finish the job.
    RollbackIncomplete,
    /// The way back was not safe: the writer and traffic were kept where they serve, because the
    /// place they would return to cannot (or the drill says `on_failure = "stay"`). `drill
    /// recover` finishes the fail-back once it can.
    Held,
    /// `drill recover` finished a run that had not finished: every change it left is restored
    /// and its lease released.
    Recovered,
    /// `drill recover` could not restore everything; run it again once the cause is fixed.
    RecoveryIncomplete,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::SloFailed => "slo_failed",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled_back",
            Outcome::RollbackIncomplete => "rollback_incomplete",
            Outcome::Held => "held",
            Outcome::Recovered => "recovered",
            Outcome::RecoveryIncomplete => "recovery_incomplete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Interrupted by a signal.
    Aborted,
    Skipped,
}

impl StepStatus {
    /// The name the report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Aborted => "aborted",
            StepStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub details: serde_json::Value,
}

/// One journaled mutation and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub seq: u64,
    pub step: String,
    pub resource: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// Back at `before`, whether put back or found there.
    pub restored: bool,
    /// How it got back to `before`: put back by the drill (`restored`), or found there
    /// (`already`: the change never took effect). Absent when not restored, and in reports
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<UndoneHow>,
    /// The call that makes the change failed, or the operation it started (a promotion) ended
    /// without making it; its error is the `note`. The resource may or may not have changed:
    /// `how` says what the undo found.
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    /// Deliberately left changed (`--no-failback`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub kept: bool,
    /// Why it was not restored, if it was not; or why its call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ChangeRecord {
    /// The report's view of one journal entry.
    pub fn from_entry(e: &Entry) -> Self {
        ChangeRecord {
            seq: e.seq,
            step: e.step.clone(),
            resource: e.mutation.resource(),
            before: e.mutation.before_json(),
            after: e.mutation.after_json(),
            restored: e.undone,
            how: e.how.filter(|_| e.undone),
            failed: e.failed.is_some(),
            kept: e.kept,
            note: if e.kept {
                Some("kept in the secondary region (--no-failback)".to_string())
            } else {
                e.undo_failed.clone().or_else(|| e.failed.clone())
            },
        }
    }

    /// What became of the change, in the words the report and `drill recover` both use.
    pub fn fate(&self) -> Fate {
        match (self.restored, self.how) {
            (true, Some(UndoneHow::Already)) if self.failed => Fate::NeverChanged,
            (true, Some(UndoneHow::Already)) => Fate::FoundBack,
            // Reports from before `how` existed said only that it was back.
            (true, _) => Fate::PutBack,
            (false, _) if self.kept => Fate::Kept,
            (false, _) => Fate::StillChanged,
        }
    }
}

/// What became of one journaled change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Changed, then put back by the drill.
    PutBack,
    /// It failed and the resource was found at its original value: it never moved.
    NeverChanged,
    /// Found at its original value without being put back (the run stopped before the call, or
    /// something had put it back already).
    FoundBack,
    /// Left changed on purpose (`--no-failback`).
    Kept,
    /// Changed and not put back: `drill recover` must finish the job.
    StillChanged,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::PutBack => "put back",
            Fate::NeverChanged => "never changed (the change failed)",
            Fate::FoundBack => "found at its original value",
            Fate::Kept => "kept (--no-failback)",
            Fate::StillChanged => "STILL CHANGED",
        }
    }
}

impl std::fmt::Display for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    pub name: String,
    /// In `unit` (milliseconds unless it says otherwise).
    pub target: u64,
    /// In `unit`; None when the drill ended before it could be measured.
    pub measured: Option<u64>,
    pub passed: bool,
    /// Which measurement the verdict used.
    pub source: String,
    /// What `target` and `measured` count: `ms`, `writes`, or `basis_points` (1/100 of a
    /// percent, for error rates).
    #[serde(default = "unit_ms")]
    pub unit: String,
}

impl SloResult {
    /// `met`, `MISSED`, or `not measured`: nothing to judge (the drill stopped before it could be
    /// measured), which is not a pass either.
    pub fn verdict(&self) -> &'static str {
        match (self.passed, self.measured) {
            (true, _) => "met",
            (false, None) => "not measured",
            (false, Some(_)) => "MISSED",
        }
    }
}

fn unit_ms() -> String {
    "ms".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    pub outcome: Outcome,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub steps: Vec<StepRecord>,
    pub changes: Vec<ChangeRecord>,
    pub measurements: BTreeMap<String, serde_json::Value>,
    pub slos: Vec<SloResult>,
    pub errors: Vec<String>,
    /// What is left changed, one line per resource (empty unless `RollbackIncomplete`).
    pub left: Vec<String>,
    pub journal: Option<PathBuf>,
    /// What the probes saw (see `docs/report.md`); None for a drill without `[probes]`.
    pub probes: Option<serde_json::Value>,
    /// The stop condition that aborted the run, if one did.
    pub stop: Option<StopRecord>,
    /// `[stop] alarms`: how they were watched and what was read (see `docs/report.md`).
    pub alarms: Option<serde_json::Value>,
}

/// A stop condition that fired: which, when, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRecord {
    /// `error_rate`, `traffic_deadline`, `alarm` or `alarm_unreadable`.
    pub condition: String,
    pub at: DateTime<Utc>,
    pub detail: String,
}
