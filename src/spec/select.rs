//! `[groups.select]`: a group's records named by pattern instead of one table each, so an estate of
//! thousands of record sets is a short file. Everything that can be judged without the zone's
//! contents is judged here (patterns, type, set identifier → region map, drill weights, overlaps);
//! what needs the zone is judged at preflight by `resolve.rs`.

use std::collections::{BTreeMap, HashMap};

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
    if let Some(suffix) = s.strip_prefix("*.").filter(|rest| !rest.contains('*')) {
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
    let mut read: Vec<NamePattern> = Vec::new();
    let mut seen = Overlaps::default();
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
        if let Some((q, j)) = seen.first_overlap(&p) {
            let message = if *q == p {
                format!("duplicate name {p} (also {key}[{j}])")
            } else {
                format!("{p} overlaps {q} ({key}[{j}]): each record set may be selected only once")
            };
            r.conflict(item.span.clone(), path, message);
            ok = false;
        }
        seen.insert(&p, i);
        read.push(p);
    }
    ok.then_some(Some(read))
}

/// The strict ancestors of a fully qualified name: `a.b.c.` → `b.c.`, `c.`.
pub(super) fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.')
        .map(move |(i, _)| &name[i + 1..])
        .filter(|rest| !rest.is_empty())
}

/// The patterns read so far, indexed so a long `names` list is checked in time linear in its
/// length: each new pattern looks up its own name and its ancestors instead of every earlier one.
#[derive(Default)]
struct Overlaps {
    /// Exact name → (pattern, index in names).
    exact: HashMap<String, (NamePattern, usize)>,
    /// `*.suffix` → (pattern, index).
    under: HashMap<String, (NamePattern, usize)>,
    /// Every strict ancestor of an earlier pattern's name → the first such pattern: a new
    /// `*.ancestor` holds it.
    beneath: HashMap<String, (NamePattern, usize)>,
}

impl Overlaps {
    /// The first earlier pattern (by index) that selects a name `p` also selects.
    fn first_overlap(&self, p: &NamePattern) -> Option<(&NamePattern, usize)> {
        let base = p.base();
        let same = match p {
            NamePattern::Exact(_) => self.exact.get(base),
            NamePattern::Under(_) => self.under.get(base),
        };
        let above = ancestors(base).filter_map(|a| self.under.get(a));
        let below = match p {
            NamePattern::Exact(_) => None,
            NamePattern::Under(_) => self.beneath.get(base),
        };
        same.into_iter()
            .chain(above)
            .chain(below)
            .min_by_key(|(_, i)| *i)
            .map(|(q, i)| (q, *i))
    }

    fn insert(&mut self, p: &NamePattern, i: usize) {
        let base = p.base();
        let own = match p {
            NamePattern::Exact(_) => &mut self.exact,
            NamePattern::Under(_) => &mut self.under,
        };
        own.entry(base.to_string())
            .or_insert_with(|| (p.clone(), i));
        for a in ancestors(base) {
            self.beneath
                .entry(a.to_string())
                .or_insert_with(|| (p.clone(), i));
        }
    }
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

/// One pattern of `select.names` as written: where it is and its key path, for file-wide checks.
pub(super) struct RawPattern {
    pub pattern: NamePattern,
    pub span: Span,
    pub key: String,
}

/// What a `[groups.select]` selects, read from the raw document for the file-wide overlap checks.
pub(super) struct RawSelection {
    pub rtype: String,
    /// None: every name in the zone.
    pub patterns: Option<Vec<RawPattern>>,
}

/// None unless the group's selection reads cleanly (its own problems are reported by `read`).
pub(super) fn raw(group: &Table) -> Option<RawSelection> {
    let select = group.map.get("select")?;
    let map = select.get_ref().as_table()?;
    let path = group.key("select");
    let rtype = match map.get("type") {
        Some(v) => checks::record_type(v.get_ref().as_str()?).ok()?,
        None => "A".to_string(),
    };
    let Some(names) = map.get("names") else {
        return Some(RawSelection {
            rtype,
            patterns: None,
        });
    };
    let mut patterns = Vec::new();
    for (i, item) in names.get_ref().as_array()?.iter().enumerate() {
        patterns.push(RawPattern {
            pattern: pattern(item.get_ref().as_str()?).ok()?,
            span: item.span(),
            key: format!("{path}.names[{i}]"),
        });
    }
    Some(RawSelection {
        rtype,
        patterns: Some(patterns),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::{Traffic, parse};

    /// Lines 1–7 of every case; the group's `[groups.select]` is line 8, its body starts on 9.
    const HEAD: &str = r#"name = "t"
regions = { primary = "us-east-1", secondary = "us-west-2" }
database = { global_cluster = "g", secondary_cluster = "s", mode = "switchover" }
[[groups]]
name = "fleet"
zone = "z07.estate.example"
traffic = "weighted"
"#;

    /// A drill whose one group selects with `body` (after a `[groups.select]` header on line 8).
    fn selecting(body: &str) -> String {
        format!("{HEAD}[groups.select]\n{body}\n")
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("t.toml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
        }
    }

    const IDS: &str = r#"set_identifiers = { "use1" = "us-east-1", "usw2" = "us-west-2" }"#;

    #[test]
    fn a_weighted_selection_loads_with_default_type_and_weights() {
        let text = selecting(&format!(
            "names = [\"*.svc.z07.estate.example\", \"API.z07.estate.example.\"]\n{IDS}"
        ));
        let drill = parse(Path::new("t.toml"), &text).expect("valid");
        let group = &drill.groups[0];
        assert!(group.records.is_empty());
        assert_eq!(drill.records().count(), 0);
        let select = group.select.as_ref().unwrap();
        assert_eq!(
            select.names,
            Some(vec![
                NamePattern::Under("svc.z07.estate.example.".into()),
                NamePattern::Exact("api.z07.estate.example.".into()),
            ])
        );
        assert_eq!(select.rtype, "A");
        assert_eq!(
            select.set_identifiers,
            BTreeMap::from([
                ("use1".to_string(), "us-east-1".to_string()),
                ("usw2".to_string(), "us-west-2".to_string()),
            ])
        );
        assert_eq!(
            select.drill_weights,
            BTreeMap::from([("us-east-1".to_string(), 0), ("us-west-2".to_string(), 100)])
        );
        // Patterns serialise as written, so reports read like the file.
        let json = serde_json::to_value(select).unwrap();
        assert_eq!(json["names"][0], "*.svc.z07.estate.example.");
    }

    #[test]
    fn given_weights_override_the_defaults() {
        let text = selecting(&format!(
            "type = \"aaaa\"\n{IDS}\ndrill_weights = {{ \"us-west-2\" = 255 }}"
        ));
        let drill = parse(Path::new("t.toml"), &text).expect("valid");
        let select = drill.groups[0].select.as_ref().unwrap();
        assert_eq!(select.names, None);
        assert_eq!(select.rtype, "AAAA");
        assert_eq!(select.drill_weights["us-east-1"], 0);
        assert_eq!(select.drill_weights["us-west-2"], 255);
    }

    #[test]
    fn a_none_selection_needs_no_identifiers_and_takes_no_weights() {
        let text = selecting("names = [\"db.z07.estate.example\"]\ntype = \"CNAME\"")
            .replace("traffic = \"weighted\"", "traffic = \"none\"");
        let drill = parse(Path::new("t.toml"), &text).expect("valid");
        assert_eq!(drill.groups[0].traffic, Traffic::None);
        let select = drill.groups[0].select.as_ref().unwrap();
        assert!(select.set_identifiers.is_empty() && select.drill_weights.is_empty());
    }

    /// (case, select body, every expected diagnostic)
    const INVALID: &[(&str, &str, &[&str])] = &[
        (
            "unknown key",
            "name = [\"api.z07.estate.example\"]\nset_identifiers = { \"use1\" = \"us-east-1\", \"usw2\" = \"us-west-2\" }",
            &[
                "t.toml:9:1: groups[0].select.name: unknown key `name` (did you mean `names`?); allowed here: names, type, set_identifiers, drill_weights",
            ],
        ),
        (
            "names is not an array",
            "names = \"*.svc.z07.estate.example\"\nIDS",
            &[
                "t.toml:9:9: groups[0].select.names: expected an array of DNS names and \"*.suffix\" patterns, found the string \"*.svc.z07.estate.example\"",
            ],
        ),
        (
            "names is empty",
            "names = []\nIDS",
            &[
                "t.toml:9:9: groups[0].select.names: names is empty: list at least one name or \"*.suffix\", or leave names out to select every name in the zone",
            ],
        ),
        (
            "a name that is not a string",
            "names = [7, \"api.z07.estate.example\"]\nIDS",
            &["t.toml:9:10: groups[0].select.names[0]: expected a string, found the integer 7"],
        ),
        (
            "a star that is not the leftmost label, and a bad suffix",
            "names = [\"api*.z07.estate.example\", \"*.*.z07.estate.example\", \"*\"]\nIDS",
            &[
                "t.toml:9:10: groups[0].select.names[0]: invalid name \"api*.z07.estate.example\": `*` is only allowed as `*.suffix` (every name strictly under suffix)",
                "t.toml:9:37: groups[0].select.names[1]: invalid name \"*.*.z07.estate.example\": `*` is only allowed as `*.suffix` (every name strictly under suffix)",
                "t.toml:9:63: groups[0].select.names[2]: invalid name \"*\": `*` is only allowed as `*.suffix` (every name strictly under suffix)",
            ],
        ),
        (
            "a CNAME at the apex",
            "names = [\"z07.estate.example\"]\ntype = \"cname\"\nIDS",
            &[
                "t.toml:10:8: groups[0].select.type: a CNAME cannot sit at the zone apex (z07.estate.example.); use an alias A/AAAA record there",
            ],
        ),
        (
            "duplicate and overlapping names",
            "names = [\"*.svc.z07.estate.example\", \"a.svc.z07.estate.example\", \"*.SVC.z07.estate.example\", \"*.b.svc.z07.estate.example\"]\nIDS",
            &[
                "t.toml:9:38: groups[0].select.names[1]: a.svc.z07.estate.example. overlaps *.svc.z07.estate.example. (groups[0].select.names[0]): each record set may be selected only once",
                "t.toml:9:66: groups[0].select.names[2]: duplicate name *.svc.z07.estate.example. (also groups[0].select.names[0])",
                "t.toml:9:94: groups[0].select.names[3]: *.b.svc.z07.estate.example. overlaps *.svc.z07.estate.example. (groups[0].select.names[0]): each record set may be selected only once",
            ],
        ),
        (
            "names outside the zone",
            "names = [\"*.z08.estate.example\", \"z07.estate.example\", \"estate.example\"]\nIDS",
            &[
                "t.toml:9:10: groups[0].select.names[0]: *.z08.estate.example. is not inside the group's zone z07.estate.example.",
                "t.toml:9:56: groups[0].select.names[2]: estate.example. is not inside the group's zone z07.estate.example.",
            ],
        ),
        (
            "bad type and a CNAME at the apex",
            "type = \"ALIAS\"\nIDS",
            &[
                "t.toml:9:8: groups[0].select.type: unsupported record type \"ALIAS\" (an alias record has the type of its target, usually A or AAAA); expected one of A, AAAA, CNAME, TXT, MX, SRV, NS, PTR, CAA, SPF, NAPTR, DS, TLSA, SSHFP, HTTPS, SVCB",
            ],
        ),
        (
            "missing set identifiers in a weighted group",
            "names = [\"api.z07.estate.example\"]",
            &[
                "t.toml:8:1: groups[0].select.set_identifiers: missing `set_identifiers`: a weighted group needs the region of every set identifier it selects, e.g. { \"use1\" = \"us-east-1\", \"usw2\" = \"us-west-2\" }",
            ],
        ),
        (
            "set identifiers: bad region, region outside the drill, wrong type, bad identifier",
            "set_identifiers = { \"use1\" = \"us-est-1\", \"euw1\" = \"eu-west-1\", \"usw2\" = 2, \" x\" = \"us-east-1\" }",
            &[
                "t.toml:9:30: groups[0].select.set_identifiers.use1: unknown AWS region \"us-est-1\" (did you mean \"us-east-1\"?)",
                "t.toml:9:51: groups[0].select.set_identifiers.euw1: region eu-west-1 is neither regions.primary (us-east-1) nor regions.secondary (us-west-2)",
                "t.toml:9:73: groups[0].select.set_identifiers.usw2: expected an AWS region name such as \"us-east-1\", found the integer 2",
                "t.toml:9:76: groups[0].select.set_identifiers. x: invalid set_identifier \" x\": has leading or trailing whitespace (Route 53 compares it exactly)",
            ],
        ),
        (
            "set identifiers empty",
            "set_identifiers = {}",
            &[
                "t.toml:9:19: groups[0].select.set_identifiers: set_identifiers is empty: map each set identifier to its region, or leave it out (traffic = \"none\" only)",
            ],
        ),
        (
            "set identifiers reach only the secondary region",
            "set_identifiers = { \"usw2\" = \"us-west-2\" }",
            &[
                "t.toml:9:19: groups[0].select.set_identifiers: no set identifier maps to the primary region (us-east-1); a weighted drill moves traffic from us-east-1 to us-west-2, so both need their sets",
            ],
        ),
        (
            "drill weights break the weighted rules",
            "IDS\ndrill_weights = { \"us-east-1\" = 5, \"us-west-2\" = 0, \"eu-west-1\" = 300, \"us-est-1\" = 1 }",
            &[
                "t.toml:10:33: groups[0].select.drill_weights.us-east-1: the drill weight must be 0 in the primary region (us-east-1): the drill moves all traffic to the secondary region",
                "t.toml:10:50: groups[0].select.drill_weights.us-west-2: the drill weight in the secondary region (us-west-2) must be above 0, or the drill would not move its traffic",
                "t.toml:10:53: groups[0].select.drill_weights.eu-west-1: region eu-west-1 is neither regions.primary (us-east-1) nor regions.secondary (us-west-2)",
                "t.toml:10:67: groups[0].select.drill_weights.eu-west-1: drill weight 300 is out of range: Route 53 weights are 0 to 255",
                "t.toml:10:72: groups[0].select.drill_weights.us-est-1: unknown AWS region \"us-est-1\" (did you mean \"us-east-1\"?)",
            ],
        ),
        (
            "drill weights wrong type",
            "IDS\ndrill_weights = [0, 100]",
            &[
                "t.toml:10:17: groups[0].select.drill_weights: expected a table of region = weight, e.g. { \"us-east-1\" = 0, \"us-west-2\" = 100 }, found an array",
            ],
        ),
    ];

    #[test]
    fn invalid_selections_name_file_line_column_and_key() {
        for (case, body, expected) in INVALID {
            let text = selecting(&body.replace("IDS", IDS));
            let actual = problems(&text);
            assert_eq!(actual, *expected, "case {case:?}\n{text}");
        }
    }

    /// (case, text appended to HEAD's group — its own lines from 8 on —, expected diagnostics)
    const INVALID_GROUPS: &[(&str, &str, &[&str])] = &[
        (
            "drill weights in a failover group",
            "health_check = \"hc-1\"\n[groups.select]\nIDS\ndrill_weights = { \"us-west-2\" = 100 }",
            &[
                "t.toml:11:17: groups[0].select.drill_weights: drill_weights is only used with traffic = \"weighted\"; this group has traffic = \"failover\"",
            ],
        ),
        (
            "records and select in one group",
            "[groups.select]\nIDS\n[[groups.records]]\nname = \"api.z07.estate.example\"\ntype = \"A\"",
            &[
                "t.toml:8:1: groups[0].select: a group has either [[groups.records]] or [groups.select], not both: list the records, or select them by name",
            ],
        ),
        (
            "neither records nor select",
            "",
            &[
                "t.toml:4:1: groups[0].records: missing [[groups.records]] or [groups.select]: a group needs records to shift; list them, or select them by name",
            ],
        ),
        (
            "select written as an array of tables",
            "[[groups.select]]\nIDS",
            &["t.toml:8:1: groups[0].select: expected a table [groups.select], found an array"],
        ),
        (
            "two groups select overlapping names",
            "[groups.select]\nnames = [\"*.svc.z07.estate.example\"]\nIDS\n[[groups]]\nname = \"more\"\nzone = \"z07.estate.example\"\ntraffic = \"weighted\"\n[groups.select]\nnames = [\"x.z07.estate.example\", \"a.svc.z07.estate.example\"]\nIDS",
            &[
                "t.toml:16:34: groups[1].select.names[1]: a.svc.z07.estate.example. (A) overlaps *.svc.z07.estate.example. selected by groups[0].select in zone z07.estate.example.: a record set belongs to one group only",
            ],
        ),
        (
            "a selection of every name overlaps any group in its zone and type",
            "[groups.select]\nIDS\n[[groups]]\nname = \"more\"\nzone = \"z07.estate.example\"\ntraffic = \"none\"\n[groups.select]\ntype = \"TXT\"\n[[groups]]\nname = \"listed\"\nzone = \"z07.estate.example\"\ntraffic = \"none\"\n[[groups.records]]\nname = \"api.z07.estate.example\"\ntype = \"A\"",
            &[
                "t.toml:21:8: groups[2].records[0].name: record api.z07.estate.example. A is also selected by groups[0].select (every name) in zone z07.estate.example.: a record set belongs to one group only",
            ],
        ),
        (
            "lab names per selection out of range",
            "[groups.select]\nIDS\n[lab]\nnames_per_selection = 0",
            &["t.toml:11:23: lab.names_per_selection: 0 is out of range: 1 to 100000"],
        ),
        (
            "lab names per selection of the wrong type",
            "[groups.select]\nIDS\n[lab]\nnames_per_selection = \"250\"",
            &[
                "t.toml:11:23: lab.names_per_selection: expected an integer number of names, 1 to 100000, found the string \"250\"",
            ],
        ),
    ];

    #[test]
    fn invalid_groups_name_file_line_column_and_key() {
        for (case, rest, expected) in INVALID_GROUPS {
            let text = format!("{HEAD}{}\n", rest.replace("IDS", IDS));
            let text = if case.contains("failover") {
                text.replace("traffic = \"weighted\"", "traffic = \"failover\"")
            } else {
                text
            };
            let actual = problems(&text);
            assert_eq!(actual, *expected, "case {case:?}\n{text}");
        }
    }

    #[test]
    fn the_overlap_index_agrees_with_the_pairwise_rule() {
        let patterns: Vec<NamePattern> = [
            "*.svc.example.com",
            "a.svc.example.com",
            "svc.example.com",
            "*.b.svc.example.com",
            "x.b.svc.example.com",
            "*.example.com",
            "*.example.net",
            "a.svc.example.comx",
        ]
        .iter()
        .map(|p| pattern(p).unwrap())
        .collect();
        for a in &patterns {
            for b in &patterns {
                let mut seen = Overlaps::default();
                seen.insert(a, 0);
                assert_eq!(
                    seen.first_overlap(b).is_some(),
                    overlap(a, b),
                    "{a} then {b}"
                );
            }
        }
        // With several earlier patterns, the first by index is named.
        let mut seen = Overlaps::default();
        seen.insert(&patterns[4], 0); // x.b.svc.example.com.
        seen.insert(&patterns[0], 1); // *.svc.example.com.
        let (q, i) = seen.first_overlap(&patterns[5]).unwrap(); // *.example.com.
        assert_eq!((q, i), (&patterns[4], 0));
        assert_eq!(ancestors("a.b.c.").collect::<Vec<_>>(), ["b.c.", "c."]);
    }

    #[test]
    fn an_overlap_names_the_position_in_the_file_even_after_a_bad_entry() {
        let text = selecting(&format!(
            "names = [\"a b\", \"*.svc.z07.estate.example\", \"x.svc.z07.estate.example\"]\n{IDS}"
        ));
        let problems = problems(&text);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[1].ends_with("x.svc.z07.estate.example. overlaps *.svc.z07.estate.example. (groups[0].select.names[1]): each record set may be selected only once"),
            "{problems:#?}"
        );
    }

    #[test]
    fn lab_names_per_selection_defaults_to_three() {
        let text = selecting(IDS);
        let drill = parse(Path::new("t.toml"), &text).unwrap();
        assert!(drill.lab.is_none());
        let text = format!("{text}[lab]\nnames_per_selection = 100000\n");
        let drill = parse(Path::new("t.toml"), &text).unwrap();
        let lab = drill.lab.unwrap();
        assert_eq!(lab.names_per_selection, Some(100_000));
        assert_eq!(lab.names_per_selection(), 100_000);
        assert_eq!(crate::spec::LabSettings::default().names_per_selection(), 3);
    }
}
