//! `[stop] alarms`: the CloudWatch alarms that must not be in ALARM when the drill starts, and that
//! stop it (rolling back) when one goes to ALARM while it runs. An alarm the drill cannot read is
//! not taken as quiet: a watch that fails [`UNREADABLE_POLLS`] times in a row stops the drill too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

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

/// What preflight found: reasons to refuse, warnings, and each readable alarm's state (by ARN).
#[derive(Debug, Default)]
pub struct Checked {
    pub reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub states: BTreeMap<String, String>,
}

/// Preflight's view: every alarm exists and none is in ALARM. An alarm with insufficient data is
/// a warning: it cannot stop the drill until it has data.
pub async fn preflight(cloud: &Cloud, watch: &AlarmWatch) -> Checked {
    let mut checked = Checked::default();
    let (reasons, warnings) = (&mut checked.reasons, &mut checked.warnings);
    for (alarm, state) in read(cloud, watch).await {
        if let Ok(s) = &state {
            checked.states.insert(alarm.arn.clone(), s.state.clone());
        }
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
    checked
}

/// The evidence that the alarms were watched, for the report.
#[derive(Debug, Default)]
pub struct Watched {
    pub polls: u32,
    pub failed_polls: u32,
    /// By ARN: every state read, the last one and when.
    seen: BTreeMap<String, (BTreeSet<String>, String, DateTime<Utc>)>,
}

impl Watched {
    fn saw(&mut self, arn: &str, state: &str, at: DateTime<Utc>) {
        let entry = self
            .seen
            .entry(arn.to_string())
            .or_insert_with(|| (BTreeSet::new(), String::new(), at));
        entry.0.insert(state.to_string());
        entry.1 = state.to_string();
        entry.2 = at;
    }

    /// The report's `alarms` section.
    pub fn report(&self, watch: &AlarmWatch, at_preflight: &BTreeMap<String, String>) -> Value {
        let alarms: Vec<Value> = watch
            .alarms
            .iter()
            .map(|a| {
                let seen = self.seen.get(&a.arn);
                json!({
                    "arn": a.arn,
                    "at_preflight": at_preflight.get(&a.arn),
                    "states_seen": seen.map(|s| s.0.iter().collect::<Vec<_>>()).unwrap_or_default(),
                    "last": seen.map(|s| &s.1),
                    "last_read_at": seen.map(|s| s.2.to_rfc3339_opts(SecondsFormat::Millis, true)),
                })
            })
            .collect();
        json!({
            "interval_ms": watch.interval.as_millis() as u64,
            "polls": self.polls,
            "failed_polls": self.failed_polls,
            "alarms": alarms,
        })
    }
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
pub async fn watch(
    cloud: &Cloud,
    watch: &AlarmWatch,
    clock: &Clock,
    log: &Mutex<Watched>,
) -> Fired {
    let mut failures = 0;
    loop {
        clock.sleep(watch.interval).await;
        let states = read(cloud, watch).await;
        {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.polls += 1;
            if states.iter().any(|(_, s)| s.is_err()) {
                log.failed_polls += 1;
            }
            for (alarm, state) in &states {
                if let Ok(s) = state {
                    log.saw(&alarm.arn, &s.state, clock.now());
                }
            }
        }
        if let Some((alarm, s)) = states.iter().find_map(|(a, s)| match s {
            Ok(s) if s.state == AlarmState::ALARM => Some((a, s)),
            _ => None,
        }) {
            return Fired {
                condition: "alarm",
                at: clock.now(),
                detail: format!(
                    "CloudWatch alarm {} ({}) is in ALARM{}: {}",
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
