//! Measurements derived from what the probes recorded, for each direction of the drill (the
//! failover to the secondary and the fail-back): DNS cut-over, traffic shift, write outage, lost
//! writes and RPO; plus error rate and latency per phase. Pure functions of the record, so they
//! are unit-tested without a network.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::sample::{Kind, LossCheck, Mark, Marked, Sample};

/// What the probes recorded over a run.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub samples: Vec<Sample>,
    pub marks: Vec<Marked>,
    /// (label, check): `failover` after the shift was verified, `failback` after recovery.
    pub checks: Vec<(String, LossCheck)>,
    /// When probing started and stopped (modelled).
    pub started: Duration,
    pub stopped: Duration,
}

/// How traffic counts as moved: `share` of the `window` HTTP samples starting at the shift.
#[derive(Debug, Clone, Copy)]
pub struct ShiftRule {
    pub share: f64,
    pub window: usize,
}

/// One direction: the failover (target: the secondary region) or the fail-back (the primary).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Direction {
    pub name: String,
    pub target: String,
    #[serde(skip)]
    pub promotion_at: Option<Duration>,
    #[serde(skip)]
    pub routing_at: Option<Duration>,
    /// Routing change → the first DNS round after which every authoritative answer points to the
    /// target.
    #[serde(skip)]
    pub dns_cutover: Option<Duration>,
    #[serde(skip)]
    pub recursive_cutover: Option<Duration>,
    /// Routing change → the first round after which every TestDNSAnswer view points to the
    /// target: when Route 53's configuration answered with it, whatever the name servers did.
    #[serde(skip)]
    pub test_dns_answer_cutover: Option<Duration>,
    /// Routing change → the first HTTP sample of the first window in which the share of samples
    /// served by the target is reached.
    #[serde(skip)]
    pub traffic_shift: Option<Duration>,
    /// The longest run of failed canary writes from the promotion on.
    pub write_outage: Option<Outage>,
    pub lost_writes: Option<Vec<u64>>,
    #[serde(skip)]
    pub rpo: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    /// Modelled time of the first failed write.
    #[serde(skip)]
    pub from: Duration,
    /// The first write that worked again; None if none did before probing stopped.
    #[serde(skip)]
    pub to: Option<Duration>,
    #[serde(skip)]
    pub length: Duration,
    pub failed_writes: usize,
}

/// Error rate and latency of one kind of probe in one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub errors: usize,
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Samples that reached each region (DNS: answers pointing at it).
    pub by_region: BTreeMap<String, usize>,
}

/// The directions the marks describe: the first promotion or routing change towards each region,
/// in order.
pub fn directions(
    record: &Record,
    rule: ShiftRule,
    primary: &str,
    secondary: &str,
) -> Vec<Direction> {
    let first = |to: &str, promotion: bool| {
        record.marks.iter().find_map(|m| match &m.mark {
            Mark::Promotion { to: t } if promotion && t == to => Some(m.at),
            Mark::Routing { to: t } if !promotion && t == to => Some(m.at),
            _ => None,
        })
    };
    let mut out = Vec::new();
    let back_start = [first(primary, true), first(primary, false)]
        .into_iter()
        .flatten()
        .min();
    // A rollback undoes the routing change: DNS cut-overs are judged before it.
    let rollback = record.marks.iter().find_map(|m| match &m.mark {
        Mark::Phase { name } if name == "rollback" => Some(m.at),
        _ => None,
    });
    for (name, target, end) in [
        ("failover", secondary, back_start.unwrap_or(Duration::MAX)),
        ("failback", primary, Duration::MAX),
    ] {
        let promotion_at = first(target, true);
        let routing_at = first(target, false);
        let Some(start) = [promotion_at, routing_at].into_iter().flatten().min() else {
            continue;
        };
        let within = |s: &&Sample| s.at >= start && s.at < end;
        let dns = |kind: Kind, authoritative: bool| {
            routing_at.and_then(|r| {
                let rounds: Vec<&Sample> = record
                    .samples
                    .iter()
                    .filter(within)
                    .filter(|s| rollback.is_none_or(|b| s.at < b))
                    .filter(|s| s.kind == kind && s.authoritative == authoritative && s.at >= r)
                    .collect();
                cutover(&rounds, target).map(|t| t - r)
            })
        };
        let http: Vec<&Sample> = record
            .samples
            .iter()
            .filter(within)
            .filter(|s| s.kind == Kind::Http && routing_at.is_some_and(|r| s.at >= r))
            .collect();
        let canary: Vec<&Sample> = record
            .samples
            .iter()
            .filter(within)
            .filter(|s| s.kind == Kind::Canary)
            .collect();
        let lost = lost_in(record, name);
        let rpo = lost.as_ref().map(|l| rpo(&record.samples, l));
        out.push(Direction {
            name: name.to_string(),
            target: target.to_string(),
            promotion_at,
            routing_at,
            dns_cutover: dns(Kind::Dns, true),
            recursive_cutover: dns(Kind::Dns, false),
            test_dns_answer_cutover: dns(Kind::TestDnsAnswer, false),
            traffic_shift: routing_at
                .and_then(|r| shift(&http, target, rule).map(|t| t.saturating_sub(r))),
            write_outage: outage(&canary, end.min(record.stopped)),
            lost_writes: lost,
            rpo,
        });
    }
    out
}

/// The first round (samples sent at one tick) from which on every round reached `target`.
pub fn cutover(samples: &[&Sample], target: &str) -> Option<Duration> {
    let mut rounds: BTreeMap<Duration, bool> = BTreeMap::new();
    for s in samples {
        let all = rounds.entry(s.at).or_insert(true);
        *all &= s.reached(target);
    }
    let mut since = None;
    for (at, all) in rounds {
        match (all, since) {
            (true, None) => since = Some(at),
            (false, _) => since = None,
            _ => {}
        }
    }
    since
}

/// When traffic moved: the time of the first sample served by `target` that starts a full window
/// in which at least the rule's share was served by `target`.
pub fn shift(samples: &[&Sample], target: &str, rule: ShiftRule) -> Option<Duration> {
    let mut sorted: Vec<&Sample> = samples.to_vec();
    sorted.sort_by_key(|s| s.at);
    let w = rule.window.max(1);
    if sorted.len() < w {
        return None;
    }
    let need = (rule.share * w as f64).ceil() as usize;
    let mut reached = sorted[..w].iter().filter(|s| s.reached(target)).count();
    for i in 0..=sorted.len() - w {
        if i > 0 {
            reached -= usize::from(sorted[i - 1].reached(target));
            reached += usize::from(sorted[i + w - 1].reached(target));
        }
        if sorted[i].reached(target) && reached >= need {
            return Some(sorted[i].at);
        }
    }
    None
}

/// The longest run of failed canary writes; a run still going at `end` lasts until `end`.
pub fn outage(samples: &[&Sample], end: Duration) -> Option<Outage> {
    let mut sorted: Vec<&Sample> = samples.to_vec();
    sorted.sort_by_key(|s| s.at);
    let mut best: Option<Outage> = None;
    let mut run: Option<(Duration, usize)> = None;
    let consider = |o: Outage, best: &mut Option<Outage>| {
        if best.as_ref().is_none_or(|b| o.length > b.length) {
            *best = Some(o);
        }
    };
    for s in sorted {
        match (s.ok, run) {
            (false, None) => run = Some((s.at, 1)),
            (false, Some((from, n))) => run = Some((from, n + 1)),
            (true, Some((from, n))) => {
                consider(
                    Outage {
                        from,
                        to: Some(s.at),
                        length: s.at.saturating_sub(from),
                        failed_writes: n,
                    },
                    &mut best,
                );
                run = None;
            }
            (true, None) => {}
        }
    }
    if let Some((from, n)) = run {
        consider(
            Outage {
                from,
                to: None,
                length: end.saturating_sub(from),
                failed_writes: n,
            },
            &mut best,
        );
    }
    best
}

/// The writes lost in one direction: missing at its read-back and not already missing at an
/// earlier one.
fn lost_in(record: &Record, label: &str) -> Option<Vec<u64>> {
    let idx = record.checks.iter().position(|(l, _)| l == label)?;
    let earlier: BTreeSet<u64> = record.checks[..idx]
        .iter()
        .flat_map(|(_, c)| c.missing.iter().copied())
        .collect();
    Some(
        record.checks[idx]
            .1
            .missing
            .iter()
            .copied()
            .filter(|s| !earlier.contains(s))
            .collect(),
    )
}

/// The span of acknowledged writes lost: from the last write that survived before the first lost
/// one to the last lost one (an upper bound on the real data-loss window, within one interval).
pub fn rpo(samples: &[Sample], lost: &[u64]) -> Duration {
    let (Some(&first), Some(&last)) = (lost.iter().min(), lost.iter().max()) else {
        return Duration::ZERO;
    };
    let lost_set: BTreeSet<u64> = lost.iter().copied().collect();
    let sent = |seq: u64| {
        samples
            .iter()
            .find(|s| s.kind == Kind::Canary && s.seq == Some(seq))
            .map(|s| s.at)
    };
    let survivor = samples
        .iter()
        .filter(|s| s.kind == Kind::Canary && s.ok)
        .filter_map(|s| {
            s.seq
                .filter(|q| *q < first && !lost_set.contains(q))
                .map(|_| s.at)
        })
        .max();
    let end = sent(last).unwrap_or_default();
    let start = survivor.or_else(|| sent(first)).unwrap_or(end);
    end.saturating_sub(start)
}

/// Per phase and kind of probe: error rate, latency percentiles, regions reached.
pub fn phases(record: &Record) -> BTreeMap<String, BTreeMap<String, Stats>> {
    let mut bounds: Vec<(Duration, String)> = record
        .marks
        .iter()
        .filter_map(|m| match &m.mark {
            Mark::Phase { name } => Some((m.at, name.clone())),
            _ => None,
        })
        .collect();
    bounds.sort_by_key(|(at, _)| *at);
    let phase_of = |at: Duration| {
        bounds
            .iter()
            .rev()
            .find(|(start, _)| *start <= at)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| "baseline".to_string())
    };
    let mut grouped: BTreeMap<String, BTreeMap<Kind, Vec<&Sample>>> = BTreeMap::new();
    for s in &record.samples {
        grouped
            .entry(phase_of(s.at))
            .or_default()
            .entry(s.kind)
            .or_default()
            .push(s);
    }
    grouped
        .into_iter()
        .map(|(phase, kinds)| {
            let kinds = kinds
                .into_iter()
                .map(|(kind, samples)| (kind.as_str().to_string(), stats(&samples)))
                .collect();
            (phase, kinds)
        })
        .collect()
}

pub fn stats(samples: &[&Sample]) -> Stats {
    let errors = samples.iter().filter(|s| !s.ok).count();
    let mut latencies: Vec<u32> = samples
        .iter()
        .map(|s| s.latency.as_micros().min(u32::MAX as u128) as u32)
        .collect();
    latencies.sort_unstable();
    let ms = |q| quantile(&latencies, q).map(|us| f64::from(us) / 1000.0);
    let mut by_region = BTreeMap::new();
    for s in samples.iter().filter(|s| s.ok) {
        *by_region
            .entry(s.region.clone().unwrap_or_else(|| "unknown".to_string()))
            .or_insert(0) += 1;
    }
    Stats {
        count: samples.len(),
        errors,
        error_rate: if samples.is_empty() {
            0.0
        } else {
            errors as f64 / samples.len() as f64
        },
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        by_region,
    }
}

/// Nearest-rank quantile of sorted values.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn s(kind: Kind, ms: u64, ok: bool, region: &str) -> Sample {
        Sample {
            kind,
            source: Arc::from("x"),
            authoritative: true,
            at: Duration::from_millis(ms),
            latency: Duration::from_millis(2),
            ok,
            region: Some(region.to_string()),
            detail: None,
            seq: None,
        }
    }

    #[test]
    fn cutover_needs_every_later_round_on_the_target() {
        let samples = [
            s(Kind::Dns, 0, true, "a"),
            s(Kind::Dns, 1000, true, "b"),
            s(Kind::Dns, 2000, true, "a"),
            s(Kind::Dns, 3000, true, "b"),
            s(Kind::Dns, 3000, true, "b"),
            s(Kind::Dns, 4000, true, "b"),
        ];
        let refs: Vec<&Sample> = samples.iter().collect();
        assert_eq!(cutover(&refs, "b"), Some(Duration::from_millis(3000)));
        assert_eq!(cutover(&refs, "a"), None);
    }

    #[test]
    fn shift_starts_at_the_first_qualifying_window() {
        let mut samples = Vec::new();
        for i in 0..10 {
            samples.push(s(Kind::Http, i * 100, true, "a"));
        }
        // One stray sample to b, then back to a, then b for good.
        samples[5] = s(Kind::Http, 500, true, "b");
        for i in 10..30 {
            samples.push(s(Kind::Http, i * 100, true, "b"));
        }
        let refs: Vec<&Sample> = samples.iter().collect();
        let rule = ShiftRule {
            share: 0.95,
            window: 10,
        };
        assert_eq!(shift(&refs, "b", rule), Some(Duration::from_millis(1000)));
        let loose = ShiftRule {
            share: 0.5,
            window: 10,
        };
        assert_eq!(shift(&refs, "b", loose), Some(Duration::from_millis(500)));
        assert_eq!(shift(&refs[..12], "b", rule), None, "no full window yet");
    }

    #[test]
    fn the_longest_failed_run_is_the_outage() {
        let samples = [
            s(Kind::Canary, 0, true, "a"),
            s(Kind::Canary, 100, false, "a"),
            s(Kind::Canary, 200, true, "a"),
            s(Kind::Canary, 300, false, "a"),
            s(Kind::Canary, 400, false, "a"),
            s(Kind::Canary, 500, false, "b"),
            s(Kind::Canary, 600, true, "b"),
        ];
        let refs: Vec<&Sample> = samples.iter().collect();
        let o = outage(&refs, Duration::from_secs(1)).unwrap();
        assert_eq!(o.from, Duration::from_millis(300));
        assert_eq!(o.to, Some(Duration::from_millis(600)));
        assert_eq!(o.length, Duration::from_millis(300));
        assert_eq!(o.failed_writes, 3);
        let open = outage(&refs[..5], Duration::from_secs(1)).unwrap();
        assert_eq!((open.to, open.length), (None, Duration::from_millis(700)));
        assert!(outage(&refs[..1], Duration::from_secs(1)).is_none());
    }

    #[test]
    fn rpo_spans_from_the_last_survivor_to_the_last_lost_write() {
        let mut samples = Vec::new();
        for seq in 1..=6u64 {
            let mut w = s(Kind::Canary, seq * 1000, true, "a");
            w.seq = Some(seq);
            samples.push(w);
        }
        assert_eq!(rpo(&samples, &[4, 5]), Duration::from_millis(2000));
        assert_eq!(rpo(&samples, &[]), Duration::ZERO);
        assert_eq!(rpo(&samples, &[1]), Duration::ZERO);
    }

    #[test]
    fn losses_are_counted_once_per_direction() {
        let check = |missing: Vec<u64>| LossCheck {
            at: Duration::ZERO,
            checked: 10,
            missing,
            region: None,
        };
        let record = Record {
            checks: vec![
                ("failover".to_string(), check(vec![3, 4])),
                ("failback".to_string(), check(vec![3, 4, 9])),
            ],
            ..Record::default()
        };
        assert_eq!(lost_in(&record, "failover"), Some(vec![3, 4]));
        assert_eq!(lost_in(&record, "failback"), Some(vec![9]));
        assert_eq!(lost_in(&record, "other"), None);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
    }
}
