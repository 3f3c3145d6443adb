//! The `schedule` and `timezone` keys: cron expressions as the scheduler will read them, and the
//! checks that catch schedules nobody means (every minute, day-of-month OR day-of-week, never).

use chrono::{TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Parses a drill's cron expression exactly as validation does: 5 fields, or 6 with seconds first;
/// croner syntax (`L`, `W`, `TUE#1`, `@daily`). The scheduler must use this, not its own parser, so
/// a file that validates is a file that schedules.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression \"{}\": {e}", expr.escape_debug()))
}

/// The closest two runs of a schedule may be. A drill rewrites production DNS and promotes a
/// database; a schedule that fires more often is a typo (`* 10 * * TUE` runs 60 times).
const MIN_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Parses and vets a schedule. Messages quote the expression.
pub(super) fn check(expr: &str) -> Result<(), String> {
    let cron = parse_cron(expr)?;
    let quoted = format!("\"{}\"", expr.escape_debug());

    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() >= 5 {
        let (dom, dow) = (fields[fields.len() - 3], fields[fields.len() - 1]);
        let free = |f: &str| f == "*" || f == "?";
        if !free(dom) && !free(dow) {
            return Err(format!(
                "schedule {quoted} restricts both day-of-month ({dom}) and day-of-week ({dow}); cron runs when EITHER matches, so `0 10 1-7 * TUE` runs on days 1-7 and on every Tuesday. For \"the first Tuesday\" write `0 10 * * TUE#1`"
            ));
        }
    }

    // A fixed start keeps validation deterministic; 25 runs are enough to expose a too-short gap.
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid fixed date");
    let mut prev = cron
        .find_next_occurrence(&start, false)
        .map_err(|_| format!("schedule {quoted} never fires (no such date)"))?;
    for _ in 0..25 {
        let Ok(next) = cron.find_next_occurrence(&prev, false) else {
            break;
        };
        if next - prev < MIN_INTERVAL {
            return Err(format!(
                "schedule {quoted} fires more than once an hour (at {} and {}); a `*` in the minute or seconds field is the usual cause, e.g. `0 10 * * TUE` rather than `* 10 * * TUE`",
                prev.format("%Y-%m-%d %H:%M:%S UTC"),
                next.format("%H:%M:%S")
            ));
        }
        prev = next;
    }
    Ok(())
}

/// An IANA time zone name.
pub(super) fn timezone(name: &str) -> Result<(), String> {
    if let Some(hint) = match name {
        "EST" => Some("America/New_York"),
        "MST" => Some("America/Denver"),
        "HST" => Some("Pacific/Honolulu"),
        _ => None,
    } {
        return Err(format!(
            "time zone \"{name}\" is a fixed offset without daylight saving time, so the drill would shift by an hour twice a year; write a location such as \"{hint}\" (or \"UTC\")"
        ));
    }
    name.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        format!(
            "unknown time zone \"{}\"; write an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
            name.escape_debug()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_croner_syntax_with_five_or_six_fields() {
        for ok in [
            "0 10 * * TUE#1",
            "0 0 10 * * TUE",
            "0 10 L * *",
            "0 10 15W * *",
            "30 2 * * MON-FRI",
            "@weekly",
            "0 10 ? * 2",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_schedules_nobody_means() {
        let err = |s| check(s).unwrap_err();
        assert!(err("0 10 * * TUE 2025").contains("invalid cron expression"));
        assert!(err("61 * * * *").contains("invalid cron expression"));
        assert!(err("* 10 * * TUE").contains("more than once an hour"));
        assert!(err("*/10 * * * * *").contains("more than once an hour"));
        assert!(err("0,30 10 * * *").contains("more than once an hour"));
        assert!(err("0 10 1-7 * TUE").contains("EITHER"));
        assert!(err("0 0 30 2 *").contains("never fires"));
        assert_eq!(check("0 10 29 2 *"), Ok(()), "leap days do come");
        assert_eq!(
            check("@hourly"),
            Ok(()),
            "once an hour is the limit, not past it"
        );
    }

    #[test]
    fn time_zones_are_iana_locations() {
        assert_eq!(timezone("Europe/Berlin"), Ok(()));
        assert_eq!(timezone("UTC"), Ok(()));
        assert!(
            timezone("Europe/Berln")
                .unwrap_err()
                .contains("unknown time zone")
        );
        assert!(timezone("EST").unwrap_err().contains("America/New_York"));
    }
}
