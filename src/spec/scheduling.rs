//! The `[scheduling]` table: when an unattended run (`drill schedule`, or a cron line guarded by
//! `drill schedule --due`) may happen at all. Allowed hours, blackout windows (date ranges or
//! cron-like patterns, e.g. a change freeze), what to do with a run missed while the scheduler was
//! down, and how late a run may still start. The table belongs to `schedule`: without one it is
//! rejected, like `timezone`.
//!
//! Times here are wall-clock times in the drill's `timezone` (UTC without one). This module only
//! reads and checks the table and answers "is this local time inside that window"; the scheduler
//! (`crate::schedule`) combines the answers with the time zone and the clock.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::Serialize;

use super::checks;
use super::drill::check;
use super::model::Schedule;
use super::reader::{At, Field, Reader, Table};

const KEYS: &[&str] = &["allowed_hours", "blackout", "missed_run", "grace"];
const BLACKOUT_KEYS: &[&str] = &["from", "to", "cron", "reason"];

/// How late a run may start when the file does not say.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30 * 60);

/// The safety rules of unattended runs; the default allows any time, skips missed runs and lets a
/// run start up to [`DEFAULT_GRACE`] late.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Runs may only start inside this daily window; None means at any time of day.
    pub allowed_hours: Option<Hours>,
    /// No run starts inside any of these.
    pub blackouts: Vec<Blackout>,
    pub missed_run: MissedRun,
    /// How long after its scheduled time a run may still start: waiting behind another drill on
    /// the same target, for another scheduler's lease, or (with `missed_run = "run"`) after the
    /// scheduler was down.
    pub grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_hours: None,
            blackouts: Vec::new(),
            missed_run: MissedRun::Skip,
            grace: DEFAULT_GRACE,
        }
    }
}

/// What happens to a run whose time passed while the scheduler was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRun {
    /// Run the latest missed one if it is still within `grace`.
    Run,
    /// Log it and wait for the next one.
    Skip,
}

impl MissedRun {
    pub fn as_str(self) -> &'static str {
        match self {
            MissedRun::Run => "run",
            MissedRun::Skip => "skip",
        }
    }
}

/// A daily window `start-end` of local time; `end` is exclusive and may be before `start`
/// (a window across midnight). `24:00` is written as an `end` of None.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hours {
    pub start: NaiveTime,
    pub end: Option<NaiveTime>,
    /// As written, for messages.
    pub text: String,
}

impl Hours {
    pub fn contains(&self, t: NaiveTime) -> bool {
        match self.end {
            None => t >= self.start,
            Some(end) if self.start < end => t >= self.start && t < end,
            Some(end) => t >= self.start || t < end,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blackout {
    pub window: Window,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Window {
    /// Local date-times, `from` inclusive, `to` exclusive (a `to` date means the end of that day).
    Dates {
        from: NaiveDateTime,
        to: NaiveDateTime,
    },
    /// Every minute this five-field cron pattern matches is blacked out.
    Cron { pattern: String },
}

impl Blackout {
    /// Whether a local wall-clock time falls inside the window. A cron pattern that cannot be
    /// evaluated (it was checked on load, so this does not happen) counts as a blackout: when in
    /// doubt, do not touch production.
    pub fn covers(&self, local: NaiveDateTime) -> bool {
        match &self.window {
            Window::Dates { from, to } => local >= *from && local < *to,
            Window::Cron { pattern } => {
                let minute = local.with_second(0).and_then(|t| t.with_nanosecond(0));
                match (blackout_cron(pattern), minute) {
                    (Ok(cron), Some(minute)) => cron
                        .is_time_matching(&Utc.from_utc_datetime(&minute))
                        .unwrap_or(true),
                    _ => true,
                }
            }
        }
    }

    /// `blackout 2025-12-19..2026-01-05 (year-end freeze)` — for logs and `--list`.
    pub fn describe(&self) -> String {
        let what = match &self.window {
            Window::Dates { from, to } => format!(
                "blackout {}..{}",
                from.format("%Y-%m-%d %H:%M"),
                to.format("%Y-%m-%d %H:%M")
            ),
            Window::Cron { pattern } => format!("blackout \"{pattern}\""),
        };
        match &self.reason {
            Some(reason) => format!("{what} ({reason})"),
            None => what,
        }
    }
}

/// Parses a blackout pattern: five fields (minute resolution), croner syntax.
pub fn blackout_cron(pattern: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| {
            format!(
                "invalid cron pattern \"{}\": {e}; a blackout pattern has five fields (minute hour day-of-month month day-of-week)",
                pattern.escape_debug()
            )
        })
}

/// Reads `[scheduling]` into `schedule` (as read by `drill::read_schedule`: None when invalid,
/// Some(None) when absent). Returns it with its policy filled in.
pub(super) fn attach(
    r: &mut Reader,
    root: &Table,
    schedule: Option<Option<Schedule>>,
) -> Option<Option<Schedule>> {
    let table = match r.table(root, "scheduling", "a table [scheduling]") {
        Field::Present(t) => t,
        Field::Absent => return schedule,
        Field::Invalid => return None,
    };
    if let Some(None) = schedule {
        r.conflict(
            table.span.clone(),
            "scheduling",
            "[scheduling] only applies to scheduled runs, and `schedule` is not set; remove it or add a schedule",
        );
    }
    r.keys(&table, KEYS);

    let hours = match r.string(
        &table,
        "allowed_hours",
        "a daily window such as \"09:00-17:00\"",
    ) {
        Field::Present(h) => check(r, &table, "allowed_hours", &h, hours(&h.value)).map(|v| {
            Some(At {
                value: v,
                span: h.span,
            })
        }),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let missed = match r.string(&table, "missed_run", "\"run\" or \"skip\"") {
        Field::Present(m) => match m.value.as_str() {
            "run" => Some(MissedRun::Run),
            "skip" => Some(MissedRun::Skip),
            other => {
                r.error(
                    m.span,
                    table.key("missed_run"),
                    format!(
                        "unknown missed_run \"{}\"; expected \"run\" (start a run missed while the scheduler was down, if still within `grace`) or \"skip\" (log it and wait for the next)",
                        other.escape_debug()
                    ),
                );
                None
            }
        },
        Field::Absent => Some(MissedRun::Skip),
        Field::Invalid => None,
    };
    let grace = match r.string(&table, "grace", "a duration string such as \"30m\"") {
        Field::Present(g) => check(r, &table, "grace", &g, checks::positive_duration(&g.value))
            .map(|v| {
                Some(At {
                    value: v,
                    span: g.span,
                })
            }),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let blackouts = read_blackouts(r, &table);

    // Cross-checks against the schedule itself, when it is valid.
    if let Some(Some(schedule)) = &schedule {
        let fires = sample_fires(schedule);
        if let (Some(Some(h)), false) = (&hours, fires.is_empty())
            && !fires.iter().any(|f| h.value.contains(f.time()))
        {
            r.conflict(
                h.span.clone(),
                table.key("allowed_hours"),
                format!(
                    "schedule \"{}\" fires at {} local time, outside allowed_hours {}; the drill would never run",
                    schedule.cron.escape_debug(),
                    fires[0].format("%H:%M:%S"),
                    h.value.text
                ),
            );
        }
        let gap = fires.windows(2).map(|w| w[1] - w[0]).min();
        if let (Some(Some(g)), Some(gap)) = (&grace, gap)
            && chrono::TimeDelta::from_std(g.value).is_ok_and(|grace| grace >= gap)
        {
            r.conflict(
                g.span.clone(),
                table.key("grace"),
                format!(
                    "grace ({}) is not shorter than the time between two runs of the schedule ({}); a late run could overlap the next one",
                    checks::show(g.value),
                    checks::show(gap.to_std().unwrap_or_default())
                ),
            );
        }
    }

    let policy = Policy {
        allowed_hours: hours?.map(|h| h.value),
        blackouts: blackouts?,
        missed_run: missed?,
        grace: grace?.map_or(DEFAULT_GRACE, |g| g.value),
    };
    schedule.map(|s| {
        s.map(|mut s| {
            s.policy = policy;
            s
        })
    })
}

fn read_blackouts(r: &mut Reader, table: &Table) -> Option<Vec<Blackout>> {
    let items = match r.tables(
        table,
        "blackout",
        "one or more [[scheduling.blackout]] tables",
    ) {
        Field::Present(items) => items.value,
        Field::Absent => return Some(Vec::new()),
        Field::Invalid => return None,
    };
    let mut out = Some(Vec::new());
    for item in &items {
        let blackout = read_blackout(r, item);
        match (&mut out, blackout) {
            (Some(list), Some(b)) => list.push(b),
            _ => out = None,
        }
    }
    out
}

fn read_blackout(r: &mut Reader, t: &Table) -> Option<Blackout> {
    r.keys(t, BLACKOUT_KEYS);
    let expected_date = "a local date \"2025-12-19\" or date and time \"2025-12-19T18:00\"";
    let from = r.string(t, "from", expected_date);
    let to = r.string(t, "to", expected_date);
    let cron = r.string(
        t,
        "cron",
        "a five-field cron pattern such as \"* * * * FRI\"",
    );
    let reason = match r.string(t, "reason", "a string") {
        Field::Present(s) => Some(Some(s.value)),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let window = match (from, to, cron) {
        (Field::Absent, Field::Absent, Field::Present(c)) => {
            check(r, t, "cron", &c, cron_window(&c.value))
                .map(|()| Window::Cron { pattern: c.value })
        }
        (Field::Present(f), Field::Present(to), Field::Absent) => {
            let start = check(r, t, "from", &f, local_time(&f.value, false));
            let end = check(r, t, "to", &to, local_time(&to.value, true));
            match (start, end) {
                (Some(start), Some(end)) if end > start => Some(Window::Dates {
                    from: start,
                    to: end,
                }),
                (Some(_), Some(_)) => {
                    r.conflict(
                        to.span,
                        t.key("to"),
                        format!(
                            "`to` ({}) is before `from` ({}); the window would be empty",
                            to.value, f.value
                        ),
                    );
                    None
                }
                _ => None,
            }
        }
        (Field::Invalid, _, _) | (_, Field::Invalid, _) | (_, _, Field::Invalid) => None,
        (from, to, cron) => {
            let message = if !cron.is_absent() {
                "a blackout is either `cron` or `from` and `to`, not both"
            } else if from.is_absent() && to.is_absent() {
                "a blackout needs `from` and `to` (a date range) or `cron` (a pattern)"
            } else if from.is_absent() {
                "missing `from`: a date range needs both ends"
            } else {
                "missing `to`: a date range needs both ends"
            };
            r.conflict(t.span.clone(), t.path.clone(), message);
            None
        }
    };
    Some(Blackout {
        window: window?,
        reason: reason?,
    })
}

/// `HH:MM-HH:MM`, end exclusive, `24:00` allowed as the end.
fn hours(s: &str) -> Result<Hours, String> {
    let bad = || {
        format!(
            "invalid allowed_hours \"{}\"; write a daily window of local times such as \"09:00-17:00\" (the end is exclusive; \"22:00-04:00\" runs across midnight)",
            s.escape_debug()
        )
    };
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    let start = time(a)?;
    let end = if b.trim() == "24:00" {
        None
    } else {
        Some(time(b)?)
    };
    if end == Some(start) || (end.is_none() && start == NaiveTime::MIN) {
        return Err(format!(
            "allowed_hours \"{}\" is {}; to allow any time of day, leave allowed_hours out",
            s.escape_debug(),
            if end.is_none() {
                "the whole day"
            } else {
                "empty"
            }
        ));
    }
    Ok(Hours {
        start,
        end,
        text: s.trim().to_string(),
    })
}

/// A local date (`to` dates mean the end of that day) or date and time.
fn local_time(s: &str, end: bool) -> Result<NaiveDateTime, String> {
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Ok(dt);
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if end => d
            .succ_opt()
            .map(|next| next.and_time(NaiveTime::MIN))
            .ok_or_else(|| format!("date \"{}\" is out of range", s.escape_debug())),
        Ok(d) => Ok(d.and_time(NaiveTime::MIN)),
        Err(_) => Err(format!(
            "invalid date \"{}\"; write a local date \"2025-12-19\" or a date and time \"2025-12-19T18:00\" (in the drill's timezone)",
            s.escape_debug()
        )),
    }
}

fn cron_window(pattern: &str) -> Result<(), String> {
    let cron = blackout_cron(pattern)?;
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    if let [_, _, dom, _, dow] = fields.as_slice() {
        let free = |f: &str| f == "*" || f == "?";
        if !free(dom) && !free(dow) {
            return Err(format!(
                "blackout \"{}\" restricts both day-of-month ({dom}) and day-of-week ({dow}); cron matches when EITHER does, which is rarely meant. Write two blackouts instead",
                pattern.escape_debug()
            ));
        }
    }
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single();
    match start.map(|s| cron.find_next_occurrence(&s, true)) {
        Some(Ok(_)) => Ok(()),
        _ => Err(format!(
            "blackout \"{}\" never matches (no such date)",
            pattern.escape_debug()
        )),
    }
}

/// The first 25 local fire times after a fixed date (deterministic validation).
fn sample_fires(schedule: &Schedule) -> Vec<NaiveDateTime> {
    let Ok(cron) = super::parse_cron(&schedule.cron) else {
        return Vec::new();
    };
    let tz: chrono_tz::Tz = match &schedule.timezone {
        Some(name) => match name.parse() {
            Ok(tz) => tz,
            Err(_) => return Vec::new(),
        },
        None => chrono_tz::UTC,
    };
    let Some(start) = tz.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single() else {
        return Vec::new();
    };
    cron.iter_after(start)
        .take(25)
        .map(|f| f.naive_local())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn hours_windows_include_the_start_and_exclude_the_end() {
        let day = hours("09:00-17:00").unwrap();
        assert!(day.contains(t(9, 0)) && day.contains(t(16, 59)));
        assert!(!day.contains(t(17, 0)) && !day.contains(t(8, 59)));
        let night = hours("22:00-04:00").unwrap();
        assert!(night.contains(t(23, 0)) && night.contains(t(3, 59)));
        assert!(!night.contains(t(4, 0)) && !night.contains(t(12, 0)));
        let late = hours("18:00-24:00").unwrap();
        assert!(late.contains(t(23, 59)) && !late.contains(t(0, 0)));
        assert!(hours("9-17").unwrap_err().contains("09:00-17:00"));
        assert!(hours("10:00-10:00").unwrap_err().contains("empty"));
        assert!(hours("00:00-24:00").unwrap_err().contains("whole day"));
    }

    #[test]
    fn blackout_dates_cover_whole_days_and_cron_patterns_cover_minutes() {
        let dates = Blackout {
            window: Window::Dates {
                from: local_time("2025-12-19", false).unwrap(),
                to: local_time("2026-01-04", true).unwrap(),
            },
            reason: Some("freeze".into()),
        };
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        assert!(dates.covers(at("2025-12-19T00:00:00")));
        assert!(dates.covers(at("2026-01-04T23:59:59")));
        assert!(!dates.covers(at("2026-01-05T00:00:00")));
        assert!(!dates.covers(at("2025-12-18T23:59:59")));
        let fridays = Blackout {
            window: Window::Cron {
                pattern: "* * * * FRI".into(),
            },
            reason: None,
        };
        // 2025-01-03 was a Friday.
        assert!(fridays.covers(at("2025-01-03T10:00:30")));
        assert!(!fridays.covers(at("2025-01-04T10:00:00")));
        assert!(cron_window("0 0 30 2 *").unwrap_err().contains("never"));
        assert!(cron_window("* * 1 * FRI").unwrap_err().contains("EITHER"));
        assert!(
            cron_window("0 * * * * *")
                .unwrap_err()
                .contains("five fields")
        );
    }
}
