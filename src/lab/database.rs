//! Aurora Global Database as the lab models it: global clusters, their member clusters, the
//! canary data each cluster holds, replication with lag, and the switchover / failover / detach
//! state machines. Every step happens at a modelled time; the world's event queue calls [`step`]
//! when it is due.
//!
//! Switchover (planned, RPO 0): FailoverState `pending` → `switching-over` (writes still go to the
//! old writer) → the old writer is demoted and writes stop everywhere until the target has caught
//! up and is promoted → the writer has moved → FailoverState cleared.
//!
//! Failover with AllowDataLoss (unplanned): `pending` → `failing-over`: the old writer is fenced
//! and whatever it acknowledged that had not reached the target is lost → the target is promoted;
//! the old writer becomes a `pending-resync` secondary and reconnects once its region is up.
//!
//! [`step`]: Database::step

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::options::Timings;
use super::truth::Truth;

pub const ACCOUNT_ID: &str = "123456789012";
pub const ENGINE: &str = "aurora-postgresql";
pub const ENGINE_VERSION: &str = "15.4";

pub fn cluster_arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:{ACCOUNT_ID}:cluster:{id}")
}

pub fn global_arn(id: &str) -> String {
    format!("arn:aws:rds::{ACCOUNT_ID}:global-cluster:{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Connected,
    PendingResync,
}

impl Sync {
    pub fn as_str(self) -> &'static str {
        match self {
            Sync::Connected => "connected",
            Sync::PendingResync => "pending-resync",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The global cluster's writer.
    Writer,
    Secondary(Sync),
    /// Detached from its global cluster: a writer of its own.
    Standalone,
}

impl Role {
    pub fn is_writer(self) -> bool {
        matches!(self, Role::Writer | Role::Standalone)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Secondary(_) => "secondary",
            Role::Standalone => "standalone",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub resource_id: String,
    pub global: Option<String>,
    pub role: Role,
    /// Writes refused while a promotion has demoted or fenced this writer.
    pub blocked: bool,
    /// Stays `pending-resync` for good (the `secondary-pending-resync` fault).
    pub stuck_resync: bool,
    /// Canary sequence numbers this cluster holds.
    pub data: BTreeSet<u64>,
    /// Writes on their way here: (seq, arrival). None while frozen by an outage.
    pub inbound: Vec<(u64, Option<Duration>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Switchover,
    Failover,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    SwitchingOver,
    FailingOver,
    Cancelling,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::SwitchingOver => "switching-over",
            Phase::FailingOver => "failing-over",
            Phase::Cancelling => "cancelling",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: OpKind,
    pub from: String,
    pub to: String,
    pub phase: Phase,
    /// Distinguishes this operation's queued steps from an earlier one's.
    pub serial: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub id: String,
    pub arn: String,
    pub resource_id: String,
    pub members: Vec<String>,
    pub op: Option<Operation>,
}

impl Global {
    pub fn status(&self) -> &'static str {
        match &self.op {
            None => "available",
            Some(op) if op.kind == OpKind::Failover => "failing-over",
            Some(_) => "switching-over",
        }
    }
}

/// A step of a state machine, queued for a modelled time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    SwitchoverBegin { global: String, serial: u64 },
    SwitchoverDemote { global: String, serial: u64 },
    SwitchoverPromote { global: String, serial: u64 },
    Finalize { global: String, serial: u64 },
    Cancel { global: String, serial: u64 },
    Clear { global: String, serial: u64 },
    FailoverFence { global: String, serial: u64 },
    FailoverPromote { global: String, serial: u64 },
    Resync { cluster: String },
}

/// What the RDS API answers when it refuses a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> RdsError {
    RdsError {
        code,
        message: message.into(),
    }
}

/// Faults that change how the state machines go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbFaults {
    pub switchover_fails: bool,
    pub switchover_hang: Option<Duration>,
}

/// Everything a state change needs besides the database itself.
pub struct Ctx<'a> {
    pub now: Duration,
    pub timings: &'a Timings,
    pub faults: &'a DbFaults,
    pub down: &'a BTreeSet<String>,
    pub truth: &'a mut Truth,
    pub later: &'a mut Vec<(Duration, Step)>,
}

impl Ctx<'_> {
    fn after(&mut self, delay: Duration, step: Step) {
        self.later.push((self.now + delay, step));
    }
}

/// Why a canary write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoCluster,
    NotWriter,
    WritesUnavailable,
    RegionDown,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoCluster => "no database in this region",
            Refusal::NotWriter => "this region's cluster is not the writer",
            Refusal::WritesUnavailable => "writes are unavailable during the promotion",
            Refusal::RegionDown => "region outage",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Database {
    pub globals: BTreeMap<String, Global>,
    pub clusters: BTreeMap<String, Cluster>,
    /// The cluster each region's app writes to and reads from (the first seeded there).
    pub app_cluster: BTreeMap<String, String>,
    serial: u64,
}

impl Database {
    pub fn add_global(&mut self, id: &str, resource_id: String) {
        self.globals
            .entry(id.to_string())
            .or_insert_with(|| Global {
                id: id.to_string(),
                arn: global_arn(id),
                resource_id,
                members: Vec::new(),
                op: None,
            });
    }

    /// Adds a member cluster (no-op if the ARN is already known).
    pub fn add_member(
        &mut self,
        global: &str,
        region: &str,
        id: &str,
        role: Role,
        resource_id: String,
    ) {
        let arn = cluster_arn(region, id);
        if self.clusters.contains_key(&arn) {
            return;
        }
        self.clusters.insert(
            arn.clone(),
            Cluster {
                id: id.to_string(),
                arn: arn.clone(),
                region: region.to_string(),
                resource_id,
                global: Some(global.to_string()),
                role,
                blocked: false,
                stuck_resync: false,
                data: BTreeSet::new(),
                inbound: Vec::new(),
            },
        );
        if let Some(g) = self.globals.get_mut(global) {
            g.members.push(arn.clone());
        }
        self.app_cluster.entry(region.to_string()).or_insert(arn);
    }

    pub fn writer_of(&self, global: &str) -> Option<&Cluster> {
        let g = self.globals.get(global)?;
        g.members
            .iter()
            .filter_map(|arn| self.clusters.get(arn))
            .find(|c| c.role == Role::Writer)
    }

    /// A cluster named by ARN, or by id within the calling region (as RDS resolves identifiers).
    /// The global cluster and a cluster named by id (in `region`) or ARN, or the fault RDS answers
    /// with when either does not exist.
    fn global_and_cluster(
        &self,
        global: &str,
        cluster: &str,
        region: &str,
    ) -> Result<(&Global, &Cluster), RdsError> {
        let g = self.globals.get(global).ok_or_else(|| {
            refuse(
                "GlobalClusterNotFoundFault",
                format!("Global cluster {global} not found."),
            )
        })?;
        let c = self.resolve(cluster, region).ok_or_else(|| {
            refuse(
                "DBClusterNotFoundFault",
                format!("DBCluster {cluster} not found."),
            )
        })?;
        Ok((g, c))
    }

    pub fn resolve(&self, ident: &str, region: &str) -> Option<&Cluster> {
        if ident.starts_with("arn:") {
            self.clusters.get(ident)
        } else {
            self.clusters
                .values()
                .find(|c| c.id == ident && c.region == region)
        }
    }

    /// Moves every write that has arrived by `now` into its cluster.
    pub fn deliver(&mut self, now: Duration) {
        for c in self.clusters.values_mut() {
            let data = &mut c.data;
            c.inbound.retain(|&(seq, arrival)| match arrival {
                Some(at) if at <= now => {
                    data.insert(seq);
                    false
                }
                _ => true,
            });
        }
    }

    /// Whether the app in `region` accepts writes now.
    pub fn writable(&self, region: &str, down: &BTreeSet<String>) -> Result<&Cluster, Refusal> {
        if down.contains(region) {
            return Err(Refusal::RegionDown);
        }
        let c = self
            .app_cluster
            .get(region)
            .and_then(|arn| self.clusters.get(arn))
            .ok_or(Refusal::NoCluster)?;
        if !c.role.is_writer() {
            return Err(Refusal::NotWriter);
        }
        if c.blocked {
            return Err(Refusal::WritesUnavailable);
        }
        Ok(c)
    }

    /// A canary write through `region`'s app: stored in the writer, replicated after `lag` to
    /// each connected secondary (frozen if that secondary's region is down).
    pub fn write(
        &mut self,
        region: &str,
        seq: u64,
        now: Duration,
        lag: Duration,
        down: &BTreeSet<String>,
    ) -> Result<(), Refusal> {
        let writer = self.writable(region, down)?.arn.clone();
        let cluster = &self.clusters[&writer];
        let global = cluster.global.clone();
        let newly = self
            .clusters
            .get_mut(&writer)
            .map(|c| c.data.insert(seq))
            .unwrap_or(false);
        if !newly {
            return Ok(());
        }
        let Some(global) = global.and_then(|g| self.globals.get(&g)) else {
            return Ok(());
        };
        let targets: Vec<String> = global
            .members
            .iter()
            .filter(|m| **m != writer)
            .cloned()
            .collect();
        for arn in targets {
            if let Some(c) = self.clusters.get_mut(&arn)
                && c.role == Role::Secondary(Sync::Connected)
            {
                let arrival = (!down.contains(&c.region)).then_some(now + lag);
                c.inbound.push((seq, arrival));
            }
        }
        Ok(())
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Common checks for SwitchoverGlobalCluster and FailoverGlobalCluster; returns (from, to).
    fn promotion_target(
        &self,
        global: &str,
        target: &str,
        region: &str,
        down: &BTreeSet<String>,
    ) -> Result<(String, String), RdsError> {
        let (g, t) = self.global_and_cluster(global, target, region)?;
        if !g.members.contains(&t.arn) {
            return Err(refuse(
                "InvalidParameterValue",
                format!(
                    "The DB cluster {} is not a member of global cluster {global}.",
                    t.arn
                ),
            ));
        }
        if g.op.is_some() {
            return Err(refuse(
                "InvalidGlobalClusterStateFault",
                format!(
                    "Global cluster {global} is in {} state and cannot be switched over or failed over until the current operation completes.",
                    g.status()
                ),
            ));
        }
        if t.role == Role::Writer {
            return Err(refuse(
                "InvalidParameterValue",
                format!(
                    "The DB cluster {} is already the primary cluster of global cluster {global}.",
                    t.arn
                ),
            ));
        }
        if down.contains(&t.region) {
            return Err(refuse(
                "InvalidDBClusterStateFault",
                format!("DB cluster {} is not currently available.", t.arn),
            ));
        }
        let from = self
            .writer_of(global)
            .ok_or_else(|| {
                refuse(
                    "InvalidGlobalClusterStateFault",
                    format!("Global cluster {global} has no primary cluster."),
                )
            })?
            .arn
            .clone();
        Ok((from, t.arn.clone()))
    }

    /// SwitchoverGlobalCluster (or FailoverGlobalCluster with Switchover=true).
    pub fn start_switchover(
        &mut self,
        ctx: &mut Ctx<'_>,
        global: &str,
        target: &str,
        region: &str,
    ) -> Result<(), RdsError> {
        let (from, to) = self.promotion_target(global, target, region, ctx.down)?;
        if let Role::Secondary(Sync::PendingResync) = self.clusters[&to].role {
            return Err(refuse(
                "InvalidDBClusterStateFault",
                format!(
                    "The target DB cluster {to} is not synchronized with the primary (synchronization status pending-resync); a switchover needs every secondary connected."
                ),
            ));
        }
        let serial = self.next_serial();
        self.begin(ctx, global, OpKind::Switchover, from, to, serial);
        ctx.after(
            ctx.timings.switchover_pending,
            Step::SwitchoverBegin {
                global: global.to_string(),
                serial,
            },
        );
        Ok(())
    }

    /// FailoverGlobalCluster with AllowDataLoss=true.
    pub fn start_failover(
        &mut self,
        ctx: &mut Ctx<'_>,
        global: &str,
        target: &str,
        region: &str,
    ) -> Result<(), RdsError> {
        let (from, to) = self.promotion_target(global, target, region, ctx.down)?;
        let serial = self.next_serial();
        self.begin(ctx, global, OpKind::Failover, from, to, serial);
        ctx.after(
            ctx.timings.failover_pending,
            Step::FailoverFence {
                global: global.to_string(),
                serial,
            },
        );
        Ok(())
    }

    fn begin(
        &mut self,
        ctx: &mut Ctx<'_>,
        global: &str,
        kind: OpKind,
        from: String,
        to: String,
        serial: u64,
    ) {
        let what = match kind {
            OpKind::Switchover => "switchover",
            OpKind::Failover => "failover (data loss allowed)",
        };
        ctx.truth.state(
            ctx.now,
            format!("global-cluster {global}"),
            format!("{what} requested from {from} to {to}: FailoverState pending"),
        );
        if let Some(g) = self.globals.get_mut(global) {
            g.op = Some(Operation {
                kind,
                from,
                to,
                phase: Phase::Pending,
                serial,
            });
        }
    }

    /// RemoveFromGlobalCluster: the detached secondary becomes a standalone writer.
    pub fn remove_from_global(
        &mut self,
        ctx: &mut Ctx<'_>,
        global: &str,
        cluster: &str,
        region: &str,
    ) -> Result<(), RdsError> {
        let (g, c) = self.global_and_cluster(global, cluster, region)?;
        if !g.members.contains(&c.arn) {
            return Err(refuse(
                "DBClusterNotFoundFault",
                format!(
                    "DBCluster {} is not a member of global cluster {global}.",
                    c.arn
                ),
            ));
        }
        if g.op.is_some() {
            return Err(refuse(
                "InvalidGlobalClusterStateFault",
                format!("Global cluster {global} is in {} state.", g.status()),
            ));
        }
        if c.role == Role::Writer && g.members.len() > 1 {
            return Err(refuse(
                "InvalidGlobalClusterStateFault",
                format!(
                    "The primary cluster {} cannot be removed from global cluster {global} while it has secondary clusters.",
                    c.arn
                ),
            ));
        }
        let arn = c.arn.clone();
        let was_secondary = c.role != Role::Writer;
        if let Some(g) = self.globals.get_mut(global) {
            g.members.retain(|m| *m != arn);
        }
        let c = self.clusters.get_mut(&arn).expect("resolved above");
        c.global = None;
        // Writes still in flight never reach the detached cluster; they are not lost overall,
        // because the global cluster's writer keeps them.
        c.inbound.clear();
        if was_secondary {
            c.role = Role::Standalone;
            c.stuck_resync = false;
        }
        ctx.truth.state(
            ctx.now,
            format!("cluster {arn}"),
            format!("removed from global cluster {global}; now a standalone writer"),
        );
        Ok(())
    }

    /// Applies one queued step. Steps of an operation that has since ended are ignored.
    pub fn step(&mut self, ctx: &mut Ctx<'_>, step: Step) {
        let (global, serial) = match &step {
            Step::Resync { cluster } => {
                self.resync(ctx, cluster);
                return;
            }
            Step::SwitchoverBegin { global, serial }
            | Step::SwitchoverDemote { global, serial }
            | Step::SwitchoverPromote { global, serial }
            | Step::Finalize { global, serial }
            | Step::Cancel { global, serial }
            | Step::Clear { global, serial }
            | Step::FailoverFence { global, serial }
            | Step::FailoverPromote { global, serial } => (global.clone(), *serial),
        };
        let Some(op) = self.globals.get(&global).and_then(|g| g.op.clone()) else {
            return;
        };
        if op.serial != serial {
            return;
        }
        let resource = format!("global-cluster {global}");
        match step {
            Step::SwitchoverBegin { .. } => {
                self.set_phase(&global, Phase::SwitchingOver);
                ctx.truth
                    .state(ctx.now, &resource, "FailoverState switching-over");
                if let Some(hang) = ctx.faults.switchover_hang {
                    ctx.truth.state(
                        ctx.now,
                        &resource,
                        "switchover hangs (fault switchover-hangs)",
                    );
                    ctx.after(hang, Step::Cancel { global, serial });
                } else {
                    ctx.after(
                        ctx.timings.switchover_prepare,
                        Step::SwitchoverDemote { global, serial },
                    );
                }
            }
            Step::SwitchoverDemote { .. } => {
                let from_region = self.clusters[&op.from].region.clone();
                if ctx.faults.switchover_fails {
                    ctx.truth.state(
                        ctx.now,
                        &resource,
                        "switchover fails (fault switchover-fails)",
                    );
                    self.cancel(ctx, &global, serial);
                } else if ctx.down.contains(&from_region) {
                    ctx.truth.state(
                        ctx.now,
                        &resource,
                        format!(
                            "cannot demote {}: region {from_region} is down; switchover stalls",
                            op.from
                        ),
                    );
                    ctx.after(
                        ctx.timings.switchover_stall,
                        Step::Cancel { global, serial },
                    );
                } else {
                    self.clusters.get_mut(&op.from).expect("member").blocked = true;
                    ctx.truth.state(
                        ctx.now,
                        format!("cluster {}", op.from),
                        "demoted: writes stopped",
                    );
                    // The target must have every acknowledged write before it is promoted (RPO 0).
                    let caught_up = self.clusters[&op.to]
                        .inbound
                        .iter()
                        .filter_map(|&(_, at)| at)
                        .max()
                        .unwrap_or(ctx.now)
                        .max(ctx.now);
                    let wait = caught_up - ctx.now + ctx.timings.switchover_promote;
                    ctx.after(wait, Step::SwitchoverPromote { global, serial });
                }
            }
            Step::SwitchoverPromote { .. } => {
                if let Some(c) = self.clusters.get_mut(&op.to) {
                    c.role = Role::Writer;
                }
                if let Some(c) = self.clusters.get_mut(&op.from) {
                    c.role = Role::Secondary(Sync::Connected);
                    c.blocked = false;
                }
                ctx.truth.state(
                    ctx.now,
                    &resource,
                    format!("writer moved from {} to {}", op.from, op.to),
                );
                ctx.after(
                    ctx.timings.switchover_finalize,
                    Step::Finalize { global, serial },
                );
            }
            Step::Finalize { .. } | Step::Clear { .. } => {
                if let Some(c) = self.clusters.get_mut(&op.from) {
                    c.blocked = false;
                }
                if let Some(g) = self.globals.get_mut(&global) {
                    g.op = None;
                }
                ctx.truth.state(
                    ctx.now,
                    &resource,
                    "FailoverState cleared; status available",
                );
            }
            Step::Cancel { .. } => self.cancel(ctx, &global, serial),
            Step::FailoverFence { .. } => self.fence(ctx, &global, &op),
            Step::FailoverPromote { .. } => {
                if let Some(c) = self.clusters.get_mut(&op.to) {
                    c.role = Role::Writer;
                    c.stuck_resync = false;
                }
                let from_region = self.clusters.get(&op.from).map(|c| c.region.clone());
                if let Some(c) = self.clusters.get_mut(&op.from) {
                    c.role = Role::Secondary(Sync::PendingResync);
                    c.blocked = false;
                    c.inbound.clear();
                }
                if let Some(g) = self.globals.get_mut(&global) {
                    g.op = None;
                }
                ctx.truth.state(
                    ctx.now,
                    &resource,
                    format!(
                        "writer moved from {} to {}; {} is pending-resync; FailoverState cleared",
                        op.from, op.to, op.from
                    ),
                );
                if from_region.is_some_and(|r| !ctx.down.contains(&r)) {
                    ctx.after(ctx.timings.resync, Step::Resync { cluster: op.from });
                }
            }
            Step::Resync { .. } => unreachable!("handled above"),
        }
    }

    fn set_phase(&mut self, global: &str, phase: Phase) {
        if let Some(op) = self.globals.get_mut(global).and_then(|g| g.op.as_mut()) {
            op.phase = phase;
        }
    }

    fn cancel(&mut self, ctx: &mut Ctx<'_>, global: &str, serial: u64) {
        self.set_phase(global, Phase::Cancelling);
        ctx.truth.state(
            ctx.now,
            format!("global-cluster {global}"),
            "FailoverState cancelling; the writer stays where it was",
        );
        ctx.after(
            ctx.timings.cancel,
            Step::Clear {
                global: global.to_string(),
                serial,
            },
        );
    }

    fn fence(&mut self, ctx: &mut Ctx<'_>, global: &str, op: &Operation) {
        self.set_phase(global, Phase::FailingOver);
        let resource = format!("global-cluster {global}");
        ctx.truth
            .state(ctx.now, &resource, "FailoverState failing-over");
        if let Some(c) = self.clusters.get_mut(&op.from) {
            c.blocked = true;
        }
        ctx.truth.state(
            ctx.now,
            format!("cluster {}", op.from),
            "fenced: writes stopped",
        );
        // Whatever has not reached the target by now never will: those writes are lost.
        if let Some(target) = self.clusters.get_mut(&op.to) {
            let lost: Vec<u64> = target.inbound.drain(..).map(|(seq, _)| seq).collect();
            let lost: Vec<u64> = lost
                .into_iter()
                .filter(|s| !target.data.contains(s))
                .collect();
            ctx.truth.lost(ctx.now, &op.from, lost);
        }
        ctx.after(
            ctx.timings.failover_promote,
            Step::FailoverPromote {
                global: global.to_string(),
                serial: op.serial,
            },
        );
    }

    fn resync(&mut self, ctx: &mut Ctx<'_>, arn: &str) {
        let Some(c) = self.clusters.get(arn) else {
            return;
        };
        if c.role != Role::Secondary(Sync::PendingResync)
            || c.stuck_resync
            || ctx.down.contains(&c.region)
        {
            return;
        }
        let writer_data = c
            .global
            .as_deref()
            .and_then(|g| self.writer_of(g))
            .map(|w| w.data.clone())
            .unwrap_or_default();
        let c = self.clusters.get_mut(arn).expect("checked above");
        c.data = writer_data;
        c.inbound.clear();
        c.role = Role::Secondary(Sync::Connected);
        ctx.truth.state(
            ctx.now,
            format!("cluster {arn}"),
            "resynchronised: connected",
        );
    }

    /// A region goes down: replication into or out of it freezes.
    pub fn region_down(&mut self, now: Duration, region: &str) {
        let writer_regions: BTreeMap<String, String> = self
            .globals
            .keys()
            .filter_map(|g| self.writer_of(g).map(|w| (g.clone(), w.region.clone())))
            .collect();
        for c in self.clusters.values_mut() {
            let source_down = c
                .global
                .as_ref()
                .and_then(|g| writer_regions.get(g))
                .is_some_and(|r| r == region);
            if c.region == region || source_down {
                for entry in &mut c.inbound {
                    if entry.1.is_some_and(|at| at > now) {
                        entry.1 = None;
                    }
                }
            }
        }
    }

    /// A region comes back: frozen replication resumes, demoted writers there start resyncing.
    pub fn region_up(&mut self, ctx: &mut Ctx<'_>, region: &str) {
        let now = ctx.now;
        for c in self.clusters.values_mut() {
            for entry in &mut c.inbound {
                if entry.1.is_none() {
                    entry.1 = Some(now);
                }
            }
            if c.region == region
                && c.role == Role::Secondary(Sync::PendingResync)
                && !c.stuck_resync
            {
                ctx.later.push((
                    now + ctx.timings.resync,
                    Step::Resync {
                        cluster: c.arn.clone(),
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    struct Harness {
        db: Database,
        truth: Truth,
        timings: Timings,
        faults: DbFaults,
        down: BTreeSet<String>,
        queue: Vec<(Duration, Step)>,
        now: Duration,
    }

    const A: &str = "arn:aws:rds:us-east-1:123456789012:cluster:app-use1";
    const B: &str = "arn:aws:rds:us-west-2:123456789012:cluster:app-usw2";

    impl Harness {
        fn new() -> Self {
            let mut db = Database::default();
            db.add_global("app", "r".into());
            db.add_member("app", "us-east-1", "app-use1", Role::Writer, "a".into());
            db.add_member(
                "app",
                "us-west-2",
                "app-usw2",
                Role::Secondary(Sync::Connected),
                "b".into(),
            );
            Harness {
                db,
                truth: Truth::new(Utc::now(), 1.0, vec![], Timings::default()),
                timings: Timings::default(),
                faults: DbFaults::default(),
                down: BTreeSet::new(),
                queue: Vec::new(),
                now: Duration::ZERO,
            }
        }

        fn with<T>(&mut self, f: impl FnOnce(&mut Database, &mut Ctx<'_>) -> T) -> T {
            let mut later = Vec::new();
            let mut ctx = Ctx {
                now: self.now,
                timings: &self.timings,
                faults: &self.faults,
                down: &self.down,
                truth: &mut self.truth,
                later: &mut later,
            };
            let out = f(&mut self.db, &mut ctx);
            self.queue.extend(later);
            out
        }

        /// Runs queued steps up to `until`.
        fn run_until(&mut self, until: Duration) {
            loop {
                self.queue.sort_by_key(|(t, _)| *t);
                match self.queue.first() {
                    Some((t, _)) if *t <= until => {
                        let (t, step) = self.queue.remove(0);
                        self.now = t;
                        self.db.deliver(t);
                        self.with(|db, ctx| db.step(ctx, step));
                    }
                    _ => break,
                }
            }
            self.now = until;
            self.db.deliver(until);
        }

        fn write(&mut self, region: &str, seq: u64) -> Result<(), Refusal> {
            let lag = self.timings.replication_lag;
            self.db.write(region, seq, self.now, lag, &self.down)
        }
    }

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn switchover_moves_the_writer_with_a_short_outage_and_no_loss() {
        let mut h = Harness::new();
        h.write("us-east-1", 1).unwrap();
        assert_eq!(h.write("us-west-2", 2), Err(Refusal::NotWriter));
        h.with(|db, ctx| db.start_switchover(ctx, "app", B, "us-west-2"))
            .unwrap();
        assert_eq!(
            h.db.globals["app"].op.as_ref().unwrap().phase,
            Phase::Pending
        );
        h.run_until(s(6.0));
        assert_eq!(
            h.db.globals["app"].op.as_ref().unwrap().phase,
            Phase::SwitchingOver
        );
        h.write("us-east-1", 3).unwrap();
        h.run_until(s(45.0));
        assert_eq!(h.write("us-east-1", 4), Err(Refusal::WritesUnavailable));
        assert_eq!(h.write("us-west-2", 4), Err(Refusal::NotWriter));
        h.run_until(s(51.0));
        assert!(h.db.clusters[B].role.is_writer());
        assert!(
            h.db.globals["app"].op.is_some(),
            "FailoverState clears after the writer moves"
        );
        h.write("us-west-2", 4).unwrap();
        h.run_until(s(70.0));
        assert!(h.db.globals["app"].op.is_none());
        assert_eq!(h.db.clusters[B].data, BTreeSet::from([1, 3, 4]));
        assert_eq!(h.db.clusters[A].data, BTreeSet::from([1, 3, 4]));
        assert!(h.truth.snapshot(h.now).lost_writes.is_empty());
    }

    #[test]
    fn switchover_needs_a_connected_target_and_an_idle_global() {
        let mut h = Harness::new();
        h.db.clusters.get_mut(B).unwrap().role = Role::Secondary(Sync::PendingResync);
        let err = h
            .with(|db, ctx| db.start_switchover(ctx, "app", B, "us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, "InvalidDBClusterStateFault");
        h.db.clusters.get_mut(B).unwrap().role = Role::Secondary(Sync::Connected);
        h.with(|db, ctx| db.start_switchover(ctx, "app", B, "us-east-1"))
            .unwrap();
        let err = h
            .with(|db, ctx| db.start_failover(ctx, "app", B, "us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, "InvalidGlobalClusterStateFault");
        let err = h
            .with(|db, ctx| db.start_switchover(ctx, "nope", B, "us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, "GlobalClusterNotFoundFault");
        let err = h
            .with(|db, ctx| db.start_switchover(ctx, "app", "app-usw2", "us-east-1"))
            .unwrap_err();
        assert_eq!(
            err.code, "DBClusterNotFoundFault",
            "a bare id resolves only in the calling region"
        );
    }

    #[test]
    fn failover_loses_unreplicated_writes_and_resyncs_the_old_writer() {
        let mut h = Harness::new();
        h.timings.replication_lag = s(5.0);
        h.write("us-east-1", 1).unwrap();
        h.run_until(s(10.0));
        h.with(|db, ctx| db.start_failover(ctx, "app", B, "us-west-2"))
            .unwrap();
        h.run_until(s(11.0));
        h.write("us-east-1", 2).unwrap();
        h.run_until(s(12.5));
        assert_eq!(h.write("us-east-1", 3), Err(Refusal::WritesUnavailable));
        assert_eq!(h.truth.snapshot(h.now).lost_writes, [2]);
        h.run_until(s(30.0));
        assert!(h.db.clusters[B].role.is_writer());
        assert_eq!(h.db.clusters[A].role, Role::Secondary(Sync::PendingResync));
        assert_eq!(h.db.clusters[B].data, BTreeSet::from([1]));
        h.run_until(s(100.0));
        assert_eq!(h.db.clusters[A].role, Role::Secondary(Sync::Connected));
        assert_eq!(
            h.db.clusters[A].data,
            BTreeSet::from([1]),
            "the lost write is gone everywhere"
        );
    }

    #[test]
    fn switchover_faults_leave_the_writer_in_place() {
        let mut h = Harness::new();
        h.faults.switchover_fails = true;
        h.with(|db, ctx| db.start_switchover(ctx, "app", B, "us-east-1"))
            .unwrap();
        h.run_until(s(47.0));
        assert_eq!(
            h.db.globals["app"].op.as_ref().unwrap().phase,
            Phase::Cancelling
        );
        h.run_until(s(60.0));
        assert!(h.db.globals["app"].op.is_none());
        assert!(h.db.clusters[A].role.is_writer());

        let mut h = Harness::new();
        h.faults.switchover_hang = Some(s(600.0));
        h.with(|db, ctx| db.start_switchover(ctx, "app", B, "us-east-1"))
            .unwrap();
        h.run_until(s(500.0));
        assert_eq!(
            h.db.globals["app"].op.as_ref().unwrap().phase,
            Phase::SwitchingOver
        );
        h.write("us-east-1", 1).unwrap();
        h.run_until(s(700.0));
        assert!(h.db.globals["app"].op.is_none());
        assert!(h.db.clusters[A].role.is_writer());
    }

    #[test]
    fn outage_freezes_replication_and_stalls_switchover() {
        let mut h = Harness::new();
        h.write("us-east-1", 1).unwrap();
        h.down.insert("us-east-1".into());
        h.db.region_down(h.now, "us-east-1");
        h.with(|db, ctx| db.start_switchover(ctx, "app", B, "us-west-2"))
            .unwrap();
        h.run_until(s(100.0));
        assert!(h.db.clusters[B].data.is_empty(), "replication froze");
        h.run_until(s(400.0));
        assert!(
            h.db.globals["app"].op.is_none(),
            "stalled switchover was cancelled"
        );
        assert!(h.db.clusters[A].role.is_writer());
        h.with(|db, ctx| db.start_failover(ctx, "app", B, "us-west-2"))
            .unwrap();
        h.run_until(s(500.0));
        assert!(h.db.clusters[B].role.is_writer());
        assert_eq!(h.truth.snapshot(h.now).lost_writes, [1]);
        assert_eq!(h.db.clusters[A].role, Role::Secondary(Sync::PendingResync));
        h.down.clear();
        h.with(|db, ctx| db.region_up(ctx, "us-east-1"));
        h.run_until(s(600.0));
        assert_eq!(h.db.clusters[A].role, Role::Secondary(Sync::Connected));
    }

    #[test]
    fn detach_makes_a_standalone_writer() {
        let mut h = Harness::new();
        let err = h
            .with(|db, ctx| db.remove_from_global(ctx, "app", A, "us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, "InvalidGlobalClusterStateFault");
        h.with(|db, ctx| db.remove_from_global(ctx, "app", B, "us-west-2"))
            .unwrap();
        assert_eq!(h.db.clusters[B].role, Role::Standalone);
        assert_eq!(h.db.globals["app"].members, [A]);
        h.write("us-west-2", 7).unwrap();
        h.write("us-east-1", 8).unwrap();
    }
}
