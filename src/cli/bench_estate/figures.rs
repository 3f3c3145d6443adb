//! The figures of `drill bench-estate`, computed from the lab's ground truth, the run's phases (its
//! steps on the lab's clock) and its journal: calls per phase by kind, change calls per zone against
//! what Route 53's batch limits need, the busiest second, the bound, and the last undo's time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::journal::{Line, Mutation};
use crate::lab::truth::{GroundTruth, What};

/// The bound's slack over the pages a run must read: change and GetChange calls fit in it.
pub const BOUND_SLACK: f64 = 1.2;

/// Route 53 (and RDS) calls, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Calls {
    /// Every Route 53 call, answered or refused.
    pub route53: usize,
    /// ListResourceRecordSets pages (also the engine's one-record reads, which are one page each).
    pub list_pages: usize,
    pub change_calls: usize,
    pub get_change: usize,
    /// GetHealthCheck, GetHealthCheckStatus, UpdateHealthCheck, ListHealthChecks.
    pub health_checks: usize,
    /// Every other Route 53 call (zone look-ups, TestDNSAnswer).
    pub other_route53: usize,
    /// RDS calls, for context: they do not count against Route 53's limit.
    pub rds: usize,
}

impl Calls {
    fn count(&mut self, service: &str, operation: &str) {
        if service == "rds" {
            self.rds += 1;
            return;
        }
        if service != "route53" {
            return;
        }
        self.route53 += 1;
        match operation {
            "ListResourceRecordSets" => self.list_pages += 1,
            "ChangeResourceRecordSets" => self.change_calls += 1,
            "GetChange" => self.get_change += 1,
            op if op.contains("HealthCheck") => self.health_checks += 1,
            _ => self.other_route53 += 1,
        }
    }

    pub fn add(&mut self, other: &Calls) {
        self.route53 += other.route53;
        self.list_pages += other.list_pages;
        self.change_calls += other.change_calls;
        self.get_change += other.get_change;
        self.health_checks += other.health_checks;
        self.other_route53 += other.other_route53;
        self.rds += other.rds;
    }
}

/// A span of the run on the lab's clock (seconds since the lab started).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub name: String,
    pub from: f64,
    pub to: f64,
}

/// One phase's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFigures {
    pub phase: String,
    /// Modelled seconds since the lab started.
    pub from_s: f64,
    pub to_s: f64,
    pub calls: Calls,
    /// The most ChangeResourceRecordSets calls any one zone got in this phase.
    pub max_change_calls_per_zone: usize,
    /// The most any one zone needed: ceil(its changes / 1000), or ceil(its ResourceRecord
    /// elements / 1000) where UPSERTs count twice, whichever is more (this estate's record sets
    /// hold one value each).
    pub max_change_calls_needed: usize,
    /// Zones that got more change calls than they needed.
    pub zones_over: usize,
}

/// The bound a run's Route 53 calls are held against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bound {
    /// Pages one listing of every touched zone takes (300 record sets a page).
    pub pages_to_list_touched_zones: usize,
    /// Phases with at least one ListResourceRecordSets call.
    pub reading_phases: usize,
    pub health_check_calls: usize,
    /// 1.2 × pages × reading phases + health-check calls.
    pub bound: f64,
    pub actual: usize,
    pub within: bool,
}

/// The time the last undo pass spent putting the record sets back, after the writer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoTiming {
    /// From the writer's undo finishing (or the pass starting, when the writer was not moved) to
    /// the pass's end: the record sets' reads, changes and INSYNC waits.
    pub seconds: f64,
    /// The longest PENDING → INSYNC of a change made in that time.
    pub slowest_insync_s: f64,
    pub poll_s: f64,
    /// 2 × (slowest INSYNC + one poll): routing back, then TTLs back.
    pub bound_s: f64,
    /// From the pass's last ChangeResourceRecordSets call to the pass's end: the last undo's own
    /// INSYNC wait and poll.
    pub last_change_to_end_s: Option<f64>,
}

/// Seconds on the lab's clock: the run's clock is the lab's, so a time it stamps is the lab's
/// `started_at` plus the lab's `t`.
pub fn lab_seconds(origin: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (at - origin)
        .to_std()
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Each phase's calls from the ground truth; calls outside every phase become `(between steps)`.
pub fn phase_figures(truth: &GroundTruth, spans: &[Span]) -> Vec<PhaseFigures> {
    let mut calls = vec![Calls::default(); spans.len() + 1];
    // Per phase and zone: change calls, changes, ResourceRecord elements.
    let mut zones: Vec<BTreeMap<String, (usize, usize, usize)>> =
        vec![BTreeMap::new(); spans.len() + 1];
    let between = spans.len();
    let phase_of = |t: f64| {
        spans
            .iter()
            .position(|s| s.from <= t && t < s.to)
            .or_else(|| spans.iter().position(|s| t == s.to))
            .unwrap_or(between)
    };
    for event in &truth.events {
        match &event.what {
            What::ApiCall {
                service,
                operation,
                resource,
                ..
            } => {
                let i = phase_of(event.t);
                calls[i].count(service, operation);
                if service == "route53" && operation == "ChangeResourceRecordSets" {
                    zones[i].entry(resource.clone()).or_default().0 += 1;
                }
            }
            What::State { resource, change } if resource.starts_with("change ") => {
                let Some(rest) = change.strip_prefix("PENDING in zone ") else {
                    continue;
                };
                let Some((zone, summary)) = rest.split_once(": ") else {
                    continue;
                };
                let entries: Vec<&str> = summary.split(", ").collect();
                let upserts = entries.iter().filter(|e| e.starts_with("Upsert ")).count();
                let z = zones[phase_of(event.t)]
                    .entry(zone.to_string())
                    .or_default();
                z.1 += entries.len();
                z.2 += entries.len() + upserts;
            }
            _ => {}
        }
    }
    let mut out: Vec<PhaseFigures> = Vec::new();
    for (i, (calls, zones)) in calls.into_iter().zip(zones).enumerate() {
        let (name, from, to) = match spans.get(i) {
            Some(s) => (s.name.clone(), s.from, s.to),
            None if calls == Calls::default() => continue,
            None => ("(between steps)".to_string(), f64::NAN, f64::NAN),
        };
        let needed = |(_, changes, records): &(usize, usize, usize)| {
            changes.div_ceil(1000).max(records.div_ceil(1000))
        };
        out.push(PhaseFigures {
            phase: name,
            from_s: from,
            to_s: to,
            calls,
            max_change_calls_per_zone: zones.values().map(|z| z.0).max().unwrap_or(0),
            max_change_calls_needed: zones.values().map(needed).max().unwrap_or(0),
            zones_over: zones.values().filter(|z| z.0 > needed(z)).count(),
        });
    }
    out
}

/// The lab times of every Route 53 call, in order.
pub fn route53_times(truth: &GroundTruth) -> Vec<f64> {
    let mut times: Vec<f64> = truth
        .events
        .iter()
        .filter(|e| matches!(&e.what, What::ApiCall { service, .. } if service == "route53"))
        .map(|e| e.t)
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// The most of `times` (sorted) within any window `[t, t + 1 s)`: exact, since the busiest window
/// can always be slid to start at a call.
pub fn peak_per_second(times: &[f64]) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= 1.0 {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

pub fn throttled(truth: &GroundTruth) -> usize {
    truth
        .events
        .iter()
        .filter(|e| {
            matches!(&e.what, What::ApiCall { error_code: Some(code), .. } if code == "Throttling")
        })
        .count()
}

pub fn bound(pages: usize, reading_phases: usize, health_checks: usize, actual: usize) -> Bound {
    let bound = BOUND_SLACK * (pages * reading_phases) as f64 + health_checks as f64;
    Bound {
        pages_to_list_touched_zones: pages,
        reading_phases,
        health_check_calls: health_checks,
        bound,
        actual,
        within: actual as f64 <= bound,
    }
}

/// The last undo pass (`pass`: its start and end): from the writer's undo finishing — or the pass
/// starting, when no writer was undone in it — to the pass's end (a record set's `undone` line is
/// written when Route 53 accepts the change; the pass ends after its INSYNC), beside
/// 2 × (the slowest INSYNC of a change made then + one poll). None if it undid no record set.
pub fn undo_timing(
    lines: &[Line],
    pass: (DateTime<Utc>, DateTime<Utc>),
    truth: &GroundTruth,
    poll: Duration,
) -> Option<UndoTiming> {
    let (pass, pass_end) = pass;
    let mut writers = BTreeSet::new();
    let mut records = BTreeSet::new();
    for line in lines {
        if let Line::Intent { seq, mutation, .. } = line {
            match mutation {
                Mutation::Writer { .. } => writers.insert(*seq),
                Mutation::RecordSet { .. } => records.insert(*seq),
                _ => false,
            };
        }
    }
    let undone = lines.iter().filter_map(|l| match l {
        Line::Undone { seq, at, .. } if *at >= pass => Some((*seq, *at)),
        _ => None,
    });
    let (mut start, mut records_undone) = (pass, false);
    for (seq, at) in undone {
        if writers.contains(&seq) {
            start = start.max(at);
        } else if records.contains(&seq) {
            records_undone = true;
        }
    }
    if !records_undone {
        return None;
    }
    let end = pass_end;
    let origin = truth.started_at;
    let (from, to) = (lab_seconds(origin, start), lab_seconds(origin, end));
    let slowest = slowest_insync(truth, from, to).unwrap_or(truth.timings.insync.as_secs_f64());
    let poll_s = poll.as_secs_f64();
    let last_change = truth
        .events
        .iter()
        .filter(|e| e.t >= from && e.t <= to)
        .filter(|e| {
            matches!(&e.what, What::ApiCall { service, operation, .. }
                if service == "route53" && operation == "ChangeResourceRecordSets")
        })
        .map(|e| e.t)
        .next_back();
    Some(UndoTiming {
        seconds: (to - from).max(0.0),
        slowest_insync_s: slowest,
        poll_s,
        bound_s: 2.0 * (slowest + poll_s),
        last_change_to_end_s: last_change.map(|t| to - t),
    })
}

/// The longest PENDING → INSYNC of the changes accepted within `[from, to]`.
fn slowest_insync(truth: &GroundTruth, from: f64, to: f64) -> Option<f64> {
    let mut pending: BTreeMap<&str, f64> = BTreeMap::new();
    let mut slowest: Option<f64> = None;
    for e in &truth.events {
        let What::State { resource, change } = &e.what else {
            continue;
        };
        let Some(id) = resource.strip_prefix("change ") else {
            continue;
        };
        if change.starts_with("PENDING") && e.t >= from && e.t <= to {
            pending.insert(id, e.t);
        } else if change == "INSYNC"
            && let Some(t0) = pending.get(id)
        {
            slowest = Some(slowest.map_or(e.t - t0, |s: f64| s.max(e.t - t0)));
        }
    }
    slowest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::Timings;
    use crate::lab::truth::TruthEvent;

    fn call(t: f64, operation: &str, resource: &str) -> TruthEvent {
        TruthEvent {
            t,
            at: Utc::now(),
            what: What::ApiCall {
                service: "route53".into(),
                operation: operation.into(),
                region: "us-east-1".into(),
                status: 200,
                error_code: None,
                request_id: "r".into(),
                resource: resource.into(),
            },
        }
    }

    fn state(t: f64, resource: &str, change: &str) -> TruthEvent {
        TruthEvent {
            t,
            at: Utc::now(),
            what: What::State {
                resource: resource.into(),
                change: change.into(),
            },
        }
    }

    fn truth(events: Vec<TruthEvent>) -> GroundTruth {
        GroundTruth {
            time_scale: 30.0,
            started_at: Utc::now(),
            faults: vec![],
            timings: Timings::default(),
            initial_dns: BTreeMap::new(),
            events,
            write_unavailable: BTreeMap::new(),
            write_outages: vec![],
            acknowledged_writes: BTreeMap::new(),
            lost_writes: vec![],
        }
    }

    fn span(name: &str, from: f64, to: f64) -> Span {
        Span {
            name: name.into(),
            from,
            to,
        }
    }

    #[test]
    fn the_peak_is_the_busiest_sliding_second() {
        assert_eq!(peak_per_second(&[]), 0);
        // Fixed 1 s buckets would see 3 and 3; the window [0.5, 1.5) holds 5.
        let times = [0.1, 0.5, 0.6, 0.9, 1.2, 1.4, 1.5, 2.6];
        assert_eq!(peak_per_second(&times), 5);
        // Exactly one second apart is two windows.
        assert_eq!(peak_per_second(&[0.0, 1.0]), 1);
    }

    #[test]
    fn calls_go_to_the_phase_that_holds_them_and_the_rest_between() {
        let gt = truth(vec![
            call(0.5, "ListResourceRecordSets", "Z1"),
            call(1.5, "ListResourceRecordSets", "Z1"),
            call(2.5, "GetHostedZone", "Z1"),
            call(3.0, "ChangeResourceRecordSets", "Z1"),
            state(
                3.0,
                "change C1",
                "PENDING in zone Z1: Upsert a.x. A (us-east-1), Upsert b.x. A (us-east-1)",
            ),
            call(3.1, "ChangeResourceRecordSets", "Z2"),
            call(3.2, "ChangeResourceRecordSets", "Z2"),
            state(3.2, "change C2", "PENDING in zone Z2: Create c.x. A"),
            call(3.5, "GetChange", "C1"),
            call(3.6, "GetHealthCheckStatus", "hc"),
        ]);
        let phases = phase_figures(&gt, &[span("preflight", 0.0, 2.0), span("shift", 3.0, 4.0)]);
        let names: Vec<&str> = phases.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(names, ["preflight", "shift", "(between steps)"]);
        assert_eq!(phases[0].calls.list_pages, 2);
        assert_eq!(phases[0].calls.route53, 2);
        let shift = &phases[1].calls;
        assert_eq!(
            (
                shift.change_calls,
                shift.get_change,
                shift.health_checks,
                shift.route53
            ),
            (3, 1, 1, 5)
        );
        assert_eq!(phases[1].max_change_calls_per_zone, 2);
        assert_eq!(phases[1].max_change_calls_needed, 1);
        assert_eq!(phases[1].zones_over, 1, "Z2 needed one call and got two");
        assert_eq!(phases[2].calls.other_route53, 1);
    }

    #[test]
    fn upserts_count_twice_towards_the_calls_a_zone_needs() {
        let summary: Vec<String> = (0..501).map(|i| format!("Upsert n{i}.x. A (a)")).collect();
        let gt = truth(vec![
            call(1.0, "ChangeResourceRecordSets", "Z1"),
            call(1.1, "ChangeResourceRecordSets", "Z1"),
            state(
                1.1,
                "change C1",
                &format!("PENDING in zone Z1: {}", summary.join(", ")),
            ),
        ]);
        let phases = phase_figures(&gt, &[span("p", 0.0, 2.0)]);
        assert_eq!(phases[0].max_change_calls_needed, 2);
        assert_eq!(phases[0].zones_over, 0);
    }

    #[test]
    fn the_bound_is_pages_times_reading_phases_plus_health_checks() {
        let b = bound(40, 3, 4, 150);
        assert_eq!(b.bound, 1.2 * 120.0 + 4.0);
        assert!(!b.within);
        assert!(bound(40, 3, 4, 148).within);
    }

    #[test]
    fn the_undo_time_runs_from_the_writer_back_to_the_end_of_the_pass() {
        let origin = Utc::now();
        let at = |s: i64| origin + chrono::Duration::seconds(s);
        let mut gt = truth(vec![
            call(109.0, "ChangeResourceRecordSets", "Z1"),
            state(110.0, "change C1", "PENDING in zone Z1: Upsert a.x. A"),
            call(149.0, "ChangeResourceRecordSets", "Z1"),
            state(140.0, "change C1", "INSYNC"),
            state(150.0, "change C2", "PENDING in zone Z1: Upsert a.x. A"),
            state(190.0, "change C2", "INSYNC"),
        ]);
        gt.started_at = origin;
        let key = crate::cloud::RecordKey {
            zone_id: "Z1".into(),
            name: "a.x.".into(),
            rtype: "A".into(),
            set_identifier: None,
        };
        let record = crate::cloud::RecordSet::simple("a.x.", "A", 60, &["127.0.0.11"]);
        let lines = vec![
            Line::Intent {
                seq: 1,
                step: "lower_ttls".into(),
                at: at(10),
                mutation: Mutation::RecordSet {
                    key,
                    before: record.clone(),
                    after: record,
                },
            },
            Line::Intent {
                seq: 2,
                step: "promote".into(),
                at: at(20),
                mutation: Mutation::Writer {
                    global_cluster: "g".into(),
                    region: "us-west-2".into(),
                    before: "a".into(),
                    after: "b".into(),
                    mode: "switchover".into(),
                },
            },
            Line::Undone {
                seq: 2,
                at: at(105),
                how: "restored".into(),
            },
            Line::Undone {
                seq: 1,
                at: at(195),
                how: "restored".into(),
            },
        ];
        let poll = Duration::from_secs(5);
        let u = undo_timing(&lines, (at(40), at(200)), &gt, poll).unwrap();
        assert_eq!(u.seconds, 95.0);
        assert_eq!(u.slowest_insync_s, 40.0);
        assert_eq!(u.bound_s, 90.0);
        assert_eq!(u.last_change_to_end_s, Some(51.0));
        // Undone lines before the pass are another pass's.
        assert!(undo_timing(&lines, (at(200), at(300)), &gt, poll).is_none());
    }
}
