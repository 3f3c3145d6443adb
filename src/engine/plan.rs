//! `drill plan`: the ordered actions a run would take, with the AWS operation each calls and the
//! values it changes, computed from the read-only preflight.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::spec::{Drill, Mode, NamePattern};

use super::preflight::{Plan, PlannedRecord};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub step: &'static str,
    pub operation: String,
    pub resource: String,
    pub change: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<16} {:<40} {}: {}",
            self.step, self.operation, self.resource, self.change
        )
    }
}

pub fn actions(drill: &Drill, plan: &Plan, failback: bool) -> Vec<Action> {
    let mut out = Vec::new();
    let ttl = drill.drill_ttl;
    let act = |step, operation: &str, resource: String, change: String| Action {
        step,
        operation: operation.to_string(),
        resource,
        change,
    };
    let lowered: Vec<_> = plan
        .records
        .iter()
        .filter(|r| r.current.ttl.is_some_and(|t| t > ttl))
        .collect();
    for r in &selected(drill, plan) {
        out.push(r.clone());
    }
    out.extend(per_group("lower_ttls", CONDITIONAL, &lowered, |r| {
        format!("TTL {} → {ttl}", r.current.ttl.unwrap_or_default())
    }));
    if let Some(longest) = plan.longest_lowered_ttl(ttl) {
        out.push(act(
            "lower_ttls",
            "GetChange (until INSYNC)",
            "each change".to_string(),
            format!("then wait {longest} s, the longest original TTL"),
        ));
    }
    let db = &drill.database;
    let op = match db.mode {
        Mode::Switchover => "SwitchoverGlobalCluster",
        Mode::Failover => "FailoverGlobalCluster AllowDataLoss=true",
    };
    out.push(act(
        "promote",
        op,
        format!("global cluster {}", db.global_cluster),
        format!("writer {} → {}", plan.primary_arn, plan.secondary_arn),
    ));
    let shifted: Vec<_> = plan
        .records
        .iter()
        .filter(|r| {
            r.spec
                .drill_weight
                .is_some_and(|w| r.current.weight != Some(w))
        })
        .collect();
    out.extend(per_group("shift_traffic", CONDITIONAL, &shifted, |r| {
        format!(
            "weight {} → {}",
            r.current.weight.unwrap_or_default(),
            r.spec.drill_weight.unwrap_or_default()
        )
    }));
    for hc in &plan.health_checks {
        out.push(act(
            "shift_traffic",
            "UpdateHealthCheck",
            format!("health check {}", hc.check.id),
            "Inverted false → true (Route 53 fails over to SECONDARY)".to_string(),
        ));
    }
    out.push(act(
        "verify_shift",
        "ListResourceRecordSets, GetHealthCheckStatus, DescribeGlobalClusters",
        "traffic and writer".to_string(),
        format!("expect {}", drill.regions.secondary),
    ));
    out.push(act(
        "soak",
        "-",
        "-".to_string(),
        format!("stay {}", humantime::format_duration(drill.soak)),
    ));
    if failback {
        out.push(act(
            "fail_back",
            "SwitchoverGlobalCluster",
            format!("global cluster {}", db.global_cluster),
            format!("writer {} → {}", plan.secondary_arn, plan.primary_arn),
        ));
        out.push(act(
            "fail_back",
            "ChangeResourceRecordSets UPSERT / UpdateHealthCheck",
            "routing".to_string(),
            "every weight and health check back to its original value".to_string(),
        ));
        out.push(act(
            "verify_recovery",
            "ListResourceRecordSets, GetHealthCheckStatus, DescribeGlobalClusters",
            "traffic and writer".to_string(),
            format!("expect {}", drill.regions.primary),
        ));
    }
    out.extend(per_group(
        "restore_ttls",
        "ChangeResourceRecordSets UPSERT",
        &lowered,
        |r| format!("TTL {ttl} → {}", r.current.ttl.unwrap_or_default()),
    ));
    out
}

/// A forward change: DELETE the record set as read and CREATE the new one, in one atomic batch.
const CONDITIONAL: &str = "ChangeResourceRecordSets DELETE+CREATE";

/// Past this many records, a group's changes in one step are shown as one line.
const LISTED: usize = 10;

/// One action per record, or, for a group with more than `LISTED` records in this step, one line
/// for the whole group: how many record sets, and the change (or how many distinct changes).
fn per_group(
    step: &'static str,
    operation: &str,
    records: &[&PlannedRecord],
    change: impl Fn(&PlannedRecord) -> String,
) -> Vec<Action> {
    let mut groups: Vec<(&str, Vec<&PlannedRecord>)> = Vec::new();
    for r in records {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, rs)) => rs.push(r),
            None => groups.push((&r.group, vec![r])),
        }
    }
    let mut out = Vec::new();
    for (group, rs) in groups {
        if rs.len() <= LISTED {
            out.extend(rs.iter().map(|r| Action {
                step,
                operation: operation.to_string(),
                resource: r.key.to_string(),
                change: change(r),
            }));
            continue;
        }
        let mut changes: BTreeMap<String, usize> = BTreeMap::new();
        for r in &rs {
            *changes.entry(change(r)).or_default() += 1;
        }
        let zones: BTreeSet<&str> = rs.iter().map(|r| r.key.zone_id.as_str()).collect();
        let zones: Vec<&str> = zones.into_iter().collect();
        out.push(Action {
            step,
            operation: operation.to_string(),
            resource: format!(
                "group {group}: {} record sets in zone {}",
                rs.len(),
                zones.join(", ")
            ),
            change: match changes.len() {
                1 => changes.into_keys().next().unwrap_or_default(),
                n if n <= 4 => changes
                    .iter()
                    .map(|(c, k)| format!("{c} ({k})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                n => format!(
                    "{n} distinct changes, e.g. {}",
                    changes.into_keys().next().unwrap_or_default()
                ),
            },
        });
    }
    out
}

/// What each `[groups.select]` resolved to: the record sets, names and regions it found.
fn selected(drill: &Drill, plan: &Plan) -> Vec<Action> {
    let mut out = Vec::new();
    for group in &drill.groups {
        let Some(select) = &group.select else {
            continue;
        };
        let rs: Vec<&PlannedRecord> = plan
            .records
            .iter()
            .filter(|r| r.group == group.name)
            .collect();
        let names: BTreeSet<&str> = rs.iter().map(|r| r.key.name.as_str()).collect();
        let mut by_region: BTreeMap<String, usize> = BTreeMap::new();
        for r in &rs {
            let id = r.key.set_identifier.as_deref().unwrap_or("-");
            let region = r.spec.region.as_deref().unwrap_or("-");
            *by_region.entry(format!("{id} → {region}")).or_default() += 1;
        }
        let patterns = match &select.names {
            Some(ps) => ps
                .iter()
                .map(|p| match p {
                    NamePattern::Exact(n) => n.clone(),
                    NamePattern::Under(n) => format!("*.{n}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => "every name".to_string(),
        };
        out.push(Action {
            step: "preflight",
            operation: "select".to_string(),
            resource: format!("group {}: {patterns} {}", group.name, select.rtype),
            change: format!(
                "{} record sets, {} names ({})",
                rs.len(),
                names.len(),
                by_region
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    out
}
