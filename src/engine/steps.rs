//! The drill's mutating steps. Each journals its intent before the call and `done` after, so the
//! matching undo (in `undo`) can always put things back; each checks that the resource is still
//! what the drill last left it as, and stops instead of overwriting someone else's change.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::cloud::{
    ChangeAction, ChangeStatus, CloudError, HealthCheck, HealthCheckSettings, RecordChange,
    RecordKey, RecordSet,
};
use crate::spec::Mode;

use super::context::{Ctx, StepError};
use super::journal::Mutation;
use super::wait;

pub const LOWER_TTLS: &str = "lower_ttls";
pub const PROMOTE: &str = "promote";
pub const SHIFT_TRAFFIC: &str = "shift_traffic";

/// Changes record sets zone by zone (one batch per zone, zones in parallel), journaling each
/// record first. Each change is a DELETE of the record set as the drill expects it and a CREATE of
/// its new value in one atomic batch: if anyone changed the record since the drill read it, Route
/// 53 refuses the whole batch instead of the drill overwriting their change. Returns the change
/// ids still PENDING.
async fn replace(
    ctx: &Ctx<'_>,
    step: &str,
    updates: Vec<(RecordKey, RecordSet, RecordSet)>,
) -> Result<Vec<String>, StepError> {
    let mut by_zone: BTreeMap<String, Vec<(RecordKey, RecordSet, RecordSet)>> = BTreeMap::new();
    for u in updates {
        by_zone.entry(u.0.zone_id.clone()).or_default().push(u);
    }
    let calls = by_zone.into_iter().map(|(zone, updates)| async move {
        let mut mutations = Vec::new();
        let mut changes = Vec::new();
        for (key, before, after) in updates {
            changes.push(RecordChange {
                action: ChangeAction::Delete,
                record: before.clone(),
            });
            changes.push(RecordChange {
                action: ChangeAction::Create,
                record: after.clone(),
            });
            mutations.push(Mutation::RecordSet { key, before, after });
        }
        let seqs = ctx.intents(step, mutations)?;
        match ctx
            .cloud
            .route53
            .change_records(&zone, &changes, &format!("failover-drill: {step}"))
            .await
        {
            Ok(infos) => {
                ctx.dones(&seqs)?;
                Ok(infos
                    .into_iter()
                    .filter(|i| i.status == ChangeStatus::Pending)
                    .map(|i| i.id)
                    .collect::<Vec<_>>())
            }
            Err(e) => {
                ctx.failed_all(&seqs, &e.to_string());
                Err(drifted(&zone, e))
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
    let pending = replace(ctx, LOWER_TTLS, updates).await?;
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
    // Everything the routing change needs is read and checked now, before the writer moves.
    let ready = ready_to_shift(ctx).await?;
    let shifting = ready.updates.len() + ready.invert.len();
    *ctx.shift.lock().unwrap_or_else(|p| p.into_inner()) = Some(ready);
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
        &wait::Promotion {
            region,
            global_cluster: &db.global_cluster,
            target: to,
        },
        ctx.poll,
        ctx.drill.timeouts.promotion,
        &|state| {
            if let Some(p) = ctx.progress {
                p.database(state);
            }
        },
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
    Ok(
        json!({ "operation": operation(db.mode), "from": from, "to": to, "promotion_ms": took, "routing_changes_checked": shifting }),
    )
}

pub fn operation(mode: Mode) -> &'static str {
    match mode {
        Mode::Switchover => "SwitchoverGlobalCluster",
        Mode::Failover => "FailoverGlobalCluster(AllowDataLoss)",
    }
}

/// What the routing change will do, read and checked before the writer moves, so that nothing but
/// the change itself stands between the promotion and traffic following it.
#[derive(Debug, Clone, Default)]
pub struct ShiftPlan {
    /// (record, as the drill left it, with the drill weight).
    updates: Vec<(RecordKey, RecordSet, RecordSet)>,
    /// Health checks to invert, as read (their version guards the update).
    invert: Vec<HealthCheck>,
    /// Health checks whose endpoint already fails: Route 53 already answers with SECONDARY, and
    /// inverting them would send traffic back to the failing primary.
    already_failing: Vec<String>,
}

/// Reads every record and health check the shift changes (one listing per zone, zones at once)
/// and checks each is what the drill left it as.
pub async fn ready_to_shift(ctx: &Ctx<'_>) -> Result<ShiftPlan, StepError> {
    let ttl = ctx.drill.drill_ttl;
    let shifting: Vec<_> = ctx
        .plan
        .records
        .iter()
        .filter(|r| r.spec.drill_weight.is_some())
        .collect();
    let now = super::reading::all(ctx.cloud, shifting.iter().map(|r| &r.key)).await?;
    let mut plan = ShiftPlan::default();
    for r in shifting {
        let Some(weight) = r.spec.drill_weight else {
            continue;
        };
        // What the drill left the record as: the original, with the TTL lowered if it was higher.
        let mut expected = r.current.clone();
        if expected.ttl.is_some_and(|t| t > ttl) {
            expected.ttl = Some(ttl);
        }
        if now.get(&r.key) != Some(&expected) {
            return Err(StepError::Drift {
                resource: r.key.to_string(),
                detail: "it is not what the drill left it as after lowering the TTL".to_string(),
            });
        }
        if expected.weight != Some(weight) {
            let mut after = expected.clone();
            after.weight = Some(weight);
            plan.updates.push((r.key.clone(), expected, after));
        }
    }
    for planned in &ctx.plan.health_checks {
        let id = &planned.check.id;
        let now = ctx.cloud.route53.get_health_check(id).await?;
        if now.settings() != planned.check.settings() {
            return Err(StepError::Drift {
                resource: format!("health check {id}"),
                detail: format!("now {:?}", now.settings()),
            });
        }
        let status = ctx.cloud.route53.get_health_check_status(id).await?;
        if status.is_healthy() {
            plan.invert.push(now);
        } else {
            plan.already_failing.push(id.clone());
        }
    }
    Ok(plan)
}

/// Moves traffic: drill weights on weighted records, inverted health checks on failover records,
/// every zone and check at once, as `ready_to_shift` planned it before the promotion.
pub async fn shift_traffic(ctx: &Ctx<'_>) -> Result<serde_json::Value, StepError> {
    let ready = ctx.shift.lock().unwrap_or_else(|p| p.into_inner()).take();
    let plan = match ready {
        Some(plan) => plan,
        None => ready_to_shift(ctx).await?,
    };
    let weights = plan.updates.len();
    let after = HealthCheckSettings {
        inverted: true,
        disabled: false,
    };
    let invert = plan.invert.iter().map(|now| async move {
        let id = &now.id;
        // Asked again, the one read after the writer moved: inverting a check whose endpoint
        // started failing during the promotion would make it healthy and send traffic back to
        // the failing primary (Route 53 already answers with SECONDARY). One call per failover
        // group, sent beside the zones' changes.
        if !ctx
            .cloud
            .route53
            .get_health_check_status(id)
            .await?
            .is_healthy()
        {
            return Ok(Err(id.clone()));
        }
        let seq = ctx.intent(
            SHIFT_TRAFFIC,
            Mutation::HealthCheck {
                id: id.clone(),
                before: now.settings(),
                after,
            },
        )?;
        // The version read before the promotion: an edit since then makes this fail, not vanish.
        match ctx
            .cloud
            .route53
            .update_health_check(id, now.version, after)
            .await
        {
            Ok(_) => ctx.done(seq)?,
            Err(e) => {
                ctx.failed(seq, &e.to_string());
                return Err(StepError::from(e));
            }
        }
        Ok::<_, StepError>(Ok(id.clone()))
    });
    let (pending, inverted) = futures::join!(
        replace(ctx, SHIFT_TRAFFIC, plan.updates),
        futures::future::join_all(invert)
    );
    let mut already_failing = plan.already_failing;
    let mut inverted_ids = Vec::new();
    for result in inverted {
        match result? {
            Ok(id) => inverted_ids.push(id),
            Err(failing) => already_failing.push(failing),
        }
    }
    let pending = pending?;
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
        "health_checks_inverted": inverted_ids,
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

/// A refused DELETE means a record set is not what the drill read: someone else changed it.
fn drifted(zone: &str, e: CloudError) -> StepError {
    match &e {
        CloudError::Api { code, message, .. }
            if code == "InvalidChangeBatch" && message.contains("do not match") =>
        {
            StepError::Drift {
                resource: format!("a record set in zone {zone}"),
                detail: format!(
                    "it is not what the drill read, so nothing in the zone was changed ({message})"
                ),
            }
        }
        _ => StepError::from(e),
    }
}

pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}
