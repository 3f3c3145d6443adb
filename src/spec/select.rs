//! `[groups.select]`: a group's records named by pattern instead of one table each, so an estate of
//! thousands of record sets is a short file. Everything that can be judged without the zone's
//! contents is judged here (patterns, type, set identifier → region map, drill weights, overlaps);
//! what needs the zone is judged at preflight by `resolve.rs`.

use std::collections::BTreeMap;

use super::checks;
use super::drill::check;
use super::groups::Style;
use super::model::{NamePattern, Regions, Selection, strictly_under};
use super::reader::{Field, Reader, Span, Table};
use super::regions;

pub(super) const SELECT_KEYS: &[&str] = &["names", "type", "set_identifiers", "drill_weights"];

/// The weights a weighted selection takes when `drill_weights` does not say: the drill moves all
/// traffic from the primary region to the secondary.
pub const DEFAULT_PRIMARY_WEIGHT: i64 = 0;
pub const DEFAULT_SECONDARY_WEIGHT: i64 = 100;

/// `"*.svc.example.com"` → every name strictly under `svc.example.com.`; anything else is one name.
pub(super) fn pattern(s: &str) -> Result<NamePattern, String> {
    if let Some(suffix) = s.strip_prefix("*.") {
        return checks::dns_name(suffix, false)
            .map(NamePattern::Under)
            .map_err(|e| format!("in pattern \"{}\": {e}", s.escape_debug()));
    }
    if s.contains('*') {
        return Err(format!(
            "invalid name \"{}\": `*` is only allowed as `*.suffix` (every name strictly under suffix)",
            s.escape_debug()
        ));
    }
    checks::dns_name(s, false).map(NamePattern::Exact)
}

/// Whether some name could be selected by both patterns.
pub(super) fn overlap(a: &NamePattern, b: &NamePattern) -> bool {
    use NamePattern::{Exact, Under};
    match (a, b) {
        (Exact(x), Exact(y)) => x == y,
        (Exact(x), Under(s)) | (Under(s), Exact(x)) => strictly_under(x, s),
        (Under(s), Under(t)) => s == t || strictly_under(s, t) || strictly_under(t, s),
    }
}

/// Reads `[groups.select]`; None when anything in it is wrong (every problem is in `r`). `zone` is
/// the zone's name when the group gives one; `style` is None when the group's traffic is unusable.
pub(super) fn read(
    r: &mut Reader,
    t: &Table,
    zone: Option<&str>,
    style: Option<Style>,
    regions: Option<&Regions>,
) -> Option<Selection> {
    r.keys(t, SELECT_KEYS);
    let names = read_names(r, t, zone);
    let rtype = match r.string(t, "type", "a record type such as \"A\"") {
        Field::Present(ty) => check(r, t, "type", &ty, checks::record_type(&ty.value)).map(|upper| {
            if let (Some(zone), Some(Some(names))) = (zone, names.as_ref())
                && upper == "CNAME"
                && names.contains(&NamePattern::Exact(zone.to_string()))
            {
                r.conflict(
                    ty.span.clone(),
                    t.key("type"),
                    format!(
                        "a CNAME cannot sit at the zone apex ({zone}); use an alias A/AAAA record there"
                    ),
                );
            }
            upper
        }),
        Field::Absent => Some("A".to_string()),
        Field::Invalid => None,
    };
    let set_identifiers = read_set_identifiers(r, t, style, regions);
    let drill_weights = read_drill_weights(r, t, style, regions);
    Some(Selection {
        names: names?,
        rtype: rtype?,
        set_identifiers: set_identifiers?,
        drill_weights: drill_weights?,
    })
}

/// Some(None) when `names` is omitted (every name in the zone).
fn read_names(r: &mut Reader, t: &Table, zone: Option<&str>) -> Option<Option<Vec<NamePattern>>> {
    let key = t.key("names");
    let items = match r.strings(
        t,
        "names",
        "an array of DNS names and \"*.suffix\" patterns",
    ) {
        Field::Present(items) => items,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    if items.is_empty() {
        let span = t.map.get("names").map_or(t.span.clone(), |v| v.span());
        r.conflict(
            span,
            key,
            "names is empty: list at least one name or \"*.suffix\", or leave names out to select every name in the zone",
        );
        return None;
    }
    let mut ok = true;
    let mut read: Vec<(NamePattern, Span)> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("{key}[{i}]");
        let p = match pattern(&item.value) {
            Ok(p) => p,
            Err(message) => {
                r.error(item.span, path, message);
                ok = false;
                continue;
            }
        };
        if let Some(zone) = zone {
            let name = p.base();
            if name != zone && !strictly_under(name, zone) {
                r.conflict(
                    item.span.clone(),
                    path.clone(),
                    format!("{p} is not inside the group's zone {zone}"),
                );
                ok = false;
            }
        }
        if let Some(j) = read.iter().position(|(q, _)| overlap(q, &p)) {
            let (q, _) = &read[j];
            let message = if *q == p {
                format!("duplicate name {p} (also {key}[{j}])")
            } else {
                format!("{p} overlaps {q} ({key}[{j}]): each record set may be selected only once")
            };
            r.conflict(item.span.clone(), path, message);
            ok = false;
        }
        read.push((p, item.span));
    }
    ok.then(|| Some(read.into_iter().map(|(p, _)| p).collect()))
}

/// The set identifier → region map; empty when omitted from a `none` group.
fn read_set_identifiers(
    r: &mut Reader,
    t: &Table,
    style: Option<Style>,
    regions: Option<&Regions>,
) -> Option<BTreeMap<String, String>> {
    let map = match r.table(
        t,
        "set_identifiers",
        "a table of set identifier = region, e.g. { \"use1\" = \"us-east-1\" }",
    ) {
        Field::Present(map) => map,
        Field::Absent => {
            if let Some(style @ (Style::Weighted | Style::Failover)) = style {
                r.missing(
                    t,
                    "set_identifiers",
                    format!(
                        "missing `set_identifiers`: a {} group needs the region of every set identifier it selects, e.g. {{ \"use1\" = \"us-east-1\", \"usw2\" = \"us-west-2\" }}",
                        style.as_str()
                    ),
                );
                return None;
            }
            return Some(BTreeMap::new());
        }
        Field::Invalid => return None,
    };
    if map.map.is_empty() {
        r.conflict(
            map.span.clone(),
            map.path.clone(),
            "set_identifiers is empty: map each set identifier to its region, or leave it out (traffic = \"none\" only)",
        );
        return None;
    }
    let mut ok = true;
    let mut out = BTreeMap::new();
    for (key, _) in map.map.iter() {
        let id: &str = key.get_ref();
        if let Err(message) = checks::set_identifier(id) {
            r.error(key.span(), map.key(id), message);
            ok = false;
        }
        let region = match r.string(&map, id, "an AWS region name such as \"us-east-1\"") {
            Field::Present(region) => region,
            _ => {
                ok = false;
                continue;
            }
        };
        if check(r, &map, id, &region, regions::check(&region.value)).is_none() {
            ok = false;
            continue;
        }
        if let Some(regions) = regions
            && region.value != regions.primary
            && region.value != regions.secondary
        {
            r.conflict(
                region.span.clone(),
                map.key(id),
                format!(
                    "region {} is neither regions.primary ({}) nor regions.secondary ({})",
                    region.value, regions.primary, regions.secondary
                ),
            );
            ok = false;
        }
        out.insert(id.to_string(), region.value);
    }
    // A weighted or failover shift needs traffic to move from somewhere to somewhere.
    if let (true, Some(regions), Some(style @ (Style::Weighted | Style::Failover))) =
        (ok, regions, style)
    {
        for (which, region) in [
            ("primary", &regions.primary),
            ("secondary", &regions.secondary),
        ] {
            if !out.values().any(|v| v == region) {
                r.conflict(
                    map.span.clone(),
                    map.path.clone(),
                    format!(
                        "no set identifier maps to the {which} region ({region}); a {} drill moves traffic from {} to {}, so both need their sets",
                        style.as_str(),
                        regions.primary,
                        regions.secondary
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// The drill weight per region, defaults filled in, for weighted groups; empty for others.
fn read_drill_weights(
    r: &mut Reader,
    t: &Table,
    style: Option<Style>,
    regions: Option<&Regions>,
) -> Option<BTreeMap<String, i64>> {
    let map = match r.table(
        t,
        "drill_weights",
        "a table of region = weight, e.g. { \"us-east-1\" = 0, \"us-west-2\" = 100 }",
    ) {
        Field::Present(map) => Some(map),
        Field::Absent => None,
        Field::Invalid => return None,
    };
    match (&map, style) {
        (Some(map), Some(other @ (Style::Failover | Style::None))) => {
            r.conflict(
                map.span.clone(),
                map.path.clone(),
                format!(
                    "drill_weights is only used with traffic = \"weighted\"; this group has traffic = \"{}\"",
                    other.as_str()
                ),
            );
            return None;
        }
        (None, Some(Style::Failover | Style::None)) => return Some(BTreeMap::new()),
        _ => {}
    }
    let mut ok = true;
    let mut given = BTreeMap::new();
    if let Some(map) = &map {
        for (key, _) in map.map.iter() {
            ok &= read_weight(r, map, key.get_ref(), key.span(), regions, &mut given);
        }
    }
    let regions = regions?;
    if !ok {
        return None;
    }
    let mut out = BTreeMap::from([
        (regions.primary.clone(), DEFAULT_PRIMARY_WEIGHT),
        (regions.secondary.clone(), DEFAULT_SECONDARY_WEIGHT),
    ]);
    out.extend(given);
    Some(out)
}

/// One `region = weight` entry of `drill_weights`; false when it is wrong (and reported).
fn read_weight(
    r: &mut Reader,
    map: &Table,
    region: &str,
    key_span: Span,
    regions: Option<&Regions>,
    given: &mut BTreeMap<String, i64>,
) -> bool {
    let mut ok = true;
    match regions::check(region) {
        Err(message) => {
            r.error(key_span, map.key(region), message);
            ok = false;
        }
        Ok(_) => {
            if let Some(regions) = regions
                && region != regions.primary
                && region != regions.secondary
            {
                r.conflict(
                    key_span,
                    map.key(region),
                    format!(
                        "region {region} is neither regions.primary ({}) nor regions.secondary ({})",
                        regions.primary, regions.secondary
                    ),
                );
                ok = false;
            }
        }
    }
    let w = match r.integer(map, region, "a whole number 0 to 255") {
        Field::Present(w) if (0..=255).contains(&w.value) => w,
        Field::Present(w) => {
            r.error(
                w.span,
                map.key(region),
                format!(
                    "drill weight {} is out of range: Route 53 weights are 0 to 255",
                    w.value
                ),
            );
            return false;
        }
        _ => return false,
    };
    if let Some(regions) = regions {
        if region == regions.primary && w.value != 0 {
            r.conflict(
                w.span.clone(),
                map.key(region),
                format!(
                    "the drill weight must be 0 in the primary region ({}): the drill moves all traffic to the secondary region",
                    regions.primary
                ),
            );
            ok = false;
        }
        if region == regions.secondary && w.value == 0 {
            r.conflict(
                w.span,
                map.key(region),
                format!(
                    "the drill weight in the secondary region ({}) must be above 0, or the drill would not move its traffic",
                    regions.secondary
                ),
            );
            ok = false;
        }
    }
    given.insert(region.to_string(), w.value);
    ok
}

/// What a `[groups.select]` selects, read from the raw document for the file-wide overlap checks:
/// (type, patterns or None for every name, span to report at, key path). None unless it reads
/// cleanly (its own problems are reported by `read`).
pub(super) fn raw(group: &Table) -> Option<(String, Option<Vec<(NamePattern, Span, String)>>)> {
    let select = group.map.get("select")?;
    let map = select.get_ref().as_table()?;
    let path = group.key("select");
    let rtype = match map.get("type") {
        Some(v) => checks::record_type(v.get_ref().as_str()?).ok()?,
        None => "A".to_string(),
    };
    let Some(names) = map.get("names") else {
        return Some((rtype, None));
    };
    let mut out = Vec::new();
    for (i, item) in names.get_ref().as_array()?.iter().enumerate() {
        let p = pattern(item.get_ref().as_str()?).ok()?;
        out.push((p, item.span(), format!("{path}.names[{i}]")));
    }
    Some((rtype, Some(out)))
}
