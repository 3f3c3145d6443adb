//! `[stop] alarms`: the CloudWatch alarms that must not be in ALARM when the drill starts, and that
//! stop it (rolling back) when one goes to ALARM while it runs. An alarm the drill cannot read is
//! not taken as quiet: a watch that fails [`UNREADABLE_POLLS`] times in a row stops the drill too.

use std::collections::BTreeMap;

use crate::clock::Clock;
use crate::cloud::{AlarmState, Cloud};
use crate::spec::{AlarmRef, AlarmWatch};

use super::probing::Fired;

/// Consecutive failed reads after which the drill no longer counts as watched.
pub const UNREADABLE_POLLS: u32 = 3;

/// The alarms grouped by region: one DescribeAlarms (per 100 names) per region and poll.
fn by_region(watch: &AlarmWatch) -> BTreeMap<&str, Vec<&AlarmRef>> {
    let mut regions: BTreeMap<&str, Vec<&AlarmRef>> = BTreeMap::new();
    for alarm in &watch.alarms {
        regions.entry(&alarm.region).or_default().push(alarm);
    }
    regions
}

/// Every alarm's state now, or why one could not be read.
async fn read(cloud: &Cloud, watch: &AlarmWatch) -> Vec<(AlarmRef, Result<AlarmState, String>)> {
    let mut out = Vec::new();
    for (region, alarms) in by_region(watch) {
        let names: Vec<String> = alarms.iter().map(|a| a.name.clone()).collect();
        let found = cloud.alarms.describe_alarms(region, &names).await;
        for alarm in alarms {
            let state = match &found {
                Ok(states) => match states.iter().find(|s| s.name == alarm.name) {
                    None => Err(format!("alarm {} does not exist in {region}", alarm.name)),
                    // Names are per account: the same name in the credentials' account is
                    // another alarm.
                    Some(s) if !s.arn.is_empty() && s.arn != alarm.arn => Err(format!(
                        "alarm {} in {region} is {}, not the configured {}; the credentials are for another account",
                        alarm.name, s.arn, alarm.arn
                    )),
                    Some(s) => Ok(s.clone()),
                },
                Err(e) => Err(e.to_string()),
            };
            out.push((alarm.clone(), state));
        }
    }
    out
}

/// Preflight's view: every alarm exists and none is in ALARM. Returns (reasons to refuse,
/// warnings) — an alarm with insufficient data is a warning: it cannot stop the drill until it has
/// data.
pub async fn preflight(cloud: &Cloud, watch: &AlarmWatch) -> (Vec<String>, Vec<String>) {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    for (alarm, state) in read(cloud, watch).await {
        match state {
            Err(why) => reasons.push(format!("stop.alarms: {why} ({})", alarm.arn)),
            Ok(s) if s.state == AlarmState::ALARM => reasons.push(format!(
                "stop.alarms: alarm {} ({}) is in ALARM{}: {}; the service is not in steady state",
                alarm.name,
                alarm.region,
                since(&s),
                s.reason
            )),
            Ok(s) if s.state == AlarmState::INSUFFICIENT_DATA => warnings.push(format!(
                "stop.alarms: alarm {} ({}) has insufficient data; it cannot stop the drill until it has some",
                alarm.name, alarm.region
            )),
            Ok(_) => {}
        }
    }
    (reasons, warnings)
}

fn since(s: &AlarmState) -> String {
    s.updated_at
        .map(|t| {
            format!(
                " since {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
        .unwrap_or_default()
}

/// Reads the alarms every `watch.interval` until one is in ALARM (condition `alarm`) or they could
/// not be read [`UNREADABLE_POLLS`] times in a row (condition `alarm_unreadable`); never returns
/// otherwise.
pub async fn watch(cloud: &Cloud, watch: &AlarmWatch, clock: &Clock) -> Fired {
    let mut failures = 0;
    loop {
        clock.sleep(watch.interval).await;
        let states = read(cloud, watch).await;
        if let Some((alarm, s)) = states.iter().find_map(|(a, s)| match s {
            Ok(s) if s.state == AlarmState::ALARM => Some((a, s)),
            _ => None,
        }) {
            return Fired {
                condition: "alarm",
                at: clock.now(),
                detail: format!(
                    "CloudWatch alarm {} ({}) went to ALARM{}: {}",
                    alarm.name,
                    alarm.region,
                    since(s),
                    s.reason
                ),
            };
        }
        let unreadable: Vec<String> = states
            .iter()
            .filter_map(|(_, s)| s.as_ref().err().cloned())
            .collect();
        if unreadable.is_empty() {
            failures = 0;
            continue;
        }
        failures += 1;
        tracing::warn!(
            "stop.alarms: could not read every alarm ({failures} of {UNREADABLE_POLLS}): {}",
            unreadable.join("; ")
        );
        if failures >= UNREADABLE_POLLS {
            return Fired {
                condition: "alarm_unreadable",
                at: clock.now(),
                detail: format!(
                    "the stop alarms could not be read {UNREADABLE_POLLS} times in a row ({}); without them the drill cannot tell whether it is hurting the service",
                    unreadable.join("; ")
                ),
            };
        }
    }
}
