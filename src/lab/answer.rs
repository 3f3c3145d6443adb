//! What a Route 53 name server answers, computed from the published records and the checkers'
//! view of health: simple, weighted (weight 0 only when nothing else is left), failover (PRIMARY
//! unless its health check is unhealthy), latency (by the client's region), multivalue, aliases
//! and CNAMEs within the lab's zones; NXDOMAIN inside a zone, REFUSED outside every zone.
//!
//! Besides the hosted zones the lab serves `app.lab.`: `<region>.app.lab.` is the A record of each
//! regional app, so CNAMEs the lab seeds resolve all the way.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::health::HealthCheck;
use super::zones::{NAME_SERVERS, Zone};
use crate::cloud::{RecordSet, fqdn};

pub const APP_ZONE: &str = "app.lab.";

/// One resource record in an answer, values in presentation format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Refused,
    NxDomain { soa: Rr },
    NoData { soa: Rr },
    Answer { records: Vec<Rr>, zone: String },
}

impl Outcome {
    pub fn rcode(&self) -> &'static str {
        match self {
            Outcome::Refused => "REFUSED",
            Outcome::NxDomain { .. } => "NXDOMAIN",
            Outcome::NoData { .. } | Outcome::Answer { .. } => "NOERROR",
        }
    }
}

/// The published state a name server answers from.
pub struct Authority<'a> {
    pub zones: &'a BTreeMap<String, Zone>,
    pub health: &'a BTreeMap<String, HealthCheck>,
    /// Regions in order; region i's app lives at 127.0.0.(11 + i).
    pub regions: &'a [String],
}

/// The address of region `index`'s app.
pub fn app_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 11 + index as u8)
}

/// Picks one of several weighted options; the DNS server passes a random pick, the ground truth
/// collects all options instead.
pub type Pick<'p> = &'p mut dyn FnMut(&[i64]) -> usize;

impl Authority<'_> {
    /// The hosted zone (published) that is most specific for `qname`.
    fn zone_for(&self, qname: &str) -> Option<&Zone> {
        self.zones
            .values()
            .filter(|z| z.contains(qname))
            .max_by_key(|z| z.name.len())
    }

    pub fn resolve(
        &self,
        qname: &str,
        qtype: &str,
        client_region: Option<&str>,
        pick: Pick<'_>,
    ) -> Outcome {
        let qname = fqdn(qname);
        let qtype = qtype.to_ascii_uppercase();
        let Some(zone) = self.zone_for(&qname) else {
            return self.resolve_app(&qname, &qtype);
        };
        let soa = soa_of(zone);
        let mut records = Vec::new();
        let exists = self.lookup(zone, &qname, &qtype, client_region, pick, &mut records, 0);
        if !records.is_empty() {
            return Outcome::Answer {
                records,
                zone: zone.name.clone(),
            };
        }
        if exists {
            Outcome::NoData { soa }
        } else {
            Outcome::NxDomain { soa }
        }
    }

    /// Every answer `name TYPE` can currently give, sorted: the ground truth's view of DNS.
    pub fn possible(&self, qname: &str, qtype: &str, client_region: Option<&str>) -> Vec<String> {
        let mut all = BTreeSet::new();
        // Enumerate each weighted option by steering the pick through every index.
        let mut index = 0;
        loop {
            let mut options = 0;
            let outcome = {
                let mut pick = |weights: &[i64]| {
                    options = options.max(weights.len());
                    index.min(weights.len().saturating_sub(1))
                };
                self.resolve(qname, qtype, client_region, &mut pick)
            };
            if let Outcome::Answer { records, .. } = outcome {
                all.extend(
                    records
                        .into_iter()
                        .filter(|r| r.rtype == qtype)
                        .map(|r| r.value),
                );
            }
            index += 1;
            if index >= options {
                break;
            }
        }
        all.into_iter().collect()
    }

    /// Fills `out` with the answer; returns whether the name exists at all (for NXDOMAIN).
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &self,
        zone: &Zone,
        qname: &str,
        qtype: &str,
        client_region: Option<&str>,
        pick: Pick<'_>,
        out: &mut Vec<Rr>,
        depth: usize,
    ) -> bool {
        let at_name: Vec<&RecordSet> = zone
            .published
            .values()
            .filter(|r| r.name == qname)
            .collect();
        let (sets, owner_exists) = if at_name.is_empty() {
            let descendant = zone
                .published
                .values()
                .any(|r| r.name.ends_with(&format!(".{qname}")));
            if descendant {
                (Vec::new(), true)
            } else {
                // A wildcard one label up answers for names that do not exist.
                let wildcard = qname
                    .split_once('.')
                    .map(|(_, parent)| format!("*.{parent}"))
                    .unwrap_or_default();
                let sets: Vec<&RecordSet> = zone
                    .published
                    .values()
                    .filter(|r| r.name == wildcard)
                    .collect();
                let exists = !sets.is_empty();
                (sets, exists)
            }
        } else {
            (at_name, true)
        };
        if sets.is_empty() || depth > 4 {
            return owner_exists;
        }
        let types: Vec<&str> = if qtype == "ANY" {
            sets.iter()
                .map(|r| r.rtype.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        } else if sets.iter().any(|r| r.rtype == qtype) {
            vec![qtype]
        } else if sets.iter().any(|r| r.rtype == "CNAME") {
            vec!["CNAME"]
        } else {
            vec![]
        };
        for rtype in types {
            let of_type: Vec<&RecordSet> =
                sets.iter().copied().filter(|r| r.rtype == rtype).collect();
            let Some(chosen) = self.choose(&of_type, client_region, pick) else {
                continue;
            };
            for set in chosen {
                self.materialise(set, qname, pick, out, depth);
            }
            if rtype == "CNAME" && qtype != "CNAME" && qtype != "ANY" {
                let targets: Vec<String> = out
                    .iter()
                    .filter(|r| r.rtype == "CNAME")
                    .map(|r| fqdn(&r.value))
                    .collect();
                for target in targets {
                    self.chase(&target, qtype, client_region, pick, out, depth + 1);
                }
            }
        }
        true
    }

    fn chase(
        &self,
        target: &str,
        qtype: &str,
        client_region: Option<&str>,
        pick: Pick<'_>,
        out: &mut Vec<Rr>,
        depth: usize,
    ) {
        match self.zone_for(target) {
            Some(zone) => {
                self.lookup(zone, target, qtype, client_region, pick, out, depth);
            }
            None => {
                if let Outcome::Answer { records, .. } = self.resolve_app(target, qtype) {
                    out.extend(records);
                }
            }
        }
    }

    /// The record sets Route 53 would answer with, among those of one name and type.
    fn choose<'r>(
        &self,
        sets: &[&'r RecordSet],
        client_region: Option<&str>,
        pick: Pick<'_>,
    ) -> Option<Vec<&'r RecordSet>> {
        let first = *sets.first()?;
        if first.set_identifier.is_none() {
            return Some(vec![first]);
        }
        let healthy: Vec<&RecordSet> = sets.iter().copied().filter(|r| self.healthy(r)).collect();
        // When every candidate is unhealthy Route 53 treats them all as healthy.
        let pool = if healthy.is_empty() {
            sets.to_vec()
        } else {
            healthy
        };
        if first.weight.is_some() {
            let positive: Vec<&RecordSet> = pool
                .iter()
                .copied()
                .filter(|r| r.weight.unwrap_or(0) > 0)
                .collect();
            let positive = if positive.is_empty() {
                // Only zero weights left: Route 53 answers with equal probability.
                let any_positive: Vec<&RecordSet> = sets
                    .iter()
                    .copied()
                    .filter(|r| r.weight.unwrap_or(0) > 0)
                    .collect();
                if any_positive.is_empty() {
                    pool.clone()
                } else {
                    any_positive
                }
            } else {
                positive
            };
            let weights: Vec<i64> = positive
                .iter()
                .map(|r| r.weight.unwrap_or(0).max(0))
                .collect();
            let weights = if weights.iter().all(|&w| w == 0) {
                vec![1; weights.len()]
            } else {
                weights
            };
            let i = pick(&weights).min(positive.len() - 1);
            return Some(vec![positive[i]]);
        }
        if first.failover.is_some() {
            let of = |kind: &str| {
                sets.iter()
                    .copied()
                    .find(|r| r.failover.as_deref() == Some(kind))
            };
            let primary = of("PRIMARY");
            let secondary = of("SECONDARY");
            let chosen = match (primary, secondary) {
                (Some(p), _) if self.healthy(p) => p,
                (_, Some(s)) if self.healthy(s) => s,
                (Some(p), _) => p,
                (None, Some(s)) => s,
                (None, None) => return None,
            };
            return Some(vec![chosen]);
        }
        if first.region.is_some() {
            let wanted = client_region.or(self.regions.first().map(String::as_str));
            let chosen = pool
                .iter()
                .copied()
                .find(|r| r.region.as_deref() == wanted)
                .or_else(|| {
                    pool.iter()
                        .copied()
                        .find(|r| r.region.as_deref() == self.regions.first().map(String::as_str))
                })
                .unwrap_or(pool[0]);
            return Some(vec![chosen]);
        }
        if first.multi_value_answer.is_some() {
            return Some(pool.into_iter().take(8).collect());
        }
        if first.geo_location.is_some() {
            let default = pool.iter().copied().find(|r| {
                r.geo_location
                    .as_ref()
                    .and_then(|g| g.country_code.as_deref())
                    == Some("*")
            });
            return Some(vec![default.unwrap_or(pool[0])]);
        }
        Some(vec![pool[0]])
    }

    fn healthy(&self, r: &RecordSet) -> bool {
        match &r.health_check_id {
            Some(id) => self.health.get(id).is_none_or(|hc| hc.observed.healthy),
            None => true,
        }
    }

    fn materialise(
        &self,
        set: &RecordSet,
        qname: &str,
        pick: Pick<'_>,
        out: &mut Vec<Rr>,
        depth: usize,
    ) {
        if let Some(alias) = &set.alias_target {
            let mut target = Vec::new();
            let name = fqdn(&alias.dns_name);
            self.chase(&name, &set.rtype, None, pick, &mut target, depth + 1);
            out.extend(
                target
                    .into_iter()
                    .filter(|r| r.rtype == set.rtype)
                    .map(|r| Rr {
                        name: qname.to_string(),
                        ttl: 60,
                        ..r
                    }),
            );
            return;
        }
        let ttl = set.ttl.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
        for value in &set.values {
            out.push(Rr {
                name: qname.to_string(),
                rtype: set.rtype.clone(),
                ttl,
                value: value.clone(),
            });
        }
    }

    /// The synthetic `app.lab.` zone: `<region>.app.lab.` → that region's app address.
    fn resolve_app(&self, qname: &str, qtype: &str) -> Outcome {
        if qname != APP_ZONE && !qname.ends_with(&format!(".{APP_ZONE}")) {
            return Outcome::Refused;
        }
        let soa = Rr {
            name: APP_ZONE.to_string(),
            rtype: "SOA".to_string(),
            ttl: 900,
            value: format!(
                "{} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                NAME_SERVERS[0]
            ),
        };
        if qname == APP_ZONE {
            let records: Vec<Rr> = match qtype {
                "SOA" => vec![soa.clone()],
                "NS" => NAME_SERVERS
                    .iter()
                    .map(|ns| Rr {
                        name: APP_ZONE.to_string(),
                        rtype: "NS".to_string(),
                        ttl: 172800,
                        value: ns.to_string(),
                    })
                    .collect(),
                _ => vec![],
            };
            return if records.is_empty() {
                Outcome::NoData { soa }
            } else {
                Outcome::Answer {
                    records,
                    zone: APP_ZONE.to_string(),
                }
            };
        }
        let label = qname.trim_end_matches(&format!(".{APP_ZONE}"));
        match self.regions.iter().position(|r| r == label) {
            Some(i) if qtype == "A" || qtype == "ANY" => Outcome::Answer {
                records: vec![Rr {
                    name: qname.to_string(),
                    rtype: "A".to_string(),
                    ttl: 60,
                    value: app_ip(i).to_string(),
                }],
                zone: APP_ZONE.to_string(),
            },
            Some(_) => Outcome::NoData { soa },
            None => Outcome::NxDomain { soa },
        }
    }
}

fn soa_of(zone: &Zone) -> Rr {
    let value = zone
        .published
        .values()
        .find(|r| r.name == zone.name && r.rtype == "SOA")
        .and_then(|r| r.values.first().cloned())
        .unwrap_or_else(|| {
            format!(
                "{} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                NAME_SERVERS[0]
            )
        });
    Rr {
        name: zone.name.clone(),
        rtype: "SOA".to_string(),
        ttl: 900,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::zones::SortKey;

    fn world() -> (
        BTreeMap<String, Zone>,
        BTreeMap<String, HealthCheck>,
        Vec<String>,
    ) {
        let mut z = Zone::new("Z1", "example.com.");
        let mut add = |r: RecordSet| {
            z.published.insert(SortKey::of(&r), r);
        };
        let mut w1 = RecordSet::simple("w.example.com.", "A", 60, &["127.0.0.11"]);
        w1.set_identifier = Some("east".into());
        w1.weight = Some(100);
        let mut w2 = RecordSet::simple("w.example.com.", "A", 60, &["127.0.0.12"]);
        w2.set_identifier = Some("west".into());
        w2.weight = Some(0);
        add(w1);
        add(w2);
        let mut p = RecordSet::simple("f.example.com.", "A", 60, &["127.0.0.11"]);
        p.set_identifier = Some("p".into());
        p.failover = Some("PRIMARY".into());
        p.health_check_id = Some("hc".into());
        let mut s = RecordSet::simple("f.example.com.", "A", 60, &["127.0.0.12"]);
        s.set_identifier = Some("s".into());
        s.failover = Some("SECONDARY".into());
        add(p);
        add(s);
        for (region, ip) in [("us-east-1", "127.0.0.11"), ("us-west-2", "127.0.0.12")] {
            let mut l = RecordSet::simple("l.example.com.", "A", 60, &[ip]);
            l.set_identifier = Some(region.into());
            l.region = Some(region.into());
            add(l);
        }
        add(RecordSet::simple(
            "c.example.com.",
            "CNAME",
            60,
            &["us-west-2.app.lab."],
        ));
        add(RecordSet::simple(
            "deep.sub.example.com.",
            "TXT",
            60,
            &["\"x\""],
        ));
        let health = BTreeMap::from([("hc".to_string(), HealthCheck::http("hc", app_ip(0), 80))]);
        (
            BTreeMap::from([("Z1".to_string(), z)]),
            health,
            vec!["us-east-1".into(), "us-west-2".into()],
        )
    }

    fn first(_: &[i64]) -> usize {
        0
    }

    fn values(o: Outcome) -> Vec<String> {
        match o {
            Outcome::Answer { records, .. } => records.into_iter().map(|r| r.value).collect(),
            other => panic!("no answer: {other:?}"),
        }
    }

    #[test]
    fn weighted_excludes_zero_weights() {
        let (zones, health, regions) = world();
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert_eq!(a.possible("w.example.com", "A", None), ["127.0.0.11"]);
    }

    #[test]
    fn failover_follows_the_observed_health() {
        let (zones, mut health, regions) = world();
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert_eq!(
            values(a.resolve("f.example.com.", "A", None, &mut first)),
            ["127.0.0.11"]
        );
        health.get_mut("hc").unwrap().observed.healthy = false;
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert_eq!(
            values(a.resolve("f.example.com.", "A", None, &mut first)),
            ["127.0.0.12"]
        );
    }

    #[test]
    fn latency_uses_the_client_region_defaulting_to_the_primary() {
        let (zones, health, regions) = world();
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert_eq!(
            values(a.resolve("l.example.com.", "A", None, &mut first)),
            ["127.0.0.11"]
        );
        assert_eq!(
            values(a.resolve("l.example.com.", "A", Some("us-west-2"), &mut first)),
            ["127.0.0.12"]
        );
    }

    #[test]
    fn cname_chases_into_the_app_zone() {
        let (zones, health, regions) = world();
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert_eq!(
            values(a.resolve("c.example.com.", "A", None, &mut first)),
            ["us-west-2.app.lab.", "127.0.0.12"]
        );
    }

    #[test]
    fn nxdomain_nodata_and_refused() {
        let (zones, health, regions) = world();
        let a = Authority {
            zones: &zones,
            health: &health,
            regions: &regions,
        };
        assert!(matches!(
            a.resolve("nope.example.com.", "A", None, &mut first),
            Outcome::NxDomain { .. }
        ));
        assert!(matches!(
            a.resolve("w.example.com.", "TXT", None, &mut first),
            Outcome::NoData { .. }
        ));
        assert!(matches!(
            a.resolve("sub.example.com.", "A", None, &mut first),
            Outcome::NoData { .. }
        ));
        assert_eq!(
            a.resolve("example.org.", "A", None, &mut first),
            Outcome::Refused
        );
        assert_eq!(
            values(a.resolve("example.com.", "NS", None, &mut first)),
            NAME_SERVERS
        );
    }
}
