//! Faults the lab can inject, parsed from `--fault` strings. Each one names what the engine will
//! see and how a drill is expected to end:
//!
//! | fault | what the lab does | expected drill outcome |
//! |---|---|---|
//! | `throttle=R` (0 < R ≤ 1) | each Route 53 / RDS call fails with `Throttling` (HTTP 400) with probability R | the SDK's retries absorb it (the drill passes, slower); at high rates a call runs out of retries and the drill rolls back |
//! | `switchover-fails` | every switchover goes `pending` → `switching-over` → `cancelling` → cleared; the writer never moves | promotion fails, rollback restores TTLs and routing; the world ends as it began |
//! | `switchover-hangs[=D]` | a switchover stays `switching-over` for D (default 1 h), then is cancelled | the promotion wait times out and the drill rolls back; until D passes the global cluster still shows the switchover |
//! | `primary-outage@promote` / `@OFFSET` [`/FOR`] | at the first promotion request (or OFFSET after lab start) the primary region goes down, for FOR or for good: its app answers 503, its cluster is `inaccessible` and takes no writes, replication from it freezes, health checks of its endpoints fail | a switchover cannot finish (cancelled after `switchover_stall`, the drill rolls back); a failover finishes, losing the unreplicated writes, and the old writer stays `pending-resync` while the region is down, so failback cannot happen |
//! | `replication-lag=D` | the secondary trails the writer by D | a switchover's write outage grows by up to D (it waits for catch-up): a tight `max_write_outage` SLO fails; a failover loses up to D of acknowledged writes |
//! | `dns-silent` [`@WHEN` [`/FOR`]] | the DNS server stops answering (UDP and TCP) | DNS probes and verification time out; the drill fails verification and rolls back |
//! | `dns-stale` [`@WHEN` [`/FOR`]] | the DNS server keeps answering what it served at WHEN, while the Route 53 API goes on accepting changes and reporting them INSYNC | traffic never moves: verification (or a `[stop] traffic_deadline`) fails and the drill rolls back |
//! | `alarm` [`@WHEN` [`/FOR`]] | every CloudWatch alarm the drills' `[stop] alarms` name goes to ALARM (and back to OK after FOR) | at the start (`alarm`), preflight refuses; later (`alarm@promote`), the drill stops at its next alarm read and rolls back |
//! | `secondary-pending-resync` | the secondary starts (and stays) `pending-resync` | preflight should refuse; `SwitchoverGlobalCluster` is rejected with `InvalidDBClusterStateFault`; a failover with data loss is still allowed |
//! | `slow-insync=D` | Route 53 changes take D to reach INSYNC | waits get longer; with D past the drill's INSYNC timeout the drill times out and rolls back (the rollback's own changes are slow too) |
//!
//! Durations use humantime syntax (`500ms`, `90s`, `5m`) and are modelled time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// When a timed fault starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// At the first SwitchoverGlobalCluster / FailoverGlobalCluster request.
    Promote,
    /// This long (modelled) after the lab started.
    After(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Throttle {
        rate: f64,
    },
    SwitchoverFails,
    SwitchoverHangs {
        hang: Duration,
    },
    PrimaryOutage {
        at: Trigger,
        lasts: Option<Duration>,
    },
    ReplicationLag {
        lag: Duration,
    },
    DnsSilent {
        at: Trigger,
        lasts: Option<Duration>,
    },
    DnsStale {
        at: Trigger,
        lasts: Option<Duration>,
    },
    Alarm {
        at: Trigger,
        lasts: Option<Duration>,
    },
    SecondaryPendingResync,
    /// Someone else edits a record set the drill manages: the first weighted record set of the
    /// lab's zones gets weight 7 (8 if it had 7), published at once.
    RecordEdited {
        at: Trigger,
    },
    SlowInsync {
        delay: Duration,
    },
}

/// How long `switchover-hangs` hangs when no duration is given.
pub const DEFAULT_HANG: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault `{input}`: {reason}")]
pub struct FaultParseError {
    pub input: String,
    pub reason: String,
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| FaultParseError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.trim();
        let (head, at) = match s.split_once('@') {
            Some((head, at)) => (head, Some(at)),
            None => (s, None),
        };
        let (name, value) = match head.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (head, None),
        };
        let duration = |v: &str| {
            humantime::parse_duration(v.trim())
                .map_err(|e| fail(&format!("`{v}` is not a duration ({e})")))
        };
        let no_value = |f: Fault| match value {
            Some(_) => Err(fail("takes no `=value`")),
            None => Ok(f),
        };
        let no_at = |f: Fault| match at {
            Some(_) => Err(fail("takes no `@when`")),
            None => Ok(f),
        };
        let timed = || -> Result<(Trigger, Option<Duration>), FaultParseError> {
            let Some(at) = at else {
                return Ok((Trigger::After(Duration::ZERO), None));
            };
            let (when, lasts) = match at.split_once('/') {
                Some((when, lasts)) => (when, Some(duration(lasts)?)),
                None => (at, None),
            };
            let trigger = match when.trim() {
                "promote" => Trigger::Promote,
                offset => Trigger::After(duration(offset)?),
            };
            Ok((trigger, lasts))
        };
        match name.trim() {
            "throttle" => {
                let raw = value.ok_or_else(|| fail("needs a rate, e.g. `throttle=0.3`"))?;
                let rate: f64 = raw
                    .trim()
                    .parse()
                    .map_err(|_| fail("the rate must be a number"))?;
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(fail("the rate must be in (0, 1]"));
                }
                no_at(Fault::Throttle { rate })
            }
            "switchover-fails" => no_at(no_value(Fault::SwitchoverFails)?),
            "switchover-hangs" => {
                let hang = value.map(duration).transpose()?.unwrap_or(DEFAULT_HANG);
                no_at(Fault::SwitchoverHangs { hang })
            }
            "primary-outage" => {
                if at.is_none() {
                    return Err(fail("needs a time: `primary-outage@promote` or `@90s`"));
                }
                let (at, lasts) = timed()?;
                no_value(Fault::PrimaryOutage { at, lasts })
            }
            "replication-lag" => {
                let raw = value.ok_or_else(|| fail("needs a lag, e.g. `replication-lag=5s`"))?;
                no_at(Fault::ReplicationLag {
                    lag: duration(raw)?,
                })
            }
            "dns-silent" => {
                let (at, lasts) = timed()?;
                no_value(Fault::DnsSilent { at, lasts })
            }
            "dns-stale" => {
                let (at, lasts) = timed()?;
                no_value(Fault::DnsStale { at, lasts })
            }
            "alarm" => {
                let (at, lasts) = timed()?;
                no_value(Fault::Alarm { at, lasts })
            }
            "secondary-pending-resync" => no_at(no_value(Fault::SecondaryPendingResync)?),
            "record-edited" => {
                let (at, lasts) = timed()?;
                if lasts.is_some() {
                    return Err(fail(
                        "an edit does not end: `record-edited@WHEN` takes no /D",
                    ));
                }
                no_value(Fault::RecordEdited { at })
            }
            "slow-insync" => {
                let raw = value.ok_or_else(|| fail("needs a delay, e.g. `slow-insync=300s`"))?;
                no_at(Fault::SlowInsync {
                    delay: duration(raw)?,
                })
            }
            _ => Err(fail(
                "unknown fault; known: throttle=R, switchover-fails, switchover-hangs[=D], \
                 primary-outage@promote|@D[/D], replication-lag=D, dns-silent[@WHEN[/D]], \
                 dns-stale[@WHEN[/D]], alarm[@WHEN[/D]], record-edited[@WHEN], \
                 secondary-pending-resync, slow-insync=D",
            )),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Promote => f.write_str("promote"),
            Trigger::After(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| humantime::format_duration(*d).to_string();
        let lasting =
            |l: &Option<Duration>| l.as_ref().map(|l| format!("/{}", d(l))).unwrap_or_default();
        match self {
            Fault::Throttle { rate } => write!(f, "throttle={rate}"),
            Fault::SwitchoverFails => f.write_str("switchover-fails"),
            Fault::SwitchoverHangs { hang } => write!(f, "switchover-hangs={}", d(hang)),
            Fault::PrimaryOutage { at, lasts } => {
                write!(f, "primary-outage@{at}{}", lasting(lasts))
            }
            Fault::ReplicationLag { lag } => write!(f, "replication-lag={}", d(lag)),
            Fault::DnsSilent { at, lasts } => write!(f, "dns-silent@{at}{}", lasting(lasts)),
            Fault::DnsStale { at, lasts } => write!(f, "dns-stale@{at}{}", lasting(lasts)),
            Fault::Alarm { at, lasts } => write!(f, "alarm@{at}{}", lasting(lasts)),
            Fault::RecordEdited { at } => write!(f, "record-edited@{at}"),
            Fault::SecondaryPendingResync => f.write_str("secondary-pending-resync"),
            Fault::SlowInsync { delay } => write!(f, "slow-insync={}", d(delay)),
        }
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Fault {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_every_fault() {
        assert_eq!(p("throttle=0.3"), Fault::Throttle { rate: 0.3 });
        assert_eq!(p("switchover-fails"), Fault::SwitchoverFails);
        assert_eq!(
            p("switchover-hangs"),
            Fault::SwitchoverHangs { hang: DEFAULT_HANG }
        );
        assert_eq!(
            p("switchover-hangs=20m"),
            Fault::SwitchoverHangs {
                hang: Duration::from_secs(1200)
            }
        );
        assert_eq!(
            p("primary-outage@promote"),
            Fault::PrimaryOutage {
                at: Trigger::Promote,
                lasts: None
            }
        );
        assert_eq!(
            p("primary-outage@90s/10m"),
            Fault::PrimaryOutage {
                at: Trigger::After(Duration::from_secs(90)),
                lasts: Some(Duration::from_secs(600))
            }
        );
        assert_eq!(
            p("replication-lag=5s"),
            Fault::ReplicationLag {
                lag: Duration::from_secs(5)
            }
        );
        assert_eq!(
            p("dns-silent"),
            Fault::DnsSilent {
                at: Trigger::After(Duration::ZERO),
                lasts: None
            }
        );
        assert_eq!(
            p("dns-silent@promote/1m"),
            Fault::DnsSilent {
                at: Trigger::Promote,
                lasts: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(
            p("dns-stale@promote"),
            Fault::DnsStale {
                at: Trigger::Promote,
                lasts: None
            }
        );
        assert_eq!(
            p("alarm@90s/2m"),
            Fault::Alarm {
                at: Trigger::After(Duration::from_secs(90)),
                lasts: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(p("secondary-pending-resync"), Fault::SecondaryPendingResync);
        assert_eq!(
            p("slow-insync=300s"),
            Fault::SlowInsync {
                delay: Duration::from_secs(300)
            }
        );
    }

    #[test]
    fn rejects_bad_faults_with_a_reason() {
        for bad in [
            "throttle",
            "throttle=0",
            "throttle=1.5",
            "throttle=x",
            "switchover-fails=1",
            "primary-outage",
            "primary-outage@soon",
            "replication-lag",
            "replication-lag=fast",
            "slow-insync=5s@promote",
            "dns-stale=1",
            "dns-stale@later",
            "alarm=on",
            "meteor-strike",
        ] {
            let err = bad.parse::<Fault>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(!err.reason.is_empty());
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "throttle=0.3",
            "switchover-fails",
            "switchover-hangs=20m",
            "primary-outage@promote",
            "primary-outage@1m 30s/10m",
            "replication-lag=5s",
            "dns-silent@0s",
            "dns-stale@promote/5m",
            "alarm@promote",
            "secondary-pending-resync",
            "slow-insync=5m",
        ] {
            let f = p(s);
            assert_eq!(p(&f.to_string()), f, "{s}");
        }
    }
}
