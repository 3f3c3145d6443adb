//! What a lab run puts in its report: a summary small whatever the size of the world (counts,
//! every difference between the world before and after the drill, the ground truth's key figures),
//! and the whole picture (both snapshots, the whole ground truth) for a sidecar file beside it.
//!
//! The differences are the evidence when the world did not end as it began: each names the
//! resource and the field, with its value before and after. A drill that restores everything has
//! none, so the list is short exactly when it is read.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::snapshot::Snapshot;
use super::truth::{Figures, GroundTruth};

/// The format of the sidecar file; readers refuse a newer one.
pub const DETAILS_FORMAT: u32 = 1;

/// How big the world is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub zones: usize,
    pub record_sets: usize,
    pub health_checks: usize,
    /// Clusters, members of global clusters and standalone ones.
    pub clusters: usize,
}

impl Counts {
    pub fn of(s: &Snapshot) -> Self {
        Counts {
            zones: s.zones.len(),
            record_sets: s.zones.iter().map(|z| z.records.len()).sum(),
            health_checks: s.health_checks.len(),
            clusters: s
                .global_clusters
                .iter()
                .map(|g| g.members.len())
                .sum::<usize>()
                + s.standalone_clusters.len(),
        }
    }
}

/// One field of one resource that differs between two snapshots. A resource present on one side
/// only differs in its field `exists` (before or after is `null`, the other side the whole
/// resource).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `record set`, `health check`, `global cluster`, `cluster`, `standalone cluster` or
    /// `region`.
    pub kind: &'static str,
    /// Which one: `name TYPE (set id) in zone Z…`, a health check or cluster id, a region.
    pub resource: String,
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// Every difference between `before` and `after`, by kind, then resource, then field.
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    let mut out = Vec::new();
    compare(&mut out, "record set", &records(before), &records(after));
    compare(
        &mut out,
        "health check",
        &keyed(&before.health_checks, |h| h.id.clone()),
        &keyed(&after.health_checks, |h| h.id.clone()),
    );
    let globals = |s: &Snapshot| {
        keyed(&s.global_clusters, |g| g.id.clone())
            .into_iter()
            .map(|(id, mut v)| {
                // Members are compared one by one below, as clusters.
                if let Some(o) = v.as_object_mut() {
                    o.remove("members");
                }
                (id, v)
            })
            .collect::<BTreeMap<_, _>>()
    };
    compare(
        &mut out,
        "global cluster",
        &globals(before),
        &globals(after),
    );
    let members = |s: &Snapshot| {
        let mut m = BTreeMap::new();
        for g in &s.global_clusters {
            for member in &g.members {
                let mut v = serde_json::to_value(member).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("global_cluster".to_string(), Value::String(g.id.clone()));
                }
                m.insert(member.cluster_arn.clone(), v);
            }
        }
        m
    };
    compare(&mut out, "cluster", &members(before), &members(after));
    let present = |items: &[String]| {
        items
            .iter()
            .map(|i| (i.clone(), Value::Bool(true)))
            .collect::<BTreeMap<_, _>>()
    };
    compare(
        &mut out,
        "standalone cluster",
        &present(&before.standalone_clusters),
        &present(&after.standalone_clusters),
    );
    let down = |s: &Snapshot| {
        s.regions_down
            .iter()
            .map(|r| (r.clone(), serde_json::json!({ "down": true })))
            .collect::<BTreeMap<_, _>>()
    };
    compare(&mut out, "region", &down(before), &down(after));
    out
}

fn keyed<T: Serialize>(items: &[T], id: impl Fn(&T) -> String) -> BTreeMap<String, Value> {
    items
        .iter()
        .map(|i| (id(i), serde_json::to_value(i).unwrap_or(Value::Null)))
        .collect()
}

fn records(s: &Snapshot) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for z in &s.zones {
        for r in &z.records {
            let set = r
                .set_identifier
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            out.insert(
                format!("{} {}{set} in zone {}", r.name, r.rtype, z.id),
                serde_json::to_value(r).unwrap_or(Value::Null),
            );
        }
    }
    out
}

/// Appends the differences between two keyed collections of JSON objects, field by field.
fn compare(
    out: &mut Vec<Difference>,
    kind: &'static str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) {
    let mut ids: Vec<&String> = before.keys().chain(after.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let difference = |field: &str, before: Value, after: Value| Difference {
            kind,
            resource: id.clone(),
            field: field.to_string(),
            before,
            after,
        };
        match (before.get(id), after.get(id)) {
            (Some(b), Some(a)) if b == a => {}
            (Some(Value::Object(b)), Some(Value::Object(a))) => {
                let mut fields: Vec<&String> = b.keys().chain(a.keys()).collect();
                fields.sort();
                fields.dedup();
                for f in fields {
                    let (vb, va) = (
                        b.get(f).cloned().unwrap_or(Value::Null),
                        a.get(f).cloned().unwrap_or(Value::Null),
                    );
                    if vb != va {
                        out.push(difference(f, vb, va));
                    }
                }
            }
            (b, a) => out.push(difference(
                "exists",
                b.cloned().unwrap_or(Value::Null),
                a.cloned().unwrap_or(Value::Null),
            )),
        }
    }
}

/// The report's `lab` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub time_scale: f64,
    pub faults: Vec<String>,
    /// Whether the world's durable state ended as it began (no differences).
    pub world_restored: bool,
    /// The size of the world when the drill began.
    pub counts: Counts,
    pub differences: Vec<Difference>,
    pub ground_truth: Figures,
}

impl Summary {
    pub fn new(
        time_scale: f64,
        faults: Vec<String>,
        before: &Snapshot,
        after: &Snapshot,
        truth: &GroundTruth,
    ) -> Self {
        let differences = differences(before, after);
        Summary {
            time_scale,
            faults,
            // Equal snapshots have no differences; the comparison is kept as the definition.
            world_restored: before == after,
            counts: Counts::of(before),
            differences,
            ground_truth: truth.figures(),
        }
    }
}

/// The sidecar file's contents: the whole picture the summary was made from.
#[derive(Debug, Clone, Serialize)]
pub struct Details<'a> {
    pub format: u32,
    pub run_id: &'a str,
    pub initial_state: &'a Snapshot,
    pub final_state: &'a Snapshot,
    pub ground_truth: &'a GroundTruth,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::RecordSet;
    use crate::lab::snapshot::{GlobalSnapshot, HealthCheckSnapshot, MemberSnapshot, ZoneSnapshot};

    fn world() -> Snapshot {
        let record = |set: &str, weight| RecordSet {
            set_identifier: Some(set.to_string()),
            weight: Some(weight),
            ..RecordSet::simple("api.example.com.", "A", 300, &["127.0.0.11"])
        };
        let member = |arn: &str, role: &str| MemberSnapshot {
            cluster_arn: arn.to_string(),
            region: "us-east-1".to_string(),
            role: role.to_string(),
            synchronization_status: None,
        };
        Snapshot {
            zones: vec![ZoneSnapshot {
                id: "Z1".to_string(),
                name: "example.com.".to_string(),
                records: vec![record("east", 100), record("west", 0)],
            }],
            health_checks: vec![HealthCheckSnapshot {
                id: "hc1".to_string(),
                inverted: false,
                disabled: false,
                ip: None,
                port: 80,
                resource_path: None,
            }],
            global_clusters: vec![GlobalSnapshot {
                id: "g".to_string(),
                status: "available".to_string(),
                failover_state: None,
                members: vec![member("a", "writer"), member("b", "secondary")],
            }],
            standalone_clusters: vec![],
            regions_down: vec![],
        }
    }

    #[test]
    fn equal_worlds_have_no_differences() {
        let s = Summary::new(30.0, vec![], &world(), &world(), &empty_truth());
        assert!(s.world_restored);
        assert!(s.differences.is_empty());
        assert_eq!(
            s.counts,
            Counts {
                zones: 1,
                record_sets: 2,
                health_checks: 1,
                clusters: 2
            }
        );
    }

    #[test]
    fn every_changed_field_is_named_with_before_and_after() {
        let before = world();
        let mut after = world();
        after.zones[0].records[1].weight = Some(100);
        after.zones[0].records[1].ttl = Some(60);
        after.health_checks[0].inverted = true;
        after.global_clusters[0].members[0].role = "secondary".to_string();
        after.global_clusters[0].members.pop();
        after.regions_down.push("us-east-1".to_string());
        let d = differences(&before, &after);
        let named: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.kind, d.resource.as_str(), d.field.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("record set", "api.example.com. A (west) in zone Z1", "ttl"),
                (
                    "record set",
                    "api.example.com. A (west) in zone Z1",
                    "weight"
                ),
                ("health check", "hc1", "inverted"),
                ("cluster", "a", "role"),
                ("cluster", "b", "exists"),
                ("region", "us-east-1", "exists"),
            ]
        );
        assert_eq!(
            (d[1].before.clone(), d[1].after.clone()),
            (0.into(), 100.into())
        );
        assert_eq!(d[3].before, "writer");
        assert_eq!(d[4].after, Value::Null);
        assert_eq!(d[4].before["role"], "secondary");
        let s = Summary::new(30.0, vec![], &before, &after, &empty_truth());
        assert!(!s.world_restored);
        assert_eq!(s.differences.len(), 6);
    }

    fn empty_truth() -> GroundTruth {
        crate::lab::truth::Truth::new(
            chrono::Utc::now(),
            30.0,
            vec![],
            crate::lab::Timings::default(),
        )
        .snapshot(std::time::Duration::ZERO)
    }
}
