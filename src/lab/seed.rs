//! Builds the world a set of drills expects: their hosted zones, the records they name (original
//! TTL, routing as the drill's traffic kind implies, values pointing at the regional apps), their
//! health checks and their global clusters (writer in the primary region).
//!
//! - Zones named by a `ZoneRef::Id` keep that id and are named after the common suffix of their
//!   records' names; zones named by name get a stable id derived from the name.
//! - Weighted records: weight 100 in the primary region, 0 elsewhere. Failover records: PRIMARY in
//!   the primary region carrying the drill's health check, SECONDARY elsewhere. Traffic `none`:
//!   simple records (weighted, as above, if the drill gives a set identifier).
//! - A → the record's region's app address (127.0.0.11, .12, …); AAAA → `::1`; CNAME →
//!   `<region>.app.lab.`; TXT → `"region=<region>"`; anything else → the app address.
//! - The writer cluster is `<global>-<primary region short>` (`us-east-1` → `use1`); the secondary
//!   is the drill's `secondary_cluster` (id or ARN) in the secondary region.
//! - Every alarm in `[stop] alarms` exists as a metric alarm in its region, in state OK.
//! - A `[groups.select]` stands for the names it would match: an exact name is itself, `*.suffix` is
//!   `n00001.suffix` … and omitted `names` are `n00001.<zone>` …, `[lab] names_per_selection` of
//!   each (default 3). Each name gets one record set per `set_identifiers` entry, routed as above
//!   (a `none` group without identifiers: one simple record in the primary region).
//! - A record, zone, cluster or alarm named by several drills is seeded once, by the first.

use std::collections::BTreeMap;
use std::time::Duration;

use super::answer::{APP_ZONE, app_ip};
use super::database::{Role, Sync};
use super::health::HealthCheck;
use super::world::{LabAlarm, World, stable_id};
use super::zones::{SortKey, Zone, reversed_labels};
use crate::cloud::{RecordSet, ZoneRef, fqdn, region_of_arn};
use crate::spec::{Drill, NamePattern, RecordGroup, Selection, Traffic};

/// The regions the drills mention, primary regions first in drill order.
pub fn regions(drills: &[Drill]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |r: &str| {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    };
    for d in drills {
        add(&d.regions.primary);
        add(&d.regions.secondary);
    }
    for d in drills {
        for (_, r) in d.records() {
            if let Some(region) = &r.region {
                add(region);
            }
        }
        for select in d.groups.iter().filter_map(|g| g.select.as_ref()) {
            for region in select.set_identifiers.values() {
                add(region);
            }
        }
    }
    out
}

/// One record set to seed: name, type, set identifier, region.
struct Seeded {
    name: String,
    rtype: String,
    set_identifier: Option<String>,
    region: String,
}

/// `n00001.svc.example.com.`: the `i`th (from 1) name the lab invents under `suffix`.
pub fn invented_name(i: u32, suffix: &str) -> String {
    format!("n{i:05}.{suffix}")
}

/// The names a selection stands for in the lab, in pattern order; `zone_name` serves omitted
/// `names`.
fn selection_names(select: &Selection, zone_name: &str, per_pattern: u32) -> Vec<String> {
    let invent = |out: &mut Vec<String>, suffix: &str| {
        out.extend((1..=per_pattern).map(|i| invented_name(i, suffix)));
    };
    let mut out = Vec::new();
    match &select.names {
        None => invent(&mut out, zone_name),
        Some(patterns) => {
            for p in patterns {
                match p {
                    NamePattern::Exact(name) => out.push(name.clone()),
                    NamePattern::Under(suffix) => invent(&mut out, suffix),
                }
            }
        }
    }
    out
}

/// Every record set `g` stands for in the lab's zone `zone_name`.
fn seeded(d: &Drill, g: &RecordGroup, zone_name: &str) -> Vec<Seeded> {
    let Some(select) = &g.select else {
        return g
            .records
            .iter()
            .map(|r| Seeded {
                name: r.name.clone(),
                rtype: r.rtype.clone(),
                set_identifier: r.set_identifier.clone(),
                region: r
                    .region
                    .clone()
                    .unwrap_or_else(|| d.regions.primary.clone()),
            })
            .collect();
    };
    let per_pattern = d
        .lab
        .as_ref()
        .map_or(crate::spec::DEFAULT_NAMES_PER_SELECTION, |l| {
            l.names_per_selection()
        });
    let mut out = Vec::new();
    for name in selection_names(select, zone_name, per_pattern) {
        if select.set_identifiers.is_empty() {
            out.push(Seeded {
                name: name.clone(),
                rtype: select.rtype.clone(),
                set_identifier: None,
                region: d.regions.primary.clone(),
            });
        }
        for (id, region) in &select.set_identifiers {
            out.push(Seeded {
                name: name.clone(),
                rtype: select.rtype.clone(),
                set_identifier: Some(id.clone()),
                region: region.clone(),
            });
        }
    }
    out
}

/// `us-east-1` → `use1`, `ap-southeast-2` → `apse2`.
pub fn region_short(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    match parts.as_slice() {
        [area, direction, number] => {
            let d = match *direction {
                "east" => "e",
                "west" => "w",
                "north" => "n",
                "south" => "s",
                "central" => "c",
                "northeast" => "ne",
                "northwest" => "nw",
                "southeast" => "se",
                "southwest" => "sw",
                other => &other[..1.min(other.len())],
            };
            format!("{area}{d}{number}")
        }
        _ => region.replace('-', ""),
    }
}

/// The zone name for a zone known only by id: the common label suffix of its records' names
/// (one label up if that is itself a record's name and has more than two labels).
fn zone_name_from_records(names: &[&str]) -> String {
    let reversed: Vec<Vec<String>> = names.iter().map(|n| reversed_labels(n)).collect();
    let Some(first) = reversed.first() else {
        return "lab.".to_string();
    };
    let mut common: Vec<String> = first.clone();
    for r in &reversed[1..] {
        let n = common.iter().zip(r).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    if reversed.contains(&common) && common.len() > 2 {
        common.pop();
    }
    if common.is_empty() {
        return "lab.".to_string();
    }
    let mut labels = common;
    labels.reverse();
    fqdn(&labels.join("."))
}

/// Seeds `world` from the drills; `original_ttl` is every record's TTL.
pub fn seed(world: &mut World, drills: &[Drill], original_ttl: i64) {
    let region_index: BTreeMap<String, usize> = world
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.clone(), i))
        .collect();
    // Zones by id: first collect every record name per zone so id-only zones can be named.
    let mut zone_names: BTreeMap<String, String> = BTreeMap::new();
    let mut names_for_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in drills {
        for g in &d.groups {
            if let ZoneRef::Id(id) = &g.zone {
                let names = names_for_id.entry(bare_zone_id(id)).or_default();
                names.extend(g.records.iter().map(|r| r.name.clone()));
                // A selection's names name the zone too, except omitted names, which need the
                // zone's name to be invented.
                if let Some(select) = g.select.as_ref().filter(|s| s.names.is_some()) {
                    names.extend(selection_names(select, "", 1));
                }
            }
        }
    }
    for (id, names) in &names_for_id {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        zone_names.insert(id.clone(), zone_name_from_records(&names));
    }
    for d in drills {
        for g in &d.groups {
            let zone_id = match &g.zone {
                ZoneRef::Id(id) => bare_zone_id(id),
                ZoneRef::Name(name) => {
                    let name = fqdn(name);
                    match world.zones.values().find(|z| z.name == name) {
                        Some(z) => z.id.clone(),
                        None => {
                            let id = stable_id("Z", &name, 13);
                            zone_names.insert(id.clone(), name);
                            id
                        }
                    }
                }
            };
            let zone_name = zone_names
                .get(&zone_id)
                .cloned()
                .unwrap_or_else(|| "lab.".to_string());
            let zone = world
                .zones
                .entry(zone_id.clone())
                .or_insert_with(|| Zone::new(&zone_id, &zone_name));
            for r in seeded(d, g, &zone_name) {
                let region = r.region;
                let index = region_index.get(&region).copied().unwrap_or(0);
                let value = match r.rtype.as_str() {
                    "AAAA" => "::1".to_string(),
                    "CNAME" => format!("{region}.{APP_ZONE}"),
                    "TXT" => format!("\"region={region}\""),
                    _ => app_ip(index).to_string(),
                };
                let mut record =
                    RecordSet::simple(&r.name, &r.rtype, original_ttl, &[value.as_str()]);
                let primary = region == d.regions.primary;
                match &g.traffic {
                    Traffic::Failover { health_check } => {
                        let kind = if primary { "PRIMARY" } else { "SECONDARY" };
                        record.set_identifier = Some(
                            r.set_identifier
                                .clone()
                                .unwrap_or_else(|| kind.to_ascii_lowercase()),
                        );
                        record.failover = Some(kind.to_string());
                        if primary {
                            record.health_check_id = Some(health_check.clone());
                        }
                    }
                    Traffic::Weighted => {
                        record.set_identifier =
                            Some(r.set_identifier.clone().unwrap_or_else(|| region.clone()));
                        record.weight = Some(if primary { 100 } else { 0 });
                    }
                    Traffic::None => {
                        if let Some(id) = &r.set_identifier {
                            record.set_identifier = Some(id.clone());
                            record.weight = Some(if primary { 100 } else { 0 });
                        }
                    }
                }
                let key = SortKey::of(&record);
                if !zone.records.contains_key(&key) {
                    zone.records.insert(key.clone(), record.clone());
                    zone.published.insert(key, record);
                }
            }
            if let Traffic::Failover { health_check } = &g.traffic {
                let index = region_index.get(&d.regions.primary).copied().unwrap_or(0);
                world.health.entry(health_check.clone()).or_insert_with(|| {
                    HealthCheck::http(health_check, app_ip(index), world.app_port)
                });
            }
        }
        seed_database(world, d);
        for alarm in d.alarms.iter().flat_map(|w| &w.alarms) {
            world
                .alarms
                .entry((alarm.region.clone(), alarm.name.clone()))
                .or_insert_with(|| LabAlarm {
                    name: alarm.name.clone(),
                    arn: alarm.arn.clone(),
                    region: alarm.region.clone(),
                    state: "OK".to_string(),
                    reason: "Threshold Crossed: no datapoints were breaching".to_string(),
                    updated: Duration::ZERO,
                });
        }
    }
}

fn seed_database(world: &mut World, d: &Drill) {
    let global = &d.database.global_cluster;
    let primary = &d.regions.primary;
    world.db.add_global(
        global,
        stable_id("cluster-", &format!("global/{global}"), 26),
    );
    let writer_id = format!("{global}-{}", region_short(primary));
    let writer_resource = stable_id("cluster-", &format!("{primary}/{writer_id}"), 26);
    world
        .db
        .add_member(global, primary, &writer_id, Role::Writer, writer_resource);
    let secondary = &d.database.secondary_cluster;
    let (region, id) = if secondary.starts_with("arn:") {
        let region = region_of_arn(secondary)
            .unwrap_or(&d.regions.secondary)
            .to_string();
        let id = secondary
            .rsplit(':')
            .next()
            .unwrap_or(secondary)
            .to_string();
        (region, id)
    } else {
        (d.regions.secondary.clone(), secondary.clone())
    };
    let resource = stable_id("cluster-", &format!("{region}/{id}"), 26);
    world.db.add_member(
        global,
        &region,
        &id,
        Role::Secondary(Sync::Connected),
        resource,
    );
}

/// `/hostedzone/Z123` → `Z123`.
pub fn bare_zone_id(id: &str) -> String {
    id.trim().trim_start_matches("/hostedzone/").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_region_names() {
        assert_eq!(region_short("us-east-1"), "use1");
        assert_eq!(region_short("us-west-2"), "usw2");
        assert_eq!(region_short("ap-southeast-2"), "apse2");
        assert_eq!(region_short("eu-central-1"), "euc1");
    }

    #[test]
    fn zone_names_come_from_common_suffixes() {
        assert_eq!(
            zone_name_from_records(&["a.example.com.", "b.example.com."]),
            "example.com."
        );
        assert_eq!(
            zone_name_from_records(&["api.example.com."]),
            "example.com."
        );
        assert_eq!(zone_name_from_records(&["example.com."]), "example.com.");
        assert_eq!(
            zone_name_from_records(&["x.a.example.com.", "y.a.example.com."]),
            "a.example.com."
        );
    }

    /// A lab world seeded from `text` (a drill file).
    fn seeded_world(text: &str) -> (World, Drill) {
        let drill = crate::spec::parse(std::path::Path::new("t.toml"), text).expect("valid drill");
        let drills = [drill];
        let mut world = World::new(
            &super::super::LabOptions::default(),
            regions(&drills),
            Some("us-east-1".into()),
            0,
            chrono::DateTime::UNIX_EPOCH,
        );
        seed(&mut world, &drills, 300);
        let [drill] = drills;
        (world, drill)
    }

    const SELECTING: &str = r#"name = "t"
regions = { primary = "us-east-1", secondary = "us-west-2" }
database = { global_cluster = "g", secondary_cluster = "s", mode = "switchover" }
[[groups]]
name = "fleet"
zone = "z07.estate.example"
traffic = "weighted"
[groups.select]
names = ["*.svc.z07.estate.example", "api.z07.estate.example"]
set_identifiers = { "use1" = "us-east-1", "usw2" = "us-west-2" }
[[groups]]
name = "pairs"
zone_id = "Z0FAIL"
traffic = "failover"
health_check = "hc-1"
[groups.select]
names = ["*.pairs.example.net"]
set_identifiers = { "blue" = "us-east-1", "green" = "us-west-2" }
[[groups]]
name = "cnames"
zone = "z08.estate.example"
traffic = "none"
[groups.select]
type = "CNAME"
"#;

    #[test]
    fn selections_seed_names_per_pattern_and_a_set_per_identifier() {
        let text = format!("{SELECTING}[lab]\nnames_per_selection = 4\n");
        let (world, drill) = seeded_world(&text);
        let zone = |name: &str| {
            world
                .zones
                .values()
                .find(|z| z.name == name)
                .unwrap_or_else(|| panic!("zone {name} seeded"))
        };
        let sets = |name: &str, rtype: &str| -> Vec<RecordSet> {
            zone(name)
                .records
                .values()
                .filter(|r| r.rtype == rtype)
                .cloned()
                .collect()
        };

        // Weighted: 4 invented names under the suffix plus the exact name, two sets each.
        let weighted = sets("z07.estate.example.", "A");
        assert_eq!(weighted.len(), (4 + 1) * 2);
        for i in 1..=4 {
            let name = format!("n0000{i}.svc.z07.estate.example.");
            for (id, weight) in [("use1", 100), ("usw2", 0)] {
                assert!(
                    weighted.iter().any(|r| r.name == name
                        && r.set_identifier.as_deref() == Some(id)
                        && r.weight == Some(weight)
                        && r.ttl == Some(300)),
                    "{name} {id} weight {weight} in {weighted:#?}"
                );
            }
        }
        assert!(weighted.iter().any(|r| r.name == "api.z07.estate.example."));
        // Values point at each region's app.
        let value = |id: &str| {
            weighted
                .iter()
                .find(|r| r.set_identifier.as_deref() == Some(id))
                .map(|r| r.values.clone())
        };
        assert_ne!(value("use1"), value("usw2"));

        // Failover by zone id: the zone is named after the names, PRIMARY carries the check.
        let failover = sets("pairs.example.net.", "A");
        assert_eq!(failover.len(), 4 * 2);
        for r in &failover {
            let primary = r.set_identifier.as_deref() == Some("blue");
            let kind = if primary { "PRIMARY" } else { "SECONDARY" };
            assert_eq!(r.failover.as_deref(), Some(kind));
            assert_eq!(r.health_check_id.is_some(), primary);
        }
        assert!(world.health.contains_key("hc-1"));

        // Names omitted, no identifiers: one simple record per invented name in the zone.
        let cnames = sets("z08.estate.example.", "CNAME");
        assert_eq!(cnames.len(), 4);
        assert!(
            cnames
                .iter()
                .all(|r| r.set_identifier.is_none() && r.weight.is_none())
        );
        assert_eq!(cnames[0].name, "n00001.z08.estate.example.");

        // What the lab seeds is what preflight resolves: every selection finds all its sets.
        for g in &drill.groups {
            let z = match &g.zone {
                ZoneRef::Name(n) => zone(&fqdn(n)),
                ZoneRef::Id(id) => &world.zones[id],
            };
            let listing: Vec<RecordSet> = z.records.values().cloned().collect();
            let specs = crate::spec::resolve(g, &drill.regions, &z.name, &listing)
                .unwrap_or_else(|e| panic!("group {}: {e:#?}", g.name));
            let expected = match g.name.as_str() {
                "fleet" => 10,
                "pairs" => 8,
                _ => 4,
            };
            assert_eq!(specs.len(), expected, "group {}", g.name);
        }
    }

    #[test]
    fn names_per_selection_defaults_to_three() {
        let (world, _) = seeded_world(SELECTING);
        let seeded: usize = world
            .zones
            .values()
            .map(|z| {
                z.records
                    .values()
                    .filter(|r| r.rtype != "SOA" && r.rtype != "NS")
                    .count()
            })
            .sum();
        assert_eq!(seeded, (3 + 1) * 2 + 3 * 2 + 3);
    }
}
