//! The top level of a drill file: name, schedule, TTL, soak, `[regions]`, `[database]`,
//! `[timeouts]`, `[slo]`, and the cross-checks between them. Groups live in `groups.rs`.

use std::path::Path;
use std::time::Duration;

use super::checks::{self, ClusterRef};
use super::groups;
use super::model::{Database, Drill, Mode, OnFailure, Regions, Schedule, Slos, Timeouts};
use super::reader::{At, Field, Reader, Table};
use super::{regions, schedule};

pub(super) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "schedule",
    "timezone",
    "ttl",
    "soak",
    "failback",
    "on_failure",
    "regions",
    "database",
    "timeouts",
    "slo",
    "groups",
    "scheduling",
    "lab",
    "probes",
    "stop",
    "notify",
];

pub const DEFAULT_TTL: i64 = 60;
/// Route 53 accepts up to 2^31-1; a drill TTL above two days cannot be meant.
pub const MAX_TTL: i64 = 172_800;
pub const DEFAULT_SOAK: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_INSYNC: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_PROMOTION: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_VERIFY: Duration = Duration::from_secs(5 * 60);

const DURATION: &str = "a duration string such as \"5m\"";

/// Reads the whole document; None when anything is wrong (every problem is in `r`).
pub(super) fn read(r: &mut Reader, root: &Table, path: &Path, sha256: String) -> Option<Drill> {
    r.keys(root, TOP_KEYS);

    let name = match r.string(root, "name", "the drill name as a string") {
        Field::Present(n) => check(r, root, "name", &n, checks::name(&n.value)).map(|()| n.value),
        Field::Absent => {
            r.missing(
                root,
                "name",
                "missing required key `name` (the drill's name, e.g. name = \"checkout\")",
            );
            None
        }
        Field::Invalid => None,
    };
    let description = r.string(root, "description", "a string");
    let schedule = read_schedule(r, root);
    let schedule = super::scheduling::attach(r, root, schedule);
    let drill_ttl = read_ttl(r, root);
    let soak = r.string(root, "soak", DURATION);
    let soak_value = match &soak {
        Field::Present(s) => check(r, root, "soak", s, checks::duration(&s.value)),
        Field::Absent => Some(DEFAULT_SOAK),
        Field::Invalid => None,
    };
    let failback = r.boolean(root, "failback", "true or false");
    if let (Field::Present(s), Some(At { value: false, .. })) = (&soak, failback.as_present()) {
        r.conflict(
            s.span.clone(),
            "soak",
            "soak has no effect with failback = false (the drill stays in the secondary region); remove it or set failback = true",
        );
    }
    let on_failure = match r.string(root, "on_failure", "\"rollback\" or \"stay\"") {
        Field::Present(m) => match m.value.as_str() {
            "rollback" => Some(OnFailure::Rollback),
            "stay" => Some(OnFailure::Stay),
            other => {
                r.error(
                    m.span,
                    "on_failure",
                    format!(
                        "unknown value \"{}\"; expected \"rollback\" (move back to the primary region when it can serve) or \"stay\" (keep the writer and traffic in the secondary region once traffic has moved)",
                        other.escape_debug()
                    ),
                );
                None
            }
        },
        Field::Absent => Some(OnFailure::Rollback),
        Field::Invalid => None,
    };

    let regions = read_regions(r, root);
    let database = read_database(r, root, regions.as_ref());
    let timeouts = read_timeouts(r, root);
    let slo = read_slo(
        r,
        root,
        soak_value,
        failback.as_present().is_none_or(|f| f.value),
    );
    let groups = groups::read(r, root, regions.as_ref());
    let stop = match r.table(root, "stop", "a table [stop]") {
        Field::Present(t) => {
            r.keys(&t, super::probes::STOP_KEYS);
            Some(t)
        }
        _ => None,
    };
    let probes = super::probes::read(r, root, stop.as_ref());
    let alarms = super::alarms::read(r, stop.as_ref(), regions.as_ref());
    let lab = super::lab::read(r, root);
    let notify = super::notify::read(r, root);

    let drill = Drill {
        path: path.to_path_buf(),
        sha256,
        name: name?,
        description: match description {
            Field::Present(d) => d.value,
            Field::Absent => String::new(),
            Field::Invalid => return None,
        },
        schedule: schedule?,
        regions: regions?,
        database: database?,
        drill_ttl: drill_ttl?,
        groups: groups?,
        soak: soak_value?,
        failback: match failback {
            Field::Present(f) => f.value,
            Field::Absent => true,
            Field::Invalid => return None,
        },
        on_failure: on_failure?,
        timeouts: timeouts?,
        slo: slo?,
        probes: probes?,
        alarms: alarms?,
        lab: lab?,
        notify: notify?,
    };
    (!r.has_errors()).then_some(drill)
}

/// Reports `result`'s error at the value; Some(value) when it passed.
pub(super) fn check<T, V>(
    r: &mut Reader,
    table: &Table,
    key: &str,
    at: &At<V>,
    result: Result<T, String>,
) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(message) => {
            r.error(at.span.clone(), table.key(key), message);
            None
        }
    }
}

/// Some(None) when there is no schedule; None when something is wrong.
fn read_schedule(r: &mut Reader, root: &Table) -> Option<Option<Schedule>> {
    let cron = r.string(
        root,
        "schedule",
        "a cron expression such as \"0 10 * * TUE#1\"",
    );
    let timezone = r.string(
        root,
        "timezone",
        "an IANA time zone name such as \"Europe/Berlin\"",
    );
    let cron_ok = match &cron {
        Field::Present(c) => check(r, root, "schedule", c, schedule::check(&c.value)).is_some(),
        Field::Absent => true,
        Field::Invalid => false,
    };
    let tz_ok = match &timezone {
        Field::Present(tz) => {
            let ok = check(r, root, "timezone", tz, schedule::timezone(&tz.value)).is_some();
            if cron.is_absent() {
                r.conflict(
                    tz.span.clone(),
                    "timezone",
                    "timezone is only used with schedule, which is not set; remove it or add a schedule",
                );
            }
            ok
        }
        Field::Absent => true,
        Field::Invalid => false,
    };
    if !(cron_ok && tz_ok) {
        return None;
    }
    Some(cron.present().map(|c| Schedule {
        cron: c.value,
        timezone: timezone.present().map(|tz| tz.value),
        policy: Default::default(),
    }))
}

fn read_ttl(r: &mut Reader, root: &Table) -> Option<i64> {
    match r.integer(root, "ttl", "a whole number of seconds such as 60") {
        Field::Present(t) if (1..=MAX_TTL).contains(&t.value) => Some(t.value),
        Field::Present(t) => {
            r.error(
                t.span,
                "ttl",
                format!(
                    "ttl {} is out of range: the drill TTL must be 1 to {MAX_TTL} seconds",
                    t.value
                ),
            );
            None
        }
        Field::Absent => Some(DEFAULT_TTL),
        Field::Invalid => None,
    }
}

fn read_regions(r: &mut Reader, root: &Table) -> Option<Regions> {
    let table = match r.table(root, "regions", "a table [regions]") {
        Field::Present(t) => t,
        Field::Absent => {
            r.missing(
                root,
                "regions",
                "missing required table [regions] (primary and secondary)",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    r.keys(&table, &["primary", "secondary"]);
    let read = |r: &mut Reader, key: &str| match r.string(
        &table,
        key,
        "an AWS region name such as \"us-east-1\"",
    ) {
        Field::Present(region) => {
            check(r, &table, key, &region, regions::check(&region.value)).map(|p| (region, p))
        }
        Field::Absent => {
            r.missing(
                &table,
                key,
                format!("missing required key `{key}` (an AWS region)"),
            );
            None
        }
        Field::Invalid => None,
    };
    let primary = read(r, "primary");
    let secondary = read(r, "secondary");
    let ((primary, p1), (secondary, p2)) = (primary?, secondary?);
    if primary.value == secondary.value {
        r.conflict(
            secondary.span,
            table.key("secondary"),
            format!(
                "secondary is the same region as primary ({}); a drill moves between two regions",
                primary.value
            ),
        );
        return None;
    }
    if p1 != p2 {
        r.conflict(
            secondary.span,
            table.key("secondary"),
            format!(
                "{} is in partition {p2} but {} is in {p1}; an Aurora global database cannot span partitions",
                secondary.value, primary.value
            ),
        );
        return None;
    }
    Some(Regions {
        primary: primary.value,
        secondary: secondary.value,
    })
}

fn read_database(r: &mut Reader, root: &Table, regions: Option<&Regions>) -> Option<Database> {
    let table = match r.table(root, "database", "a table [database]") {
        Field::Present(t) => t,
        Field::Absent => {
            r.missing(
                root,
                "database",
                "missing required table [database] (global_cluster, secondary_cluster, mode)",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    r.keys(&table, &["global_cluster", "secondary_cluster", "mode"]);

    let global = match r.string(
        &table,
        "global_cluster",
        "the global cluster identifier as a string",
    ) {
        Field::Present(g) => check(
            r,
            &table,
            "global_cluster",
            &g,
            checks::rds_identifier(&g.value),
        )
        .map(|()| g.value),
        Field::Absent => {
            r.missing(
                &table,
                "global_cluster",
                "missing required key `global_cluster` (the Aurora global database identifier)",
            );
            None
        }
        Field::Invalid => None,
    };

    let secondary = match r.string(
        &table,
        "secondary_cluster",
        "a cluster identifier or ARN as a string",
    ) {
        Field::Present(s) => match check(
            r,
            &table,
            "secondary_cluster",
            &s,
            checks::cluster_ref(&s.value),
        ) {
            Some(ClusterRef::Arn { region }) => match regions {
                Some(regions) if region != regions.secondary => {
                    let which = if region == regions.primary {
                        ", the primary region"
                    } else {
                        ""
                    };
                    r.conflict(
                        s.span.clone(),
                        table.key("secondary_cluster"),
                        format!(
                            "the ARN is in {region}{which}, but regions.secondary is {}: secondary_cluster is the cluster the drill promotes in the secondary region",
                            regions.secondary
                        ),
                    );
                    None
                }
                _ => Some(s.value),
            },
            Some(ClusterRef::Id) => Some(s.value),
            None => None,
        },
        Field::Absent => {
            r.missing(
                &table,
                "secondary_cluster",
                "missing required key `secondary_cluster` (the cluster in the secondary region to promote)",
            );
            None
        }
        Field::Invalid => None,
    };

    let mode = match r.string(&table, "mode", "\"switchover\" or \"failover\"") {
        Field::Present(m) => match m.value.as_str() {
            "switchover" => Some(Mode::Switchover),
            "failover" => Some(Mode::Failover),
            other => {
                r.error(
                    m.span,
                    table.key("mode"),
                    format!(
                        "unknown mode \"{}\"; expected \"switchover\" (planned, no data loss) or \"failover\" (unplanned, may lose unreplicated writes)",
                        other.escape_debug()
                    ),
                );
                None
            }
        },
        Field::Absent => {
            r.missing(
                &table,
                "mode",
                "missing required key `mode` (\"switchover\" or \"failover\"); there is no default because failover may lose writes",
            );
            None
        }
        Field::Invalid => None,
    };

    Some(Database {
        global_cluster: global?,
        secondary_cluster: secondary?,
        mode: mode?,
    })
}

/// A duration key of an optional table.
fn duration_key(r: &mut Reader, table: &Table, key: &str) -> Field<At<Duration>> {
    match r.string(table, key, DURATION) {
        Field::Present(d) => match check(r, table, key, &d, checks::positive_duration(&d.value)) {
            Some(value) => Field::Present(At {
                value,
                span: d.span,
            }),
            None => Field::Invalid,
        },
        Field::Absent => Field::Absent,
        Field::Invalid => Field::Invalid,
    }
}

/// The value, the default when absent, None when wrong.
fn or_default(field: Field<At<Duration>>, default: Duration) -> Option<Duration> {
    match field {
        Field::Present(d) => Some(d.value),
        Field::Absent => Some(default),
        Field::Invalid => None,
    }
}

fn read_timeouts(r: &mut Reader, root: &Table) -> Option<Timeouts> {
    let table = match r.table(root, "timeouts", "a table [timeouts]") {
        Field::Present(t) => t,
        Field::Absent => {
            return Some(Timeouts {
                insync: DEFAULT_INSYNC,
                promotion: DEFAULT_PROMOTION,
                verify: DEFAULT_VERIFY,
            });
        }
        Field::Invalid => return None,
    };
    r.keys(&table, &["insync", "promotion", "verify"]);
    let insync = or_default(duration_key(r, &table, "insync"), DEFAULT_INSYNC);
    let promotion = or_default(duration_key(r, &table, "promotion"), DEFAULT_PROMOTION);
    let verify = or_default(duration_key(r, &table, "verify"), DEFAULT_VERIFY);
    Some(Timeouts {
        insync: insync?,
        promotion: promotion?,
        verify: verify?,
    })
}

fn read_slo(r: &mut Reader, root: &Table, soak: Option<Duration>, failback: bool) -> Option<Slos> {
    let table = match r.table(root, "slo", "a table [slo]") {
        Field::Present(t) => t,
        Field::Absent => {
            return Some(Slos {
                max_write_outage: None,
                max_duration: None,
            });
        }
        Field::Invalid => return None,
    };
    let keys: Vec<&str> = ["max_write_outage", "max_duration"]
        .into_iter()
        .chain(super::probes::SLO_KEYS.iter().copied())
        .collect();
    r.keys(&table, &keys);
    let outage = duration_key(r, &table, "max_write_outage");
    let duration = duration_key(r, &table, "max_duration");
    if let (Some(o), Some(d)) = (outage.as_present(), duration.as_present())
        && o.value > d.value
    {
        r.conflict(
            o.span.clone(),
            table.key("max_write_outage"),
            format!(
                "max_write_outage ({}) is longer than max_duration ({}); the write outage is part of the drill",
                checks::show(o.value),
                checks::show(d.value)
            ),
        );
    }
    if let (Some(soak), Some(d), true) = (soak, duration.as_present(), failback)
        && d.value <= soak
    {
        r.conflict(
            d.span.clone(),
            table.key("max_duration"),
            format!(
                "max_duration ({}) is not longer than the soak ({}); the drill spends the soak in the secondary region plus two promotions, so it could never meet this SLO",
                checks::show(d.value),
                checks::show(soak)
            ),
        );
    }
    if outage.is_invalid() || duration.is_invalid() {
        return None;
    }
    Some(Slos {
        max_write_outage: outage.present().map(|o| o.value),
        max_duration: duration.present().map(|d| d.value),
    })
}
