//! `drill plan`: the ordered actions a run would take, with the AWS operation each calls and the
//! values it changes, computed from the read-only preflight.

use std::fmt;

use serde::Serialize;

use crate::spec::{Drill, Mode};

use super::preflight::Plan;

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
    for r in &lowered {
        out.push(act(
            "lower_ttls",
            "ChangeResourceRecordSets UPSERT",
            r.key.to_string(),
            format!("TTL {} → {ttl}", r.current.ttl.unwrap_or_default()),
        ));
    }
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
    for r in &plan.records {
        if let Some(w) = r.spec.drill_weight
            && r.current.weight != Some(w)
        {
            out.push(act(
                "shift_traffic",
                "ChangeResourceRecordSets UPSERT",
                r.key.to_string(),
                format!("weight {} → {w}", r.current.weight.unwrap_or_default()),
            ));
        }
    }
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
    for r in &lowered {
        out.push(act(
            "restore_ttls",
            "ChangeResourceRecordSets UPSERT",
            r.key.to_string(),
            format!("TTL {ttl} → {}", r.current.ttl.unwrap_or_default()),
        ));
    }
    out
}
