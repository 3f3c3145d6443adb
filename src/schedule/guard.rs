//! The Route 53 lease — and, for a scheduled fire, its claim — as the engine's [`Guard`]: the
//! engine decides when it is taken (after the read-only preflight and the journal header), this
//! decides how, and remembers why it refused so the CLI and the scheduler can tell a busy target
//! or an already-run fire from a failed run.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::cloud::Route53;
use crate::engine::guard::Guard;
use crate::engine::journal::{LeaseRecord, journal_dir};

use super::claim::{self, Claim};
use super::lease::{Holder, Lease, LeaseError, Place};

/// Why [`LeaseGuard::acquire`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another run holds the target's lease; the message says who and what to do.
    Busy(String),
    /// Another scheduler already started this fire: `run RUN_ID on OWNER`.
    AlreadyRan(String),
    /// The lease or claim could not be read or written.
    Failed(String),
}

pub struct LeaseGuard {
    pub route53: Arc<dyn Route53>,
    pub clock: Clock,
    pub place: Place,
    /// `host/pid`, as the lease names it.
    pub owner: String,
    pub run_id: String,
    pub drill: String,
    /// This host's state directory: where a dead holder's journal would be.
    pub state_dir: PathBuf,
    /// The lease lives in the run's private lab, which ends with this process.
    pub private_lab: bool,
    /// The scheduled fire the run is for, claimed under the lease so a second scheduler does not
    /// run it again. Not claimed in a private lab: no other scheduler shares it.
    pub fire: Option<DateTime<Utc>>,
    lease: OnceLock<Lease>,
    refusal: Mutex<Option<Refusal>>,
}

impl LeaseGuard {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        route53: Arc<dyn Route53>,
        clock: Clock,
        place: Place,
        owner: String,
        run_id: String,
        drill: String,
        state_dir: PathBuf,
        private_lab: bool,
        fire: Option<DateTime<Utc>>,
    ) -> Self {
        LeaseGuard {
            route53,
            clock,
            place,
            owner,
            run_id,
            drill,
            state_dir,
            private_lab,
            fire,
            lease: OnceLock::new(),
            refusal: Mutex::new(None),
        }
    }

    /// Why the last [`Guard::acquire`] refused, if it did.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn refuse(&self, refusal: Refusal) -> String {
        let message = match &refusal {
            Refusal::Busy(m) | Refusal::Failed(m) => m.clone(),
            Refusal::AlreadyRan(by) => format!("this scheduled run was already started ({by})"),
        };
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(refusal);
        message
    }

    /// A busy lease's message. A holder whose journal is in this host's state directory ran here;
    /// the engine asks while holding this host's run lock for the target, so that run is not
    /// alive, and `drill recover` is what finishes it — no need to wait for the lease to expire.
    fn busy(&self, e: &LeaseError, holder: &Holder) -> String {
        let journal = journal_dir(&self.state_dir).join(format!("{}.jsonl", holder.run_id));
        if journal.is_file() {
            format!(
                "global cluster {} is leased to {holder}, a run of this host that is no longer running (journal {}); nothing was changed. Run `drill recover {}` to finish it and release its lease",
                self.place.global_cluster,
                journal.display(),
                holder.run_id
            )
        } else {
            e.to_string()
        }
    }
}

#[async_trait]
impl Guard for LeaseGuard {
    fn describe(&self) -> LeaseRecord {
        LeaseRecord {
            zone_id: self.place.zone_id.clone(),
            zone_name: self.place.zone_name.clone(),
            record: self.place.lease_name(),
            owner: self.owner.clone(),
            run_id: self.run_id.clone(),
            private_lab: self.private_lab,
        }
    }

    async fn acquire(&self) -> Result<(), String> {
        // A fire another scheduler already started is refused before the lease: no write.
        if let (Some(fire), false) = (self.fire, self.private_lab)
            && let Ok(Some(prior)) =
                claim::claimed(self.route53.as_ref(), &self.place, &self.drill, fire).await
        {
            return Err(self.refuse(Refusal::AlreadyRan(format!(
                "run {} on {}",
                prior.run_id, prior.owner
            ))));
        }
        let taken = Lease::acquire(
            self.route53.clone(),
            self.clock.clone(),
            self.place.clone(),
            &self.owner,
            &self.run_id,
            &self.drill,
        )
        .await;
        let lease = match taken {
            Ok(lease) => lease,
            Err(e) => {
                let refusal = match &e {
                    LeaseError::Busy { holder, .. } => Refusal::Busy(self.busy(&e, holder)),
                    _ => Refusal::Failed(format!("{e}; nothing was changed")),
                };
                return Err(self.refuse(refusal));
            }
        };
        if let (Some(fire), false) = (self.fire, self.private_lab) {
            let mine = Claim {
                fire,
                run_id: self.run_id.clone(),
                owner: self.owner.clone(),
            };
            let refusal =
                match claim::claim(self.route53.as_ref(), &self.place, &self.drill, &mine).await {
                    Ok(None) => None,
                    Ok(Some(prior)) => Some(Refusal::AlreadyRan(format!(
                        "run {} on {}",
                        prior.run_id, prior.owner
                    ))),
                    Err(e) => Some(Refusal::Failed(format!(
                        "cannot claim the scheduled run of drill {}: {e}; nothing was changed",
                        self.drill
                    ))),
                };
            if let Some(refusal) = refusal {
                if let Err(e) = lease.release().await {
                    tracing::warn!("{e}");
                }
                return Err(self.refuse(refusal));
            }
        }
        let _ = self.lease.set(lease);
        Ok(())
    }

    async fn keep(&self) -> String {
        match self.lease.get() {
            Some(lease) => lease.keep().await.to_string(),
            None => std::future::pending().await,
        }
    }

    async fn release(&self) -> Result<(), String> {
        match self.lease.get() {
            Some(lease) => lease.release().await.map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}
