//! Route 53's REST-XML API over the lab's world: hosted zones, record sets (listing in Route 53's
//! order with its pagination, and validated change batches), changes, health checks and
//! TestDNSAnswer. Shapes follow the Route 53 API reference (`2013-04-01`).

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::http::Method;
use rand::Rng;

use super::answer::Outcome;
use super::endpoint::{AwsError, ROUTE53_NS};
use super::health::{CHECKER_REGIONS, HealthCheck};
use super::seed::bare_zone_id;
use super::wire::{percent_decode, timestamp};
use super::world::{ChangeRecord, HealthError, HealthUpdate, World};
use super::xml::{Element, XmlWriter};
use super::zones::{
    BatchError, NAME_SERVERS, SortKey, Zone, reversed_labels, stored_name, wire_name,
};
use crate::cloud::{
    AliasTarget, ChangeAction, ChangeStatus, CidrRouting, GeoLocation, Geoproximity, RecordChange,
    RecordSet, fqdn,
};

/// Route 53's operations, by method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    ListHostedZones,
    GetHostedZone(String),
    ListHostedZonesByName,
    GetHostedZoneCount,
    ListResourceRecordSets(String),
    ChangeResourceRecordSets(String),
    GetChange(String),
    ListHealthChecks,
    GetHealthCheck(String),
    UpdateHealthCheck(String),
    GetHealthCheckStatus(String),
    TestDnsAnswer,
    Unknown,
}

fn route(method: &Method, path: &str) -> Op {
    let rest = path.trim_start_matches("/2013-04-01");
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    match segs.as_slice() {
        ["hostedzone"] if get => Op::ListHostedZones,
        ["hostedzone", id] if get => Op::GetHostedZone(bare_zone_id(id)),
        ["hostedzonesbyname"] if get => Op::ListHostedZonesByName,
        ["hostedzonecount"] if get => Op::GetHostedZoneCount,
        ["hostedzone", id, "rrset"] if get => Op::ListResourceRecordSets(bare_zone_id(id)),
        ["hostedzone", id, "rrset"] if post => Op::ChangeResourceRecordSets(bare_zone_id(id)),
        ["change", id] if get => Op::GetChange(id.trim_start_matches("/change/").to_string()),
        ["healthcheck"] if get => Op::ListHealthChecks,
        ["healthcheck", id] if get => Op::GetHealthCheck(id.to_string()),
        ["healthcheck", id] if post => Op::UpdateHealthCheck(id.to_string()),
        ["healthcheck", id, "status"] if get => Op::GetHealthCheckStatus(id.to_string()),
        ["testdnsanswer"] if get => Op::TestDnsAnswer,
        _ => Op::Unknown,
    }
}

pub fn operation_name(method: &Method, path: &str) -> String {
    let name = match route(method, path) {
        Op::ListHostedZones => "ListHostedZones",
        Op::GetHostedZone(_) => "GetHostedZone",
        Op::ListHostedZonesByName => "ListHostedZonesByName",
        Op::GetHostedZoneCount => "GetHostedZoneCount",
        Op::ListResourceRecordSets(_) => "ListResourceRecordSets",
        Op::ChangeResourceRecordSets(_) => "ChangeResourceRecordSets",
        Op::GetChange(_) => "GetChange",
        Op::ListHealthChecks => "ListHealthChecks",
        Op::GetHealthCheck(_) => "GetHealthCheck",
        Op::UpdateHealthCheck(_) => "UpdateHealthCheck",
        Op::GetHealthCheckStatus(_) => "GetHealthCheckStatus",
        Op::TestDnsAnswer => "TestDNSAnswer",
        Op::Unknown => return format!("{method} {path}"),
    };
    name.to_string()
}

type Query = BTreeMap<String, String>;

pub fn execute(
    world: &mut World,
    method: &Method,
    path: &str,
    query: &Query,
    body: &[u8],
    resource: &mut String,
) -> Result<String, AwsError> {
    match route(method, path) {
        Op::ListHostedZones => list_hosted_zones(world, query),
        Op::GetHostedZone(id) => {
            *resource = id.clone();
            get_hosted_zone(world, &id)
        }
        Op::ListHostedZonesByName => list_hosted_zones_by_name(world, query),
        Op::GetHostedZoneCount => {
            let mut w = XmlWriter::document("GetHostedZoneCountResponse", ROUTE53_NS);
            w.leaf("HostedZoneCount", world.zones.len().to_string());
            Ok(w.finish())
        }
        Op::ListResourceRecordSets(id) => {
            *resource = id.clone();
            list_resource_record_sets(world, &id, query)
        }
        Op::ChangeResourceRecordSets(id) => {
            *resource = id.clone();
            change_resource_record_sets(world, &id, body)
        }
        Op::GetChange(id) => {
            *resource = id.clone();
            let change = world.changes.get(&id).ok_or_else(|| {
                AwsError::new(
                    "NoSuchChange",
                    format!("A change with the specified change ID does not exist: {id}"),
                )
            })?;
            let mut w = XmlWriter::document("GetChangeResponse", ROUTE53_NS);
            change_info(&mut w, change);
            Ok(w.finish())
        }
        Op::ListHealthChecks => list_health_checks(world, query),
        Op::GetHealthCheck(id) => {
            *resource = id.clone();
            let hc = health_check(world, &id)?;
            let mut w = XmlWriter::document("GetHealthCheckResponse", ROUTE53_NS);
            health_check_xml(&mut w, hc);
            Ok(w.finish())
        }
        Op::UpdateHealthCheck(id) => {
            *resource = id.clone();
            update_health_check(world, &id, body)
        }
        Op::GetHealthCheckStatus(id) => {
            *resource = id.clone();
            get_health_check_status(world, &id)
        }
        Op::TestDnsAnswer => test_dns_answer(world, query, resource),
        Op::Unknown => Err(AwsError::new(
            "InvalidAction",
            format!("The action {method} {path} is not valid for this web service."),
        )),
    }
}

fn no_zone(id: &str) -> AwsError {
    AwsError::new(
        "NoSuchHostedZone",
        format!("No hosted zone found with ID: {id}"),
    )
}

fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", message)
}

fn max_items(query: &Query, default: usize, cap: usize) -> Result<usize, AwsError> {
    match query.get("maxitems") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .map(|n| n.min(cap))
            .ok_or_else(|| invalid_input(format!("Invalid value for MaxItems: {v}"))),
    }
}

fn zone_xml(w: &mut XmlWriter, zone: &Zone) {
    w.open("HostedZone")
        .leaf("Id", format!("/hostedzone/{}", zone.id))
        .leaf("Name", &zone.name)
        .leaf("CallerReference", &zone.caller_reference)
        .open("Config")
        .leaf_opt("Comment", zone.comment.as_deref())
        .leaf("PrivateZone", "false")
        .close()
        .leaf("ResourceRecordSetCount", zone.records.len().to_string())
        .close();
}

fn get_hosted_zone(world: &World, id: &str) -> Result<String, AwsError> {
    let zone = world.zones.get(id).ok_or_else(|| no_zone(id))?;
    let mut w = XmlWriter::document("GetHostedZoneResponse", ROUTE53_NS);
    zone_xml(&mut w, zone);
    w.open("DelegationSet").open("NameServers");
    for ns in NAME_SERVERS {
        w.leaf("NameServer", ns.trim_end_matches('.'));
    }
    w.close().close();
    Ok(w.finish())
}

fn list_hosted_zones(world: &World, query: &Query) -> Result<String, AwsError> {
    let max = max_items(query, 100, 100)?;
    let marker = query.get("marker").map(|m| bare_zone_id(m));
    let zones: Vec<&Zone> = world
        .zones
        .values()
        .filter(|z| marker.as_ref().is_none_or(|m| z.id >= *m))
        .collect();
    let mut w = XmlWriter::document("ListHostedZonesResponse", ROUTE53_NS);
    w.open("HostedZones");
    for z in zones.iter().take(max) {
        zone_xml(&mut w, z);
    }
    w.close();
    let truncated = zones.len() > max;
    w.leaf("Marker", marker.unwrap_or_default())
        .leaf("IsTruncated", truncated.to_string());
    if truncated {
        w.leaf("NextMarker", &zones[max].id);
    }
    w.leaf("MaxItems", max.to_string());
    Ok(w.finish())
}

fn list_hosted_zones_by_name(world: &World, query: &Query) -> Result<String, AwsError> {
    let max = max_items(query, 100, 100)?;
    let dns_name = query.get("dnsname").map(|n| fqdn(n));
    let zone_id = query.get("hostedzoneid").map(|z| bare_zone_id(z));
    if zone_id.is_some() && dns_name.is_none() {
        return Err(invalid_input("HostedZoneId requires DNSName"));
    }
    let mut zones: Vec<&Zone> = world.zones.values().collect();
    zones.sort_by_key(|z| (reversed_labels(&z.name), z.id.clone()));
    let start = dns_name
        .as_ref()
        .map(|n| (reversed_labels(n), zone_id.clone().unwrap_or_default()));
    let zones: Vec<&Zone> = zones
        .into_iter()
        .filter(|z| {
            start
                .as_ref()
                .is_none_or(|s| (reversed_labels(&z.name), z.id.clone()) >= *s)
        })
        .collect();
    let mut w = XmlWriter::document("ListHostedZonesByNameResponse", ROUTE53_NS);
    w.open("HostedZones");
    for z in zones.iter().take(max) {
        zone_xml(&mut w, z);
    }
    w.close();
    w.leaf_opt("DNSName", dns_name.as_deref())
        .leaf_opt("HostedZoneId", zone_id.as_deref());
    let truncated = zones.len() > max;
    w.leaf("IsTruncated", truncated.to_string());
    if truncated {
        w.leaf("NextDNSName", &zones[max].name)
            .leaf("NextHostedZoneId", &zones[max].id);
    }
    w.leaf("MaxItems", max.to_string());
    Ok(w.finish())
}

fn list_resource_record_sets(world: &World, id: &str, query: &Query) -> Result<String, AwsError> {
    let zone = world.zones.get(id).ok_or_else(|| no_zone(id))?;
    let max = max_items(query, 300, 300)?;
    let name = query.get("name").map(|n| stored_name(n));
    let rtype = query.get("type").map(|t| t.to_ascii_uppercase());
    let identifier = query.get("identifier").cloned();
    if rtype.is_some() && name.is_none() {
        return Err(invalid_input(
            "The input is not valid: a record type requires a record name",
        ));
    }
    if identifier.is_some() && rtype.is_none() {
        return Err(invalid_input(
            "The input is not valid: an identifier requires a record name and type",
        ));
    }
    let start = match (&name, &rtype) {
        (Some(n), t) => Bound::Included(SortKey {
            labels: reversed_labels(n),
            rtype: t.clone().unwrap_or_default(),
            set_identifier: identifier,
        }),
        (None, _) => Bound::Unbounded,
    };
    let mut page = zone.records.range((start, Bound::Unbounded));
    let mut w = XmlWriter::document("ListResourceRecordSetsResponse", ROUTE53_NS);
    w.open("ResourceRecordSets");
    for (_, r) in page.by_ref().take(max) {
        record_xml(&mut w, r);
    }
    w.close();
    match page.next() {
        Some((_, next)) => {
            w.leaf("IsTruncated", "true")
                .leaf("NextRecordName", wire_name(&next.name))
                .leaf("NextRecordType", &next.rtype)
                .leaf_opt("NextRecordIdentifier", next.set_identifier.as_deref());
        }
        None => {
            w.leaf("IsTruncated", "false");
        }
    }
    w.leaf("MaxItems", max.to_string());
    Ok(w.finish())
}

fn record_xml(w: &mut XmlWriter, r: &RecordSet) {
    w.open("ResourceRecordSet")
        .leaf("Name", wire_name(&r.name))
        .leaf("Type", &r.rtype)
        .leaf_opt("SetIdentifier", r.set_identifier.as_deref())
        .leaf_opt("Weight", r.weight.map(|v| v.to_string()))
        .leaf_opt("Region", r.region.as_deref());
    if let Some(g) = &r.geo_location {
        w.open("GeoLocation")
            .leaf_opt("ContinentCode", g.continent_code.as_deref())
            .leaf_opt("CountryCode", g.country_code.as_deref())
            .leaf_opt("SubdivisionCode", g.subdivision_code.as_deref())
            .close();
    }
    w.leaf_opt("Failover", r.failover.as_deref())
        .leaf_opt(
            "MultiValueAnswer",
            r.multi_value_answer.map(|v| v.to_string()),
        )
        .leaf_opt("TTL", r.ttl.map(|v| v.to_string()));
    if !r.values.is_empty() {
        w.open("ResourceRecords");
        for v in &r.values {
            w.open("ResourceRecord").leaf("Value", v).close();
        }
        w.close();
    }
    if let Some(a) = &r.alias_target {
        w.open("AliasTarget")
            .leaf("HostedZoneId", &a.hosted_zone_id)
            .leaf("DNSName", &a.dns_name)
            .leaf("EvaluateTargetHealth", a.evaluate_target_health.to_string())
            .close();
    }
    w.leaf_opt("HealthCheckId", r.health_check_id.as_deref())
        .leaf_opt(
            "TrafficPolicyInstanceId",
            r.traffic_policy_instance_id.as_deref(),
        );
    if let Some(c) = &r.cidr_routing {
        w.open("CidrRoutingConfig")
            .leaf("CollectionId", &c.collection_id)
            .leaf("LocationName", &c.location_name)
            .close();
    }
    if let Some(g) = &r.geoproximity {
        w.open("GeoProximityLocation")
            .leaf_opt("AWSRegion", g.aws_region.as_deref())
            .leaf_opt("LocalZoneGroup", g.local_zone_group.as_deref());
        if g.latitude.is_some() || g.longitude.is_some() {
            w.open("Coordinates")
                .leaf_opt("Latitude", g.latitude.as_deref())
                .leaf_opt("Longitude", g.longitude.as_deref())
                .close();
        }
        w.leaf_opt("Bias", g.bias.map(|b| b.to_string())).close();
    }
    w.close();
}

fn parse_bool(field: &str, v: &str) -> Result<bool, AwsError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_input(format!(
            "Invalid value '{v}' for {field}: expected true or false"
        ))),
    }
}

fn parse_num<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, AwsError> {
    v.parse().map_err(|_| {
        invalid_input(format!(
            "Invalid value '{v}' for {field}: expected a number"
        ))
    })
}

fn parse_record(e: &Element) -> Result<RecordSet, AwsError> {
    let name = e
        .text_of("Name")
        .ok_or_else(|| invalid_input("ResourceRecordSet is missing Name"))?;
    let rtype = e
        .text_of("Type")
        .ok_or_else(|| invalid_input("ResourceRecordSet is missing Type"))?;
    let opt = |n: &str| e.text_of(n).map(str::to_string);
    let mut r = RecordSet::simple(&stored_name(name), rtype, 0, &[]);
    r.ttl = e.text_of("TTL").map(|v| parse_num("TTL", v)).transpose()?;
    r.set_identifier = opt("SetIdentifier");
    r.weight = e
        .text_of("Weight")
        .map(|v| parse_num("Weight", v))
        .transpose()?;
    r.region = opt("Region");
    r.failover = opt("Failover");
    r.multi_value_answer = e
        .text_of("MultiValueAnswer")
        .map(|v| parse_bool("MultiValueAnswer", v))
        .transpose()?;
    r.health_check_id = opt("HealthCheckId");
    r.traffic_policy_instance_id = opt("TrafficPolicyInstanceId");
    r.values = e
        .child("ResourceRecords")
        .map(|rr| {
            rr.children_named("ResourceRecord")
                .filter_map(|x| x.text_of("Value").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(g) = e.child("GeoLocation") {
        r.geo_location = Some(GeoLocation {
            continent_code: g.text_of("ContinentCode").map(str::to_string),
            country_code: g.text_of("CountryCode").map(str::to_string),
            subdivision_code: g.text_of("SubdivisionCode").map(str::to_string),
        });
    }
    if let Some(a) = e.child("AliasTarget") {
        r.alias_target = Some(AliasTarget {
            hosted_zone_id: a.text_of("HostedZoneId").unwrap_or_default().to_string(),
            dns_name: fqdn(a.text_of("DNSName").unwrap_or_default()),
            evaluate_target_health: parse_bool(
                "EvaluateTargetHealth",
                a.text_of("EvaluateTargetHealth").unwrap_or("false"),
            )?,
        });
    }
    if let Some(c) = e.child("CidrRoutingConfig") {
        r.cidr_routing = Some(CidrRouting {
            collection_id: c.text_of("CollectionId").unwrap_or_default().to_string(),
            location_name: c.text_of("LocationName").unwrap_or_default().to_string(),
        });
    }
    if let Some(g) = e.child("GeoProximityLocation") {
        let coords = g.child("Coordinates");
        r.geoproximity = Some(Geoproximity {
            aws_region: g.text_of("AWSRegion").map(str::to_string),
            local_zone_group: g.text_of("LocalZoneGroup").map(str::to_string),
            bias: g
                .text_of("Bias")
                .map(|v| parse_num("Bias", v))
                .transpose()?,
            latitude: coords
                .and_then(|c| c.text_of("Latitude"))
                .map(str::to_string),
            longitude: coords
                .and_then(|c| c.text_of("Longitude"))
                .map(str::to_string),
        });
    }
    Ok(r)
}

fn change_resource_record_sets(
    world: &mut World,
    id: &str,
    body: &[u8],
) -> Result<String, AwsError> {
    if !world.zones.contains_key(id) {
        return Err(no_zone(id));
    }
    let root = Element::parse(body).map_err(|e| {
        AwsError::new(
            "MalformedInput",
            format!("Unable to parse the request: {e}"),
        )
    })?;
    if root.name != "ChangeResourceRecordSetsRequest" {
        return Err(AwsError::new(
            "MalformedInput",
            format!(
                "{} is not valid, expected ChangeResourceRecordSetsRequest",
                root.name
            ),
        ));
    }
    let batch = root
        .child("ChangeBatch")
        .ok_or_else(|| invalid_input("ChangeBatch is required"))?;
    let comment = batch.text_of("Comment").map(str::to_string);
    let mut changes = Vec::new();
    for c in batch
        .child("Changes")
        .map(|c| c.children_named("Change").collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let action = match c.text_of("Action") {
            Some("CREATE") => ChangeAction::Create,
            Some("UPSERT") => ChangeAction::Upsert,
            Some("DELETE") => ChangeAction::Delete,
            other => {
                return Err(invalid_input(format!(
                    "1 validation error detected: Value '{}' at 'changeBatch.changes.{}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [DELETE, CREATE, UPSERT]",
                    other.unwrap_or("null"),
                    changes.len() + 1
                )));
            }
        };
        let record = parse_record(
            c.child("ResourceRecordSet")
                .ok_or_else(|| invalid_input("Change is missing ResourceRecordSet"))?,
        )?;
        changes.push(RecordChange { action, record });
    }
    let change = world
        .change_records(id, &changes, comment)
        .map_err(|e| match e {
            BatchError::Invalid(messages) => {
                AwsError::new("InvalidChangeBatch", format!("[{}]", messages.join(", ")))
            }
            BatchError::Input(message) => invalid_input(message),
            BatchError::NoHealthCheck(hc) => AwsError::new(
                "NoSuchHealthCheck",
                format!("No health check exists with the specified ID {hc}"),
            ),
        })?;
    let mut w = XmlWriter::document("ChangeResourceRecordSetsResponse", ROUTE53_NS);
    change_info(&mut w, &change);
    Ok(w.finish())
}

fn change_info(w: &mut XmlWriter, c: &ChangeRecord) {
    let status = match c.status {
        ChangeStatus::Pending => "PENDING",
        ChangeStatus::Insync => "INSYNC",
    };
    w.open("ChangeInfo")
        .leaf("Id", format!("/change/{}", c.id))
        .leaf("Status", status)
        .leaf("SubmittedAt", timestamp(c.submitted_at))
        .leaf_opt("Comment", c.comment.as_deref())
        .close();
}

fn health_check<'w>(world: &'w World, id: &str) -> Result<&'w HealthCheck, AwsError> {
    world.health.get(id).ok_or_else(|| {
        AwsError::new(
            "NoSuchHealthCheck",
            format!("A health check with id {id} does not exist."),
        )
    })
}

fn health_check_xml(w: &mut XmlWriter, hc: &HealthCheck) {
    w.open("HealthCheck")
        .leaf("Id", &hc.id)
        .leaf("CallerReference", &hc.caller_reference)
        .open("HealthCheckConfig")
        .leaf_opt("IPAddress", hc.ip.map(|ip| ip.to_string()))
        .leaf("Port", hc.port.to_string())
        .leaf("Type", &hc.kind)
        .leaf_opt("ResourcePath", hc.resource_path.as_deref())
        .leaf_opt("FullyQualifiedDomainName", hc.fqdn.as_deref())
        .leaf("RequestInterval", hc.request_interval.to_string())
        .leaf("FailureThreshold", hc.failure_threshold.to_string())
        .leaf("MeasureLatency", "false")
        .leaf("Inverted", hc.inverted.to_string())
        .leaf("Disabled", hc.disabled.to_string())
        .leaf("EnableSNI", "false")
        .close()
        .leaf("HealthCheckVersion", hc.version.to_string())
        .close();
}

fn list_health_checks(world: &World, query: &Query) -> Result<String, AwsError> {
    let max = max_items(query, 100, 1000)?;
    let marker = query.get("marker").cloned();
    let checks: Vec<&HealthCheck> = world
        .health
        .values()
        .filter(|h| marker.as_ref().is_none_or(|m| h.id >= *m))
        .collect();
    let mut w = XmlWriter::document("ListHealthChecksResponse", ROUTE53_NS);
    w.open("HealthChecks");
    for hc in checks.iter().take(max) {
        health_check_xml(&mut w, hc);
    }
    w.close();
    let truncated = checks.len() > max;
    w.leaf("Marker", marker.unwrap_or_default())
        .leaf("IsTruncated", truncated.to_string());
    if truncated {
        w.leaf("NextMarker", &checks[max].id);
    }
    w.leaf("MaxItems", max.to_string());
    Ok(w.finish())
}

fn update_health_check(world: &mut World, id: &str, body: &[u8]) -> Result<String, AwsError> {
    health_check(world, id)?;
    let root = Element::parse(body).map_err(|e| {
        AwsError::new(
            "MalformedInput",
            format!("Unable to parse the request: {e}"),
        )
    })?;
    let text = |n: &str| root.text_of(n);
    let update = HealthUpdate {
        version: text("HealthCheckVersion")
            .map(|v| parse_num("HealthCheckVersion", v))
            .transpose()?,
        inverted: text("Inverted")
            .map(|v| parse_bool("Inverted", v))
            .transpose()?,
        disabled: text("Disabled")
            .map(|v| parse_bool("Disabled", v))
            .transpose()?,
        ip: text("IPAddress")
            .map(|v| {
                v.parse()
                    .map_err(|_| invalid_input(format!("Invalid IP address: {v}")))
            })
            .transpose()?,
        port: text("Port").map(|v| parse_num("Port", v)).transpose()?,
        resource_path: text("ResourcePath").map(str::to_string),
        fqdn: text("FullyQualifiedDomainName").map(str::to_string),
        failure_threshold: text("FailureThreshold")
            .map(|v| parse_num("FailureThreshold", v))
            .transpose()?,
    };
    let hc = world.update_health_check(id, update).map_err(|e| match e {
        HealthError::NotFound => AwsError::new("NoSuchHealthCheck", format!("A health check with id {id} does not exist.")),
        HealthError::VersionMismatch => AwsError::new(
            "HealthCheckVersionMismatch",
            "The value of HealthCheckVersion in the request doesn't match the value of HealthCheckVersion in the health check.",
        ),
    })?;
    let mut w = XmlWriter::document("UpdateHealthCheckResponse", ROUTE53_NS);
    health_check_xml(&mut w, &hc);
    Ok(w.finish())
}

fn get_health_check_status(world: &World, id: &str) -> Result<String, AwsError> {
    let hc = health_check(world, id)?;
    let checked = timestamp(world.truth.at(world.now));
    let mut w = XmlWriter::document("GetHealthCheckStatusResponse", ROUTE53_NS);
    w.open("HealthCheckObservations");
    for (i, region) in CHECKER_REGIONS.iter().enumerate() {
        w.open("HealthCheckObservation")
            .leaf("Region", *region)
            .leaf("IPAddress", format!("127.0.1.{}", i + 1))
            .open("StatusReport")
            .leaf("Status", &hc.observed.status)
            .leaf("CheckedTime", &checked)
            .close()
            .close();
    }
    w.close();
    Ok(w.finish())
}

fn test_dns_answer(
    world: &mut World,
    query: &Query,
    resource: &mut String,
) -> Result<String, AwsError> {
    let required = |n: &str| {
        query
            .get(n)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid_input(format!("The input is not valid: {n} is required")))
    };
    let zone_id = bare_zone_id(required("hostedzoneid")?);
    let name = stored_name(required("recordname")?);
    let rtype = required("recordtype")?.to_ascii_uppercase();
    *resource = format!("{zone_id} {name} {rtype}");
    let zone = world.zones.get(&zone_id).ok_or_else(|| no_zone(&zone_id))?;
    if !zone.contains(&name) {
        return Err(invalid_input(format!(
            "The record name {name} is not in hosted zone {}",
            zone.name
        )));
    }
    let client = ["edns0clientsubnetip", "resolverip"]
        .iter()
        .find_map(|k| query.get(*k).and_then(|ip| ip.parse().ok()))
        .and_then(|ip| world.region_of_ip(ip));
    // Pre-roll the dice: the authority borrows the world while it answers.
    let rolls: Vec<f64> = (0..8).map(|_| world.rng.random::<f64>()).collect();
    let mut rolls = rolls.into_iter();
    let mut pick = |weights: &[i64]| weighted_index(weights, rolls.next().unwrap_or(0.0));
    let outcome = world
        .authority()
        .resolve(&name, &rtype, client.as_deref(), &mut pick);
    let data: Vec<String> = match &outcome {
        Outcome::Answer { records, .. } => records
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.value.clone())
            .collect(),
        _ => Vec::new(),
    };
    let mut w = XmlWriter::document("TestDNSAnswerResponse", ROUTE53_NS);
    w.leaf("Nameserver", NAME_SERVERS[0].trim_end_matches('.'))
        .leaf("RecordName", wire_name(&name))
        .leaf("RecordType", &rtype)
        .open("RecordData");
    for d in data {
        w.leaf("RecordDataEntry", d);
    }
    w.close()
        .leaf("ResponseCode", outcome.rcode())
        .leaf("Protocol", "UDP");
    Ok(w.finish())
}

/// Picks an index with probability proportional to its weight, from a uniform roll in [0, 1).
pub fn weighted_index(weights: &[i64], roll: f64) -> usize {
    let total: i64 = weights.iter().map(|w| (*w).max(0)).sum();
    if total <= 0 {
        return 0;
    }
    let mut target = roll * total as f64;
    for (i, w) in weights.iter().enumerate() {
        let w = (*w).max(0) as f64;
        if target < w {
            return i;
        }
        target -= w;
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_route53_paths() {
        assert_eq!(
            route(&Method::GET, "/2013-04-01/hostedzone/Z1"),
            Op::GetHostedZone("Z1".into())
        );
        assert_eq!(
            route(&Method::POST, "/2013-04-01/hostedzone/Z1/rrset/"),
            Op::ChangeResourceRecordSets("Z1".into())
        );
        assert_eq!(
            route(&Method::GET, "/2013-04-01/change/C1"),
            Op::GetChange("C1".into())
        );
        assert_eq!(
            route(&Method::GET, "/2013-04-01/healthcheck/hc/status"),
            Op::GetHealthCheckStatus("hc".into())
        );
        assert_eq!(
            route(&Method::DELETE, "/2013-04-01/hostedzone/Z1"),
            Op::Unknown
        );
        assert_eq!(
            route(&Method::GET, "/2013-04-01/trafficpolicy"),
            Op::Unknown
        );
    }

    #[test]
    fn weighted_index_follows_weights() {
        assert_eq!(weighted_index(&[100, 0], 0.99), 0);
        assert_eq!(weighted_index(&[0, 100], 0.0), 1);
        assert_eq!(weighted_index(&[1, 3], 0.2), 0);
        assert_eq!(weighted_index(&[1, 3], 0.3), 1);
        assert_eq!(weighted_index(&[0, 0], 0.5), 0);
    }

    #[test]
    fn parses_a_record_set_with_routing() {
        let doc = br#"<ResourceRecordSet><Name>\052.example.com</Name><Type>A</Type><SetIdentifier>east</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>127.0.0.11</Value></ResourceRecord></ResourceRecords><HealthCheckId>hc</HealthCheckId></ResourceRecordSet>"#;
        let r = parse_record(&Element::parse(doc).unwrap()).unwrap();
        assert_eq!(r.name, "*.example.com.");
        assert_eq!(r.weight, Some(10));
        assert_eq!(r.ttl, Some(60));
        assert_eq!(r.values, ["127.0.0.11"]);
        assert_eq!(r.health_check_id.as_deref(), Some("hc"));
        let mut w = XmlWriter::document("X", ROUTE53_NS);
        record_xml(&mut w, &r);
        let back = Element::parse(w.finish().as_bytes()).unwrap();
        let again = parse_record(back.child("ResourceRecordSet").unwrap()).unwrap();
        assert_eq!(again, r);
    }
}
