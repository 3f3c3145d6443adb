//! An in-memory implementation of the cloud traits, for engine tests: it keeps record sets, health
//! checks and global clusters the way Route 53 and RDS do (changes go PENDING then INSYNC, a
//! promotion takes a few polls, health-check versions guard updates), and it can be told to fail or
//! hang any call, so tests can break a drill at every step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::Notify;

use super::{
    AlarmState, Alarms, ChangeAction, ChangeInfo, ChangeStatus, Cloud, CloudError, DbCluster,
    DnsAnswer, FailoverState, GlobalCluster, GlobalDatabase, GlobalMember, HealthCheck,
    HealthCheckSettings, HealthCheckStatus, HostedZone, NameSpan, RecordChange, RecordKey,
    RecordSet, Route53, ZoneRef,
};

/// What a test can make a call do.
#[derive(Debug, Clone)]
pub enum Misbehave {
    /// Answer with this error.
    Fail(CloudError),
    /// Never answer (the future stays pending), after notifying `MemoryCloud::hung`.
    Hang,
}

#[derive(Debug, Clone)]
struct Rule {
    operation: String,
    /// Misbehave on the n-th call (1-based) of the operation, or on every call if None.
    nth: Option<usize>,
    action: Misbehave,
}

/// The state a drill must leave as it found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub records: BTreeMap<RecordKey, RecordSet>,
    pub health_checks: BTreeMap<String, HealthCheckSettings>,
    pub writers: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    zones: Vec<HostedZone>,
    records: BTreeMap<RecordKey, RecordSet>,
    /// Change id → polls left before INSYNC.
    changes: BTreeMap<String, u32>,
    next_change: u64,
    health_checks: BTreeMap<String, HealthCheck>,
    /// Health checks whose checkers currently see the endpoint as failing (before inversion).
    failing_endpoints: Vec<String>,
    globals: BTreeMap<String, GlobalCluster>,
    clusters: Vec<DbCluster>,
    /// Global cluster id → describes left before the running promotion completes.
    promotions: BTreeMap<String, u32>,
    /// (region, alarm name) → its state.
    alarms: BTreeMap<(String, String), AlarmState>,
    rules: Vec<Rule>,
    calls: Vec<String>,
}

/// The in-memory cloud. Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct MemoryCloud {
    state: Arc<Mutex<State>>,
    hung: Arc<Notify>,
    /// How many GetChange polls a change stays PENDING.
    pub insync_polls: u32,
    /// How many DescribeGlobalClusters a promotion stays in progress.
    pub promotion_polls: u32,
    /// How far Route 53's clock (its changes' SubmittedAt) runs ahead of this host's.
    pub route53_clock_ahead: chrono::TimeDelta,
}

impl MemoryCloud {
    pub fn new() -> Self {
        MemoryCloud {
            insync_polls: 2,
            promotion_polls: 3,
            ..Default::default()
        }
    }

    pub fn cloud(&self) -> Cloud {
        Cloud {
            route53: Arc::new(self.clone()),
            rds: Arc::new(self.clone()),
            alarms: Arc::new(self.clone()),
        }
    }

    /// Creates or changes a CloudWatch alarm's state (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    pub fn set_alarm(&self, region: &str, name: &str, state: &str, reason: &str) {
        let arn = format!("arn:aws:cloudwatch:{region}:123456789012:alarm:{name}");
        self.lock().alarms.insert(
            (region.to_string(), name.to_string()),
            AlarmState {
                name: name.to_string(),
                arn,
                state: state.to_string(),
                reason: reason.to_string(),
                updated_at: Some(chrono::Utc::now()),
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn add_zone(&self, id: &str, name: &str) {
        self.lock().zones.push(HostedZone {
            id: id.to_string(),
            name: super::fqdn(name),
            private: false,
            name_servers: vec!["ns-1.memory.test.".to_string()],
        });
    }

    pub fn put_record(&self, zone_id: &str, record: RecordSet) {
        self.lock().records.insert(record.key(zone_id), record);
    }

    pub fn add_health_check(&self, id: &str) {
        self.lock().health_checks.insert(
            id.to_string(),
            HealthCheck {
                id: id.to_string(),
                version: 1,
                inverted: false,
                disabled: false,
                kind: "HTTPS".to_string(),
            },
        );
    }

    /// A global cluster with its writer in `writer_region` and one secondary.
    pub fn add_global_cluster(&self, id: &str, writer: (&str, &str), secondary: (&str, &str)) {
        let arn =
            |region: &str, name: &str| format!("arn:aws:rds:{region}:123456789012:cluster:{name}");
        let member = |(region, name): (&str, &str), is_writer: bool| GlobalMember {
            cluster_arn: arn(region, name),
            region: region.to_string(),
            is_writer,
            readers: Vec::new(),
            synchronization_status: (!is_writer).then(|| "connected".to_string()),
            write_forwarding_status: None,
        };
        let mut state = self.lock();
        for ((region, name), _) in [(writer, true), (secondary, false)] {
            state.clusters.push(DbCluster {
                id: name.to_string(),
                arn: arn(region, name),
                status: "available".to_string(),
                region: region.to_string(),
            });
        }
        state.globals.insert(
            id.to_string(),
            GlobalCluster {
                id: id.to_string(),
                arn: format!("arn:aws:rds::123456789012:global-cluster:{id}"),
                status: "available".to_string(),
                engine: "aurora-postgresql".to_string(),
                members: vec![member(writer, true), member(secondary, false)],
                failover_state: None,
            },
        );
    }

    /// Edits a global cluster in place (e.g. to make the secondary `pending-resync`).
    pub fn edit_global_cluster(&self, id: &str, edit: impl FnOnce(&mut GlobalCluster)) {
        if let Some(g) = self.lock().globals.get_mut(id) {
            edit(g);
        }
    }

    /// Makes the n-th call (1-based) of `operation` misbehave; every call if `nth` is None.
    pub fn misbehave(&self, operation: &str, nth: Option<usize>, action: Misbehave) {
        self.lock().rules.push(Rule {
            operation: operation.to_string(),
            nth,
            action,
        });
    }

    /// Drops every misbehaviour rule (e.g. before recovering after a simulated crash).
    pub fn behave(&self) {
        self.lock().rules.clear();
    }

    /// Resolves once a call has hung because of a `Misbehave::Hang` rule.
    pub async fn hung(&self) {
        self.hung.notified().await;
    }

    /// Every call made so far, as `Operation resource`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// How many calls of `operation` were made.
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.split(' ').next() == Some(operation))
            .count()
    }

    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            records: state.records.clone(),
            health_checks: state
                .health_checks
                .iter()
                .map(|(id, hc)| (id.clone(), hc.settings()))
                .collect(),
            writers: state
                .globals
                .iter()
                .map(|(id, g)| {
                    let writer = g
                        .writer()
                        .map(|m| m.cluster_arn.clone())
                        .unwrap_or_default();
                    (id.clone(), writer)
                })
                .collect(),
        }
    }

    pub fn record(&self, key: &RecordKey) -> Option<RecordSet> {
        self.lock().records.get(key).cloned()
    }

    /// Records the call, then applies any matching misbehaviour rule.
    async fn enter(&self, operation: &str, resource: &str) -> Result<(), CloudError> {
        let action = {
            let mut state = self.lock();
            state.calls.push(format!("{operation} {resource}"));
            let n = state
                .calls
                .iter()
                .filter(|c| c.split(' ').next() == Some(operation))
                .count();
            state
                .rules
                .iter()
                .find(|r| r.operation == operation && r.nth.is_none_or(|nth| nth == n))
                .map(|r| r.action.clone())
        };
        match action {
            None => Ok(()),
            Some(Misbehave::Fail(e)) => Err(e),
            Some(Misbehave::Hang) => {
                self.hung.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    }
}

fn api(operation: &str, resource: &str, code: &str, message: &str) -> CloudError {
    CloudError::Api {
        operation: operation.to_string(),
        resource: resource.to_string(),
        code: code.to_string(),
        message: message.to_string(),
    }
}

fn not_found(resource: &str, code: &str) -> CloudError {
    CloudError::NotFound {
        resource: resource.to_string(),
        code: code.to_string(),
    }
}

#[async_trait]
impl Alarms for MemoryCloud {
    async fn describe_alarms(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<AlarmState>, CloudError> {
        self.enter("DescribeAlarms", &format!("{region}/{}", names.join(",")))
            .await?;
        let state = self.lock();
        Ok(names
            .iter()
            .filter_map(|n| state.alarms.get(&(region.to_string(), n.clone())).cloned())
            .collect())
    }
}

#[async_trait]
impl Route53 for MemoryCloud {
    async fn find_zone(&self, zone: &ZoneRef) -> Result<HostedZone, CloudError> {
        let (op, resource) = match zone {
            ZoneRef::Id(id) => ("GetHostedZone", id.trim_start_matches("/hostedzone/")),
            ZoneRef::Name(name) => ("ListHostedZonesByName", name.as_str()),
        };
        self.enter(op, resource).await?;
        let state = self.lock();
        let found: Vec<&HostedZone> = state
            .zones
            .iter()
            .filter(|z| match zone {
                ZoneRef::Id(_) => z.id == resource,
                ZoneRef::Name(name) => z.name == super::fqdn(name),
            })
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found(&zone.to_string(), "NoSuchHostedZone")),
            many => Err(api(
                op,
                resource,
                "AmbiguousZone",
                &format!(
                    "{} zones have this name: {}",
                    many.len(),
                    many.iter()
                        .map(|z| z.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    async fn list_zones(&self) -> Result<Vec<HostedZone>, CloudError> {
        self.enter("ListHostedZones", "").await?;
        let mut zones = self.lock().zones.clone();
        // Route 53 lists by zone id; callers must not rely on any other order.
        zones.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(zones)
    }

    async fn get_record(&self, key: &RecordKey) -> Result<Option<RecordSet>, CloudError> {
        self.enter("ListResourceRecordSets", &key.to_string())
            .await?;
        let state = self.lock();
        if !state.zones.iter().any(|z| z.id == key.zone_id) {
            return Err(not_found(&key.zone_id, "NoSuchHostedZone"));
        }
        Ok(state.records.get(key).cloned())
    }

    async fn list_records(
        &self,
        zone_id: &str,
        span: &NameSpan,
    ) -> Result<Vec<RecordSet>, CloudError> {
        let mut listing: Vec<RecordSet> = {
            let state = self.lock();
            if !state.zones.iter().any(|z| z.id == zone_id) {
                return Err(not_found(zone_id, "NoSuchHostedZone"));
            }
            let from = span.from.as_deref().map(super::listing_order);
            state
                .records
                .iter()
                .filter(|(k, _)| k.zone_id == zone_id)
                .map(|(_, r)| r.clone())
                .filter(|r| {
                    from.as_ref()
                        .is_none_or(|f| super::listing_order(&r.name) >= *f)
                })
                .collect()
        };
        listing.sort_by_key(|r| {
            (
                super::listing_order(&r.name),
                r.rtype.clone(),
                r.set_identifier.clone(),
            )
        });
        // One call per page of 300, as Route 53 pages; a page past the span's end is the last.
        let mut out = Vec::new();
        let mut pages = listing.chunks(300).peekable();
        loop {
            self.enter("ListResourceRecordSets", zone_id).await?;
            let Some(page) = pages.next() else {
                return Ok(out);
            };
            for r in page {
                if span.is_past(&r.name) {
                    return Ok(out);
                }
                out.push(r.clone());
            }
            if pages.peek().is_none() {
                return Ok(out);
            }
        }
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
        _comment: &str,
    ) -> Result<Vec<ChangeInfo>, CloudError> {
        const OP: &str = "ChangeResourceRecordSets";
        self.enter(OP, zone_id).await?;
        let mut state = self.lock();
        if !state.zones.iter().any(|z| z.id == zone_id) {
            return Err(not_found(zone_id, "NoSuchHostedZone"));
        }
        // Validate the whole batch first: Route 53 applies all changes or none, each against the
        // records as the ones before it in the batch left them (DELETE then CREATE of one name
        // replaces it).
        let mut after: BTreeMap<RecordKey, Option<RecordSet>> = BTreeMap::new();
        let mut seen: BTreeMap<RecordKey, ChangeAction> = BTreeMap::new();
        for change in changes {
            let key = change.record.key(zone_id);
            // A record may only name a health check that exists.
            if let Some(id) = &change.record.health_check_id
                && change.action != ChangeAction::Delete
                && !state.health_checks.contains_key(id)
            {
                return Err(api(
                    OP,
                    zone_id,
                    "NoSuchHealthCheck",
                    &format!("The health check {id} does not exist"),
                ));
            }
            // A record set may appear once per batch, except DELETE then CREATE (a replacement):
            // two UPSERTs of one set are refused, as Route 53 refuses them.
            if let Some(prev) = seen.insert(key.clone(), change.action)
                && !(prev == ChangeAction::Delete && change.action == ChangeAction::Create)
            {
                return Err(api(
                    OP,
                    zone_id,
                    "InvalidChangeBatch",
                    &format!(
                        "The request contains an invalid set of changes for a resource record set '{} {}'",
                        key.rtype, key.name
                    ),
                ));
            }
            let existing = match after.get(&key) {
                Some(planned) => planned.as_ref(),
                None => state.records.get(&key),
            };
            let problem = match (change.action, existing) {
                (ChangeAction::Create, Some(_)) => Some("it already exists"),
                (ChangeAction::Delete, None) => Some("it was not found"),
                (ChangeAction::Delete, Some(e)) if *e != change.record => {
                    Some("the values provided do not match the current values")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(api(
                    OP,
                    zone_id,
                    "InvalidChangeBatch",
                    &format!("Tried to {:?} {key} but {problem}", change.action),
                ));
            }
            let planned = match change.action {
                ChangeAction::Delete => None,
                ChangeAction::Create | ChangeAction::Upsert => Some(change.record.clone()),
            };
            after.insert(key, planned);
        }
        for change in changes {
            let key = change.record.key(zone_id);
            match change.action {
                ChangeAction::Delete => {
                    state.records.remove(&key);
                }
                ChangeAction::Create | ChangeAction::Upsert => {
                    state.records.insert(key, change.record.clone());
                }
            }
        }
        state.next_change += 1;
        let id = format!("C{:06}", state.next_change);
        let polls = self.insync_polls;
        state.changes.insert(id.clone(), polls);
        Ok(vec![ChangeInfo {
            id,
            status: ChangeStatus::Pending,
            submitted_at: Some(chrono::Utc::now() + self.route53_clock_ahead),
        }])
    }

    async fn get_change(&self, change_id: &str) -> Result<ChangeInfo, CloudError> {
        self.enter("GetChange", change_id).await?;
        let mut state = self.lock();
        let left = state
            .changes
            .get_mut(change_id)
            .ok_or_else(|| not_found(change_id, "NoSuchChange"))?;
        *left = left.saturating_sub(1);
        let status = if *left == 0 {
            ChangeStatus::Insync
        } else {
            ChangeStatus::Pending
        };
        Ok(ChangeInfo {
            id: change_id.to_string(),
            status,
            submitted_at: None,
        })
    }

    async fn get_health_check(&self, id: &str) -> Result<HealthCheck, CloudError> {
        self.enter("GetHealthCheck", id).await?;
        self.lock()
            .health_checks
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(&format!("health check {id}"), "NoSuchHealthCheck"))
    }

    async fn update_health_check(
        &self,
        id: &str,
        expected_version: i64,
        settings: HealthCheckSettings,
    ) -> Result<HealthCheck, CloudError> {
        const OP: &str = "UpdateHealthCheck";
        self.enter(OP, id).await?;
        let mut state = self.lock();
        let hc = state
            .health_checks
            .get_mut(id)
            .ok_or_else(|| not_found(&format!("health check {id}"), "NoSuchHealthCheck"))?;
        if hc.version != expected_version {
            return Err(api(
                OP,
                id,
                "HealthCheckVersionMismatch",
                &format!("version is {}, not {expected_version}", hc.version),
            ));
        }
        hc.version += 1;
        hc.inverted = settings.inverted;
        hc.disabled = settings.disabled;
        Ok(hc.clone())
    }

    async fn get_health_check_status(&self, id: &str) -> Result<HealthCheckStatus, CloudError> {
        self.enter("GetHealthCheckStatus", id).await?;
        let state = self.lock();
        let hc = state
            .health_checks
            .get(id)
            .ok_or_else(|| not_found(&format!("health check {id}"), "NoSuchHealthCheck"))?;
        let endpoint_ok = !state.failing_endpoints.iter().any(|f| f == id);
        // A disabled check is reported healthy; inversion flips what the checkers see.
        let healthy = hc.disabled || (endpoint_ok != hc.inverted);
        Ok(HealthCheckStatus {
            healthy_checkers: if healthy { 16 } else { 0 },
            total_checkers: 16,
        })
    }

    async fn test_dns_answer(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
        _client_ip: Option<&str>,
    ) -> Result<DnsAnswer, CloudError> {
        self.enter("TestDNSAnswer", &format!("{zone_id}/{name}/{rtype}"))
            .await?;
        // The double answers with every record of the name and type that carries traffic (no
        // weight 0); routing policies beyond that are the lab's business.
        let values: Vec<String> = self
            .lock()
            .records
            .iter()
            .filter(|(k, r)| {
                k.zone_id == zone_id
                    && k.name == super::fqdn(name)
                    && k.rtype == rtype
                    && r.weight != Some(0)
            })
            .flat_map(|(_, r)| r.values.clone())
            .collect();
        Ok(DnsAnswer {
            response_code: if values.is_empty() {
                "NXDOMAIN"
            } else {
                "NOERROR"
            }
            .to_string(),
            values,
        })
    }
}

#[async_trait]
impl GlobalDatabase for MemoryCloud {
    async fn describe_global_cluster(
        &self,
        region: &str,
        global_cluster_id: &str,
    ) -> Result<GlobalCluster, CloudError> {
        self.enter(
            "DescribeGlobalClusters",
            &format!("{region}/{global_cluster_id}"),
        )
        .await?;
        let mut state = self.lock();
        let state = &mut *state;
        let global = state
            .globals
            .get_mut(global_cluster_id)
            .ok_or_else(|| not_found(global_cluster_id, "GlobalClusterNotFoundFault"))?;
        if let Some(left) = state.promotions.get_mut(global_cluster_id) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                state.promotions.remove(global_cluster_id);
                if let Some(fs) = global.failover_state.take() {
                    for m in &mut global.members {
                        m.is_writer = Some(&m.cluster_arn) == fs.to_cluster_arn.as_ref();
                        m.synchronization_status = (!m.is_writer).then(|| "connected".to_string());
                    }
                }
                global.status = "available".to_string();
            } else if let Some(fs) = &mut global.failover_state {
                fs.status = if fs.is_data_loss_allowed {
                    "failing-over"
                } else {
                    "switching-over"
                }
                .to_string();
            }
        }
        Ok(global.clone())
    }

    async fn describe_cluster(&self, region: &str, cluster: &str) -> Result<DbCluster, CloudError> {
        self.enter("DescribeDBClusters", &format!("{region}/{cluster}"))
            .await?;
        self.lock()
            .clusters
            .iter()
            .find(|c| c.region == region && (c.id == cluster || c.arn == cluster))
            .cloned()
            .ok_or_else(|| {
                not_found(
                    &format!("cluster {cluster} in {region}"),
                    "DBClusterNotFoundFault",
                )
            })
    }

    async fn switchover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError> {
        self.promote(
            "SwitchoverGlobalCluster",
            region,
            global_cluster_id,
            target_cluster_arn,
            false,
        )
        .await
    }

    async fn failover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError> {
        self.promote(
            "FailoverGlobalCluster",
            region,
            global_cluster_id,
            target_cluster_arn,
            true,
        )
        .await
    }
}

impl MemoryCloud {
    async fn promote(
        &self,
        op: &str,
        region: &str,
        global_cluster_id: &str,
        target: &str,
        data_loss: bool,
    ) -> Result<(), CloudError> {
        self.enter(op, &format!("{region}/{global_cluster_id} -> {target}"))
            .await?;
        let polls = self.promotion_polls;
        let mut state = self.lock();
        let state = &mut *state;
        let global = state
            .globals
            .get_mut(global_cluster_id)
            .ok_or_else(|| not_found(global_cluster_id, "GlobalClusterNotFoundFault"))?;
        if global.failover_state.is_some() {
            return Err(api(
                op,
                global_cluster_id,
                "InvalidGlobalClusterStateFault",
                "a switchover or failover is already in progress",
            ));
        }
        let target_member = global.member(target).ok_or_else(|| {
            api(
                op,
                global_cluster_id,
                "InvalidParameterValue",
                &format!("{target} is not a member"),
            )
        })?;
        if target_member.is_writer {
            return Err(api(
                op,
                global_cluster_id,
                "InvalidParameterValue",
                &format!("{target} is already the writer"),
            ));
        }
        if !data_loss && target_member.synchronization_status.as_deref() != Some("connected") {
            return Err(api(
                op,
                global_cluster_id,
                "InvalidGlobalClusterStateFault",
                "the target is not synchronized",
            ));
        }
        let from = global.writer().map(|m| m.cluster_arn.clone());
        global.status = if data_loss {
            "failing-over"
        } else {
            "switching-over"
        }
        .to_string();
        global.failover_state = Some(FailoverState {
            status: "pending".to_string(),
            from_cluster_arn: from,
            to_cluster_arn: Some(target.to_string()),
            is_data_loss_allowed: data_loss,
        });
        state
            .promotions
            .insert(global_cluster_id.to_string(), polls.max(1));
        Ok(())
    }
}
