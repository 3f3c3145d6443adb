//! Undo: puts journaled mutations back to their `before` values. Fail-back, rollback and
//! `drill recover` all go through here, so there is one way to restore and it is exercised by every
//! successful drill.
//!
//! The order is the drill's in reverse and the same every time: the writer first, then routing
//! (record sets of every zone and health checks, all at once), because traffic follows the writer.
//! Record sets are undone one record set at a time from the whole journal (`records`): at most
//! one change per record set per batch, every zone's batch and INSYNC wait concurrently.
//!
//! Undo compares before it writes: a resource already at its original value is left alone (a
//! crash may have struck before the call, or after a previous undo); a resource at a value this
//! run set is restored; a resource at any other value was changed by someone else during the
//! drill, and is reported instead of being overwritten.
//!
//! Never make it worse: before the writer or traffic moves back, the place it moves to must be
//! able to serve (`gate`). When it cannot, the writer and traffic are held where they are (a
//! `held` journal line, still outstanding for `drill recover`), and only what moves nothing — TTLs
//! — is put back.

mod gate;
mod records;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub use gate::AppCheck;

use crate::clock::Clock;
use crate::cloud::{
    ChangeAction, ChangeStatus, Cloud, CloudError, NameSpan, RecordChange, RecordKey, region_of_arn,
};

use super::journal::{Entry, Journal, Line, Mutation};
use super::{reading, wait};
use records::Verdict;

/// How many times a witness that cannot be read is asked before undo holds.
const ASK_ATTEMPTS: usize = 3;

/// What undo needs: no drill file, no plan, so `drill recover` can use it from the journal alone.
pub struct Undoer<'a> {
    pub cloud: &'a Cloud,
    pub clock: &'a Clock,
    pub journal: &'a Mutex<Journal>,
    pub poll: Duration,
    pub insync_timeout: Duration,
    pub promotion_timeout: Duration,
    /// Asks the application before traffic goes back to it (the drill's HTTP probe), if known.
    pub app: Option<AppCheck>,
    /// The live view, when one is drawn: a fail-back's switchover state shows there.
    pub progress: Option<&'a super::progress::Progress>,
}

/// How one reversal goes.
#[derive(Debug, Clone, Default)]
pub struct Reversal {
    /// Wait, up to the promotion timeout, for the original writer to resync before holding it:
    /// the drill's own fail-back expects to; rollback and recover judge at once.
    pub wait_for_resync: bool,
    /// Keep the writer and traffic where they are (`on_failure = "stay"`), for this reason.
    pub stay: Option<String>,
}

/// A mutation undo did not put back, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Left {
    pub seq: u64,
    pub resource: String,
    pub reason: String,
    /// Its undo used up its time (a wait ran out): not tried again within the same run.
    pub spent: bool,
}

/// What one undo left: mutations it could not restore, and mutations it held on purpose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Undone {
    pub left: Vec<Left>,
    pub held: Vec<Left>,
}

impl Undone {
    pub fn is_complete(&self) -> bool {
        self.left.is_empty() && self.held.is_empty()
    }

    fn extend(&mut self, other: Undone) {
        self.left.extend(other.left);
        self.held.extend(other.held);
    }
}

/// A writer held where it is, and why.
fn stays(why: String, after: &str) -> NotBack {
    NotBack::Held(format!(
        "{why}; the writer stays on {after}, where it serves"
    ))
}

/// Why a writer was not moved back.
enum NotBack {
    Held(String),
    Failed(String),
    /// A wait ran out: trying again within the run would wait as long again.
    TimedOut(String),
}

impl Undoer<'_> {
    /// Undoes the outstanding entries `select` picks, reading the rest of `journal` (every entry
    /// of the run, in order) to know what each resource was and what this run did to it.
    pub async fn undo(
        &self,
        journal: &[Entry],
        select: &dyn Fn(&Entry) -> bool,
        how: &Reversal,
    ) -> Undone {
        let undoing: Vec<&Entry> = journal
            .iter()
            .filter(|e| !e.undone && !e.kept && select(e))
            .collect();
        let mut undone = Undone::default();
        let original_writer = journal.iter().find_map(|e| match &e.mutation {
            Mutation::Writer {
                global_cluster,
                region,
                before,
                ..
            } => Some(gate::Writer {
                global_cluster: global_cluster.clone(),
                region: region.clone(),
                original: before.clone(),
            }),
            _ => None,
        });

        // The writer first: traffic follows it.
        for entry in undoing.iter().rev() {
            if !matches!(entry.mutation, Mutation::Writer { .. }) {
                continue;
            }
            let result = match &how.stay {
                Some(why) => Err(NotBack::Held(why.clone())),
                None => self.writer_back(entry, how).await,
            };
            match result {
                Ok(done) => self.restored(entry, done),
                Err(NotBack::Held(why)) => undone.held.push(self.held(entry, why)),
                Err(NotBack::Failed(why)) => undone.left.push(self.failed(entry, why)),
                Err(NotBack::TimedOut(why)) => {
                    let mut left = self.failed(entry, why);
                    left.spent = true;
                    undone.left.push(left);
                }
            }
        }

        let routing: Vec<&Entry> = undoing
            .iter()
            .copied()
            .filter(|e| !matches!(e.mutation, Mutation::Writer { .. }))
            .collect();
        if routing.is_empty() {
            return undone;
        }
        let hold = match &how.stay {
            Some(why) => Some(why.clone()),
            None => {
                self.routing_gate(journal, &routing, original_writer.as_ref())
                    .await
            }
        };
        if let Some(why) = &hold {
            tracing::warn!("holding traffic where it is: {why}");
        }
        let checks = routing
            .iter()
            .copied()
            .filter(|e| matches!(e.mutation, Mutation::HealthCheck { .. }));
        let checks =
            futures::future::join_all(checks.map(|e| self.undo_health_check(e, hold.as_deref())));
        let (records, checks) = tokio::join!(
            self.undo_records(journal, &routing, hold.as_deref()),
            checks
        );
        undone.extend(records);
        for c in checks {
            undone.extend(c);
        }
        undone
    }

    /// Whether traffic may go back where these entries would send it; Some(why) if not.
    async fn routing_gate(
        &self,
        journal: &[Entry],
        routing: &[&Entry],
        writer: Option<&gate::Writer>,
    ) -> Option<String> {
        let checks: Vec<&str> = routing
            .iter()
            .filter_map(|e| match &e.mutation {
                Mutation::HealthCheck { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        if !records::moves_traffic(routing) && checks.is_empty() {
            return None; // only TTLs go back: that moves nothing
        }
        let mut reasons = Vec::new();
        if let Some(writer) = writer
            && let Err(why) = self.ask(|| gate::writer_is_back(self.cloud, writer)).await
        {
            reasons.push(why);
        }
        // The endpoints that would gain traffic: records whose weight goes back up, and the
        // records whose health check goes back to watching them plainly.
        let mut gaining = Vec::new();
        for e in routing {
            if let Mutation::RecordSet { before, after, .. } = &e.mutation
                && before.weight.unwrap_or(0) > after.weight.unwrap_or(0)
            {
                gaining.push(before.clone());
            }
        }
        for e in journal {
            if let Mutation::RecordSet { before, .. } = &e.mutation
                && before
                    .health_check_id
                    .as_deref()
                    .is_some_and(|id| checks.contains(&id))
                && !gaining.iter().any(|g| g.key("") == before.key(""))
            {
                gaining.push(before.clone());
            }
        }
        let mut ids: Vec<&str> = checks.clone();
        ids.extend(gaining.iter().filter_map(|r| r.health_check_id.as_deref()));
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Err(why) = self.ask(|| gate::endpoint_up(self.cloud, id)).await {
                reasons.push(why);
            }
        }
        if let Some(app) = &self.app {
            let mut addresses: Vec<&str> = gaining
                .iter()
                .flat_map(|r| r.values.iter().map(String::as_str))
                .collect();
            addresses.sort();
            addresses.dedup();
            for address in addresses {
                if let Err(why) = self.ask(|| gate::app_answers(app, address)).await {
                    reasons.push(why);
                }
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Asks one witness; an answer that could not be read is asked again a few times, a poll
    /// apart, before it counts against moving (holding is the safe side of not knowing).
    async fn ask<F, Fut>(&self, question: F) -> Result<(), String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), gate::NoGo>>,
    {
        let mut last = None;
        for attempt in 0..ASK_ATTEMPTS {
            if attempt > 0 {
                self.clock.sleep(self.poll).await;
            }
            match question().await {
                Ok(()) => return Ok(()),
                Err(no) if no.unknown => last = Some(no.why),
                Err(no) => return Err(no.why),
            }
        }
        Err(last.unwrap_or_default())
    }

    fn record(&self, line: Line) {
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = journal.append(&line) {
            tracing::error!("{e}");
        }
    }

    fn restored(&self, entry: &Entry, how: &str) {
        self.restored_all(&[entry], how);
    }

    /// Journals these entries undone, in one write.
    fn restored_all(&self, entries: &[&Entry], how: &str) {
        let at = self.clock.now();
        let lines: Vec<Line> = entries
            .iter()
            .map(|e| Line::Undone {
                seq: e.seq,
                at,
                how: how.to_string(),
            })
            .collect();
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = journal.append_all(&lines) {
            tracing::error!("{e}");
        }
    }

    fn left(entry: &Entry, reason: String) -> Left {
        Left {
            seq: entry.seq,
            resource: entry.mutation.resource(),
            reason,
            spent: false,
        }
    }

    fn failed(&self, entry: &Entry, reason: String) -> Left {
        self.record(Line::UndoFailed {
            seq: entry.seq,
            at: self.clock.now(),
            error: reason.clone(),
        });
        Self::left(entry, reason)
    }

    fn held(&self, entry: &Entry, reason: String) -> Left {
        self.record(Line::Held {
            seq: entry.seq,
            at: self.clock.now(),
            reason: reason.clone(),
        });
        Self::left(entry, reason)
    }

    /// Every record set of `routing`, planned from the whole journal, written as one batch per
    /// zone; zones at once.
    async fn undo_records(
        &self,
        journal: &[Entry],
        routing: &[&Entry],
        hold: Option<&str>,
    ) -> Undone {
        let mut by_zone: BTreeMap<&str, BTreeMap<&RecordKey, Vec<&Entry>>> = BTreeMap::new();
        for e in routing {
            if let Mutation::RecordSet { key, .. } = &e.mutation {
                by_zone
                    .entry(key.zone_id.as_str())
                    .or_default()
                    .entry(key)
                    .or_default()
                    .push(e);
            }
        }
        // Every record set's whole history, indexed once (not searched per record set).
        let mut histories: BTreeMap<&RecordKey, Vec<&Entry>> = BTreeMap::new();
        for e in journal {
            if let Mutation::RecordSet { key, .. } = &e.mutation {
                histories.entry(key).or_default().push(e);
            }
        }
        let histories = &histories;
        let zones = by_zone
            .into_iter()
            .map(|(zone, keys)| self.undo_zone(histories, zone, keys, hold));
        let mut undone = Undone::default();
        let mut pending = Vec::new();
        for (z, ids) in futures::future::join_all(zones).await {
            undone.extend(z);
            pending.extend(ids);
        }
        // One wait for every zone's change: changes reach INSYNC in about the order they were
        // sent, so polling the oldest pending one at a time costs a call per poll, not a call per
        // zone per poll (Route 53 allows 5 a second for the whole account). The values are
        // restored once Route 53 accepts them; INSYNC is propagation, so a slow one is reported
        // but does not make the restore incomplete.
        if let Err(e) = wait::insync(
            self.cloud,
            self.clock,
            &pending,
            self.poll,
            self.insync_timeout,
        )
        .await
        {
            tracing::warn!("restored the records, but {e}");
        }
        undone
    }

    async fn undo_zone(
        &self,
        histories: &BTreeMap<&RecordKey, Vec<&Entry>>,
        zone: &str,
        keys: BTreeMap<&RecordKey, Vec<&Entry>>,
        hold: Option<&str>,
    ) -> (Undone, Vec<String>) {
        let mut undone = Undone::default();
        let mut changes = Vec::new();
        let mut pending: Vec<&Entry> = Vec::new();
        let mut already: Vec<&Entry> = Vec::new();
        // The zone is listed once, over the span of the names being undone.
        let span = NameSpan::covering(keys.keys().map(|k| k.name.as_str()));
        let wanted = keys.keys().copied().collect();
        let now = match self.cloud.route53.list_records(zone, &span).await {
            Ok(listing) => reading::pick(zone, &wanted, listing),
            Err(e) => {
                for entry in keys.into_values().flatten() {
                    undone.left.push(self.failed(entry, e.to_string()));
                }
                return (undone, Vec::new());
            }
        };
        for (key, undoing) in keys {
            let history = histories.get(key).map(Vec::as_slice).unwrap_or_default();
            let current = now.get(key);
            let plan = records::plan(history, &undoing, current, hold.is_some());
            if let Some(record) = plan.write {
                changes.push(RecordChange {
                    action: ChangeAction::Upsert,
                    record,
                });
            }
            for (seq, verdict) in plan.verdicts {
                let Some(entry) = undoing.iter().find(|e| e.seq == seq) else {
                    continue;
                };
                match verdict {
                    Verdict::Already => already.push(entry),
                    Verdict::Restore => pending.push(entry),
                    Verdict::Held => undone
                        .held
                        .push(self.held(entry, hold.unwrap_or_default().to_string())),
                    Verdict::Conflict(why) => undone.left.push(self.failed(entry, why)),
                }
            }
        }
        self.restored_all(&already, "already");
        let mut pending_changes = Vec::new();
        if changes.is_empty() {
            return (undone, pending_changes);
        }
        match self
            .cloud
            .route53
            .change_records(zone, &changes, "failover-drill: restore")
            .await
        {
            Ok(infos) => {
                self.restored_all(&pending, "restored");
                pending_changes.extend(
                    infos
                        .iter()
                        .filter(|c| c.status == ChangeStatus::Pending)
                        .map(|c| c.id.clone()),
                );
            }
            Err(e) => {
                for entry in pending {
                    undone.left.push(self.failed(entry, e.to_string()));
                }
            }
        }
        (undone, pending_changes)
    }

    async fn undo_health_check(&self, entry: &Entry, hold: Option<&str>) -> Undone {
        let mut undone = Undone::default();
        let Mutation::HealthCheck { id, before, after } = &entry.mutation else {
            return undone;
        };
        let check = match self.cloud.route53.get_health_check(id).await {
            Ok(check) => check,
            Err(e) => {
                undone.left.push(self.failed(entry, e.to_string()));
                return undone;
            }
        };
        let now = check.settings();
        if now == *before {
            self.restored(entry, "already");
            return undone;
        }
        if now != *after {
            undone.left.push(self.failed(
                entry,
                format!(
                    "changed by someone else during the drill (now {now:?}); not overwriting it"
                ),
            ));
            return undone;
        }
        if let Some(why) = hold {
            undone.held.push(self.held(entry, why.to_string()));
            return undone;
        }
        match self
            .cloud
            .route53
            .update_health_check(id, check.version, *before)
            .await
        {
            Ok(_) => self.restored(entry, "restored"),
            Err(e) => undone.left.push(self.failed(entry, e.to_string())),
        }
        undone
    }

    async fn writer_back(&self, entry: &Entry, how: &Reversal) -> Result<&'static str, NotBack> {
        let Mutation::Writer {
            global_cluster,
            region,
            before,
            after,
            ..
        } = &entry.mutation
        else {
            return Ok("already");
        };
        let failed = |e: &dyn std::fmt::Display| NotBack::Failed(e.to_string());
        let waited = |e: wait::WaitError| match e {
            wait::WaitError::Timeout { .. } => NotBack::TimedOut(e.to_string()),
            e => NotBack::Failed(e.to_string()),
        };
        // A promotion still running must finish before it can be reversed.
        let global = wait::no_failover_state(
            self.cloud,
            self.clock,
            region,
            global_cluster,
            self.poll,
            self.promotion_timeout,
        )
        .await
        .map_err(waited)?;
        let writer = global.writer().map(|m| m.cluster_arn.clone());
        if writer.as_deref() == Some(before.as_str()) {
            return Ok("already");
        }
        if writer.as_deref() != Some(after.as_str()) {
            return Err(NotBack::Failed(format!(
                "the writer is now {}, neither the original {before} nor the promoted {after}: someone else moved it during the drill; not moving it",
                writer.as_deref().unwrap_or("nobody")
            )));
        }
        // After a failover with data loss the old writer rejoins as a secondary and must resync
        // before a switchover back is possible: that is the normal way back, and is waited for
        // (bounded). A cluster that cannot serve at all is only waited for by the drill's own
        // fail-back; rollback and recover hold at once.
        let back_region = region_of_arn(before).unwrap_or(region).to_string();
        let original = gate::Writer {
            global_cluster: global_cluster.clone(),
            region: region.clone(),
            original: before.clone(),
        };
        let connected = global.member(before).is_some_and(|m| {
            m.synchronization_status.as_deref().unwrap_or("connected") == "connected"
        });
        if !connected {
            let serves = self
                .ask(|| gate::cluster_serves(self.cloud, &original))
                .await;
            let sync = global
                .member(before)
                .and_then(|m| m.synchronization_status.clone())
                .unwrap_or_else(|| "not a member".to_string());
            let waited = match serves {
                Err(why) if !how.wait_for_resync => Err(format!(
                    "{why}, and {before} is {sync}, not a connected member of {global_cluster}"
                )),
                _ => wait::member_connected(
                    self.cloud,
                    self.clock,
                    &back_region,
                    global_cluster,
                    before,
                    self.poll,
                    self.promotion_timeout,
                )
                .await
                .map_err(|e| e.to_string()),
            };
            waited.map_err(|why| stays(why, after))?;
        }
        // Asked again after any wait: the cluster must serve when the writer moves to it.
        self.ask(|| gate::cluster_serves(self.cloud, &original))
            .await
            .map_err(|why| stays(why, after))?;
        self.cloud
            .rds
            .switchover(&back_region, global_cluster, before)
            .await
            .map_err(|e: CloudError| failed(&e))?;
        wait::promoted(
            self.cloud,
            self.clock,
            &wait::Promotion {
                region: &back_region,
                global_cluster,
                target: before,
            },
            self.poll,
            self.promotion_timeout,
            &|state| {
                if let Some(p) = self.progress {
                    p.database(state);
                }
            },
        )
        .await
        .map_err(waited)?;
        Ok("restored")
    }
}
