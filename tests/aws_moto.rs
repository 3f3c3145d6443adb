//! `cloud::aws` against moto: fixtures are created with the bare SDK, then read and changed through
//! `connect(...)`, the way a drill reaches AWS.
//!
//! What moto does not do, and where it is covered instead: HealthCheckVersion is never checked or
//! bumped (stale-version failures: aws_mocks), SynchronizationStatus and FailoverState are absent,
//! SwitchoverGlobalCluster / FailoverGlobalCluster are not implemented (asserted below as errors),
//! and StartRecordIdentifier is ignored (paging by identifier: aws_mocks).

use std::process::Command;

use aws_credential_types::Credentials;
use aws_sdk_route53::config::{BehaviorVersion, Region};
use aws_sdk_route53::types as r53;
use failover_drill::clock::Clock;
use failover_drill::cloud::aws::{AwsOptions, connect};
use failover_drill::cloud::{
    ChangeAction, ChangeStatus, Cloud, CloudError, HealthCheckSettings, RecordChange, RecordKey,
    RecordSet, ZoneRef,
};

use crate::support::moto::Moto;

const ACCESS_KEY: &str = "AKIAMOTOTESTING00000";
const SECRET: &str = "moto-secret-never-printed";
const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

fn options(endpoint: Option<&str>) -> AwsOptions {
    AwsOptions {
        profile: None,
        endpoint_url: endpoint.map(str::to_string),
        static_credentials: Some((ACCESS_KEY.to_string(), SECRET.to_string())),
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        clock: Clock::real(),
    }
}

async fn cloud(moto: &Moto) -> Cloud {
    connect(options(Some(&moto.endpoint)))
        .await
        .expect("connect")
}

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET, None, None, "moto-fixtures")
}

/// A bare Route 53 client for fixtures, bypassing the code under test.
fn sdk_route53(moto: &Moto) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(credentials())
            .build(),
    )
}

fn sdk_rds(moto: &Moto, region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new(region.to_string()))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(credentials())
            .build(),
    )
}

async fn create_zone(r53: &aws_sdk_route53::Client, name: &str, caller: &str) -> String {
    let out = r53
        .create_hosted_zone()
        .name(name)
        .caller_reference(caller)
        .send()
        .await
        .expect("create zone");
    let id = out.hosted_zone.expect("zone").id;
    id.trim_start_matches("/hostedzone/").to_string()
}

async fn create_health_check(r53: &aws_sdk_route53::Client, caller: &str) -> String {
    let config = r53::HealthCheckConfig::builder()
        .r#type(r53::HealthCheckType::Http)
        .fully_qualified_domain_name("use1.app.example.net")
        .port(80)
        .resource_path("/health")
        .request_interval(30)
        .failure_threshold(3)
        .build()
        .expect("health check config");
    r53.create_health_check()
        .caller_reference(caller)
        .health_check_config(config)
        .send()
        .await
        .expect("create health check")
        .health_check
        .expect("health check")
        .id
}

fn record(name: &str, rtype: &str, ttl: i64, values: &[&str], set: &str) -> RecordSet {
    let mut r = RecordSet::simple(name, rtype, ttl, values);
    r.set_identifier = Some(set.to_string());
    r
}

/// The records the fixture creates, in the domain's terms: what reading them back must give.
fn fixture_records(health_check_id: &str) -> Vec<RecordSet> {
    let mut weighted_use1 = record("api.drill.example.", "A", 300, &["192.0.2.10"], "use1");
    weighted_use1.weight = Some(70);
    let mut weighted_usw2 = record("api.drill.example.", "A", 300, &["198.51.100.10"], "usw2");
    weighted_usw2.weight = Some(30);
    let mut latency_use1 = record(
        "lat.drill.example.",
        "CNAME",
        60,
        &["use1.app.example.net"],
        "lat-use1",
    );
    latency_use1.region = Some("us-east-1".to_string());
    let mut latency_usw2 = record(
        "lat.drill.example.",
        "CNAME",
        60,
        &["usw2.app.example.net"],
        "lat-usw2",
    );
    latency_usw2.region = Some("us-west-2".to_string());
    let mut primary = record(
        "fo.drill.example.",
        "A",
        60,
        &["192.0.2.20", "192.0.2.21"],
        "primary",
    );
    primary.failover = Some("PRIMARY".to_string());
    primary.health_check_id = Some(health_check_id.to_string());
    let mut secondary = record(
        "fo.drill.example.",
        "A",
        60,
        &["198.51.100.20"],
        "secondary",
    );
    secondary.failover = Some("SECONDARY".to_string());
    vec![
        weighted_use1,
        weighted_usw2,
        latency_use1,
        latency_usw2,
        primary,
        secondary,
    ]
}

/// Creates the records with the bare SDK (not through the code under test).
async fn create_records(r53: &aws_sdk_route53::Client, zone_id: &str, records: &[RecordSet]) {
    let mut batch = r53::ChangeBatch::builder();
    for r in records {
        let rrs = r53::ResourceRecordSet::builder()
            .name(&r.name)
            .r#type(r53::RrType::from(r.rtype.as_str()))
            .set_set_identifier(r.set_identifier.clone())
            .set_ttl(r.ttl)
            .set_weight(r.weight)
            .set_region(r.region.as_deref().map(r53::ResourceRecordSetRegion::from))
            .set_failover(
                r.failover
                    .as_deref()
                    .map(r53::ResourceRecordSetFailover::from),
            )
            .set_health_check_id(r.health_check_id.clone())
            .set_resource_records(Some(
                r.values
                    .iter()
                    .map(|v| r53::ResourceRecord::builder().value(v).build().expect("rr"))
                    .collect(),
            ))
            .build()
            .expect("record set");
        batch = batch.changes(
            r53::Change::builder()
                .action(r53::ChangeAction::Create)
                .resource_record_set(rrs)
                .build()
                .expect("change"),
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch.build().expect("batch"))
        .send()
        .await
        .expect("create records");
}

fn key(zone_id: &str, r: &RecordSet) -> RecordKey {
    r.key(zone_id)
}

#[tokio::test]
async fn records_read_back_with_every_field() {
    let moto = Moto::start();
    let r53 = sdk_route53(&moto);
    let zone_id = create_zone(&r53, "drill.example", "zone-1").await;
    let hc = create_health_check(&r53, "hc-1").await;
    let expected = fixture_records(&hc);
    create_records(&r53, &zone_id, &expected).await;
    let cloud = cloud(&moto).await;

    let by_name = cloud
        .route53
        .find_zone(&ZoneRef::Name("Drill.Example".into()))
        .await
        .expect("zone by name");
    assert_eq!(by_name.id, zone_id);
    assert_eq!(by_name.name, "drill.example.");
    assert!(!by_name.private);
    assert!(
        !by_name.name_servers.is_empty(),
        "a public zone has a delegation set"
    );
    let by_id = cloud
        .route53
        .find_zone(&ZoneRef::Id(format!("/hostedzone/{zone_id}")))
        .await
        .expect("zone by id");
    assert_eq!(by_id, by_name);

    for want in &expected {
        let got = cloud
            .route53
            .get_record(&key(&zone_id, want))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.as_ref(), Some(want), "reading {}", key(&zone_id, want));
    }

    // The name is matched without regard to case or the trailing dot.
    let mut loose = key(&zone_id, &expected[0]);
    loose.name = "API.drill.example".into();
    assert_eq!(
        cloud.route53.get_record(&loose).await.expect("read"),
        Some(expected[0].clone())
    );
    // A set identifier, name or type that does not exist is None, not a neighbour.
    let mut other_set = key(&zone_id, &expected[0]);
    other_set.set_identifier = Some("euw1".into());
    assert_eq!(
        cloud.route53.get_record(&other_set).await.expect("read"),
        None
    );
    let mut no_set = key(&zone_id, &expected[0]);
    no_set.set_identifier = None;
    assert_eq!(cloud.route53.get_record(&no_set).await.expect("read"), None);
    let mut other_type = key(&zone_id, &expected[0]);
    other_type.rtype = "AAAA".into();
    assert_eq!(
        cloud.route53.get_record(&other_type).await.expect("read"),
        None
    );
    let mut other_name = key(&zone_id, &expected[0]);
    other_name.name = "nope.drill.example.".into();
    assert_eq!(
        cloud.route53.get_record(&other_name).await.expect("read"),
        None
    );
}

#[tokio::test]
async fn lowering_a_ttl_by_upsert_keeps_every_other_field() {
    let moto = Moto::start();
    let r53 = sdk_route53(&moto);
    let zone_id = create_zone(&r53, "drill.example", "zone-1").await;
    let hc = create_health_check(&r53, "hc-1").await;
    let fixtures = fixture_records(&hc);
    create_records(&r53, &zone_id, &fixtures).await;
    let cloud = cloud(&moto).await;

    for original in &fixtures {
        let read = cloud
            .route53
            .get_record(&key(&zone_id, original))
            .await
            .expect("read")
            .expect("exists");
        let mut lowered = read.clone();
        lowered.ttl = Some(5);
        let infos = cloud
            .route53
            .change_records(
                &zone_id,
                &[RecordChange {
                    action: ChangeAction::Upsert,
                    record: lowered.clone(),
                }],
                "drill: lower TTL",
            )
            .await
            .expect("upsert");
        assert_eq!(infos.len(), 1);
        assert!(!infos[0].id.starts_with("/change/"), "{:?}", infos[0]);
        let change = cloud
            .route53
            .get_change(&infos[0].id)
            .await
            .expect("change");
        assert_eq!(change.status, ChangeStatus::Insync);

        let after = cloud
            .route53
            .get_record(&key(&zone_id, original))
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(after, lowered, "only the TTL changed");

        cloud
            .route53
            .change_records(
                &zone_id,
                &[RecordChange {
                    action: ChangeAction::Upsert,
                    record: read.clone(),
                }],
                "",
            )
            .await
            .expect("restore");
        let restored = cloud
            .route53
            .get_record(&key(&zone_id, original))
            .await
            .expect("read");
        assert_eq!(restored.as_ref(), Some(original));
    }
    // Siblings were never touched along the way.
    for other in &fixtures {
        let now = cloud
            .route53
            .get_record(&key(&zone_id, other))
            .await
            .expect("read");
        assert_eq!(now.as_ref(), Some(other));
    }
}

#[tokio::test]
async fn more_than_a_thousand_changes_go_in_several_calls() {
    let moto = Moto::start();
    let r53 = sdk_route53(&moto);
    let zone_id = create_zone(&r53, "bulk.example", "zone-bulk").await;
    let cloud = cloud(&moto).await;

    let records: Vec<RecordSet> = (0..1_200)
        .map(|i| {
            RecordSet::simple(
                &format!("h{i}.bulk.example."),
                "A",
                60,
                &[&format!("10.0.{}.{}", i / 256, i % 256)],
            )
        })
        .collect();
    let creates: Vec<RecordChange> = records
        .iter()
        .map(|r| RecordChange {
            action: ChangeAction::Create,
            record: r.clone(),
        })
        .collect();
    let infos = cloud
        .route53
        .change_records(&zone_id, &creates, "bulk")
        .await
        .expect("create in batches");
    assert_eq!(infos.len(), 2, "1,000 then 200");
    for r in [&records[0], &records[999], &records[1_000], &records[1_199]] {
        let got = cloud
            .route53
            .get_record(&key(&zone_id, r))
            .await
            .expect("read");
        assert_eq!(got.as_ref(), Some(r));
    }
}

#[tokio::test]
async fn zones_by_name_must_be_unambiguous() {
    let moto = Moto::start();
    let r53 = sdk_route53(&moto);
    let first = create_zone(&r53, "twice.example", "zone-a").await;
    let second = create_zone(&r53, "twice.example", "zone-b").await;
    create_zone(&r53, "other.twice.example", "zone-c").await;
    let cloud = cloud(&moto).await;

    let err = cloud
        .route53
        .find_zone(&ZoneRef::Name("twice.example".into()))
        .await
        .expect_err("two zones share the name");
    assert_eq!(err.code(), Some("AmbiguousZoneName"));
    let message = err.to_string();
    assert!(
        message.contains(&first) && message.contains(&second),
        "{message}"
    );

    let err = cloud
        .route53
        .find_zone(&ZoneRef::Name("missing.example".into()))
        .await
        .expect_err("no such zone");
    assert!(
        matches!(&err, CloudError::NotFound { code, .. } if code == "NoSuchHostedZone"),
        "{err:?}"
    );
    let err = cloud
        .route53
        .find_zone(&ZoneRef::Id("ZNOSUCHZONE".into()))
        .await
        .expect_err("no such zone id");
    assert!(
        matches!(&err, CloudError::NotFound { resource, code } if code == "NoSuchHostedZone" && resource.contains("ZNOSUCHZONE")),
        "{err:?}"
    );
}

#[tokio::test]
async fn health_checks_invert_and_restore() {
    let moto = Moto::start();
    let r53 = sdk_route53(&moto);
    let id = create_health_check(&r53, "hc-1").await;
    let cloud = cloud(&moto).await;

    let before = cloud.route53.get_health_check(&id).await.expect("get");
    assert_eq!(before.id, id);
    assert_eq!(before.kind, "HTTP");
    assert!(!before.inverted && !before.disabled);

    let inverted = cloud
        .route53
        .update_health_check(
            &id,
            before.version,
            HealthCheckSettings {
                inverted: true,
                disabled: false,
            },
        )
        .await
        .expect("invert");
    assert!(inverted.inverted && !inverted.disabled);
    let read = cloud.route53.get_health_check(&id).await.expect("get");
    assert!(read.inverted);

    let restored = cloud
        .route53
        .update_health_check(&id, read.version, before.settings())
        .await
        .expect("restore");
    assert_eq!(restored.settings(), before.settings());
    assert_eq!(
        cloud
            .route53
            .get_health_check(&id)
            .await
            .expect("get")
            .settings(),
        before.settings()
    );

    let status = cloud
        .route53
        .get_health_check_status(&id)
        .await
        .expect("status");
    assert!(status.total_checkers > 0);
    assert_eq!(status.healthy_checkers, status.total_checkers);

    let err = cloud
        .route53
        .get_health_check("00000000-0000-0000-0000-000000000000")
        .await
        .expect_err("no such check");
    assert!(
        matches!(&err, CloudError::NotFound { code, .. } if code == "NoSuchHealthCheck"),
        "{err:?}"
    );
}

/// A global cluster with its writer in us-east-1 and a secondary in us-west-2; returns their ARNs.
async fn create_global_cluster(moto: &Moto, global_id: &str) -> (String, String) {
    let east = sdk_rds(moto, "us-east-1");
    let west = sdk_rds(moto, "us-west-2");
    east.create_global_cluster()
        .global_cluster_identifier(global_id)
        .engine("aurora-postgresql")
        .send()
        .await
        .expect("create global cluster");
    let primary = east
        .create_db_cluster()
        .db_cluster_identifier("app-use1")
        .engine("aurora-postgresql")
        .global_cluster_identifier(global_id)
        .master_username("drill")
        .master_user_password("not-a-real-password")
        .send()
        .await
        .expect("create primary cluster");
    let secondary = west
        .create_db_cluster()
        .db_cluster_identifier("app-usw2")
        .engine("aurora-postgresql")
        .global_cluster_identifier(global_id)
        .send()
        .await
        .expect("create secondary cluster");
    let arn = |c: Option<aws_sdk_rds::types::DbCluster>| {
        c.and_then(|c| c.db_cluster_arn).expect("cluster ARN")
    };
    (arn(primary.db_cluster), arn(secondary.db_cluster))
}

#[tokio::test]
async fn global_clusters_show_writer_secondary_and_regions() {
    let moto = Moto::start();
    let (primary_arn, secondary_arn) = create_global_cluster(&moto, "drill-global").await;
    let cloud = cloud(&moto).await;

    for region in REGIONS {
        let global = cloud
            .rds
            .describe_global_cluster(region, "drill-global")
            .await
            .expect("describe");
        assert_eq!(global.id, "drill-global");
        assert_eq!(global.engine, "aurora-postgresql");
        assert_eq!(global.status, "available");
        assert_eq!(global.members.len(), 2);
        assert_eq!(global.failover_state, None);
        let writer = global.writer().expect("a writer");
        assert_eq!(writer.cluster_arn, primary_arn);
        assert_eq!(writer.region, "us-east-1");
        assert_eq!(writer.readers, vec![secondary_arn.clone()]);
        let secondary = global.member(&secondary_arn).expect("secondary member");
        assert!(!secondary.is_writer);
        assert_eq!(secondary.region, "us-west-2");
        assert_eq!(
            secondary.write_forwarding_status.as_deref(),
            Some("disabled")
        );
    }

    let cluster = cloud
        .rds
        .describe_cluster("us-west-2", "app-usw2")
        .await
        .expect("describe cluster");
    assert_eq!(cluster.id, "app-usw2");
    assert_eq!(cluster.arn, secondary_arn);
    assert_eq!(cluster.region, "us-west-2");
    assert_eq!(cluster.status, "available");

    let err = cloud
        .rds
        .describe_cluster("us-west-2", "app-missing")
        .await
        .expect_err("no such cluster");
    assert!(
        matches!(&err, CloudError::NotFound { code, .. } if code == "DBClusterNotFoundFault"),
        "{err:?}"
    );
    let err = cloud
        .rds
        .describe_global_cluster("us-east-1", "no-such-global")
        .await
        .expect_err("no such global cluster");
    assert!(
        matches!(&err, CloudError::NotFound { code, .. } if code == "GlobalClusterNotFoundFault"),
        "{err:?}"
    );
    let err = cloud
        .rds
        .describe_global_cluster("eu-west-1", "drill-global")
        .await
        .expect_err("no client for that region");
    assert!(
        matches!(&err, CloudError::Config { message, .. } if message.contains("eu-west-1")),
        "{err:?}"
    );
}

#[tokio::test]
async fn switchover_and_failover_that_moto_lacks_are_api_errors() {
    let moto = Moto::start();
    let (_, secondary_arn) = create_global_cluster(&moto, "drill-global").await;
    let cloud = cloud(&moto).await;

    let err = cloud
        .rds
        .switchover("us-west-2", "drill-global", &secondary_arn)
        .await
        .expect_err("moto has no SwitchoverGlobalCluster");
    assert!(
        matches!(&err, CloudError::Api { operation, resource, .. }
            if operation == "SwitchoverGlobalCluster" && resource.contains("drill-global")),
        "{err:?}"
    );
    // moto answers an unimplemented action with an HTML 500 page: no AWS code, so the status names it.
    assert_eq!(err.code(), Some("HTTP 500"), "{err}");
    let err = cloud
        .rds
        .failover("us-west-2", "drill-global", &secondary_arn)
        .await
        .expect_err("moto has no FailoverGlobalCluster");
    assert!(
        matches!(&err, CloudError::Api { operation, .. } if operation == "FailoverGlobalCluster"),
        "{err:?}"
    );
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn transport_errors_name_the_call_and_never_carry_credentials() {
    // Nothing listens on port 9: the call fails in transport after the SDK's (RDS: 3) attempts.
    // Route 53 is left out here: its 8 attempts would back off for up to a minute of real time;
    // aws_mocks covers its retries on paused time.
    let cloud = connect(options(Some("http://127.0.0.1:9")))
        .await
        .expect("connect");
    let err = cloud
        .rds
        .describe_cluster("us-east-1", "app-use1")
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&err, CloudError::Transport { operation, resource, .. }
            if operation == "DescribeDBClusters" && resource.contains("app-use1")),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains(SECRET) && !text.contains(ACCESS_KEY),
            "{text}"
        );
    }
}

/// The child's half of `endpoint_urls_from_the_environment_are_honoured`; it only runs there.
#[tokio::test]
#[ignore = "run in a child process by endpoint_urls_from_the_environment_are_honoured"]
async fn endpoint_env_child() {
    let zone_id = std::env::var("DRILL_TEST_ZONE_ID")
        .expect("started by endpoint_urls_from_the_environment_are_honoured");
    let cloud = connect(options(None)).await.expect("connect");
    let zone = cloud
        .route53
        .find_zone(&ZoneRef::Id(zone_id.clone()))
        .await
        .expect("Route 53 reached through AWS_ENDPOINT_URL_ROUTE_53");
    assert_eq!(zone.id, zone_id);
    let global = cloud
        .rds
        .describe_global_cluster("us-west-2", "env-global")
        .await
        .expect("RDS reached through AWS_ENDPOINT_URL_RDS");
    assert_eq!(global.members.len(), 2);
}

#[tokio::test]
async fn endpoint_urls_from_the_environment_are_honoured() {
    let moto = Moto::start();
    let zone_id = create_zone(&sdk_route53(&moto), "env.example", "zone-env").await;
    create_global_cluster(&moto, "env-global").await;

    // The environment is process-wide, so the check runs in a child process of this test binary.
    // The generic AWS_ENDPOINT_URL points nowhere: only the service-specific variables reach moto.
    let mut child = Command::new(this_test_binary());
    child.args([
        "--exact",
        "aws_moto::endpoint_env_child",
        "--ignored",
        "--test-threads=1",
    ]);
    for var in [
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ROUTE_53",
        "AWS_ENDPOINT_URL_RDS",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ] {
        child.env_remove(var);
    }
    let output = child
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_ROUTE_53", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_RDS", &moto.endpoint)
        .env("DRILL_TEST_ZONE_ID", &zone_id)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// This test binary. On Linux, `/proc/self/exe` still runs it when a concurrent build has replaced
/// the file on disk (the shared target directory makes that likely).
fn this_test_binary() -> std::path::PathBuf {
    if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().expect("test binary")
    }
}
