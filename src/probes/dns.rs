//! The DNS probe: every tick, asks each authoritative name server (and each configured recursive
//! resolver) for each name, and records which region the answer points to. Optionally Route 53's
//! TestDNSAnswer is asked too, for each client address configured: the configuration's answer as
//! clients in different places would get it (latency records differ by place).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;
use super::sample::{Kind, Sample};
use super::wire;
use crate::cloud::Route53;

/// One (name, server) pair the probe asks every tick.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub server: SocketAddr,
    pub authoritative: bool,
    pub source: Arc<str>,
}

pub fn targets(
    names: &[String],
    authoritative: &[SocketAddr],
    recursive: &[SocketAddr],
) -> Vec<Target> {
    let mut out = Vec::new();
    for name in names {
        for (servers, auth) in [(authoritative, true), (recursive, false)] {
            for server in servers {
                out.push(Target {
                    name: name.clone(),
                    server: *server,
                    authoritative: auth,
                    source: Arc::from(format!("{name} @ {server}")),
                });
            }
        }
    }
    out
}

/// Asks one server once and records the sample.
pub async fn probe(shared: Arc<Shared>, target: Target, at: Duration) {
    let sent = Instant::now();
    let timeout = shared.config.timeout;
    let answer = wire::query(
        &shared.clock,
        target.server,
        &target.name,
        !target.authoritative,
        timeout,
    )
    .await;
    let answer = match answer {
        Ok(a) => Ok((a.rcode, a.values)),
        Err(e) => Err(e),
    };
    record(
        &shared,
        Kind::Dns,
        target.source,
        target.authoritative,
        at,
        sent,
        answer,
    );
}

/// Records one DNS-like answer (response code and values, or why there was none): which region
/// the values point to, and how long it took since it was `sent` (a real round trip, on the real
/// clock: in the lab it is not modelled, so it must not grow with the time scale).
fn record(
    shared: &Shared,
    kind: Kind,
    source: Arc<str>,
    authoritative: bool,
    at: Duration,
    sent: Instant,
    answer: Result<(String, Vec<String>), String>,
) {
    let latency = sent.elapsed();
    let (ok, region, detail) = match answer {
        Ok((rcode, values)) if rcode == "NOERROR" && !values.is_empty() => {
            let region = region_of(&shared.regions, &values);
            (true, region, Some(values.join(" ")))
        }
        Ok((rcode, _)) => (false, None, Some(format!("{rcode} with no answer"))),
        Err(e) => (false, None, Some(e)),
    };
    shared.record(Sample {
        kind,
        source,
        authoritative,
        at,
        latency,
        ok,
        region,
        detail,
        seq: None,
    });
}

/// One TestDNSAnswer question asked every view tick.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub zone_id: String,
    pub name: String,
    pub client_ip: Option<String>,
    pub source: Arc<str>,
}

pub fn api_targets(names: &[(String, String)], client_ips: &[String]) -> Vec<ApiTarget> {
    let ips: Vec<Option<String>> = if client_ips.is_empty() {
        vec![None]
    } else {
        client_ips.iter().cloned().map(Some).collect()
    };
    let mut out = Vec::new();
    for (name, zone_id) in names {
        for ip in &ips {
            let source = match ip {
                Some(ip) => format!("TestDNSAnswer {name} ({ip})"),
                None => format!("TestDNSAnswer {name}"),
            };
            out.push(ApiTarget {
                zone_id: zone_id.clone(),
                name: name.clone(),
                client_ip: ip.clone(),
                source: Arc::from(source),
            });
        }
    }
    out
}

/// Asks Route 53's TestDNSAnswer once (giving up after `limit`) and records the sample.
pub async fn test_dns_answer(
    shared: Arc<Shared>,
    route53: Arc<dyn Route53>,
    target: ApiTarget,
    at: Duration,
    limit: Duration,
) {
    let sent = Instant::now();
    let answer = shared
        .clock
        .timeout(
            limit,
            route53.test_dns_answer(
                &target.zone_id,
                &target.name,
                "A",
                target.client_ip.as_deref(),
            ),
        )
        .await;
    let answer = match answer {
        Some(Ok(a)) => Ok((a.response_code, a.values)),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no answer in time".to_string()),
    };
    record(
        &shared,
        Kind::TestDnsAnswer,
        target.source,
        false,
        at,
        sent,
        answer,
    );
}

/// The region an answer points to: the one region its values map to, `mixed` when they map to
/// several, None when none is known.
pub fn region_of(regions: &BTreeMap<String, String>, values: &[String]) -> Option<String> {
    let found: BTreeSet<&String> = values
        .iter()
        .filter_map(|v| regions.get(&normalize(v)))
        .collect();
    match found.len() {
        0 => None,
        1 => found.into_iter().next().cloned(),
        _ => Some("mixed".to_string()),
    }
}

/// How record values are compared: addresses in canonical form, names fully qualified.
pub fn normalize(value: &str) -> String {
    match value.trim().parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => crate::cloud::fqdn(value),
    }
}
