//! Verification: proving that traffic and the writer are where a step meant to put them. This is
//! the seam probes plug into: anything implementing `Verifier` is asked, in turn, after the shift
//! and after the fail-back. The built-in verifier reads Route 53 and RDS control-plane state.

use async_trait::async_trait;
use serde_json::json;

use crate::spec::Traffic;

use super::context::{Ctx, StepError};

/// Which side the drill expects to be serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Primary,
    Secondary,
}

impl Side {
    pub fn region<'a>(&self, ctx: &'a Ctx<'_>) -> &'a str {
        match self {
            Side::Primary => &ctx.drill.regions.primary,
            Side::Secondary => &ctx.drill.regions.secondary,
        }
    }
}

#[async_trait]
pub trait Verifier: Send + Sync {
    fn name(&self) -> &str;
    /// Ok(evidence) once traffic is on `side`; Err(what was seen) if not (yet).
    async fn check(&self, ctx: &Ctx<'_>, side: Side) -> Result<serde_json::Value, String>;
}

/// Reads the records, health checks and global cluster back from the control plane.
pub struct ControlPlane;

#[async_trait]
impl Verifier for ControlPlane {
    fn name(&self) -> &str {
        "control_plane"
    }

    async fn check(&self, ctx: &Ctx<'_>, side: Side) -> Result<serde_json::Value, String> {
        let region = side.region(ctx);
        let db = &ctx.drill.database;
        let global = ctx
            .cloud
            .rds
            .describe_global_cluster(&ctx.drill.regions.secondary, &db.global_cluster)
            .await
            .map_err(|e| e.to_string())?;
        let writer = global
            .writer()
            .map(|w| w.region.clone())
            .unwrap_or_default();
        if writer != region || global.failover_state.is_some() {
            return Err(format!("the writer is in {writer}, not {region}"));
        }
        let mut shares = serde_json::Map::new();
        // Every weighted record, one listing per zone, all zones at once.
        let weighted: Vec<_> = ctx
            .plan
            .records
            .iter()
            .filter(|r| {
                ctx.drill
                    .groups
                    .iter()
                    .any(|g| g.name == r.group && g.traffic == Traffic::Weighted)
            })
            .map(|r| &r.key)
            .collect();
        let now = super::reading::all(ctx.cloud, weighted)
            .await
            .map_err(|e| e.to_string())?;
        for group in &ctx.drill.groups {
            match &group.traffic {
                Traffic::Weighted => {
                    let (mut to_side, mut total) = (0i64, 0i64);
                    for planned in ctx.plan.records.iter().filter(|r| r.group == group.name) {
                        let record = now
                            .get(&planned.key)
                            .ok_or_else(|| format!("{} disappeared", planned.key))?;
                        let weight = record.weight.unwrap_or(0);
                        total += weight;
                        if planned.spec.region.as_deref() == Some(region) {
                            to_side += weight;
                        }
                    }
                    if total == 0 || to_side != total {
                        return Err(format!(
                            "group {}: {to_side} of {total} weight points at {region}",
                            group.name
                        ));
                    }
                    shares.insert(group.name.clone(), json!({ "weight_share": 1.0 }));
                }
                Traffic::Failover { health_check } => {
                    let status = ctx
                        .cloud
                        .route53
                        .get_health_check_status(health_check)
                        .await
                        .map_err(|e| e.to_string())?;
                    // Route 53 answers with the PRIMARY record while its check is healthy.
                    let serving = if status.is_healthy() {
                        &ctx.drill.regions.primary
                    } else {
                        &ctx.drill.regions.secondary
                    };
                    if serving != region {
                        return Err(format!(
                            "group {}: health check {health_check} has {} of {} checkers healthy, so Route 53 still answers with {serving}",
                            group.name, status.healthy_checkers, status.total_checkers
                        ));
                    }
                    shares.insert(
                        group.name.clone(),
                        json!({ "serving": serving, "healthy_checkers": status.healthy_checkers, "total_checkers": status.total_checkers }),
                    );
                }
                Traffic::None => {}
            }
        }
        Ok(json!({ "writer_region": writer, "groups": shares }))
    }
}

/// Asks every verifier until all agree traffic is on `side`, within the drill's verify timeout.
pub async fn verify(
    ctx: &Ctx<'_>,
    verifiers: &[&dyn Verifier],
    side: Side,
) -> Result<serde_json::Value, StepError> {
    let timeout = ctx.drill.timeouts.verify;
    let started = ctx.clock.elapsed();
    let mut evidence = serde_json::Map::new();
    for v in verifiers {
        loop {
            match v.check(ctx, side).await {
                Ok(found) => {
                    evidence.insert(v.name().to_string(), found);
                    break;
                }
                Err(seen) if ctx.clock.elapsed() - started + ctx.poll > timeout => {
                    return Err(StepError::Verify(format!(
                        "{} after {}: {seen}",
                        v.name(),
                        humantime::format_duration(timeout)
                    )));
                }
                Err(_) => ctx.clock.sleep(ctx.poll).await,
            }
        }
    }
    evidence.insert("region".to_string(), json!(side.region(ctx)));
    Ok(serde_json::Value::Object(evidence))
}
