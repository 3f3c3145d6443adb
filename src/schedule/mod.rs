//! Unattended drills: the scheduler daemon (`drill schedule`), its fire times (croner, IANA time
//! zones), the safety rules of unattended runs (allowed hours, blackouts, missed runs, grace), the
//! state it keeps between restarts, the Route 53 lease that keeps two hosts (or a host and a
//! manual `drill run`) from running drills on one target at once, the claim that keeps two
//! schedulers from running one fire twice, and crontab lines for teams that prefer system cron.
//!
//! The daemon knows the engine only through a [`daemon::Runner`], which the CLI implements with the
//! same code path as `drill run --yes`.

pub mod catalog;
pub mod claim;
pub mod crontab;
pub mod daemon;
pub mod due;
pub mod fires;
pub mod guard;
pub mod lease;
pub mod state;
pub mod watch;
pub mod window;

pub use catalog::{Catalog, Scheduled};
pub use daemon::{Control, Job, JobResult, Runner};
pub use fires::Fires;
pub use lease::{Holder, Lease, LeaseError, Place};
