//! `[[groups]]`: which records a drill touches and how it shifts their traffic, plus the
//! file-wide rules (unique group names, no record listed or selected twice). Listed records are
//! read in `records.rs`, selections in `select.rs`; the per-style traffic rules live in `traffic.rs`.

use std::collections::HashMap;

use crate::cloud::ZoneRef;

use super::checks;
use super::drill::check;
use super::model::{NamePattern, RecordGroup, Regions, Traffic};
use super::reader::{Field, Reader, Span, Table};
use super::records::{self, Draft};
use super::select;
use super::traffic;

const GROUP_KEYS: &[&str] = &[
    "name",
    "zone",
    "zone_id",
    "traffic",
    "health_check",
    "records",
    "select",
];

/// Which traffic style a group declared (before its health check is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Weighted,
    Failover,
    None,
}

impl Style {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Style::Weighted => "weighted",
            Style::Failover => "failover",
            Style::None => "none",
        }
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
    // Every listed record that reads cleanly: (zone, name, type, span of its name, key path).
    let mut listed: Vec<Listed> = Vec::new();
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
            let name_span = map.get("name").map_or(record.span(), |v| v.span());
            listed.push(Listed {
                zone: zone.to_string(),
                name: name.clone(),
                rtype: rtype.clone(),
                span: name_span,
                key: format!("{}.records[{j}].name", table.path),
            });
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
    selections(r, groups, &listed);
}

/// A record a group lists, as read for the file-wide checks.
struct Listed {
    /// `ZoneRef`'s display: `zone example.com.` or `zone id Z…`.
    zone: String,
    name: String,
    rtype: String,
    /// The record's `name` value.
    span: Span,
    key: String,
}

/// A selection that read cleanly, as earlier groups' selections are remembered.
struct Selected {
    zone: String,
    select: select::RawSelection,
    key: String,
}

/// A record set belongs to one group: a selection may not overlap another selection of the same
/// zone and type, nor select a record another group lists.
fn selections(r: &mut Reader, groups: &[Table], listed: &[Listed]) {
    let mut earlier: Vec<Selected> = Vec::new();
    for table in groups {
        // A group with both records and a selection is refused on its own.
        if table.map.contains_key("records") {
            continue;
        }
        let (Some(zone), Some(select)) = (zone_ref(table), select::raw(table)) else {
            continue;
        };
        let zone = zone.to_string();
        let key = table.key("select");
        let rtype = &select.rtype;
        // Where to point: each pattern, or the table when it selects every name.
        let points: Vec<(Option<&NamePattern>, Span, &str)> = match &select.patterns {
            Some(ps) => ps
                .iter()
                .map(|p| (Some(&p.pattern), p.span.clone(), p.key.as_str()))
                .collect(),
            None => {
                let span = table
                    .map
                    .get("select")
                    .map_or(table.span.clone(), |v| v.span());
                vec![(None, span, key.as_str())]
            }
        };
        for (p, at, at_key) in &points {
            let here = p.map_or_else(|| "every name".to_string(), ToString::to_string);
            for other in &earlier {
                if other.zone != zone || other.select.rtype != *rtype {
                    continue;
                }
                let clash = match (p, &other.select.patterns) {
                    (None, _) | (_, None) => Some("every name".to_string()),
                    (Some(p), Some(theirs)) => theirs
                        .iter()
                        .find(|q| select::overlap(p, &q.pattern))
                        .map(|q| q.pattern.to_string()),
                };
                if let Some(theirs) = clash {
                    r.conflict(
                        at.clone(),
                        *at_key,
                        format!(
                            "{here} ({rtype}) overlaps {theirs} selected by {} in {zone}: a record set belongs to one group only",
                            other.key
                        ),
                    );
                }
            }
        }
        for l in listed {
            if l.zone != zone || l.rtype != *rtype {
                continue;
            }
            let by = match &select.patterns {
                // Listed names lie inside the zone (checked with the record).
                None => Some("every name".to_string()),
                Some(ps) => ps
                    .iter()
                    .find(|p| p.pattern.matches(&l.name))
                    .map(|p| p.pattern.to_string()),
            };
            if let Some(by) = by {
                r.conflict(
                    l.span.clone(),
                    l.key.clone(),
                    format!(
                        "record {} {rtype} is also selected by {key} ({by}) in {zone}: a record set belongs to one group only",
                        l.name
                    ),
                );
            }
        }
        earlier.push(Selected { zone, select, key });
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
    let selection = table.map.get("select").map(|value| {
        if table.map.contains_key("records") {
            r.conflict(
                value.span(),
                table.key("select"),
                "a group has either [[groups.records]] or [groups.select], not both: list the records, or select them by name",
            );
        }
        match r.table(table, "select", "a table [groups.select]") {
            Field::Present(t) => select::read(r, &t, zone_name, style.as_present().copied(), regions),
            _ => None,
        }
    });
    if let Some(selection) = selection {
        if table.map.contains_key("records") {
            // Still report what is wrong inside the records, but the group is refused.
            let _ = records::read(r, table, zone_name, regions);
            return None;
        }
        let traffic = match style.present()? {
            Style::Weighted => Traffic::Weighted,
            Style::Failover => Traffic::Failover {
                health_check: health_check??,
            },
            Style::None => Traffic::None,
        };
        return Some(RecordGroup {
            name: name?.value,
            zone: zone?,
            traffic,
            records: Vec::new(),
            select: Some(selection?),
        });
    }

    let drafts = records::read(r, table, zone_name, regions);
    if let (Some(drafts), Some(style)) = (&drafts, style.as_present()) {
        match style {
            Style::Weighted => traffic::weighted(r, table, drafts, regions),
            Style::Failover => traffic::failover(r, table, drafts, regions),
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
        select: None,
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
