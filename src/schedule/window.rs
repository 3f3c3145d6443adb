//! Whether an unattended run may start at a given moment: the drill's allowed hours and blackout
//! windows (`[scheduling]`), judged in the drill's time zone at the moment the run would really
//! start, since that is when it changes production.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::spec::Schedule;

/// Why a run may not start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    OutsideHours { hours: String, local: String },
    Blackout { what: String },
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocked::OutsideHours { hours, local } => {
                write!(f, "{local} is outside allowed_hours {hours}")
            }
            Blocked::Blackout { what } => write!(f, "inside {what}"),
        }
    }
}

/// Ok when `schedule`'s policy lets a run start at `at`.
pub fn permits(schedule: &Schedule, tz: Tz, at: DateTime<Utc>) -> Result<(), Blocked> {
    let local = at.with_timezone(&tz).naive_local();
    if let Some(hours) = &schedule.policy.allowed_hours
        && !hours.contains(local.time())
    {
        return Err(Blocked::OutsideHours {
            hours: hours.text.clone(),
            local: format!("{} {}", local.format("%H:%M:%S"), tz.name()),
        });
    }
    if let Some(b) = schedule.policy.blackouts.iter().find(|b| b.covers(local)) {
        return Err(Blocked::Blackout { what: b.describe() });
    }
    Ok(())
}
