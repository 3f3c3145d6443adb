//! The critical path of a lab run: how much of the drill's duration it spent waiting on something
//! it could not have avoided. The lab knows what it imposed (its ground truth: each Route 53
//! change from PENDING to INSYNC, each switchover or failover from the request to its
//! FailoverState clearing, each resync); the drill adds its own fixed waits (the longest original
//! TTL, the soak, clients following DNS once their resolvers' caches expire). The critical path is
//! the time covered by at least one of those, within the drill's span; the rest of the span is the
//! drill's own overhead (request latency, the time between a state changing and a poll seeing it).
//!
//! `ratio` = duration / critical path, so it is at least 1, and 1 only for a drill with no
//! overhead at all.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::truth::{GroundTruth, What};

/// An interval the drill had to wait through, named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wait {
    pub what: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One wait on the path, as milliseconds since the span began (clipped to the span).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub what: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPath {
    /// The span: the drill's first change to the end of the run (as `drill_duration_ms`).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub duration_ms: u64,
    /// Time covered by at least one component.
    pub critical_path_ms: u64,
    /// duration_ms / critical_path_ms (None when the path is empty).
    pub ratio: Option<f64>,
    /// duration_ms - critical_path_ms: what the drill itself added.
    pub overhead_ms: u64,
    /// Every wait that overlaps the span, in order of start.
    pub components: Vec<Component>,
}

/// The waits the lab's ground truth records: Route 53 changes (except those whose description
/// mentions any of `ignore`, e.g. the drill's lease record, which nothing waits for), promotions
/// and resyncs. One still under way at the truth's end runs to `open_until`.
pub fn lab_waits(truth: &GroundTruth, ignore: &[&str], open_until: DateTime<Utc>) -> Vec<Wait> {
    let mut waits = Vec::new();
    // (resource, what, since) for each wait begun and not yet ended.
    let mut open: Vec<(String, String, DateTime<Utc>)> = Vec::new();
    let mut close =
        |open: &mut Vec<(String, String, DateTime<Utc>)>, resource: &str, at: DateTime<Utc>| {
            if let Some(i) = open.iter().position(|(r, _, _)| r == resource) {
                let (_, what, from) = open.remove(i);
                waits.push(Wait { what, from, to: at });
            }
        };
    for e in &truth.events {
        let What::State { resource, change } = &e.what else {
            continue;
        };
        if resource.starts_with("change ") {
            if change.starts_with("PENDING") {
                if !ignore.iter().any(|i| change.contains(i)) {
                    let what = format!(
                        "Route 53 {resource} to INSYNC ({})",
                        first_few(change.split_once(": ").map(|(_, c)| c).unwrap_or(change))
                    );
                    open.push((resource.clone(), what, e.at));
                }
            } else if change == "INSYNC" {
                close(&mut open, resource, e.at);
            }
        } else if resource.starts_with("global-cluster ") {
            if change.contains(" requested ") {
                let what = format!(
                    "{} of {}",
                    change.split(" requested").next().unwrap_or("promotion"),
                    resource
                );
                open.push((resource.clone(), what, e.at));
            } else if change.contains("FailoverState cleared") {
                close(&mut open, resource, e.at);
            }
            // "…; <arn> is pending-resync; FailoverState cleared" (a failover): the old writer
            // resyncs from here.
            if let Some(arn) = change
                .split("; ")
                .find_map(|part| part.strip_suffix(" is pending-resync"))
            {
                let cluster = format!("cluster {arn}");
                open.push((cluster.clone(), format!("resync of {cluster}"), e.at));
            }
        } else if resource.starts_with("cluster ") && change.starts_with("resynchronised") {
            close(&mut open, resource, e.at);
        }
    }
    for (_, what, from) in open {
        waits.push(Wait {
            what,
            from,
            to: open_until.max(from),
        });
    }
    waits
}

/// A change batch's description (`Upsert a. A (x), Upsert b. A (y), …`) cut to its first few
/// items and a count: a batch can hold a thousand records.
fn first_few(items: &str) -> String {
    const SHOWN: usize = 3;
    let all: Vec<&str> = items.split(", ").collect();
    if all.len() <= SHOWN {
        return items.to_string();
    }
    format!(
        "{}, … {} changes in all",
        all[..SHOWN].join(", "),
        all.len()
    )
}

/// The critical path of the span `from`..`to` through `waits`.
pub fn critical_path(from: DateTime<Utc>, to: DateTime<Utc>, waits: &[Wait]) -> CriticalPath {
    let to = to.max(from);
    let ms = |at: DateTime<Utc>| (at.clamp(from, to) - from).num_milliseconds().max(0) as u64;
    let mut components: Vec<Component> = waits
        .iter()
        .filter(|w| w.to > from && w.from < to)
        .map(|w| {
            let (a, b) = (ms(w.from), ms(w.to.max(w.from)));
            Component {
                what: w.what.clone(),
                from_ms: a,
                to_ms: b,
                ms: b - a,
            }
        })
        .collect();
    components.sort_by_key(|c| (c.from_ms, c.to_ms));
    // The union of the intervals: overlapping waits count once.
    let mut covered = 0;
    let mut reach = 0;
    for c in &components {
        if c.to_ms > reach {
            covered += c.to_ms - c.from_ms.max(reach);
            reach = c.to_ms;
        }
    }
    let duration_ms = ms(to);
    CriticalPath {
        from,
        to,
        duration_ms,
        critical_path_ms: covered,
        ratio: (covered > 0).then(|| duration_ms as f64 / covered as f64),
        overhead_ms: duration_ms - covered,
        components,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::lab::Timings;
    use crate::lab::truth::Truth;

    #[test]
    fn overlapping_waits_count_once_and_the_rest_is_overhead() {
        let t0 = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let wait = |what: &str, a, b| Wait {
            what: what.to_string(),
            from: at(a),
            to: at(b),
        };
        let waits = [
            wait("before the span", -20, -5),
            wait("insync", 1, 31),
            wait("ttl", 31, 91),
            wait("resync", 80, 100),
            wait("soak", 95, 110),
            wait("runs past the end", 115, 200),
        ];
        let p = critical_path(at(0), at(120), &waits);
        assert_eq!(p.duration_ms, 120_000);
        // 1..110 and 115..120.
        assert_eq!(p.critical_path_ms, 114_000);
        assert_eq!(p.overhead_ms, 6_000);
        assert_eq!(p.ratio, Some(120.0 / 114.0));
        assert_eq!(p.components.len(), 5);
        assert_eq!(p.components[4].to_ms, 120_000);
    }

    #[test]
    fn the_lab_waits_are_read_from_the_ground_truth() {
        let mut truth = Truth::new(Utc::now(), 30.0, vec![], Timings::default());
        let s = Duration::from_secs;
        truth.state(s(1), "change C1", "PENDING in zone Z: Upsert api. A (east)");
        truth.state(
            s(2),
            "change L1",
            "PENDING in zone Z: Create _drill-lease.g.z. TXT",
        );
        truth.state(s(31), "change C1", "INSYNC");
        truth.state(s(32), "change L1", "INSYNC");
        truth.state(
            s(40),
            "global-cluster g",
            "failover (data loss allowed) requested from a to b: FailoverState pending",
        );
        truth.state(s(42), "global-cluster g", "FailoverState failing-over");
        truth.state(
            s(57),
            "global-cluster g",
            "writer moved from a to b; a is pending-resync; FailoverState cleared",
        );
        truth.state(s(117), "cluster a", "resynchronised: connected");
        truth.state(
            s(120),
            "change C2",
            "PENDING in zone Z: Upsert a. A (e), Upsert b. A (e), Upsert c. A (e), Upsert d. A (e)",
        );
        let gt = truth.snapshot(s(130));
        let end = gt.started_at + chrono::Duration::seconds(130);
        let waits = lab_waits(&gt, &["_drill-lease."], end);
        let got: Vec<(&str, i64, i64)> = waits
            .iter()
            .map(|w| {
                (
                    w.what.as_str(),
                    (w.from - gt.started_at).num_seconds(),
                    (w.to - gt.started_at).num_seconds(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Route 53 change C1 to INSYNC (Upsert api. A (east))", 1, 31),
                ("failover (data loss allowed) of global-cluster g", 40, 57),
                ("resync of cluster a", 57, 117),
                (
                    "Route 53 change C2 to INSYNC (Upsert a. A (e), Upsert b. A (e), Upsert c. A (e), … 4 changes in all)",
                    120,
                    130
                ),
            ]
        );
    }
}
