//! Undo: puts journaled mutations back to their `before` values. Fail-back, rollback and
//! `drill recover` all go through here, so there is one way to restore and it is exercised by every
//! successful drill.
//!
//! Undo compares before it writes: a resource already at `before` is left alone (a crash may have
//! struck before the call, or after a previous undo); a resource at `after` is restored; a resource
//! at any third value was changed by someone else during the drill, and is reported instead of
//! being overwritten. Record sets are compared field by field: only the fields the mutation changed
//! matter, and only those are put back.

use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Clock;
use crate::cloud::{
    ChangeAction, ChangeStatus, Cloud, CloudError, RecordChange, RecordSet, region_of_arn,
};

use super::journal::{Entry, Journal, Line, Mutation};
use super::wait;

/// What undo needs: no drill file, no plan, so `drill recover` can use it from the journal alone.
pub struct Undoer<'a> {
    pub cloud: &'a Cloud,
    pub clock: &'a Clock,
    pub journal: &'a Mutex<Journal>,
    pub poll: Duration,
    pub insync_timeout: Duration,
    pub promotion_timeout: Duration,
}

/// A mutation undo could not restore, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Left {
    pub seq: u64,
    pub resource: String,
    pub reason: String,
}

impl Undoer<'_> {
    /// Undoes `entries` in the order given (callers pass newest first for a rollback). Consecutive
    /// record-set entries of one zone go in one change batch.
    pub async fn undo(&self, entries: &[Entry]) -> Vec<Left> {
        let mut left = Vec::new();
        let mut i = 0;
        while i < entries.len() {
            match &entries[i].mutation {
                Mutation::RecordSet { key, .. } => {
                    let zone = key.zone_id.clone();
                    let mut j = i;
                    while j < entries.len()
                        && matches!(&entries[j].mutation, Mutation::RecordSet { key, .. } if key.zone_id == zone)
                    {
                        j += 1;
                    }
                    left.extend(self.undo_records(&zone, &entries[i..j]).await);
                    i = j;
                }
                Mutation::HealthCheck { .. } => {
                    left.extend(self.undo_health_check(&entries[i]).await);
                    i += 1;
                }
                Mutation::Writer { .. } => {
                    left.extend(self.undo_writer(&entries[i]).await);
                    i += 1;
                }
            }
        }
        left
    }

    fn record(&self, line: Line) {
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = journal.append(&line) {
            tracing::error!("{e}");
        }
    }

    fn restored(&self, entry: &Entry, how: &str) {
        self.record(Line::Undone {
            seq: entry.seq,
            at: self.clock.now(),
            how: how.to_string(),
        });
    }

    fn failed(&self, entry: &Entry, reason: String) -> Left {
        self.record(Line::UndoFailed {
            seq: entry.seq,
            at: self.clock.now(),
            error: reason.clone(),
        });
        Left {
            seq: entry.seq,
            resource: entry.mutation.resource(),
            reason,
        }
    }

    async fn undo_records(&self, zone: &str, entries: &[Entry]) -> Vec<Left> {
        let mut left = Vec::new();
        let mut changes = Vec::new();
        let mut pending = Vec::new();
        for entry in entries {
            let Mutation::RecordSet { key, before, after } = &entry.mutation else {
                continue;
            };
            match self.cloud.route53.get_record(key).await {
                Ok(Some(current)) => match field_undo(&current, before, after) {
                    FieldUndo::Already => self.restored(entry, "already"),
                    FieldUndo::Restore(target) => {
                        changes.push(RecordChange {
                            action: ChangeAction::Upsert,
                            record: *target,
                        });
                        pending.push(entry);
                    }
                    FieldUndo::Conflict => left.push(self.failed(
                        entry,
                        format!(
                            "changed by someone else during the drill (now {}); not overwriting it. Expected {}",
                            compact(&current),
                            compact(after)
                        ),
                    )),
                },
                Ok(None) => left.push(self.failed(
                    entry,
                    "deleted by someone else during the drill; not re-creating it".to_string(),
                )),
                Err(e) => left.push(self.failed(entry, e.to_string())),
            }
        }
        if changes.is_empty() {
            return left;
        }
        match self
            .cloud
            .route53
            .change_records(zone, &changes, "failover-drill: restore")
            .await
        {
            Ok(infos) => {
                for entry in &pending {
                    self.restored(entry, "restored");
                }
                let ids: Vec<String> = infos
                    .iter()
                    .filter(|c| c.status == ChangeStatus::Pending)
                    .map(|c| c.id.clone())
                    .collect();
                // The values are restored once Route 53 accepts them; INSYNC is propagation, so a
                // slow one is reported but does not make the restore incomplete.
                if let Err(e) =
                    wait::insync(self.cloud, self.clock, &ids, self.poll, self.insync_timeout).await
                {
                    tracing::warn!("restored records in zone {zone}, but {e}");
                }
            }
            Err(e) => {
                for entry in pending {
                    left.push(self.failed(entry, e.to_string()));
                }
            }
        }
        left
    }

    async fn undo_health_check(&self, entry: &Entry) -> Option<Left> {
        let Mutation::HealthCheck { id, before, after } = &entry.mutation else {
            return None;
        };
        let check = match self.cloud.route53.get_health_check(id).await {
            Ok(check) => check,
            Err(e) => return Some(self.failed(entry, e.to_string())),
        };
        let now = check.settings();
        if now == *before {
            self.restored(entry, "already");
            return None;
        }
        if now != *after {
            return Some(self.failed(
                entry,
                format!(
                    "changed by someone else during the drill (now {now:?}); not overwriting it"
                ),
            ));
        }
        match self
            .cloud
            .route53
            .update_health_check(id, check.version, *before)
            .await
        {
            Ok(_) => {
                self.restored(entry, "restored");
                None
            }
            Err(e) => Some(self.failed(entry, e.to_string())),
        }
    }

    async fn undo_writer(&self, entry: &Entry) -> Option<Left> {
        let Mutation::Writer {
            global_cluster,
            region,
            before,
            after,
            ..
        } = &entry.mutation
        else {
            return None;
        };
        match self
            .writer_back(global_cluster, region, before, after)
            .await
        {
            Ok(how) => {
                self.restored(entry, how);
                None
            }
            Err(reason) => Some(self.failed(entry, reason)),
        }
    }

    async fn writer_back(
        &self,
        global_cluster: &str,
        region: &str,
        before: &str,
        after: &str,
    ) -> Result<&'static str, String> {
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
        .map_err(|e| e.to_string())?;
        let writer = global.writer().map(|m| m.cluster_arn.clone());
        if writer.as_deref() == Some(before) {
            return Ok("already");
        }
        if writer.as_deref() != Some(after) {
            return Err(format!(
                "the writer is now {}, neither the original {before} nor the promoted {after}; not moving it",
                writer.as_deref().unwrap_or("nobody")
            ));
        }
        // After a failover with data loss the old writer rejoins as a secondary and must resync
        // before a switchover back is possible.
        let back_region = region_of_arn(before).unwrap_or(region).to_string();
        wait::member_connected(
            self.cloud,
            self.clock,
            &back_region,
            global_cluster,
            before,
            self.poll,
            self.promotion_timeout,
        )
        .await
        .map_err(|e| e.to_string())?;
        self.cloud
            .rds
            .switchover(&back_region, global_cluster, before)
            .await
            .map_err(|e: CloudError| e.to_string())?;
        wait::promoted(
            self.cloud,
            self.clock,
            &back_region,
            global_cluster,
            before,
            self.poll,
            self.promotion_timeout,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok("restored")
    }
}

enum FieldUndo {
    Already,
    Restore(Box<RecordSet>),
    Conflict,
}

/// Undo of one record-set mutation, field by field: only the fields the mutation changed are put
/// back, on top of the record as it is now. So restoring a TTL keeps a weight a later (kept)
/// mutation set, and an unrelated edit made by someone else during the drill survives.
fn field_undo(current: &RecordSet, before: &RecordSet, after: &RecordSet) -> FieldUndo {
    let as_map = |r: &RecordSet| match serde_json::to_value(r) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (now, was, set) = (as_map(current), as_map(before), as_map(after));
    let changed: Vec<&String> = was
        .keys()
        .chain(set.keys())
        .filter(|k| was.get(*k) != set.get(*k))
        .collect();
    if changed.iter().all(|k| now.get(*k) == was.get(*k)) {
        return FieldUndo::Already;
    }
    if !changed.iter().all(|k| now.get(*k) == set.get(*k)) {
        return FieldUndo::Conflict;
    }
    let mut target = now.clone();
    for k in changed {
        match was.get(k) {
            Some(v) => target.insert(k.clone(), v.clone()),
            None => target.remove(k),
        };
    }
    match serde_json::from_value(serde_json::Value::Object(target)) {
        Ok(record) => FieldUndo::Restore(Box::new(record)),
        Err(_) => FieldUndo::Conflict,
    }
}

/// A record set on one line for messages.
fn compact(record: &crate::cloud::RecordSet) -> String {
    serde_json::to_string(record).unwrap_or_default()
}
