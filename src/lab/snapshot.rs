//! A comparable picture of the world's durable state: every record set, health check setting and
//! cluster role. Tests take one at the start and one at the end of a drill and assert they are
//! equal ("the world ends as it began"). Versions, change ids and times are left out on purpose:
//! a drill that inverts a health check and reverts it leaves the check as it was, though its
//! version moved on.

use serde::Serialize;

use super::world::World;
use crate::cloud::RecordSet;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub zones: Vec<ZoneSnapshot>,
    pub health_checks: Vec<HealthCheckSnapshot>,
    pub global_clusters: Vec<GlobalSnapshot>,
    /// Clusters outside any global cluster (detached by RemoveFromGlobalCluster).
    pub standalone_clusters: Vec<String>,
    pub regions_down: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneSnapshot {
    pub id: String,
    pub name: String,
    /// The control-plane records, in Route 53's order.
    pub records: Vec<RecordSet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheckSnapshot {
    pub id: String,
    pub inverted: bool,
    pub disabled: bool,
    pub ip: Option<String>,
    pub port: u16,
    pub resource_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobalSnapshot {
    pub id: String,
    pub status: String,
    /// `pending`, `switching-over`, … while an operation runs.
    pub failover_state: Option<String>,
    pub members: Vec<MemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSnapshot {
    pub cluster_arn: String,
    pub region: String,
    /// `writer` or `secondary`.
    pub role: String,
    /// `connected` or `pending-resync` for secondaries.
    pub synchronization_status: Option<String>,
}

impl Snapshot {
    pub fn of(world: &World) -> Self {
        let zones = world
            .zones
            .values()
            .map(|z| ZoneSnapshot {
                id: z.id.clone(),
                name: z.name.clone(),
                records: z.records.values().cloned().collect(),
            })
            .collect();
        let health_checks = world
            .health
            .values()
            .map(|h| HealthCheckSnapshot {
                id: h.id.clone(),
                inverted: h.inverted,
                disabled: h.disabled,
                ip: h.ip.map(|ip| ip.to_string()),
                port: h.port,
                resource_path: h.resource_path.clone(),
            })
            .collect();
        let global_clusters = world
            .db
            .globals
            .values()
            .map(|g| GlobalSnapshot {
                id: g.id.clone(),
                status: g.status().to_string(),
                failover_state: g.op.as_ref().map(|op| op.phase.as_str().to_string()),
                members: g
                    .members
                    .iter()
                    .filter_map(|arn| world.db.clusters.get(arn))
                    .map(|c| MemberSnapshot {
                        cluster_arn: c.arn.clone(),
                        region: c.region.clone(),
                        role: c.role.as_str().to_string(),
                        synchronization_status: match c.role {
                            super::database::Role::Secondary(sync) => {
                                Some(sync.as_str().to_string())
                            }
                            _ => None,
                        },
                    })
                    .collect(),
            })
            .collect();
        let standalone_clusters = world
            .db
            .clusters
            .values()
            .filter(|c| c.global.is_none())
            .map(|c| c.arn.clone())
            .collect();
        Snapshot {
            zones,
            health_checks,
            global_clusters,
            standalone_clusters,
            regions_down: world.down.iter().cloned().collect(),
        }
    }
}
