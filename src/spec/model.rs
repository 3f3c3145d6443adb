//! The validated drill: what a drill file means once every check has passed. Nothing here can be
//! half-valid; `spec::load` is the only way to build one from a file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::ZoneRef;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drill {
    /// The file as given on the command line.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex: the report proves which file ran.
    pub sha256: String,
    pub name: String,
    pub description: String,
    pub schedule: Option<Schedule>,
    pub regions: Regions,
    pub database: Database,
    /// The TTL records carry during the drill (seconds).
    pub drill_ttl: i64,
    pub groups: Vec<RecordGroup>,
    /// How long traffic and the writer stay in the secondary region before failing back.
    pub soak: Duration,
    pub failback: bool,
    /// What a failure does once traffic has moved to the secondary region.
    pub on_failure: OnFailure,
    pub timeouts: Timeouts,
    pub slo: Slos,
    /// `[probes]` with the SLOs and stop conditions that need them; None runs the drill on
    /// control-plane evidence alone.
    pub probes: Option<Probes>,
    /// `[stop] alarms`: CloudWatch alarms that abort the drill when they go to ALARM.
    pub alarms: Option<super::alarms::AlarmWatch>,
    /// `[lab]`: how the embedded lab's world differs from its defaults under `--lab`.
    pub lab: Option<super::lab::LabSettings>,
    /// `[notify]`: the command run after each drill that produced a report.
    pub notify: Option<super::notify::Notify>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The cron expression as written (5 or 6 fields, croner syntax: `L`, `TUE#1`, …).
    pub cron: String,
    /// IANA time zone; None means UTC.
    pub timezone: Option<String>,
    /// `[scheduling]`: allowed hours, blackouts, missed runs, grace.
    pub policy: super::scheduling::Policy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regions {
    pub primary: String,
    pub secondary: String,
}

/// `on_failure`: what a failure does once traffic has moved to the secondary region (before that,
/// there is nothing to stay in, and the drill always rolls back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Move the writer and traffic back to the primary region — where it can serve; otherwise
    /// hold them where they are.
    Rollback,
    /// Keep the writer and traffic in the secondary region, restore the TTLs, and end `held`:
    /// `drill recover` fails back when the team chooses.
    Stay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// SwitchoverGlobalCluster: planned, waits for replication, RPO 0.
    Switchover,
    /// FailoverGlobalCluster with AllowDataLoss: what a real regional outage forces.
    Failover,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Switchover => "switchover",
            Mode::Failover => "failover",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Database {
    pub global_cluster: String,
    /// The cluster in the secondary region to promote: an id or an ARN.
    pub secondary_cluster: String,
    pub mode: Mode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordGroup {
    /// A label for messages and the report.
    pub name: String,
    pub zone: ZoneRef,
    pub traffic: Traffic,
    /// `[[groups.records]]` as listed; empty when the group uses `select`.
    pub records: Vec<RecordSpec>,
    /// `[groups.select]`: the records are whatever the zone holds that this matches, found at
    /// preflight by [`super::select::resolve`]. Exactly one of `records` and `select` names records.
    pub select: Option<Selection>,
}

/// `[groups.select]`, validated: which record sets of the group's zone the drill touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// None: every name in the zone. Otherwise at least one pattern, none overlapping another.
    pub names: Option<Vec<NamePattern>>,
    /// Upper case; default `A`.
    pub rtype: String,
    /// Set identifier → the region that set sends traffic to (one of the drill's two regions).
    /// Every selected set must have an entry in weighted and failover groups.
    pub set_identifiers: BTreeMap<String, String>,
    /// Weighted groups: the weight during the drill for each of the drill's two regions (defaults
    /// filled in: primary 0, secondary 100). Empty for other groups.
    pub drill_weights: BTreeMap<String, i64>,
}

/// One entry of `select.names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// This name (fully qualified, lower case, trailing dot).
    Exact(String),
    /// `*.suffix`: every name strictly under the suffix (held fully qualified, lower case).
    Under(String),
}

impl NamePattern {
    /// Whether `name` (fully qualified, lower case) is selected by this pattern.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Under(suffix) => strictly_under(name, suffix),
        }
    }

    /// The name, or the suffix the names lie under.
    pub fn base(&self) -> &str {
        match self {
            NamePattern::Exact(n) | NamePattern::Under(n) => n,
        }
    }
}

/// `a.b.example.com.` is strictly under `example.com.`; `example.com.` and `xexample.com.` are not.
pub(crate) fn strictly_under(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len()
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(n) => f.write_str(n),
            NamePattern::Under(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// As written in the file (`*.svc.example.com.`), so reports and plans read like the drill file.
impl Serialize for NamePattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Traffic {
    /// Weighted records: each record's `drill_weight` applies during the drill.
    Weighted,
    /// Failover records: inverting this health check (the PRIMARY record's) makes Route 53 answer
    /// with the SECONDARY record.
    Failover { health_check: String },
    /// Only the TTL is lowered (clients follow something else, e.g. the global writer endpoint).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSpec {
    /// Fully qualified, lower case, trailing dot.
    pub name: String,
    /// Upper case: A, AAAA, CNAME, TXT, …
    pub rtype: String,
    pub set_identifier: Option<String>,
    /// Which region this record sends traffic to (required for weighted and failover groups, so the
    /// engine can check the shift really points at the secondary region).
    pub region: Option<String>,
    /// Weighted groups only: the weight during the drill.
    pub drill_weight: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeouts {
    /// Longest wait for one Route 53 change to reach INSYNC.
    pub insync: Duration,
    /// Longest wait for a switchover or failover (either direction) to finish.
    pub promotion: Duration,
    /// Longest wait for the shifted routing to be confirmed.
    pub verify: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slos {
    /// Longest acceptable write outage per promotion.
    pub max_write_outage: Option<Duration>,
    /// Longest acceptable drill, from the first change to the last restore.
    pub max_duration: Option<Duration>,
}

pub use super::probes::{
    CanaryProbe, DnsProbe, HttpProbe, ProbeSlos, Probes, RegionFrom, StopConditions,
    TestDnsAnswerView,
};

impl Drill {
    /// Every record the file lists in `[[groups.records]]`, with its group. Groups that use
    /// `[groups.select]` contribute none here: their records are known only once the zone is listed
    /// (`spec::resolve`), and their regions are in `Selection::set_identifiers`.
    pub fn records(&self) -> impl Iterator<Item = (&RecordGroup, &RecordSpec)> {
        self.groups
            .iter()
            .flat_map(|g| g.records.iter().map(move |r| (g, r)))
    }
}
