//! The DNS probe: every tick, asks each authoritative name server (and each configured recursive
//! resolver) for each name, and records which region the answer points to.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use super::sample::{Kind, Sample};
use super::wire;

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
    let timeout = shared.config.timeout;
    let answer = wire::query(
        &shared.clock,
        target.server,
        &target.name,
        !target.authoritative,
        timeout,
    )
    .await;
    let latency = shared.clock.elapsed().saturating_sub(at);
    let (ok, region, detail) = match answer {
        Ok(a) if !a.values.is_empty() => {
            let region = region_of(&shared.regions, &a.values);
            (true, region, Some(a.values.join(" ")))
        }
        Ok(a) => (false, None, Some(format!("{} with no answer", a.rcode))),
        Err(e) => (false, None, Some(e)),
    };
    shared.record(Sample {
        kind: Kind::Dns,
        source: target.source,
        authoritative: target.authoritative,
        at,
        latency,
        ok,
        region,
        detail,
        seq: None,
    });
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
