//! The `Route53` trait over aws-sdk-route53: hosted zones, record sets, changes and health checks.
//! Pacing and retries live in the client (see `pacing` and `connect`), not here.

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types as sdk;

use super::batches::batches;
use super::errors::{from_sdk, invalid_input, malformed};
use super::records;
use crate::cloud::{
    ChangeAction, ChangeInfo, ChangeStatus, CloudError, DnsAnswer, HealthCheck,
    HealthCheckSettings, HealthCheckStatus, HostedZone, NameSpan, RecordChange, RecordKey,
    RecordSet, Route53, ZoneRef, fqdn,
};

/// More pages than any real zone needs for one name and type; a server that keeps answering
/// "truncated" past this is looping.
const MAX_PAGES: usize = 1_000;

pub(crate) struct AwsRoute53 {
    client: Client,
}

impl AwsRoute53 {
    pub(crate) fn new(client: Client) -> Self {
        AwsRoute53 { client }
    }

    async fn zone_by_id(&self, id: &str) -> Result<HostedZone, CloudError> {
        let id = bare_zone_id(id);
        let resource = format!("hosted zone {id}");
        let out = self
            .client
            .get_hosted_zone()
            .id(id)
            .send()
            .await
            .map_err(|e| from_sdk("GetHostedZone", &resource, e))?;
        let zone = out
            .hosted_zone
            .ok_or_else(|| malformed("GetHostedZone", &resource, "the answer has no HostedZone"))?;
        let name_servers = out
            .delegation_set
            .map(|d| d.name_servers)
            .unwrap_or_default();
        Ok(hosted_zone(&zone, name_servers))
    }

    async fn zone_by_name(&self, name: &str) -> Result<HostedZone, CloudError> {
        let name = fqdn(name);
        let resource = format!("zone {name}");
        let mut matches = Vec::new();
        let mut next_id: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_hosted_zones_by_name()
                .dns_name(&name)
                .set_hosted_zone_id(next_id.take())
                .send()
                .await
                .map_err(|e| from_sdk("ListHostedZonesByName", &resource, e))?;
            // The list starts at `name` in Route 53's order; only exact names count.
            matches.extend(
                out.hosted_zones()
                    .iter()
                    .filter(|z| records::normalise_name(&z.name) == name)
                    .cloned(),
            );
            let more_with_this_name = out.is_truncated
                && out
                    .next_dns_name
                    .as_deref()
                    .is_some_and(|n| records::normalise_name(n) == name);
            if !more_with_this_name {
                return match matches.as_slice() {
                    [] => Err(CloudError::NotFound {
                        resource: format!("hosted zone named {name}"),
                        code: "NoSuchHostedZone".to_string(),
                    }),
                    // ListHostedZonesByName has no delegation set: ask for the zone itself.
                    [zone] => self.zone_by_id(&zone.id).await,
                    several => {
                        let ids: Vec<&str> = several.iter().map(|z| bare_zone_id(&z.id)).collect();
                        Err(CloudError::Api {
                            operation: "ListHostedZonesByName".to_string(),
                            resource,
                            code: "AmbiguousZoneName".to_string(),
                            message: format!(
                                "{} hosted zones are named {name} ({}); name the zone by id",
                                ids.len(),
                                ids.join(", ")
                            ),
                        })
                    }
                };
            }
            next_id = out.next_hosted_zone_id;
        }
        Err(malformed(
            "ListHostedZonesByName",
            resource,
            "the listing did not end after 1000 pages",
        ))
    }
}

#[async_trait]
impl Route53 for AwsRoute53 {
    async fn find_zone(&self, zone: &ZoneRef) -> Result<HostedZone, CloudError> {
        match zone {
            ZoneRef::Id(id) => self.zone_by_id(id).await,
            ZoneRef::Name(name) => self.zone_by_name(name).await,
        }
    }

    async fn list_zones(&self) -> Result<Vec<HostedZone>, CloudError> {
        let resource = "hosted zones";
        let mut zones = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_hosted_zones()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| from_sdk("ListHostedZones", resource, e))?;
            zones.extend(
                out.hosted_zones()
                    .iter()
                    .map(|z| hosted_zone(z, Vec::new())),
            );
            match (out.is_truncated, out.next_marker) {
                (true, Some(next)) => marker = Some(next),
                _ => return Ok(zones),
            }
        }
        Err(malformed(
            "ListHostedZones",
            resource,
            "the listing did not end after 1000 pages",
        ))
    }

    async fn get_record(&self, key: &RecordKey) -> Result<Option<RecordSet>, CloudError> {
        let zone_id = bare_zone_id(&key.zone_id);
        let name = records::normalise_name(&key.name);
        let resource = key.to_string();
        let same_name_and_type = |n: &str, t: &str| {
            records::normalise_name(n) == name && t.eq_ignore_ascii_case(&key.rtype)
        };
        let mut start = (
            name.clone(),
            key.rtype.to_ascii_uppercase(),
            key.set_identifier.clone(),
        );
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(&start.0)
                .start_record_type(sdk::RrType::from(start.1.as_str()))
                .set_start_record_identifier(start.2.clone())
                .send()
                .await
                .map_err(|e| from_sdk("ListResourceRecordSets", &resource, e))?;
            for rrs in out.resource_record_sets() {
                if !same_name_and_type(&rrs.name, rrs.r#type.as_str()) {
                    // The listing is ordered and started at this name and type: we are past it.
                    return Ok(None);
                }
                if rrs.set_identifier == key.set_identifier {
                    return Ok(Some(records::from_sdk(rrs)));
                }
            }
            let next = match (out.is_truncated, out.next_record_name, out.next_record_type) {
                (true, Some(n), Some(t)) if same_name_and_type(&n, t.as_str()) => {
                    (n, t.as_str().to_string(), out.next_record_identifier)
                }
                _ => return Ok(None),
            };
            if next == start {
                return Err(malformed(
                    "ListResourceRecordSets",
                    resource,
                    "the listing's next page starts where this one did",
                ));
            }
            start = next;
        }
        Err(malformed(
            "ListResourceRecordSets",
            resource,
            "the listing did not end after 1000 pages",
        ))
    }

    async fn list_records(
        &self,
        zone_id: &str,
        span: &NameSpan,
    ) -> Result<Vec<RecordSet>, CloudError> {
        let zone_id = bare_zone_id(zone_id);
        let resource = format!("zone {zone_id}");
        let mut out = Vec::new();
        // (name, type, identifier) of the next page; the first page starts at the span's name.
        let mut start: Option<(String, Option<sdk::RrType>, Option<String>)> = span
            .from
            .as_ref()
            .map(|n| (records::normalise_name(n), None, None));
        for _ in 0..MAX_PAGES {
            let mut request = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .max_items(300);
            if let Some((name, rtype, identifier)) = &start {
                request = request
                    .start_record_name(name)
                    .set_start_record_type(rtype.clone())
                    .set_start_record_identifier(identifier.clone());
            }
            let page = request
                .send()
                .await
                .map_err(|e| from_sdk("ListResourceRecordSets", &resource, e))?;
            let mut past = false;
            for rrs in page.resource_record_sets() {
                let record = records::from_sdk(rrs);
                if span.is_past(&record.name) {
                    past = true;
                    break;
                }
                out.push(record);
            }
            let next = match (
                page.is_truncated,
                page.next_record_name,
                page.next_record_type,
            ) {
                (true, Some(name), Some(rtype)) if !past => Some((
                    records::normalise_name(&name),
                    Some(rtype),
                    page.next_record_identifier,
                )),
                _ => return Ok(out),
            };
            if next == start {
                return Err(malformed(
                    "ListResourceRecordSets",
                    resource,
                    "the listing's next page starts where this one did",
                ));
            }
            start = next;
        }
        Err(malformed(
            "ListResourceRecordSets",
            resource,
            "the listing did not end after 1000 pages",
        ))
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
        comment: &str,
    ) -> Result<Vec<ChangeInfo>, CloudError> {
        let zone_id = bare_zone_id(zone_id);
        let resource = format!("hosted zone {zone_id}");
        let mut infos = Vec::new();
        for batch in batches(changes) {
            let sdk_changes = batch
                .iter()
                .map(|change| to_sdk_change(change, &resource))
                .collect::<Result<Vec<_>, _>>()?;
            let change_batch = sdk::ChangeBatch::builder()
                .set_comment((!comment.is_empty()).then(|| comment.to_string()))
                .set_changes(Some(sdk_changes))
                .build()
                .map_err(|e| invalid_input("ChangeResourceRecordSets", &resource, e.to_string()))?;
            let out = self
                .client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(change_batch)
                .send()
                .await
                .map_err(|e| from_sdk("ChangeResourceRecordSets", &resource, e))?;
            let info = out.change_info.ok_or_else(|| {
                malformed(
                    "ChangeResourceRecordSets",
                    &resource,
                    "the answer has no ChangeInfo",
                )
            })?;
            infos.push(change_info("ChangeResourceRecordSets", &resource, &info)?);
        }
        Ok(infos)
    }

    async fn get_change(&self, change_id: &str) -> Result<ChangeInfo, CloudError> {
        let id = bare_change_id(change_id);
        let resource = format!("change {id}");
        let out = self
            .client
            .get_change()
            .id(id)
            .send()
            .await
            .map_err(|e| from_sdk("GetChange", &resource, e))?;
        let info = out
            .change_info
            .ok_or_else(|| malformed("GetChange", &resource, "the answer has no ChangeInfo"))?;
        change_info("GetChange", &resource, &info)
    }

    async fn get_health_check(&self, id: &str) -> Result<HealthCheck, CloudError> {
        let resource = format!("health check {id}");
        let out = self
            .client
            .get_health_check()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| from_sdk("GetHealthCheck", &resource, e))?;
        let check = out.health_check.ok_or_else(|| {
            malformed("GetHealthCheck", &resource, "the answer has no HealthCheck")
        })?;
        health_check("GetHealthCheck", &resource, &check)
    }

    async fn update_health_check(
        &self,
        id: &str,
        expected_version: i64,
        settings: HealthCheckSettings,
    ) -> Result<HealthCheck, CloudError> {
        let resource = format!("health check {id}");
        let out = self
            .client
            .update_health_check()
            .health_check_id(id)
            .health_check_version(expected_version)
            .inverted(settings.inverted)
            .disabled(settings.disabled)
            .send()
            .await
            .map_err(|e| from_sdk("UpdateHealthCheck", &resource, e))?;
        let check = out.health_check.ok_or_else(|| {
            malformed(
                "UpdateHealthCheck",
                &resource,
                "the answer has no HealthCheck",
            )
        })?;
        health_check("UpdateHealthCheck", &resource, &check)
    }

    async fn get_health_check_status(&self, id: &str) -> Result<HealthCheckStatus, CloudError> {
        let resource = format!("health check {id}");
        let out = self
            .client
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| from_sdk("GetHealthCheckStatus", &resource, e))?;
        let observations = out.health_check_observations();
        let healthy = observations
            .iter()
            .filter(|o| {
                o.status_report
                    .as_ref()
                    .and_then(|r| r.status.as_deref())
                    .is_some_and(|s| s.starts_with("Success"))
            })
            .count();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(HealthCheckStatus {
            healthy_checkers: count(healthy),
            total_checkers: count(observations.len()),
        })
    }

    async fn test_dns_answer(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
        client_ip: Option<&str>,
    ) -> Result<DnsAnswer, CloudError> {
        const OP: &str = "TestDNSAnswer";
        let resource = format!("{name} {rtype} in zone {zone_id}");
        let out = self
            .client
            .test_dns_answer()
            .hosted_zone_id(bare_zone_id(zone_id))
            .record_name(name)
            .record_type(sdk::RrType::from(rtype))
            .set_edns0_client_subnet_ip(client_ip.map(str::to_string))
            .send()
            .await
            .map_err(|e| from_sdk(OP, &resource, e))?;
        Ok(DnsAnswer {
            response_code: out.response_code().to_string(),
            values: out.record_data().to_vec(),
        })
    }
}

fn bare_zone_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

fn bare_change_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix("/change/").unwrap_or(id)
}

fn hosted_zone(zone: &sdk::HostedZone, name_servers: Vec<String>) -> HostedZone {
    HostedZone {
        id: bare_zone_id(&zone.id).to_string(),
        name: records::normalise_name(&zone.name),
        private: zone.config.as_ref().is_some_and(|c| c.private_zone),
        name_servers,
    }
}

fn to_sdk_change(change: &RecordChange, resource: &str) -> Result<sdk::Change, CloudError> {
    let record = records::to_sdk(&change.record).map_err(|message| {
        invalid_input(
            "ChangeResourceRecordSets",
            resource,
            format!(
                "record {} {}: {message}",
                change.record.name, change.record.rtype
            ),
        )
    })?;
    let action = match change.action {
        ChangeAction::Create => sdk::ChangeAction::Create,
        ChangeAction::Upsert => sdk::ChangeAction::Upsert,
        ChangeAction::Delete => sdk::ChangeAction::Delete,
    };
    sdk::Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .map_err(|e| invalid_input("ChangeResourceRecordSets", resource, e.to_string()))
}

fn change_info(
    operation: &str,
    resource: &str,
    info: &sdk::ChangeInfo,
) -> Result<ChangeInfo, CloudError> {
    let status = match &info.status {
        sdk::ChangeStatus::Pending => ChangeStatus::Pending,
        sdk::ChangeStatus::Insync => ChangeStatus::Insync,
        other => {
            return Err(malformed(
                operation,
                resource,
                &format!("unknown change status {:?}", other.as_str()),
            ));
        }
    };
    let at = info.submitted_at();
    Ok(ChangeInfo {
        id: bare_change_id(&info.id).to_string(),
        status,
        submitted_at: chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()),
    })
}

fn health_check(
    operation: &str,
    resource: &str,
    check: &sdk::HealthCheck,
) -> Result<HealthCheck, CloudError> {
    let config = check.health_check_config.as_ref().ok_or_else(|| {
        malformed(
            operation,
            resource,
            "the health check has no HealthCheckConfig",
        )
    })?;
    Ok(HealthCheck {
        id: check.id.clone(),
        version: check.health_check_version,
        inverted: config.inverted.unwrap_or(false),
        disabled: config.disabled.unwrap_or(false),
        kind: config.r#type.as_str().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
        assert_eq!(bare_change_id("/change/C42"), "C42");
        assert_eq!(bare_change_id("C42"), "C42");
    }
}
