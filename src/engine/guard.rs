//! The guard: what keeps every other run off the target while this one changes it (in practice
//! the Route 53 lease, implemented outside the engine so the engine stays free of the scheduler
//! and the SDK). The engine only sequences it:
//!
//! ```text
//! preflight (read-only) ─► run lock ─► journal (header names the lease) ─► acquire ─► re-check ─► changes
//! ```
//!
//! so a run refused before `acquire` has written nothing, and a run killed at any instant after
//! it leaves a journal that names the lease for `drill recover` to release. `acquire` is called
//! while the run holds its host's run lock for the target, so a holder whose journal is in the
//! same state directory is known to be dead.

use async_trait::async_trait;

use super::journal::LeaseRecord;

#[async_trait]
pub trait Guard: Send + Sync {
    /// The lease this guard takes, for the journal header (written before [`Guard::acquire`]).
    fn describe(&self) -> LeaseRecord;

    /// Takes it: the run's first write. `Err` is a refusal that wrote nothing (someone else holds
    /// the target, or a claim says the run already happened); its message says who and what to do.
    async fn acquire(&self) -> Result<(), String>;

    /// Keeps it (renewing as needed) for as long as it is polled; resolves only when it is lost,
    /// with why. Called only after a successful [`Guard::acquire`].
    async fn keep(&self) -> String;

    /// Gives it back. Called once, after the run's journal is finished.
    async fn release(&self) -> Result<(), String>;
}
