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
}
