//! `drill schedule --due FILE`: did the drill's schedule fire within its grace (normally: this very
//! minute), and may a run start now? The guard in front of every `drill cron` line and of external
//! schedulers that start late (a Kubernetes CronJob pulling its image), so they get the same
//! answer (`TUE#1`, `L`, time zone, blackouts, allowed hours) as the daemon.

use chrono::{DateTime, TimeDelta, Utc};

use super::catalog::Scheduled;
use super::window::{self, Blocked};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// The schedule fired within its grace and nothing forbids a run now.
    Yes(DateTime<Utc>),
    /// No fire within the grace.
    No { next: Option<DateTime<Utc>> },
    /// The schedule fired within its grace, but the policy forbids starting now.
    Blocked(DateTime<Utc>, Blocked),
}

pub fn due(s: &Scheduled, now: DateTime<Utc>) -> Due {
    let Some(schedule) = &s.drill.schedule else {
        return Due::No { next: None };
    };
    let grace = TimeDelta::from_std(schedule.policy.grace).unwrap_or(TimeDelta::zero());
    let Some(fire) = s.fires.latest_in(now - grace, now) else {
        return Due::No {
            next: s.fires.next_after(now),
        };
    };
    match window::permits(schedule, s.fires.timezone(), now) {
        Ok(()) => Due::Yes(fire),
        Err(blocked) => Due::Blocked(fire, blocked),
    }
}
