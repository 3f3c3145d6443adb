//! Undo of record sets, one record set at a time from the whole journal. A record set may carry
//! several outstanding entries (its TTL lowered, then its weight shifted); undo computes the one
//! state it must return to from all of them and writes it as at most one change, because Route 53
//! refuses a batch that names one record set twice.
//!
//! Field by field: a field the entries being undone changed goes back to the value the drill first
//! found; a field the drill never changed, or whose change is not being undone now, is left as it
//! is. Before anything is written, every field is compared with the values this run put there or
//! found there: any other value was set by someone else during the drill, and is reported instead of
//! overwritten.

use serde_json::{Map, Value};

use crate::cloud::RecordSet;

use super::super::journal::{Entry, Mutation};

/// The TTL: the one field whose restore never moves traffic.
const TTL: &str = "ttl";

/// What undo will do to one record set.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordUndo {
    /// What to UPSERT, if anything differs from what is there now.
    pub write: Option<RecordSet>,
    /// One verdict per entry being undone, by sequence number.
    pub verdicts: Vec<(u64, Verdict)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every field it changed is already at its original value.
    Already,
    /// Put back by `write`.
    Restore,
    /// Its routing fields are kept where they are; why is the caller's.
    Held,
    /// Someone else changed the record set during the drill; not overwritten.
    Conflict(String),
}

/// One journal entry of a record set: its sequence number and the fields before and after.
type Fields = (u64, Map<String, Value>, Map<String, Value>);

fn fields(r: &RecordSet) -> Map<String, Value> {
    match serde_json::to_value(r) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn get<'a>(m: &'a Map<String, Value>, k: &str) -> &'a Value {
    m.get(k).unwrap_or(&Value::Null)
}

/// The fields one entry changed.
fn changed(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| get(before, k) != get(after, k))
        .collect()
}

/// Plans the undo of `undoing` (entries of one record set, a subset of `history`, every journaled
/// entry of that record set in order) against `current`, what Route 53 holds now. With
/// `hold_routing`, only TTLs are put back: fields that steer traffic stay as they are.
pub fn plan(
    history: &[&Entry],
    undoing: &[&Entry],
    current: Option<&RecordSet>,
    hold_routing: bool,
) -> RecordUndo {
    // A batch Route 53 refused changed nothing (it applies a batch all or nothing): its entries
    // neither need undoing nor count as values this run set.
    let (never, undoing): (Vec<&Entry>, Vec<&Entry>) =
        undoing.iter().copied().partition(|e| refused(e));
    let sets: Vec<Fields> = history
        .iter()
        .filter(|e| !refused(e))
        .filter_map(|e| match &e.mutation {
            Mutation::RecordSet { before, after, .. } => {
                Some((e.seq, fields(before), fields(after)))
            }
            _ => None,
        })
        .collect();
    let never_changed = never.iter().map(|e| (e.seq, Verdict::Already));
    let mut planned = plan_applied(&sets, &undoing, current, hold_routing);
    planned.verdicts.extend(never_changed);
    planned
}

/// Whether the entry's call was refused outright: an InvalidChangeBatch answer.
fn refused(e: &Entry) -> bool {
    e.failed
        .as_deref()
        .is_some_and(|why| why.contains(": InvalidChangeBatch:"))
}

fn plan_applied(
    sets: &[Fields],
    undoing: &[&Entry],
    current: Option<&RecordSet>,
    hold_routing: bool,
) -> RecordUndo {
    let Some(current) = current else {
        let why = "deleted by someone else during the drill; not re-creating it".to_string();
        return RecordUndo {
            write: None,
            verdicts: undoing
                .iter()
                .map(|e| (e.seq, Verdict::Conflict(why.clone())))
                .collect(),
        };
    };
    let now = fields(current);
    let Some((_, original, _)) = sets.first() else {
        return RecordUndo {
            write: None,
            verdicts: Vec::new(),
        };
    };
    // Every value of a field that this run found or set.
    let ours = |k: &str| -> Vec<&Value> {
        sets.iter()
            .flat_map(|(_, b, a)| [get(b, k), get(a, k)])
            .collect()
    };
    let mut keys: Vec<String> = now
        .keys()
        .chain(sets.iter().flat_map(|(_, b, a)| b.keys().chain(a.keys())))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    // Fields at a value this run never found nor set: someone else's.
    let foreign_keys: Vec<&str> = keys
        .iter()
        .filter(|k| !ours(k).contains(&get(&now, k)))
        .map(String::as_str)
        .collect();
    let foreign: Vec<String> = foreign_keys
        .iter()
        .map(|k| {
            format!(
                "{k} was changed by someone else during the drill (now {}, the drill found {})",
                get(&now, k),
                get(original, k)
            )
        })
        .collect();

    let mut target = now.clone();
    let mut verdicts = Vec::new();
    for entry in undoing {
        let Some((_, before, after)) = sets.iter().find(|(seq, _, _)| *seq == entry.seq) else {
            continue;
        };
        let mine = changed(before, after);
        let routing = mine.iter().any(|k| k != TTL);
        let verdict = if !foreign.is_empty() {
            Verdict::Conflict(format!("{}; not overwriting it", foreign.join("; ")))
        } else if routing && hold_routing {
            Verdict::Held
        } else if mine.iter().all(|k| get(&now, k) == get(original, k)) {
            Verdict::Already
        } else {
            Verdict::Restore
        };
        // Fields nobody else touched go back even when the entry cannot be marked undone: a TTL
        // restored next to a held weight moves nothing.
        for k in &mine {
            if foreign_keys.contains(&k.as_str()) || (hold_routing && k != TTL) {
                continue;
            }
            match original.get(k) {
                Some(v) => target.insert(k.clone(), v.clone()),
                None => target.remove(k),
            };
        }
        verdicts.push((entry.seq, verdict));
    }
    let write = if target == now {
        None
    } else {
        serde_json::from_value(Value::Object(target)).ok()
    };
    RecordUndo { write, verdicts }
}

/// Whether undoing these entries would move traffic (a routing field goes back), as opposed to
/// only putting TTLs back.
pub fn moves_traffic(undoing: &[&Entry]) -> bool {
    undoing.iter().any(|e| match &e.mutation {
        Mutation::RecordSet { before, after, .. } => changed(&fields(before), &fields(after))
            .iter()
            .any(|k| k != TTL),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::RecordKey;

    fn record(ttl: i64, weight: i64) -> RecordSet {
        let mut r = RecordSet::simple("api.example.com.", "A", ttl, &["127.0.0.11"]);
        r.set_identifier = Some("us-east-1".into());
        r.weight = Some(weight);
        r
    }

    fn entry(seq: u64, before: RecordSet, after: RecordSet) -> Entry {
        Entry {
            seq,
            step: "s".into(),
            mutation: Mutation::RecordSet {
                key: RecordKey {
                    zone_id: "Z".into(),
                    name: before.name.clone(),
                    rtype: "A".into(),
                    set_identifier: before.set_identifier.clone(),
                },
                before,
                after,
            },
            done: true,
            failed: None,
            undone: false,
            how: None,
            kept: false,
            undo_failed: None,
            held: None,
        }
    }

    #[test]
    fn a_lowered_and_shifted_record_goes_back_in_one_write() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let shift = entry(2, record(60, 100), record(60, 0));
        let all = [&lower, &shift];
        let plan = plan(&all, &all, Some(&record(60, 0)), false);
        assert_eq!(plan.write, Some(record(300, 100)));
        assert_eq!(
            plan.verdicts,
            vec![(1, Verdict::Restore), (2, Verdict::Restore)]
        );
    }

    #[test]
    fn undoing_only_the_shift_keeps_the_lowered_ttl() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let shift = entry(2, record(60, 100), record(60, 0));
        let plan = plan(&[&lower, &shift], &[&shift], Some(&record(60, 0)), false);
        assert_eq!(plan.write, Some(record(60, 100)));
    }

    #[test]
    fn a_held_routing_change_still_gets_its_ttl_back() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let shift = entry(2, record(60, 100), record(60, 0));
        let all = [&lower, &shift];
        let plan = plan(&all, &all, Some(&record(60, 0)), true);
        assert_eq!(plan.write, Some(record(300, 0)));
        assert_eq!(
            plan.verdicts,
            vec![(1, Verdict::Restore), (2, Verdict::Held)]
        );
    }

    #[test]
    fn a_crash_before_the_call_finds_it_already_restored() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let plan = plan(&[&lower], &[&lower], Some(&record(300, 100)), false);
        assert_eq!(plan.write, None);
        assert_eq!(plan.verdicts, vec![(1, Verdict::Already)]);
    }

    #[test]
    fn a_weight_someone_else_set_is_reported_not_overwritten() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let plan = plan(&[&lower], &[&lower], Some(&record(60, 50)), false);
        // The TTL goes back (it moves nothing), the weight stays as they set it, and the entry
        // is not called restored.
        assert_eq!(plan.write, Some(record(300, 50)));
        match &plan.verdicts[0].1 {
            Verdict::Conflict(why) => {
                assert!(why.contains("weight was changed by someone else"), "{why}")
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_batch_route53_refused_changed_nothing_and_sets_no_value() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let mut shift = entry(2, record(60, 100), record(60, 0));
        shift.failed = Some(
            "ChangeResourceRecordSets on hosted zone Z failed: InvalidChangeBatch: [Tried to delete]"
                .into(),
        );
        // The shift never applied: only the TTL goes back, and the refused entry is not a
        // conflict although the weight is not its `after`.
        let refused = plan(
            &[&lower, &shift],
            &[&lower, &shift],
            Some(&record(60, 100)),
            false,
        );
        assert_eq!(refused.write, Some(record(300, 100)));
        assert!(
            refused.verdicts.contains(&(1, Verdict::Restore)),
            "{refused:?}"
        );
        assert!(
            refused.verdicts.contains(&(2, Verdict::Already)),
            "{refused:?}"
        );
        // A failure that may have applied (no answer) is still planned from what is there.
        shift.failed = Some("ChangeResourceRecordSets could not reach the service".into());
        let maybe = plan(
            &[&lower, &shift],
            &[&lower, &shift],
            Some(&record(60, 0)),
            false,
        );
        assert_eq!(maybe.write, Some(record(300, 100)));
    }

    #[test]
    fn a_deleted_record_is_not_recreated() {
        let lower = entry(1, record(300, 100), record(60, 100));
        let plan = plan(&[&lower], &[&lower], None, false);
        assert_eq!(plan.write, None);
        assert!(matches!(plan.verdicts[0].1, Verdict::Conflict(_)));
    }
}
