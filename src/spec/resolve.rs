//! A group's records as preflight sees them: the listed `[[groups.records]]`, or what a
//! `[groups.select]` matches in the zone's record sets. Pure: the caller lists the zone.
//!
//! A drill moves ALL traffic, so a selection never silently skips a set: a selected set whose
//! identifier has no region, or a routed set without identifier, refuses the drill, as do a pattern
//! that matched nothing and a selection that found nothing.

use std::collections::{HashMap, HashSet};

use crate::cloud::{RecordSet, fqdn};

use super::model::{RecordGroup, RecordSpec, Regions, Selection, Traffic, strictly_under};

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
            Some(patterns) => {
                let mut any = false;
                for (i, p) in patterns.iter().enumerate() {
                    if p.matches(&name) {
                        matched[i] = true;
                        any = true;
                    }
                }
                any
            }
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
