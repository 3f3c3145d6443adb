//! `[[groups]]` and `[[groups.records]]`: which records a drill touches, how it shifts their
//! traffic, and the rules that make a shift complete (all traffic moves, nothing is listed twice).

use std::collections::{BTreeMap, HashMap};

use crate::cloud::ZoneRef;

use super::checks;
use super::drill::check;
use super::model::{RecordGroup, RecordSpec, Regions, Traffic};
use super::reader::{At, Field, Reader, Table};
use super::regions;

const GROUP_KEYS: &[&str] = &[
    "name",
    "zone",
    "zone_id",
    "traffic",
    "health_check",
    "records",
];
const RECORD_KEYS: &[&str] = &["name", "type", "set_identifier", "region", "drill_weight"];

/// Which traffic style a group declared (before its health check is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Weighted,
    Failover,
    None,
}

impl Style {
    fn as_str(self) -> &'static str {
        match self {
            Style::Weighted => "weighted",
            Style::Failover => "failover",
            Style::None => "none",
        }
    }
}

/// One `[[groups.records]]` as read, before the group's traffic rules are applied.
struct Draft<'d, 'i> {
    table: Table<'d, 'i>,
    /// Fully qualified, lower case.
    name: Field<At<String>>,
    /// Upper case.
    rtype: Field<At<String>>,
    set_identifier: Field<At<String>>,
    region: Field<At<String>>,
    drill_weight: Field<At<i64>>,
}

impl Draft<'_, '_> {
    fn spec(&self) -> Option<RecordSpec> {
        let optional = |f: &Field<At<String>>| match f {
            Field::Present(v) => Some(Some(v.value.clone())),
            Field::Absent => Some(None),
            Field::Invalid => None,
        };
        Some(RecordSpec {
            name: self.name.as_present()?.value.clone(),
            rtype: self.rtype.as_present()?.value.clone(),
            set_identifier: optional(&self.set_identifier)?,
            region: optional(&self.region)?,
            drill_weight: match &self.drill_weight {
                Field::Present(w) => Some(w.value),
                Field::Absent => None,
                Field::Invalid => return None,
            },
        })
    }

    fn region(&self) -> Option<&str> {
        self.region.as_present().map(|r| r.value.as_str())
    }

    fn weight(&self) -> Option<i64> {
        self.drill_weight.as_present().map(|w| w.value)
    }

    /// `api.example.com. A`, for messages.
    fn label(&self) -> Option<String> {
        Some(format!(
            "{} {}",
            self.name.as_present()?.value,
            self.rtype.as_present()?.value
        ))
    }
}

/// Reads every group; None when anything is wrong.
pub(super) fn read(
    r: &mut Reader,
    root: &Table,
    regions: Option<&Regions>,
) -> Option<Vec<RecordGroup>> {
    let groups = match r.tables(root, "groups", "one or more [[groups]] tables") {
        Field::Present(g) => g,
        Field::Absent => {
            r.missing(
                root,
                "groups",
                "missing [[groups]]: a drill needs at least one group of records to shift",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    if groups.value.is_empty() {
        r.conflict(
            groups.span,
            "groups",
            "a drill needs at least one group of records to shift",
        );
        return None;
    }

    let mut out = Some(Vec::new());
    for table in &groups.value {
        match (read_group(r, table, regions), out.as_mut()) {
            (Some(group), Some(out)) => out.push(group),
            _ => out = None,
        }
    }
    duplicates(r, &groups.value);
    out
}

/// Group names and records (zone, name, type, set identifier) must be unique across the file.
/// Judged on the raw values that read cleanly, so a problem elsewhere in a group hides nothing.
fn duplicates(r: &mut Reader, groups: &[Table]) {
    let mut names: HashMap<&str, &str> = HashMap::new();
    // (zone, name, type, set id) → key path of the record that listed it first.
    // ZoneRef is not Hash; its Display (`zone example.com.` / `zone id Z…`) is as distinct.
    let mut seen: HashMap<(String, String, String, Option<String>), String> = HashMap::new();
    for table in groups {
        if let Some(name) = table.map.get("name")
            && let Some(text) = name.get_ref().as_str()
        {
            match names.get(text) {
                Some(first) => r.conflict(
                    name.span(),
                    table.key("name"),
                    format!("duplicate group name \"{text}\" (also used by {first})"),
                ),
                None => {
                    names.insert(text, &table.path);
                }
            }
        }
    }
    for table in groups {
        let Some(zone) = zone_ref(table) else {
            continue;
        };
        let Some(records) = table
            .map
            .get("records")
            .and_then(|v| v.get_ref().as_array())
        else {
            continue;
        };
        for (j, record) in records.iter().enumerate() {
            let Some(map) = record.get_ref().as_table() else {
                continue;
            };
            let text = |k: &str| map.get(k).and_then(|v| v.get_ref().as_str());
            let (Some(name), Some(rtype)) = (text("name"), text("type")) else {
                continue;
            };
            let (Ok(name), Ok(rtype)) = (checks::dns_name(name, true), checks::record_type(rtype))
            else {
                continue;
            };
            let set_id = text("set_identifier").map(str::to_string);
            // A weighted or failover record without a set identifier is already reported; two of
            // them are not a second problem.
            let routed = table
                .map
                .get("traffic")
                .and_then(|v| v.get_ref().as_str())
                .is_some_and(|t| t == "weighted" || t == "failover");
            if routed && set_id.is_none() {
                continue;
            }
            let path = format!("{}.records[{j}]", table.path);
            let label = match &set_id {
                Some(id) => format!("{name} {rtype} (set_identifier \"{id}\")"),
                None => format!("{name} {rtype}"),
            };
            let key = (zone.to_string(), name, rtype, set_id);
            if let Some(first) = seen.get(&key) {
                let span = map.get("name").map(|v| v.span()).unwrap_or(record.span());
                r.conflict(
                    span,
                    format!("{path}.name"),
                    format!(
                        "duplicate record {label} in {}: already listed at {first}",
                        key.0
                    ),
                );
            } else {
                seen.insert(key, path);
            }
        }
    }
}

/// The zone a group names, as used for duplicate detection; None unless it reads cleanly.
fn zone_ref(table: &Table) -> Option<ZoneRef> {
    let text = |k: &str| table.map.get(k).and_then(|v| v.get_ref().as_str());
    match (text("zone"), text("zone_id")) {
        (Some(zone), None) => checks::dns_name(zone, false).ok().map(ZoneRef::Name),
        (None, Some(id)) => checks::zone_id(id).ok().map(ZoneRef::Id),
        _ => None,
    }
}

fn read_group(r: &mut Reader, table: &Table, regions: Option<&Regions>) -> Option<RecordGroup> {
    r.keys(table, GROUP_KEYS);

    let name = match r.string(table, "name", "the group name as a string") {
        Field::Present(n) => check(r, table, "name", &n, checks::name(&n.value)).map(|()| n),
        Field::Absent => {
            r.missing(
                table,
                "name",
                "missing required key `name` (a label for messages and the report)",
            );
            None
        }
        Field::Invalid => None,
    };

    let zone = read_zone(r, table);

    let style = match r.string(table, "traffic", "\"weighted\", \"failover\" or \"none\"") {
        Field::Present(t) => match t.value.as_str() {
            "weighted" => Field::Present(Style::Weighted),
            "failover" => Field::Present(Style::Failover),
            "none" => Field::Present(Style::None),
            other => {
                r.error(
                    t.span,
                    table.key("traffic"),
                    format!(
                        "unknown traffic \"{}\"; expected \"weighted\" (shift record weights), \"failover\" (invert the primary's health check) or \"none\" (only lower the TTL)",
                        other.escape_debug()
                    ),
                );
                Field::Invalid
            }
        },
        Field::Absent => {
            r.missing(
                table,
                "traffic",
                "missing required key `traffic` (\"weighted\", \"failover\" or \"none\")",
            );
            Field::Invalid
        }
        Field::Invalid => Field::Invalid,
    };

    let health_check = r.string(
        table,
        "health_check",
        "a Route 53 health check id as a string",
    );
    let health_check = match (health_check, style.as_present()) {
        (Field::Present(h), Some(Style::Failover)) => check(
            r,
            table,
            "health_check",
            &h,
            checks::health_check_id(&h.value),
        )
        .map(|()| Some(h.value)),
        (Field::Present(h), Some(other)) => {
            r.conflict(
                h.span,
                table.key("health_check"),
                format!(
                    "health_check is only used with traffic = \"failover\"; this group has traffic = \"{}\"",
                    other.as_str()
                ),
            );
            None
        }
        (Field::Present(h), None) => {
            // The traffic style is already reported; still check the id itself.
            let _ = check(
                r,
                table,
                "health_check",
                &h,
                checks::health_check_id(&h.value),
            );
            None
        }
        (Field::Absent, Some(Style::Failover)) => {
            r.missing(
                table,
                "health_check",
                "missing `health_check`: traffic = \"failover\" needs the id of the PRIMARY record's health check (the drill inverts it to fail over)",
            );
            None
        }
        (Field::Absent, _) => Some(None),
        (Field::Invalid, _) => None,
    };

    let zone_name = match &zone {
        Some(ZoneRef::Name(z)) => Some(z.as_str()),
        _ => None,
    };
    let drafts = read_records(r, table, zone_name, regions);
    if let (Some(drafts), Some(style)) = (&drafts, style.as_present()) {
        match style {
            Style::Weighted => weighted_rules(r, table, drafts, regions),
            Style::Failover => failover_rules(r, table, drafts, regions),
            Style::None => {}
        }
        if *style != Style::Weighted {
            for d in drafts {
                if let Field::Present(w) = &d.drill_weight {
                    r.conflict(
                        w.span.clone(),
                        d.table.key("drill_weight"),
                        format!(
                            "drill_weight is only used with traffic = \"weighted\"; this group has traffic = \"{}\"",
                            style.as_str()
                        ),
                    );
                }
            }
        }
    }

    let traffic = match style.present()? {
        Style::Weighted => Traffic::Weighted,
        Style::Failover => Traffic::Failover {
            health_check: health_check??,
        },
        Style::None => Traffic::None,
    };
    let records = drafts?
        .iter()
        .map(Draft::spec)
        .collect::<Option<Vec<_>>>()?;
    Some(RecordGroup {
        name: name?.value,
        zone: zone?,
        traffic,
        records,
    })
}

fn read_zone(r: &mut Reader, table: &Table) -> Option<ZoneRef> {
    let zone = r.string(table, "zone", "a hosted zone name such as \"example.com\"");
    let zone_id = r.string(
        table,
        "zone_id",
        "a hosted zone id such as \"Z0123456789ABCDEFGHIJ\"",
    );
    match (zone, zone_id) {
        (Field::Present(_), Field::Present(id)) => {
            r.conflict(
                id.span,
                table.key("zone_id"),
                "set either zone (a name) or zone_id, not both",
            );
            None
        }
        (Field::Present(z), Field::Absent) => {
            check(r, table, "zone", &z, checks::dns_name(&z.value, false)).map(ZoneRef::Name)
        }
        (Field::Absent, Field::Present(id)) => {
            check(r, table, "zone_id", &id, checks::zone_id(&id.value)).map(ZoneRef::Id)
        }
        (Field::Absent, Field::Absent) => {
            r.missing(
                table,
                "zone",
                "missing the hosted zone: set zone = \"example.com\" or zone_id = \"Z…\"",
            );
            None
        }
        _ => None,
    }
}

/// Reads `records`; None when the list itself is unusable (each record's own problems are kept in
/// its draft).
fn read_records<'d, 'i>(
    r: &mut Reader,
    group: &Table<'d, 'i>,
    zone: Option<&str>,
    regions: Option<&Regions>,
) -> Option<Vec<Draft<'d, 'i>>> {
    let records = match r.tables(group, "records", "one or more [[groups.records]] tables") {
        Field::Present(t) => t,
        Field::Absent => {
            r.missing(
                group,
                "records",
                "missing [[groups.records]]: a group needs at least one record",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    if records.value.is_empty() {
        r.conflict(
            records.span,
            group.key("records"),
            "a group needs at least one record",
        );
        return None;
    }
    Some(
        records
            .value
            .into_iter()
            .map(|table| read_record(r, table, zone, regions))
            .collect(),
    )
}

fn read_record<'d, 'i>(
    r: &mut Reader,
    table: Table<'d, 'i>,
    zone: Option<&str>,
    regions: Option<&Regions>,
) -> Draft<'d, 'i> {
    r.keys(&table, RECORD_KEYS);
    let t = &table;

    let name = match r.string(t, "name", "a DNS name such as \"api.example.com\"") {
        Field::Present(n) => match check(r, t, "name", &n, checks::dns_name(&n.value, true)) {
            Some(fqdn) => {
                if let Some(zone) = zone {
                    let inside = fqdn == zone || fqdn.ends_with(&format!(".{zone}"));
                    if !inside {
                        r.conflict(
                            n.span.clone(),
                            t.key("name"),
                            format!("{fqdn} is not inside the group's zone {zone}"),
                        );
                    }
                }
                Field::Present(At {
                    value: fqdn,
                    span: n.span,
                })
            }
            None => Field::Invalid,
        },
        Field::Absent => {
            r.missing(
                t,
                "name",
                "missing required key `name` (the record's DNS name)",
            );
            Field::Invalid
        }
        Field::Invalid => Field::Invalid,
    };

    let rtype = match r.string(t, "type", "a record type such as \"A\"") {
        Field::Present(ty) => match check(r, t, "type", &ty, checks::record_type(&ty.value)) {
            Some(upper) => Field::Present(At {
                value: upper,
                span: ty.span,
            }),
            None => Field::Invalid,
        },
        Field::Absent => {
            r.missing(t, "type", "missing required key `type` (A, AAAA, CNAME, …)");
            Field::Invalid
        }
        Field::Invalid => Field::Invalid,
    };
    if let (Field::Present(n), Field::Present(ty), Some(zone)) = (&name, &rtype, zone)
        && ty.value == "CNAME"
        && n.value == zone
    {
        r.conflict(
            ty.span.clone(),
            t.key("type"),
            format!(
                "a CNAME cannot sit at the zone apex ({zone}); use an alias A/AAAA record there"
            ),
        );
    }

    let set_identifier = match r.string(
        t,
        "set_identifier",
        "the record's set identifier as a string",
    ) {
        Field::Present(s) => {
            match check(r, t, "set_identifier", &s, checks::set_identifier(&s.value)) {
                Some(()) => Field::Present(s),
                None => Field::Invalid,
            }
        }
        other => other,
    };

    let region = match r.string(t, "region", "an AWS region name such as \"us-east-1\"") {
        Field::Present(reg) => match check(r, t, "region", &reg, regions::check(&reg.value)) {
            Some(_) => {
                if let Some(regions) = regions
                    && reg.value != regions.primary
                    && reg.value != regions.secondary
                {
                    r.conflict(
                        reg.span.clone(),
                        t.key("region"),
                        format!(
                            "region {} is neither regions.primary ({}) nor regions.secondary ({})",
                            reg.value, regions.primary, regions.secondary
                        ),
                    );
                }
                Field::Present(reg)
            }
            None => Field::Invalid,
        },
        other => other,
    };

    let drill_weight = match r.integer(t, "drill_weight", "a whole number 0 to 255") {
        Field::Present(w) if (0..=255).contains(&w.value) => Field::Present(w),
        Field::Present(w) => {
            r.error(
                w.span,
                t.key("drill_weight"),
                format!(
                    "drill_weight {} is out of range: Route 53 weights are 0 to 255",
                    w.value
                ),
            );
            Field::Invalid
        }
        other => other,
    };

    Draft {
        table,
        name,
        rtype,
        set_identifier,
        region,
        drill_weight,
    }
}

/// Every weighted record names its set, region and drill weight; each weighted set (records sharing
/// name and type) lists its primary-region records at weight 0 and gives the secondary region weight.
fn weighted_rules(r: &mut Reader, group: &Table, drafts: &[Draft], regions: Option<&Regions>) {
    for d in drafts {
        for (absent, key, what) in [
            (
                d.set_identifier.is_absent(),
                "set_identifier",
                "its set identifier in Route 53",
            ),
            (
                d.region.is_absent(),
                "region",
                "the region it sends traffic to",
            ),
            (
                d.drill_weight.is_absent(),
                "drill_weight",
                "its weight during the drill, 0 to 255",
            ),
        ] {
            if absent {
                r.missing(
                    &d.table,
                    key,
                    format!("missing `{key}`: every record of a weighted group needs it ({what})"),
                );
            }
        }
    }
    let Some(regions) = regions else { return };
    for d in drafts {
        if let (Some(region), Some(w)) = (d.region(), d.drill_weight.as_present())
            && region == regions.primary
            && w.value != 0
        {
            r.conflict(
                w.span.clone(),
                d.table.key("drill_weight"),
                format!(
                    "drill_weight must be 0 for records in the primary region ({}): the drill moves all traffic to the secondary region",
                    regions.primary
                ),
            );
        }
    }

    // Judge the sets only when every record reads cleanly and points at one of the two regions;
    // otherwise the problem already reported would echo here as a missing primary or secondary.
    let judged = drafts.iter().all(|d| {
        d.label().is_some()
            && d.weight().is_some()
            && d.region()
                .is_some_and(|x| x == regions.primary || x == regions.secondary)
    });
    if !judged {
        return;
    }
    let mut sets: BTreeMap<String, Vec<&Draft>> = BTreeMap::new();
    for d in drafts {
        if let Some(label) = d.label() {
            sets.entry(label).or_default().push(d);
        }
    }
    for (label, set) in sets {
        let first = set[0];
        if !set
            .iter()
            .any(|d| d.region() == Some(regions.primary.as_str()))
        {
            r.conflict(
                first.table.span.clone(),
                group.key("records"),
                format!(
                    "{label}: no record in the primary region ({}); list the primary-region records with drill_weight = 0, because records the file does not list keep their weight during the drill",
                    regions.primary
                ),
            );
        }
        let moves = set
            .iter()
            .any(|d| d.region() == Some(regions.secondary.as_str()) && d.weight() > Some(0));
        if !moves {
            r.conflict(
                first.table.span.clone(),
                group.key("records"),
                format!(
                    "{label}: no record in the secondary region ({}) has drill_weight > 0, so the drill would not move its traffic",
                    regions.secondary
                ),
            );
        }
    }
}

/// A failover group is one failover pair: the PRIMARY record in the primary region and the SECONDARY
/// record in the secondary region, same name and type.
fn failover_rules(r: &mut Reader, group: &Table, drafts: &[Draft], regions: Option<&Regions>) {
    if drafts.len() != 2 {
        // Point at the first record too many, or at the group when one is missing.
        let span = drafts
            .get(2)
            .map_or(group.span.clone(), |d| d.table.span.clone());
        r.conflict(
            span,
            group.key("records"),
            format!(
                "traffic = \"failover\" needs exactly two records (the PRIMARY and SECONDARY of one failover pair), found {}",
                drafts.len()
            ),
        );
        return;
    }
    for d in drafts {
        for (absent, key, what) in [
            (
                d.set_identifier.is_absent(),
                "set_identifier",
                "its set identifier in Route 53",
            ),
            (
                d.region.is_absent(),
                "region",
                "the region it sends traffic to",
            ),
        ] {
            if absent {
                r.missing(
                    &d.table,
                    key,
                    format!("missing `{key}`: both records of a failover pair need it ({what})"),
                );
            }
        }
    }
    let (a, b) = (&drafts[0], &drafts[1]);
    if let (Some(regions), Some(ra), Some(rb)) = (regions, a.region(), b.region()) {
        let pair = [ra, rb];
        let complete =
            pair.contains(&regions.primary.as_str()) && pair.contains(&regions.secondary.as_str());
        if !complete {
            let span = b
                .region
                .as_present()
                .map(|x| x.span.clone())
                .unwrap_or(b.table.span.clone());
            r.conflict(
                span,
                b.table.key("region"),
                format!(
                    "the records point at {ra} and {rb}; a failover pair needs one record in the primary region ({}) and one in the secondary region ({})",
                    regions.primary, regions.secondary
                ),
            );
        }
    }
    if let (Some(la), Some(lb)) = (a.label(), b.label())
        && la != lb
    {
        let span = b
            .name
            .as_present()
            .map(|x| x.span.clone())
            .unwrap_or(b.table.span.clone());
        r.conflict(
            span,
            b.table.key("name"),
            format!("the two records of a failover pair share name and type, but these are {la} and {lb}"),
        );
    }
}
