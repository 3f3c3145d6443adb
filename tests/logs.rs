//! Logs a person can attribute: two drills the scheduler fires in the same second, each against a
//! fresh lab, write JSON log lines that each name their drill and run; a `drill run` writes text
//! lines that each name its run, `-v` adds each AWS call and each wait's polls; and the report
//! says who ran the drill against what, with a hostile description escaped in its Markdown.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, TimeDelta, Timelike, Utc};
use failover_drill::schedule::daemon;
use serde_json::Value;
use tracing::Instrument;

use crate::support::Drill;
use crate::support::process::Proc;

/// A lab drill with a schedule (`schedule`), short enough to finish in seconds at 200x.
fn drill_text(name: &str, schedule: &str, description: &str) -> String {
    format!(
        r#"name = "{name}"
description = "{description}"
schedule = "{schedule}"
soak = "1s"

[scheduling]
grace = "3m"

[regions]
primary = "us-east-1"
secondary = "us-west-2"

[database]
global_cluster = "{name}-global"
secondary_cluster = "{name}-usw2"
mode = "switchover"

{api_group}"#,
        api_group = crate::support::API_GROUP
    )
}

/// The run names a JSON log line's spans give it: (drill, run id if chosen yet).
fn names(line: &Value) -> (Option<String>, Option<String>) {
    let spans = line["spans"].as_array().cloned().unwrap_or_default();
    let field = |key: &str| {
        spans
            .iter()
            .rev()
            .find_map(|s| s[key].as_str().map(str::to_string))
    };
    (field("drill"), field("run_id"))
}

#[test]
fn two_drills_fired_together_by_the_scheduler_log_lines_that_each_name_their_run() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    let reports = dir.path().join("reports");
    let mut d = Proc::spawn(
        Drill::new()
            .state_dir(&dir.path().join("state"))
            .args(["--log-format", "json", "-v", "schedule"])
            .arg(&drills)
            .args(["--lab", "--time-scale", "200", "--reports"])
            .arg(&reports),
    );
    d.wait_for("0 scheduled drill(s)", Duration::from_secs(30));
    // Both drills due at the same second, far enough ahead for the scheduler to load them (again
    // later if a slow machine passed the moment first).
    let mut armed = false;
    for attempt in 1..=4 {
        let fire = (Utc::now() + TimeDelta::seconds(5 * attempt))
            .with_nanosecond(0)
            .unwrap();
        let cron = format!(
            "{} {} {} {} {} *",
            fire.second(),
            fire.minute(),
            fire.hour(),
            fire.day(),
            fire.month()
        );
        for name in ["alpha", "beta"] {
            std::fs::write(
                drills.join(format!("{name}.toml")),
                drill_text(name, &cron, "monthly"),
            )
            .unwrap();
        }
        d.signal("HUP");
        let expected = format!("next run {}", daemon::show(fire));
        let first = d.wait_for("next run", Duration::from_secs(20));
        let second = d.wait_for("next run", Duration::from_secs(20));
        if first.contains(&expected)
            && second.contains(&expected)
            && Utc::now() < fire - TimeDelta::seconds(1)
        {
            armed = true;
            break;
        }
    }
    assert!(armed, "could not schedule ahead of the clock");
    for _ in 0..2 {
        d.wait_for("; report ", Duration::from_secs(180));
    }
    d.signal("TERM");
    let (code, output) = d.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{output}");

    // Stdout carries each run's summary; the log lines (stderr) are the JSON ones.
    let lines: Vec<Value> = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let message = |l: &Value| l["fields"]["message"].as_str().unwrap_or("").to_string();
    let first = lines
        .iter()
        .position(|l| message(l).contains("starting the run due"))
        .expect("a run started");
    let last = lines
        .iter()
        .rposition(|l| message(l).contains("; report "))
        .expect("a run ended");
    let mut runs: BTreeMap<String, String> = BTreeMap::new();
    let mut per_run: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines[first..=last] {
        let (drill, run_id) = names(l);
        // The scheduler's own lines (its timer, reloads) belong to no run.
        if drill.is_none() && l["target"] == "failover_drill::schedule::daemon" {
            continue;
        }
        let drill = drill.unwrap_or_else(|| panic!("a line names no drill: {l}"));
        // Only what happens before the run id is chosen (the fire starting, the lab it runs
        // against coming up) names the drill and its fire alone.
        let text = message(l);
        let Some(run_id) = run_id else {
            assert!(
                text.contains("starting the run due") || text.starts_with("lab: "),
                "a line names no run: {l}"
            );
            continue;
        };
        // One run id per drill, one drill per run id.
        assert_eq!(
            runs.entry(drill.clone()).or_insert_with(|| run_id.clone()),
            &run_id,
            "{l}"
        );
        *per_run.entry(run_id).or_default() += 1;
    }
    assert_eq!(
        runs.keys().collect::<Vec<_>>(),
        ["alpha", "beta"],
        "{output}"
    );
    assert_eq!(per_run.len(), 2, "{per_run:?}");
    // -v: each AWS call, with what it was and how long it took, inside its run.
    let call = lines
        .iter()
        .find(|l| message(l) == "aws call ok")
        .expect("an AWS call is logged at -v");
    for key in ["service", "operation", "region", "attempts", "duration_ms"] {
        assert!(!call["fields"][key].is_null(), "{key}: {call}");
    }
    assert!(names(call).1.is_some(), "{call}");
    assert!(
        lines
            .iter()
            .any(|l| message(l).starts_with("waiting for ")
                && l["fields"]["poll"].as_u64().is_some()),
        "each wait's polls are logged at -v"
    );
    // Both ran at once: their lines interleave.
    let order: Vec<String> = lines[first..=last]
        .iter()
        .filter_map(|l| names(l).1)
        .collect();
    let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches > 1, "the runs did not overlap: {order:?}");
    // The scheduler started them: its reports say so.
    for entry in std::fs::read_dir(&reports).unwrap() {
        let path = entry.unwrap().path();
        if failover_drill::report::is_sidecar(&path) {
            continue;
        }
        let report = failover_drill::report::read(&path).unwrap();
        let context = report.context.expect("a context");
        assert!(context.operator.starts_with("scheduler@"), "{context:?}");
        assert_eq!(context.started_by, "drill schedule");
        assert!(context.fire.is_some());
        assert_eq!(context.target.kind, "lab");
        assert_eq!(report.drill.description.as_deref(), Some("monthly"));
    }
}

/// `drill run --lab` in text: every line names the run; the report names the operator and the
/// target, and its Markdown shows a hostile description escaped.
#[test]
fn a_runs_text_lines_name_it_and_its_report_says_who_ran_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gamma.toml");
    // A description with an escape sequence, a `|`, a line break and HTML.
    std::fs::write(
        &file,
        drill_text(
            "gamma",
            "0 0 3 * * *",
            r"\u001b[31mred | <b>bold</b>\nsecond line",
        ),
    )
    .unwrap();
    let report_path = dir.path().join("gamma-report.json");
    let ran = Drill::new()
        .state_dir(&dir.path().join("state"))
        .env("USER", "alice")
        .args(["run".as_ref(), file.as_os_str(), "--lab".as_ref()])
        .args(["--time-scale", "200", "--yes", "--report"])
        .arg(&report_path)
        .expect_code(0);
    let report = failover_drill::report::read(&report_path).unwrap();
    let run_id = &report.run_id;
    let tag = format!("run{{drill=gamma run_id={run_id}}}");
    for line in ran.stderr.lines() {
        assert!(
            line.contains(&tag) || (line.contains("run{drill=gamma}") && line.contains("lab: ")),
            "a line does not name run {run_id}: {line}"
        );
    }
    assert!(ran.stderr.lines().count() > 5, "{}", ran.stderr);
    // Without -v, no AWS call is logged.
    assert!(!ran.stderr.contains("aws call"), "{}", ran.stderr);

    let context = report.context.clone().expect("a context");
    assert!(context.operator.starts_with("alice@"), "{context:?}");
    assert_eq!(context.started_by, "drill run");
    assert_eq!(context.target.kind, "lab");
    assert_eq!(context.target.time_scale, Some(200.0));
    let md = Drill::new()
        .state_dir(&dir.path().join("state"))
        .args(["report".as_ref(), report_path.as_os_str()])
        .expect_code(0)
        .stdout;
    header_is_escaped(&md, &context.operator);
}

fn header_is_escaped(md: &str, operator: &str) {
    assert!(!md.contains('\x1b'), "{md}");
    assert!(!md.contains("<b>"), "{md}");
    assert!(
        md.contains(r"\u{1b}\[31mred \| \<b\>bold\</b\>\u{a}second line"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| operator | {operator} (started by `drill run`) |"
        )),
        "{md}"
    );
    assert!(md.contains("| target | lab (time scale 200×) |"), "{md}");
}

/// Log lines written to memory, for the test below.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// `-v` (debug): a throttled call logs each failed attempt and then the call, with its service,
/// operation, resource, attempts and duration, and never the credentials it was signed with.
#[tokio::test(start_paused = true)]
async fn verbose_logs_show_each_aws_call_and_its_retries() {
    use aws_credential_types::Credentials;
    use aws_sdk_route53::Client;
    use aws_sdk_route53::config::{BehaviorVersion, Region};
    use aws_sdk_route53::operation::get_health_check::GetHealthCheckOutput;
    use aws_sdk_route53::types as r53;
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    let captured = Captured::default();
    // As `-v` sets it: the SDK's own logs stay at warn (they print the access key id).
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,failover_drill=debug,integration=info",
        ))
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let throttled = || {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(
                r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"#,
            ),
        )
    };
    let rule = mock!(Client::get_health_check)
        .sequence()
        .http_response(throttled)
        .times(2)
        .output(|| {
            GetHealthCheckOutput::builder()
                .health_check(
                    r53::HealthCheck::builder()
                        .id("hc-1")
                        .caller_reference("ref")
                        .health_check_version(3)
                        .health_check_config(
                            r53::HealthCheckConfig::builder()
                                .r#type(r53::HealthCheckType::Https)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .build();
    let client = Client::from_conf(
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
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::Sequential)
                    .with_rule(&rule),
            )
            .build(),
    );
    let cloud = failover_drill::cloud::aws::from_clients(
        client,
        Default::default(),
        &failover_drill::clock::Clock::real(),
    );
    async {
        cloud.route53.get_health_check("hc-1").await.unwrap();
    }
    .instrument(tracing::info_span!("run", drill = %"delta", run_id = %"r-1"))
    .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    let failed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("aws attempt failed"))
        .collect();
    assert_eq!(failed.len(), 2, "{logs}");
    for (n, line) in failed.iter().enumerate() {
        assert!(line.contains(&format!("attempt={}", n + 1)), "{line}");
        assert!(line.contains("status=400"), "{line}");
    }
    let call = lines
        .iter()
        .find(|l| l.contains("aws call ok"))
        .unwrap_or_else(|| panic!("{logs}"));
    for part in [
        "run{drill=delta run_id=r-1}",
        "operation=GetHealthCheck",
        "region=us-east-1",
        "resource=/2013-04-01/healthcheck/hc-1",
        "attempts=3",
        "duration_ms=",
    ] {
        assert!(call.contains(part), "{part}: {call}");
    }
    assert!(
        !logs.contains("mock-secret") && !logs.contains("AKIAMOCKS"),
        "{logs}"
    );
    assert!(
        !logs.contains("Rate exceeded"),
        "bodies are not logged: {logs}"
    );
}
