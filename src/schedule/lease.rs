//! The lease: one run at a time per target (global cluster) across hosts and drill files, kept in
//! Route 53 itself so it needs nothing the drill does not already use. It is a TXT record
//! `_drill-lease.<global-cluster>.<canonical zone>` holding the owner (host/pid), the run id, the
//! drill and an expiry. The canonical zone is the account's first hosted zone by (name, id) from
//! ListHostedZones: every drill of the account finds it without configuration, whichever zones its
//! own records live in, so two drill files sharing one global cluster take the same record. (A
//! zone created that sorts before it moves the canonical zone: runs started before and after
//! would take different records. Create such zones outside drill windows.)
//!
//! - **acquire**: read the record; a live lease refuses the run without a write. Otherwise
//!   `CREATE`, which Route 53 refuses (`InvalidChangeBatch`) when the record exists meanwhile.
//!   A lease past its expiry (plus [`CLOCK_SKEW`]) is taken over with `DELETE` of the exact stale
//!   record and `CREATE` of ours in one batch: if two hosts try at once, the second DELETE no
//!   longer matches and its whole batch is refused, so exactly one wins.
//! - **renew** every [`RENEW_EVERY`] while the run lasts, the same way (DELETE exactly what we
//!   wrote, CREATE the new expiry), so a crashed holder's lease simply expires within
//!   [`LEASE_FOR`]. A renewal refused because the record changed means someone took the lease:
//!   the run is told to stop.
//! - **release**: `DELETE` of exactly what we wrote.
//!
//! The lease is the tool's own record, not part of the service, so it is not journaled as a drill
//! change; but the run's journal header names it (zone, record, owner, run id) before it is taken,
//! so `drill recover` releases a dead run's lease by that run's own identity instead of leaving it
//! to expire. Hosts must agree on the time to within [`CLOCK_SKEW`]: every lease taken compares
//! this host's clock with Route 53's (the change's `SubmittedAt`) and is given back at once when
//! they differ by more than [`MAX_CLOCK_OFFSET`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::clock::Clock;
use crate::cloud::{
    ChangeAction, ChangeInfo, CloudError, HostedZone, RecordChange, RecordKey, RecordSet, Route53,
    fqdn,
};
use crate::spec::Drill;

/// How long a lease lasts unless renewed.
pub const LEASE_FOR: Duration = Duration::from_secs(10 * 60);
/// How often a held lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(200);
/// How long past its expiry a lease must be before another host takes it over.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Attempts to get past records that change under us (released, taken over) before giving up.
const ATTEMPTS: usize = 5;
const TAG: &str = "drill-lease";
const TTL: i64 = 60;

/// Who holds a lease, as written in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `host/pid`.
    pub owner: String,
    pub run_id: String,
    pub drill: String,
    pub expires: DateTime<Utc>,
}

impl Holder {
    fn txt(&self) -> String {
        format!(
            "\"{TAG} v=1 owner={} run={} drill={} expires={}\"",
            self.owner,
            self.run_id,
            self.drill,
            self.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// Reads a lease record's TXT value; None if it is not one of ours.
    pub fn parse(value: &str) -> Option<Holder> {
        let text = value.trim().trim_matches('"');
        let mut words = text.split_whitespace();
        if words.next() != Some(TAG) || words.next() != Some("v=1") {
            return None;
        }
        let (mut owner, mut run_id, mut drill, mut expires) = (None, None, None, None);
        for word in words {
            match word.split_once('=')? {
                ("owner", v) => owner = Some(v.to_string()),
                ("run", v) => run_id = Some(v.to_string()),
                ("drill", v) => drill = Some(v.to_string()),
                ("expires", v) => expires = DateTime::parse_from_rfc3339(v).ok(),
                _ => {}
            }
        }
        Some(Holder {
            owner: owner?,
            run_id: run_id?,
            drill: drill?,
            expires: expires?.with_timezone(&Utc),
        })
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (run {} of drill {}, lease until {})",
            self.owner,
            self.run_id,
            self.drill,
            self.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// This process as a lease owner: `host/pid`.
pub fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(63)
        .collect();
    let host = if host.is_empty() {
        "unknown-host".to_string()
    } else {
        host
    };
    format!("{host}/{}", std::process::id())
}

/// Where a drill's lease (and its scheduler's claims) live: the account's canonical zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub zone_id: String,
    /// Fully qualified, with the trailing dot.
    pub zone_name: String,
    pub global_cluster: String,
}

/// The account's canonical zone: the first by (name, id). Every drill of the account computes the
/// same one from the same listing, whichever zones its own records use.
pub fn canonical(zones: &[HostedZone]) -> Option<&HostedZone> {
    zones
        .iter()
        .min_by(|a, b| (fqdn(&a.name), &a.id).cmp(&(fqdn(&b.name), &b.id)))
}

impl Place {
    /// Lists the account's hosted zones (read-only) and places the lease of `drill`'s global
    /// cluster in the canonical zone.
    pub async fn of(route53: &dyn Route53, drill: &Drill) -> Result<Place, CloudError> {
        let zones = route53.list_zones().await?;
        let zone = canonical(&zones).ok_or_else(|| CloudError::NotFound {
            resource: "a hosted zone in this account to keep the drill lease in".to_string(),
            code: "NoSuchHostedZone".to_string(),
        })?;
        Ok(Place {
            zone_id: zone.id.clone(),
            zone_name: fqdn(&zone.name),
            global_cluster: drill.database.global_cluster.clone(),
        })
    }

    /// `_drill-lease.<global-cluster>.<zone>.`
    pub fn lease_name(&self) -> String {
        format!(
            "_drill-lease.{}.{}",
            self.global_cluster.to_ascii_lowercase(),
            self.zone_name
        )
    }

    pub fn key(&self, name: &str) -> RecordKey {
        RecordKey {
            zone_id: self.zone_id.clone(),
            name: name.to_string(),
            rtype: "TXT".to_string(),
            set_identifier: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "global cluster {target} is leased to {holder}; nothing was changed. The lease is the TXT record {record}; if that run died, its lease expires by itself at {}",
        (holder.expires + CLOCK_SKEW).to_rfc3339_opts(SecondsFormat::Secs, true)
    )]
    Busy {
        target: String,
        record: String,
        holder: Holder,
    },
    #[error(
        "the record {record} exists but is not a drill lease ({value}); it was left alone. Remove it, or rename the drill's global cluster"
    )]
    Foreign { record: String, value: String },
    #[error("lost the lease {record}: {why}")]
    Lost { record: String, why: String },
    #[error("lease {record}: {source}")]
    Cloud {
        record: String,
        #[source]
        source: CloudError,
    },
    #[error("lease {record}: the record kept changing under us; gave up after {ATTEMPTS} attempts")]
    Contended { record: String },
    #[error(
        "this host's clock is {} {} Route 53's (the time it accepted the lease change on {record}); leases need every host within {} of AWS time, or one host could take over another's live lease. Fix this host's time sync (NTP); the lease was given back",
        humantime::format_duration(Duration::from_secs(offset.unsigned_abs())),
        if *offset > 0 { "ahead of" } else { "behind" },
        humantime::format_duration(MAX_CLOCK_OFFSET)
    )]
    ClockOffset {
        record: String,
        /// Seconds this host is ahead of Route 53 (negative: behind).
        offset: i64,
    },
}

/// How far this host's clock may be from Route 53's: half of [`CLOCK_SKEW`], so any two hosts
/// that pass agree within it.
pub const MAX_CLOCK_OFFSET: Duration = Duration::from_secs(CLOCK_SKEW.as_secs() / 2);

/// This host's clock against Route 53's, from a change sent at `sent` and answered by now: Some
/// offset in whole seconds (positive: this host is ahead) when it is past [`MAX_CLOCK_OFFSET`].
/// Only a real clock is judged (a lab's modelled clock runs ahead by design), and only a change
/// that carries Route 53's time.
fn clock_offset(clock: &Clock, sent: DateTime<Utc>, infos: &[ChangeInfo]) -> Option<i64> {
    if clock.scale() != 1.0 {
        return None;
    }
    let theirs = infos.iter().find_map(|i| i.submitted_at)?;
    let now = clock.now();
    // The change was accepted somewhere between sending and the answer: judge from the middle.
    let mine = sent + (now - sent) / 2;
    let offset = (mine - theirs).num_seconds();
    (offset.unsigned_abs() > MAX_CLOCK_OFFSET.as_secs()).then_some(offset)
}

/// Route 53 refuses a CREATE of an existing record, and a DELETE that does not match exactly, with
/// `InvalidChangeBatch`.
fn refused(e: &CloudError) -> bool {
    e.code() == Some("InvalidChangeBatch")
}

fn txt_record(name: &str, value: String) -> RecordSet {
    RecordSet::simple(name, "TXT", TTL, &[value.as_str()])
}

/// A held lease. Release it with [`Lease::release`]; if the process dies instead, it expires.
pub struct Lease {
    route53: Arc<dyn Route53>,
    clock: Clock,
    place: Place,
    name: String,
    /// What we last wrote: the exact record a renewal or release must DELETE.
    current: Mutex<(Holder, RecordSet)>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("holder", &self.holder())
            .finish()
    }
}

impl Lease {
    /// Takes the lease for `run_id` of `drill`, or says who holds it.
    pub async fn acquire(
        route53: Arc<dyn Route53>,
        clock: Clock,
        place: Place,
        owner: &str,
        run_id: &str,
        drill: &str,
    ) -> Result<Lease, LeaseError> {
        Self::take(route53, clock, place, owner, run_id, drill, false).await
    }

    /// Takes the lease to recover run `run_id`: as [`Lease::acquire`], except that a lease still
    /// held in that run's name is taken over at once. The run is dead or finished (the caller holds
    /// its host's run lock), and its lease would otherwise keep recovery waiting until it expired.
    /// With the dead run's `owner` (from its journal), the lease is held in the dead run's own
    /// identity — a lease it left is adopted as it is, and a recovery that dies in turn leaves a
    /// lease the next `drill recover` recognises; without it (older journals), any lease of the
    /// run id is taken over in this process's name.
    pub async fn acquire_to_recover(
        route53: Arc<dyn Route53>,
        clock: Clock,
        place: Place,
        owner: Option<&str>,
        run_id: &str,
        drill: &str,
    ) -> Result<Lease, LeaseError> {
        let owner = owner.map(str::to_string).unwrap_or_else(self::owner);
        Self::take(route53, clock, place, &owner, run_id, drill, true).await
    }

    /// Deletes the lease record if it still holds run `run_id` (of `owner`, when known): what a
    /// dead run left behind. Reads first, so when no such lease is there — released, expired and
    /// taken by another run, or never taken — nothing is written and None is returned. Never
    /// touches another run's lease: the DELETE names the exact record read.
    pub async fn release_dead(
        route53: &dyn Route53,
        place: &Place,
        owner: Option<&str>,
        run_id: &str,
    ) -> Result<Option<Holder>, LeaseError> {
        let name = place.lease_name();
        let cloud = |source| LeaseError::Cloud {
            record: name.clone(),
            source,
        };
        let Some(existing) = route53.get_record(&place.key(&name)).await.map_err(cloud)? else {
            return Ok(None);
        };
        let theirs = match Holder::parse(&existing.values.join(" ")) {
            Some(h) if h.run_id == run_id && owner.is_none_or(|o| o == h.owner) => h,
            _ => return Ok(None),
        };
        let delete = RecordChange {
            action: ChangeAction::Delete,
            record: existing,
        };
        let comment = format!("drill recover: release the lease of run {run_id}");
        match route53
            .change_records(&place.zone_id, &[delete], &comment)
            .await
        {
            Ok(_) => Ok(Some(theirs)),
            // Changed between the read and the DELETE: no longer that exact record.
            Err(e) if refused(&e) => Ok(None),
            Err(e) => Err(cloud(e)),
        }
    }

    async fn take(
        route53: Arc<dyn Route53>,
        clock: Clock,
        place: Place,
        owner: &str,
        run_id: &str,
        drill: &str,
        recovering: bool,
    ) -> Result<Lease, LeaseError> {
        let name = place.lease_name();
        let cloud = |source| LeaseError::Cloud {
            record: name.clone(),
            source,
        };
        let mine = |clock: &Clock| Holder {
            owner: owner.to_string(),
            run_id: run_id.to_string(),
            drill: drill.to_string(),
            expires: clock.now() + LEASE_FOR,
        };
        let mut last_refusal = None;
        for _ in 0..ATTEMPTS {
            let holder = mine(&clock);
            let record = txt_record(&name, holder.txt());
            let create = RecordChange {
                action: ChangeAction::Create,
                record: record.clone(),
            };
            // Read first: a lease someone holds refuses the run without a single write.
            let found = route53.get_record(&place.key(&name)).await.map_err(cloud)?;
            let Some(existing) = found else {
                let comment = format!("drill lease: take for run {run_id}");
                let sent = clock.now();
                match route53
                    .change_records(&place.zone_id, std::slice::from_ref(&create), &comment)
                    .await
                {
                    Ok(infos) => {
                        let lease = Lease::held(route53, clock, place, name, holder, record);
                        return lease.checked(sent, &infos, None).await;
                    }
                    // Taken between the read and the CREATE (or refused for another reason,
                    // which the next read tells): look again.
                    Err(e) if refused(&e) => last_refusal = Some(e),
                    Err(e) => return Err(cloud(e)),
                }
                continue;
            };
            last_refusal = None;
            let value = existing.values.join(" ");
            let Some(theirs) = Holder::parse(&value) else {
                return Err(LeaseError::Foreign {
                    record: name.clone(),
                    value,
                });
            };
            if theirs.owner == holder.owner && theirs.run_id == holder.run_id {
                // Our own CREATE landed on an earlier attempt whose answer was lost.
                return Ok(Lease::held(route53, clock, place, name, theirs, existing));
            }
            let stale_since = theirs.expires + CLOCK_SKEW;
            let recovered_run = recovering && theirs.run_id == run_id;
            if clock.now() < stale_since && !recovered_run {
                return Err(LeaseError::Busy {
                    target: place.global_cluster.clone(),
                    record: name.clone(),
                    holder: theirs,
                });
            }
            let takeover = [
                RecordChange {
                    action: ChangeAction::Delete,
                    record: existing.clone(),
                },
                create,
            ];
            let comment = if recovered_run {
                format!("drill lease: recover run {run_id}, taking over {theirs}")
            } else {
                format!("drill lease: take over the expired lease of {theirs}")
            };
            let sent = clock.now();
            match route53
                .change_records(&place.zone_id, &takeover, &comment)
                .await
            {
                Ok(infos) => {
                    if recovered_run {
                        tracing::info!(
                            "took over the lease {name} of {theirs} to recover that run"
                        );
                    } else {
                        tracing::warn!(
                            "took over the expired lease {name} of {theirs}; that run did not release it (it probably died: see `drill recover`)"
                        );
                    }
                    let lease = Lease::held(route53, clock, place, name, holder, record);
                    // Judged stale on this host's clock: if that clock is wrong, the lease it
                    // replaced may be live, and goes back exactly as it was.
                    return lease.checked(sent, &infos, Some(existing)).await;
                }
                // Someone else changed the record first: look again.
                Err(e) if refused(&e) => continue,
                Err(e) => return Err(cloud(e)),
            }
        }
        // A CREATE refused although no record is there was refused for another reason: say it.
        Err(match last_refusal {
            Some(e) => cloud(e),
            None => LeaseError::Contended { record: name },
        })
    }

    fn held(
        route53: Arc<dyn Route53>,
        clock: Clock,
        place: Place,
        name: String,
        holder: Holder,
        record: RecordSet,
    ) -> Lease {
        tracing::info!("holding the lease {name} until {}", holder.expires);
        Lease {
            route53,
            clock,
            place,
            name,
            current: Mutex::new((holder, record)),
        }
    }

    /// Keeps the lease just taken only if this host's clock agrees with Route 53's (see
    /// [`MAX_CLOCK_OFFSET`]); otherwise gives it back — putting `replaced`, the record a takeover
    /// deleted, back in its place in the same batch — and says by how much the clock is off.
    async fn checked(
        self,
        sent: DateTime<Utc>,
        infos: &[ChangeInfo],
        replaced: Option<RecordSet>,
    ) -> Result<Lease, LeaseError> {
        let Some(offset) = clock_offset(&self.clock, sent, infos) else {
            return Ok(self);
        };
        let record = self.name.clone();
        let given_back = match replaced {
            None => self.release().await,
            Some(theirs) => {
                let (_, ours) = self.current();
                let swap = [
                    RecordChange {
                        action: ChangeAction::Delete,
                        record: ours,
                    },
                    RecordChange {
                        action: ChangeAction::Create,
                        record: theirs,
                    },
                ];
                let comment = "drill lease: put back a lease taken over on a wrong clock";
                self.route53
                    .change_records(&self.place.zone_id, &swap, comment)
                    .await
                    .map(|_| ())
                    .map_err(|source| LeaseError::Cloud {
                        record: record.clone(),
                        source,
                    })
            }
        };
        if let Err(e) = given_back {
            tracing::warn!("{e}");
        }
        Err(LeaseError::ClockOffset { record, offset })
    }

    fn current(&self) -> (Holder, RecordSet) {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn holder(&self) -> Holder {
        self.current().0
    }

    /// The lease record's name.
    pub fn record(&self) -> &str {
        &self.name
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    /// Pushes the expiry out by [`LEASE_FOR`]: DELETE exactly what we wrote and CREATE the new
    /// value, in one batch. `Lost` if the record is no longer ours.
    pub async fn renew(&self) -> Result<(), LeaseError> {
        let (held, record) = self.current();
        let holder = Holder {
            expires: self.clock.now() + LEASE_FOR,
            ..held.clone()
        };
        let next = txt_record(&self.name, holder.txt());
        let batch = [
            RecordChange {
                action: ChangeAction::Delete,
                record,
            },
            RecordChange {
                action: ChangeAction::Create,
                record: next.clone(),
            },
        ];
        let comment = format!("drill lease: renew for run {}", held.run_id);
        match self
            .route53
            .change_records(&self.place.zone_id, &batch, &comment)
            .await
        {
            Ok(_) => {
                *self
                    .current
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = (holder, next);
                Ok(())
            }
            Err(e) if refused(&e) => Err(LeaseError::Lost {
                record: self.name.clone(),
                why: self.who_has_it().await,
            }),
            Err(source) => Err(LeaseError::Cloud {
                record: self.name.clone(),
                source,
            }),
        }
    }

    async fn who_has_it(&self) -> String {
        match self.route53.get_record(&self.place.key(&self.name)).await {
            Ok(Some(r)) => match Holder::parse(&r.values.join(" ")) {
                Some(h) => format!("it is now held by {h}"),
                None => format!("it now holds {}", r.values.join(" ")),
            },
            Ok(None) => "the record was deleted".to_string(),
            Err(e) => format!("the record changed, and reading it failed: {e}"),
        }
    }

    /// Renews the lease for as long as it is polled; returns only when the lease is lost (taken
    /// over, deleted, or not renewable before it expired), so a caller can race it against the
    /// run and stop the run when it returns.
    pub async fn keep(&self) -> LeaseError {
        let mut wait = RENEW_EVERY;
        loop {
            self.clock.sleep(wait).await;
            match self.renew().await {
                Ok(()) => wait = RENEW_EVERY,
                Err(e @ LeaseError::Lost { .. }) => return e,
                Err(e) => {
                    let expires = self.holder().expires;
                    if self.clock.now() + RENEW_EVERY / 4 >= expires {
                        return LeaseError::Lost {
                            record: self.name.clone(),
                            why: format!("could not renew it before it expired at {expires}: {e}"),
                        };
                    }
                    tracing::warn!("could not renew the lease (will retry): {e}");
                    wait = RENEW_EVERY / 8;
                }
            }
        }
    }

    /// Deletes exactly what we wrote. If that no longer matches but the record is still ours (a
    /// renewal was in flight when the run ended, so Route 53 holds a newer value of ours), deletes
    /// that. Failing both, the lease expires by itself.
    pub async fn release(&self) -> Result<(), LeaseError> {
        let (holder, mut record) = self.current();
        let comment = format!("drill lease: release after run {}", holder.run_id);
        for attempt in 0..2 {
            let delete = RecordChange {
                action: ChangeAction::Delete,
                record: record.clone(),
            };
            match self
                .route53
                .change_records(&self.place.zone_id, &[delete], &comment)
                .await
            {
                Ok(_) => {
                    tracing::info!("released the lease {}", self.name);
                    return Ok(());
                }
                Err(e) if refused(&e) && attempt == 0 => {
                    let now = self
                        .route53
                        .get_record(&self.place.key(&self.name))
                        .await
                        .ok()
                        .flatten();
                    let ours = now.filter(|r| {
                        Holder::parse(&r.values.join(" "))
                            .is_some_and(|h| h.owner == holder.owner && h.run_id == holder.run_id)
                    });
                    match ours {
                        Some(r) => record = r,
                        None => break,
                    }
                }
                Err(e) if refused(&e) => break,
                Err(source) => {
                    return Err(LeaseError::Cloud {
                        record: self.name.clone(),
                        source,
                    });
                }
            }
        }
        Err(LeaseError::Lost {
            record: self.name.clone(),
            why: self.who_has_it().await,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_through_their_txt_value() {
        let h = Holder {
            owner: "ops-1.example/4242".into(),
            run_id: "20250107T100000Z-1a2b".into(),
            drill: "checkout".into(),
            expires: DateTime::parse_from_rfc3339("2025-01-07T10:10:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(Holder::parse(&h.txt()), Some(h.clone()));
        assert!(
            h.txt().len() < 255,
            "one TXT string holds at most 255 characters"
        );
        assert_eq!(Holder::parse("\"v=spf1 -all\""), None);
        assert_eq!(Holder::parse("\"drill-lease v=1 owner=x\""), None);
    }

    #[test]
    fn the_canonical_zone_is_the_first_by_name_then_id() {
        let zone = |id: &str, name: &str| HostedZone {
            id: id.into(),
            name: name.into(),
            private: false,
            name_servers: Vec::new(),
        };
        let zones = [
            zone("Z9", "example.org."),
            zone("Z5", "Example.com."),
            zone("Z3", "example.com."),
            zone("Z1", "example.net."),
        ];
        assert_eq!(canonical(&zones).map(|z| z.id.as_str()), Some("Z3"));
        assert_eq!(canonical(&[]), None);
    }

    #[test]
    fn the_owner_is_host_and_pid() {
        let o = owner();
        let (host, pid) = o.rsplit_once('/').unwrap();
        assert!(!host.is_empty());
        assert_eq!(pid, std::process::id().to_string());
    }
}
