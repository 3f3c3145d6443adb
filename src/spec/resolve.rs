//! A group's records as preflight sees them: the listed `[[groups.records]]`, or what a
//! `[groups.select]` matches in the zone's record sets. Pure: the caller lists the zone.
//!
//! A drill moves ALL traffic, so a selection never silently skips a set: a selected set whose
//! identifier has no region, or a routed set without identifier, refuses the drill, as do a pattern
//! that matched nothing and a selection that found nothing.

use std::collections::{HashMap, HashSet};

use crate::cloud::{RecordSet, fqdn};

use super::model::{
    NamePattern, RecordGroup, RecordSpec, Regions, Selection, Traffic, strictly_under,
};
use super::select::ancestors;

/// The records `group` touches in its zone (`zone_name`, as Route 53 names it), in `listing` order;
/// `listing` is every record set of the zone. A records group returns its records unchanged. On
/// error, every reason, each naming the record set or pattern (the caller adds the group's name).
pub fn resolve(
    group: &RecordGroup,
    regions: &Regions,
    zone_name: &str,
    listing: &[RecordSet],
) -> Result<Vec<RecordSpec>, Vec<String>> {
    let Some(select) = &group.select else {
        return Ok(group.records.clone());
    };
    let zone = fqdn(zone_name);
    let routed = matches!(group.traffic, Traffic::Weighted | Traffic::Failover { .. });
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let patterns = select.names.as_deref();
    let mut matched = vec![false; patterns.map_or(0, <[_]>::len)];
    let index = Index::new(patterns.unwrap_or_default());
    // Name → whether one of its sets is in the secondary region, in first-seen order.
    let mut names: Vec<String> = Vec::new();
    let mut reaches_secondary: HashMap<String, bool> = HashMap::new();
    // Names with a set already refused: their missing secondary would only echo that reason.
    let mut refused: HashSet<String> = HashSet::new();

    for set in listing {
        if !set.rtype.eq_ignore_ascii_case(&select.rtype) {
            continue;
        }
        let name = fqdn(&set.name);
        let selected = match patterns {
            None => name == zone || strictly_under(&name, &zone),
            Some(_) => match index.find(&name) {
                Some(i) => {
                    matched[i] = true;
                    true
                }
                None => false,
            },
        };
        if !selected {
            continue;
        }
        if !reaches_secondary.contains_key(&name) {
            names.push(name.clone());
            reaches_secondary.insert(name.clone(), false);
        }
        match spec(select, &group.traffic, routed, &name, set) {
            Ok(spec) => {
                if spec.region.as_deref() == Some(regions.secondary.as_str()) {
                    reaches_secondary.insert(name, true);
                }
                out.push(spec);
            }
            Err(why) => {
                errors.push(why);
                refused.insert(name);
            }
        }
    }

    for (p, found) in patterns.unwrap_or_default().iter().zip(&matched) {
        if !found {
            let outside = !(p.base() == zone || strictly_under(p.base(), &zone));
            let hint = if outside {
                format!(" (it is not inside the zone {zone})")
            } else {
                String::new()
            };
            errors.push(format!(
                "select.names: {p} matched no {} record set in zone {zone}{hint}",
                select.rtype
            ));
        }
    }
    if patterns.is_none() && names.is_empty() {
        errors.push(format!(
            "select: zone {zone} holds no {} record set, so the group would shift nothing",
            select.rtype
        ));
    }
    if routed {
        for name in &names {
            if reaches_secondary.get(name) == Some(&false) && !refused.contains(name) {
                errors.push(format!(
                    "{name} {}: no set in the secondary region ({}), so the drill could not move its traffic (set_identifiers maps {})",
                    select.rtype,
                    regions.secondary,
                    mapped_to(select, &regions.secondary),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The patterns by name, so each listed name is matched by looking up itself and its ancestors
/// rather than trying every pattern (a zone of 10,000 sets against a long `names` list). Patterns
/// do not overlap (validation refuses that), so a name matches at most one.
struct Index<'p> {
    exact: HashMap<&'p str, usize>,
    under: HashMap<&'p str, usize>,
}

impl<'p> Index<'p> {
    fn new(patterns: &'p [NamePattern]) -> Self {
        let mut index = Index {
            exact: HashMap::new(),
            under: HashMap::new(),
        };
        for (i, p) in patterns.iter().enumerate() {
            let map = match p {
                NamePattern::Exact(_) => &mut index.exact,
                NamePattern::Under(_) => &mut index.under,
            };
            map.entry(p.base()).or_insert(i);
        }
        index
    }

    /// The index of the pattern that selects `name` (fully qualified, lower case).
    fn find(&self, name: &str) -> Option<usize> {
        self.exact
            .get(name)
            .or_else(|| ancestors(name).find_map(|a| self.under.get(a)))
            .copied()
    }
}

/// One selected record set as the drill will touch it.
fn spec(
    select: &Selection,
    traffic: &Traffic,
    routed: bool,
    name: &str,
    set: &RecordSet,
) -> Result<RecordSpec, String> {
    let label = match &set.set_identifier {
        Some(id) => format!(
            "{name} {} (set_identifier \"{}\")",
            set.rtype,
            id.escape_debug()
        ),
        None => format!("{name} {}", set.rtype),
    };
    let region = match &set.set_identifier {
        None if routed => {
            return Err(format!(
                "{label}: has no set identifier, but a {} group shifts sets by their identifiers; select only routed sets, or put this record in a traffic = \"none\" group",
                traffic_name(traffic)
            ));
        }
        None => None,
        // A `none` group without a map lowers TTLs only and needs no regions.
        Some(_) if !routed && select.set_identifiers.is_empty() => None,
        Some(id) => match select.set_identifiers.get(id) {
            Some(region) => Some(region.clone()),
            None => {
                return Err(format!(
                    "{label}: set identifier \"{}\" is not in select.set_identifiers; map it to its region (a drill moves all traffic and never skips a set)",
                    id.escape_debug()
                ));
            }
        },
    };
    let drill_weight = match traffic {
        Traffic::Weighted => region
            .as_ref()
            .and_then(|r| select.drill_weights.get(r))
            .copied(),
        _ => None,
    };
    Ok(RecordSpec {
        name: name.to_string(),
        rtype: select.rtype.clone(),
        set_identifier: set.set_identifier.clone(),
        region,
        drill_weight,
    })
}

fn traffic_name(traffic: &Traffic) -> &'static str {
    match traffic {
        Traffic::Weighted => "weighted",
        Traffic::Failover { .. } => "failover",
        Traffic::None => "none",
    }
}

/// `"usw2"` or `"a", "b"` or `nothing`: the identifiers mapped to `region`, for messages.
fn mapped_to(select: &Selection, region: &str) -> String {
    let ids: Vec<String> = select
        .set_identifiers
        .iter()
        .filter(|(_, r)| *r == region)
        .map(|(id, _)| format!("\"{}\"", id.escape_debug()))
        .collect();
    if ids.is_empty() {
        "nothing to it".to_string()
    } else {
        format!("{} to it", ids.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cloud::ZoneRef;

    const ZONE: &str = "z07.estate.example.";

    fn regions() -> Regions {
        Regions {
            primary: "us-east-1".into(),
            secondary: "us-west-2".into(),
        }
    }

    fn group(traffic: Traffic, names: Option<Vec<NamePattern>>) -> RecordGroup {
        let weighted = traffic == Traffic::Weighted;
        RecordGroup {
            name: "fleet".into(),
            zone: ZoneRef::Name(ZONE.into()),
            traffic,
            records: Vec::new(),
            select: Some(Selection {
                names,
                rtype: "A".into(),
                set_identifiers: BTreeMap::from([
                    ("use1".to_string(), "us-east-1".to_string()),
                    ("usw2".to_string(), "us-west-2".to_string()),
                ]),
                drill_weights: if weighted {
                    BTreeMap::from([("us-east-1".to_string(), 0), ("us-west-2".to_string(), 100)])
                } else {
                    BTreeMap::new()
                },
            }),
        }
    }

    fn set(name: &str, rtype: &str, id: Option<&str>) -> RecordSet {
        let mut set = RecordSet::simple(name, rtype, 300, &["127.0.0.11"]);
        set.set_identifier = id.map(str::to_string);
        set
    }

    fn under(suffix: &str) -> NamePattern {
        NamePattern::Under(suffix.into())
    }

    /// A zone as Route 53 lists it: SOA and NS first, then weighted pairs and a TXT.
    fn listing() -> Vec<RecordSet> {
        vec![
            set(ZONE, "SOA", None),
            set(ZONE, "NS", None),
            set("a.svc.z07.estate.example.", "A", Some("use1")),
            set("a.svc.z07.estate.example.", "A", Some("usw2")),
            set("api.z07.estate.example.", "A", Some("use1")),
            set("api.z07.estate.example.", "A", Some("usw2")),
            set("a.svc.z07.estate.example.", "TXT", Some("use1")),
            set("b.svc.z07.estate.example.", "A", Some("use1")),
            set("b.svc.z07.estate.example.", "A", Some("usw2")),
        ]
    }

    /// (name, set identifier, region, drill weight)
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<i64>);

    fn names(specs: &[RecordSpec]) -> Vec<Row<'_>> {
        specs
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.set_identifier.as_deref(),
                    s.region.as_deref(),
                    s.drill_weight,
                )
            })
            .collect()
    }

    #[test]
    fn a_records_group_is_returned_unchanged() {
        let mut g = group(Traffic::Weighted, None);
        g.select = None;
        g.records = vec![RecordSpec {
            name: "api.example.com.".into(),
            rtype: "A".into(),
            set_identifier: Some("x".into()),
            region: Some("us-west-2".into()),
            drill_weight: Some(100),
        }];
        assert_eq!(resolve(&g, &regions(), ZONE, &[]), Ok(g.records.clone()));
    }

    #[test]
    fn a_suffix_selects_every_set_strictly_under_it_of_the_type_in_listing_order() {
        let mut listing = listing();
        // The suffix itself is not under itself.
        listing.push(set("svc.z07.estate.example.", "A", Some("use1")));
        let g = group(
            Traffic::Weighted,
            Some(vec![under("svc.z07.estate.example.")]),
        );
        let specs = resolve(&g, &regions(), "Z07.estate.example", &listing).unwrap();
        assert_eq!(
            names(&specs),
            [
                (
                    "a.svc.z07.estate.example.",
                    Some("use1"),
                    Some("us-east-1"),
                    Some(0)
                ),
                (
                    "a.svc.z07.estate.example.",
                    Some("usw2"),
                    Some("us-west-2"),
                    Some(100)
                ),
                (
                    "b.svc.z07.estate.example.",
                    Some("use1"),
                    Some("us-east-1"),
                    Some(0)
                ),
                (
                    "b.svc.z07.estate.example.",
                    Some("usw2"),
                    Some("us-west-2"),
                    Some(100)
                ),
            ]
        );
        assert!(specs.iter().all(|s| s.rtype == "A"));
    }

    #[test]
    fn omitted_names_select_the_whole_zone_and_exact_names_one_name() {
        let g = group(Traffic::Weighted, None);
        let specs = resolve(&g, &regions(), ZONE, &listing()).unwrap();
        assert_eq!(specs.len(), 6);
        let g = group(
            Traffic::Failover {
                health_check: "hc".into(),
            },
            Some(vec![NamePattern::Exact("api.z07.estate.example.".into())]),
        );
        let specs = resolve(&g, &regions(), ZONE, &listing()).unwrap();
        assert_eq!(
            names(&specs),
            [
                (
                    "api.z07.estate.example.",
                    Some("use1"),
                    Some("us-east-1"),
                    None
                ),
                (
                    "api.z07.estate.example.",
                    Some("usw2"),
                    Some("us-west-2"),
                    None
                ),
            ]
        );
    }

    #[test]
    fn a_none_group_without_a_map_takes_any_set() {
        let mut g = group(Traffic::None, Some(vec![under("svc.z07.estate.example.")]));
        g.select.as_mut().unwrap().set_identifiers.clear();
        let mut listing = listing();
        listing.push(set("c.svc.z07.estate.example.", "A", None));
        listing.push(set("d.svc.z07.estate.example.", "A", Some("eu1")));
        let specs = resolve(&g, &regions(), ZONE, &listing).unwrap();
        assert_eq!(specs.len(), 6);
        assert!(
            specs
                .iter()
                .all(|s| s.region.is_none() && s.drill_weight.is_none())
        );
    }

    #[test]
    fn every_refusal_is_collected_naming_the_record_set() {
        let mut listing = listing();
        listing.extend([
            // An identifier the map does not know.
            set("c.svc.z07.estate.example.", "A", Some("euw1")),
            set("c.svc.z07.estate.example.", "A", Some("usw2")),
            // A simple record in a weighted group.
            set("d.svc.z07.estate.example.", "A", None),
            // Only the primary region's set.
            set("e.svc.z07.estate.example.", "A", Some("use1")),
        ]);
        let g = group(
            Traffic::Weighted,
            Some(vec![
                under("svc.z07.estate.example."),
                NamePattern::Exact("gone.z07.estate.example.".into()),
                under("other.example."),
            ]),
        );
        let errors = resolve(&g, &regions(), ZONE, &listing).unwrap_err();
        assert_eq!(
            errors,
            [
                r#"c.svc.z07.estate.example. A (set_identifier "euw1"): set identifier "euw1" is not in select.set_identifiers; map it to its region (a drill moves all traffic and never skips a set)"#,
                r#"d.svc.z07.estate.example. A: has no set identifier, but a weighted group shifts sets by their identifiers; select only routed sets, or put this record in a traffic = "none" group"#,
                "select.names: gone.z07.estate.example. matched no A record set in zone z07.estate.example.",
                "select.names: *.other.example. matched no A record set in zone z07.estate.example. (it is not inside the zone z07.estate.example.)",
                r#"e.svc.z07.estate.example. A: no set in the secondary region (us-west-2), so the drill could not move its traffic (set_identifiers maps "usw2" to it)"#,
            ]
        );
    }

    #[test]
    fn a_failover_name_needs_its_secondary_set_too() {
        let g = group(
            Traffic::Failover {
                health_check: "hc".into(),
            },
            None,
        );
        let listing = [set("api.z07.estate.example.", "A", Some("use1"))];
        let errors = resolve(&g, &regions(), ZONE, &listing).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("api.z07.estate.example. A: no set in the secondary region"));
    }

    #[test]
    fn selecting_nothing_refuses() {
        let g = group(Traffic::Weighted, None);
        let listing = [set(ZONE, "SOA", None), set(ZONE, "NS", None)];
        assert_eq!(
            resolve(&g, &regions(), ZONE, &listing).unwrap_err(),
            [
                "select: zone z07.estate.example. holds no A record set, so the group would shift nothing"
            ]
        );
    }
}
