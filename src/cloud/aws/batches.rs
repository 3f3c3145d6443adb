//! Splitting a zone's changes into ChangeResourceRecordSets calls that fit Route 53's request limits:
//! at most 1,000 changes, 1,000 ResourceRecord elements and 32,000 characters of record values per
//! call, where an UPSERT counts its records and characters twice.

use crate::cloud::{ChangeAction, RecordChange};

pub(crate) const MAX_CHANGES: usize = 1_000;
pub(crate) const MAX_RECORDS: usize = 1_000;
pub(crate) const MAX_VALUE_CHARS: usize = 32_000;

/// Consecutive, order-preserving slices of `changes`, each within the limits. A DELETE followed by
/// a CREATE of the same record set is a replacement and never split: apart, the DELETE would
/// remove the record for as long as the next call takes, or for good if it failed. A single change
/// (or replacement) that exceeds a limit on its own goes alone, so that Route 53 reports the
/// problem.
pub(crate) fn batches(changes: &[RecordChange]) -> Vec<&[RecordChange]> {
    let mut out = Vec::new();
    let mut start = 0;
    let (mut records, mut chars) = (0, 0);
    let mut i = 0;
    while i < changes.len() {
        let len = if replaces(changes, i) { 2 } else { 1 };
        let (r, c) = changes[i..i + len]
            .iter()
            .map(weight)
            .fold((0, 0), |(r, c), (r2, c2)| (r + r2, c + c2));
        let count = i - start;
        if count > 0
            && (count + len > MAX_CHANGES
                || records + r > MAX_RECORDS
                || chars + c > MAX_VALUE_CHARS)
        {
            out.push(&changes[start..i]);
            start = i;
            records = 0;
            chars = 0;
        }
        records += r;
        chars += c;
        i += len;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// Whether `changes[i]` is a DELETE that the next change re-CREATEs (the same name, type and set).
fn replaces(changes: &[RecordChange], i: usize) -> bool {
    let (Some(delete), Some(create)) = (changes.get(i), changes.get(i + 1)) else {
        return false;
    };
    let (a, b) = (&delete.record, &create.record);
    delete.action == ChangeAction::Delete
        && create.action == ChangeAction::Create
        && a.name == b.name
        && a.rtype == b.rtype
        && a.set_identifier == b.set_identifier
}

/// (ResourceRecord elements, value characters) as Route 53 counts them for this change.
fn weight(change: &RecordChange) -> (usize, usize) {
    let factor = match change.action {
        ChangeAction::Upsert => 2,
        ChangeAction::Create | ChangeAction::Delete => 1,
    };
    let values = &change.record.values;
    let chars: usize = values.iter().map(|v| v.chars().count()).sum();
    (values.len() * factor, chars * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::RecordSet;

    fn change(action: ChangeAction, i: usize, values: &[&str]) -> RecordChange {
        RecordChange {
            action,
            record: RecordSet::simple(&format!("r{i}.example.com."), "A", 60, values),
        }
    }

    fn sizes(changes: &[RecordChange]) -> Vec<usize> {
        batches(changes).iter().map(|b| b.len()).collect()
    }

    #[test]
    fn at_most_a_thousand_changes_per_call() {
        let changes: Vec<_> = (0..2_500)
            .map(|i| change(ChangeAction::Delete, i, &[]))
            .collect();
        assert_eq!(sizes(&changes), vec![1_000, 1_000, 500]);
        let flat: Vec<_> = batches(&changes).concat();
        assert_eq!(flat, changes, "order and content are preserved");
    }

    #[test]
    fn upserts_count_their_records_twice() {
        let changes: Vec<_> = (0..600)
            .map(|i| change(ChangeAction::Upsert, i, &["192.0.2.1"]))
            .collect();
        assert_eq!(sizes(&changes), vec![500, 100]);
    }

    #[test]
    fn value_characters_are_bounded() {
        let long = "x".repeat(255);
        let changes: Vec<_> = (0..200)
            .map(|i| change(ChangeAction::Create, i, &[&long]))
            .collect();
        // 125 values of 255 characters fit in 32,000; the 126th does not.
        assert_eq!(sizes(&changes), vec![125, 75]);
    }

    #[test]
    fn a_replacement_is_never_split_across_calls() {
        let mut changes = Vec::new();
        // 333 lone CREATEs, then replacements: the 334th change starts a DELETE + CREATE pair at
        // change 999 of the first call, which would split it.
        for i in 0..999 {
            changes.push(change(ChangeAction::Create, i, &[]));
        }
        for i in 999..1_100 {
            changes.push(change(ChangeAction::Delete, i, &["192.0.2.1"]));
            changes.push(change(ChangeAction::Create, i, &["192.0.2.2"]));
        }
        let calls = batches(&changes);
        assert_eq!(calls[0].len(), 999, "the pair goes to the next call whole");
        for call in &calls {
            assert_ne!(call.last().unwrap().action, ChangeAction::Delete);
        }
        for call in &calls[1..] {
            assert_eq!(call.first().unwrap().action, ChangeAction::Delete);
        }
        assert_eq!(batches(&changes).concat(), changes);
    }

    #[test]
    fn nothing_to_send_means_no_calls() {
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn an_oversized_change_goes_alone() {
        let values: Vec<String> = (0..1_200)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let changes = vec![
            change(ChangeAction::Create, 0, &["192.0.2.1"]),
            change(ChangeAction::Create, 1, &refs),
            change(ChangeAction::Create, 2, &["192.0.2.2"]),
        ];
        assert_eq!(sizes(&changes), vec![1, 1, 1]);
    }
}
