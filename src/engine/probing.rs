//! The engine's use of probes: starting them where the drill's names really resolve, the
//! steady-state check that ends preflight, the verifier that asks them whether traffic moved, the
//! stop conditions watched while the drill runs, and the measurements and SLO verdicts derived
//! from what they recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::cloud::Route53;
use crate::probes::{self, Kind, Mark, Network, Prober, Record, Sample, Setup};
use crate::spec::{Drill, Mode, Probes};

use super::context::Ctx;
use super::outcome::SloResult;
use super::preflight::Plan;
use super::steps::ms;
use super::verify::{Side, Verifier};

/// Resolves where the probes go: the lab's (or configured) name servers, else the hosted zones'
/// delegation sets; the HTTP client's resolver; which answer values mean which region.
pub async fn setup(
    config: &Probes,
    drill: &Drill,
    plan: &Plan,
    network: &Network,
    route53: &Arc<dyn Route53>,
) -> Result<Setup, String> {
    let mut regions = BTreeMap::new();
    for r in &plan.records {
        if let Some(region) = &r.spec.region {
            for v in &r.current.values {
                regions.insert(probes::dns::normalize(v), region.clone());
            }
        }
    }
    let mut name_servers = Vec::new();
    let mut resolvers = Vec::new();
    if let Some(dns) = &config.dns {
        name_servers = match &network.name_servers {
            Some(servers) => servers.clone(),
            None if !dns.name_servers.is_empty() => addrs(&dns.name_servers).await?,
            None => {
                let mut delegation = Vec::new();
                for zone in plan.zones.values() {
                    let serves = dns
                        .names
                        .iter()
                        .any(|n| n == &zone.name || n.ends_with(&format!(".{}", zone.name)));
                    if serves {
                        delegation.extend(zone.name_servers.iter().cloned());
                    }
                }
                if delegation.is_empty() {
                    return Err(format!(
                        "no name server to ask for {}: the hosted zones report no delegation set; set probes.dns.name_servers",
                        dns.names.join(", ")
                    ));
                }
                addrs(&delegation).await?
            }
        };
        resolvers = addrs(&dns.resolvers).await?;
    }
    let (client_dns, client_recursion) = match &network.client_dns {
        Some(servers) => (servers.clone(), false),
        None => (probes::wire::system_resolvers(), true),
    };
    if client_dns.is_empty() && (config.http.is_some() || config.canary.is_some()) {
        return Err(
            "no resolver for the HTTP probes: /etc/resolv.conf lists no nameserver".to_string(),
        );
    }
    let _ = drill;
    let mut route53_view = None;
    if let Some(dns) = config.dns.as_ref().filter(|d| d.test_dns_answer.is_some()) {
        let mut names = Vec::new();
        for name in &dns.names {
            // The most specific of the drill's zones that holds the name.
            let zone = plan
                .zones
                .values()
                .filter(|z| name == &z.name || name.ends_with(&format!(".{}", z.name)))
                .max_by_key(|z| z.name.len())
                .ok_or_else(|| {
                    format!(
                        "probes.dns.test_dns_answer: {name} is in none of the drill's hosted zones; TestDNSAnswer needs the zone"
                    )
                })?;
            names.push((name.clone(), zone.id.clone()));
        }
        route53_view = Some(probes::Route53View {
            route53: route53.clone(),
            names,
        });
    }
    Ok(Setup {
        config: config.clone(),
        name_servers,
        resolvers,
        client_dns,
        client_recursion,
        port: network.port,
        regions,
        route53_view,
    })
}

async fn addrs(servers: &[String]) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for s in servers {
        // One address per server: a name server's several addresses are the same server.
        let found = probes::wire::server_addrs(s).await?;
        out.extend(found.into_iter().next());
    }
    Ok(out)
}

/// Preflight's last check: over the baseline window, traffic and writes are served by the primary
/// region, DNS points there, and errors stay under the limit. Ok(evidence) or every reason not.
pub async fn steady_state(prober: &Prober, drill: &Drill) -> Result<Value, (Vec<String>, Value)> {
    let config = prober.config();
    if config.baseline.is_zero() {
        return Ok(json!({ "window_ms": 0, "checked": false }));
    }
    let start = prober.clock().elapsed();
    prober.clock().sleep(config.baseline).await;
    let primary = &drill.regions.primary;
    let limit = config.baseline_error_rate;
    let window = humantime::format_duration(config.baseline);
    let mut reasons = Vec::new();
    let mut evidence = serde_json::Map::new();
    for kind in [Kind::Dns, Kind::Http, Kind::Canary] {
        let configured = match kind {
            Kind::Dns => config.dns.is_some(),
            Kind::Http => config.http.is_some(),
            Kind::Canary => config.canary.is_some(),
            // Route 53's configuration is not the service: the steady state is what clients see.
            Kind::TestDnsAnswer => false,
        };
        if !configured {
            continue;
        }
        let samples: Vec<Sample> = prober
            .samples_since(kind, start)
            .into_iter()
            .filter(|s| kind != Kind::Dns || s.authoritative)
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let stats = probes::measure::stats(&refs);
        let name = kind.as_str();
        if samples.is_empty() {
            reasons.push(format!(
                "steady state: no {name} probe was answered during the {window} baseline"
            ));
        } else {
            if stats.error_rate > limit {
                let example = samples
                    .iter()
                    .find(|s| !s.ok)
                    .and_then(|s| s.detail.clone())
                    .unwrap_or_default();
                reasons.push(format!(
                    "steady state: {} of {} {name} probes failed during the {window} baseline ({:.1}%, limit {:.1}%), e.g. {example}",
                    stats.errors,
                    stats.count,
                    stats.error_rate * 100.0,
                    limit * 100.0
                ));
            }
            let elsewhere: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.ok && s.region.as_deref() != Some(primary.as_str()))
                .collect();
            let served = stats.count - stats.errors;
            let share = if served == 0 {
                0.0
            } else {
                1.0 - elsewhere.len() as f64 / served as f64
            };
            // DNS must point at the primary everywhere; HTTP and writes by the shift share.
            let enough = match kind {
                Kind::Dns => elsewhere.is_empty(),
                _ => share >= config.shift_share,
            };
            if served > 0 && !enough {
                let other = elsewhere
                    .first()
                    .map(|s| {
                        format!(
                            "{} answered {}",
                            s.source,
                            s.region
                                .as_deref()
                                .unwrap_or("a region the drill does not name")
                        )
                    })
                    .unwrap_or_default();
                reasons.push(format!(
                    "steady state: only {:.0}% of {name} probes reached the primary region {primary} during the baseline ({other}): the service is not where the drill expects it",
                    share * 100.0
                ));
            }
        }
        evidence.insert(name.to_string(), json!(stats));
    }
    let evidence =
        json!({ "window_ms": ms(config.baseline), "primary": primary, "probes": evidence });
    if reasons.is_empty() {
        Ok(evidence)
    } else {
        Err((reasons, evidence))
    }
}

/// The steady-state check on its own, as `drill plan` runs it: the probes start as `drill run`
/// starts them ([`setup`], [`Prober::start`]), [`steady_state`] watches the baseline window, and
/// the probes stop. Ok(evidence), or the reasons `drill run` would refuse with.
pub async fn check_steady_state(
    config: &Probes,
    drill: &Drill,
    plan: &Plan,
    network: &Network,
    route53: &Arc<dyn Route53>,
    clock: &Clock,
) -> Result<Value, Vec<String>> {
    let probes = |e: String| vec![format!("probes: {e}")];
    let setup = setup(config, drill, plan, network, route53)
        .await
        .map_err(probes)?;
    let prober = Prober::start(setup, clock.clone()).map_err(probes)?;
    prober.mark(Mark::Phase {
        name: "baseline".to_string(),
    });
    tracing::info!(
        "probes: watching the steady state for {}",
        humantime::format_duration(config.baseline)
    );
    let checked = steady_state(&prober, drill).await;
    prober.stop().await;
    checked.map_err(|(reasons, _)| reasons)
}

/// Asks the probes whether traffic reached `side`: every authoritative answer points there and
/// the HTTP share is reached; then reads the canary back to count lost writes.
pub struct ProbeVerifier;

#[async_trait]
impl Verifier for ProbeVerifier {
    fn name(&self) -> &str {
        "probes"
    }

    async fn check(&self, ctx: &Ctx<'_>, side: Side) -> Result<Value, String> {
        let Some(prober) = ctx.probes else {
            return Ok(json!("no probes"));
        };
        let target = side.region(ctx);
        let since = last_routing(prober, target)
            .ok_or_else(|| format!("no routing change towards {target} was recorded"))?;
        let config = prober.config();
        let mut evidence = serde_json::Map::new();
        if config.dns.is_some() {
            let at = prober.dns_on(target, since).ok_or_else(|| {
                format!("the authoritative name servers do not all answer with {target} yet")
            })?;
            evidence.insert("dns_on_target_after_ms".into(), json!(ms(at - since)));
        }
        if config.http.is_some() {
            let at = prober.traffic_moved(target, since).ok_or_else(|| {
                let shares = prober.shares(config.shift_window);
                format!(
                    "HTTP probes have not moved to {target} (last {}: {})",
                    config.shift_window,
                    show_shares(&shares)
                )
            })?;
            evidence.insert("traffic_moved_after_ms".into(), json!(ms(at - since)));
        }
        let label = match side {
            Side::Secondary => "failover",
            Side::Primary => "failback",
        };
        if let Some(check) = prober.read_back(label).await? {
            evidence.insert(
                "canary".into(),
                json!({ "checked": check.checked, "missing": check.missing.len(), "read_from": check.region }),
            );
        }
        Ok(Value::Object(evidence))
    }
}

fn show_shares(shares: &BTreeMap<String, f64>) -> String {
    if shares.is_empty() {
        return "no answers".to_string();
    }
    shares
        .iter()
        .map(|(r, s)| format!("{r} {:.0}%", s * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The latest routing change towards `region`.
fn last_routing(prober: &Prober, region: &str) -> Option<Duration> {
    prober
        .record()
        .marks
        .iter()
        .rev()
        .find_map(|m| match &m.mark {
            Mark::Routing { to } if to == region => Some(m.at),
            _ => None,
        })
}

/// When Route 53 accepted the routing change of `step`: the first `done` (the shift) or, with
/// `undone`, the first `undone` (the fail-back) among the step's journaled mutations. Marks set
/// before a step include its reads and the control plane's pacing; this is the change itself.
pub fn routing_accepted(
    journal: &std::path::Path,
    step: &str,
    undone: bool,
) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(journal).ok()?;
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let seqs: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "intent" && l["step"] == step)
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    let wanted = if undone { "undone" } else { "done" };
    lines
        .iter()
        .filter(|l| l["type"] == wanted && l["seq"].as_u64().is_some_and(|s| seqs.contains(&s)))
        .filter_map(|l| l["at"].as_str()?.parse::<DateTime<Utc>>().ok())
        // The first line after a call is stamped as the call returns; later ones wait for the
        // earlier lines' fsync.
        .min()
}

/// A timestamp of the run's clock → modelled time since the clock started.
pub fn modelled(clock: &Clock, at: DateTime<Utc>) -> Duration {
    let ago = (clock.now() - at).to_std().unwrap_or_default();
    clock.elapsed().saturating_sub(ago)
}

/// A stop condition that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub condition: &'static str,
    pub at: DateTime<Utc>,
    pub detail: String,
}

impl std::fmt::Display for Fired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.condition, self.detail)
    }
}

/// Watches the stop conditions (and feeds the live view) every probe interval; returns when a
/// condition fires, never otherwise.
pub async fn monitor(prober: &Prober, progress: Option<&super::progress::Progress>) -> Fired {
    let config = prober.config();
    let stop = &config.stop;
    let clock = prober.clock();
    let mut routing: Option<(String, Duration)> = None;
    loop {
        clock.sleep(config.interval).await;
        if let Some(p) = progress {
            p.shares(prober.shares(config.shift_window), clock.now());
            p.seen(prober.canary(config.shift_window), prober.dns_region());
        }
        if let Some(limit) = stop.error_rate
            && let Some((rate, n)) = prober.error_rate(stop.window)
            && rate > limit
        {
            return Fired {
                condition: "error_rate",
                at: clock.now(),
                detail: format!(
                    "{:.1}% of {n} HTTP probes failed over the last {}, above the {:.1}% limit",
                    rate * 100.0,
                    humantime::format_duration(stop.window),
                    limit * 100.0
                ),
            };
        }
        if let Some(deadline) = stop.traffic_deadline {
            let latest = prober
                .record()
                .marks
                .iter()
                .rev()
                .find_map(|m| match &m.mark {
                    Mark::Routing { to } => Some((to.clone(), m.at)),
                    _ => None,
                });
            if latest != routing {
                routing = latest;
            }
            if let Some((to, at)) = &routing
                && clock.elapsed().saturating_sub(*at) > deadline
                && prober.traffic_moved(to, *at).is_none()
            {
                let shares = prober.shares(config.shift_window);
                return Fired {
                    condition: "traffic_deadline",
                    at: clock.now(),
                    detail: format!(
                        "traffic had not moved to {to} {} after the routing change (last {} HTTP probes: {})",
                        humantime::format_duration(deadline),
                        config.shift_window,
                        show_shares(&shares)
                    ),
                };
            }
        }
    }
}

/// Modelled clock time → the run's wall-clock timestamp.
fn stamp(clock: &Clock, t: Duration) -> String {
    let back = chrono::Duration::from_std(clock.elapsed().saturating_sub(t)).unwrap_or_default();
    (clock.now() - back).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The measurements (added to the report's `measurements`) and the report's `probes` section.
pub fn measurements(
    record: &Record,
    prober_config: &Probes,
    drill: &Drill,
    clock: &Clock,
    skew: &probes::Skew,
) -> (BTreeMap<String, Value>, Value) {
    let rule = probes::ShiftRule {
        share: prober_config.shift_share,
        window: prober_config.shift_window,
    };
    let directions = probes::measure::directions(
        record,
        rule,
        &drill.regions.primary,
        &drill.regions.secondary,
    );
    let mut m = BTreeMap::new();
    let mut detail = Vec::new();
    for d in &directions {
        let prefix = if d.name == "failback" {
            "failback_"
        } else {
            ""
        };
        let mut put = |key: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(format!("{prefix}{key}"), v);
            }
        };
        put("dns_cutover_ms", d.dns_cutover.map(|t| json!(ms(t))));
        put(
            "resolver_cutover_ms",
            d.recursive_cutover.map(|t| json!(ms(t))),
        );
        put(
            "test_dns_answer_cutover_ms",
            d.test_dns_answer_cutover.map(|t| json!(ms(t))),
        );
        put("traffic_shift_ms", d.traffic_shift.map(|t| json!(ms(t))));
        if prober_config.canary.is_some() {
            put(
                "write_outage_ms",
                Some(json!(d.write_outage.as_ref().map_or(0, |o| ms(o.length)))),
            );
        }
        put(
            "lost_writes",
            d.lost_writes.as_ref().map(|l| json!(l.len())),
        );
        put("rpo_ms", d.rpo.map(|t| json!(ms(t))));
        let at = |t: Option<Duration>| t.map(|t| stamp(clock, t));
        detail.push(json!({
            "direction": d.name,
            "target": d.target,
            "promotion_at": at(d.promotion_at),
            "routing_change_at": at(d.routing_at),
            "dns_cutover_at": at(d.routing_at.zip(d.dns_cutover).map(|(r, c)| r + c)),
            "test_dns_answer_cutover_at": at(d.routing_at.zip(d.test_dns_answer_cutover).map(|(r, c)| r + c)),
            "traffic_shift_at": at(d.routing_at.zip(d.traffic_shift).map(|(r, s)| r + s)),
            "write_outage": d.write_outage.as_ref().map(|o| json!({
                "from": stamp(clock, o.from),
                "to": o.to.map(|t| stamp(clock, t)),
                "ms": ms(o.length),
                "failed_writes": o.failed_writes,
            })),
            "lost_writes": d.lost_writes,
            "rpo_ms": d.rpo.map(ms),
        }));
    }
    let phases = probes::measure::phases(record);
    // The drill's own window: every phase after the baseline.
    let during: Vec<&Sample> = {
        let first_change = record.marks.iter().find_map(|mk| match &mk.mark {
            Mark::Phase { name } if name != "baseline" => Some(mk.at),
            _ => None,
        });
        record
            .samples
            .iter()
            .filter(|s| s.kind == Kind::Http && first_change.is_some_and(|f| s.at >= f))
            .collect()
    };
    if prober_config.http.is_some() && !during.is_empty() {
        let stats = probes::measure::stats(&during);
        m.insert("error_rate".to_string(), json!(stats.error_rate));
        if let Some(p50) = stats.p50_ms {
            m.insert("p50_latency_ms".to_string(), json!(p50.round() as u64));
        }
        if let Some(p99) = stats.p99_ms {
            m.insert("p99_latency_ms".to_string(), json!(p99.round() as u64));
        }
    }
    let series = probes::series::build(
        &record.samples,
        record.started,
        record.stopped,
        Duration::from_secs(1),
    );
    let section = json!({
        "interval_ms": ms(prober_config.interval),
        "http_interval_ms": prober_config.http.as_ref().map(|h| ms(h.interval)),
        "started_at": stamp(clock, record.started),
        "stopped_at": stamp(clock, record.stopped),
        "samples": record.samples.len(),
        "directions": detail,
        "read_backs": record.checks.iter().map(|(label, c)| json!({
            "after": label,
            "at": stamp(clock, c.at),
            "checked": c.checked,
            "missing": c.missing,
            "read_from": c.region,
        })).collect::<Vec<_>>(),
        "phases": phases,
        "timer": {
            "p99_skew_ms": skew.quantile(0.99).map(|d| d.as_secs_f64() * 1000.0),
            "missed_ticks": skew.missed(),
        },
        "series": {
            "start": stamp(clock, record.started),
            "bucket_ms": series.bucket_ms,
            "buckets": series.buckets,
            "columns": series.columns,
        },
    });
    (m, section)
}

/// SLO verdicts on probe measurements (each over both directions: the worse one counts).
/// A per-direction measurement's values: the failover's (`key`) and the fail-back's
/// (`failback_key`), those that were measured.
fn both_directions<'a>(
    m: &'a BTreeMap<String, Value>,
    key: &str,
) -> impl Iterator<Item = u64> + 'a {
    [m.get(key), m.get(&format!("failback_{key}"))]
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
}

/// The worse of the failover's and the fail-back's `key`; None when neither was measured.
pub fn worst_of_directions(m: &BTreeMap<String, Value>, key: &str) -> Option<u64> {
    both_directions(m, key).max()
}

/// The failover's and the fail-back's `key` together (lost writes); None when neither was measured.
pub fn sum_of_directions(m: &BTreeMap<String, Value>, key: &str) -> Option<u64> {
    both_directions(m, key).reduce(|a, b| a + b)
}

pub fn slos(drill: &Drill, m: &BTreeMap<String, Value>) -> Vec<SloResult> {
    let Some(config) = &drill.probes else {
        return Vec::new();
    };
    let worst = |key: &str| worst_of_directions(m, key);
    let sum = |key: &str| sum_of_directions(m, key);
    let slo = &config.slo;
    let mut out = Vec::new();
    let mut push =
        |name: &str, target: Option<u64>, measured: Option<u64>, unit: &str, source: &str| {
            if let Some(target) = target {
                out.push(SloResult {
                    name: name.to_string(),
                    target,
                    measured,
                    passed: measured.is_some_and(|v| v <= target),
                    source: source.to_string(),
                    unit: unit.to_string(),
                });
            }
        };
    let dur = |d: Option<Duration>| d.map(ms);
    push(
        "max_dns_cutover",
        dur(slo.max_dns_cutover),
        worst("dns_cutover_ms"),
        "ms",
        "dns_cutover_ms, failback_dns_cutover_ms (DNS probes)",
    );
    push(
        "max_traffic_shift",
        dur(slo.max_traffic_shift),
        worst("traffic_shift_ms"),
        "ms",
        "traffic_shift_ms, failback_traffic_shift_ms (HTTP probes)",
    );
    let lost_target = slo
        .max_lost_writes
        .or((config.canary.is_some() && drill.database.mode == Mode::Switchover).then_some(0));
    push(
        "max_lost_writes",
        lost_target,
        sum("lost_writes"),
        "writes",
        "lost_writes + failback_lost_writes (canary read-back)",
    );
    push(
        "max_rpo",
        dur(slo.max_rpo),
        worst("rpo_ms"),
        "ms",
        "rpo_ms, failback_rpo_ms (canary)",
    );
    push(
        "max_error_rate",
        slo.max_error_rate.map(|r| (r * 10_000.0).round() as u64),
        m.get("error_rate")
            .and_then(Value::as_f64)
            .map(|r| (r * 10_000.0).round() as u64),
        "basis_points",
        "error_rate (HTTP probes, first change to last restore)",
    );
    push(
        "max_p99_latency",
        dur(slo.max_p99_latency),
        m.get("p99_latency_ms").and_then(Value::as_u64),
        "ms",
        "p99_latency_ms (HTTP probes, first change to last restore)",
    );
    out
}

/// The canary's measured write outage, when there is a canary (it replaces the control plane's
/// upper bound for `max_write_outage`).
pub fn write_outage(drill: &Drill, m: &BTreeMap<String, Value>) -> Option<Option<u64>> {
    drill.probes.as_ref()?.canary.as_ref()?;
    Some(
        [m.get("write_outage_ms"), m.get("failback_write_outage_ms")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .max(),
    )
}
