//! The engine against the in-memory cloud: a drill that passes restores everything; a failure at
//! any call, a signal at any point, or a crash at any call followed by `recover` all leave the world
//! exactly as it began. Time is paused, so the waits (INSYNC, old TTL, soak) cost nothing.

use std::path::PathBuf;
use std::time::Duration;

use failover_drill::clock::Clock;
use failover_drill::cloud::memory::{MemoryCloud, Misbehave, Snapshot};
use failover_drill::cloud::{CloudError, RecordKey, RecordSet, ZoneRef};
use failover_drill::engine::journal::{Connection, Replay, locate};
use failover_drill::engine::{
    self, Outcome, RecoverOptions, RunOptions, RunResult, StepStatus, recover,
};
use failover_drill::spec::{
    AlarmRef, AlarmWatch, Database, Drill, Mode, RecordGroup, RecordSpec, Regions, Slos, Timeouts,
    Traffic,
};
use tokio_util::sync::CancellationToken;

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-west-2";

fn record(name: &str, rtype: &str, value: &str) -> RecordSet {
    RecordSet::simple(name, rtype, 300, &[value])
}

/// Two zones; weighted, failover and TTL-only records; a global cluster with its writer in the
/// primary region.
fn world() -> MemoryCloud {
    let cloud = MemoryCloud::new();
    cloud.add_zone("Z1", "example.com");
    cloud.add_zone("Z2", "example.net");
    for (set, region, weight, ip) in [
        ("use1", PRIMARY, 100, "127.0.0.11"),
        ("usw2", SECONDARY, 0, "127.0.0.12"),
    ] {
        let mut r = record("api.example.com.", "A", ip);
        r.set_identifier = Some(set.to_string());
        r.weight = Some(weight);
        r.health_check_id = Some(format!("hc-{region}"));
        cloud.put_record("Z1", r);
    }
    for (set, role, ip) in [
        ("primary", "PRIMARY", "127.0.0.11"),
        ("secondary", "SECONDARY", "127.0.0.12"),
    ] {
        let mut r = record("www.example.com.", "A", ip);
        r.set_identifier = Some(set.to_string());
        r.failover = Some(role.to_string());
        if role == "PRIMARY" {
            r.health_check_id = Some("hc-www".to_string());
        }
        cloud.put_record("Z1", r);
    }
    cloud.put_record(
        "Z2",
        record("db.example.net.", "CNAME", "writer.cluster.example."),
    );
    for id in ["hc-www", "hc-us-east-1", "hc-us-west-2"] {
        cloud.add_health_check(id);
    }
    cloud.add_global_cluster("app-global", (PRIMARY, "app-use1"), (SECONDARY, "app-usw2"));
    cloud
}

fn spec(
    name: &str,
    rtype: &str,
    set: Option<&str>,
    region: Option<&str>,
    weight: Option<i64>,
) -> RecordSpec {
    RecordSpec {
        name: name.to_string(),
        rtype: rtype.to_string(),
        set_identifier: set.map(str::to_string),
        region: region.map(str::to_string),
        drill_weight: weight,
    }
}

fn drill() -> Drill {
    Drill {
        path: PathBuf::from("drills/memory.toml"),
        sha256: "0".repeat(64),
        name: "memory".to_string(),
        description: String::new(),
        schedule: None,
        regions: Regions {
            primary: PRIMARY.to_string(),
            secondary: SECONDARY.to_string(),
        },
        database: Database {
            global_cluster: "app-global".to_string(),
            secondary_cluster: "app-usw2".to_string(),
            mode: Mode::Switchover,
        },
        drill_ttl: 60,
        groups: vec![
            RecordGroup {
                name: "api".to_string(),
                zone: ZoneRef::Name("example.com".to_string()),
                traffic: Traffic::Weighted,
                records: vec![
                    spec(
                        "api.example.com.",
                        "A",
                        Some("use1"),
                        Some(PRIMARY),
                        Some(0),
                    ),
                    spec(
                        "api.example.com.",
                        "A",
                        Some("usw2"),
                        Some(SECONDARY),
                        Some(100),
                    ),
                ],
                select: None,
            },
            RecordGroup {
                name: "www".to_string(),
                zone: ZoneRef::Id("Z1".to_string()),
                traffic: Traffic::Failover {
                    health_check: "hc-www".to_string(),
                },
                records: vec![
                    spec(
                        "www.example.com.",
                        "A",
                        Some("primary"),
                        Some(PRIMARY),
                        None,
                    ),
                    spec(
                        "www.example.com.",
                        "A",
                        Some("secondary"),
                        Some(SECONDARY),
                        None,
                    ),
                ],
                select: None,
            },
            RecordGroup {
                name: "db".to_string(),
                zone: ZoneRef::Name("example.net".to_string()),
                traffic: Traffic::None,
                records: vec![spec("db.example.net.", "CNAME", None, None, None)],
                select: None,
            },
        ],
        soak: Duration::from_secs(120),
        failback: true,
        on_failure: failover_drill::spec::OnFailure::Rollback,
        timeouts: Timeouts {
            insync: Duration::from_secs(300),
            promotion: Duration::from_secs(900),
            verify: Duration::from_secs(300),
        },
        slo: Slos {
            max_write_outage: Some(Duration::from_secs(120)),
            max_duration: Some(Duration::from_secs(3600)),
        },
        probes: None,
        alarms: None,
        lab: None,
        notify: None,
    }
}

fn options(state: &std::path::Path, cancel: CancellationToken) -> RunOptions {
    let clock = Clock::real();
    RunOptions {
        state_dir: state.to_path_buf(),
        run_id: engine::new_run_id(&clock),
        failback: true,
        clock,
        cancel,
        connection: Connection::default(),
        poll: Duration::from_secs(5),
    }
}

async fn run(cloud: &MemoryCloud, drill: &Drill, state: &std::path::Path) -> RunResult {
    engine::run(
        drill,
        &cloud.cloud(),
        &options(state, CancellationToken::new()),
    )
    .await
}

fn assert_restored(cloud: &MemoryCloud, initial: &Snapshot, context: &str) {
    let now = cloud.snapshot();
    assert_eq!(
        &now, initial,
        "world differs from its initial state after {context}"
    );
}

fn api_key(set: &str) -> RecordKey {
    RecordKey {
        zone_id: "Z1".to_string(),
        name: "api.example.com.".to_string(),
        rtype: "A".to_string(),
        set_identifier: Some(set.to_string()),
    }
}

#[tokio::test(start_paused = true)]
async fn a_drill_that_passes_restores_everything() {
    let cloud = world();
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &drill(), state.path()).await;
    assert_eq!(result.outcome, Outcome::Passed, "{:#?}", result.errors);
    assert_restored(&cloud, &initial, "a passing drill");

    let names: Vec<&str> = result.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "preflight",
            "lower_ttls",
            "promote",
            "shift_traffic",
            "verify_shift",
            "soak",
            "fail_back",
            "verify_recovery",
            "restore_ttls"
        ]
    );
    assert!(result.steps.iter().all(|s| s.status == StepStatus::Passed));
    // 5 TTLs, 2 weights, 1 health check, 1 writer: every one journaled and restored.
    assert_eq!(result.changes.len(), 9);
    assert!(result.changes.iter().all(|c| c.restored));
    // One batch per zone to lower, one per zone to restore, one to shift and one to shift back.
    assert_eq!(cloud.count("ChangeResourceRecordSets"), 6);
    assert_eq!(cloud.count("SwitchoverGlobalCluster"), 2);
    assert_eq!(cloud.count("UpdateHealthCheck"), 2);
    for m in [
        "dns_insync_ms",
        "ttl_wait_ms",
        "promotion_ms",
        "failback_promotion_ms",
        "drill_duration_ms",
    ] {
        assert!(
            result.measurements.contains_key(m),
            "missing measurement {m}"
        );
    }
    assert_eq!(result.measurements["ttl_wait_ms"], 300_000);
    assert!(result.slos.iter().all(|s| s.passed));
    assert!(result.left.is_empty());
    let replay = Replay::read(result.journal.as_ref().unwrap()).unwrap();
    assert_eq!(replay.finished.as_deref(), Some("passed"));
    assert!(replay.outstanding().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_ttl_is_the_only_field_lowering_changes() {
    let cloud = world();
    cloud.misbehave("SwitchoverGlobalCluster", Some(1), Misbehave::Hang);
    let state = tempfile::tempdir().unwrap();
    let d = drill();
    let c = cloud.clone();
    let before = cloud.record(&api_key("use1")).unwrap();
    tokio::select! {
        _ = run(&c, &d, state.path()) => panic!("the run should hang at the switchover"),
        _ = cloud.hung() => {}
    }
    let lowered = cloud.record(&api_key("use1")).unwrap();
    let mut expected = before.clone();
    expected.ttl = Some(60);
    assert_eq!(lowered, expected);
}

#[tokio::test(start_paused = true)]
async fn a_missed_slo_fails_the_drill_after_restoring_everything() {
    let cloud = world();
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let mut d = drill();
    // Three polls 5 s apart cannot fit in 1 s.
    d.slo.max_write_outage = Some(Duration::from_secs(1));
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::SloFailed);
    let slo = result
        .slos
        .iter()
        .find(|s| s.name == "max_write_outage")
        .unwrap();
    assert!(!slo.passed);
    assert!(slo.measured.unwrap() > 1000);
    assert_restored(&cloud, &initial, "an SLO miss");
}

#[tokio::test(start_paused = true)]
async fn preflight_refuses_a_world_that_is_not_ready_and_changes_nothing() {
    let cloud = world();
    cloud.edit_global_cluster("app-global", |g| {
        g.members[1].synchronization_status = Some("pending-resync".to_string());
    });
    let mut alias = record("api.example.com.", "A", "x");
    alias.set_identifier = Some("usw2".to_string());
    alias.weight = Some(0);
    alias.ttl = None;
    alias.values.clear();
    alias.alias_target = Some(failover_drill::cloud::AliasTarget {
        hosted_zone_id: "Z2".to_string(),
        dns_name: "lb.example.net.".to_string(),
        evaluate_target_health: false,
    });
    cloud.put_record("Z1", alias);
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &drill(), state.path()).await;
    assert_eq!(result.outcome, Outcome::Refused);
    let all = result.errors.join("\n");
    assert!(all.contains("pending-resync"), "{all}");
    assert!(all.contains("alias records have no TTL"), "{all}");
    assert_restored(&cloud, &initial, "a refusal");
    assert_eq!(cloud.count("ChangeResourceRecordSets"), 0);
    assert!(result.journal.is_none(), "a refused run writes no journal");
}

#[tokio::test(start_paused = true)]
async fn a_second_run_on_the_same_target_is_refused() {
    let cloud = world();
    cloud.misbehave("SwitchoverGlobalCluster", Some(1), Misbehave::Hang);
    let state = tempfile::tempdir().unwrap();
    let d = drill();
    let first = run(&cloud, &d, state.path());
    tokio::pin!(first);
    tokio::select! {
        _ = &mut first => panic!("the first run should hang"),
        _ = cloud.hung() => {}
    }
    let second = run(&cloud, &d, state.path()).await;
    assert_eq!(second.outcome, Outcome::Refused);
    assert!(
        second.errors.join(" ").contains("locked"),
        "{:?}",
        second.errors
    );
}

/// The calls a passing drill makes, in order.
async fn calls_of_a_passing_drill() -> Vec<String> {
    let cloud = world();
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &drill(), state.path()).await;
    assert_eq!(result.outcome, Outcome::Passed);
    cloud.calls()
}

/// (operation, n-th call of it) for every call of a passing drill.
fn call_points(calls: &[String]) -> Vec<(String, usize)> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    calls
        .iter()
        .map(|c| {
            let op = c.split(' ').next().unwrap().to_string();
            let n = seen.entry(op.clone()).or_default();
            *n += 1;
            (op, *n)
        })
        .collect()
}

const MUTATIONS: [&str; 3] = [
    "ChangeResourceRecordSets",
    "UpdateHealthCheck",
    "SwitchoverGlobalCluster",
];

#[tokio::test(start_paused = true)]
async fn a_failure_at_any_call_leaves_the_world_as_it_began() {
    let points = call_points(&calls_of_a_passing_drill().await);
    assert!(
        points.len() > 30,
        "a drill makes many calls: {}",
        points.len()
    );
    for (op, n) in points {
        let cloud = world();
        let initial = cloud.snapshot();
        let error = CloudError::Api {
            operation: op.clone(),
            resource: "test".to_string(),
            code: "InternalFailure".to_string(),
            message: "injected".to_string(),
        };
        cloud.misbehave(&op, Some(n), Misbehave::Fail(error));
        let state = tempfile::tempdir().unwrap();
        let result = run(&cloud, &drill(), state.path()).await;
        let context = format!("{op} call {n} failed");
        assert_restored(&cloud, &initial, &context);
        assert_ne!(
            result.outcome,
            Outcome::RollbackIncomplete,
            "{context}: {:?}",
            result.left
        );
        if MUTATIONS.contains(&op.as_str()) {
            assert!(
                matches!(result.outcome, Outcome::RolledBack | Outcome::Passed),
                "{context}: {:?}",
                result.outcome
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_signal_at_any_point_rolls_back() {
    // Cancel after 0 s (preflight), and at points inside the TTL wait, the promotion, the soak and
    // the fail-back (modelled seconds; polls are 5 s apart).
    for after in [0u64, 10, 200, 320, 330, 400, 460, 470, 480] {
        let cloud = world();
        let initial = cloud.snapshot();
        let state = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        let opts = options(state.path(), cancel.clone());
        let d = drill();
        let cloud_api = cloud.cloud();
        let trigger = async {
            tokio::time::sleep(Duration::from_secs(after)).await;
            cancel.cancel();
        };
        let (result, ()) = tokio::join!(engine::run(&d, &cloud_api, &opts), trigger);
        let context = format!("a signal at {after} s");
        assert_restored(&cloud, &initial, &context);
        if !matches!(result.outcome, Outcome::Passed | Outcome::Refused) {
            assert_eq!(result.outcome, Outcome::RolledBack, "{context}");
            assert!(
                result.steps.iter().any(|s| s.status == StepStatus::Aborted),
                "{context}: the interrupted step is reported as aborted"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_call_is_finished_by_recover() {
    let points = call_points(&calls_of_a_passing_drill().await);
    let mut crashed_with_changes = 0;
    for (op, n) in points {
        let cloud = world();
        let initial = cloud.snapshot();
        cloud.misbehave(&op, Some(n), Misbehave::Hang);
        let state = tempfile::tempdir().unwrap();
        let d = drill();
        // Dropping the run at the hung call is a SIGKILL: nothing after it runs, not even rollback.
        tokio::select! {
            result = run(&cloud, &d, state.path()) => {
                panic!("{op} call {n}: the run finished ({:?}) instead of hanging", result.outcome)
            }
            _ = cloud.hung() => {}
        }
        cloud.behave();
        let context = format!("a crash at {op} call {n}");
        let Ok(path) = locate(state.path(), None) else {
            // Crashed during preflight: no journal, nothing changed.
            assert_restored(&cloud, &initial, &context);
            continue;
        };
        let replay = Replay::read(&path).unwrap();
        if !replay.outstanding().is_empty() {
            crashed_with_changes += 1;
        }
        let opts = recover_options();
        let recovery = recover(state.path(), replay, &cloud.cloud(), &opts)
            .await
            .unwrap();
        assert!(recovery.left.is_empty(), "{context}: {:?}", recovery.left);
        assert_restored(&cloud, &initial, &context);
        // Recovering twice is harmless.
        let again = recover(
            state.path(),
            Replay::read(&path).unwrap(),
            &cloud.cloud(),
            &opts,
        )
        .await
        .unwrap();
        assert_eq!(again.outstanding, 0, "{context}");
    }
    assert!(
        crashed_with_changes > 10,
        "crashes happened mid-drill: {crashed_with_changes}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_edit_by_someone_else_is_reported_not_overwritten() {
    let cloud = world();
    cloud.misbehave("SwitchoverGlobalCluster", Some(1), Misbehave::Hang);
    let state = tempfile::tempdir().unwrap();
    let d = drill();
    tokio::select! {
        _ = run(&cloud, &d, state.path()) => panic!("should hang"),
        _ = cloud.hung() => {}
    }
    cloud.behave();
    // Someone raises the TTL by hand while the drill is down.
    let mut edited = cloud.record(&api_key("usw2")).unwrap();
    edited.ttl = Some(30);
    cloud.put_record("Z1", edited.clone());
    let replay = Replay::read(&locate(state.path(), None).unwrap()).unwrap();
    let opts = recover_options();
    let recovery = recover(state.path(), replay, &cloud.cloud(), &opts)
        .await
        .unwrap();
    assert_eq!(recovery.left.len(), 1, "{:?}", recovery.left);
    assert!(recovery.left[0].reason.contains("changed by someone else"));
    assert_eq!(
        cloud.record(&api_key("usw2")).unwrap(),
        edited,
        "left as the person set it"
    );
    // Every other record is back.
    assert_eq!(cloud.record(&api_key("use1")).unwrap().ttl, Some(300));
}

#[tokio::test(start_paused = true)]
async fn no_failback_keeps_the_secondary_and_restores_ttls() {
    let cloud = world();
    let state = tempfile::tempdir().unwrap();
    let mut opts = options(state.path(), CancellationToken::new());
    opts.failback = false;
    let result = engine::run(&drill(), &cloud.cloud(), &opts).await;
    assert_eq!(result.outcome, Outcome::Passed, "{:?}", result.errors);
    let snap = cloud.snapshot();
    assert!(snap.writers["app-global"].contains("app-usw2"));
    assert_eq!(cloud.record(&api_key("usw2")).unwrap().weight, Some(100));
    assert_eq!(cloud.record(&api_key("usw2")).unwrap().ttl, Some(300));
    let replay = Replay::read(result.journal.as_ref().unwrap()).unwrap();
    assert!(
        replay.outstanding().is_empty(),
        "kept changes are not for recover to undo"
    );
}

/// The drill with `[stop] alarms` naming `api-5xx` in both regions, read every 10 s; both exist
/// and are OK.
fn watched(cloud: &MemoryCloud) -> Drill {
    let mut d = drill();
    let alarms = [PRIMARY, SECONDARY]
        .into_iter()
        .map(|region| {
            cloud.set_alarm(region, "api-5xx", "OK", "no datapoints were breaching");
            AlarmRef {
                arn: format!("arn:aws:cloudwatch:{region}:123456789012:alarm:api-5xx"),
                region: region.to_string(),
                name: "api-5xx".to_string(),
            }
        })
        .collect();
    d.alarms = Some(AlarmWatch {
        alarms,
        interval: Duration::from_secs(10),
    });
    d
}

#[tokio::test(start_paused = true)]
async fn quiet_stop_alarms_let_the_drill_pass() {
    let cloud = world();
    let d = watched(&cloud);
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::Passed, "{:#?}", result.errors);
    assert!(result.stop.is_none());
    assert_restored(&cloud, &initial, "a watched drill");
    // Read once per region in preflight, then every 10 s while the drill ran (two regions a read).
    let reads = cloud.count("DescribeAlarms");
    let ran = result.measurements["drill_duration_ms"].as_u64().unwrap();
    assert!(
        reads as u64 >= 2 + 2 * (ran / 10_000).saturating_sub(1),
        "{reads} reads in {ran} ms"
    );
    // The report's evidence that they were watched, and what was read.
    let evidence = result.alarms.as_ref().expect("the alarms section");
    assert_eq!(evidence["interval_ms"], 10_000);
    assert_eq!(evidence["failed_polls"], 0);
    assert_eq!(
        evidence["polls"].as_u64().unwrap() * 2 + 2,
        reads as u64,
        "{evidence}"
    );
    for alarm in evidence["alarms"].as_array().unwrap() {
        assert_eq!(alarm["at_preflight"], "OK", "{alarm}");
        assert_eq!(alarm["states_seen"], serde_json::json!(["OK"]), "{alarm}");
        assert!(alarm["last_read_at"].is_string(), "{alarm}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_alarm_in_alarm_refuses_the_drill_and_changes_nothing() {
    let cloud = world();
    let mut d = watched(&cloud);
    cloud.set_alarm(
        SECONDARY,
        "api-5xx",
        "ALARM",
        "Threshold Crossed: 1 datapoint [42.0]",
    );
    cloud.set_alarm(PRIMARY, "api-latency", "INSUFFICIENT_DATA", "no data");
    let alarms = &mut d.alarms.as_mut().unwrap().alarms;
    alarms.push(AlarmRef {
        arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-latency".to_string(),
        region: PRIMARY.to_string(),
        name: "api-latency".to_string(),
    });
    alarms.push(AlarmRef {
        arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:gone".to_string(),
        region: PRIMARY.to_string(),
        name: "gone".to_string(),
    });
    // Same name, other account: not the alarm the file means.
    cloud.set_alarm(PRIMARY, "shared-name", "OK", "");
    alarms.push(AlarmRef {
        arn: "arn:aws:cloudwatch:us-east-1:210987654321:alarm:shared-name".to_string(),
        region: PRIMARY.to_string(),
        name: "shared-name".to_string(),
    });
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::Refused);
    let all = result.errors.join("\n");
    assert!(
        all.contains("alarm api-5xx (us-west-2) is in ALARM") && all.contains("42.0"),
        "{all}"
    );
    assert!(
        all.contains("alarm gone does not exist in us-east-1"),
        "{all}"
    );
    // Insufficient data is worth a warning, not a refusal.
    assert!(!all.contains("api-latency"), "{all}");
    assert_eq!(cloud.count("ChangeResourceRecordSets"), 0);
    assert_restored(&cloud, &initial, "a refusal by alarm");
}

#[tokio::test(start_paused = true)]
async fn a_stop_alarm_that_fires_mid_drill_rolls_it_back() {
    let cloud = world();
    let d = watched(&cloud);
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let c = cloud.clone();
    let trip = tokio::spawn(async move {
        while c.count("SwitchoverGlobalCluster") == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        c.set_alarm(
            SECONDARY,
            "api-5xx",
            "ALARM",
            "Threshold Crossed: 5xx above 2%",
        );
    });
    let result = run(&cloud, &d, state.path()).await;
    trip.await.unwrap();
    assert_eq!(result.outcome, Outcome::RolledBack, "{:#?}", result.errors);
    let stop = result.stop.as_ref().expect("the stop condition");
    assert_eq!(stop.condition, "alarm");
    assert!(
        stop.detail.contains("api-5xx (us-west-2)") && stop.detail.contains("5xx above 2%"),
        "{}",
        stop.detail
    );
    assert!(result.errors[0].contains("stop condition alarm"));
    let names: Vec<&str> = result.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"rollback"), "{names:?}");
    assert!(!names.contains(&"fail_back"), "{names:?}");
    let west = &result.alarms.as_ref().unwrap()["alarms"][1];
    assert_eq!(
        (&west["at_preflight"], &west["last"]),
        (&serde_json::json!("OK"), &serde_json::json!("ALARM")),
        "{west}"
    );
    assert_restored(&cloud, &initial, "a stop by alarm");
}

#[tokio::test(start_paused = true)]
async fn stop_alarms_that_cannot_be_read_stop_the_drill() {
    let throttled = CloudError::Api {
        operation: "DescribeAlarms".to_string(),
        resource: "alarms".to_string(),
        code: "Throttling".to_string(),
        message: "Rate exceeded".to_string(),
    };
    // One failed read (the first while running) is ridden out: the drill passes.
    let cloud = world();
    let d = watched(&cloud);
    cloud.misbehave(
        "DescribeAlarms",
        Some(3),
        Misbehave::Fail(throttled.clone()),
    );
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::Passed, "{:#?}", result.errors);

    // Three in a row are not: the drill can no longer tell whether it hurts the service.
    let cloud = world();
    let d = watched(&cloud);
    let initial = cloud.snapshot();
    // Calls 1-2 are preflight's (one per region); each later read makes two, the first failing.
    for nth in [3, 5, 7] {
        cloud.misbehave(
            "DescribeAlarms",
            Some(nth),
            Misbehave::Fail(throttled.clone()),
        );
    }
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{:#?}", result.errors);
    let stop = result.stop.as_ref().expect("the stop condition");
    assert_eq!(stop.condition, "alarm_unreadable");
    assert_eq!(result.alarms.as_ref().unwrap()["failed_polls"], 3);
    assert!(stop.detail.contains("Throttling"), "{}", stop.detail);
    assert_restored(&cloud, &initial, "a stop by unreadable alarms");
}

fn recover_options() -> RecoverOptions {
    RecoverOptions {
        clock: Clock::real(),
        poll: Duration::from_secs(5),
        insync_timeout: Duration::from_secs(300),
        promotion_timeout: Duration::from_secs(900),
        app: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_weight_changed_by_someone_else_is_reported_even_where_the_drill_only_lowered_the_ttl() {
    let cloud = world();
    cloud.misbehave("SwitchoverGlobalCluster", Some(1), Misbehave::Hang);
    let state = tempfile::tempdir().unwrap();
    let d = drill();
    tokio::select! {
        _ = run(&cloud, &d, state.path()) => panic!("should hang"),
        _ = cloud.hung() => {}
    }
    cloud.behave();
    // Only the TTLs were lowered; someone moves the weight by hand meanwhile.
    let mut edited = cloud.record(&api_key("use1")).unwrap();
    edited.weight = Some(50);
    cloud.put_record("Z1", edited);
    let replay = Replay::read(&locate(state.path(), None).unwrap()).unwrap();
    let recovery = recover(state.path(), replay, &cloud.cloud(), &recover_options())
        .await
        .unwrap();
    assert_eq!(recovery.left.len(), 1, "{:?}", recovery.left);
    assert!(
        recovery.left[0]
            .reason
            .contains("weight was changed by someone else during the drill (now 50"),
        "{:?}",
        recovery.left
    );
    let now = cloud.record(&api_key("use1")).unwrap();
    assert_eq!(now.weight, Some(50), "their weight is not overwritten");
    assert_eq!(now.ttl, Some(300), "the TTL, which moves nothing, is back");
}

#[tokio::test(start_paused = true)]
async fn on_failure_stay_keeps_the_secondary_and_recover_fails_back_later() {
    let cloud = world();
    let initial = cloud.snapshot();
    // The fail-back's switchover fails.
    let error = CloudError::Api {
        operation: "SwitchoverGlobalCluster".to_string(),
        resource: "test".to_string(),
        code: "InvalidGlobalClusterStateFault".to_string(),
        message: "injected".to_string(),
    };
    cloud.misbehave("SwitchoverGlobalCluster", Some(2), Misbehave::Fail(error));
    let state = tempfile::tempdir().unwrap();
    let mut d = drill();
    d.on_failure = failover_drill::spec::OnFailure::Stay;
    let result = run(&cloud, &d, state.path()).await;
    assert_eq!(result.outcome, Outcome::Held, "{:?}", result.errors);
    assert!(
        result
            .left
            .iter()
            .any(|l| l.contains("on_failure = \"stay\"")),
        "{:?}",
        result.left
    );
    // The writer and traffic stay in the secondary; the TTLs are back.
    let writer = cloud.snapshot().writers["app-global"].clone();
    assert!(writer.contains("app-usw2"), "{writer}");
    let west = cloud.record(&api_key("usw2")).unwrap();
    assert_eq!((west.weight, west.ttl), (Some(100), Some(300)));
    assert!(cloud.snapshot().health_checks["hc-www"].inverted);
    // Later, recover fails back and finds nothing more to do the second time.
    let path = locate(state.path(), None).unwrap();
    let recovery = recover(
        state.path(),
        Replay::read(&path).unwrap(),
        &cloud.cloud(),
        &recover_options(),
    )
    .await
    .unwrap();
    assert!(
        recovery.left.is_empty() && recovery.held.is_empty(),
        "{recovery:?}"
    );
    assert_restored(&cloud, &initial, "recover after on_failure = stay");
    let again = recover(
        state.path(),
        Replay::read(&path).unwrap(),
        &cloud.cloud(),
        &recover_options(),
    )
    .await
    .unwrap();
    assert_eq!(again.outstanding, 0);
}

#[tokio::test(start_paused = true)]
async fn rollback_holds_routing_while_the_original_writer_cannot_serve() {
    let cloud = world();
    // The fail-back's switchover fails after the primary's endpoint went down: nothing may move
    // traffic back there.
    let error = CloudError::Api {
        operation: "SwitchoverGlobalCluster".to_string(),
        resource: "test".to_string(),
        code: "InvalidGlobalClusterStateFault".to_string(),
        message: "injected".to_string(),
    };
    cloud.misbehave(
        "SwitchoverGlobalCluster",
        Some(2),
        Misbehave::Fail(error.clone()),
    );
    cloud.misbehave("SwitchoverGlobalCluster", Some(3), Misbehave::Fail(error));
    let state = tempfile::tempdir().unwrap();
    let result = run(&cloud, &drill(), state.path()).await;
    // The writer could not be moved back, so routing is held where the writer is.
    assert_eq!(
        result.outcome,
        Outcome::RollbackIncomplete,
        "{:?}",
        result.left
    );
    let west = cloud.record(&api_key("usw2")).unwrap();
    assert_eq!(west.weight, Some(100), "traffic follows the writer");
    assert_eq!(west.ttl, Some(300));
    assert!(
        result
            .left
            .iter()
            .any(|l| l.contains("held as the drill set it (weight 0 → 100)")
                && l.contains("traffic follows the writer")),
        "{:?}",
        result.left
    );
}

/// The Route 53 lease as the run's guard, for `owner`, in the in-memory cloud's canonical zone.
async fn lease_guard(
    cloud: &MemoryCloud,
    drill: &Drill,
    opts: &RunOptions,
) -> failover_drill::schedule::guard::LeaseGuard {
    use failover_drill::schedule::lease::Place;
    let place = Place::of(cloud, drill).await.unwrap();
    assert_eq!(place.zone_id, "Z1", "example.com sorts first");
    failover_drill::schedule::guard::LeaseGuard::new(
        std::sync::Arc::new(cloud.clone()),
        opts.clock.clone(),
        place,
        "ops-1/1".to_string(),
        opts.run_id.clone(),
        drill.name.clone(),
        opts.state_dir.clone(),
        false,
        None,
    )
}

fn other_lease(name: &str) -> RecordSet {
    let until = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    RecordSet::simple(
        name,
        "TXT",
        60,
        &[&format!(
            "\"drill-lease v=1 owner=ops-2/2 run=r9 drill=other expires={until}\""
        )],
    )
}

#[tokio::test(start_paused = true)]
async fn a_held_lease_refuses_the_run_before_any_change_and_leaves_no_journal() {
    use failover_drill::engine::guard::Guard;
    use failover_drill::schedule::guard::Refusal;
    let cloud = world();
    let d = drill();
    let state = tempfile::tempdir().unwrap();
    let opts = options(state.path(), CancellationToken::new());
    let guard = lease_guard(&cloud, &d, &opts).await;
    cloud.put_record("Z1", other_lease(&guard.describe().record));
    let initial = cloud.snapshot();
    let c = cloud.cloud();
    let result = engine::run_with(&d, &c, &opts, &engine::Extras::default(), Some(&guard)).await;
    assert_eq!(result.outcome, Outcome::Refused, "{:?}", result.errors);
    assert!(
        matches!(guard.refusal(), Some(Refusal::Busy(m)) if m.contains("ops-2/2 (run r9")),
        "{:?}",
        guard.refusal()
    );
    // The lease is read, not written: a refused run makes no write call at all.
    assert_eq!(
        cloud.count("ChangeResourceRecordSets"),
        0,
        "{:?}",
        cloud.calls()
    );
    for op in [
        "UpdateHealthCheck",
        "SwitchoverGlobalCluster",
        "FailoverGlobalCluster",
    ] {
        assert_eq!(cloud.count(op), 0, "{op}");
    }
    assert_restored(&cloud, &initial, "a refusal by the lease");
    assert!(result.journal.is_none());
    assert!(
        locate(state.path(), None).is_err(),
        "no journal for recover to trip over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_lost_mid_run_rolls_the_drill_back() {
    use failover_drill::engine::guard::Guard;
    let cloud = world();
    let d = drill();
    let initial = cloud.snapshot();
    let state = tempfile::tempdir().unwrap();
    let opts = options(state.path(), CancellationToken::new());
    let guard = lease_guard(&cloud, &d, &opts).await;
    let lease = guard.describe();
    let key = RecordKey {
        zone_id: lease.zone_id.clone(),
        name: lease.record.clone(),
        rtype: "TXT".to_string(),
        set_identifier: None,
    };
    // Someone takes the lease from under the run once it holds it; its next renewal finds out.
    let thief = {
        let cloud = cloud.clone();
        async move {
            while cloud.record(&key).is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            cloud.put_record("Z1", other_lease(&key.name));
            std::future::pending::<()>().await
        }
    };
    let c = cloud.cloud();
    let extras = engine::Extras::default();
    let result = tokio::select! {
        r = engine::run_with(&d, &c, &opts, &extras, Some(&guard)) => r,
        _ = thief => unreachable!(),
    };
    assert_eq!(result.outcome, Outcome::RolledBack, "{:?}", result.errors);
    assert!(
        result.errors.iter().any(|e| e.contains("lost the lease")),
        "{:?}",
        result.errors
    );
    let mut now = cloud.snapshot();
    now.records.retain(|k, _| k.name != lease.record);
    assert_eq!(
        now, initial,
        "everything but the thief's lease is as it began"
    );
}
