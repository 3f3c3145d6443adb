//! The state one run's steps share: the drill, the plan, the cloud, the clock, the journal, and what
//! the run has recorded so far (steps, measurements).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::cloud::{Cloud, CloudError};
use crate::spec::Drill;

use super::journal::{Journal, JournalError, Line, Mutation, Replay};
use super::outcome::{StepRecord, StepStatus};
use super::preflight::Plan;
use super::undo::{AppCheck, Left, Reversal, Undoer};
use super::wait::WaitError;

/// Why a step failed. Any of these starts a rollback.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error("{0}")]
    Journal(String),
    /// The world moved under the drill (someone else changed a resource it manages).
    #[error("{resource} changed outside the drill: {detail}")]
    Drift { resource: String, detail: String },
    #[error("traffic did not move as expected: {0}")]
    Verify(String),
    #[error("could not restore: {}", .0.iter().map(|l| format!("{}: {}", l.resource, l.reason)).collect::<Vec<_>>().join("; "))]
    Restore(Vec<Left>),
    /// The way back is not safe: the writer and traffic stay where they serve.
    #[error("held: {}", .0.iter().map(|l| format!("{}: {}", l.resource, l.reason)).collect::<Vec<_>>().join("; "))]
    Held(Vec<Left>),
    #[error("interrupted by {0}")]
    Aborted(String),
    /// A stop condition (`[stop]` in the drill file) fired.
    #[error("stop condition {0}")]
    Stopped(String),
}

impl From<JournalError> for StepError {
    fn from(e: JournalError) -> Self {
        StepError::Journal(e.to_string())
    }
}

pub struct Ctx<'a> {
    pub drill: &'a Drill,
    pub cloud: &'a Cloud,
    pub clock: &'a Clock,
    pub plan: &'a Plan,
    pub journal: Mutex<Journal>,
    pub journal_path: PathBuf,
    /// How often waits poll the cloud (modelled time).
    pub poll: Duration,
    pub steps: Mutex<Vec<StepRecord>>,
    /// The step under way, so an interrupted step can still be reported.
    pub current: Mutex<Option<(String, DateTime<Utc>)>>,
    pub measurements: Mutex<BTreeMap<String, serde_json::Value>>,
    /// When the first mutation was made (modelled).
    pub first_change: Mutex<Option<Duration>>,
    /// The running probes, when the drill has `[probes]`.
    pub probes: Option<&'a crate::probes::Prober>,
    /// The live view's state, when something shows one.
    pub progress: Option<&'a super::progress::Progress>,
    /// How undo asks the application whether a region serves (the drill's HTTP probe).
    pub app: Option<AppCheck>,
    /// Journal entries whose undo already used up its time in this run: the rollback does not
    /// wait for them again (`drill recover` retries them).
    pub spent: Mutex<std::collections::BTreeSet<u64>>,
    /// The routing change, read and checked before the promotion (`steps::ready_to_shift`).
    pub shift: Mutex<Option<super::steps::ShiftPlan>>,
}

impl Ctx<'_> {
    /// Runs one named step, recording its timing, status and details.
    pub async fn step<F>(&self, name: &str, body: F) -> Result<(), StepError>
    where
        F: Future<Output = Result<serde_json::Value, StepError>>,
    {
        let started = self.clock.now();
        *lock(&self.current) = Some((name.to_string(), started));
        if let Some(p) = self.progress {
            p.step(name, started);
        }
        tracing::info!(step = name, "step started");
        let result = body.await;
        *lock(&self.current) = None;
        let (status, details) = match &result {
            Ok(details) => (StepStatus::Passed, details.clone()),
            Err(e) => (
                StepStatus::Failed,
                serde_json::json!({ "error": e.to_string() }),
            ),
        };
        self.push_step(name, status, started, details);
        match &result {
            Ok(_) => tracing::info!(step = name, "step passed"),
            Err(e) => tracing::error!(step = name, "step failed: {e}"),
        }
        result.map(|_| ())
    }

    pub fn push_step(
        &self,
        name: &str,
        status: StepStatus,
        started: DateTime<Utc>,
        details: serde_json::Value,
    ) {
        let finished = self.clock.now();
        lock(&self.steps).push(StepRecord {
            name: name.to_string(),
            status,
            started_at: started,
            finished_at: finished,
            duration_ms: (finished - started).num_milliseconds().max(0) as u64,
            details,
        });
    }

    /// Marks the step under way (if any) as aborted.
    pub fn abort_current(&self, why: &str) {
        if let Some((name, started)) = lock(&self.current).take() {
            self.push_step(
                &name,
                StepStatus::Aborted,
                started,
                serde_json::json!({ "error": why }),
            );
        }
    }

    /// Tells the probes what the drill is about to do (a phase, a promotion, a routing change).
    pub fn mark(&self, mark: crate::probes::Mark) {
        if let Some(p) = self.probes {
            p.mark(mark);
        }
    }

    /// A long wait starts: the live view counts it down.
    pub fn waiting(&self, what: &str, length: Duration) {
        if let Some(p) = self.progress {
            p.wait(
                what,
                self.clock.now() + chrono::Duration::from_std(length).unwrap_or_default(),
            );
        }
    }

    pub fn measure(&self, name: &str, value: impl Into<serde_json::Value>) {
        lock(&self.measurements).insert(name.to_string(), value.into());
    }

    /// Journals the intent to make `mutation` (fsync'd) and returns its sequence number.
    pub fn intent(&self, step: &str, mutation: Mutation) -> Result<u64, StepError> {
        Ok(self.intents(step, vec![mutation])?[0])
    }

    /// Journals the intent to make each mutation, all in one fsync'd write.
    pub fn intents(&self, step: &str, mutations: Vec<Mutation>) -> Result<Vec<u64>, StepError> {
        let mut first = lock(&self.first_change);
        if first.is_none() {
            *first = Some(self.clock.elapsed());
        }
        Ok(lock(&self.journal).intents(step, self.clock.now(), mutations)?)
    }

    pub fn done(&self, seq: u64) -> Result<(), StepError> {
        self.dones(&[seq])
    }

    /// Journals that these mutations were made, in one write.
    pub fn dones(&self, seqs: &[u64]) -> Result<(), StepError> {
        let at = self.clock.now();
        let lines: Vec<Line> = seqs.iter().map(|&seq| Line::Done { seq, at }).collect();
        Ok(lock(&self.journal).append_all(&lines)?)
    }

    pub fn failed(&self, seq: u64, error: &str) {
        self.failed_all(&[seq], error)
    }

    /// Journals that the call making these mutations failed, in one write.
    pub fn failed_all(&self, seqs: &[u64], error: &str) {
        let at = self.clock.now();
        let lines: Vec<Line> = seqs
            .iter()
            .map(|&seq| Line::Failed {
                seq,
                at,
                error: error.to_string(),
            })
            .collect();
        if let Err(e) = lock(&self.journal).append_all(&lines) {
            tracing::error!("{e}");
        }
    }

    pub fn replay(&self) -> Result<Replay, StepError> {
        Ok(Replay::read(&self.journal_path)?)
    }

    pub fn undoer(&self) -> Undoer<'_> {
        Undoer {
            cloud: self.cloud,
            clock: self.clock,
            journal: &self.journal,
            poll: self.poll,
            insync_timeout: self.drill.timeouts.insync,
            promotion_timeout: self.drill.timeouts.promotion,
            app: self.app.clone(),
            progress: self.progress,
        }
    }

    /// Undoes the outstanding mutations made by `step` (the drill's own fail-back: it waits for
    /// the original writer to resync before holding it).
    pub async fn undo_step(&self, step: &str) -> Result<usize, StepError> {
        let replay = self.replay()?;
        let count = replay
            .outstanding()
            .iter()
            .filter(|e| e.step == step)
            .count();
        let how = Reversal {
            wait_for_resync: true,
            stay: None,
        };
        let undone = self
            .undoer()
            .undo(&replay.entries, &|e| e.step == step, &how)
            .await;
        lock(&self.spent).extend(undone.left.iter().filter(|l| l.spent).map(|l| l.seq));
        if !undone.left.is_empty() {
            let mut all = undone.left;
            all.extend(undone.held);
            Err(StepError::Restore(all))
        } else if !undone.held.is_empty() {
            Err(StepError::Held(undone.held))
        } else {
            Ok(count)
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
