//! Ground truth: what really happened in the lab, on its virtual clock. Every control-plane call,
//! every state change, when each region really refused writes, which acknowledged writes were
//! lost, and when DNS answers changed. Probes and reports are checked against this.
//!
//! Times are modelled seconds since the lab started (`t`), with the modelled UTC time beside them
//! (`at`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fault::Fault;
use super::options::Timings;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Modelled seconds per wall second.
    pub time_scale: f64,
    pub started_at: DateTime<Utc>,
    pub faults: Vec<Fault>,
    pub timings: Timings,
    /// What each seeded (name, type) answered when the lab started: `"name TYPE"` → values.
    pub initial_dns: BTreeMap<String, Vec<String>>,
    pub events: Vec<TruthEvent>,
    /// Per region: the intervals during which that region's app refused writes.
    pub write_unavailable: BTreeMap<String, Vec<Interval>>,
    /// The intervals during which no region accepted writes at all.
    pub write_outages: Vec<Interval>,
    /// Acknowledged canary writes per region.
    pub acknowledged_writes: BTreeMap<String, u64>,
    /// Sequence numbers that were acknowledged and then lost (a failover with data loss, or a
    /// detach), in order.
    pub lost_writes: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthEvent {
    /// Modelled seconds since the lab started.
    pub t: f64,
    pub at: DateTime<Utc>,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A call to the AWS endpoint, after it was answered.
    ApiCall {
        service: String,
        operation: String,
        region: String,
        status: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        request_id: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        resource: String,
    },
    /// A resource changed state: `resource` names it, `change` says how.
    State { resource: String, change: String },
    /// What the DNS server answers for `name TYPE` changed.
    Dns {
        name: String,
        rtype: String,
        before: Vec<String>,
        after: Vec<String>,
    },
    /// Acknowledged writes that no longer exist anywhere.
    WritesLost { cluster: String, seqs: Vec<u64> },
    /// A fault started or ended.
    Fault { fault: String, change: String },
}

/// A closed or still open interval of modelled time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    pub from: f64,
    /// None while it is still going on.
    pub to: Option<f64>,
    pub from_at: DateTime<Utc>,
    pub to_at: Option<DateTime<Utc>>,
    /// Modelled seconds so far.
    pub seconds: f64,
}

/// The ground truth's key figures: what a report carries inline, the whole record going to the
/// report's sidecar file. Small whatever the size of the world.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The intervals during which no region accepted writes (one per promotion, at most a few).
    pub write_outages: Vec<Interval>,
    /// Their total, modelled seconds.
    pub write_outage_seconds: f64,
    /// Acknowledged canary writes per region.
    pub acknowledged_writes: BTreeMap<String, u64>,
    /// How many acknowledged writes were lost (their sequence numbers are in the sidecar).
    pub lost_writes: usize,
    /// Calls the AWS endpoint answered, by `service Operation`.
    pub api_calls: BTreeMap<String, u64>,
    /// Calls answered with a throttling error (`Throttling`, `ThrottlingException`,
    /// `PriorRequestNotComplete`), by `service Operation`.
    pub throttled_calls: BTreeMap<String, u64>,
    /// Calls answered with any other error, by error code.
    pub failed_calls: BTreeMap<String, u64>,
    /// How many events the whole record holds.
    pub events: usize,
}

/// The error codes AWS uses to say "slow down".
pub fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling" | "ThrottlingException" | "PriorRequestNotComplete" | "RequestLimitExceeded"
    )
}

impl GroundTruth {
    /// The key figures ([`Figures`]).
    pub fn figures(&self) -> Figures {
        let mut api_calls: BTreeMap<String, u64> = BTreeMap::new();
        let mut throttled_calls: BTreeMap<String, u64> = BTreeMap::new();
        let mut failed_calls: BTreeMap<String, u64> = BTreeMap::new();
        for e in &self.events {
            let What::ApiCall {
                service,
                operation,
                error_code,
                status,
                ..
            } = &e.what
            else {
                continue;
            };
            let call = format!("{service} {operation}");
            *api_calls.entry(call.clone()).or_default() += 1;
            match error_code {
                Some(code) if is_throttling(code) => *throttled_calls.entry(call).or_default() += 1,
                Some(code) => *failed_calls.entry(code.clone()).or_default() += 1,
                None if *status >= 400 => *failed_calls.entry(status.to_string()).or_default() += 1,
                None => {}
            }
        }
        Figures {
            write_outage_seconds: self
                .write_outages
                .iter()
                .fold(0.0, |sum, i| sum + i.seconds),
            write_outages: self.write_outages.clone(),
            acknowledged_writes: self.acknowledged_writes.clone(),
            lost_writes: self.lost_writes.len(),
            api_calls,
            throttled_calls,
            failed_calls,
            events: self.events.len(),
        }
    }
}

/// The recorder the world writes into.
#[derive(Debug)]
pub struct Truth {
    origin: DateTime<Utc>,
    time_scale: f64,
    faults: Vec<Fault>,
    timings: Timings,
    initial_dns: BTreeMap<String, Vec<String>>,
    events: Vec<TruthEvent>,
    /// Per region: when writes were refused.
    unavailable: BTreeMap<String, Spans>,
    outages: Spans,
    acknowledged: BTreeMap<String, u64>,
    lost: Vec<u64>,
}

impl Truth {
    pub fn new(
        origin: DateTime<Utc>,
        time_scale: f64,
        faults: Vec<Fault>,
        timings: Timings,
    ) -> Self {
        Truth {
            origin,
            time_scale,
            faults,
            timings,
            initial_dns: BTreeMap::new(),
            events: Vec::new(),
            unavailable: BTreeMap::new(),
            outages: Spans::default(),
            acknowledged: BTreeMap::new(),
            lost: Vec::new(),
        }
    }

    pub fn at(&self, t: Duration) -> DateTime<Utc> {
        self.origin + chrono::Duration::from_std(t).unwrap_or(chrono::Duration::MAX)
    }

    pub fn set_initial_dns(&mut self, view: BTreeMap<String, Vec<String>>) {
        self.initial_dns = view;
    }

    pub fn record(&mut self, t: Duration, what: What) {
        let at = self.at(t);
        self.events.push(TruthEvent {
            t: t.as_secs_f64(),
            at,
            what,
        });
    }

    pub fn state(&mut self, t: Duration, resource: impl Into<String>, change: impl Into<String>) {
        self.record(
            t,
            What::State {
                resource: resource.into(),
                change: change.into(),
            },
        );
    }

    pub fn acknowledged(&mut self, region: &str) {
        *self.acknowledged.entry(region.to_string()).or_default() += 1;
    }

    pub fn lost(&mut self, t: Duration, cluster: &str, seqs: Vec<u64>) {
        if seqs.is_empty() {
            return;
        }
        self.lost.extend(&seqs);
        self.record(
            t,
            What::WritesLost {
                cluster: cluster.to_string(),
                seqs,
            },
        );
    }

    /// Records whether each region accepts writes at `t`; opens and closes intervals on change.
    pub fn writable(&mut self, t: Duration, by_region: &BTreeMap<String, bool>) {
        for (region, &writable) in by_region {
            self.unavailable
                .entry(region.clone())
                .or_default()
                .toggle(t, !writable);
        }
        let none = !by_region.values().any(|&w| w);
        self.outages.toggle(t, none && !by_region.is_empty());
    }

    /// The whole record as of `now` (open intervals measured up to `now`).
    pub fn snapshot(&self, now: Duration) -> GroundTruth {
        let intervals = |spans: &Spans| {
            let mut out: Vec<Interval> = spans
                .closed
                .iter()
                .map(|&(from, to)| self.interval(from, Some(to), now))
                .collect();
            if let Some(from) = &spans.open {
                out.push(self.interval(*from, None, now));
            }
            out
        };
        GroundTruth {
            time_scale: self.time_scale,
            started_at: self.origin,
            faults: self.faults.clone(),
            timings: self.timings.clone(),
            initial_dns: self.initial_dns.clone(),
            events: self.events.clone(),
            write_unavailable: self
                .unavailable
                .iter()
                .map(|(r, spans)| (r.clone(), intervals(spans)))
                .collect(),
            write_outages: intervals(&self.outages),
            acknowledged_writes: self.acknowledged.clone(),
            lost_writes: self.lost.clone(),
        }
    }

    fn interval(&self, from: Duration, to: Option<Duration>, now: Duration) -> Interval {
        let end = to.unwrap_or(now);
        Interval {
            from: from.as_secs_f64(),
            to: to.map(|t| t.as_secs_f64()),
            from_at: self.at(from),
            to_at: to.map(|t| self.at(t)),
            seconds: end.saturating_sub(from).as_secs_f64(),
        }
    }
}

/// Closed intervals plus the start of an open one.
#[derive(Debug, Default)]
struct Spans {
    closed: Vec<(Duration, Duration)>,
    open: Option<Duration>,
}

impl Spans {
    fn toggle(&mut self, t: Duration, active: bool) {
        match (active, self.open) {
            (true, None) => self.open = Some(t),
            (false, Some(from)) => {
                self.closed.push((from, t));
                self.open = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_intervals_open_and_close() {
        let mut truth = Truth::new(Utc::now(), 30.0, vec![], Timings::default());
        let s = Duration::from_secs;
        let both = |a, b| BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        truth.writable(s(0), &both(true, false));
        truth.writable(s(10), &both(false, false));
        truth.writable(s(15), &both(false, true));
        let gt = truth.snapshot(s(20));
        assert_eq!(gt.write_outages.len(), 1);
        assert_eq!(gt.write_outages[0].from, 10.0);
        assert_eq!(gt.write_outages[0].to, Some(15.0));
        assert_eq!(gt.write_outages[0].seconds, 5.0);
        let a = &gt.write_unavailable["a"];
        assert_eq!((a[0].from, a[0].to, a[0].seconds), (10.0, None, 10.0));
        let b = &gt.write_unavailable["b"];
        assert_eq!((b[0].from, b[0].to), (0.0, Some(15.0)));
    }

    #[test]
    fn figures_count_calls_throttles_and_failures() {
        let mut truth = Truth::new(Utc::now(), 30.0, vec![], Timings::default());
        let call = |op: &str, status: u16, code: Option<&str>| What::ApiCall {
            service: "route53".to_string(),
            operation: op.to_string(),
            region: "us-east-1".to_string(),
            status,
            error_code: code.map(str::to_string),
            request_id: "r".to_string(),
            resource: String::new(),
        };
        let s = Duration::from_secs;
        truth.record(s(1), call("GetChange", 200, None));
        truth.record(s(2), call("GetChange", 400, Some("Throttling")));
        truth.record(
            s(3),
            call("ChangeResourceRecordSets", 400, Some("InvalidChangeBatch")),
        );
        truth.state(s(3), "change C1", "INSYNC");
        truth.lost(s(4), "c", vec![7, 8]);
        let both = |a, b| BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        truth.writable(s(5), &both(false, false));
        truth.writable(s(7), &both(true, false));
        let f = truth.snapshot(s(10)).figures();
        assert_eq!(f.api_calls["route53 GetChange"], 2);
        assert_eq!(f.api_calls["route53 ChangeResourceRecordSets"], 1);
        assert_eq!(f.throttled_calls["route53 GetChange"], 1);
        assert_eq!(f.throttled_calls.len(), 1);
        assert_eq!(f.failed_calls["InvalidChangeBatch"], 1);
        assert_eq!(f.lost_writes, 2);
        assert_eq!(f.write_outages.len(), 1);
        assert_eq!(f.write_outage_seconds, 2.0);
        assert_eq!(f.events, 5);
    }
}
