//! When a drill's schedule fires: its cron expression (parsed by `spec::parse_cron`, the same
//! function validation uses) evaluated in its IANA time zone by croner, which handles `L`, `W`,
//! `TUE#1`, the optional seconds field and daylight-saving changes (a time skipped by spring-forward
//! runs at the first valid time after the gap; a time repeated by fall-back runs once, the first
//! time).

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::spec::{Schedule, parse_cron};

/// A schedule ready to answer "when next".
#[derive(Debug, Clone)]
pub struct Fires {
    cron: Cron,
    tz: Tz,
}

impl Fires {
    /// Fails only for a schedule that did not come from a validated drill file.
    pub fn new(schedule: &Schedule) -> Result<Self, String> {
        let cron = parse_cron(&schedule.cron)?;
        let tz = match &schedule.timezone {
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("unknown time zone \"{}\"", name.escape_debug()))?,
            None => chrono_tz::UTC,
        };
        Ok(Fires { cron, tz })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire strictly after `after`; None if croner finds none (validation rejects
    /// schedules that never fire).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Whole seconds: croner steps in seconds and would otherwise carry the fraction along.
        let after = after.with_nanosecond(0).unwrap_or(after);
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next `n` fires after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// The latest fire in `(after, until]`, if any: the run a scheduler that was down from
    /// `after` to `until` missed most recently (earlier ones are history).
    pub fn latest_in(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = until.with_nanosecond(0).unwrap_or(until);
        self.cron
            .find_previous_occurrence(&until.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > after)
    }
}
