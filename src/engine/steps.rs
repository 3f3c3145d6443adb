//! The drill's mutating steps. Each journals its intent before the call and `done` after, so the
//! matching undo (in `undo`) can always put things back; each checks that the resource is still
//! what the drill last left it as, and stops instead of overwriting someone else's change.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::cloud::{
    ChangeAction, ChangeStatus, HealthCheckSettings, RecordChange, RecordKey, RecordSet,
};
use crate::spec::Mode;

use super::context::{Ctx, StepError};
use super::journal::Mutation;
use super::wait;

pub const LOWER_TTLS: &str = "lower_ttls";
pub const PROMOTE: &str = "promote";
pub const SHIFT_TRAFFIC: &str = "shift_traffic";

/// Upserts record sets zone by zone (one batch per zone, zones in parallel), journaling each
/// record first. Returns the change ids still PENDING.
async fn upsert(
    ctx: &Ctx<'_>,
    step: &str,
    updates: Vec<(RecordKey, RecordSet, RecordSet)>,
) -> Result<Vec<String>, StepError> {
    let mut by_zone: BTreeMap<String, Vec<(RecordKey, RecordSet, RecordSet)>> = BTreeMap::new();
    for u in updates {
        by_zone.entry(u.0.zone_id.clone()).or_default().push(u);
    }
    let calls = by_zone.into_iter().map(|(zone, updates)| async move {
        let mut seqs = Vec::new();
        let mut changes = Vec::new();
        for (key, before, after) in updates {
            changes.push(RecordChange {
                action: ChangeAction::Upsert,
                record: after.clone(),
            });
            seqs.push(ctx.intent(step, Mutation::RecordSet { key, before, after })?);
        }
        match ctx
            .cloud
            .route53
            .change_records(&zone, &changes, &format!("failover-drill: {step}"))
            .await
        {
            Ok(infos) => {
                for seq in &seqs {
                    ctx.done(*seq)?;
                }
                Ok(infos
                    .into_iter()
                    .filter(|i| i.status == ChangeStatus::Pending)
                    .map(|i| i.id)
                    .collect::<Vec<_>>())
            }
            Err(e) => {
                for seq in &seqs {
                    ctx.failed(*seq, &e.to_string());
                }
                Err(StepError::from(e))
            }
        }
    });
    let mut pending = Vec::new();
    for result in futures::future::join_all(calls).await {
        pending.extend(result?);
    }
    Ok(pending)
}

/// Lowers every record's TTL to the drill TTL, waits for INSYNC, then waits out the longest
/// original TTL so resolver caches only hold the short one.
pub async fn lower_ttls(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let ttl = ctx.drill.drill_ttl;
    let mut updates = Vec::new();
    let mut unchanged = Vec::new();
    for r in &ctx.plan.records {
        match r.current.ttl {
            Some(old) if old > ttl => {
                let mut after = r.current.clone();
                after.ttl = Some(ttl);
                updates.push((r.key.clone(), r.current.clone(), after));
            }
            _ => unchanged.push(r.key.to_string()),
        }
    }
    let lowered = updates.len();
    let submitted = ctx.clock.elapsed();
    let pending = upsert(ctx, LOWER_TTLS, updates).await?;
    wait::insync(
        ctx.cloud,
        ctx.clock,
        &pending,
        ctx.poll,
        ctx.drill.timeouts.insync,
    )
    .await?;
    ctx.measure("dns_insync_ms", ms(ctx.clock.elapsed() - submitted));
    let longest = ctx.plan.longest_lowered_ttl(ttl).unwrap_or(0);
    let hold = Duration::from_secs(longest.max(0) as u64);
    ctx.waiting("waiting out the longest original TTL", hold);
    wait::sleep_with_countdown(ctx.clock, "waiting out the longest original TTL", hold).await;
    ctx.measure("ttl_wait_ms", ms(hold));
    Ok(json!({
        "ttl": ttl,
        "lowered": lowered,
        "already_at_or_below": unchanged,
        "longest_original_ttl": longest,
    }))
}

/// Promotes the secondary cluster and waits until it is the writer with no FailoverState left.
pub async fn promote(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let db = &ctx.drill.database;
    let region = &ctx.drill.regions.secondary;
    let (from, to) = (&ctx.plan.primary_arn, &ctx.plan.secondary_arn);
    // The world may have moved during the TTL wait: check again right before acting.
    let global = ctx
        .cloud
        .rds
        .describe_global_cluster(region, &db.global_cluster)
        .await?;
    let resource = format!("global cluster {}", db.global_cluster);
    if let Some(fs) = &global.failover_state {
        return Err(StepError::Drift {
            resource,
            detail: format!("a {} started during the drill", fs.status),
        });
    }
    if global.writer().map(|w| &w.cluster_arn) != Some(from) {
        return Err(StepError::Drift {
            resource,
            detail: format!("the writer is no longer {from}"),
        });
    }
    let sync = global
        .member(to)
        .and_then(|m| m.synchronization_status.clone());
    if let Some(status) = sync.as_deref()
        && status != "connected"
    {
        return Err(StepError::Drift {
            resource,
            detail: format!("secondary {to} is {status} now, not connected"),
        });
    }
    let seq = ctx.intent(
        PROMOTE,
        Mutation::Writer {
            global_cluster: db.global_cluster.clone(),
            region: region.clone(),
            before: from.clone(),
            after: to.clone(),
            mode: db.mode.as_str().to_string(),
        },
    )?;
    let started = ctx.clock.elapsed();
    let call = match db.mode {
        Mode::Switchover => {
            ctx.cloud
                .rds
                .switchover(region, &db.global_cluster, to)
                .await
        }
        Mode::Failover => ctx.cloud.rds.failover(region, &db.global_cluster, to).await,
    };
    if let Err(e) = call {
        ctx.failed(seq, &e.to_string());
        return Err(e.into());
    }
    ctx.done(seq)?;
    let promoted = wait::promoted(
        ctx.cloud,
        ctx.clock,
        region,
        &db.global_cluster,
        to,
        ctx.poll,
        ctx.drill.timeouts.promotion,
    )
    .await;
    // The call was accepted but the promotion it started did not (yet) make `to` the writer: the
    // journal says so, and the undo finds out whether the writer moved at all.
    if let Err(e) = promoted {
        ctx.failed(seq, &e.to_string());
        return Err(e.into());
    }
    let took = ms(ctx.clock.elapsed() - started);
    ctx.measure("promotion_ms", took);
    Ok(json!({ "operation": operation(db.mode), "from": from, "to": to, "promotion_ms": took }))
}

pub fn operation(mode: Mode) -> &'static str {
    match mode {
        Mode::Switchover => "SwitchoverGlobalCluster",
        Mode::Failover => "FailoverGlobalCluster(AllowDataLoss)",
    }
}

/// Moves traffic: drill weights on weighted records, inverted health checks on failover records.
pub async fn shift_traffic(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let ttl = ctx.drill.drill_ttl;
    let mut updates = Vec::new();
    for r in &ctx.plan.records {
        let Some(weight) = r.spec.drill_weight else {
            continue;
        };
        // What the drill left the record as: the original, with the TTL lowered if it was higher.
        let mut expected = r.current.clone();
        if expected.ttl.is_some_and(|t| t > ttl) {
            expected.ttl = Some(ttl);
        }
        let now = ctx.cloud.route53.get_record(&r.key).await?;
        if now.as_ref() != Some(&expected) {
            return Err(StepError::Drift {
                resource: r.key.to_string(),
                detail: "it is not what the drill left it as after lowering the TTL".to_string(),
            });
        }
        if expected.weight != Some(weight) {
            let mut after = expected.clone();
            after.weight = Some(weight);
            updates.push((r.key.clone(), expected, after));
        }
    }
    let weights = updates.len();
    let pending = upsert(ctx, SHIFT_TRAFFIC, updates).await?;

    let mut inverted = Vec::new();
    let mut already_failing = Vec::new();
    for planned in &ctx.plan.health_checks {
        let id = &planned.check.id;
        let now = ctx.cloud.route53.get_health_check(id).await?;
        if now.settings() != planned.check.settings() {
            return Err(StepError::Drift {
                resource: format!("health check {id}"),
                detail: format!("now {:?}", now.settings()),
            });
        }
        // Inverting a check whose endpoint is already failing would make it healthy again and send
        // traffic back to the failing primary: Route 53 is already answering with SECONDARY.
        let status = ctx.cloud.route53.get_health_check_status(id).await?;
        if !status.is_healthy() {
            already_failing.push(id.clone());
            continue;
        }
        let after = HealthCheckSettings {
            inverted: true,
            disabled: false,
        };
        let seq = ctx.intent(
            SHIFT_TRAFFIC,
            Mutation::HealthCheck {
                id: id.clone(),
                before: now.settings(),
                after,
            },
        )?;
        match ctx
            .cloud
            .route53
            .update_health_check(id, now.version, after)
            .await
        {
            Ok(_) => ctx.done(seq)?,
            Err(e) => {
                ctx.failed(seq, &e.to_string());
                return Err(e.into());
            }
        }
        inverted.push(id.clone());
    }
    wait::insync(
        ctx.cloud,
        ctx.clock,
        &pending,
        ctx.poll,
        ctx.drill.timeouts.insync,
    )
    .await?;
    Ok(json!({
        "weights_changed": weights,
        "health_checks_inverted": inverted,
        "health_checks_already_failing": already_failing,
    }))
}

/// Switches the writer back, then routing: the reverse of promote and shift, through undo.
pub async fn fail_back(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let started = ctx.clock.elapsed();
    let writer = ctx.undo_step(PROMOTE).await?;
    let took = ms(ctx.clock.elapsed() - started);
    if writer > 0 {
        ctx.measure("failback_promotion_ms", took);
    }
    ctx.mark(crate::probes::Mark::Routing {
        to: ctx.drill.regions.primary.clone(),
    });
    let routing = ctx.undo_step(SHIFT_TRAFFIC).await?;
    Ok(
        json!({ "writer_restored": writer > 0, "routing_changes_restored": routing, "failback_promotion_ms": took }),
    )
}

/// Puts every TTL back.
pub async fn restore_ttls(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let restored = ctx.undo_step(LOWER_TTLS).await?;
    Ok(json!({ "restored": restored }))
}

pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}
