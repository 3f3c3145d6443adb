//! The scheduler daemon: one coordinator loop that owns every piece of state and `select!`s over
//! the next timer, finished runs and control messages (reload, stop). It never polls: it sleeps on
//! one timer until the earliest thing it has to do (a fire, a retry, a debounced reload), capped at
//! [`MAX_SLEEP`] so a stepped wall clock is noticed within a day.
//!
//! What happens to a fire, in order:
//!
//! 1. It becomes *pending* at its scheduled time (or, at start-up, when the state says it was
//!    missed while the scheduler was down).
//! 2. It waits while another run on the same target (global cluster) is going: one run at a time
//!    per target.
//! 3. When it can start, it is skipped (and logged) if it is later than the drill's `grace`, if it
//!    was missed and the drill says `missed_run = "skip"`, or if the drill's allowed hours or a
//!    blackout forbid starting *now*.
//! 4. Otherwise the checkpoint is saved (so a crash mid-run is not repeated) and the [`Runner`]
//!    runs it: lease, claim, engine, report. A run refused because another host holds the lease,
//!    or that could not start, is retried until its grace runs out.
//!
//! A stop request cancels every running drill (each rolls back through the engine's cancel token)
//! and returns once they have all finished.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::clock::Clock;
use crate::engine::Outcome;
use crate::spec::Drill;
use crate::spec::scheduling::MissedRun;

use super::catalog::{self, Catalog, Scheduled};
use super::state::{DrillState, LastRun, State, StateDir, StateError};
use super::window;

/// The longest single sleep: the timer is re-armed from the wall clock at least this often, so a
/// wall clock that was stepped (NTP, an operator) is followed within a day.
pub const MAX_SLEEP: Duration = Duration::from_secs(24 * 3600);
/// How long the files must be quiet after a change before they are reloaded (editors write a
/// file in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// One run to do: a drill and the fire it is for.
#[derive(Debug, Clone)]
pub struct Job {
    pub drill: Drill,
    pub fire: DateTime<Utc>,
}

/// How a [`Runner`] dealt with a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    /// The engine ran (whatever its outcome); the report is written.
    Finished {
        run_id: String,
        outcome: Outcome,
        report: Option<PathBuf>,
    },
    /// Another run holds the target's lease; nothing was changed.
    Busy(String),
    /// Another scheduler already started this fire.
    AlreadyRan(String),
    /// The run could not start (target unreachable, …); nothing was changed.
    Failed(String),
}

/// Runs one job. The CLI's runner takes the lease, claims the fire, runs the engine and writes the
/// report, exactly as `drill run --yes` does; tests substitute their own.
#[async_trait(?Send)]
pub trait Runner {
    async fn run(&self, job: Job, cancel: CancellationToken) -> JobResult;
}

/// What the daemon is told from outside (signals, the file watcher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: reload the drill files now.
    Reload,
    /// A drill file changed: reload once the files are quiet.
    Changed,
    /// SIGTERM/SIGINT: roll back running drills and stop.
    Stop,
}

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub state: StateDir,
    pub clock: Clock,
}

/// How the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Runs that a stop interrupted, and how each ended.
    pub interrupted: Vec<(String, Outcome)>,
    /// Some run (interrupted or not) left something changed.
    pub incomplete: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    State(#[from] StateError),
}

#[derive(Debug, Clone)]
struct Pending {
    path: PathBuf,
    fire: DateTime<Utc>,
    not_before: DateTime<Utc>,
    /// Found missed at start-up (the `missed_run` policy applies).
    missed: bool,
}

struct Running {
    path: PathBuf,
    drill: String,
    cancel: CancellationToken,
}

type Done = (String, Pending, String, JobResult);

struct Daemon<'r> {
    opts: Options,
    runner: &'r dyn Runner,
    state: State,
    scheduled: BTreeMap<PathBuf, Scheduled>,
    /// The next fire of each drill.
    next: BTreeMap<PathBuf, DateTime<Utc>>,
    pending: Vec<Pending>,
    /// By target.
    running: HashMap<String, Running>,
    reload_at: Option<DateTime<Utc>>,
    stopping: bool,
    stopped: Stopped,
}

/// Runs the scheduler until a [`Control::Stop`] (or the control channel closing).
pub async fn run(
    opts: Options,
    runner: &dyn Runner,
    mut control: mpsc::Receiver<Control>,
) -> Result<Stopped, DaemonError> {
    let _lock = opts.state.lock()?;
    let state = opts.state.load()?;
    let mut d = Daemon {
        opts,
        runner,
        state,
        scheduled: BTreeMap::new(),
        next: BTreeMap::new(),
        pending: Vec::new(),
        running: HashMap::new(),
        reload_at: None,
        stopping: false,
        stopped: Stopped {
            interrupted: Vec::new(),
            incomplete: false,
        },
    };
    d.reload(true);
    let mut jobs: FuturesUnordered<LocalBoxFuture<'_, Done>> = FuturesUnordered::new();
    loop {
        if !d.stopping {
            for future in d.start_due() {
                jobs.push(future);
            }
        }
        if d.stopping && jobs.is_empty() {
            tracing::info!("scheduler stopped");
            return Ok(d.stopped);
        }
        let sleep = d.sleep_for();
        tokio::select! {
            biased;
            message = control.recv(), if !d.stopping => match message {
                Some(Control::Reload) => {
                    tracing::info!("SIGHUP: reloading the drill files");
                    d.reload(false);
                }
                Some(Control::Changed) => {
                    d.reload_at = Some(d.now() + DEBOUNCE);
                }
                Some(Control::Stop) | None => d.stop(),
            },
            Some(done) = jobs.next(), if !jobs.is_empty() => d.finished(done),
            () = d.opts.clock.sleep(sleep), if !d.stopping => d.wake(),
        }
    }
}

impl<'r> Daemon<'r> {
    fn now(&self) -> DateTime<Utc> {
        self.opts.clock.now()
    }

    /// Reads the files again: new and changed drills are (re)scheduled from now, removed and
    /// invalid ones are dropped, the others keep their next fire. At start-up (`first`), runs
    /// missed since the saved checkpoint are found.
    fn reload(&mut self, first: bool) {
        self.reload_at = None;
        let Catalog {
            scheduled,
            unscheduled,
            rejected,
        } = catalog::load(&self.opts.paths);
        for errors in &rejected {
            tracing::error!(
                "rejected {} (its drill is not scheduled until it is fixed):\n{errors}",
                errors.path.display()
            );
        }
        for path in &unscheduled {
            tracing::debug!("{} has no schedule", path.display());
        }
        let now = self.now();
        let mut dirty = false;
        for path in self.scheduled.keys() {
            if !scheduled.contains_key(path) {
                tracing::warn!("{}: no longer scheduled", path.display());
            }
        }
        self.next.retain(|path, _| scheduled.contains_key(path));
        self.pending.retain(|p| scheduled.contains_key(&p.path));
        for (path, s) in &scheduled {
            let unchanged = self
                .scheduled
                .get(path)
                .is_some_and(|old| old.drill.sha256 == s.drill.sha256);
            if unchanged {
                continue;
            }
            let name = &s.drill.name;
            if let Some(Err(e)) = s.drill.notify.as_ref().map(|n| n.program(path)) {
                tracing::warn!(
                    "drill {name}: {e}; its runs will be refused until the program is there"
                );
            }
            let entry = self.state.drills.entry(name.clone()).or_insert_with(|| {
                dirty = true;
                DrillState {
                    checkpoint: now,
                    last_run: None,
                }
            });
            if first && let Some(missed) = s.fires.latest_in(entry.checkpoint, now) {
                tracing::warn!(
                    "drill {name}: the run due at {} was missed while the scheduler was not running (missed_run = \"{}\")",
                    show(missed),
                    s.drill
                        .schedule
                        .as_ref()
                        .map_or("skip", |sc| sc.policy.missed_run.as_str())
                );
                self.pending.push(Pending {
                    path: path.clone(),
                    fire: missed,
                    not_before: now,
                    missed: true,
                });
            }
            match s.fires.next_after(now) {
                Some(next) => {
                    tracing::info!(
                        "drill {name} ({}): next run {} ({} {})",
                        path.display(),
                        show(next),
                        next.with_timezone(&s.fires.timezone())
                            .format("%Y-%m-%d %H:%M:%S"),
                        s.fires.timezone().name()
                    );
                    self.next.insert(path.clone(), next);
                }
                None => {
                    tracing::warn!("drill {name}: the schedule never fires again");
                    self.next.remove(path);
                }
            }
        }
        self.scheduled = scheduled;
        tracing::info!(
            "{} scheduled drill(s), {} rejected file(s)",
            self.scheduled.len(),
            rejected.len()
        );
        if dirty {
            self.save();
        }
    }

    fn save(&self) {
        if let Err(e) = self.opts.state.save(&self.state) {
            tracing::error!("could not save the scheduler state: {e}");
        }
    }

    /// How long until the earliest thing to do.
    fn sleep_for(&self) -> Duration {
        let busy = |p: &Pending| {
            self.scheduled
                .get(&p.path)
                .is_some_and(|s| self.running.contains_key(s.target()))
        };
        let earliest = self
            .next
            .values()
            .copied()
            .chain(
                self.pending
                    .iter()
                    .filter(|p| !busy(p))
                    .map(|p| p.not_before),
            )
            .chain(self.reload_at)
            .min();
        let Some(at) = earliest else {
            tracing::info!("nothing scheduled; waiting for a change or a signal");
            return MAX_SLEEP;
        };
        let wait = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            tracing::debug!("sleeping until {}", show(at));
        }
        wait.min(MAX_SLEEP)
    }

    /// The timer fired: queue every fire that is due, reload if a change has settled.
    fn wake(&mut self) {
        let now = self.now();
        if self.reload_at.is_some_and(|at| at <= now) {
            tracing::info!("a drill file changed: reloading");
            self.reload(false);
        }
        let due: Vec<PathBuf> = self
            .next
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| p.clone())
            .collect();
        for path in due {
            let Some(s) = self.scheduled.get(&path) else {
                continue;
            };
            let scheduled = self.next[&path];
            // Normally the fire we slept for; after a suspend, the latest one that passed.
            let fire = s
                .fires
                .latest_in(scheduled - chrono::TimeDelta::seconds(1), now)
                .unwrap_or(scheduled);
            if fire != scheduled {
                tracing::warn!(
                    "drill {}: woke late (was the machine asleep?); runs between {} and {} are skipped",
                    s.drill.name,
                    show(scheduled),
                    show(fire)
                );
            }
            // A newer fire supersedes one still waiting for the same drill.
            self.pending.retain(|p| {
                let superseded = p.path == path;
                if superseded {
                    tracing::warn!(
                        "drill {}: the run due at {} never started and is superseded by the one due at {}",
                        s.drill.name,
                        show(p.fire),
                        show(fire)
                    );
                }
                !superseded
            });
            self.pending.push(Pending {
                path: path.clone(),
                fire,
                not_before: fire,
                missed: false,
            });
            match s.fires.next_after(now) {
                Some(next) => {
                    self.next.insert(path, next);
                }
                None => {
                    self.next.remove(&path);
                }
            }
        }
    }

    /// Starts (or skips) every pending fire whose time has come and whose target is free.
    fn start_due(&mut self) -> Vec<LocalBoxFuture<'r, Done>> {
        let now = self.now();
        let mut started = Vec::new();
        self.pending.sort_by_key(|p| p.fire);
        let mut waiting = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            let Some(s) = self.scheduled.get(&p.path) else {
                continue;
            };
            if p.not_before > now || self.running.contains_key(s.target()) {
                waiting.push(p);
                continue;
            }
            let (drill, tz, target) = (s.drill.clone(), s.fires.timezone(), s.target().to_string());
            let Some(schedule) = drill.schedule.clone() else {
                continue;
            };
            let late = (now - p.fire).to_std().unwrap_or(Duration::ZERO);
            let skip = if p.missed && schedule.policy.missed_run == MissedRun::Skip {
                Some(
                    "it was missed while the scheduler was down and missed_run = \"skip\""
                        .to_string(),
                )
            } else if late > schedule.policy.grace {
                Some(format!(
                    "it could not start within its grace of {} (now {} late)",
                    humantime::format_duration(schedule.policy.grace),
                    humantime::format_duration(Duration::from_secs(late.as_secs()))
                ))
            } else {
                window::permits(&schedule, tz, now)
                    .err()
                    .map(|blocked| format!("a run may not start now: {blocked}"))
            };
            if let Some(why) = skip {
                tracing::warn!(
                    "drill {}: skipping the run due at {}: {why}",
                    drill.name,
                    show(p.fire)
                );
                self.checkpoint(&drill.name, p.fire, None, format!("skipped: {why}"));
                continue;
            }
            // Saved before the run starts: a crash mid-run must not make it a "missed" run that
            // a restarted scheduler repeats.
            self.checkpoint(&drill.name, p.fire, None, "started".to_string());
            // Everything the run logs, and the tasks it starts, names the drill and the fire: two
            // drills firing in the same minute stay apart in one log.
            let span = tracing::info_span!(
                "fire",
                drill = %crate::escape::terminal(&drill.name),
                at = %show(p.fire)
            );
            span.in_scope(|| {
                tracing::info!(
                    "drill {}: starting the run due at {}",
                    drill.name,
                    show(p.fire)
                )
            });
            let cancel = CancellationToken::new();
            self.running.insert(
                target.clone(),
                Running {
                    path: p.path.clone(),
                    drill: drill.name.clone(),
                    cancel: cancel.clone(),
                },
            );
            let runner = self.runner;
            let name = drill.name.clone();
            let job = Job {
                drill,
                fire: p.fire,
            };
            started.push(Box::pin(
                async move {
                    let result = runner.run(job, cancel).await;
                    (target, p, name, result)
                }
                .instrument(span),
            ) as LocalBoxFuture<'r, Done>);
        }
        self.pending = waiting;
        started
    }

    fn checkpoint(
        &mut self,
        name: &str,
        fire: DateTime<Utc>,
        run_id: Option<String>,
        result: String,
    ) {
        let entry = self
            .state
            .drills
            .entry(name.to_string())
            .or_insert_with(|| DrillState {
                checkpoint: fire,
                last_run: None,
            });
        entry.checkpoint = entry.checkpoint.max(fire);
        entry.last_run = Some(LastRun {
            fire,
            run_id,
            result,
        });
        self.save();
    }

    fn finished(&mut self, (target, p, name, result): Done) {
        let running = self.running.remove(&target);
        let now = self.now();
        let retry =
            |grace: Duration| (grace / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let grace = self
            .scheduled
            .get(&p.path)
            .and_then(|s| s.drill.schedule.as_ref())
            .map(|s| s.policy.grace);
        match result {
            JobResult::Finished {
                run_id,
                outcome,
                report,
            } => {
                let where_ = report
                    .map(|r| format!("; report {}", r.display()))
                    .unwrap_or_default();
                let _run = tracing::info_span!(
                    "run",
                    drill = %crate::escape::terminal(&name),
                    run_id = %run_id
                )
                .entered();
                if matches!(outcome, Outcome::Passed) {
                    tracing::info!("drill {name} run {run_id}: {}{where_}", outcome.as_str());
                } else {
                    tracing::warn!("drill {name} run {run_id}: {}{where_}", outcome.as_str());
                }
                if outcome == Outcome::RollbackIncomplete {
                    self.stopped.incomplete = true;
                }
                if self.stopping && running.is_some() {
                    self.stopped.interrupted.push((run_id.clone(), outcome));
                }
                self.checkpoint(&name, p.fire, Some(run_id), outcome.as_str().to_string());
            }
            JobResult::AlreadyRan(by) => {
                tracing::info!(
                    "drill {name}: the run due at {} was already started ({by}); not running it again",
                    show(p.fire)
                );
                self.checkpoint(&name, p.fire, None, format!("already started: {by}"));
            }
            JobResult::Busy(why) | JobResult::Failed(why) => {
                let next_try = now
                    + chrono::TimeDelta::from_std(retry(grace.unwrap_or_default()))
                        .unwrap_or_default();
                let deadline = grace
                    .and_then(|g| chrono::TimeDelta::from_std(g).ok())
                    .map(|g| p.fire + g);
                if self.stopping || deadline.is_none_or(|d| next_try > d) {
                    tracing::warn!(
                        "drill {name}: the run due at {} did not start and its grace is over: {why}",
                        show(p.fire)
                    );
                    self.checkpoint(&name, p.fire, None, format!("not run: {why}"));
                } else {
                    tracing::info!(
                        "drill {name}: could not start the run due at {} ({why}); trying again at {}",
                        show(p.fire),
                        show(next_try)
                    );
                    self.pending.push(Pending {
                        not_before: next_try,
                        ..p
                    });
                }
            }
        }
    }

    fn stop(&mut self) {
        self.stopping = true;
        if self.running.is_empty() {
            tracing::info!("stopping: no drill is running");
            return;
        }
        for r in self.running.values() {
            tracing::warn!(
                "stopping: rolling back drill {} ({}) before exiting",
                r.drill,
                r.path.display()
            );
            r.cancel.cancel();
        }
    }
}

/// `2025-02-04T09:00:00Z`.
pub fn show(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
