//! What a lab is started with: the time scale, the faults, and the modelled durations of every
//! state machine. Durations are modelled time on the injected [`Clock`]; with the default scale
//! of 30× the example drill's ~12 modelled minutes take ~25 s of wall time.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::fault::Fault;
use crate::clock::Clock;

/// Modelled seconds per wall second when nothing else is asked for.
pub const DEFAULT_TIME_SCALE: f64 = 30.0;

#[derive(Debug, Clone, PartialEq)]
pub struct LabOptions {
    /// Modelled time runs this many times faster than wall time. The caller builds the shared
    /// clock from it ([`LabOptions::clock`]); the lab itself runs on (and records the scale of)
    /// the clock it is given.
    pub time_scale: f64,
    pub faults: Vec<Fault>,
    pub timings: Timings,
    /// Seeds the lab's randomness (throttling, weighted answers, ids), so a run can be repeated.
    pub seed: u64,
    /// The TTL every seeded record starts with.
    pub original_ttl: i64,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            time_scale: DEFAULT_TIME_SCALE,
            faults: Vec::new(),
            timings: Timings::default(),
            seed: 0x1ab,
            original_ttl: 300,
        }
    }
}

impl LabOptions {
    /// A fresh clock running at this lab's time scale. Panics on a scale that is not a positive
    /// finite number; callers validate user input first.
    pub fn clock(&self) -> Clock {
        Clock::scaled(self.time_scale)
    }
}

/// Modelled durations of the lab's state machines (defaults follow what AWS documents or what
/// operators typically see). Serialised as seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timings {
    /// A Route 53 change goes PENDING → INSYNC after this (Route 53 aims for ≤ 60 s).
    #[serde(serialize_with = "seconds")]
    pub insync: Duration,
    /// How long Route 53's checkers take to notice a health change (inversion, outage).
    #[serde(serialize_with = "seconds")]
    pub health_propagation: Duration,
    /// How far the secondary's copy trails the writer.
    #[serde(serialize_with = "seconds")]
    pub replication_lag: Duration,
    /// Switchover: FailoverState `pending` before `switching-over`.
    #[serde(serialize_with = "seconds")]
    pub switchover_pending: Duration,
    /// Switchover: `switching-over` while writes still go to the old writer.
    #[serde(serialize_with = "seconds")]
    pub switchover_prepare: Duration,
    /// Switchover: the write outage once the old writer is demoted and the target has caught up.
    #[serde(serialize_with = "seconds")]
    pub switchover_promote: Duration,
    /// Switchover: the writer has moved; FailoverState clears after this.
    #[serde(serialize_with = "seconds")]
    pub switchover_finalize: Duration,
    /// Failover: FailoverState `pending` before the old writer is fenced.
    #[serde(serialize_with = "seconds")]
    pub failover_pending: Duration,
    /// Failover: the write outage between fencing and the target accepting writes.
    #[serde(serialize_with = "seconds")]
    pub failover_promote: Duration,
    /// A demoted old writer stays `pending-resync` this long (once its region is up).
    #[serde(serialize_with = "seconds")]
    pub resync: Duration,
    /// FailoverState `cancelling` before it clears on a failed switchover.
    #[serde(serialize_with = "seconds")]
    pub cancel: Duration,
    /// A switchover whose old writer cannot be demoted (its region is down) is cancelled after this.
    #[serde(serialize_with = "seconds")]
    pub switchover_stall: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            insync: Duration::from_secs(30),
            health_propagation: Duration::from_secs(10),
            replication_lag: Duration::from_millis(500),
            switchover_pending: Duration::from_secs(5),
            switchover_prepare: Duration::from_secs(40),
            switchover_promote: Duration::from_secs(5),
            switchover_finalize: Duration::from_secs(10),
            failover_pending: Duration::from_secs(2),
            failover_promote: Duration::from_secs(15),
            resync: Duration::from_secs(60),
            cancel: Duration::from_secs(5),
            switchover_stall: Duration::from_secs(300),
        }
    }
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
