//! The lab's world: every hosted zone, record, change, health check and database, the faults in
//! force, and a queue of state changes due at modelled times. Nothing runs in the background:
//! whoever looks at the world first advances it to the current modelled time, applying every due
//! step in order at the time it was due, so the ground truth is exact whatever the time scale.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::answer::{Authority, app_ip};
use super::database::{Ctx, Database, DbFaults, Refusal, Step};
use super::fault::{Fault, Trigger};
use super::health::HealthCheck;
use super::options::{LabOptions, Timings};
use super::truth::{Truth, What};
use super::zones::{BatchError, Records, Zone, apply_batch};
use crate::cloud::{ChangeStatus, RecordChange};

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Bare id, `C…`.
    pub id: String,
    pub zone_id: String,
    pub status: ChangeStatus,
    pub submitted: Duration,
    /// When it was accepted on the wall clock: its `SubmittedAt`. AWS stamps changes with real
    /// time, and a drill on the real clock holds its own clock to it (the lease), so the lab does
    /// too while its world runs on the modelled clock.
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub comment: Option<String>,
    /// The zone's records after this change: what the name servers serve once it is INSYNC.
    records: Records,
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Insync {
        change: String,
    },
    HealthEval,
    Db(Step),
    Outage {
        region: String,
        down: bool,
        fault: String,
    },
    Silent {
        on: bool,
        fault: String,
    },
    Stale {
        on: bool,
        fault: String,
    },
    Alarm {
        on: bool,
        fault: String,
    },
    Edit {
        fault: String,
    },
}

/// A CloudWatch metric alarm a drill's `[stop] alarms` names.
#[derive(Debug, Clone, PartialEq)]
pub struct LabAlarm {
    pub name: String,
    pub arn: String,
    pub region: String,
    /// `OK` or `ALARM`.
    pub state: String,
    pub reason: String,
    /// Modelled time of the last state change.
    pub updated: Duration,
}

/// What the name servers serve while the `dns-stale` fault holds: the published zones and the
/// health checks' status as they were when it started.
#[derive(Debug, Clone)]
struct Frozen {
    zones: BTreeMap<String, Zone>,
    health: BTreeMap<String, HealthCheck>,
}

/// The settings an UpdateHealthCheck request may carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthUpdate {
    pub version: Option<i64>,
    pub inverted: Option<bool>,
    pub disabled: Option<bool>,
    pub ip: Option<Ipv4Addr>,
    pub port: Option<u16>,
    pub resource_path: Option<String>,
    pub fqdn: Option<String>,
    pub failure_threshold: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthError {
    NotFound,
    VersionMismatch,
}

#[derive(Debug)]
pub struct World {
    pub timings: Timings,
    throttle: Option<f64>,
    db_faults: DbFaults,
    on_promote: Vec<Fault>,
    /// Regions in seeding order; region i's app is at 127.0.0.(11 + i).
    pub regions: Vec<String>,
    /// The first drill's primary region: what `primary-outage` takes down.
    pub primary_region: Option<String>,
    pub app_port: u16,
    pub zones: BTreeMap<String, Zone>,
    pub changes: BTreeMap<String, ChangeRecord>,
    pub health: BTreeMap<String, HealthCheck>,
    pub db: Database,
    pub down: BTreeSet<String>,
    pub dns_silent: bool,
    /// (region, name) → alarm.
    pub alarms: BTreeMap<(String, String), LabAlarm>,
    /// Set while `dns-stale` holds.
    dns_frozen: Option<Frozen>,
    /// Modelled time since the lab started, as far as the world has been advanced.
    pub now: Duration,
    pub truth: Truth,
    pub rng: StdRng,
    queue: BTreeMap<(Duration, u64), Event>,
    queued: u64,
    dns_view: BTreeMap<String, Vec<String>>,
    last_insync: BTreeMap<String, Duration>,
    /// When the last (up to) [`ROUTE53_RATE`] Route 53 requests the lab served arrived.
    route53_arrivals: VecDeque<Duration>,
}

/// Route 53's control-plane limit: this many requests per modelled second, per account (the lab
/// has one).
pub const ROUTE53_RATE: usize = 5;

impl World {
    pub fn new(
        opts: &LabOptions,
        regions: Vec<String>,
        primary_region: Option<String>,
        app_port: u16,
        origin: DateTime<Utc>,
    ) -> Self {
        let mut timings = opts.timings.clone();
        let mut throttle = None;
        let mut db_faults = DbFaults::default();
        let mut on_promote = Vec::new();
        let mut timed = Vec::new();
        for fault in &opts.faults {
            match fault {
                Fault::Throttle { rate } => throttle = Some(*rate),
                Fault::SwitchoverFails => db_faults.switchover_fails = true,
                Fault::SwitchoverHangs { hang } => db_faults.switchover_hang = Some(*hang),
                Fault::ReplicationLag { lag } => timings.replication_lag = *lag,
                Fault::SlowInsync { delay } => timings.insync = *delay,
                Fault::SecondaryPendingResync => {}
                Fault::PrimaryOutage { at, .. }
                | Fault::DnsSilent { at, .. }
                | Fault::DnsStale { at, .. }
                | Fault::RecordEdited { at }
                | Fault::Alarm { at, .. } => match at {
                    Trigger::Promote => on_promote.push(fault.clone()),
                    Trigger::After(offset) => timed.push((*offset, fault.clone())),
                },
            }
        }
        let truth = Truth::new(
            origin,
            opts.time_scale,
            opts.faults.clone(),
            timings.clone(),
        );
        let mut world = World {
            timings,
            throttle,
            db_faults,
            on_promote,
            regions,
            primary_region,
            app_port,
            zones: BTreeMap::new(),
            changes: BTreeMap::new(),
            health: BTreeMap::new(),
            db: Database::default(),
            down: BTreeSet::new(),
            dns_silent: false,
            alarms: BTreeMap::new(),
            dns_frozen: None,
            now: Duration::ZERO,
            truth,
            rng: StdRng::seed_from_u64(opts.seed),
            queue: BTreeMap::new(),
            queued: 0,
            dns_view: BTreeMap::new(),
            last_insync: BTreeMap::new(),
            route53_arrivals: VecDeque::new(),
        };
        for (offset, fault) in timed {
            world.start_fault(offset, &fault);
        }
        world
    }

    /// Called once seeding is done: records the initial DNS answers and write availability.
    pub fn settle(&mut self) {
        self.dns_view = self.view();
        self.truth.set_initial_dns(self.dns_view.clone());
        self.observe();
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        self.queued += 1;
        self.queue.insert((at, self.queued), event);
    }

    /// Applies every step due by `now`, each at its own modelled time.
    pub fn advance(&mut self, now: Duration) {
        while let Some((&(at, n), _)) = self.queue.first_key_value() {
            if at > now {
                break;
            }
            let event = self.queue.remove(&(at, n)).expect("key just seen");
            self.now = self.now.max(at);
            self.db.deliver(self.now);
            self.apply(event);
            self.observe();
        }
        self.now = self.now.max(now);
        self.db.deliver(self.now);
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Insync { change } => {
                let Some(c) = self.changes.get_mut(&change) else {
                    return;
                };
                c.status = ChangeStatus::Insync;
                if let Some(zone) = self.zones.get_mut(&c.zone_id) {
                    zone.published = c.records.clone();
                }
                self.truth
                    .state(self.now, format!("change {change}"), "INSYNC");
            }
            Event::HealthEval => self.evaluate_health(),
            Event::Db(step) => self.with_db(|db, ctx| db.step(ctx, step)),
            Event::Outage {
                region,
                down,
                fault,
            } => {
                if down {
                    self.down.insert(region.clone());
                    self.db.region_down(self.now, &region);
                } else {
                    self.down.remove(&region);
                    self.with_db(|db, ctx| db.region_up(ctx, &region));
                }
                let change = if down {
                    format!("region {region} down")
                } else {
                    format!("region {region} back up")
                };
                self.truth.record(
                    self.now,
                    What::Fault {
                        fault,
                        change: change.clone(),
                    },
                );
                for c in self.db.clusters.values().filter(|c| c.region == region) {
                    let status = if down { "inaccessible" } else { "available" };
                    self.truth.state(
                        self.now,
                        format!("cluster {}", c.arn),
                        format!("status {status}"),
                    );
                }
                self.schedule(
                    self.now + self.timings.health_propagation,
                    Event::HealthEval,
                );
            }
            Event::Alarm { on, fault } => {
                let (state, reason) = if on {
                    ("ALARM", format!("Threshold Crossed: lab fault {fault}"))
                } else {
                    (
                        "OK",
                        "Threshold Crossed: no datapoints were breaching".to_string(),
                    )
                };
                for alarm in self.alarms.values_mut() {
                    alarm.state = state.to_string();
                    alarm.reason = reason.clone();
                    alarm.updated = self.now;
                }
                self.truth.record(
                    self.now,
                    What::Fault {
                        fault,
                        change: format!("every stop alarm {state}"),
                    },
                );
            }
            Event::Edit { fault } => {
                let edited = self.zones.values_mut().find_map(|zone| {
                    let (key, record) = zone.records.iter_mut().find(|(_, r)| r.weight.is_some())?;
                    let weight = if record.weight == Some(7) { 8 } else { 7 };
                    record.weight = Some(weight);
                    let record = record.clone();
                    zone.published.insert(key.clone(), record.clone());
                    Some(format!(
                        "record {} {} (set {}) in zone {} edited outside the drill: weight {weight}",
                        record.name,
                        record.rtype,
                        record.set_identifier.as_deref().unwrap_or("-"),
                        zone.id
                    ))
                });
                let change = edited.unwrap_or_else(|| "no weighted record to edit".to_string());
                self.truth.record(self.now, What::Fault { fault, change });
            }
            Event::Stale { on, fault } => {
                self.dns_frozen = on.then(|| Frozen {
                    zones: self.zones.clone(),
                    health: self.health.clone(),
                });
                let change = if on {
                    "DNS server frozen: it keeps answering the records it serves now"
                } else {
                    "DNS server serving the published records again"
                };
                self.truth.record(
                    self.now,
                    What::Fault {
                        fault,
                        change: change.to_string(),
                    },
                );
            }
            Event::Silent { on, fault } => {
                self.dns_silent = on;
                let change = if on {
                    "DNS server silent"
                } else {
                    "DNS server answering again"
                };
                self.truth.record(
                    self.now,
                    What::Fault {
                        fault,
                        change: change.to_string(),
                    },
                );
            }
        }
    }

    /// Schedules a timed fault's start (and end) from `at`.
    fn start_fault(&mut self, at: Duration, fault: &Fault) {
        let name = fault.to_string();
        match fault {
            Fault::PrimaryOutage { lasts, .. } => {
                let Some(region) = self.primary_region.clone() else {
                    return;
                };
                self.schedule(
                    at,
                    Event::Outage {
                        region: region.clone(),
                        down: true,
                        fault: name.clone(),
                    },
                );
                if let Some(lasts) = lasts {
                    self.schedule(
                        at + *lasts,
                        Event::Outage {
                            region,
                            down: false,
                            fault: name,
                        },
                    );
                }
            }
            Fault::Alarm { lasts, .. } => {
                self.schedule(
                    at,
                    Event::Alarm {
                        on: true,
                        fault: name.clone(),
                    },
                );
                if let Some(lasts) = lasts {
                    self.schedule(
                        at + *lasts,
                        Event::Alarm {
                            on: false,
                            fault: name,
                        },
                    );
                }
            }
            Fault::RecordEdited { .. } => self.schedule(at, Event::Edit { fault: name }),
            Fault::DnsSilent { lasts, .. } | Fault::DnsStale { lasts, .. } => {
                let stale = matches!(fault, Fault::DnsStale { .. });
                let event = |on: bool, fault: String| match stale {
                    true => Event::Stale { on, fault },
                    false => Event::Silent { on, fault },
                };
                self.schedule(at, event(true, name.clone()));
                if let Some(lasts) = lasts {
                    self.schedule(at + *lasts, event(false, name));
                }
            }
            _ => {}
        }
    }

    /// A SwitchoverGlobalCluster / FailoverGlobalCluster request arrived: `@promote` faults fire
    /// now, before the request is handled.
    pub fn promotion_requested(&mut self) {
        let faults = std::mem::take(&mut self.on_promote);
        for fault in &faults {
            self.start_fault(self.now, fault);
        }
        if !faults.is_empty() {
            let now = self.now;
            self.advance(now);
        }
    }

    pub fn with_db<T>(&mut self, f: impl FnOnce(&mut Database, &mut Ctx<'_>) -> T) -> T {
        let mut later = Vec::new();
        let out = {
            let mut ctx = Ctx {
                now: self.now,
                timings: &self.timings,
                faults: &self.db_faults,
                down: &self.down,
                truth: &mut self.truth,
                later: &mut later,
            };
            f(&mut self.db, &mut ctx)
        };
        for (at, step) in later {
            self.schedule(at, Event::Db(step));
        }
        self.observe();
        out
    }

    /// Whether a Route 53 request arriving at `at` (modelled time since the lab started) exceeds
    /// the account's rate: it would be the sixth within one modelled second. A refused request
    /// does not count against the next ones; a served one does.
    pub fn route53_rate_exceeded(&mut self, at: Duration) -> bool {
        if self.route53_arrivals.len() == ROUTE53_RATE
            && self
                .route53_arrivals
                .front()
                .is_some_and(|first| at.saturating_sub(*first) < Duration::from_secs(1))
        {
            return true;
        }
        if self.route53_arrivals.len() == ROUTE53_RATE {
            self.route53_arrivals.pop_front();
        }
        self.route53_arrivals.push_back(at);
        false
    }

    /// Whether this control-plane call is throttled (the `throttle` fault).
    pub fn throttled(&mut self) -> bool {
        match self.throttle {
            Some(rate) => self.rng.random_bool(rate.clamp(0.0, 1.0)),
            None => false,
        }
    }

    /// Applies a change batch to the control-plane view now; it is published at INSYNC.
    pub fn change_records(
        &mut self,
        zone_id: &str,
        changes: &[RecordChange],
        comment: Option<String>,
    ) -> Result<ChangeRecord, BatchError> {
        let zone = self.zones.get(zone_id).expect("caller checked the zone");
        let health = &self.health;
        let records = apply_batch(zone, changes, &|id| health.contains_key(id))?;
        let id = self.new_id('C', 13);
        // Changes to one zone become INSYNC in the order they were made.
        let insync_at = (self.now + self.timings.insync)
            .max(self.last_insync.get(zone_id).copied().unwrap_or_default());
        self.last_insync.insert(zone_id.to_string(), insync_at);
        let zone = self.zones.get_mut(zone_id).expect("checked above");
        zone.records = records.clone();
        let change = ChangeRecord {
            id: id.clone(),
            zone_id: zone_id.to_string(),
            status: ChangeStatus::Pending,
            submitted: self.now,
            submitted_at: chrono::Utc::now(),
            comment,
            records,
        };
        self.changes.insert(id.clone(), change.clone());
        self.schedule(insync_at, Event::Insync { change: id.clone() });
        let summary: Vec<String> = changes
            .iter()
            .map(|c| {
                format!(
                    "{:?} {} {}{}",
                    c.action,
                    c.record.name,
                    c.record.rtype,
                    c.record
                        .set_identifier
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        self.truth.state(
            self.now,
            format!("change {id}"),
            format!("PENDING in zone {zone_id}: {}", summary.join(", ")),
        );
        Ok(change)
    }

    pub fn update_health_check(
        &mut self,
        id: &str,
        update: HealthUpdate,
    ) -> Result<HealthCheck, HealthError> {
        let hc = self.health.get_mut(id).ok_or(HealthError::NotFound)?;
        if update.version.is_some_and(|v| v != hc.version) {
            return Err(HealthError::VersionMismatch);
        }
        let before = (hc.inverted, hc.disabled);
        if let Some(v) = update.inverted {
            hc.inverted = v;
        }
        if let Some(v) = update.disabled {
            hc.disabled = v;
        }
        if let Some(v) = update.ip {
            hc.ip = Some(v);
        }
        if let Some(v) = update.port {
            hc.port = v;
        }
        if let Some(v) = update.resource_path {
            hc.resource_path = Some(v);
        }
        if let Some(v) = update.fqdn {
            hc.fqdn = Some(v);
        }
        if let Some(v) = update.failure_threshold {
            hc.failure_threshold = v;
        }
        hc.version += 1;
        let after = hc.clone();
        self.truth.state(
            self.now,
            format!("health-check {id}"),
            format!(
                "version {}: inverted {} → {}, disabled {} → {}",
                after.version, before.0, after.inverted, before.1, after.disabled
            ),
        );
        self.schedule(
            self.now + self.timings.health_propagation,
            Event::HealthEval,
        );
        Ok(after)
    }

    /// Whether the endpoint a health check probes answers (its region's app is up).
    pub fn endpoint_up(&self, hc: &HealthCheck) -> bool {
        hc.ip
            .and_then(|ip| self.region_of_ip(IpAddr::V4(ip)))
            .is_some_and(|region| !self.down.contains(&region) && hc.port == self.app_port)
    }

    /// The checkers catch up with every health check's settings and endpoint.
    fn evaluate_health(&mut self) {
        let ids: Vec<String> = self.health.keys().cloned().collect();
        for id in ids {
            let hc = &self.health[&id];
            let observed = hc.evaluate(self.endpoint_up(hc));
            let flipped = observed.healthy != hc.observed.healthy;
            if flipped {
                let verdict = if observed.healthy {
                    "healthy"
                } else {
                    "unhealthy"
                };
                let change = format!("checkers report {verdict} ({})", observed.status);
                self.truth
                    .state(self.now, format!("health-check {id}"), change);
            }
            if let Some(hc) = self.health.get_mut(&id) {
                hc.observed = observed;
            }
        }
    }

    /// The region whose app lives at `ip`.
    pub fn region_of_ip(&self, ip: IpAddr) -> Option<String> {
        self.regions
            .iter()
            .enumerate()
            .find(|(i, _)| IpAddr::V4(app_ip(*i)) == ip)
            .map(|(_, r)| r.clone())
    }

    /// The configuration as the Route 53 API knows it (what TestDNSAnswer answers from).
    pub fn authority(&self) -> Authority<'_> {
        Authority {
            zones: &self.zones,
            health: &self.health,
            regions: &self.regions,
        }
    }

    /// What the name servers answer from: the configuration, or the snapshot `dns-stale` froze.
    pub fn served(&self) -> Authority<'_> {
        match &self.dns_frozen {
            Some(frozen) => Authority {
                zones: &frozen.zones,
                health: &frozen.health,
                regions: &self.regions,
            },
            None => self.authority(),
        }
    }

    /// A canary write through `region`'s app.
    pub fn canary_write(&mut self, region: &str, seq: u64) -> Result<(), Refusal> {
        let lag = self.timings.replication_lag;
        self.db.write(region, seq, self.now, lag, &self.down)?;
        self.truth.acknowledged(region);
        Ok(())
    }

    /// Records write availability and DNS answer changes after anything happened.
    pub fn observe(&mut self) {
        let writable: BTreeMap<String, bool> = self
            .regions
            .iter()
            .map(|r| (r.clone(), self.db.writable(r, &self.down).is_ok()))
            .collect();
        self.truth.writable(self.now, &writable);
        let view = self.view();
        if view != self.dns_view {
            let keys: BTreeSet<&String> = view.keys().chain(self.dns_view.keys()).collect();
            for key in keys {
                let before = self.dns_view.get(key).cloned().unwrap_or_default();
                let after = view.get(key).cloned().unwrap_or_default();
                if before != after {
                    let (name, rtype) = key.rsplit_once(' ').unwrap_or((key.as_str(), ""));
                    self.truth.record(
                        self.now,
                        What::Dns {
                            name: name.to_string(),
                            rtype: rtype.to_string(),
                            before,
                            after,
                        },
                    );
                }
            }
            self.dns_view = view;
        }
    }

    /// Every answer each published (name, type) can give, keyed `"name TYPE"`.
    fn view(&self) -> BTreeMap<String, Vec<String>> {
        let authority = self.served();
        let mut keys = BTreeSet::new();
        for zone in self.zones.values() {
            for r in zone.published.values() {
                if !(r.name == zone.name && (r.rtype == "SOA" || r.rtype == "NS")) {
                    keys.insert((r.name.clone(), r.rtype.clone()));
                }
            }
        }
        keys.into_iter()
            .map(|(name, rtype)| {
                let values = authority.possible(&name, &rtype, None);
                (format!("{name} {rtype}"), values)
            })
            .collect()
    }

    /// A random Route 53-style id: `prefix` and `len` upper-case letters and digits.
    pub fn new_id(&mut self, prefix: char, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut id = String::from(prefix);
        for _ in 0..len {
            id.push(ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char);
        }
        id
    }

    /// A request id in AWS's UUID shape.
    pub fn request_id(&mut self) -> String {
        let n: u128 = self.rng.random();
        let h = format!("{n:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// A stable id derived from a name: `prefix` and `len` upper-case letters and digits.
pub fn stable_id(prefix: &str, name: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let digest = Sha256::digest(name.as_bytes());
    let tail: String = digest
        .iter()
        .take(len)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{ChangeAction, RecordSet};
    use crate::lab::truth::What;
    use crate::lab::zones::SortKey;

    fn world() -> World {
        let regions = vec!["us-east-1".to_string(), "us-west-2".to_string()];
        let mut w = World::new(
            &LabOptions::default(),
            regions,
            Some("us-east-1".into()),
            8080,
            Utc::now(),
        );
        let mut zone = Zone::new("Z1", "example.com.");
        let www = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.11"]);
        zone.records.insert(SortKey::of(&www), www.clone());
        zone.published.insert(SortKey::of(&www), www);
        w.zones.insert("Z1".into(), zone);
        w.settle();
        w
    }

    #[test]
    fn changes_reach_dns_at_insync_and_the_truth_says_when() {
        let mut w = world();
        w.advance(Duration::from_secs(5));
        let upsert = RecordChange {
            action: ChangeAction::Upsert,
            record: RecordSet::simple("www.example.com.", "A", 60, &["127.0.0.12"]),
        };
        let change = w.change_records("Z1", &[upsert], None).unwrap();
        assert_eq!(change.status, ChangeStatus::Pending);
        w.advance(Duration::from_secs(20));
        assert_eq!(w.changes[&change.id].status, ChangeStatus::Pending);
        assert_eq!(
            w.authority().possible("www.example.com.", "A", None),
            ["127.0.0.11"]
        );
        w.advance(Duration::from_secs(100));
        assert_eq!(w.changes[&change.id].status, ChangeStatus::Insync);
        let truth = w.truth.snapshot(w.now);
        let dns: Vec<f64> = truth
            .events
            .iter()
            .filter(|e| matches!(e.what, What::Dns { .. }))
            .map(|e| e.t)
            .collect();
        assert_eq!(dns, [35.0], "published exactly when the change went INSYNC");
    }

    #[test]
    fn health_changes_propagate_after_the_modelled_delay() {
        let mut w = world();
        w.health.insert(
            "hc".into(),
            HealthCheck::http("hc", Ipv4Addr::new(127, 0, 0, 11), 8080),
        );
        let update = HealthUpdate {
            version: Some(1),
            inverted: Some(true),
            ..HealthUpdate::default()
        };
        assert_eq!(
            w.update_health_check("hc", update.clone()).unwrap().version,
            2
        );
        assert_eq!(
            w.update_health_check("hc", update),
            Err(HealthError::VersionMismatch)
        );
        w.advance(Duration::from_secs(9));
        assert!(w.health["hc"].observed.healthy);
        w.advance(Duration::from_secs(11));
        assert!(!w.health["hc"].observed.healthy);
    }

    #[test]
    fn timed_outages_take_the_primary_down_and_back() {
        let opts = LabOptions {
            faults: vec!["primary-outage@30s/1m".parse().unwrap()],
            ..LabOptions::default()
        };
        let mut w = World::new(
            &opts,
            vec!["us-east-1".into(), "us-west-2".into()],
            Some("us-east-1".into()),
            8080,
            Utc::now(),
        );
        w.settle();
        w.advance(Duration::from_secs(31));
        assert!(w.down.contains("us-east-1"));
        w.advance(Duration::from_secs(91));
        assert!(w.down.is_empty());
    }
}
