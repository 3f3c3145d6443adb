//! The real `drill` binary against moto, through the AWS SDK and the standard endpoint override.
//! moto has Route 53 and global-cluster describe, but no SwitchoverGlobalCluster: a run lowers the
//! TTLs, fails to promote, and must roll back to exactly where it started (exit 4). A run killed
//! with SIGKILL mid-drill is finished by `drill recover --latest`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use failover_drill::clock::Clock;
use failover_drill::cloud::aws::{AwsOptions, connect};
use failover_drill::cloud::{Cloud, RecordKey, ZoneRef};
use serde::Deserialize;

use crate::support::Drill;
use crate::support::moto::Moto;

/// The parts of the report these tests check, parsed with their own types.
#[derive(Debug, Deserialize)]
struct Report {
    schema_version: u32,
    run_id: String,
    outcome: String,
    exit_code: i32,
    drill: ReportDrill,
    steps: Vec<ReportStep>,
    changes: Vec<ReportChange>,
    errors: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ReportDrill {
    name: String,
    sha256: String,
}

#[derive(Debug, Deserialize)]
struct ReportStep {
    name: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct ReportChange {
    resource: String,
    before: serde_json::Value,
    after: serde_json::Value,
    restored: bool,
}

fn sdk_config(endpoint: &str, region: &str) -> aws_sdk_rds::config::Builder {
    aws_sdk_rds::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::for_tests())
}

/// A zone with two weighted records (TTL `ttl`) and a global cluster with a writer in us-east-1
/// and a secondary in us-west-2.
async fn seed(moto: &Moto, zone: &str, ttl: i64) {
    let r53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::for_tests())
            .build(),
    );
    let created = r53
        .create_hosted_zone()
        .name(zone)
        .caller_reference(zone)
        .send()
        .await
        .unwrap();
    let zone_id = created.hosted_zone().unwrap().id().to_string();
    let mut batch = ChangeBatch::builder();
    for (set, weight, ip) in [
        ("us-east-1", 100, "192.0.2.11"),
        ("us-west-2", 0, "192.0.2.12"),
    ] {
        let record = ResourceRecordSet::builder()
            .name(format!("api.{zone}"))
            .r#type(RrType::A)
            .set_identifier(set)
            .weight(weight)
            .ttl(ttl)
            .resource_records(ResourceRecord::builder().value(ip).build().unwrap())
            .build()
            .unwrap();
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(record)
                .build()
                .unwrap(),
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch.build().unwrap())
        .send()
        .await
        .unwrap();

    let east = aws_sdk_rds::Client::from_conf(sdk_config(&moto.endpoint, "us-east-1").build());
    let west = aws_sdk_rds::Client::from_conf(sdk_config(&moto.endpoint, "us-west-2").build());
    east.create_global_cluster()
        .global_cluster_identifier("app-global")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .send()
        .await
        .unwrap();
    east.create_db_cluster()
        .db_cluster_identifier("app-use1")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .global_cluster_identifier("app-global")
        .master_username("drill")
        .master_user_password("not-a-real-password")
        .send()
        .await
        .unwrap();
    west.create_db_cluster()
        .db_cluster_identifier("app-usw2")
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .global_cluster_identifier("app-global")
        .send()
        .await
        .unwrap();
}

fn drill_file(dir: &Path, zone: &str, ttl: i64) -> PathBuf {
    let path = dir.join("moto.toml");
    let text = format!(
        r#"name = "moto"
ttl = {ttl}
soak = "1s"

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "app-global"
secondary_cluster = "app-usw2"
mode = "switchover"

[timeouts]
promotion = "20s"

[[groups]]
name = "api"
zone = "{zone}"
traffic = "weighted"

  [[groups.records]]
  name = "api.{zone}"
  type = "A"
  set_identifier = "us-east-1"
  region = "us-east-1"
  drill_weight = 0

  [[groups.records]]
  name = "api.{zone}"
  type = "A"
  set_identifier = "us-west-2"
  region = "us-west-2"
  drill_weight = 100
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn cloud(moto: &Moto) -> Cloud {
    connect(AwsOptions {
        profile: None,
        endpoint_url: Some(moto.endpoint.clone()),
        static_credentials: Some(("test".to_string(), "test".to_string())),
        regions: vec!["us-east-1".to_string(), "us-west-2".to_string()],
        clock: Clock::real(),
    })
    .await
    .unwrap()
}

async fn ttls(cloud: &Cloud, zone: &str) -> Vec<(String, Option<i64>, Option<i64>)> {
    let z = cloud
        .route53
        .find_zone(&ZoneRef::Name(zone.to_string()))
        .await
        .unwrap();
    let mut out = Vec::new();
    for set in ["us-east-1", "us-west-2"] {
        let key = RecordKey {
            zone_id: z.id.clone(),
            name: format!("api.{zone}."),
            rtype: "A".to_string(),
            set_identifier: Some(set.to_string()),
        };
        let r = cloud.route53.get_record(&key).await.unwrap().unwrap();
        out.push((set.to_string(), r.ttl, r.weight));
    }
    out
}

fn against(moto: &Moto, state: &Path) -> Drill {
    Drill::new()
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .state_dir(state)
}

#[tokio::test]
async fn plan_against_moto_lists_every_action_and_changes_nothing() {
    let moto = Moto::start();
    seed(&moto, "plan.test", 300).await;
    let dir = tempfile::tempdir().unwrap();
    let file = drill_file(dir.path(), "plan.test", 60);
    let ran = against(&moto, dir.path())
        .args(["plan".as_ref(), file.as_os_str()])
        .expect_code(0)
        .stdout_contains("ready")
        .stdout_contains("TTL 300 → 60")
        .stdout_contains("SwitchoverGlobalCluster")
        .stdout_contains("weight 100 → 0")
        .stdout_contains("TTL 60 → 300");
    assert!(
        ran.stdout
            .contains("arn:aws:rds:us-west-2:123456789012:cluster:app-usw2")
    );
    let cloud = cloud(&moto).await;
    assert_eq!(
        ttls(&cloud, "plan.test").await,
        [
            ("us-east-1".to_string(), Some(300), Some(100)),
            ("us-west-2".to_string(), Some(300), Some(0))
        ]
    );
}

#[tokio::test]
async fn plan_refuses_with_every_reason_when_the_world_is_not_ready() {
    let moto = Moto::start();
    seed(&moto, "notready.test", 300).await;
    let dir = tempfile::tempdir().unwrap();
    let file = drill_file(dir.path(), "notready.test", 60);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("app-usw2", "app-missing")
        + "\n[[groups]]\nname = \"www\"\nzone = \"notready.test\"\ntraffic = \"none\"\n\n  [[groups.records]]\n  name = \"www.notready.test\"\n  type = \"A\"\n";
    std::fs::write(&file, text).unwrap();
    against(&moto, dir.path())
        .args(["plan".as_ref(), file.as_os_str()])
        .expect_code(3)
        .stderr_contains("www.notready.test. A in zone")
        .stderr_contains("does not exist")
        .stderr_contains("app-missing");
}

#[tokio::test]
async fn run_against_moto_rolls_back_to_the_original_ttls_and_exits_4() {
    let moto = Moto::start();
    seed(&moto, "run.test", 4).await;
    let dir = tempfile::tempdir().unwrap();
    let file = drill_file(dir.path(), "run.test", 2);
    let report_path = dir.path().join("report.json");
    let ran = against(&moto, dir.path())
        .args([
            "run".as_ref(),
            file.as_os_str(),
            "--yes".as_ref(),
            "--report".as_ref(),
            report_path.as_os_str(),
        ])
        .expect_code(4);
    assert!(ran.stdout.contains("rolled_back"), "{}", ran.stdout);

    let cloud = cloud(&moto).await;
    assert_eq!(
        ttls(&cloud, "run.test").await,
        [
            ("us-east-1".to_string(), Some(4), Some(100)),
            ("us-west-2".to_string(), Some(4), Some(0))
        ],
        "every TTL and weight is back"
    );

    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.outcome, "rolled_back");
    assert_eq!(report.exit_code, 4);
    assert_eq!(report.drill.name, "moto");
    assert_eq!(report.drill.sha256.len(), 64);
    assert!(report.run_id.len() > 10);
    let steps: Vec<(&str, &str)> = report
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("preflight", "passed"),
            ("lower_ttls", "passed"),
            ("promote", "failed"),
            ("rollback", "passed")
        ]
    );
    // Two TTLs lowered, one promotion attempted; all of it restored.
    let lowered: Vec<_> = report
        .changes
        .iter()
        .filter(|c| c.resource.starts_with("record api.run.test."))
        .collect();
    assert_eq!(lowered.len(), 2);
    for c in &lowered {
        assert_eq!(c.before["ttl"], 4);
        assert_eq!(c.after["ttl"], 2);
    }
    assert!(
        report.changes.iter().all(|c| c.restored),
        "{:?}",
        report.changes
    );
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("SwitchoverGlobalCluster")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn a_run_killed_with_sigkill_is_finished_by_recover_latest() {
    let moto = Moto::start();
    seed(&moto, "kill.test", 600).await;
    let dir = tempfile::tempdir().unwrap();
    let file = drill_file(dir.path(), "kill.test", 60);
    let mut child = against(&moto, dir.path())
        .args(["run".as_ref(), file.as_os_str(), "--yes".as_ref()])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the TTLs are lowered (the run then waits out the 600 s TTL), then SIGKILL it.
    let journal_dir = dir.path().join("journal");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lowered = std::fs::read_dir(&journal_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .any(|text| {
                text.lines()
                    .filter(|l| l.contains("\"type\":\"done\""))
                    .count()
                    == 2
            });
        if lowered {
            break;
        }
        assert!(Instant::now() < deadline, "the run never lowered the TTLs");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let cloud = cloud(&moto).await;
    assert_eq!(
        ttls(&cloud, "kill.test").await,
        [
            ("us-east-1".to_string(), Some(60), Some(100)),
            ("us-west-2".to_string(), Some(60), Some(0))
        ],
        "the killed run left the TTLs lowered"
    );
    let ran = against(&moto, dir.path())
        .args(["recover", "--latest"])
        .expect_code(0)
        .stdout_contains("recovered");
    assert!(
        ran.stdout.contains("2 change(s) not restored"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ttls(&cloud, "kill.test").await,
        [
            ("us-east-1".to_string(), Some(600), Some(100)),
            ("us-west-2".to_string(), Some(600), Some(0))
        ]
    );
    // A second recover finds nothing left.
    against(&moto, dir.path())
        .args(["recover", "--latest"])
        .expect_code(0)
        .stdout_contains("nothing to recover");
}
