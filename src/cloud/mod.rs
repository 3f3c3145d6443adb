//! The cloud boundary: narrow async traits in the drill's own terms (record sets, changes, health
//! checks, global clusters), and the domain types they speak. The engine only ever sees these; the
//! AWS SDK types stay inside `cloud::aws`, and the in-memory test double lives in `cloud::memory`.

pub mod aws;
pub mod memory;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// How a drill file names a hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneRef {
    /// A hosted zone id, with or without the `/hostedzone/` prefix.
    Id(String),
    /// A zone name such as `example.com` (trailing dot optional). Must match exactly one public or
    /// private zone, otherwise preflight refuses.
    Name(String),
}

impl fmt::Display for ZoneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneRef::Id(id) => write!(f, "zone id {id}"),
            ZoneRef::Name(name) => write!(f, "zone {name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedZone {
    /// The bare id (`Z0123…`), never with the `/hostedzone/` prefix.
    pub id: String,
    /// Fully qualified, lower case, with the trailing dot.
    pub name: String,
    pub private: bool,
    /// The zone's delegation set (empty for private zones or where the API does not return it).
    pub name_servers: Vec<String>,
}

/// Identifies one resource record set inside a zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub zone_id: String,
    /// Fully qualified, lower case, with the trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} {} in zone {}",
            self.name, self.rtype, self.zone_id
        )?;
        if let Some(id) = &self.set_identifier {
            write!(f, " (set {id})")?;
        }
        Ok(())
    }
}

/// A whole Route 53 resource record set. Every field Route 53 returns is kept, because an UPSERT
/// replaces the entire set: dropping a field would silently change routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Fully qualified, lower case, with the trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    /// None only for alias records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Latency-based routing region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `PRIMARY` or `SECONDARY` for failover routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_answer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_location: Option<GeoLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_routing: Option<CidrRouting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geoproximity: Option<Geoproximity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<AliasTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy_instance_id: Option<String>,
}

impl RecordSet {
    pub fn key(&self, zone_id: &str) -> RecordKey {
        RecordKey {
            zone_id: zone_id.to_string(),
            name: self.name.clone(),
            rtype: self.rtype.clone(),
            set_identifier: self.set_identifier.clone(),
        }
    }

    /// A minimal record set with only the identity and simple values set; everything else empty.
    pub fn simple(name: &str, rtype: &str, ttl: i64, values: &[&str]) -> Self {
        RecordSet {
            name: name.to_string(),
            rtype: rtype.to_string(),
            set_identifier: None,
            ttl: Some(ttl),
            values: values.iter().map(|v| v.to_string()).collect(),
            weight: None,
            region: None,
            failover: None,
            health_check_id: None,
            multi_value_answer: None,
            geo_location: None,
            cidr_routing: None,
            geoproximity: None,
            alias_target: None,
            traffic_policy_instance_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoLocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidrRouting {
    pub collection_id: String,
    pub location_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geoproximity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_zone_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    pub dns_name: String,
    pub evaluate_target_health: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeAction {
    Create,
    Upsert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordChange {
    pub action: ChangeAction,
    pub record: RecordSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeStatus {
    Pending,
    Insync,
}

/// What `ChangeResourceRecordSets` / `GetChange` return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeInfo {
    /// The bare change id, without the `/change/` prefix.
    pub id: String,
    pub status: ChangeStatus,
    /// When Route 53 accepted the change, on its own clock: the reference the lease holds every
    /// host's clock to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub id: String,
    /// `HealthCheckVersion`: an update names the version it expects, so a concurrent edit by someone
    /// else makes the update fail instead of being overwritten.
    pub version: i64,
    pub inverted: bool,
    pub disabled: bool,
    /// `HTTP`, `HTTPS`, `TCP`, `CALCULATED`, `CLOUDWATCH_METRIC`, …
    pub kind: String,
}

/// The parts of a health check a drill may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckSettings {
    pub inverted: bool,
    pub disabled: bool,
}

impl HealthCheck {
    pub fn settings(&self) -> HealthCheckSettings {
        HealthCheckSettings {
            inverted: self.inverted,
            disabled: self.disabled,
        }
    }
}

/// What Route 53's checkers currently report (`GetHealthCheckStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckStatus {
    pub healthy_checkers: u32,
    pub total_checkers: u32,
}

impl HealthCheckStatus {
    /// Route 53 considers an endpoint healthy when more than 18 % of its checkers do.
    pub fn is_healthy(&self) -> bool {
        self.total_checkers == 0 || self.healthy_checkers * 100 > self.total_checkers * 18
    }
}

/// The Route 53 operations a drill uses.
#[async_trait]
pub trait Route53: Send + Sync {
    /// GetHostedZone for an id, ListHostedZonesByName for a name (exactly one match or an error).
    async fn find_zone(&self, zone: &ZoneRef) -> Result<HostedZone, CloudError>;

    /// ListHostedZones, every page: every hosted zone of the account, without name servers.
    async fn list_zones(&self) -> Result<Vec<HostedZone>, CloudError>;

    /// The record set with this name, type and set identifier, or None if it does not exist.
    async fn get_record(&self, key: &RecordKey) -> Result<Option<RecordSet>, CloudError>;

    /// ListResourceRecordSets over a span of the zone, every page, in Route 53's order (see
    /// `listing_order`): from `span.from` (StartRecordName; the zone's start if None) until the
    /// zone ends or a page ends past `span.through` and every name under it.
    async fn list_records(
        &self,
        zone_id: &str,
        span: &NameSpan,
    ) -> Result<Vec<RecordSet>, CloudError>;

    /// Submits the changes for one zone. Changes are sent in one ChangeResourceRecordSets call, split
    /// into batches past 1,000 changes; one ChangeInfo per call, in order.
    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
        comment: &str,
    ) -> Result<Vec<ChangeInfo>, CloudError>;

    async fn get_change(&self, change_id: &str) -> Result<ChangeInfo, CloudError>;

    async fn get_health_check(&self, id: &str) -> Result<HealthCheck, CloudError>;

    /// UpdateHealthCheck with `HealthCheckVersion = expected_version`; returns the updated check.
    async fn update_health_check(
        &self,
        id: &str,
        expected_version: i64,
        settings: HealthCheckSettings,
    ) -> Result<HealthCheck, CloudError>;

    async fn get_health_check_status(&self, id: &str) -> Result<HealthCheckStatus, CloudError>;

    /// TestDNSAnswer: what Route 53 answers for `name`/`rtype` from its configuration, as seen by a
    /// client at `client_ip` (sent as the EDNS client subnet; latency and geo records depend on
    /// it). None asks without a client subnet.
    async fn test_dns_answer(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
        client_ip: Option<&str>,
    ) -> Result<DnsAnswer, CloudError>;
}

/// A stretch of a zone's listing: the names from `from` through `through` and every name under
/// `through`, in Route 53's order. Both None: the whole zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameSpan {
    pub from: Option<String>,
    pub through: Option<String>,
}

impl NameSpan {
    /// The whole zone.
    pub fn all() -> Self {
        NameSpan::default()
    }

    /// The narrowest span holding every one of these names (and the names under the last).
    pub fn covering<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut orders: Vec<(Vec<String>, &str)> =
            names.into_iter().map(|n| (listing_order(n), n)).collect();
        orders.sort();
        // The span ends after the last name's subtree, or after the subtree of a name above it
        // (an ancestor sorts first, and its subtree reaches past the last name).
        let through = orders.last().and_then(|(last, _)| {
            orders
                .iter()
                .find(|(o, _)| last.starts_with(o))
                .map(|(_, n)| fqdn(n))
        });
        NameSpan {
            from: orders.first().map(|(_, n)| fqdn(n)),
            through,
        }
    }

    /// The smallest span holding both.
    pub fn union(&self, other: &NameSpan) -> NameSpan {
        let lower = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(
                if listing_order(a) <= listing_order(b) {
                    a
                } else {
                    b
                }
                .clone(),
            ),
            _ => None,
        };
        // The end whose subtree reaches further: an ancestor's reaches past its descendants.
        let upper = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => {
                let (oa, ob) = (listing_order(a), listing_order(b));
                let a_reaches = ob.starts_with(&oa) || (!oa.starts_with(&ob) && oa >= ob);
                Some(if a_reaches { a } else { b }.clone())
            }
            _ => None,
        };
        NameSpan {
            from: lower(&self.from, &other.from),
            through: upper(&self.through, &other.through),
        }
    }

    /// Whether a listing that reached `name` has gone past the span's end.
    pub fn is_past(&self, name: &str) -> bool {
        let Some(through) = &self.through else {
            return false;
        };
        let (name, through) = (listing_order(name), listing_order(through));
        name > through && !name.starts_with(&through)
    }
}

/// Route 53's listing order for a name: its labels reversed (`www.example.com.` sorts as
/// `com example www`), compared label by label, lower case.
pub fn listing_order(name: &str) -> Vec<String> {
    fqdn(name)
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .rev()
        .map(str::to_string)
        .collect()
}

/// A TestDNSAnswer result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// `NOERROR`, `NXDOMAIN`, …
    pub response_code: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalCluster {
    pub id: String,
    pub arn: String,
    /// `available`, `failing-over`, `switching-over`, …
    pub status: String,
    pub engine: String,
    pub members: Vec<GlobalMember>,
    pub failover_state: Option<FailoverState>,
}

impl GlobalCluster {
    pub fn writer(&self) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.is_writer)
    }

    pub fn member(&self, cluster_arn: &str) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.cluster_arn == cluster_arn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalMember {
    pub cluster_arn: String,
    /// The region, taken from the ARN.
    pub region: String,
    pub is_writer: bool,
    pub readers: Vec<String>,
    /// `connected` or `pending-resync`; None for the writer.
    pub synchronization_status: Option<String>,
    pub write_forwarding_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverState {
    /// `pending`, `switching-over`, `failing-over` or `cancelling`.
    pub status: String,
    pub from_cluster_arn: Option<String>,
    pub to_cluster_arn: Option<String>,
    pub is_data_loss_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbCluster {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub region: String,
}

/// The RDS operations a drill uses. Every call names the region whose endpoint it goes to.
#[async_trait]
pub trait GlobalDatabase: Send + Sync {
    async fn describe_global_cluster(
        &self,
        region: &str,
        global_cluster_id: &str,
    ) -> Result<GlobalCluster, CloudError>;

    /// DescribeDBClusters for one cluster id or ARN in the region.
    async fn describe_cluster(&self, region: &str, cluster: &str) -> Result<DbCluster, CloudError>;

    /// SwitchoverGlobalCluster: planned, RPO 0.
    async fn switchover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError>;

    /// FailoverGlobalCluster with AllowDataLoss=true: unplanned, may lose unreplicated writes.
    async fn failover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError>;
}

/// A CloudWatch alarm's state (metric or composite alarm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmState {
    pub name: String,
    pub arn: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl AlarmState {
    pub const ALARM: &'static str = "ALARM";
    pub const INSUFFICIENT_DATA: &'static str = "INSUFFICIENT_DATA";
}

/// The CloudWatch operations a drill uses: reading the alarms its `[stop]` table names.
#[async_trait]
pub trait Alarms: Send + Sync {
    /// DescribeAlarms for these names in the region, metric and composite alarms alike. Names
    /// that do not exist are simply absent from the result.
    async fn describe_alarms(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<AlarmState>, CloudError>;
}

/// Every part of the cloud, as the engine receives it.
#[derive(Clone)]
pub struct Cloud {
    pub route53: Arc<dyn Route53>,
    pub rds: Arc<dyn GlobalDatabase>,
    pub alarms: Arc<dyn Alarms>,
}

/// An error from the cloud, in terms an operator can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CloudError {
    #[error("{resource} not found ({code})")]
    NotFound { resource: String, code: String },
    #[error("{operation} on {resource} failed: {code}: {message}")]
    Api {
        operation: String,
        resource: String,
        code: String,
        message: String,
    },
    #[error("{operation} on {resource} could not reach the service: {message}")]
    Transport {
        operation: String,
        resource: String,
        message: String,
    },
    /// Never sent: this process cannot make the request as configured (a region it has no client
    /// for, a malformed region). No AWS error code, because AWS never saw it.
    #[error("{operation} on {resource} was not sent: {message}")]
    Config {
        operation: String,
        resource: String,
        message: String,
    },
}

impl CloudError {
    /// The AWS error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::NotFound { code, .. } | CloudError::Api { code, .. } => Some(code),
            CloudError::Transport { .. } | CloudError::Config { .. } => None,
        }
    }
}

/// The region part of an ARN (`arn:aws:rds:us-west-2:123456789012:cluster:name`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(_), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// Lower case, with exactly one trailing dot.
pub fn fqdn(name: &str) -> String {
    let trimmed = name.trim().trim_end_matches('.').to_ascii_lowercase();
    format!("{trimmed}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_arn() {
        assert_eq!(
            region_of_arn("arn:aws:rds:us-west-2:123456789012:cluster:app"),
            Some("us-west-2")
        );
        assert_eq!(region_of_arn("app-cluster"), None);
    }

    #[test]
    fn fqdn_normalises_case_and_dot() {
        assert_eq!(fqdn("API.Example.com"), "api.example.com.");
        assert_eq!(fqdn("api.example.com."), "api.example.com.");
    }

    #[test]
    fn a_span_covers_its_names_and_everything_under_the_last() {
        let span = NameSpan::covering(["b.example.com", "a.example.com", "x.a.example.com"]);
        assert_eq!(span.from.as_deref(), Some("a.example.com."));
        assert_eq!(span.through.as_deref(), Some("b.example.com."));
        assert!(!span.is_past("a.b.example.com."));
        assert!(!span.is_past("b.example.com."));
        assert!(span.is_past("c.example.com."));
        assert!(span.is_past("example.net."));
        // An ancestor's subtree reaches past a later name under it.
        let wide = NameSpan::covering(["example.com", "api.x.example.com"]);
        assert_eq!(wide.through.as_deref(), Some("example.com."));
        assert!(!wide.is_past("zz.example.com."));
        assert!(wide.is_past("example.net."));
        let joined = NameSpan::covering(["a.example.com"]).union(&wide);
        assert_eq!(joined.through.as_deref(), Some("example.com."));
        let whole = span.union(&NameSpan::all());
        assert_eq!(whole, NameSpan::all());
        assert!(!whole.is_past("zzz.example.org."));
        let wider = span.union(&NameSpan::covering(["0.example.com", "d.example.com"]));
        assert_eq!(wider.from.as_deref(), Some("0.example.com."));
        assert_eq!(wider.through.as_deref(), Some("d.example.com."));
    }

    #[test]
    fn health_follows_the_checker_majority_rule() {
        let s = |h, t| HealthCheckStatus {
            healthy_checkers: h,
            total_checkers: t,
        };
        assert!(s(3, 15).is_healthy());
        assert!(!s(2, 15).is_healthy());
        assert!(!s(0, 8).is_healthy());
    }
}
