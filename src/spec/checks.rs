//! Checks of single values: names, identifiers, DNS names, durations. Each returns the normalised
//! value or a message that quotes the offending text; the caller adds the key and position.

use std::time::Duration;

use crate::cloud::fqdn;

use super::regions;

/// Drill and group names end up in reports, journals and lock names: keep them boring.
pub(super) fn name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let ok = s.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name \"{}\": use 1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit",
            s.escape_debug()
        ))
    }
}

/// An RDS identifier (global cluster or DB cluster): the rules `CreateDBCluster` enforces.
pub(super) fn rds_identifier(s: &str) -> Result<(), String> {
    let problem = if s.is_empty() {
        Some("must not be empty")
    } else if s.len() > 63 {
        Some("is longer than 63 characters")
    } else if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may contain only letters, digits and hyphens")
    } else if s.ends_with('-') || s.contains("--") {
        Some("must not end with a hyphen or contain two hyphens in a row")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("invalid identifier \"{}\": {p}", s.escape_debug())),
        None => Ok(()),
    }
}

/// How `database.secondary_cluster` names the cluster.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ClusterRef {
    Id,
    /// An ARN; the region it names.
    Arn {
        region: String,
    },
}

/// The parts of an ARN `arn:PARTITION:SERVICE:REGION:ACCOUNT:KIND:NAME` (NAME may hold colons).
pub(super) struct Arn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
}

/// Takes an ARN of `service` apart, checking the partition, the region (in that partition) and the
/// 12-digit account; `shape` is the form to show when it is not an ARN at all.
pub(super) fn arn<'a>(s: &'a str, service: &str, shape: &str) -> Result<Arn<'a>, String> {
    let parts: Vec<&str> = s.splitn(7, ':').collect();
    let [prefix, partition, svc, region, account, kind, name] = parts[..] else {
        return Err(format!("expected {shape}"));
    };
    if prefix != "arn" {
        return Err(format!("expected {shape}"));
    }
    if !regions::is_partition(partition) {
        return Err(format!("unknown partition \"{partition}\""));
    }
    if svc != service {
        return Err(format!("service is \"{svc}\", expected \"{service}\""));
    }
    let region_partition = regions::check(region)?;
    if region_partition != partition {
        return Err(format!(
            "region {region} is in partition {region_partition}, not {partition}"
        ));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("account \"{account}\" is not 12 digits"));
    }
    Ok(Arn {
        partition,
        region,
        kind,
        name,
    })
}

/// A cluster identifier, or an ARN `arn:PARTITION:rds:REGION:ACCOUNT:cluster:NAME`.
pub(super) fn cluster_ref(s: &str) -> Result<ClusterRef, String> {
    if !s.starts_with("arn:") {
        rds_identifier(s)?;
        return Ok(ClusterRef::Id);
    }
    let bad = |why: String| format!("invalid cluster ARN \"{}\": {why}", s.escape_debug());
    let arn = arn(s, "rds", "arn:aws:rds:REGION:ACCOUNT:cluster:NAME").map_err(bad)?;
    if arn.kind != "cluster" {
        return Err(bad(format!(
            "this is a \"{}\" ARN; name the Aurora DB cluster (arn:…:rds:REGION:ACCOUNT:cluster:NAME)",
            arn.kind
        )));
    }
    rds_identifier(arn.name).map_err(bad)?;
    Ok(ClusterRef::Arn {
        region: arn.region.to_string(),
    })
}

/// A DNS name as Route 53 takes it; returns it fully qualified and lower case. `*` is allowed as the
/// whole leftmost label when `wildcard` is true.
pub(super) fn dns_name(s: &str, wildcard: bool) -> Result<String, String> {
    let bad = |why: &str| Err(format!("invalid DNS name \"{}\": {why}", s.escape_debug()));
    if s.contains("://") || s.contains('/') {
        return bad("write the DNS name alone, not a URL");
    }
    if s.chars().any(char::is_whitespace) {
        return bad("contains whitespace");
    }
    let bare = s.strip_suffix('.').unwrap_or(s);
    if bare.is_empty() {
        return bad("is empty");
    }
    if bare.len() > 253 {
        return bad("is longer than 253 characters");
    }
    for (i, label) in bare.split('.').enumerate() {
        if label.is_empty() {
            return bad("has an empty label (two dots in a row?)");
        }
        if label.len() > 63 {
            return bad("has a label longer than 63 characters");
        }
        if label == "*" {
            if wildcard && i == 0 {
                continue;
            }
            return bad("`*` is only allowed as the leftmost label of a record name");
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return bad(&format!("contains {c:?}"));
        }
    }
    Ok(fqdn(s))
}

/// A hosted zone id (`Z…`), with or without the `/hostedzone/` prefix; returns the bare id.
pub(super) fn zone_id(s: &str) -> Result<String, String> {
    let id = s.strip_prefix("/hostedzone/").unwrap_or(s);
    let why = if id.starts_with("arn:") {
        "use the zone id (Z…), not its ARN"
    } else if id.contains('.') {
        "this looks like a zone name; write it as `zone = …` instead"
    } else if id.is_empty() || id.len() > 32 {
        "must be 1 to 32 characters"
    } else if !id.starts_with('Z')
        || !id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        "hosted zone ids are upper-case letters and digits starting with Z"
    } else {
        return Ok(id.to_string());
    };
    Err(format!(
        "invalid hosted zone id \"{}\": {why}",
        s.escape_debug()
    ))
}

/// A Route 53 health check id (a UUID in AWS).
pub(super) fn health_check_id(s: &str) -> Result<(), String> {
    let why = if s.starts_with("arn:") {
        "use the health check id, not its ARN"
    } else if s.is_empty() || s.len() > 64 {
        "must be 1 to 64 characters"
    } else if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        "may contain only letters, digits and hyphens"
    } else {
        return Ok(());
    };
    Err(format!(
        "invalid health check id \"{}\": {why}",
        s.escape_debug()
    ))
}

pub(super) fn set_identifier(s: &str) -> Result<(), String> {
    let why = if s.is_empty() || s.chars().count() > 128 {
        "must be 1 to 128 characters"
    } else if s.trim() != s {
        "has leading or trailing whitespace (Route 53 compares it exactly)"
    } else {
        return Ok(());
    };
    Err(format!(
        "invalid set_identifier \"{}\": {why}",
        s.escape_debug()
    ))
}

/// The record types Route 53 serves.
pub const RECORD_TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "TXT", "MX", "SRV", "NS", "PTR", "CAA", "SPF", "NAPTR", "DS", "TLSA",
    "SSHFP", "HTTPS", "SVCB",
];

/// Returns the type upper-cased.
pub(super) fn record_type(s: &str) -> Result<String, String> {
    let upper = s.to_ascii_uppercase();
    if RECORD_TYPES.contains(&upper.as_str()) {
        return Ok(upper);
    }
    let hint = match upper.as_str() {
        "ALIAS" => " (an alias record has the type of its target, usually A or AAAA)".to_string(),
        "SOA" => " (the SOA record has no routing a drill could change)".to_string(),
        _ => String::new(),
    };
    Err(format!(
        "unsupported record type \"{}\"{hint}; expected one of {}",
        s.escape_debug(),
        RECORD_TYPES.join(", ")
    ))
}

/// The longest duration any drill setting may take: a drill holds the lock and changed DNS the whole
/// time, so a day or more is almost certainly a typo (`10h` for `10m`, `5d` for `5m`).
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A humantime duration such as `90s`, `5m` or `1h 30m`.
pub(super) fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| {
        format!(
            "invalid duration \"{}\": {e}; write e.g. \"90s\", \"5m\" or \"1h 30m\"",
            s.escape_debug()
        )
    })?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration \"{}\" is longer than 24h; a drill holds its lock and changed DNS that whole time, so this is most likely a typo",
            s.escape_debug()
        ));
    }
    Ok(d)
}

/// A humantime duration that must be longer than zero.
pub(super) fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "duration \"{}\" must be longer than 0s",
            s.escape_debug()
        ));
    }
    Ok(d)
}

/// Formats a duration the way the file would write it (`5m`, `1h 30m`).
pub(super) fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_boring() {
        assert!(name("checkout").is_ok());
        assert!(name("0-api_v2").is_ok());
        assert!(name(&"a".repeat(63)).is_ok());
        assert!(name(&"a".repeat(64)).is_err());
        assert!(name("").is_err());
        assert!(name("Checkout").is_err());
        assert!(name("-x").is_err());
        assert!(name("check out").is_err());
    }

    #[test]
    fn rds_identifiers_follow_the_rds_rules() {
        assert!(rds_identifier("checkout-global").is_ok());
        assert!(rds_identifier("Checkout2").is_ok());
        for bad in ["", "1abc", "a_b", "a-", "a--b", &"a".repeat(64)] {
            assert!(rds_identifier(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cluster_arns_are_taken_apart() {
        assert_eq!(
            cluster_ref("arn:aws:rds:us-west-2:123456789012:cluster:checkout-usw2"),
            Ok(ClusterRef::Arn {
                region: "us-west-2".to_string()
            })
        );
        assert_eq!(
            cluster_ref("arn:aws-cn:rds:cn-north-1:123456789012:cluster:c"),
            Ok(ClusterRef::Arn {
                region: "cn-north-1".to_string()
            })
        );
        assert_eq!(cluster_ref("checkout-usw2"), Ok(ClusterRef::Id));
        let err = |s| cluster_ref(s).unwrap_err();
        assert!(err("arn:aws:rds:us-west-2:123456789012:db:x").contains("\"db\" ARN"));
        assert!(err("arn:aws:rds:us-west-2:1234:cluster:x").contains("12 digits"));
        assert!(err("arn:aws:ec2:us-west-2:123456789012:cluster:x").contains("\"rds\""));
        assert!(err("arn:aws:rds:cn-north-1:123456789012:cluster:x").contains("partition aws-cn"));
        assert!(err("arn:aws:rds:us-west-2:123456789012:cluster").contains("expected arn:aws"));
        assert!(err("arn:aws:rds:us-west-9:123456789012:cluster:x").contains("unknown AWS region"));
    }

    #[test]
    fn dns_names_are_normalised_and_checked() {
        assert_eq!(
            dns_name("API.Example.com", false).unwrap(),
            "api.example.com."
        );
        assert_eq!(
            dns_name("_sip._tcp.example.com.", false).unwrap(),
            "_sip._tcp.example.com."
        );
        assert_eq!(dns_name("*.example.com", true).unwrap(), "*.example.com.");
        assert!(dns_name("*.example.com", false).is_err());
        assert!(dns_name("a.*.example.com", true).is_err());
        assert!(
            dns_name("https://api.example.com", false)
                .unwrap_err()
                .contains("URL")
        );
        assert!(
            dns_name("api..example.com", false)
                .unwrap_err()
                .contains("empty label")
        );
        assert!(dns_name(".", false).is_err());
        assert!(dns_name("a b.com", false).is_err());
        assert!(dns_name(&format!("{}.com", "a".repeat(64)), false).is_err());
    }

    #[test]
    fn zone_ids_lose_their_prefix() {
        assert_eq!(zone_id("/hostedzone/Z0123ABC").unwrap(), "Z0123ABC");
        assert_eq!(zone_id("Z2FDTNDATAQYW2").unwrap(), "Z2FDTNDATAQYW2");
        assert!(zone_id("z0123abc").is_err());
        assert!(zone_id("example.com").unwrap_err().contains("zone name"));
        assert!(
            zone_id("arn:aws:route53:::hostedzone/Z1")
                .unwrap_err()
                .contains("ARN")
        );
    }

    #[test]
    fn record_types_are_upper_cased() {
        assert_eq!(record_type("aaaa").unwrap(), "AAAA");
        assert!(record_type("ALIAS").unwrap_err().contains("alias record"));
        assert!(record_type("SOA").is_err());
    }

    #[test]
    fn durations_quote_the_bad_text() {
        assert_eq!(duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(duration("0s").unwrap(), Duration::ZERO);
        assert!(
            duration("5")
                .unwrap_err()
                .starts_with("invalid duration \"5\"")
        );
        assert!(duration("2d").unwrap_err().contains("longer than 24h"));
        assert!(
            positive_duration("0s")
                .unwrap_err()
                .contains("longer than 0s")
        );
        assert_eq!(show(Duration::from_secs(5400)), "1h 30m");
    }

    #[test]
    fn set_identifiers_and_health_checks() {
        assert!(set_identifier("use1").is_ok());
        assert!(set_identifier("").is_err());
        assert!(set_identifier(" use1").is_err());
        assert!(set_identifier(&"x".repeat(129)).is_err());
        assert!(health_check_id("0a1b2c3d-1111-2222-3333-444455556666").is_ok());
        assert!(health_check_id("arn:aws:route53:::healthcheck/x").is_err());
        assert!(health_check_id("has space").is_err());
    }
}
