//! `drill run FILE`: confirms, runs the drill through the engine, writes the report and exits with
//! the code of its outcome. [`execute`] is the part the scheduler shares: target, engine under the
//! lease, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::engine::{self, Outcome, RunOptions};
use crate::escape::terminal;
use crate::lab::critical;
use crate::lab::summary::{DETAILS_FORMAT, Details, Summary};
use crate::lab::{GroundTruth, Snapshot};
use crate::report::{self, Context, Report, Target, render};
use crate::schedule::guard::{LeaseGuard, Refusal};
use crate::schedule::lease::{self, Place};

use super::args::{Cli, LabArgs, RunArgs};
use super::{CliError, exit};
use super::{common, lab};

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CliError> {
    let drill = common::load(&args.file)?;
    common::state_dir(cli)?;
    if let Some(path) = &args.report {
        super::writable::report_file(path)?;
    }
    confirm(
        &drill.name,
        &drill.regions.primary,
        &drill.regions.secondary,
        args.yes,
    )?;
    let how = Execution {
        lab: &args.lab,
        failback: drill.failback && !args.no_failback,
        report: match &args.report {
            Some(path) => ReportTo::File(path.clone()),
            None => ReportTo::StateDir,
        },
        cancel: None,
        fire: None,
    };
    match execute(cli, &drill, how).await? {
        Executed::Ran { code, .. } => Ok(code),
        Executed::Busy(message) | Executed::AlreadyRan(message) => Err(CliError::Refused(message)),
    }
}

/// How [`execute`] runs a drill.
pub(super) struct Execution<'a> {
    pub lab: &'a LabArgs,
    pub failback: bool,
    pub report: ReportTo,
    /// The scheduler's token; None makes SIGINT/SIGTERM cancel this run (`drill run`).
    pub cancel: Option<CancellationToken>,
    /// The scheduled fire this run is for: claimed under the lease, so a second scheduler does
    /// not run the same fire again.
    pub fire: Option<DateTime<Utc>>,
}

/// Where the report goes.
pub(super) enum ReportTo {
    /// `<state-dir>/reports/<run-id>.json`
    StateDir,
    File(PathBuf),
    /// `<dir>/<run-id>.json`
    Dir(PathBuf),
}

pub(super) enum Executed {
    /// The engine ran; the report is written (unless writing it failed, which was printed).
    Ran {
        code: i32,
        run_id: String,
        outcome: Outcome,
        report: PathBuf,
    },
    /// Another run holds the target's lease; nothing was changed.
    Busy(String),
    /// Another scheduler already started this fire; nothing was changed.
    AlreadyRan(String),
}

/// Reaches the target (AWS, or a fresh lab seeded from the drill), runs the engine under the
/// target's lease (which the engine takes after its read-only preflight) and writes the report.
/// What `drill run` and the scheduler share. Everything here that can refuse the run only reads.
///
/// Everything it logs, and everything the tasks it starts log, is inside a `run` span naming the
/// drill and, once it is chosen, the run id: two runs in one process (the scheduler's) or in one
/// log stream stay apart.
pub(super) async fn execute(
    cli: &Cli,
    drill: &crate::spec::Drill,
    how: Execution<'_>,
) -> Result<Executed, CliError> {
    let span = tracing::info_span!(
        "run",
        drill = %crate::escape::terminal(&drill.name),
        run_id = tracing::field::Empty
    );
    execute_in(cli, drill, how).instrument(span).await
}

async fn execute_in(
    cli: &Cli,
    drill: &crate::spec::Drill,
    how: Execution<'_>,
) -> Result<Executed, CliError> {
    let state_dir = common::state_dir(cli)?;
    if let Some(notify) = &drill.notify {
        notify
            .program(&drill.path)
            .map_err(|e| CliError::Refused(format!("{e}; nothing was changed")))?;
    }
    let report_dir = match &how.report {
        ReportTo::StateDir => Report::default_dir(&state_dir),
        ReportTo::File(path) => path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
        ReportTo::Dir(dir) => dir.clone(),
    };
    // A run whose report could not be written would leave no account of what it changed.
    std::fs::create_dir_all(&report_dir).map_err(|e| {
        CliError::Refused(format!(
            "cannot write reports to {}: {e}; nothing was changed",
            report_dir.display()
        ))
    })?;
    let target = lab::target(cli, drill, how.lab).await?;
    // Before the lease, which is the tool's record, not part of the world the drill must restore.
    let initial = target.lab.as_ref().map(|(world, _)| world.snapshot());
    let run_id = engine::new_run_id(&target.clock);
    tracing::Span::current().record("run_id", tracing::field::display(&run_id));
    let context = Context::here(how.fire, target_of(cli, &target));
    let failback = how.failback;
    let cancel = how
        .cancel
        .unwrap_or_else(|| common::cancel_on_signals(&run_id));
    let route53 = target.cloud.route53.clone();
    let place = Place::of(route53.as_ref(), drill).await.map_err(|e| {
        CliError::Refused(format!(
            "cannot find where the lease for drill {} lives: {e}; nothing was changed",
            drill.name
        ))
    })?;
    let guard = LeaseGuard::new(
        route53,
        target.clock.clone(),
        place,
        lease::owner(),
        run_id.clone(),
        drill.name.clone(),
        state_dir.clone(),
        // A private lab dies with the process, and its lease with it.
        target.lab.is_some(),
        how.fire,
    );
    let opts = RunOptions {
        state_dir: state_dir.clone(),
        run_id: run_id.clone(),
        failback,
        cancel: cancel.clone(),
        connection: target.connection.clone(),
        poll: target.poll,
        clock: target.clock.clone(),
    };
    tracing::info!("drill starting");
    let result = {
        let progress = std::sync::Arc::new(engine::progress::Progress::default());
        let _view = super::progress::start(progress.clone(), target.clock.clone());
        let extras = engine::Extras {
            network: target.probe_network(),
            progress: Some(progress),
        };
        engine::run_with(drill, &target.cloud, &opts, &extras, Some(&guard)).await
    };
    match guard.refusal() {
        Some(Refusal::Busy(why)) => return Ok(Executed::Busy(why)),
        Some(Refusal::AlreadyRan(by)) => return Ok(Executed::AlreadyRan(by)),
        Some(Refusal::Failed(why)) => return Err(CliError::Refused(why)),
        None => {}
    }
    let code = exit::for_outcome(result.outcome);
    let mut report = Report::new(drill, &result, failback, code, opts.clock.scale());
    report.context = Some(context);
    let path = match how.report {
        ReportTo::StateDir => Report::default_path(&state_dir, &run_id),
        ReportTo::File(path) => path,
        ReportTo::Dir(dir) => dir.join(format!("{run_id}.json")),
    };
    if let (Some((world, lab_opts)), Some(initial)) = (&target.lab, &initial) {
        report.lab = Some(lab_section(
            &report,
            drill,
            lab_opts,
            initial,
            &world.snapshot(),
            &world.ground_truth(),
            &path,
        ));
    }
    let written = report.write(&path);
    summarise(&report);
    match &written {
        Ok(()) => println!("report: {}", path.display()),
        Err(e) => eprintln!(
            "error: could not write the report to {}: {e}",
            path.display()
        ),
    }
    // Told even when the report could not be written: a run that left something changed must
    // reach someone.
    super::notify::after_run(drill, &report, written.is_ok().then_some(path.as_path())).await;
    Ok(Executed::Ran {
        code,
        run_id,
        outcome: result.outcome,
        report: path,
    })
}

/// What the run goes against, for the report: never credentials, nor the user part of a URL.
fn target_of(cli: &Cli, target: &lab::Target) -> Target {
    let regions = target.connection.regions.clone();
    if let Some((_, opts)) = &target.lab {
        return Target {
            kind: "lab".to_string(),
            time_scale: Some(opts.time_scale),
            endpoint: None,
            profile: None,
            regions,
        };
    }
    if let Some(served) = &target.served {
        return Target {
            kind: "lab-endpoint".to_string(),
            time_scale: Some(served.time_scale),
            endpoint: Some(report::without_userinfo(&served.control)),
            profile: None,
            regions,
        };
    }
    Target {
        kind: "aws".to_string(),
        time_scale: None,
        endpoint: target
            .connection
            .endpoint_url
            .as_deref()
            .map(report::without_userinfo),
        profile: cli
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .filter(|p| !p.is_empty()),
        regions,
    }
}

/// The report's `lab` section: the summary ([`Summary`]) and the critical path, with the whole
/// picture (both snapshots, the whole ground truth) written to the sidecar file beside the report
/// (`<stem>.lab.json`), named in `details`. A sidecar that cannot be written is reported (on
/// stderr and as `details_error`) without failing the run: the summary still says what happened.
fn lab_section(
    report: &Report,
    drill: &crate::spec::Drill,
    lab_opts: &crate::lab::LabOptions,
    initial: &Snapshot,
    end: &Snapshot,
    truth: &GroundTruth,
    report_path: &Path,
) -> serde_json::Value {
    let faults = lab_opts.faults.iter().map(|f| f.to_string()).collect();
    let summary = Summary::new(lab_opts.time_scale, faults, initial, end, truth);
    let mut lab = serde_json::to_value(&summary).unwrap_or_default();
    if let Some(path) = critical_path(report, drill, truth) {
        lab["critical_path"] = serde_json::to_value(path).unwrap_or_default();
    }
    let sidecar = sidecar_path(report_path);
    let details = Details {
        format: DETAILS_FORMAT,
        run_id: &report.run_id,
        initial_state: initial,
        final_state: end,
        ground_truth: truth,
    };
    match report::write_atomically(&sidecar, &details) {
        Ok(()) => {
            let name = sidecar
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            lab["details"] = serde_json::json!(name);
        }
        Err(e) => {
            eprintln!(
                "error: could not write the lab's details to {}: {e}",
                sidecar.display()
            );
            lab["details"] = serde_json::Value::Null;
            lab["details_error"] = serde_json::json!(format!("{}: {e}", sidecar.display()));
        }
    }
    lab
}

/// `<dir>/<stem>.lab.json` beside the report `<dir>/<stem>.json`.
pub(super) fn sidecar_path(report: &Path) -> PathBuf {
    report.with_extension(report::SIDECAR_EXTENSION)
}

/// The critical path of a run that changed something: the lab's waits from its ground truth, and
/// the drill's own (the longest original TTL, the soak, clients following each routing change),
/// over the span `drill_duration_ms` measures (the first change to the end of the run).
fn critical_path(
    report: &Report,
    drill: &crate::spec::Drill,
    truth: &GroundTruth,
) -> Option<critical::CriticalPath> {
    let duration = report.measurements.get("drill_duration_ms")?.as_u64()?;
    let to = report.finished_at;
    let from = to - chrono::Duration::milliseconds(i64::try_from(duration).ok()?);
    // The lease record is the tool's bookkeeping: nothing waits for its changes.
    let mut waits = critical::lab_waits(truth, &["_drill-lease."], to);
    let step = |name: &str| report.steps.iter().find(|s| s.name == name);
    let before = |at: DateTime<Utc>, ms: u64| at - chrono::Duration::milliseconds(ms as i64);
    if let (Some(s), Some(ms)) = (
        step("lower_ttls"),
        report
            .measurements
            .get("ttl_wait_ms")
            .and_then(|v| v.as_u64()),
    ) {
        waits.push(critical::Wait {
            what: "the longest original TTL".to_string(),
            from: before(s.finished_at, ms),
            to: s.finished_at,
        });
    }
    if let Some(s) = step("soak") {
        let ms = s.details["soak_ms"].as_u64().unwrap_or(0);
        waits.push(critical::Wait {
            what: "the soak".to_string(),
            from: before(s.finished_at, ms),
            to: s.finished_at,
        });
    }
    // Clients follow a routing change once their resolvers' caches (the drill TTL) expire: from
    // the name servers answering with the target until the probes saw traffic there for a full
    // window (what verification waits for).
    if let (Some(probes), Some(config)) = (&report.probes, &drill.probes) {
        let time = |v: &serde_json::Value| v.as_str()?.parse::<DateTime<Utc>>().ok();
        let interval = probes["http_interval_ms"]
            .as_u64()
            .map(std::time::Duration::from_millis)
            .unwrap_or(config.interval);
        let window = interval * config.shift_window.saturating_sub(1) as u32;
        for d in probes["directions"].as_array().into_iter().flatten() {
            let (Some(dns), Some(moved)) =
                (time(&d["dns_cutover_at"]), time(&d["traffic_shift_at"]))
            else {
                continue;
            };
            waits.push(critical::Wait {
                what: format!(
                    "clients following the {} to {} (resolver caches, then {} HTTP samples)",
                    d["direction"].as_str().unwrap_or("routing change"),
                    d["target"].as_str().unwrap_or("the target"),
                    config.shift_window
                ),
                from: dns,
                to: moved + chrono::Duration::from_std(window).unwrap_or_default(),
            });
        }
    }
    Some(critical::critical_path(from, to, &waits))
}

/// On a terminal, the operator types the drill's name; without one, `--yes` is required.
fn confirm(name: &str, primary: &str, secondary: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Usage(
            "stdin is not a terminal, so nobody can confirm: pass --yes to run unattended"
                .to_string(),
        ));
    }
    eprint!(
        "This drill moves the writer and traffic from {primary} to {secondary} and back.\nType the drill name ({name}) to run it: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(format!("cannot read the confirmation: {e}")))?;
    if answer.trim() == name {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "confirmation {:?} does not match the drill name {name:?}; nothing was changed",
            answer.trim()
        )))
    }
}

fn summarise(report: &Report) {
    println!(
        "drill {} run {}: {}",
        terminal(&report.drill.name),
        report.run_id,
        report.outcome_str()
    );
    for step in &report.steps {
        println!(
            "  {:<16} {:<7} {}",
            terminal(&step.name),
            step.status.as_str(),
            render::millis(step.duration_ms)
        );
    }
    if report.probes.is_some() {
        let m = &report.measurements;
        for (label, prefix) in [("failover", ""), ("fail-back", "failback_")] {
            let shown: Vec<String> = [
                "dns_cutover_ms",
                "traffic_shift_ms",
                "write_outage_ms",
                "lost_writes",
                "rpo_ms",
            ]
            .iter()
            .filter_map(|k| {
                let v = m.get(&format!("{prefix}{k}"))?;
                Some(match k.strip_suffix("_ms") {
                    Some(name) => match v.as_u64() {
                        Some(ms) => format!("{name} {}", render::millis(ms)),
                        None => format!("{name} —"),
                    },
                    None => format!("{k} {v}"),
                })
            })
            .collect();
            if !shown.is_empty() {
                println!("  probes, {label}: {}", shown.join(", "));
            }
        }
    }
    if let Some(alarms) = &report.alarms {
        let seen: std::collections::BTreeSet<&str> = alarms["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["states_seen"].as_array().into_iter().flatten())
            .filter_map(|s| s.as_str())
            .collect();
        println!(
            "  stop alarms: {} read(s), {} failed; states seen: {}",
            alarms["polls"],
            alarms["failed_polls"],
            if seen.is_empty() {
                "none".to_string()
            } else {
                terminal(&seen.into_iter().collect::<Vec<_>>().join(", ")).into_owned()
            }
        );
    }
    if let Some(stop) = &report.stop {
        println!(
            "  stop condition {} fired at {}: {}",
            terminal(&stop.condition),
            stop.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            terminal(&stop.detail)
        );
    }
    for slo in &report.slos {
        println!(
            "  SLO {:<18} target {}, measured {}: {}",
            terminal(&slo.name),
            render::slo_value(slo.target, &slo.unit),
            slo.measured
                .map(|m| render::slo_value(m, &slo.unit))
                .unwrap_or_else(|| "—".to_string()),
            slo.verdict()
        );
    }
    for e in &report.errors {
        eprintln!("  error: {}", terminal(e));
    }
    if report.outcome == Outcome::Held {
        eprintln!(
            "HELD — the writer and traffic were kept where they serve instead of being moved back:"
        );
        for l in &report.left {
            eprintln!("  - {}", terminal(l));
        }
        if let Some(cmd) = &report.recover_command {
            eprintln!("Fail back once the way back can serve: {cmd}");
        }
    }
    if report.outcome == Outcome::RollbackIncomplete {
        eprintln!("STILL CHANGED — the drill could not restore:");
        for l in &report.left {
            eprintln!("  - {}", terminal(l));
        }
        if let Some(cmd) = &report.recover_command {
            eprintln!("Fix with: {cmd}");
        }
    }
}
