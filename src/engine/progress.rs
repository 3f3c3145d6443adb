//! What a live view of a run shows: the step under way, the long wait being counted down, and
//! how probed traffic is shared between regions. The engine writes it; the CLI draws it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

#[derive(Debug, Default)]
pub struct Progress {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// The step under way and when it started (the run's clock).
    pub step: Option<(String, DateTime<Utc>)>,
    /// A wait being counted down, and when it ends.
    pub wait: Option<(String, DateTime<Utc>)>,
    /// Share of recent HTTP probes per region (`error` for failures).
    pub shares: BTreeMap<String, f64>,
    /// Of the recent canary writes: (acknowledged, failed); the write outage shows here.
    pub canary: Option<(usize, usize)>,
    /// The region the name servers' latest answer points to.
    pub dns: Option<String>,
    /// The global cluster's FailoverState while the step under way waits for a promotion.
    pub database: Option<String>,
    /// The run's clock now (modelled in the lab).
    pub now: Option<DateTime<Utc>>,
}

impl Progress {
    pub fn step(&self, name: &str, at: DateTime<Utc>) {
        let mut s = self.lock();
        s.step = Some((name.to_string(), at));
        s.wait = None;
        s.database = None;
    }

    pub fn wait(&self, what: &str, until: DateTime<Utc>) {
        self.lock().wait = Some((what.to_string(), until));
    }

    pub fn shares(&self, shares: BTreeMap<String, f64>, now: DateTime<Utc>) {
        let mut s = self.lock();
        s.shares = shares;
        s.now = Some(now);
    }

    /// The FailoverState of the promotion being waited for (`switching-over`, …).
    pub fn database(&self, state: &str) {
        self.lock().database = Some(state.to_string());
    }

    /// What the other probes saw lately: the canary's writes and the name servers' answer.
    pub fn seen(&self, canary: Option<(usize, usize)>, dns: Option<String>) {
        let mut s = self.lock();
        s.canary = canary;
        s.dns = dns;
    }

    pub fn tick(&self, now: DateTime<Utc>) {
        self.lock().now = Some(now);
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
