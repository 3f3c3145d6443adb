//! `cloud::aws` against `aws-smithy-mocks`, for what moto cannot produce on demand: throttling,
//! PriorRequestNotComplete, version mismatches, truncated listings, request pacing. Every test runs
//! on paused tokio time, so backoff and pacing cost no real time. Errors come back as Route 53's
//! own XML, so the SDK's deserializer and retry classifier see exactly what the wire would carry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_route53::Client;
use aws_sdk_route53::config::{BehaviorVersion, Region};
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::operation::get_health_check::GetHealthCheckOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types as r53;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use failover_drill::clock::Clock;
use failover_drill::cloud::aws::{
    MAX_ATTEMPTS, ROUTE53_INTERVAL, RateLimiter, from_clients, from_clients_with_limiter,
};
use failover_drill::cloud::{
    ChangeAction, ChangeStatus, Cloud, CloudError, HealthCheckSettings, RecordChange, RecordKey,
    RecordSet,
};
use tokio::time::Instant;

fn route53_client(mode: RuleMode, rules: &[&Rule]) -> Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(mode);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    Client::from_conf(
        aws_sdk_route53::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIAMOCKS",
                "mock-secret",
                None,
                None,
                "mocks",
            ))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    )
}

/// A cloud over mocked Route 53 with its own limiter (on the real clock, paused here) and
/// `interval` between requests.
fn cloud_with(rules: &[&Rule], interval: Duration) -> Cloud {
    from_clients_with_limiter(
        route53_client(RuleMode::Sequential, rules),
        HashMap::new(),
        Arc::new(RateLimiter::new(Clock::real(), interval)),
    )
}

/// An error exactly as Route 53 sends it.
fn route53_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>5d3c7b2a-0000-4000-8000-000000000000</RequestId></ErrorResponse>"#
    );
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    )
}

fn throttling() -> HttpResponse {
    route53_error(400, "Throttling", "Rate exceeded")
}

fn prior_request_not_complete() -> HttpResponse {
    route53_error(
        400,
        "PriorRequestNotComplete",
        "The request was rejected because Route 53 was still processing a prior request.",
    )
}

fn health_check_output(version: i64, inverted: bool) -> GetHealthCheckOutput {
    GetHealthCheckOutput::builder()
        .health_check(
            r53::HealthCheck::builder()
                .id("hc-1")
                .caller_reference("ref")
                .health_check_version(version)
                .health_check_config(
                    r53::HealthCheckConfig::builder()
                        .r#type(r53::HealthCheckType::Https)
                        .inverted(inverted)
                        .disabled(false)
                        .build()
                        .expect("config"),
                )
                .build()
                .expect("health check"),
        )
        .build()
}

fn change_info(id: &str) -> r53::ChangeInfo {
    r53::ChangeInfo::builder()
        .id(format!("/change/{id}"))
        .status(r53::ChangeStatus::Pending)
        .submitted_at(DateTime::from_secs(1_700_000_000))
        .build()
        .expect("change info")
}

fn upsert(name: &str) -> RecordChange {
    RecordChange {
        action: ChangeAction::Upsert,
        record: RecordSet::simple(name, "A", 60, &["192.0.2.1"]),
    }
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_until_success() {
    let rule = mock!(Client::get_health_check)
        .sequence()
        .http_response(throttling)
        .times(3)
        .output(|| health_check_output(7, false))
        .build();
    let cloud = cloud_with(&[&rule], ROUTE53_INTERVAL);

    let check = cloud
        .route53
        .get_health_check("hc-1")
        .await
        .expect("succeeds after the throttling passes");
    assert_eq!(check.version, 7);
    assert_eq!(check.kind, "HTTPS");
    assert_eq!(
        rule.num_calls(),
        4,
        "three throttled attempts, then success"
    );
}

#[tokio::test(start_paused = true)]
async fn prior_request_not_complete_is_retried_until_success() {
    let rule = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_response(prior_request_not_complete)
        .times(2)
        .output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info("C0001"))
                .build()
        })
        .build();
    let cloud = cloud_with(&[&rule], ROUTE53_INTERVAL);

    let infos = cloud
        .route53
        .change_records("/hostedzone/Z1", &[upsert("api.example.com.")], "drill")
        .await
        .expect("succeeds once the prior request completes");
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].id, "C0001");
    assert_eq!(infos[0].status, ChangeStatus::Pending);
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_attempt_limit() {
    let rule = mock!(Client::get_health_check)
        .sequence()
        .http_response(throttling)
        .repeatedly()
        .build();
    let cloud = cloud_with(&[&rule], ROUTE53_INTERVAL);

    let err = cloud
        .route53
        .get_health_check("hc-1")
        .await
        .expect_err("throttled for good");
    assert!(
        matches!(&err, CloudError::Api { operation, resource, code, message }
            if operation == "GetHealthCheck" && resource == "health check hc-1"
                && code == "Throttling" && message == "Rate exceeded"),
        "{err:?}"
    );
    assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
}

#[tokio::test(start_paused = true)]
async fn a_stale_health_check_version_is_not_retried() {
    let rule = mock!(Client::update_health_check)
        .sequence()
        .http_response(|| {
            route53_error(
                409,
                "HealthCheckVersionMismatch",
                "The value of HealthCheckVersion in the request doesn't match the value of HealthCheckVersion in the health check.",
            )
        })
        .repeatedly()
        .build();
    let cloud = cloud_with(&[&rule], ROUTE53_INTERVAL);

    let err = cloud
        .route53
        .update_health_check(
            "hc-1",
            3,
            HealthCheckSettings {
                inverted: true,
                disabled: false,
            },
        )
        .await
        .expect_err("someone else edited the check");
    assert!(
        matches!(&err, CloudError::Api { operation, code, .. }
            if operation == "UpdateHealthCheck" && code == "HealthCheckVersionMismatch"),
        "{err:?}"
    );
    assert_eq!(rule.num_calls(), 1, "a version mismatch is final");
}

#[tokio::test(start_paused = true)]
async fn update_health_check_sends_version_and_settings() {
    let rule = mock!(Client::update_health_check)
        .match_requests(|req| {
            req.health_check_id() == Some("hc-1")
                && req.health_check_version() == Some(3)
                && req.inverted() == Some(true)
                && req.disabled() == Some(false)
        })
        .then_output(|| {
            aws_sdk_route53::operation::update_health_check::UpdateHealthCheckOutput::builder()
                .set_health_check(health_check_output(4, true).health_check)
                .build()
        });
    let cloud = cloud_with(&[&rule], ROUTE53_INTERVAL);

    let updated = cloud
        .route53
        .update_health_check(
            "hc-1",
            3,
            HealthCheckSettings {
                inverted: true,
                disabled: false,
            },
        )
        .await
        .expect("update");
    assert_eq!((updated.version, updated.inverted), (4, true));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn retried_attempts_are_paced_too() {
    // With a 10 s pacing interval, four attempts need at least 30 s; the SDK's backoff alone
    // (at most 1 + 2 + 4 s before the fourth attempt) could not account for that.
    let rule = mock!(Client::get_health_check)
        .sequence()
        .http_response(throttling)
        .times(3)
        .output(|| health_check_output(1, false))
        .build();
    let cloud = cloud_with(&[&rule], Duration::from_secs(10));

    let start = Instant::now();
    cloud.route53.get_health_check("hc-1").await.expect("get");
    assert_eq!(rule.num_calls(), 4);
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
}

fn get_change_rule(count: usize) -> Rule {
    mock!(Client::get_change)
        .sequence()
        .output(|| {
            GetChangeOutput::builder()
                .change_info(change_info("C1"))
                .build()
        })
        .times(count)
        .build()
}

#[tokio::test(start_paused = true)]
async fn from_clients_keeps_route53_under_5_requests_per_second() {
    let rule = get_change_rule(10);
    let cloud = from_clients(
        route53_client(RuleMode::Sequential, &[&rule]),
        HashMap::new(),
        &Clock::real(),
    );

    let start = Instant::now();
    for _ in 0..10 {
        let info = cloud.route53.get_change("/change/C1").await.expect("get");
        assert_eq!(info.id, "C1");
    }
    let elapsed = start.elapsed();
    assert_eq!(rule.num_calls(), 10);
    assert!(elapsed >= Duration::from_millis(1_890), "took {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_the_pace() {
    let rule = get_change_rule(10);
    let cloud = from_clients_with_limiter(
        route53_client(RuleMode::Sequential, &[&rule]),
        HashMap::new(),
        Arc::new(RateLimiter::new(Clock::real(), ROUTE53_INTERVAL)),
    );

    let start = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let route53 = Arc::clone(&cloud.route53);
            tokio::spawn(async move { route53.get_change("C1").await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("get");
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(1_890), "took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(2_000), "took {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn without_spacing_the_same_calls_take_no_time() {
    // The control for the two tests above: the mocks themselves cost no virtual time.
    let rule = get_change_rule(10);
    let cloud = cloud_with(&[&rule], Duration::ZERO);
    let start = Instant::now();
    for _ in 0..10 {
        cloud.route53.get_change("C1").await.expect("get");
    }
    assert!(
        start.elapsed() < Duration::from_millis(200),
        "took {:?}",
        start.elapsed()
    );
}

fn page(
    records: Vec<r53::ResourceRecordSet>,
    next: Option<(&str, &str)>,
) -> ListResourceRecordSetsOutput {
    ListResourceRecordSetsOutput::builder()
        .set_resource_record_sets(Some(records))
        .is_truncated(next.is_some())
        .set_next_record_name(next.map(|(name, _)| name.to_string()))
        .set_next_record_type(next.map(|_| r53::RrType::A))
        .set_next_record_identifier(next.map(|(_, id)| id.to_string()))
        .max_items(1)
        .build()
        .expect("page")
}

fn weighted(set: &str, weight: i64) -> r53::ResourceRecordSet {
    r53::ResourceRecordSet::builder()
        .name("api.example.com.")
        .r#type(r53::RrType::A)
        .set_identifier(set)
        .weight(weight)
        .ttl(60)
        .resource_records(
            r53::ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .expect("rr"),
        )
        .build()
        .expect("record")
}

#[tokio::test(start_paused = true)]
async fn get_record_follows_truncated_pages() {
    let first = mock!(Client::list_resource_record_sets)
        .match_requests(|req| {
            req.hosted_zone_id() == Some("Z1")
                && req.start_record_name() == Some("api.example.com.")
                && req.start_record_type() == Some(&r53::RrType::A)
                && req.start_record_identifier() == Some("c")
        })
        .then_output(|| page(vec![weighted("a", 10)], Some(("api.example.com.", "b"))));
    let second = mock!(Client::list_resource_record_sets)
        .match_requests(|req| req.start_record_identifier() == Some("b"))
        .then_output(|| page(vec![weighted("b", 20)], Some(("api.example.com.", "c"))));
    let third = mock!(Client::list_resource_record_sets)
        .match_requests(|req| req.start_record_identifier() == Some("c"))
        .then_output(|| page(vec![weighted("c", 30)], None));
    let cloud = cloud_with(&[&first, &second, &third], ROUTE53_INTERVAL);

    let got = cloud
        .route53
        .get_record(&RecordKey {
            zone_id: "/hostedzone/Z1".into(),
            name: "API.example.com".into(),
            rtype: "A".into(),
            set_identifier: Some("c".into()),
        })
        .await
        .expect("read")
        .expect("found on the third page");
    assert_eq!(got.set_identifier.as_deref(), Some("c"));
    assert_eq!(got.weight, Some(30));
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn change_records_splits_past_a_thousand_changes() {
    let rule = mock!(Client::change_resource_record_sets)
        .match_requests(|req| {
            req.hosted_zone_id() == Some("Z1")
                && req.change_batch().is_some_and(|b| {
                    b.changes.len() <= 1_000 && b.comment.as_deref() == Some("bulk")
                })
        })
        .then_output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info("CBATCH"))
                .build()
        });
    let cloud = from_clients_with_limiter(
        route53_client(RuleMode::MatchAny, &[&rule]),
        HashMap::new(),
        Arc::new(RateLimiter::new(Clock::real(), ROUTE53_INTERVAL)),
    );
    let changes: Vec<RecordChange> = (0..2_500)
        .map(|i| RecordChange {
            action: ChangeAction::Delete,
            record: RecordSet::simple(&format!("h{i}.example.com."), "A", 60, &["192.0.2.1"]),
        })
        .collect();

    let infos = cloud
        .route53
        .change_records("Z1", &changes, "bulk")
        .await
        .expect("three calls");
    assert_eq!(infos.len(), 3);
    assert_eq!(rule.num_calls(), 3);
}

/// An error exactly as RDS sends it (the Query protocol's XML).
fn rds_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        r#"<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"#
    );
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    )
}

/// A cloud whose one RDS client (us-west-2) answers from `rule`. The client is built with the
/// SDK's defaults, as a caller of `from_clients` would build it; the retry policy is the cloud's.
fn cloud_with_rds(rule: &Rule) -> Cloud {
    let rds = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new("us-west-2"))
            .credentials_provider(Credentials::new(
                "AKIAMOCKS",
                "mock-secret",
                None,
                None,
                "mocks",
            ))
            .http_client(create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::Sequential)
                    .with_rule(rule),
            )
            .build(),
    );
    from_clients_with_limiter(
        route53_client(RuleMode::Sequential, &[]),
        HashMap::from([("us-west-2".to_string(), rds)]),
        Arc::new(RateLimiter::new(Clock::real(), ROUTE53_INTERVAL)),
    )
}

#[tokio::test(start_paused = true)]
async fn rds_not_found_faults_become_not_found() {
    let rule = mock!(aws_sdk_rds::Client::describe_global_clusters).then_http_response(|| {
        rds_error(
            404,
            "GlobalClusterNotFoundFault",
            "Global cluster app-global not found",
        )
    });
    let cloud = cloud_with_rds(&rule);

    let err = cloud
        .rds
        .describe_global_cluster("us-west-2", "app-global")
        .await
        .expect_err("not found");
    assert!(
        matches!(&err, CloudError::NotFound { resource, code }
            if code == "GlobalClusterNotFoundFault" && resource.contains("app-global")),
        "{err:?}"
    );
}

/// The SDK's default of three attempts would give this switchover up and leave the drill a
/// rollback to make; the cloud's policy rides it out.
#[tokio::test(start_paused = true)]
async fn rds_throttling_is_retried_like_route53() {
    let rule = mock!(aws_sdk_rds::Client::switchover_global_cluster)
        .sequence()
        .http_response(|| rds_error(400, "Throttling", "Rate exceeded"))
        .times(5)
        .output(|| {
            aws_sdk_rds::operation::switchover_global_cluster::SwitchoverGlobalClusterOutput::builder()
                .build()
        })
        .build();
    let cloud = cloud_with_rds(&rule);

    cloud
        .rds
        .switchover(
            "us-west-2",
            "app-global",
            "arn:aws:rds:us-west-2:123456789012:cluster:app-usw2",
        )
        .await
        .expect("succeeds once the throttling passes");
    assert_eq!(rule.num_calls(), 6, "five throttled attempts, then success");
}

#[tokio::test(start_paused = true)]
async fn rds_retries_stop_at_the_attempt_limit() {
    let rule = mock!(aws_sdk_rds::Client::describe_global_clusters)
        .sequence()
        .http_response(|| rds_error(400, "Throttling", "Rate exceeded"))
        .repeatedly()
        .build();
    let cloud = cloud_with_rds(&rule);

    let err = cloud
        .rds
        .describe_global_cluster("us-west-2", "app-global")
        .await
        .expect_err("throttled for good");
    assert!(
        matches!(&err, CloudError::Api { code, .. } if code == "Throttling"),
        "{err:?}"
    );
    assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
}
