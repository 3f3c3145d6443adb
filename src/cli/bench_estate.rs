//! `drill bench-estate`: what a drill over a large estate costs in Route 53 calls, the account's
//! scarcest resource (5 requests per second). Runs a generated drill — many zones, many weighted
//! record sets — in-process against a private embedded lab and prints, per scenario, the calls of
//! every phase read from the lab's ground truth, the busiest second, the modelled durations and a
//! bound to compare against. A benchmark: it judges nothing and is never run as a test.
//!
//! Phases are the run's steps (the engine's step records, on the lab's clock): a Route 53 call at
//! lab time `t` belongs to the step whose `[start, end)` holds it. Calls outside every step are
//! shown as `(between steps)`, so the phases always add up to the total.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cloud::Cloud;
use crate::engine::journal::{self, Connection, Line, Replay};
use crate::engine::progress::Progress;
use crate::engine::{self, Extras, RecoverOptions, RunOptions};
use crate::lab::truth::GroundTruth;
use crate::lab::{self, LabOptions, Snapshot};
use crate::spec::{self, Drill};

mod figures;

use figures::{
    BOUND_SLACK, Bound, Calls, PhaseFigures, Span, UndoTiming, bound, lab_seconds, peak_per_second,
    phase_figures, route53_times, throttled, undo_timing,
};

use super::CliError;
use super::args::{BenchEstateArgs, EstateScenario};
use super::common;

/// Route 53 returns at most this many record sets per ListResourceRecordSets page.
pub const PAGE_SIZE: usize = 300;
/// The step at which traffic has moved (the shift and its INSYNC are done): where the rollback
/// scenario cancels the run and the recover scenario drops it.
const AFTER_SHIFT: &str = "verify_shift";

/// The estate the generated drill describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Estate {
    pub zones: usize,
    /// Record sets in all, two weighted sets (us-east-1, us-west-2) per name.
    pub records: usize,
}

impl Estate {
    pub fn new(zones: usize, records: usize) -> Result<Self, CliError> {
        if !(1..=99).contains(&zones) {
            return Err(CliError::Usage(format!("--zones {zones}: must be 1 to 99")));
        }
        if records == 0 || !records.is_multiple_of(2 * zones) || records > 200_000 {
            return Err(CliError::Usage(format!(
                "--records {records}: must be a positive multiple of 2 × --zones ({}), at most 200000: \
                 each zone gets the same number of names, each name two weighted record sets",
                2 * zones
            )));
        }
        Ok(Estate { zones, records })
    }

    pub fn per_zone(&self) -> usize {
        self.records / self.zones
    }

    /// Pages one full listing of a zone takes: its record sets plus the apex SOA and NS.
    pub fn pages_per_zone(&self) -> usize {
        (self.per_zone() + 2).div_ceil(PAGE_SIZE)
    }

    pub fn zone_name(i: usize) -> String {
        format!("z{i:02}.estate.example")
    }
}

/// The drill over `estate`: one weighted group per zone `zNN.estate.example`, each name with a
/// us-east-1 set (drill weight 0) and a us-west-2 set (drill weight 100), TTL 300 in the lab, a
/// short soak, no probes. Kept to this one function so a checked-in selection file can replace it.
pub fn drill_text(estate: &Estate) -> String {
    let mut text = String::from(
        r#"name = "bench-estate"
soak = "30s"
[regions]
primary = "us-east-1"
secondary = "us-west-2"
[database]
global_cluster = "estate-global"
secondary_cluster = "estate-usw2"
mode = "switchover"
[lab]
original_ttl = 300
"#,
    );
    for z in 0..estate.zones {
        let zone = Estate::zone_name(z);
        text.push_str(&format!(
            "\n[[groups]]\nname = \"z{z:02}\"\nzone = \"{zone}\"\ntraffic = \"weighted\"\n"
        ));
        for n in 0..estate.per_zone() / 2 {
            for (region, weight) in [("us-east-1", 0), ("us-west-2", 100)] {
                text.push_str(&format!(
                    "  [[groups.records]]\n  name = \"n{n:05}.{zone}\"\n  type = \"A\"\n  set_identifier = \"{region}\"\n  region = \"{region}\"\n  drill_weight = {weight}\n"
                ));
            }
        }
    }
    text
}

/// A compact picture of a world snapshot, and whether before and after were equal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldCheck {
    pub equal: bool,
    pub zones: usize,
    pub record_sets: usize,
    pub writer_regions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioFigures {
    pub scenario: String,
    pub outcome: String,
    pub phases: Vec<PhaseFigures>,
    pub total: Calls,
    /// The most Route 53 calls within any 1-second window of the lab's clock.
    pub peak_route53_calls_per_second: usize,
    /// Calls answered `Throttling` (any service).
    pub throttled: usize,
    pub preflight_s: Option<f64>,
    /// The engine's `drill_duration_ms` (first change to last restore), in seconds.
    pub drill_s: Option<f64>,
    pub wall_s: f64,
    /// VmHWM after this scenario (the whole process so far), KiB.
    pub peak_rss_kib: Option<u64>,
    pub bound: Bound,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<UndoTiming>,
    /// The recover scenario: the calls `drill recover` made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recover_calls: Option<Calls>,
    pub world: WorldCheck,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub estate: Estate,
    pub record_sets_per_zone: usize,
    pub pages_per_zone: usize,
    pub time_scale: f64,
    pub scenarios: Vec<ScenarioFigures>,
    pub wall_s: f64,
    pub peak_rss_kib: Option<u64>,
}

pub async fn bench(args: &BenchEstateArgs) -> Result<i32, CliError> {
    let estate = Estate::new(args.zones, args.records)?;
    if !(args.time_scale.is_finite() && args.time_scale > 0.0 && args.time_scale <= 10_000.0) {
        return Err(CliError::Usage(format!(
            "--time-scale {}: must be above 0 and at most 10000",
            args.time_scale
        )));
    }
    let drill = spec::parse(Path::new("bench-estate.toml"), &drill_text(&estate))
        .map_err(|e| CliError::Usage(format!("internal benchmark drill: {e}")))?;
    let state = std::env::temp_dir().join(format!(
        "drill-bench-estate-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&state)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", state.display())))?;
    if !args.json {
        println!(
            "bench-estate: {} zones, {} record sets ({} per zone, {} page(s) to list each), {}× against a private lab",
            estate.zones,
            estate.records,
            estate.per_zone(),
            estate.pages_per_zone(),
            args.time_scale
        );
    }
    let wall = Instant::now();
    let mut scenarios = Vec::new();
    let mut failure = None;
    for scenario in args.scenario.expand() {
        let truth_dir = args.truth.as_deref();
        match run_scenario(
            &drill,
            &estate,
            *scenario,
            args.time_scale,
            &state,
            truth_dir,
        )
        .await
        {
            Ok(figures) => {
                if !args.json {
                    print_scenario(&figures, &estate);
                }
                scenarios.push(figures);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // The journals were the runs' own; the lab they name is gone.
    if let Err(e) = std::fs::remove_dir_all(&state) {
        tracing::warn!("could not remove {}: {e}", state.display());
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let figures = Figures {
        estate,
        record_sets_per_zone: estate.per_zone(),
        pages_per_zone: estate.pages_per_zone(),
        time_scale: args.time_scale,
        scenarios,
        wall_s: wall.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&figures)
            .map_err(|e| CliError::Usage(format!("cannot write the figures as JSON: {e}")))?;
        println!("{text}");
    } else {
        println!(
            "total wall time {:.1} s, peak RSS {}",
            figures.wall_s,
            rss_text(figures.peak_rss_kib)
        );
    }
    Ok(super::exit::PASSED)
}

/// What one scenario's run left to measure.
struct Ran {
    outcome: String,
    phases: Vec<Span>,
    preflight_s: Option<f64>,
    drill_s: Option<f64>,
    /// The last undo pass: its start and end on the run's clock, and the journal it wrote.
    undo_pass: Option<(DateTime<Utc>, DateTime<Utc>, PathBuf)>,
    /// The recover scenario: when recover started and finished (lab seconds).
    recover: Option<Span>,
}

async fn run_scenario(
    drill: &Drill,
    estate: &Estate,
    scenario: EstateScenario,
    time_scale: f64,
    state: &Path,
    truth_dir: Option<&Path>,
) -> Result<ScenarioFigures, CliError> {
    let wall = Instant::now();
    let opts = LabOptions {
        time_scale,
        original_ttl: drill
            .lab
            .as_ref()
            .and_then(|l| l.original_ttl)
            .unwrap_or(300),
        ..LabOptions::default()
    };
    let clock = opts.clock();
    let world = lab::start(std::slice::from_ref(drill), opts, clock.clone())
        .await
        .map_err(|e| CliError::Usage(format!("cannot start the lab: {e}")))?;
    let regions = vec![
        drill.regions.primary.clone(),
        drill.regions.secondary.clone(),
    ];
    let cloud = super::lab::connect_lab(&world, &regions, &clock).await?;
    let before = world.snapshot();
    let run = RunOptions {
        state_dir: state.to_path_buf(),
        run_id: engine::new_run_id(&clock),
        failback: true,
        clock: clock.clone(),
        cancel: CancellationToken::new(),
        connection: Connection::embedded_lab(world.aws_endpoint(), regions),
        poll: common::POLL,
    };
    let origin = world.ground_truth().started_at;
    let ran = match scenario {
        EstateScenario::Pass => run_through(drill, &cloud, &run, origin, false).await,
        EstateScenario::Rollback => run_through(drill, &cloud, &run, origin, true).await,
        EstateScenario::Recover => drop_and_recover(drill, &cloud, &run, origin).await?,
        EstateScenario::All => unreachable!("expanded by the caller"),
    };
    let after = world.snapshot();
    let truth = world.ground_truth();
    world.shutdown().await;
    let undo = ran.undo_pass.as_ref().and_then(|(start, end, path)| {
        let lines = read_journal(path).ok()?;
        undo_timing(&lines, (*start, *end), &truth, common::POLL)
    });
    if let Some(dir) = truth_dir {
        write_truth(dir, scenario, &truth, &ran.phases)?;
    }
    let phases = phase_figures(&truth, &ran.phases);
    let total = phases.iter().fold(Calls::default(), |mut t, p| {
        t.add(&p.calls);
        t
    });
    let reading_phases = phases.iter().filter(|p| p.calls.list_pages > 0).count();
    let pages = estate.pages_per_zone() * estate.zones;
    let recover_calls = ran.recover.as_ref().map(|span| {
        phase_figures(&truth, std::slice::from_ref(span))
            .into_iter()
            .next()
            .map(|p| p.calls)
            .unwrap_or_default()
    });
    Ok(ScenarioFigures {
        scenario: scenario.as_str().to_string(),
        outcome: ran.outcome,
        bound: bound(pages, reading_phases, total.health_checks, total.route53),
        peak_route53_calls_per_second: peak_per_second(&route53_times(&truth)),
        throttled: throttled(&truth),
        phases,
        total,
        preflight_s: ran.preflight_s,
        drill_s: ran.drill_s,
        wall_s: wall.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
        undo,
        recover_calls,
        world: world_check(&before, &after),
    })
}

/// Runs the drill to its end; with `cancel_after_shift`, cancels it (as SIGINT would) once traffic
/// has moved, so it rolls back.
async fn run_through(
    drill: &Drill,
    cloud: &Cloud,
    opts: &RunOptions,
    origin: DateTime<Utc>,
    cancel_after_shift: bool,
) -> Ran {
    let progress = Arc::new(Progress::default());
    let extras = Extras {
        progress: Some(progress.clone()),
        ..Extras::default()
    };
    let run = engine::run_with(drill, cloud, opts, &extras, None);
    tokio::pin!(run);
    let result = if cancel_after_shift {
        let mut seen = Vec::new();
        tokio::select! {
            r = &mut run => r,
            _ = watch_until(&progress, AFTER_SHIFT, &mut seen) => {
                opts.cancel.cancel();
                run.await
            }
        }
    } else {
        run.await
    };
    let mut steps = result.steps.clone();
    steps.sort_by_key(|s| s.started_at);
    let phases = steps
        .iter()
        .map(|s| Span {
            name: s.name.clone(),
            from: lab_seconds(origin, s.started_at),
            to: lab_seconds(origin, s.finished_at),
        })
        .collect();
    let preflight_s = steps
        .iter()
        .find(|s| s.name == "preflight")
        .map(|s| s.duration_ms as f64 / 1000.0);
    let undo_pass = steps
        .iter()
        .find(|s| s.name == "rollback")
        .zip(result.journal.clone())
        .map(|(s, path)| (s.started_at, s.finished_at, path));
    Ran {
        outcome: result.outcome.as_str().to_string(),
        phases,
        preflight_s,
        drill_s: result
            .measurements
            .get("drill_duration_ms")
            .and_then(|v| v.as_u64())
            .map(|ms| ms as f64 / 1000.0),
        undo_pass,
        recover: None,
    }
}

/// Drops the run (its future, as a SIGKILL would end the process: the journal stays on disk) once
/// traffic has moved, then runs `drill recover`'s engine function against the same lab.
async fn drop_and_recover(
    drill: &Drill,
    cloud: &Cloud,
    opts: &RunOptions,
    origin: DateTime<Utc>,
) -> Result<Ran, CliError> {
    let clock = &opts.clock;
    let progress = Arc::new(Progress::default());
    let extras = Extras {
        progress: Some(progress.clone()),
        ..Extras::default()
    };
    let started = clock.now();
    let mut seen = Vec::new();
    let finished_first = {
        let run = engine::run_with(drill, cloud, opts, &extras, None);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => Some(r.outcome),
            _ = watch_until(&progress, AFTER_SHIFT, &mut seen) => None,
        }
        // The run's future is dropped here, mid-step.
    };
    let dropped = clock.now();
    // The steps as the live view saw them start; preflight is everything before the first.
    let mut phases = Vec::new();
    let mut from = started;
    let mut name = "preflight".to_string();
    for (next, at) in &seen {
        phases.push(Span {
            name: std::mem::replace(&mut name, next.clone()),
            from: lab_seconds(origin, from),
            to: lab_seconds(origin, *at),
        });
        from = *at;
    }
    phases.push(Span {
        name: format!("{name} (dropped)"),
        from: lab_seconds(origin, from),
        to: lab_seconds(origin, dropped),
    });
    let preflight_s = phases
        .first()
        .filter(|p| p.name == "preflight")
        .map(|p| p.to - p.from);
    let path = journal::journal_dir(&opts.state_dir).join(format!("{}.jsonl", opts.run_id));
    let replay = Replay::read(&path)
        .map_err(|e| CliError::Usage(format!("cannot read the dropped run's journal: {e}")))?;
    let recovering = clock.now();
    let recovery = engine::recover(
        &opts.state_dir,
        replay,
        cloud,
        &RecoverOptions {
            clock: clock.clone(),
            poll: opts.poll,
            insync_timeout: drill.timeouts.insync,
            promotion_timeout: drill.timeouts.promotion,
            app: None,
        },
    )
    .await
    .map_err(|e| CliError::Usage(format!("recover failed: {e}")))?;
    let recovered = clock.now();
    let recover = Span {
        name: "recover".to_string(),
        from: lab_seconds(origin, recovering),
        to: lab_seconds(origin, recovered),
    };
    phases.push(recover.clone());
    let outcome = match finished_first {
        Some(outcome) => format!(
            "ran to {} before traffic moved; recover: {}",
            outcome.as_str(),
            recovery.outcome.as_str()
        ),
        None => format!(
            "dropped after the shift; recover: {}",
            recovery.outcome.as_str()
        ),
    };
    Ok(Ran {
        outcome,
        phases,
        preflight_s,
        drill_s: None,
        undo_pass: Some((recovering, recovered, path)),
        recover: Some(recover),
    })
}

/// Watches the live view until step `target` starts, noting each step start it sees.
async fn watch_until(progress: &Progress, target: &str, seen: &mut Vec<(String, DateTime<Utc>)>) {
    loop {
        if let Some((name, at)) = progress.snapshot().step
            && seen.last().is_none_or(|(last, _)| *last != name)
        {
            seen.push((name.clone(), at));
            if name == target {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `DIR/<scenario>.json`: the scenario's phases and the lab's ground truth, to check the figures
/// against by hand.
fn write_truth(
    dir: &Path,
    scenario: EstateScenario,
    truth: &GroundTruth,
    phases: &[Span],
) -> Result<(), CliError> {
    let path = dir.join(format!("{}.json", scenario.as_str()));
    let phases: Vec<serde_json::Value> = phases
        .iter()
        .map(|p| serde_json::json!({ "phase": p.name, "from_s": p.from, "to_s": p.to }))
        .collect();
    let doc = serde_json::json!({ "phases": phases, "ground_truth": truth });
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, doc.to_string()))
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))
}

fn read_journal(path: &Path) -> Result<Vec<Line>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn world_check(before: &Snapshot, after: &Snapshot) -> WorldCheck {
    WorldCheck {
        equal: before == after,
        zones: after.zones.len(),
        record_sets: after.zones.iter().map(|z| z.records.len()).sum(),
        writer_regions: after
            .global_clusters
            .iter()
            .flat_map(|g| g.members.iter())
            .filter(|m| m.role == "writer")
            .map(|m| m.region.clone())
            .collect(),
    }
}

/// The process's peak resident set (VmHWM), KiB; None off Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn rss_text(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".to_string())
}

fn seconds(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1} s"))
        .unwrap_or_else(|| "—".to_string())
}

fn print_scenario(f: &ScenarioFigures, estate: &Estate) {
    println!("\nscenario {}: {}", f.scenario, f.outcome);
    println!(
        "  {:<26} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>4} {:>5} {:>4}  change calls/zone (needed)",
        "phase", "from s", "to s", "R53", "pages", "change", "getchg", "hc", "other", "rds"
    );
    let row = |name: &str, from: f64, to: f64, c: &Calls, zones: String| {
        let t = |v: f64| {
            if v.is_nan() {
                "—".to_string()
            } else {
                format!("{v:.1}")
            }
        };
        println!(
            "  {:<26} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>4} {:>5} {:>4}  {zones}",
            name,
            t(from),
            t(to),
            c.route53,
            c.list_pages,
            c.change_calls,
            c.get_change,
            c.health_checks,
            c.other_route53,
            c.rds
        );
    };
    for p in &f.phases {
        let zones = if p.max_change_calls_per_zone == 0 && p.max_change_calls_needed == 0 {
            String::new()
        } else {
            format!(
                "{} ({}){}",
                p.max_change_calls_per_zone,
                p.max_change_calls_needed,
                if p.zones_over > 0 {
                    format!(", {} zone(s) over", p.zones_over)
                } else {
                    String::new()
                }
            )
        };
        row(&p.phase, p.from_s, p.to_s, &p.calls, zones);
    }
    row("total", f64::NAN, f64::NAN, &f.total, String::new());
    println!(
        "  peak Route 53 calls in any 1 s: {}; Throttling answered: {}",
        f.peak_route53_calls_per_second, f.throttled
    );
    println!(
        "  preflight {}, drill {} (modelled); wall {:.1} s; peak RSS {}",
        seconds(f.preflight_s),
        seconds(f.drill_s),
        f.wall_s,
        rss_text(f.peak_rss_kib)
    );
    let b = &f.bound;
    println!(
        "  bound {BOUND_SLACK} × ({} pages [{} zones × {}] × {} reading phases) + {} health-check calls = {:.0}; actual {}: {}",
        b.pages_to_list_touched_zones,
        estate.zones,
        estate.pages_per_zone(),
        b.reading_phases,
        b.health_check_calls,
        b.bound,
        b.actual,
        if b.within {
            "within".to_string()
        } else {
            format!("{:.1}× over", b.actual as f64 / b.bound.max(1.0))
        }
    );
    if let Some(u) = &f.undo {
        println!(
            "  last undo, record sets after the writer: {:.1} s (its last change to its end: {}); 2 × (slowest INSYNC {:.1} s + poll {:.1} s) = {:.1} s",
            u.seconds,
            seconds(u.last_change_to_end_s),
            u.slowest_insync_s,
            u.poll_s,
            u.bound_s
        );
    }
    if let Some(c) = &f.recover_calls {
        println!(
            "  recover: {} Route 53 calls ({} pages, {} change, {} GetChange, {} health-check), {} RDS",
            c.route53, c.list_pages, c.change_calls, c.get_change, c.health_checks, c.rds
        );
    }
    let w = &f.world;
    println!(
        "  world before == after: {} ({} zones, {} record sets, writer {})",
        if w.equal { "yes" } else { "NO" },
        w.zones,
        w.record_sets,
        w.writer_regions.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_drill_is_valid_and_has_the_estate() {
        let estate = Estate::new(3, 12).unwrap();
        let drill = spec::parse(Path::new("x.toml"), &drill_text(&estate)).unwrap();
        assert_eq!(drill.groups.len(), 3);
        assert!(drill.groups.iter().all(|g| g.records.len() == 4));
        assert_eq!(drill.records().count(), 12);
        assert!(drill.probes.is_none());
        assert_eq!(drill.soak, Duration::from_secs(30));
    }

    #[test]
    fn an_uneven_estate_is_refused() {
        assert!(Estate::new(2, 6).is_err());
        assert!(Estate::new(0, 6).is_err());
        assert!(Estate::new(2, 0).is_err());
        assert_eq!(Estate::new(20, 10_000).unwrap().pages_per_zone(), 2);
        assert_eq!(Estate::new(20, 1_000).unwrap().pages_per_zone(), 1);
        assert_eq!(Estate::new(1, 298).unwrap().pages_per_zone(), 1);
        assert_eq!(Estate::new(1, 300).unwrap().pages_per_zone(), 2);
    }
}
