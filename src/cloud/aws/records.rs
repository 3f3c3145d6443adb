//! Resource record sets between the SDK and the domain, field by field in both directions, so an
//! UPSERT of a record read from Route 53 sends back exactly what was read.

use aws_sdk_route53::types as sdk;

use crate::cloud::{AliasTarget, CidrRouting, GeoLocation, Geoproximity, RecordSet, fqdn};

/// The domain form of a record set as Route 53 returned it.
pub(crate) fn from_sdk(rrs: &sdk::ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: normalise_name(&rrs.name),
        rtype: rrs.r#type.as_str().to_string(),
        set_identifier: rrs.set_identifier.clone(),
        ttl: rrs.ttl,
        values: rrs
            .resource_records()
            .iter()
            .map(|rr| rr.value.clone())
            .collect(),
        weight: rrs.weight,
        region: rrs.region.as_ref().map(|r| r.as_str().to_string()),
        failover: rrs.failover.as_ref().map(|f| f.as_str().to_string()),
        health_check_id: rrs.health_check_id.clone(),
        multi_value_answer: rrs.multi_value_answer,
        geo_location: rrs.geo_location.as_ref().map(|g| GeoLocation {
            continent_code: g.continent_code.clone(),
            country_code: g.country_code.clone(),
            subdivision_code: g.subdivision_code.clone(),
        }),
        cidr_routing: rrs.cidr_routing_config.as_ref().map(|c| CidrRouting {
            collection_id: c.collection_id.clone(),
            location_name: c.location_name.clone(),
        }),
        geoproximity: rrs.geo_proximity_location.as_ref().map(|g| Geoproximity {
            aws_region: g.aws_region.clone(),
            local_zone_group: g.local_zone_group.clone(),
            bias: g.bias,
            latitude: g.coordinates.as_ref().map(|c| c.latitude.clone()),
            longitude: g.coordinates.as_ref().map(|c| c.longitude.clone()),
        }),
        alias_target: rrs.alias_target.as_ref().map(|a| AliasTarget {
            hosted_zone_id: a.hosted_zone_id.clone(),
            dns_name: a.dns_name.clone(),
            evaluate_target_health: a.evaluate_target_health,
        }),
        traffic_policy_instance_id: rrs.traffic_policy_instance_id.clone(),
    }
}

/// The SDK form of a domain record set. Fails only for what the API cannot express (a geoproximity
/// location with one coordinate) or an empty name or type.
pub(crate) fn to_sdk(record: &RecordSet) -> Result<sdk::ResourceRecordSet, String> {
    let geo_proximity_location = match &record.geoproximity {
        None => None,
        Some(g) => {
            let coordinates = match (&g.latitude, &g.longitude) {
                (Some(latitude), Some(longitude)) => Some(
                    sdk::Coordinates::builder()
                        .latitude(latitude)
                        .longitude(longitude)
                        .build()
                        .map_err(|e| e.to_string())?,
                ),
                (None, None) => None,
                _ => {
                    return Err(
                        "a geoproximity location needs both latitude and longitude, or neither"
                            .to_string(),
                    );
                }
            };
            Some(
                sdk::GeoProximityLocation::builder()
                    .set_aws_region(g.aws_region.clone())
                    .set_local_zone_group(g.local_zone_group.clone())
                    .set_bias(g.bias)
                    .set_coordinates(coordinates)
                    .build(),
            )
        }
    };
    let alias_target = match &record.alias_target {
        None => None,
        Some(a) => Some(
            sdk::AliasTarget::builder()
                .hosted_zone_id(&a.hosted_zone_id)
                .dns_name(&a.dns_name)
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    };
    let cidr_routing_config = match &record.cidr_routing {
        None => None,
        Some(c) => Some(
            sdk::CidrRoutingConfig::builder()
                .collection_id(&c.collection_id)
                .location_name(&c.location_name)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    };
    // Alias and traffic-policy records carry no ResourceRecords element at all: Route 53 rejects an
    // empty one.
    let resource_records = if record.values.is_empty() {
        None
    } else {
        Some(
            record
                .values
                .iter()
                .map(|v| sdk::ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?,
        )
    };
    if record.name.is_empty() || record.rtype.is_empty() {
        return Err("a record set needs a name and a type".to_string());
    }
    sdk::ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(sdk::RrType::from(record.rtype.as_str()))
        .set_set_identifier(record.set_identifier.clone())
        .set_weight(record.weight)
        .set_region(
            record
                .region
                .as_deref()
                .map(sdk::ResourceRecordSetRegion::from),
        )
        .set_geo_location(record.geo_location.as_ref().map(|g| {
            sdk::GeoLocation::builder()
                .set_continent_code(g.continent_code.clone())
                .set_country_code(g.country_code.clone())
                .set_subdivision_code(g.subdivision_code.clone())
                .build()
        }))
        .set_failover(
            record
                .failover
                .as_deref()
                .map(sdk::ResourceRecordSetFailover::from),
        )
        .set_multi_value_answer(record.multi_value_answer)
        .set_ttl(record.ttl)
        .set_resource_records(resource_records)
        .set_alias_target(alias_target)
        .set_health_check_id(record.health_check_id.clone())
        .set_traffic_policy_instance_id(record.traffic_policy_instance_id.clone())
        .set_cidr_routing_config(cidr_routing_config)
        .set_geo_proximity_location(geo_proximity_location)
        .build()
        .map_err(|e| e.to_string())
}

/// A name as Route 53 returns it (`\052.example.com.`, any case) in the domain's form
/// (`*.example.com.`): octal escapes decoded, lower case, one trailing dot.
pub(crate) fn normalise_name(name: &str) -> String {
    fqdn(&decode_octal_escapes(name))
}

/// Route 53 escapes characters outside `a-z0-9-_.` as `\NNN` (three octal digits).
fn decode_octal_escapes(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match escape.map(|d| {
            u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0')
        }) {
            Some(value) if value <= 0x7f => {
                out.push(value as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything() -> RecordSet {
        RecordSet {
            name: "api.example.com.".into(),
            rtype: "A".into(),
            set_identifier: Some("use1".into()),
            ttl: Some(60),
            values: vec!["192.0.2.10".into(), "192.0.2.11".into()],
            weight: Some(70),
            region: Some("us-east-1".into()),
            failover: Some("PRIMARY".into()),
            health_check_id: Some("0d7c8a4e-1111-2222-3333-444455556666".into()),
            multi_value_answer: Some(true),
            geo_location: Some(GeoLocation {
                continent_code: Some("EU".into()),
                country_code: Some("DE".into()),
                subdivision_code: Some("BY".into()),
            }),
            cidr_routing: Some(CidrRouting {
                collection_id: "c8c02a84-aaaa-bbbb-cccc-d1d2d3d4d5d6".into(),
                location_name: "office".into(),
            }),
            geoproximity: Some(Geoproximity {
                aws_region: Some("eu-central-1".into()),
                local_zone_group: Some("us-east-1-bos-1".into()),
                bias: Some(-12),
                latitude: Some("49.22".into()),
                longitude: Some("-74.01".into()),
            }),
            alias_target: Some(AliasTarget {
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                dns_name: "dualstack.app-123.us-east-1.elb.amazonaws.com.".into(),
                evaluate_target_health: true,
            }),
            traffic_policy_instance_id: Some("tpi-1".into()),
        }
    }

    #[test]
    fn a_fully_populated_record_survives_the_round_trip() {
        let record = everything();
        let sdk_record = to_sdk(&record).expect("converts");
        assert_eq!(from_sdk(&sdk_record), record);
        // And the SDK side is stable too: converting what we read sends back what we read.
        assert_eq!(
            to_sdk(&from_sdk(&sdk_record)).expect("converts"),
            sdk_record
        );
    }

    #[test]
    fn every_field_reaches_the_sdk_record() {
        let sdk_record = to_sdk(&everything()).expect("converts");
        assert_eq!(sdk_record.weight, Some(70));
        assert_eq!(
            sdk_record.region,
            Some(sdk::ResourceRecordSetRegion::UsEast1)
        );
        assert_eq!(
            sdk_record.failover,
            Some(sdk::ResourceRecordSetFailover::Primary)
        );
        assert_eq!(sdk_record.resource_records().len(), 2);
        let coordinates = sdk_record
            .geo_proximity_location
            .and_then(|g| g.coordinates)
            .expect("coordinates");
        assert_eq!(
            (
                coordinates.latitude.as_str(),
                coordinates.longitude.as_str()
            ),
            ("49.22", "-74.01")
        );
        assert_eq!(
            sdk_record.cidr_routing_config.map(|c| c.location_name),
            Some("office".to_string())
        );
    }

    #[test]
    fn an_alias_record_sends_no_resource_records() {
        let mut record = RecordSet::simple("www.example.com.", "A", 0, &[]);
        record.ttl = None;
        record.alias_target = everything().alias_target;
        let sdk_record = to_sdk(&record).expect("converts");
        assert_eq!(sdk_record.resource_records, None);
        assert_eq!(sdk_record.ttl, None);
        assert_eq!(from_sdk(&sdk_record), record);
    }

    #[test]
    fn half_a_coordinate_is_refused() {
        let mut record = everything();
        if let Some(g) = record.geoproximity.as_mut() {
            g.longitude = None;
        }
        let err = to_sdk(&record).expect_err("refused");
        assert!(err.contains("latitude and longitude"), "{err}");
    }

    #[test]
    fn names_are_decoded_and_normalised() {
        assert_eq!(normalise_name("\\052.Example.COM"), "*.example.com.");
        assert_eq!(normalise_name("api.example.com."), "api.example.com.");
        // Not an escape: kept as it is.
        assert_eq!(normalise_name("a\\09x.example.com."), "a\\09x.example.com.");
    }
}
