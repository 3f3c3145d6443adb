//! Crontab lines for teams that prefer the system cron to `drill schedule`. The fields are read
//! back from croner's own matching of the drill's schedule (no second cron parser): minute, hour
//! and month carry over exactly; day-of-month and day-of-week too when crontab can say them, and
//! otherwise (`L`, `W`, `TUE#1`, `5L`) they are widened to the days the schedule can fall on. Every
//! line runs `drill schedule --due FILE` first, which lets the run through only at a real fire time
//! of the schedule, in its time zone, outside blackouts and inside its allowed hours.

use chrono::{Datelike, NaiveDate};
use croner::Cron;

/// The five crontab fields for a schedule, and whether they match more often than the schedule
/// (so only the `--due` guard makes them exact). Err when crontab cannot fire at the right time at
/// all (a seconds field other than 0).
pub fn fields(cron: &Cron) -> Result<(String, bool), String> {
    let p = &cron.pattern;
    let matching = |range: std::ops::RangeInclusive<u32>, f: &dyn Fn(u32) -> bool| -> Vec<u32> {
        range.filter(|v| f(*v)).collect()
    };
    let seconds = matching(0..=59, &|v| p.second_match(v).unwrap_or(false));
    if seconds != [0] {
        return Err(format!(
            "it fires at second {} of the minute, and cron starts jobs only on the minute",
            list(&seconds, 0, 59)
        ));
    }
    let minutes = matching(0..=59, &|v| p.minute_match(v).unwrap_or(false));
    let hours = matching(0..=23, &|v| p.hour_match(v).unwrap_or(false));
    let months = matching(1..=12, &|v| p.month_match(v).unwrap_or(false));
    let (dom, dow, widened) = days(cron);
    Ok((
        format!(
            "{} {} {} {} {}",
            list(&minutes, 0, 59),
            list(&hours, 0, 23),
            dom,
            list(&months, 1, 12),
            dow
        ),
        widened,
    ))
}

/// Day-of-month and day-of-week, found by asking croner about every date of eight years (every
/// weekday of every day of every month, leap years included).
fn days(cron: &Cron) -> (String, String, bool) {
    let Some(start) = NaiveDate::from_ymd_opt(2024, 1, 1) else {
        return ("*".into(), "*".into(), true);
    };
    let dates: Vec<(NaiveDate, bool)> = start
        .iter_days()
        .take(8 * 366)
        .map(|d| {
            let hit = cron
                .pattern
                .day_match(d.year(), d.month(), d.day())
                .unwrap_or(false);
            (d, hit)
        })
        .collect();
    let weekday = |d: &NaiveDate| d.weekday().num_days_from_sunday();
    let mut dows: Vec<u32> = dates
        .iter()
        .filter(|(_, h)| *h)
        .map(|(d, _)| weekday(d))
        .collect();
    let mut doms: Vec<u32> = dates
        .iter()
        .filter(|(_, h)| *h)
        .map(|(d, _)| d.day())
        .collect();
    dows.sort_unstable();
    dows.dedup();
    doms.sort_unstable();
    doms.dedup();
    let every = |keep: &dyn Fn(&NaiveDate) -> bool| {
        dates.iter().filter(|(d, _)| keep(d)).all(|(_, hit)| *hit)
    };
    let dow_field = list(&dows, 0, 6);
    let dom_field = list(&doms, 1, 31);
    if every(&|d| dows.contains(&weekday(d))) && every(&|d| doms.contains(&d.day())) {
        // Exactly "these weekdays" or "these days of the month" (or every day).
        if dows.len() < 7 {
            ("*".into(), dow_field, false)
        } else {
            (dom_field, "*".into(), false)
        }
    } else if every(&|d| dows.contains(&weekday(d))) {
        ("*".into(), dow_field, false)
    } else if every(&|d| doms.contains(&d.day())) {
        (dom_field, "*".into(), false)
    } else {
        // `TUE#1`, `5L`, `L`, `15W`: whichever field starts the line on fewer days (every such
        // weekday, or the days of the month it can fall on); the guard picks the right one.
        let count =
            |keep: &dyn Fn(&NaiveDate) -> bool| dates.iter().filter(|(d, _)| keep(d)).count();
        if count(&|d| dows.contains(&weekday(d))) <= count(&|d| doms.contains(&d.day())) {
            ("*".into(), dow_field, true)
        } else {
            (dom_field, "*".into(), true)
        }
    }
}

/// `0,5-9,30`; `*` for every value from `min` to `max`.
fn list(values: &[u32], min: u32, max: u32) -> String {
    if values.len() == (max - min + 1) as usize {
        return "*".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let start = values[i];
        let mut end = start;
        while i + 1 < values.len() && values[i + 1] == end + 1 {
            i += 1;
            end = values[i];
        }
        parts.push(if end >= start + 2 {
            format!("{start}-{end}")
        } else if end == start + 1 {
            format!("{start},{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    parts.join(",")
}

/// Quotes a word for the shell of a crontab line (`%` means newline to cron).
pub fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=+:,@".contains(c));
    let quoted = if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    };
    quoted.replace('%', r"\%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_cron;

    fn f(expr: &str) -> Result<(String, bool), String> {
        fields(&parse_cron(expr).unwrap())
    }

    #[test]
    fn plain_schedules_carry_over_exactly() {
        assert_eq!(f("0 10 * * TUE"), Ok(("0 10 * * 2".into(), false)));
        assert_eq!(f("30 2 1,15 * *"), Ok(("30 2 1,15 * *".into(), false)));
        assert_eq!(f("0 0 9 * * MON-FRI"), Ok(("0 9 * * 1-5".into(), false)));
        assert_eq!(f("0 6 * 1-3,7 *"), Ok(("0 6 * 1-3,7 *".into(), false)));
    }

    #[test]
    fn what_crontab_cannot_say_is_widened_and_guarded() {
        assert_eq!(f("0 10 * * TUE#1"), Ok(("0 10 * * 2".into(), true)));
        assert_eq!(f("0 10 * * 5L"), Ok(("0 10 * * 5".into(), true)));
        assert_eq!(f("0 10 L * *"), Ok(("0 10 28-31 * *".into(), true)));
        assert_eq!(f("0 10 15W * *"), Ok(("0 10 14-16 * *".into(), true)));
        assert_eq!(f("0 0 * * *"), Ok(("0 0 * * *".into(), false)));
        assert!(f("30 0 10 * * *").unwrap_err().contains("second 30"));
    }

    #[test]
    fn words_are_quoted_for_the_shell_and_cron() {
        assert_eq!(shell_word("/srv/drills/a.toml"), "/srv/drills/a.toml");
        assert_eq!(
            shell_word("/srv/my drills/a.toml"),
            "'/srv/my drills/a.toml'"
        );
        assert_eq!(shell_word("50%"), "'50\\%'");
    }
}
