//! `drill recover`: finishes a run that did not finish (killed with SIGKILL, a host lost power, a
//! rollback that could not complete). It reads the run's journal and undoes every outstanding
//! mutation, newest first, through the same undo as fail-back and rollback. Releasing the run's
//! lease is the caller's (the lease is not the engine's); [`finish`] closes a journal that had
//! only a lease to release.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Clock;
use crate::cloud::Cloud;

use super::journal::{Header, Journal, JournalError, Line, Replay};
use super::lock::{LockError, RunLock};
use super::outcome::{ChangeRecord, Outcome};
use super::undo::{AppCheck, Left, Reversal, Undoer};

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

pub struct RecoverOptions {
    pub clock: Clock,
    pub poll: Duration,
    pub insync_timeout: Duration,
    pub promotion_timeout: Duration,
    /// How to ask a region's application whether it serves, when the drill file is known.
    pub app: Option<AppCheck>,
}

/// What recovery found and did.
#[derive(Debug)]
pub struct Recovery {
    pub header: Header,
    pub journal: PathBuf,
    /// How many mutations were outstanding when recovery started.
    pub outstanding: usize,
    pub left: Vec<Left>,
    /// Kept where they serve: the place they would go back to still cannot serve.
    pub held: Vec<Left>,
    pub changes: Vec<ChangeRecord>,
    /// `Recovered` when nothing is left, `RecoveryIncomplete` otherwise.
    pub outcome: Outcome,
}

/// Appends `finished: recovered` to a journal with nothing outstanding whose run left only its
/// lease behind (released by the caller), so the journal says how the run ended.
pub fn finish(replay: &Replay, clock: &Clock) -> Result<(), RecoverError> {
    let mut journal = Journal::reopen(&replay.path, replay.next_seq())?;
    journal.append(&Line::Finished {
        at: clock.now(),
        outcome: Outcome::Recovered.as_str().to_string(),
    })?;
    Ok(())
}

/// Reads the journal's header, so the caller can connect to the cloud the run used.
pub fn read(path: &Path) -> Result<Replay, RecoverError> {
    Ok(Replay::read(path)?)
}

pub async fn recover(
    state_dir: &Path,
    replay: Replay,
    cloud: &Cloud,
    opts: &RecoverOptions,
) -> Result<Recovery, RecoverError> {
    // A run still going holds this lock: never undo underneath a live run.
    let _lock = RunLock::acquire(
        state_dir,
        &replay.header.global_cluster,
        &format!("drill recover {}", replay.header.run_id),
    )?;
    // Re-read under the lock: the run may have finished between the caller's read and now.
    let replay = Replay::read(&replay.path)?;
    let outstanding: Vec<_> = replay.outstanding().into_iter().cloned().collect();
    let journal = Mutex::new(Journal::reopen(&replay.path, replay.next_seq())?);
    let undoer = Undoer {
        cloud,
        clock: &opts.clock,
        journal: &journal,
        poll: opts.poll,
        insync_timeout: opts.insync_timeout,
        promotion_timeout: opts.promotion_timeout,
        app: opts.app.clone(),
        progress: None,
    };
    // Held and failed undos are tried again: that is what recover is for.
    let undone = undoer
        .undo(&replay.entries, &|_| true, &Reversal::default())
        .await;
    let outcome = if !undone.left.is_empty() {
        Outcome::RecoveryIncomplete
    } else if !undone.held.is_empty() {
        Outcome::Held
    } else {
        Outcome::Recovered
    };
    if !outstanding.is_empty() {
        let line = Line::Finished {
            at: opts.clock.now(),
            outcome: outcome.as_str().to_string(),
        };
        let mut j = journal.lock().unwrap_or_else(|p| p.into_inner());
        j.append(&line)?;
    }
    let after = Replay::read(&replay.path)?;
    Ok(Recovery {
        header: replay.header.clone(),
        journal: replay.path.clone(),
        outstanding: outstanding.len(),
        left: undone.left,
        held: undone.held,
        changes: super::run::changes(&after),
        outcome,
    })
}
