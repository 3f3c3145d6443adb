//! Route 53's hosted zones and record sets as the lab keeps them: the control-plane view (what the
//! API lists, changed at once) and the published view (what the name servers answer, changed when a
//! change reaches INSYNC). Records are kept in Route 53's listing order: labels reversed, then type,
//! then set identifier.

use std::collections::BTreeMap;

use crate::cloud::{ChangeAction, RecordChange, RecordSet, fqdn};

/// Route 53's order for record sets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    pub labels: Vec<String>,
    pub rtype: String,
    pub set_identifier: Option<String>,
}

impl SortKey {
    pub fn new(name: &str, rtype: &str, set_identifier: Option<&str>) -> Self {
        SortKey {
            labels: reversed_labels(name),
            rtype: rtype.to_ascii_uppercase(),
            set_identifier: set_identifier.map(str::to_string),
        }
    }

    pub fn of(record: &RecordSet) -> Self {
        Self::new(
            &record.name,
            &record.rtype,
            record.set_identifier.as_deref(),
        )
    }
}

/// `www.example.com.` → `["com", "example", "www"]`.
pub fn reversed_labels(name: &str) -> Vec<String> {
    let name = fqdn(name);
    name.trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .rev()
        .map(str::to_string)
        .collect()
}

/// Route 53 spells a leading `*` as `\052` on the wire; the lab stores `*`.
pub fn wire_name(name: &str) -> String {
    match name.strip_prefix('*') {
        Some(rest) => format!("\\052{rest}"),
        None => name.to_string(),
    }
}

/// Lower case, trailing dot, `\052` → `*`.
pub fn stored_name(name: &str) -> String {
    fqdn(&name.replace("\\052", "*"))
}

pub type Records = BTreeMap<SortKey, RecordSet>;

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Bare id, `Z…`.
    pub id: String,
    /// Lower case with trailing dot.
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    pub records: Records,
    pub published: Records,
}

pub const NAME_SERVERS: [&str; 2] = ["ns-1.lab.", "ns-2.lab."];

impl Zone {
    /// A new zone with its apex SOA and NS records, as Route 53 creates them.
    pub fn new(id: &str, name: &str) -> Self {
        let name = fqdn(name);
        let mut records = Records::new();
        let soa = RecordSet::simple(
            &name,
            "SOA",
            900,
            &["ns-1.lab. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"],
        );
        let ns = RecordSet::simple(&name, "NS", 172800, &NAME_SERVERS);
        records.insert(SortKey::of(&soa), soa);
        records.insert(SortKey::of(&ns), ns);
        Zone {
            id: id.to_string(),
            name: name.clone(),
            caller_reference: format!("lab-{name}"),
            comment: Some("seeded by the failover-drill lab".to_string()),
            published: records.clone(),
            records,
        }
    }

    /// Whether `name` (fully qualified) lies inside this zone.
    pub fn contains(&self, name: &str) -> bool {
        name == self.name || name.ends_with(&format!(".{}", self.name))
    }
}

/// Why a change batch was refused; the endpoint turns these into Route 53's error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// `InvalidChangeBatch` with Route 53's messages.
    Invalid(Vec<String>),
    /// `InvalidInput`: the request violates the schema.
    Input(String),
    /// `NoSuchHealthCheck`.
    NoHealthCheck(String),
}

/// Route 53's limits on one ChangeResourceRecordSets request: changes, ResourceRecord elements, and
/// characters of record values. The client splits its batches by the same rules
/// (`cloud::aws::batches`); the two must agree, or the lab would accept what AWS refuses.
pub const MAX_CHANGES: usize = 1_000;
pub const MAX_RECORDS: usize = 1_000;
pub const MAX_VALUE_CHARS: usize = 32_000;

/// (ResourceRecord elements, value characters) of a whole batch as Route 53 counts them: an UPSERT
/// counts both twice (it deletes and creates); an alias record has no ResourceRecord elements.
fn batch_weight(changes: &[RecordChange]) -> (usize, usize) {
    changes.iter().fold((0, 0), |(records, chars), change| {
        let factor = match change.action {
            ChangeAction::Upsert => 2,
            ChangeAction::Create | ChangeAction::Delete => 1,
        };
        let values = &change.record.values;
        let c: usize = values.iter().map(|v| v.chars().count()).sum();
        (records + values.len() * factor, chars + c * factor)
    })
}

/// Validates a whole batch the way Route 53 does and returns the zone's records after it, without
/// touching the zone: a batch is all or nothing.
pub fn apply_batch(
    zone: &Zone,
    changes: &[RecordChange],
    health_check_exists: &dyn Fn(&str) -> bool,
) -> Result<Records, BatchError> {
    if changes.is_empty() {
        return Err(BatchError::Input(
            "1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
                .to_string(),
        ));
    }
    if changes.len() > MAX_CHANGES {
        return Err(BatchError::Invalid(vec![format!(
            "Number of records limit of {MAX_CHANGES} exceeded."
        )]));
    }
    let (records, chars) = batch_weight(changes);
    if records > MAX_RECORDS {
        return Err(BatchError::Invalid(vec![format!(
            "Number of records limit of {MAX_RECORDS} exceeded."
        )]));
    }
    if chars > MAX_VALUE_CHARS {
        return Err(BatchError::Invalid(vec![format!(
            "RDATA character limit of {MAX_VALUE_CHARS} exceeded."
        )]));
    }
    for (i, change) in changes.iter().enumerate() {
        schema(i + 1, &change.record)?;
        if let Some(id) = &change.record.health_check_id
            && change.action != ChangeAction::Delete
            && !health_check_exists(id)
        {
            return Err(BatchError::NoHealthCheck(id.clone()));
        }
    }
    let mut messages = Vec::new();
    let mut seen: BTreeMap<SortKey, ChangeAction> = BTreeMap::new();
    let mut records = zone.records.clone();
    for change in changes {
        let r = &change.record;
        let key = SortKey::of(r);
        if let Some(prev) = seen.insert(key.clone(), change.action)
            && !(prev == ChangeAction::Delete && change.action == ChangeAction::Create)
        {
            messages.push(format!(
                "The request contains an invalid set of changes for a resource record set '{} {}'",
                r.rtype, r.name
            ));
            continue;
        }
        if let Some(message) = structure(zone, change) {
            messages.push(message);
            continue;
        }
        match change.action {
            ChangeAction::Create => {
                if records.contains_key(&key) {
                    messages.push(format!("Tried to create resource record set {} but it already exists", describe(r)));
                } else if let Some(message) = conflict(zone, &records, None, r) {
                    messages.push(message);
                } else {
                    records.insert(key, r.clone());
                }
            }
            ChangeAction::Upsert => {
                // Checked against the others, without copying the zone for every UPSERT.
                match conflict(zone, &records, Some(&key), r) {
                    Some(message) => messages.push(message),
                    None => {
                        records.insert(key, r.clone());
                    }
                }
            }
            ChangeAction::Delete => match records.get(&key) {
                None => messages.push(format!(
                    "Tried to delete resource record set {} but it was not found",
                    describe(r)
                )),
                Some(existing) if !same_record(existing, r) => messages.push(format!(
                    "Tried to delete resource record set {} but the values provided do not match the current values",
                    describe(r)
                )),
                Some(_) if r.name == zone.name && (r.rtype == "SOA" || r.rtype == "NS") => {
                    messages.push(format!(
                        "A HostedZone must contain at least one {} record for the zone itself.",
                        r.rtype
                    ))
                }
                Some(_) => {
                    records.remove(&key);
                }
            },
        }
    }
    if messages.is_empty() {
        Ok(records)
    } else {
        Err(BatchError::Invalid(messages))
    }
}

const TYPES: [&str; 17] = [
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
    "SSHFP", "SVCB", "TLSA", "TXT",
];

/// What the schema says, before any record is looked at (InvalidInput).
fn schema(n: usize, r: &RecordSet) -> Result<(), BatchError> {
    let at = |field: &str| format!("changeBatch.changes.{n}.member.resourceRecordSet.{field}");
    if !TYPES.contains(&r.rtype.as_str()) {
        return Err(BatchError::Input(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            r.rtype,
            at("type"),
            TYPES.join(", ")
        )));
    }
    if let Some(w) = r.weight
        && !(0..=255).contains(&w)
    {
        return Err(BatchError::Input(format!(
            "1 validation error detected: Value '{w}' at '{}' failed to satisfy constraint: Member must have value {} 255",
            at("weight"),
            if w < 0 {
                "greater than or equal to 0, less than or equal to"
            } else {
                "less than or equal to"
            }
        )));
    }
    if let Some(ttl) = r.ttl
        && !(0..=2_147_483_647).contains(&ttl)
    {
        return Err(BatchError::Input(format!(
            "1 validation error detected: Value '{ttl}' at '{}' failed to satisfy constraint: Member must have value between 0 and 2147483647",
            at("tTL")
        )));
    }
    if let Some(f) = &r.failover
        && f != "PRIMARY"
        && f != "SECONDARY"
    {
        return Err(BatchError::Input(format!(
            "1 validation error detected: Value '{f}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [PRIMARY, SECONDARY]",
            at("failover")
        )));
    }
    if let Some(id) = &r.set_identifier
        && (id.is_empty() || id.len() > 128)
    {
        return Err(BatchError::Input(format!(
            "1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must have length between 1 and 128",
            at("setIdentifier")
        )));
    }
    Ok(())
}

fn change_label(change: &RecordChange) -> String {
    let r = &change.record;
    let action = match change.action {
        ChangeAction::Create => "CREATE",
        ChangeAction::Upsert => "UPSERT",
        ChangeAction::Delete => "DELETE",
    };
    format!(
        "Change with [Action={action}, Name={}, Type={}, SetIdentifier={}]",
        wire_name(&r.name),
        r.rtype,
        r.set_identifier.as_deref().unwrap_or("null")
    )
}

/// The rules Route 53 checks on one record set on its own (InvalidChangeBatch).
fn structure(zone: &Zone, change: &RecordChange) -> Option<String> {
    let r = &change.record;
    if !zone.contains(&r.name) {
        return Some(format!(
            "RRSet with DNS name {} is not permitted in zone {}",
            wire_name(&r.name),
            zone.name
        ));
    }
    let simple = r.ttl.is_some() || !r.values.is_empty();
    let shapes = [
        r.alias_target.is_some(),
        simple,
        r.traffic_policy_instance_id.is_some(),
    ];
    let shape_count = shapes.iter().filter(|&&s| s).count();
    if shape_count != 1 || (simple && (r.ttl.is_none() || r.values.is_empty())) {
        let found = if shape_count > 1 {
            "more than one"
        } else {
            "none"
        };
        return Some(format!(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found {found} in {}",
            change_label(change)
        ));
    }
    let policies = policy_count(r);
    if policies > 1 {
        return Some(format!(
            "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found more than one in {}",
            change_label(change)
        ));
    }
    match (policies, &r.set_identifier) {
        (1, None) => {
            return Some(format!(
                "Invalid request: Missing field 'SetIdentifier' in {}",
                change_label(change)
            ));
        }
        (0, Some(_)) => {
            return Some(format!(
                "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found none in {}",
                change_label(change)
            ));
        }
        _ => {}
    }
    if r.rtype == "CNAME" && r.name == zone.name {
        return Some(format!(
            "RRSet of type CNAME with DNS name {} is not permitted at apex in zone {}",
            wire_name(&r.name),
            zone.name
        ));
    }
    if r.rtype == "CNAME" && r.values.len() > 1 {
        return Some(format!(
            "RRSet of type CNAME with DNS name {} has more than one resource record",
            wire_name(&r.name)
        ));
    }
    for value in &r.values {
        if let Some(problem) = bad_value(&r.rtype, value) {
            return Some(format!(
                "Invalid Resource Record: 'FATAL problem: {problem} encountered with '{value}''"
            ));
        }
    }
    None
}

fn policy_count(r: &RecordSet) -> usize {
    [
        r.weight.is_some(),
        r.region.is_some(),
        r.failover.is_some(),
        r.geo_location.is_some(),
        r.multi_value_answer.is_some(),
        r.geoproximity.is_some(),
        r.cidr_routing.is_some(),
    ]
    .iter()
    .filter(|&&p| p)
    .count()
}

/// The routing policy's name, for conflict messages.
pub fn policy_name(r: &RecordSet) -> &'static str {
    if r.weight.is_some() {
        "weighted"
    } else if r.region.is_some() {
        "latency"
    } else if r.failover.is_some() {
        "failover"
    } else if r.geo_location.is_some() {
        "geolocation"
    } else if r.multi_value_answer.is_some() {
        "multivalue"
    } else if r.geoproximity.is_some() {
        "geoproximity"
    } else if r.cidr_routing.is_some() {
        "IP-based"
    } else {
        "non-weighted"
    }
}

fn bad_value(rtype: &str, value: &str) -> Option<&'static str> {
    match rtype {
        "A" if value.parse::<std::net::Ipv4Addr>().is_err() => {
            Some("ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)")
        }
        "AAAA" if value.parse::<std::net::Ipv6Addr>().is_err() => {
            Some("AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)")
        }
        "CNAME" | "NS" | "PTR" if value.trim().is_empty() || value.contains(' ') => {
            Some("DomainLabelEmpty (Domain label is empty)")
        }
        _ if value.trim().is_empty() => Some("InvalidRRDATA (Value is empty)"),
        _ => None,
    }
}

/// Checks a record against the others that share its name (CNAME exclusivity, routing mixes),
/// leaving out `replaced` (the set an UPSERT replaces).
fn conflict(
    zone: &Zone,
    records: &Records,
    replaced: Option<&SortKey>,
    r: &RecordSet,
) -> Option<String> {
    // Every set of one name sorts together, from its labels with the smallest type.
    let labels = reversed_labels(&r.name);
    let first = SortKey {
        labels: labels.clone(),
        rtype: String::new(),
        set_identifier: None,
    };
    let same_name = records
        .range(first..)
        .take_while(|(k, _)| k.labels == labels)
        .filter(|(k, o)| Some(*k) != replaced && o.name == r.name)
        .map(|(_, o)| o);
    for other in same_name {
        if (r.rtype == "CNAME") != (other.rtype == "CNAME") {
            return Some(if r.rtype == "CNAME" {
                format!(
                    "RRSet of type CNAME with DNS name {} is not permitted as it conflicts with other records with the same DNS name in zone {}",
                    wire_name(&r.name),
                    zone.name
                )
            } else {
                format!(
                    "RRSet of type {} with DNS name {} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone {}",
                    r.rtype,
                    wire_name(&r.name),
                    zone.name
                )
            });
        }
        if other.rtype != r.rtype {
            continue;
        }
        match (&r.set_identifier, &other.set_identifier) {
            (Some(id), None) => {
                return Some(format!(
                    "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created as a non-{} set exists with the same name and type.",
                    wire_name(&r.name),
                    r.rtype,
                    policy_name(r)
                ));
            }
            (None, Some(_)) => {
                return Some(format!(
                    "RRSet with DNS name {}, type {} cannot be created as {} sets exist with the same name and type.",
                    wire_name(&r.name),
                    r.rtype,
                    policy_name(other)
                ));
            }
            (Some(id), Some(_)) if policy_name(r) != policy_name(other) => {
                return Some(format!(
                    "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created because a {} set exists with the same name and type.",
                    wire_name(&r.name),
                    r.rtype,
                    policy_name(other)
                ));
            }
            (Some(id), Some(_)) if r.failover.is_some() && r.failover == other.failover => {
                return Some(format!(
                    "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created because a {} failover record with the same name and type already exists.",
                    wire_name(&r.name),
                    r.rtype,
                    r.failover.as_deref().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    None
}

fn describe(r: &RecordSet) -> String {
    match &r.set_identifier {
        Some(id) => format!(
            "[name='{}', type='{}', set-identifier='{id}']",
            wire_name(&r.name),
            r.rtype
        ),
        None => format!("[name='{}', type='{}']", wire_name(&r.name), r.rtype),
    }
}

/// DELETE must name the record set exactly: every field, values in any order.
fn same_record(a: &RecordSet, b: &RecordSet) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    a.values.sort();
    b.values.sort();
    for alias in [&mut a.alias_target, &mut b.alias_target]
        .into_iter()
        .flatten()
    {
        alias.dns_name = fqdn(&alias.dns_name);
        alias.hosted_zone_id = alias
            .hosted_zone_id
            .trim_start_matches("/hostedzone/")
            .to_string();
    }
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        let mut z = Zone::new("Z1", "example.com");
        let www = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.11"]);
        z.records.insert(SortKey::of(&www), www);
        z
    }

    fn change(action: ChangeAction, record: RecordSet) -> RecordChange {
        RecordChange { action, record }
    }

    fn weighted(id: &str, w: i64) -> RecordSet {
        let mut r = RecordSet::simple("api.example.com.", "A", 60, &["127.0.0.11"]);
        r.set_identifier = Some(id.to_string());
        r.weight = Some(w);
        r
    }

    fn invalid(result: Result<Records, BatchError>) -> Vec<String> {
        match result {
            Err(BatchError::Invalid(m)) => m,
            other => panic!("expected InvalidChangeBatch, got {other:?}"),
        }
    }

    const ANY: &dyn Fn(&str) -> bool = &|_| true;

    #[test]
    fn orders_like_route53() {
        let mut keys = [
            SortKey::new("b.example.com.", "A", None),
            SortKey::new("example.com.", "SOA", None),
            SortKey::new("a.example.com.", "TXT", None),
            SortKey::new("example.com.", "NS", None),
            SortKey::new("a.example.com.", "A", Some("z")),
            SortKey::new("a.example.com.", "A", Some("b")),
            SortKey::new("x.a.example.com.", "A", None),
        ];
        keys.sort();
        let names: Vec<_> = keys
            .iter()
            .map(|k| {
                format!(
                    "{}/{}/{}",
                    k.labels.join("."),
                    k.rtype,
                    k.set_identifier.clone().unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "com.example/NS/",
                "com.example/SOA/",
                "com.example.a/A/b",
                "com.example.a/A/z",
                "com.example.a/TXT/",
                "com.example.a.x/A/",
                "com.example.b/A/",
            ]
        );
    }

    #[test]
    fn create_of_an_existing_set_is_refused() {
        let www = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.12"]);
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Create, www)],
            ANY,
        ));
        assert_eq!(
            m,
            [
                "Tried to create resource record set [name='www.example.com.', type='A'] but it already exists"
            ]
        );
    }

    #[test]
    fn delete_must_match_exactly() {
        let wrong = RecordSet::simple("www.example.com.", "A", 60, &["127.0.0.11"]);
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Delete, wrong)],
            ANY,
        ));
        assert!(
            m[0].ends_with("but the values provided do not match the current values"),
            "{m:?}"
        );
        let missing = RecordSet::simple("nope.example.com.", "A", 60, &["127.0.0.11"]);
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Delete, missing)],
            ANY,
        ));
        assert!(m[0].ends_with("but it was not found"), "{m:?}");
        let right = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.11"]);
        let after = apply_batch(&zone(), &[change(ChangeAction::Delete, right)], ANY).unwrap();
        assert_eq!(after.len(), 2);
    }

    #[test]
    fn weighted_needs_a_set_identifier_and_a_weight_in_range() {
        let mut r = weighted("a", 10);
        r.set_identifier = None;
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Create, r)],
            ANY,
        ));
        assert_eq!(
            m,
            [
                "Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, Name=api.example.com., Type=A, SetIdentifier=null]"
            ]
        );
        let r = weighted("a", 256);
        assert!(matches!(
            apply_batch(&zone(), &[change(ChangeAction::Create, r)], ANY),
            Err(BatchError::Input(_))
        ));
    }

    #[test]
    fn a_batch_is_atomic_and_collects_every_message() {
        let ok = weighted("a", 10);
        let dup = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.11"]);
        let outside = RecordSet::simple("www.other.org.", "A", 300, &["127.0.0.11"]);
        let m = invalid(apply_batch(
            &zone(),
            &[
                change(ChangeAction::Create, ok),
                change(ChangeAction::Create, dup),
                change(ChangeAction::Upsert, outside),
            ],
            ANY,
        ));
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1],
            "RRSet with DNS name www.other.org. is not permitted in zone example.com."
        );
    }

    #[test]
    fn delete_then_create_in_one_batch_replaces() {
        let old = RecordSet::simple("www.example.com.", "A", 300, &["127.0.0.11"]);
        let new = RecordSet::simple("www.example.com.", "A", 60, &["127.0.0.12"]);
        let after = apply_batch(
            &zone(),
            &[
                change(ChangeAction::Delete, old),
                change(ChangeAction::Create, new.clone()),
            ],
            ANY,
        )
        .unwrap();
        assert_eq!(after[&SortKey::of(&new)], new);
        let twice = apply_batch(
            &zone(),
            &[
                change(ChangeAction::Upsert, new.clone()),
                change(ChangeAction::Upsert, new),
            ],
            ANY,
        );
        assert!(invalid(twice)[0].starts_with("The request contains an invalid set of changes"));
    }

    #[test]
    fn cname_and_routing_conflicts() {
        let cname = RecordSet::simple("www.example.com.", "CNAME", 300, &["x.example.net."]);
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Create, cname)],
            ANY,
        ));
        assert!(m[0].contains("conflicts with other records"), "{m:?}");
        let mixed = weighted("a", 1);
        let mut simple = mixed.clone();
        simple.set_identifier = None;
        simple.weight = None;
        let m = invalid(apply_batch(
            &zone(),
            &[
                change(ChangeAction::Create, simple),
                change(ChangeAction::Create, mixed),
            ],
            ANY,
        ));
        assert!(m[0].contains("non-weighted set exists"), "{m:?}");
    }

    #[test]
    fn unknown_health_checks_and_bad_values_are_refused() {
        let mut r = weighted("a", 1);
        r.health_check_id = Some("hc-missing".into());
        assert_eq!(
            apply_batch(&zone(), &[change(ChangeAction::Upsert, r)], &|_| false),
            Err(BatchError::NoHealthCheck("hc-missing".into()))
        );
        let bad = RecordSet::simple("x.example.com.", "A", 300, &["not-an-ip"]);
        let m = invalid(apply_batch(
            &zone(),
            &[change(ChangeAction::Create, bad)],
            ANY,
        ));
        assert!(m[0].contains("ARRDATAIllegalIPv4Address"), "{m:?}");
    }

    #[test]
    fn apex_ns_and_soa_cannot_be_deleted() {
        let z = zone();
        let ns = z.records[&SortKey::new("example.com.", "NS", None)].clone();
        let m = invalid(apply_batch(&z, &[change(ChangeAction::Delete, ns)], ANY));
        assert_eq!(
            m,
            ["A HostedZone must contain at least one NS record for the zone itself."]
        );
    }

    /// `n` distinct A records in the zone, each with `values` addresses.
    fn many(action: ChangeAction, n: usize, values: usize) -> Vec<RecordChange> {
        (0..n)
            .map(|i| {
                let addresses: Vec<String> = (0..values)
                    .map(|v| format!("10.{}.{}.{v}", i / 256, i % 256))
                    .collect();
                let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
                change(
                    action,
                    RecordSet::simple(&format!("r{i}.example.com."), "A", 60, &refs),
                )
            })
            .collect()
    }

    #[test]
    fn at_most_a_thousand_changes() {
        assert!(apply_batch(&zone(), &many(ChangeAction::Create, 1_000, 1), ANY).is_ok());
        let m = invalid(apply_batch(
            &zone(),
            &many(ChangeAction::Create, 1_001, 1),
            ANY,
        ));
        assert_eq!(m, ["Number of records limit of 1000 exceeded."]);
    }

    #[test]
    fn at_most_a_thousand_resource_records() {
        // 500 changes of 2 values: 1,000 ResourceRecord elements, at the limit.
        assert!(apply_batch(&zone(), &many(ChangeAction::Create, 500, 2), ANY).is_ok());
        // One more value anywhere is one over.
        let mut over = many(ChangeAction::Create, 500, 2);
        over[0].record.values.push("10.9.9.9".to_string());
        let m = invalid(apply_batch(&zone(), &over, ANY));
        assert_eq!(m, ["Number of records limit of 1000 exceeded."]);
    }

    #[test]
    fn upserts_count_their_resource_records_twice() {
        // 500 UPSERTs of one value count 1,000; 501 count 1,002, though CREATEs would fit.
        assert!(apply_batch(&zone(), &many(ChangeAction::Upsert, 500, 1), ANY).is_ok());
        assert!(apply_batch(&zone(), &many(ChangeAction::Create, 501, 1), ANY).is_ok());
        let m = invalid(apply_batch(
            &zone(),
            &many(ChangeAction::Upsert, 501, 1),
            ANY,
        ));
        assert_eq!(m, ["Number of records limit of 1000 exceeded."]);
    }

    /// `n` TXT records of one value, `len` characters each.
    fn texts(action: ChangeAction, n: usize, len: usize) -> Vec<RecordChange> {
        (0..n)
            .map(|i| {
                let value = format!("{i:0>len$}");
                change(
                    action,
                    RecordSet::simple(&format!("t{i}.example.com."), "TXT", 60, &[&value]),
                )
            })
            .collect()
    }

    #[test]
    fn at_most_32000_value_characters() {
        // 100 values of 320 characters: exactly 32,000.
        assert!(apply_batch(&zone(), &texts(ChangeAction::Create, 100, 320), ANY).is_ok());
        let mut over = texts(ChangeAction::Create, 100, 320);
        over[99].record.values[0].push('x');
        let m = invalid(apply_batch(&zone(), &over, ANY));
        assert_eq!(m, ["RDATA character limit of 32000 exceeded."]);
    }

    #[test]
    fn upserts_count_their_characters_twice() {
        // 50 UPSERTs of 320 characters count 32,000; a 51st (counted 640) is over, as a CREATE
        // of the same would not be.
        assert!(apply_batch(&zone(), &texts(ChangeAction::Upsert, 50, 320), ANY).is_ok());
        assert!(apply_batch(&zone(), &texts(ChangeAction::Create, 51, 320), ANY).is_ok());
        let m = invalid(apply_batch(
            &zone(),
            &texts(ChangeAction::Upsert, 51, 320),
            ANY,
        ));
        assert_eq!(m, ["RDATA character limit of 32000 exceeded."]);
    }

    #[test]
    fn wildcard_names_use_route53_escapes() {
        assert_eq!(stored_name("\\052.Example.com"), "*.example.com.");
        assert_eq!(wire_name("*.example.com."), "\\052.example.com.");
    }
}
