//! The drill lifecycle, in order:
//!
//! ```text
//! preflight (read-only) ─► lock ─► lower TTLs ─► wait INSYNC + old TTL ─► promote secondary
//!    ─► shift traffic ─► verify traffic moved ─► soak ─► fail back (writer + routing)
//!    ─► verify recovery ─► restore TTLs ─► unlock ─► report
//! ```
//!
//! Between the lock and the first change: the journal, whose header names the lease the run is
//! about to take, then the lease itself (the [`Guard`]: the run's first write), then a re-read of
//! the global cluster the lease now protects. Everything that can refuse a run before the lease
//! only reads; a refusal by the lease leaves no journal behind.
//!
//! Any step failing, the guard being lost, or the cancel token firing (SIGINT/SIGTERM), stops the
//! forward path and rolls back every outstanding journaled mutation, newest first, through the same
//! undo that fail-back uses. The lock is released when the run returns; the lease after the
//! journal's last line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::spec::{Drill, OnFailure};

use super::context::{Ctx, StepError, lock};
use super::guard::Guard;
use super::journal::{Connection, FORMAT_VERSION, Header, Journal, LeaseZone, Line, Replay};
use super::lock::RunLock;
use super::outcome::{ChangeRecord, Outcome, RunResult, SloResult, StepStatus};
use super::preflight::preflight;
use super::probing::{self, ProbeVerifier};
use super::progress::Progress;
use super::steps::{self, ms};
use super::undo::{AppCheck, Reversal, Undone};
use super::verify::{ControlPlane, Side, Verifier, verify};
use crate::probes::{Mark, Network, Prober};

pub struct RunOptions {
    pub state_dir: PathBuf,
    pub run_id: String,
    /// False for `--no-failback`: stay in the secondary region, restore only the TTLs.
    pub failback: bool,
    pub clock: Clock,
    /// Cancelled on SIGINT/SIGTERM: the run stops and rolls back.
    pub cancel: CancellationToken,
    /// Recorded in the journal header so `drill recover` can reach the same cloud.
    pub connection: Connection,
    /// How often waits poll the cloud, in modelled time.
    pub poll: Duration,
}

/// A new run id: UTC time to the second plus a random suffix, sortable and unique per host.
pub fn new_run_id(clock: &Clock) -> String {
    format!(
        "{}-{:04x}",
        clock.now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

/// What a run may be given besides its options: where probes reach the world (the lab) and a
/// live view to keep up to date.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    pub network: Network,
    pub progress: Option<std::sync::Arc<Progress>>,
}

pub async fn run(drill: &Drill, cloud: &Cloud, opts: &RunOptions) -> RunResult {
    run_with(drill, cloud, opts, &Extras::default(), None).await
}

/// Runs the drill, under `guard` when given: taken after preflight and the journal header, kept
/// for the whole run (losing it cancels the run, which rolls back), released after the journal's
/// last line.
pub async fn run_with(
    drill: &Drill,
    cloud: &Cloud,
    opts: &RunOptions,
    extras: &Extras,
    guard: Option<&dyn Guard>,
) -> RunResult {
    let (held, mut is_held) = tokio::sync::watch::channel(false);
    let run = run_guarded(drill, cloud, opts, extras, guard, &held);
    tokio::pin!(run);
    let lost = async {
        match guard {
            Some(guard) if is_held.wait_for(|h| *h).await.is_ok() => guard.keep().await,
            _ => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = &mut run => result,
        why = lost => {
            tracing::error!("{why}; stopping the drill and rolling back");
            opts.cancel.cancel();
            let mut result = run.await;
            result.errors.push(why);
            result
        }
    };
    if let Some(guard) = guard
        && *held.borrow()
        && let Err(e) = guard.release().await
    {
        tracing::warn!("{e}");
    }
    result
}

/// The run itself; `held` is set once `guard` is taken, from then on [`run_with`] keeps it.
async fn run_guarded(
    drill: &Drill,
    cloud: &Cloud,
    opts: &RunOptions,
    extras: &Extras,
    guard: Option<&dyn Guard>,
    held: &tokio::sync::watch::Sender<bool>,
) -> RunResult {
    let clock = &opts.clock;
    let started_at = clock.now();
    let mut result = RunResult {
        run_id: opts.run_id.clone(),
        outcome: Outcome::Refused,
        started_at,
        finished_at: started_at,
        steps: Vec::new(),
        changes: Vec::new(),
        measurements: BTreeMap::new(),
        slos: Vec::new(),
        errors: Vec::new(),
        left: Vec::new(),
        journal: None,
        probes: None,
        stop: None,
        alarms: None,
    };

    // Preflight: read-only. Refusal changes nothing.
    let plan = tokio::select! {
        plan = preflight(drill, cloud) => plan,
        _ = opts.cancel.cancelled() => {
            result.errors.push("interrupted during preflight; nothing was changed".to_string());
            result.finished_at = clock.now();
            return result;
        }
    };
    let preflight_step = |status, details| super::outcome::StepRecord {
        name: "preflight".to_string(),
        status,
        started_at,
        finished_at: clock.now(),
        duration_ms: (clock.now() - started_at).num_milliseconds().max(0) as u64,
        details,
    };
    // Probes start before the first change; the steady state over their baseline window is
    // preflight's last check.
    let mut prober: Option<Prober> = None;
    let mut steady = None;
    if let (Ok(plan), Some(config)) = (&plan, &drill.probes) {
        let started =
            match probing::setup(config, drill, plan, &extras.network, &cloud.route53).await {
                Ok(setup) => Prober::start(setup, clock.clone()),
                Err(e) => Err(e),
            };
        let refuse = |reasons: Vec<String>, evidence: serde_json::Value| {
            let mut result = result.clone();
            result.steps.push(preflight_step(
                StepStatus::Failed,
                json!({ "reasons": reasons, "steady_state": evidence }),
            ));
            result.errors.extend(reasons);
            result.finished_at = clock.now();
            result
        };
        let p = match started {
            Ok(p) => p,
            Err(e) => {
                return refuse(vec![format!("probes: {e}")], serde_json::Value::Null);
            }
        };
        p.mark(Mark::Phase {
            name: "baseline".to_string(),
        });
        tracing::info!(
            "probes: watching the steady state for {}",
            humantime::format_duration(config.baseline)
        );
        let checked = tokio::select! {
            r = probing::steady_state(&p, drill) => Some(r),
            _ = opts.cancel.cancelled() => None,
        };
        match checked {
            Some(Ok(evidence)) => steady = Some(evidence),
            Some(Err((reasons, evidence))) => {
                let record = p.stop().await;
                let mut refused = refuse(reasons, evidence);
                let (_, section) =
                    probing::measurements(&record, config, drill, clock, &p.shared().skew);
                refused.probes = Some(section);
                return refused;
            }
            None => {
                drop(p);
                let mut r = result.clone();
                r.errors
                    .push("interrupted during preflight; nothing was changed".to_string());
                r.finished_at = clock.now();
                return r;
            }
        }
        prober = Some(p);
    }
    let plan = match plan {
        Ok(plan) => {
            result.steps.push(preflight_step(
                StepStatus::Passed,
                json!({ "records": plan.records.len(), "health_checks": plan.health_checks.len(), "writer": plan.primary_arn, "promote": plan.secondary_arn, "warnings": plan.warnings, "steady_state": steady }),
            ));
            for w in &plan.warnings {
                tracing::warn!("{w}");
            }
            plan
        }
        Err(refusal) => {
            result.steps.push(preflight_step(
                StepStatus::Failed,
                json!({ "reasons": refusal.reasons }),
            ));
            result.errors.extend(refusal.reasons);
            result.finished_at = clock.now();
            return result;
        }
    };

    let _lock = match RunLock::acquire(
        &opts.state_dir,
        &drill.database.global_cluster,
        &format!("run {} of drill {}", opts.run_id, drill.name),
    ) {
        Ok(lock) => lock,
        Err(e) => {
            result.errors.push(e.to_string());
            result.finished_at = clock.now();
            return result;
        }
    };
    let lease = guard.map(|g| g.describe());
    let mut journal = match Journal::create(
        &opts.state_dir,
        Header {
            format_version: FORMAT_VERSION,
            run_id: opts.run_id.clone(),
            drill_name: drill.name.clone(),
            drill_file: drill.path.clone(),
            drill_sha256: drill.sha256.clone(),
            global_cluster: drill.database.global_cluster.clone(),
            started_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            connection: opts.connection.clone(),
            lease_zone: lease
                .as_ref()
                .filter(|l| !l.private_lab)
                .map(|l| LeaseZone {
                    zone_id: l.zone_id.clone(),
                    zone_name: l.zone_name.clone(),
                }),
            lease,
            mode: Some(drill.database.mode.as_str().to_string()),
        },
    ) {
        Ok(j) => j,
        Err(e) => {
            result.errors.push(e.to_string());
            result.finished_at = clock.now();
            return result;
        }
    };
    let journal_path = journal.path().to_path_buf();
    result.journal = Some(journal_path.clone());

    // The lease: the run's first write, now that the journal names it.
    if let Some(guard) = guard {
        if let Err(why) = guard.acquire().await {
            // Refused with nothing written: a journal would only send `drill recover` looking.
            drop(journal);
            if let Err(e) = std::fs::remove_file(&journal_path) {
                tracing::warn!("could not remove {}: {e}", journal_path.display());
            }
            result.journal = None;
            result.errors.push(why);
            result.finished_at = clock.now();
            return result;
        }
        held.send_replace(true);
        // Preflight read the cluster before the lease; another run may have moved it since.
        if let Err(why) = recheck(drill, cloud, &plan).await {
            result.errors.push(format!("{why}; nothing was changed"));
            result.finished_at = clock.now();
            let _ = journal.append(&Line::Finished {
                at: result.finished_at,
                outcome: Outcome::Refused.as_str().to_string(),
            });
            return result;
        }
    }

    let ctx = Ctx {
        drill,
        cloud,
        clock,
        plan: &plan,
        journal: Mutex::new(journal),
        journal_path,
        poll: opts.poll,
        steps: Mutex::new(Vec::new()),
        current: Mutex::new(None),
        measurements: Mutex::new(BTreeMap::new()),
        first_change: Mutex::new(None),
        probes: prober.as_ref(),
        progress: extras.progress.as_deref(),
        app: app_check(drill, &extras.network),
        spent: Mutex::new(Default::default()),
        shift: Mutex::new(None),
    };
    let control_plane = ControlPlane;
    let probe_verifier = ProbeVerifier;
    let mut verifiers: Vec<&dyn Verifier> = vec![&control_plane];
    if prober.is_some() {
        verifiers.push(&probe_verifier);
    }
    let (primary, secondary) = (&drill.regions.primary, &drill.regions.secondary);
    let phase = |name: &str| {
        ctx.mark(Mark::Phase {
            name: name.to_string(),
        })
    };

    let forward = async {
        phase("failover");
        ctx.step("lower_ttls", steps::lower_ttls(&ctx)).await?;
        ctx.mark(Mark::Promotion {
            to: secondary.clone(),
        });
        ctx.step("promote", steps::promote(&ctx)).await?;
        ctx.mark(Mark::Routing {
            to: secondary.clone(),
        });
        ctx.step("shift_traffic", steps::shift_traffic(&ctx))
            .await?;
        correct_routing_mark(&ctx, secondary, steps::SHIFT_TRAFFIC, false);
        ctx.step("verify_shift", verify(&ctx, &verifiers, Side::Secondary))
            .await?;
        phase("soak");
        ctx.step("soak", async {
            ctx.waiting("soaking in the secondary region", drill.soak);
            super::wait::sleep_with_countdown(clock, "soaking in the secondary region", drill.soak)
                .await;
            Ok(json!({ "soak_ms": ms(drill.soak) }))
        })
        .await?;
        if opts.failback {
            phase("failback");
            ctx.mark(Mark::Promotion {
                to: primary.clone(),
            });
            ctx.step("fail_back", steps::fail_back(&ctx)).await?;
            correct_routing_mark(&ctx, primary, steps::SHIFT_TRAFFIC, true);
            ctx.step("verify_recovery", verify(&ctx, &verifiers, Side::Primary))
                .await?;
        }
        ctx.step("restore_ttls", steps::restore_ttls(&ctx)).await?;
        Ok::<(), StepError>(())
    };
    let watched = Mutex::new(super::alarms::Watched::default());
    let monitor = async {
        let probes = async {
            match &prober {
                Some(p) => probing::monitor(p, extras.progress.as_deref()).await,
                None => std::future::pending().await,
            }
        };
        let alarms = async {
            match &drill.alarms {
                Some(watch) => super::alarms::watch(cloud, watch, clock, &watched).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            f = probes => f,
            f = alarms => f,
        }
    };
    let mut fired = None;
    let forward = tokio::select! {
        r = forward => r,
        _ = opts.cancel.cancelled() => Err(StepError::Aborted("a signal".to_string())),
        f = monitor => {
            tracing::warn!("stop condition {f}");
            let e = StepError::Stopped(f.to_string());
            fired = Some(f);
            Err(e)
        }
    };

    let mut outcome = Outcome::Passed;
    if let Err(e) = forward {
        if matches!(e, StepError::Aborted(_) | StepError::Stopped(_)) {
            ctx.abort_current(&e.to_string());
        }
        phase("rollback");
        result.errors.push(e.to_string());
        tracing::warn!("rolling back: {e}");
        let rollback_started = clock.now();
        let undone = match ctx.replay() {
            Ok(replay) => {
                let how = Reversal {
                    wait_for_resync: false,
                    stay: stay_reason(drill, &replay),
                };
                // An undo held in this run, or whose wait already ran out, is not tried again (it
                // would wait out another full timeout): it is reported, and `drill recover`
                // retries it.
                let spent = lock(&ctx.spent).clone();
                ctx.undoer()
                    .undo(
                        &replay.entries,
                        &|e| e.held.is_none() && !spent.contains(&e.seq),
                        &how,
                    )
                    .await
            }
            Err(e) => {
                result
                    .errors
                    .push(format!("could not read the journal to roll back: {e}"));
                Undone::default()
            }
        };
        let status = if undone.is_complete() {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        };
        let lines = |l: &[super::undo::Left]| {
            l.iter()
                .map(|l| format!("{}: {}", l.resource, l.reason))
                .collect::<Vec<_>>()
        };
        ctx.push_step(
            "rollback",
            status,
            rollback_started,
            json!({ "left": lines(&undone.left), "held": lines(&undone.held) }),
        );
        outcome = Outcome::RolledBack;
    } else if !opts.failback {
        // Deliberately staying in the secondary region: the writer and routing are kept.
        if let Ok(replay) = ctx.replay() {
            for entry in replay.outstanding() {
                let line = Line::Kept {
                    seq: entry.seq,
                    at: clock.now(),
                    reason: "--no-failback".to_string(),
                };
                let _ = lock(&ctx.journal).append(&line);
            }
        }
    }

    // The journal is the truth about what is left.
    let replay = ctx.replay().ok();
    if let Some(replay) = &replay {
        result.changes = changes(replay);
        result.left = left_lines(replay);
        if let Some(left) = left_outcome(replay) {
            outcome = left;
        }
    }

    let measurements = lock(&ctx.measurements).clone();
    result.measurements = measurements;
    // Probing stops after the last restore (or rollback).
    if let (Some(p), Some(config)) = (&prober, &drill.probes) {
        let record = p.stop().await;
        let (m, section) = probing::measurements(&record, config, drill, clock, &p.shared().skew);
        result.measurements.extend(m);
        result.probes = Some(section);
    }
    if let Some(watch) = &drill.alarms {
        let watched = watched.lock().unwrap_or_else(|p| p.into_inner());
        result.alarms = Some(watched.report(watch, &plan.alarms));
    }
    result.stop = fired.map(|f| super::outcome::StopRecord {
        condition: f.condition.to_string(),
        at: f.at,
        detail: f.detail,
    });
    let first = *lock(&ctx.first_change);
    if let Some(first) = first {
        result.measurements.insert(
            "drill_duration_ms".to_string(),
            json!(ms(clock.elapsed().saturating_sub(first))),
        );
    }
    result.slos = slos(drill, &result.measurements);
    result
        .slos
        .extend(probing::slos(drill, &result.measurements));
    if outcome == Outcome::Passed && result.slos.iter().any(|s| !s.passed) {
        outcome = Outcome::SloFailed;
    }
    result.steps.extend(lock(&ctx.steps).drain(..));
    result.outcome = outcome;
    result.finished_at = clock.now();
    let _ = lock(&ctx.journal).append(&Line::Finished {
        at: result.finished_at,
        outcome: outcome.as_str().to_string(),
    });
    result
}

/// What is still changed, one line per mutation, saying whether it is held on purpose.
pub fn left_lines(replay: &Replay) -> Vec<String> {
    replay
        .outstanding()
        .iter()
        .map(|e| match &e.held {
            Some(why) => format!(
                "{} (step {}): held as the drill set it ({}) — {why}",
                e.mutation.resource(),
                e.step,
                e.mutation.summary()
            ),
            None => format!(
                "{} (step {}): still {}; should be {}{}",
                e.mutation.resource(),
                e.step,
                e.mutation.after_json(),
                e.mutation.before_json(),
                e.undo_failed
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            ),
        })
        .collect()
}

/// The outcome what is left makes: nothing left, none; only mutations held on purpose, `held`;
/// anything else, `rollback_incomplete`.
pub fn left_outcome(replay: &Replay) -> Option<Outcome> {
    let outstanding = replay.outstanding();
    if outstanding.is_empty() {
        None
    } else if outstanding.iter().all(|e| e.held.is_some()) {
        Some(Outcome::Held)
    } else {
        Some(Outcome::RollbackIncomplete)
    }
}

/// `on_failure = "stay"` keeps the writer and traffic in the secondary region, once traffic has
/// moved there (every routing change of the shift was made): before that, there is nothing to stay
/// in.
fn stay_reason(drill: &Drill, replay: &Replay) -> Option<String> {
    if drill.on_failure != OnFailure::Stay {
        return None;
    }
    let shift: Vec<_> = replay
        .entries
        .iter()
        .filter(|e| e.step == steps::SHIFT_TRAFFIC)
        .collect();
    let moved = !shift.is_empty() && shift.iter().all(|e| e.done && !e.undone);
    moved.then(|| {
        format!(
            "on_failure = \"stay\": the writer and traffic stay in {}",
            drill.regions.secondary
        )
    })
}

/// How undo asks a region's application whether it serves: the drill's HTTP probe, at the port the
/// probes use.
fn app_check(drill: &Drill, network: &Network) -> Option<AppCheck> {
    let http = drill.probes.as_ref()?.http.as_ref()?;
    Some(AppCheck {
        url: http.url.clone(),
        port: network.port,
    })
}

/// After taking the lease: the global cluster is still as preflight planned (writer the planned
/// primary, no switchover or failover running). One DescribeGlobalClusters.
async fn recheck(
    drill: &Drill,
    cloud: &Cloud,
    plan: &super::preflight::Plan,
) -> Result<(), String> {
    let global = cloud
        .rds
        .describe_global_cluster(&drill.regions.secondary, &drill.database.global_cluster)
        .await
        .map_err(|e| format!("re-reading the global cluster after taking the lease: {e}"))?;
    if let Some(f) = &global.failover_state {
        return Err(format!(
            "global cluster {} has a {} under way (from {} to {}) since preflight",
            global.id,
            f.status,
            f.from_cluster_arn.as_deref().unwrap_or("?"),
            f.to_cluster_arn.as_deref().unwrap_or("?")
        ));
    }
    match global.writer() {
        Some(w) if w.cluster_arn == plan.primary_arn => Ok(()),
        w => Err(format!(
            "the writer of global cluster {} is now {} (preflight planned {})",
            global.id,
            w.map(|w| w.cluster_arn.as_str()).unwrap_or("none"),
            plan.primary_arn
        )),
    }
}

/// Moves the probes' routing mark to when Route 53 accepted the change (from the journal).
fn correct_routing_mark(ctx: &Ctx<'_>, to: &str, step: &str, undone: bool) {
    let Some(p) = ctx.probes else { return };
    if let Some(at) = probing::routing_accepted(&ctx.journal_path, step, undone) {
        p.move_mark(
            &Mark::Routing { to: to.to_string() },
            probing::modelled(ctx.clock, at),
        );
    }
}

/// The report's view of the journal.
pub fn changes(replay: &Replay) -> Vec<ChangeRecord> {
    replay
        .entries
        .iter()
        .map(ChangeRecord::from_entry)
        .collect()
}

fn slos(drill: &Drill, m: &BTreeMap<String, serde_json::Value>) -> Vec<SloResult> {
    let get = |k: &str| m.get(k).and_then(|v| v.as_u64());
    let mut out = Vec::new();
    if let Some(target) = drill.slo.max_write_outage {
        // The canary measures the write outage clients saw. Without one, the control plane's
        // promotion time bounds it from above: writes are unavailable at most while a promotion
        // runs.
        let (measured, source) = match probing::write_outage(drill, m) {
            Some(measured) => (
                measured,
                "write_outage_ms, failback_write_outage_ms (canary)",
            ),
            None => (
                [get("promotion_ms"), get("failback_promotion_ms")]
                    .into_iter()
                    .flatten()
                    .max(),
                "promotion_ms (control plane, upper bound)",
            ),
        };
        let target = ms(target);
        out.push(SloResult {
            name: "max_write_outage".to_string(),
            target,
            measured,
            passed: measured.is_some_and(|v| v <= target),
            source: source.to_string(),
            unit: "ms".to_string(),
        });
    }
    if let Some(target) = drill.slo.max_duration {
        let measured = get("drill_duration_ms");
        let target = ms(target);
        out.push(SloResult {
            name: "max_duration".to_string(),
            target,
            measured,
            passed: measured.is_some_and(|v| v <= target),
            source: "drill_duration_ms".to_string(),
            unit: "ms".to_string(),
        });
    }
    out
}
