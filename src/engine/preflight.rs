//! Preflight: read-only checks that the world is what the drill expects, producing the `Plan` the
//! run executes. Every problem is collected (not just the first), and nothing is changed: a refused
//! drill leaves no trace but its report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cloud::{
    Cloud, CloudError, GlobalCluster, HealthCheck, HostedZone, NameSpan, RecordKey, RecordSet,
    ZoneRef, region_of_arn,
};
use crate::spec::{Drill, NamePattern, RecordSpec, Traffic};

/// One record the drill will touch, as it is now.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRecord {
    pub group: String,
    pub key: RecordKey,
    pub spec: RecordSpec,
    pub current: RecordSet,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedHealthCheck {
    pub group: String,
    pub check: HealthCheck,
}

/// What preflight found; the run acts on exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub zones: BTreeMap<String, HostedZone>,
    pub records: Vec<PlannedRecord>,
    pub health_checks: Vec<PlannedHealthCheck>,
    pub global: GlobalCluster,
    pub primary_arn: String,
    pub secondary_arn: String,
    /// Things worth knowing that do not stop the drill.
    pub warnings: Vec<String>,
    /// `[stop] alarms`: each alarm's state (by ARN) when preflight read it.
    pub alarms: BTreeMap<String, String>,
}

impl Plan {
    /// The longest TTL among the records whose TTL the drill lowers.
    pub fn longest_lowered_ttl(&self, drill_ttl: i64) -> Option<i64> {
        self.records
            .iter()
            .filter_map(|r| r.current.ttl)
            .filter(|ttl| *ttl > drill_ttl)
            .max()
    }
}

/// Why preflight refused: every reason found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("preflight refused the drill:\n  - {}", reasons.join("\n  - "))]
pub struct Refusal {
    pub reasons: Vec<String>,
}

pub async fn preflight(drill: &Drill, cloud: &Cloud) -> Result<Plan, Refusal> {
    let mut reasons = Vec::new();
    let zones = find_zones(drill, cloud, &mut reasons).await;

    // Each zone is listed once, over the span of every name its groups need, all zones at once.
    let mut spans: BTreeMap<String, NameSpan> = BTreeMap::new();
    for group in &drill.groups {
        let Some(zone) = zones.get(&zone_label(&group.zone)) else {
            continue;
        };
        let span = match &group.select {
            // A selection's patterns name their base names; without names, the whole zone.
            Some(select) => match &select.names {
                Some(patterns) => NameSpan::covering(patterns.iter().map(|p| match p {
                    NamePattern::Exact(n) | NamePattern::Under(n) => n.as_str(),
                })),
                None => NameSpan::all(),
            },
            None => {
                let names = group.records.iter().map(|r| r.name.as_str());
                let span = NameSpan::covering(names.filter(|n| within(n, &zone.name)));
                if span.from.is_none() {
                    continue;
                }
                span
            }
        };
        spans
            .entry(zone.id.clone())
            .and_modify(|s| *s = s.union(&span))
            .or_insert(span);
    }
    let listings: BTreeMap<String, Result<Vec<RecordSet>, CloudError>> =
        futures::future::join_all(spans.iter().map(|(zone, span)| async move {
            (zone.clone(), cloud.route53.list_records(zone, span).await)
        }))
        .await
        .into_iter()
        .collect();
    let mut listed: BTreeMap<RecordKey, RecordSet> = BTreeMap::new();
    for (zone, listing) in &listings {
        match listing {
            Ok(listing) => listed.extend(listing.iter().map(|r| (r.key(zone), r.clone()))),
            Err(e) => reasons.push(e.to_string()),
        }
    }

    let mut records: Vec<PlannedRecord> = Vec::new();
    let mut owner: BTreeMap<RecordKey, String> = BTreeMap::new();
    let mut health_checks = Vec::new();
    for group in &drill.groups {
        let Some(zone) = zones.get(&zone_label(&group.zone)) else {
            continue;
        };
        let specs = match (&group.select, listings.get(&zone.id)) {
            (None, _) => group.records.clone(),
            (Some(_), Some(Ok(listing))) => {
                match crate::spec::resolve(group, &drill.regions, &zone.name, listing) {
                    Ok(specs) => specs,
                    Err(why) => {
                        reasons.extend(
                            why.into_iter()
                                .map(|w| format!("group {}: {w}", group.name)),
                        );
                        continue;
                    }
                }
            }
            // The zone could not be listed: its error is already a reason.
            (Some(_), _) => continue,
        };
        let mut found = Vec::new();
        for spec in &specs {
            if !within(&spec.name, &zone.name) {
                reasons.push(format!(
                    "group {}: {} is not inside zone {} ({})",
                    group.name, spec.name, zone.name, zone.id
                ));
                continue;
            }
            let key = RecordKey {
                zone_id: zone.id.clone(),
                name: spec.name.clone(),
                rtype: spec.rtype.clone(),
                set_identifier: spec.set_identifier.clone(),
            };
            if matches!(listings.get(&zone.id), Some(Err(_))) {
                continue;
            }
            match listed.get(&key).cloned() {
                None => reasons.push(format!("group {}: {key} does not exist", group.name)),
                Some(current) => {
                    if let Err(why) = check_record(&group.traffic, spec, &current, drill) {
                        reasons.push(format!("group {}: {key}: {why}", group.name));
                    }
                    found.push(PlannedRecord {
                        group: group.name.clone(),
                        key,
                        spec: spec.clone(),
                        current,
                    });
                }
            }
        }
        match &group.traffic {
            Traffic::Weighted => {
                let primary: i64 = found
                    .iter()
                    .filter(|r| r.spec.region.as_deref() == Some(&drill.regions.primary))
                    .filter_map(|r| r.current.weight)
                    .sum();
                if found.len() == specs.len() && primary == 0 {
                    reasons.push(format!(
                        "group {}: the records in {} carry no weight now, so traffic is not in the primary region to begin with",
                        group.name, drill.regions.primary
                    ));
                }
            }
            Traffic::Failover { health_check } => {
                match check_health_check(cloud, health_check).await {
                    Ok(check) => health_checks.push(PlannedHealthCheck {
                        group: group.name.clone(),
                        check,
                    }),
                    Err(why) => reasons.push(format!("group {}: {why}", group.name)),
                }
            }
            Traffic::None => {}
        }
        // A record set selected twice (two groups naming one zone by id and by name) would be
        // changed twice by one batch, which Route 53 refuses.
        for r in &found {
            if let Some(other) = owner.insert(r.key.clone(), r.group.clone()) {
                reasons.push(format!(
                    "group {}: {} is also in group {other}: a record set belongs to one group",
                    r.group, r.key
                ));
            }
        }
        records.extend(found);
    }

    let mut warnings = Vec::new();
    let mut alarms = BTreeMap::new();
    if let Some(watch) = &drill.alarms {
        let mut checked = super::alarms::preflight(cloud, watch).await;
        reasons.append(&mut checked.reasons);
        warnings.append(&mut checked.warnings);
        alarms = checked.states;
    }

    let db = check_database(drill, cloud).await;
    let (global, primary_arn, secondary_arn) = match db {
        Ok(found) => found,
        Err(mut why) => {
            reasons.append(&mut why);
            return Err(Refusal { reasons });
        }
    };

    if global
        .member(&secondary_arn)
        .is_some_and(|m| m.synchronization_status.is_none())
    {
        warnings.push(format!(
            "RDS reports no SynchronizationStatus for {secondary_arn}; replication health could not be checked before promoting"
        ));
    }
    if reasons.is_empty() {
        Ok(Plan {
            zones,
            records,
            health_checks,
            global,
            primary_arn,
            secondary_arn,
            warnings,
            alarms,
        })
    } else {
        Err(Refusal { reasons })
    }
}

/// Past this many zones, one paginated ListHostedZones (100 zones a page) is cheaper than asking
/// for each zone (a by-name look-up and a GetHostedZone each).
const LIST_ZONES_PAST: usize = 3;

/// Every group's hosted zone by label, each reason it cannot be found pushed to `reasons`.
async fn find_zones(
    drill: &Drill,
    cloud: &Cloud,
    reasons: &mut Vec<String>,
) -> BTreeMap<String, HostedZone> {
    let mut refs: BTreeMap<String, (&ZoneRef, &str)> = BTreeMap::new();
    for group in &drill.groups {
        refs.entry(zone_label(&group.zone))
            .or_insert((&group.zone, &group.name));
    }
    let mut zones = BTreeMap::new();
    if refs.len() <= LIST_ZONES_PAST {
        for (label, (zone, group)) in refs {
            match cloud.route53.find_zone(zone).await {
                Ok(found) => {
                    zones.insert(label, found);
                }
                Err(e) => reasons.push(format!("group {group}: {zone}: {e}")),
            }
        }
        return zones;
    }
    let all = match cloud.route53.list_zones().await {
        Ok(all) => all,
        Err(e) => {
            reasons.push(e.to_string());
            return zones;
        }
    };
    // The delegation set (GetHostedZone) only where the DNS probes need it.
    let delegation = drill
        .probes
        .as_ref()
        .and_then(|p| p.dns.as_ref())
        .is_some_and(|dns| dns.name_servers.is_empty());
    for (label, (zone, group)) in refs {
        let matching: Vec<&HostedZone> = all
            .iter()
            .filter(|z| match zone {
                ZoneRef::Id(_) => z.id == label,
                ZoneRef::Name(_) => z.name == label,
            })
            .collect();
        match matching.as_slice() {
            [] => reasons.push(format!(
                "group {group}: {zone}: no such hosted zone in this account"
            )),
            [found] if delegation => match cloud.route53.find_zone(&ZoneRef::Id(found.id.clone())).await {
                Ok(found) => {
                    zones.insert(label, found);
                }
                Err(e) => reasons.push(format!("group {group}: {zone}: {e}")),
            },
            [found] => {
                zones.insert(label, (*found).clone());
            }
            several => reasons.push(format!(
                "group {group}: {zone}: {} hosted zones are named {label} ({}); name the zone by id",
                several.len(),
                several.iter().map(|z| z.id.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    zones
}

pub fn zone_label(zone: &ZoneRef) -> String {
    match zone {
        ZoneRef::Id(id) => id.trim_start_matches("/hostedzone/").to_string(),
        ZoneRef::Name(name) => crate::cloud::fqdn(name),
    }
}

fn within(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// Checks one record against what its group's traffic mode needs.
fn check_record(
    traffic: &Traffic,
    spec: &RecordSpec,
    current: &RecordSet,
    drill: &Drill,
) -> Result<(), String> {
    if current.alias_target.is_some() {
        return Err("is an alias record: alias records have no TTL of their own (Route 53 uses the target's), so the drill cannot lower it; list the records the alias points to instead".to_string());
    }
    if current.ttl.is_none() {
        return Err("has no TTL".to_string());
    }
    if current.traffic_policy_instance_id.is_some() {
        return Err("is managed by a traffic policy instance; changing it directly would be overwritten by the policy".to_string());
    }
    match traffic {
        Traffic::Weighted => {
            if current.weight.is_none() {
                return Err(
                    "is not a weighted record, but its group moves traffic by weight".to_string(),
                );
            }
        }
        Traffic::Failover { health_check } => {
            let primary_region = spec.region.as_deref() == Some(&drill.regions.primary);
            let expected = if primary_region {
                "PRIMARY"
            } else {
                "SECONDARY"
            };
            if current.failover.as_deref() != Some(expected) {
                return Err(format!(
                    "should be the {expected} failover record for its region, but its failover role is {}",
                    current.failover.as_deref().unwrap_or("none")
                ));
            }
            if primary_region && current.health_check_id.as_deref() != Some(health_check) {
                return Err(format!(
                    "the PRIMARY record is associated with health check {}, not {health_check}: inverting {health_check} would not move traffic",
                    current.health_check_id.as_deref().unwrap_or("(none)")
                ));
            }
        }
        Traffic::None => {}
    }
    Ok(())
}

async fn check_health_check(cloud: &Cloud, id: &str) -> Result<HealthCheck, String> {
    let check = cloud
        .route53
        .get_health_check(id)
        .await
        .map_err(|e| e.to_string())?;
    if check.disabled {
        return Err(format!(
            "health check {id} is disabled: Route 53 treats a disabled check as healthy whatever its inversion, so inverting it cannot move traffic"
        ));
    }
    if check.inverted {
        return Err(format!(
            "health check {id} is already inverted: someone is already failing this record over"
        ));
    }
    let status = cloud
        .route53
        .get_health_check_status(id)
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_healthy() {
        return Err(format!(
            "health check {id} reports the primary unhealthy ({} of {} checkers healthy): the service is not in steady state",
            status.healthy_checkers, status.total_checkers
        ));
    }
    Ok(check)
}

/// The global cluster, the current writer's ARN and the ARN of the cluster to promote.
async fn check_database(
    drill: &Drill,
    cloud: &Cloud,
) -> Result<(GlobalCluster, String, String), Vec<String>> {
    let db = &drill.database;
    let region = &drill.regions.secondary;
    let global = cloud
        .rds
        .describe_global_cluster(region, &db.global_cluster)
        .await
        .map_err(|e| vec![format!("database: {e}")])?;
    let secondary_arn = if db.secondary_cluster.starts_with("arn:") {
        db.secondary_cluster.clone()
    } else {
        match cloud
            .rds
            .describe_cluster(region, &db.secondary_cluster)
            .await
        {
            Ok(cluster) => cluster.arn,
            Err(e) => return Err(vec![format!("database: {e}")]),
        }
    };
    let mut reasons = Vec::new();
    let name = &db.global_cluster;
    if let Some(fs) = &global.failover_state {
        reasons.push(format!(
            "database: global cluster {name} already has a {} in progress ({} → {}); wait for it to finish",
            fs.status,
            fs.from_cluster_arn.as_deref().unwrap_or("?"),
            fs.to_cluster_arn.as_deref().unwrap_or("?")
        ));
    }
    if global.status != "available" {
        reasons.push(format!(
            "database: global cluster {name} is {}, not available",
            global.status
        ));
    }
    let primary_arn = match global.writer() {
        None => {
            reasons.push(format!("database: global cluster {name} has no writer"));
            String::new()
        }
        Some(w) if w.region != drill.regions.primary => {
            reasons.push(format!(
                "database: the writer of {name} is {} in {}, not in the primary region {}: the world is not where the drill expects it",
                w.cluster_arn, w.region, drill.regions.primary
            ));
            w.cluster_arn.clone()
        }
        Some(w) => w.cluster_arn.clone(),
    };
    match global.member(&secondary_arn) {
        None => reasons.push(format!(
            "database: {secondary_arn} is not a member of global cluster {name} (members: {})",
            global
                .members
                .iter()
                .map(|m| m.cluster_arn.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(m) => {
            if region_of_arn(&m.cluster_arn) != Some(drill.regions.secondary.as_str()) {
                reasons.push(format!(
                    "database: {secondary_arn} is not in the secondary region {}",
                    drill.regions.secondary
                ));
            }
            if m.is_writer {
                reasons.push(format!("database: {secondary_arn} is already the writer"));
            } else if let Some(status) = m.synchronization_status.as_deref()
                && status != "connected"
            {
                reasons.push(format!(
                    "database: secondary {secondary_arn} is {status}, not connected: replication is not healthy enough to drill"
                ));
            }
        }
    }
    if reasons.is_empty() {
        Ok((global, primary_arn, secondary_arn))
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::memory::MemoryCloud;

    fn drill(zones: &[&str]) -> Drill {
        let mut text = String::from(
            "name = \"many\"\n[regions]\nprimary = \"us-east-1\"\nsecondary = \"us-west-2\"\n\
             [database]\nglobal_cluster = \"g\"\nsecondary_cluster = \"g-usw2\"\nmode = \"switchover\"\n",
        );
        for (i, zone) in zones.iter().enumerate() {
            text.push_str(&format!(
                "[[groups]]\nname = \"g{i}\"\nzone = \"{zone}\"\ntraffic = \"none\"\n\
                 [[groups.records]]\nname = \"www.{zone}\"\ntype = \"A\"\n"
            ));
        }
        crate::spec::parse(std::path::Path::new("many.toml"), &text).unwrap()
    }

    #[tokio::test]
    async fn many_zones_are_found_with_one_listing_and_every_problem_named() {
        let mem = MemoryCloud::new();
        for (id, name) in [
            ("Z1", "a.test"),
            ("Z2", "b.test"),
            ("Z3", "c.test"),
            ("Z4", "c.test"),
        ] {
            mem.add_zone(id, name);
            mem.put_record(
                id,
                RecordSet::simple(&format!("www.{name}."), "A", 300, &["192.0.2.1"]),
            );
        }
        mem.add_global_cluster("g", ("us-east-1", "g-use1"), ("us-west-2", "g-usw2"));
        let refused = preflight(
            &drill(&["a.test", "b.test", "c.test", "d.test"]),
            &mem.cloud(),
        )
        .await
        .unwrap_err();
        let reasons = refused.reasons.join("\n");
        assert!(
            reasons.contains("group g2: zone c.test.: 2 hosted zones are named c.test. (Z3, Z4)"),
            "{reasons}"
        );
        assert!(
            reasons.contains("group g3: zone d.test.: no such hosted zone"),
            "{reasons}"
        );
        assert_eq!(refused.reasons.len(), 2, "{reasons}");
        assert_eq!(mem.count("ListHostedZones"), 1);
        assert_eq!(
            mem.count("ListHostedZonesByName") + mem.count("GetHostedZone"),
            0
        );

        // With three zones or fewer, each is asked for by name, as before.
        let plan = preflight(&drill(&["a.test", "b.test"]), &mem.cloud())
            .await
            .unwrap();
        assert_eq!(plan.zones.len(), 2);
        assert_eq!(mem.count("ListHostedZonesByName"), 2);
    }
}
