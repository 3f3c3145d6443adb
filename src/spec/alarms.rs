//! `[stop] alarms`: CloudWatch alarms that abort the drill and roll it back when one goes to
//! ALARM. Unlike the other stop conditions they need no probes: the alarms users already trust
//! (5xx rate, latency, queue depth) watch the drill for them.

use std::time::Duration;

use serde::Serialize;

use super::model::Regions;
use super::probes::{bounded, duration};
use super::reader::{Field, Reader, Table};
use super::{checks, regions};

/// How often the alarms are read while the drill runs. CloudWatch evaluates most alarms once a
/// minute, so reading faster only spends DescribeAlarms quota.
pub const DEFAULT_ALARM_INTERVAL: Duration = Duration::from_secs(10);
const MIN_ALARM_INTERVAL: Duration = Duration::from_secs(1);
const MAX_ALARM_INTERVAL: Duration = Duration::from_secs(300);

/// One alarm, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmRef {
    pub arn: String,
    pub region: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmWatch {
    pub alarms: Vec<AlarmRef>,
    pub interval: Duration,
}

/// Some(None) when `[stop]` names no alarm; None when something is wrong.
pub(super) fn read(
    r: &mut Reader,
    stop: Option<&Table>,
    drill_regions: Option<&Regions>,
) -> Option<Option<AlarmWatch>> {
    let Some(t) = stop else {
        return Some(None);
    };
    let interval = match duration(r, t, "alarm_interval", false) {
        Field::Present(d) => bounded(
            r,
            t,
            "alarm_interval",
            d,
            MIN_ALARM_INTERVAL,
            MAX_ALARM_INTERVAL,
        ),
        Field::Absent => Some(DEFAULT_ALARM_INTERVAL),
        Field::Invalid => None,
    };
    let expected =
        "an array of CloudWatch alarm ARNs (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)";
    let items = match r.strings(t, "alarms", expected) {
        Field::Present(items) => items,
        Field::Absent => {
            if let Some(v) = t.map.get("alarm_interval") {
                r.conflict(
                    v.span(),
                    t.key("alarm_interval"),
                    "alarm_interval is how often stop.alarms are read, and there are none; remove it or add alarms",
                );
                return None;
            }
            return Some(None);
        }
        Field::Invalid => return None,
    };
    let partition = drill_regions.and_then(|r| regions::partition_of(&r.primary));
    let path = t.key("alarms");
    let mut alarms: Vec<AlarmRef> = Vec::new();
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("{path}[{i}]");
        match alarm_arn(&item.value, partition) {
            Ok(alarm) if alarms.iter().any(|a| a.arn == alarm.arn) => {
                r.error(
                    item.span,
                    key,
                    format!("alarm {} is listed twice", alarm.arn),
                );
                ok = false;
            }
            Ok(alarm) => alarms.push(alarm),
            Err(message) => {
                r.error(item.span, key, message);
                ok = false;
            }
        }
    }
    if ok && alarms.is_empty() {
        if let Some(v) = t.map.get("alarms") {
            r.error(
                v.span(),
                path,
                "alarms is empty; list at least one alarm ARN or remove the key",
            );
        }
        return None;
    }
    Some(Some(AlarmWatch {
        alarms,
        interval: interval?,
    }))
    .filter(|_| ok)
}

/// `arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME`, in the drill's partition when known.
fn alarm_arn(s: &str, drill_partition: Option<&str>) -> Result<AlarmRef, String> {
    let bad = |why: String| format!("invalid alarm ARN \"{}\": {why}", s.escape_debug());
    let arn = checks::arn(
        s,
        "cloudwatch",
        "arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME",
    )
    .map_err(bad)?;
    if let Some(drill) = drill_partition
        && drill != arn.partition
    {
        return Err(bad(format!(
            "the alarm is in partition {} but the drill's regions are in {drill}; the drill's credentials cannot read it",
            arn.partition
        )));
    }
    if arn.kind != "alarm" {
        return Err(bad(format!("this is a \"{}\" ARN, not an alarm", arn.kind)));
    }
    if arn.name.is_empty() || arn.name.len() > 255 || arn.name.chars().any(char::is_control) {
        return Err(bad(
            "the alarm name must be 1 to 255 printable characters".to_string()
        ));
    }
    Ok(AlarmRef {
        arn: s.to_string(),
        region: arn.region.to_string(),
        name: arn.name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_arns_are_taken_apart() {
        let a = alarm_arn(
            "arn:aws:cloudwatch:us-west-2:123456789012:alarm:api 5xx: checkout",
            Some("aws"),
        )
        .expect("valid");
        assert_eq!(a.region, "us-west-2");
        assert_eq!(a.name, "api 5xx: checkout");
        let err = |s: &str| alarm_arn(s, Some("aws")).unwrap_err();
        assert!(err("api-5xx").contains("expected arn:aws:cloudwatch"));
        assert!(err("arn:aws:sns:us-west-2:123456789012:alarm:x").contains("\"cloudwatch\""));
        assert!(
            err("arn:aws:cloudwatch:us-west-9:123456789012:alarm:x").contains("unknown AWS region")
        );
        assert!(err("arn:aws:cloudwatch:us-west-2:1234:alarm:x").contains("12 digits"));
        assert!(
            err("arn:aws:cloudwatch:us-west-2:123456789012:dashboard:x").contains("not an alarm")
        );
        assert!(err("arn:aws:cloudwatch:us-west-2:123456789012:alarm:").contains("1 to 255"));
        assert!(
            err("arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x")
                .contains("drill's regions are in aws")
        );
    }
}
