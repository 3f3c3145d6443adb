//! Drill file validation: valid files load into the model with the documented defaults; invalid
//! files report every problem at once as `PATH:LINE:COL: key: message`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use failover_drill::cloud::ZoneRef;
use failover_drill::spec::{self, Mode, Traffic};
use sha2::{Digest, Sha256};

use crate::support::Drill;

/// A small valid drill. Cases edit it line by line, so every position below is predictable; the
/// blank lines are slots for adding keys without moving anything else.
const BASE: &[&str] = &[
    r#"name = "t""#,               // 1
    "",                            // 2
    "",                            // 3
    "",                            // 4
    "[regions]",                   // 5
    r#"primary = "us-east-1""#,    // 6
    r#"secondary = "us-west-2""#,  // 7
    "",                            // 8
    "[database]",                  // 9
    r#"global_cluster = "g""#,     // 10
    r#"secondary_cluster = "s""#,  // 11
    r#"mode = "switchover""#,      // 12
    "",                            // 13
    "[[groups]]",                  // 14
    r#"name = "api""#,             // 15
    r#"zone = "example.com""#,     // 16
    r#"traffic = "weighted""#,     // 17
    "",                            // 18
    "[[groups.records]]",          // 19
    r#"name = "api.example.com""#, // 20
    r#"type = "A""#,               // 21
    r#"set_identifier = "use1""#,  // 22
    r#"region = "us-east-1""#,     // 23
    "drill_weight = 0",            // 24
    "",                            // 25
    "[[groups.records]]",          // 26
    r#"name = "api.example.com""#, // 27
    r#"type = "A""#,               // 28
    r#"set_identifier = "usw2""#,  // 29
    r#"region = "us-west-2""#,     // 30
    "drill_weight = 100",          // 31
    "",                            // 32
];

/// BASE with 1-based lines replaced; a line past the end appends (and may span several lines).
fn edited(edits: &[(usize, &str)]) -> String {
    let mut lines: Vec<String> = BASE.iter().map(|l| l.to_string()).collect();
    for &(line, text) in edits {
        if line <= lines.len() {
            assert!(
                !text.contains('\n'),
                "a replaced line must stay one line: {text:?}"
            );
            lines[line - 1] = text.to_string();
        } else {
            lines.push(text.to_string());
        }
    }
    lines.join("\n") + "\n"
}

/// The diagnostics for `text` (as file `t.toml`), one display line each.
fn problems(text: &str) -> Vec<String> {
    match spec::parse(Path::new("t.toml"), text) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

/// Compares diagnostics with expectations. An expectation ending in `...` matches by prefix.
fn assert_problems(case: &str, text: &str, expected: &[&str]) {
    let actual = problems(text);
    let matches = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| match e.strip_suffix("...") {
                Some(prefix) => a.starts_with(prefix),
                None => a == e,
            });
    assert!(
        matches,
        "case {case:?}\n--- expected\n{}\n--- actual\n{}\n--- file\n{text}",
        expected.join("\n"),
        actual.join("\n")
    );
}

/// (case, edits to BASE, every expected diagnostic in file order)
type Case = (
    &'static str,
    &'static [(usize, &'static str)],
    &'static [&'static str],
);

const INVALID: &[Case] = &[
    (
        "misspelt top-level key",
        &[(2, r#"nmae = "x""#)],
        &[
            "t.toml:2:1: nmae: unknown key `nmae` (did you mean `name`?); allowed here: name, description, schedule, timezone, ttl, soak, failback, on_failure, regions, database, timeouts, slo, groups, scheduling, lab, probes, stop, notify",
        ],
    ),
    (
        "misspelt record key",
        &[(25, "weight = 5")],
        &[
            "t.toml:25:1: groups[0].records[0].weight: unknown key `weight` (did you mean `drill_weight`?); allowed here: name, type, set_identifier, region, drill_weight",
        ],
    ),
    (
        "unknown key in a nested table",
        &[(8, "standby = \"us-west-1\"")],
        &["t.toml:8:1: regions.standby: unknown key `standby`; allowed here: primary, secondary"],
    ),
    (
        "an unknown table is rejected with the keys allowed",
        &[(33, "[chaos]\nkill = \"everything\"")],
        &[
            "t.toml:33:2: chaos: unknown key `chaos`; allowed here: name, description, schedule, timezone, ttl, soak, failback, on_failure, regions, database, timeouts, slo, groups, scheduling, lab, probes, stop, notify",
        ],
    ),
    (
        "missing name",
        &[(1, "")],
        &[
            r#"t.toml:1:1: name: missing required key `name` (the drill's name, e.g. name = "checkout")"#,
        ],
    ),
    (
        "name with capitals",
        &[(1, r#"name = "Checkout""#)],
        &[
            r#"t.toml:1:8: name: invalid name "Checkout": use 1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit"#,
        ],
    ),
    (
        "ttl zero",
        &[(2, "ttl = 0")],
        &["t.toml:2:7: ttl: ttl 0 is out of range: the drill TTL must be 1 to 172800 seconds"],
    ),
    (
        "ttl above two days",
        &[(2, "ttl = 172801")],
        &["t.toml:2:7: ttl: ttl 172801 is out of range: the drill TTL must be 1 to 172800 seconds"],
    ),
    (
        "ttl as a string",
        &[(2, r#"ttl = "60""#)],
        &[
            r#"t.toml:2:7: ttl: expected a whole number of seconds such as 60, found the string "60""#,
        ],
    ),
    (
        "ttl as a float",
        &[(2, "ttl = 60.5")],
        &["t.toml:2:7: ttl: expected a whole number of seconds such as 60, found the float 60.5"],
    ),
    (
        "soak without a unit",
        &[(2, r#"soak = "5""#)],
        &[r#"t.toml:2:8: soak: invalid duration "5": ..."#],
    ),
    (
        "soak of days",
        &[(2, r#"soak = "2d""#)],
        &[
            r#"t.toml:2:8: soak: duration "2d" is longer than 24h; a drill holds its lock and changed DNS that whole time, so this is most likely a typo"#,
        ],
    ),
    (
        "soak as a number",
        &[(2, "soak = 300")],
        &[r#"t.toml:2:8: soak: expected a duration string such as "5m", found the integer 300"#],
    ),
    (
        "soak without failback",
        &[(2, "failback = false"), (3, r#"soak = "1m""#)],
        &[
            "t.toml:3:8: soak: soak has no effect with failback = false (the drill stays in the secondary region); remove it or set failback = true",
        ],
    ),
    (
        "failback as a string",
        &[(2, r#"failback = "no""#)],
        &[r#"t.toml:2:12: failback: expected true or false, found the string "no""#],
    ),
    (
        "schedule firing every minute of an hour",
        &[(2, r#"schedule = "* 10 * * TUE""#)],
        &[
            r#"t.toml:2:12: schedule: schedule "* 10 * * TUE" fires more than once an hour (at 2025-01-07 10:00:00 UTC and 10:01:00); ..."#,
        ],
    ),
    (
        "schedule with day-of-month and day-of-week",
        &[(2, r#"schedule = "0 10 1-7 * TUE""#)],
        &[
            r#"t.toml:2:12: schedule: schedule "0 10 1-7 * TUE" restricts both day-of-month (1-7) and day-of-week (TUE); cron runs when EITHER matches..."#,
        ],
    ),
    (
        "schedule with seven fields",
        &[(2, r#"schedule = "0 0 10 * * TUE 2030""#)],
        &[r#"t.toml:2:12: schedule: invalid cron expression "0 0 10 * * TUE 2030": ..."#],
    ),
    (
        "timezone without schedule",
        &[(2, r#"timezone = "Europe/Berlin""#)],
        &[
            "t.toml:2:12: timezone: timezone is only used with schedule, which is not set; remove it or add a schedule",
        ],
    ),
    (
        "misspelt timezone",
        &[
            (2, r#"schedule = "0 10 * * TUE#1""#),
            (3, r#"timezone = "Europe/Berln""#),
        ],
        &[
            r#"t.toml:3:12: timezone: unknown time zone "Europe/Berln"; write an IANA name such as "Europe/Berlin", "America/New_York" or "UTC""#,
        ],
    ),
    (
        "same region twice",
        &[(7, r#"secondary = "us-east-1""#)],
        &[
            "t.toml:7:13: regions.secondary: secondary is the same region as primary (us-east-1); a drill moves between two regions",
        ],
    ),
    (
        "misspelt region",
        &[(6, r#"primary = "us-est-1""#)],
        &[
            r#"t.toml:6:11: regions.primary: unknown AWS region "us-est-1" (did you mean "us-east-1"?)"#,
        ],
    ),
    (
        "availability zone instead of region",
        &[(7, r#"secondary = "us-west-2a""#)],
        &[
            r#"t.toml:7:13: regions.secondary: unknown AWS region "us-west-2a" (that is an availability zone; the region is "us-west-2")"#,
        ],
    ),
    (
        "regions in two partitions",
        &[(7, r#"secondary = "cn-north-1""#)],
        &[
            "t.toml:7:13: regions.secondary: cn-north-1 is in partition aws-cn but us-east-1 is in aws; an Aurora global database cannot span partitions",
        ],
    ),
    (
        "regions table missing",
        &[(5, ""), (6, ""), (7, "")],
        &["t.toml:1:1: regions: missing required table [regions] (primary and secondary)"],
    ),
    (
        "secondary region missing",
        &[(7, "")],
        &["t.toml:5:1: regions.secondary: missing required key `secondary` (an AWS region)"],
    ),
    (
        "mode with a capital",
        &[(12, r#"mode = "Switchover""#)],
        &[
            r#"t.toml:12:8: database.mode: unknown mode "Switchover"; expected "switchover" (planned, no data loss) or "failover" (unplanned, may lose unreplicated writes)"#,
        ],
    ),
    (
        "mode missing",
        &[(12, "")],
        &[
            r#"t.toml:9:1: database.mode: missing required key `mode` ("switchover" or "failover"); there is no default because failover may lose writes"#,
        ],
    ),
    (
        "global cluster starting with a digit",
        &[(10, r#"global_cluster = "1abc""#)],
        &[
            r#"t.toml:10:18: database.global_cluster: invalid identifier "1abc": must start with a letter"#,
        ],
    ),
    (
        "secondary cluster ARN in the primary region",
        &[(
            11,
            r#"secondary_cluster = "arn:aws:rds:us-east-1:123456789012:cluster:s""#,
        )],
        &[
            "t.toml:11:21: database.secondary_cluster: the ARN is in us-east-1, the primary region, but regions.secondary is us-west-2: secondary_cluster is the cluster the drill promotes in the secondary region",
        ],
    ),
    (
        "secondary cluster given as an instance ARN",
        &[(
            11,
            r#"secondary_cluster = "arn:aws:rds:us-west-2:123456789012:db:s-1""#,
        )],
        &[
            r#"t.toml:11:21: database.secondary_cluster: invalid cluster ARN "arn:aws:rds:us-west-2:123456789012:db:s-1": this is a "db" ARN; name the Aurora DB cluster (arn:…:rds:REGION:ACCOUNT:cluster:NAME)"#,
        ],
    ),
    (
        "zero and non-string timeouts",
        &[(2, r#"timeouts = { insync = "0s", verify = 5 }"#)],
        &[
            r#"t.toml:2:23: timeouts.insync: duration "0s" must be longer than 0s"#,
            r#"t.toml:2:38: timeouts.verify: expected a duration string such as "5m", found the integer 5"#,
        ],
    ),
    (
        "write outage longer than the drill",
        &[(
            2,
            r#"slo = { max_write_outage = "1h", max_duration = "30m" }"#,
        )],
        &[
            "t.toml:2:28: slo.max_write_outage: max_write_outage (1h) is longer than max_duration (30m); the write outage is part of the drill",
        ],
    ),
    (
        "drill shorter than its soak",
        &[(2, r#"slo = { max_duration = "5m" }"#)],
        &[
            "t.toml:2:24: slo.max_duration: max_duration (5m) is not longer than the soak (5m); the drill spends the soak in the secondary region plus two promotions, so it could never meet this SLO",
        ],
    ),
    (
        "unknown traffic",
        &[(17, r#"traffic = "weight""#)],
        &[
            r#"t.toml:17:11: groups[0].traffic: unknown traffic "weight"; expected "weighted" (shift record weights), "failover" (invert the primary's health check) or "none" (only lower the TTL)"#,
        ],
    ),
    (
        "zone and zone_id together",
        &[(18, r#"zone_id = "Z123""#)],
        &["t.toml:18:11: groups[0].zone_id: set either zone (a name) or zone_id, not both"],
    ),
    (
        "no zone",
        &[(16, "")],
        &[
            r#"t.toml:14:1: groups[0].zone: missing the hosted zone: set zone = "example.com" or zone_id = "Z…""#,
        ],
    ),
    (
        "zone id in lower case",
        &[(16, r#"zone_id = "/hostedzone/z0123""#)],
        &[
            r#"t.toml:16:11: groups[0].zone_id: invalid hosted zone id "/hostedzone/z0123": hosted zone ids are upper-case letters and digits starting with Z"#,
        ],
    ),
    (
        "record type ALIAS",
        &[(21, r#"type = "ALIAS""#)],
        &[
            r#"t.toml:21:8: groups[0].records[0].type: unsupported record type "ALIAS" (an alias record has the type of its target, usually A or AAAA); expected one of A, AAAA, CNAME, TXT, MX, SRV, NS, PTR, CAA, SPF, NAPTR, DS, TLSA, SSHFP, HTTPS, SVCB"#,
        ],
    ),
    (
        "record name given as a URL",
        &[(20, r#"name = "https://api.example.com""#)],
        &[
            r#"t.toml:20:8: groups[0].records[0].name: invalid DNS name "https://api.example.com": write the DNS name alone, not a URL"#,
        ],
    ),
    (
        "weighted record without drill_weight",
        &[(24, "")],
        &[
            "t.toml:19:1: groups[0].records[0].drill_weight: missing `drill_weight`: every record of a weighted group needs it (its weight during the drill, 0 to 255)",
        ],
    ),
    (
        "weighted record without set_identifier and region",
        &[(29, ""), (30, "")],
        &[
            "t.toml:26:1: groups[0].records[1].set_identifier: missing `set_identifier`: every record of a weighted group needs it (its set identifier in Route 53)",
            "t.toml:26:1: groups[0].records[1].region: missing `region`: every record of a weighted group needs it (the region it sends traffic to)",
        ],
    ),
    (
        "primary region keeps weight",
        &[(24, "drill_weight = 10")],
        &[
            "t.toml:24:16: groups[0].records[0].drill_weight: drill_weight must be 0 for records in the primary region (us-east-1): the drill moves all traffic to the secondary region",
        ],
    ),
    (
        "nothing gets weight in the secondary region",
        &[(31, "drill_weight = 0")],
        &[
            "t.toml:19:1: groups[0].records: api.example.com. A: no record in the secondary region (us-west-2) has drill_weight > 0, so the drill would not move its traffic",
        ],
    ),
    (
        "primary record not listed",
        &[(19, ""), (20, ""), (21, ""), (22, ""), (23, ""), (24, "")],
        &[
            "t.toml:26:1: groups[0].records: api.example.com. A: no record in the primary region (us-east-1); list the primary-region records with drill_weight = 0, because records the file does not list keep their weight during the drill",
        ],
    ),
    (
        "weight above 255",
        &[(31, "drill_weight = 256")],
        &[
            "t.toml:31:16: groups[0].records[1].drill_weight: drill_weight 256 is out of range: Route 53 weights are 0 to 255",
        ],
    ),
    (
        "record pointing at a third region",
        &[(30, r#"region = "eu-west-1""#)],
        &[
            "t.toml:30:10: groups[0].records[1].region: region eu-west-1 is neither regions.primary (us-east-1) nor regions.secondary (us-west-2)",
        ],
    ),
    (
        "record outside its zone",
        &[(20, r#"name = "api.example.org""#)],
        &[
            "t.toml:19:1: groups[0].records: api.example.org. A: no record in the secondary region (us-west-2) has drill_weight > 0, so the drill would not move its traffic",
            "t.toml:20:8: groups[0].records[0].name: api.example.org. is not inside the group's zone example.com.",
            "t.toml:26:1: groups[0].records: api.example.com. A: no record in the primary region (us-east-1); list the primary-region records with drill_weight = 0, because records the file does not list keep their weight during the drill",
        ],
    ),
    (
        "the same record twice",
        &[(29, r#"set_identifier = "use1""#)],
        &[
            r#"t.toml:27:8: groups[0].records[1].name: duplicate record api.example.com. A (set_identifier "use1") in zone example.com.: already listed at groups[0].records[0]"#,
        ],
    ),
    (
        "the same record in two groups, names differing only in case and dot",
        &[(
            33,
            "[[groups]]\nname = \"api-ttl\"\nzone = \"Example.com.\"\ntraffic = \"none\"\n[[groups.records]]\nname = \"API.example.com.\"\ntype = \"a\"\nset_identifier = \"usw2\"",
        )],
        &[
            r#"t.toml:38:8: groups[1].records[0].name: duplicate record api.example.com. A (set_identifier "usw2") in zone example.com.: already listed at groups[0].records[1]"#,
        ],
    ),
    (
        "duplicate group name",
        &[(
            33,
            "[[groups]]\nname = \"api\"\nzone = \"example.net\"\ntraffic = \"none\"\n[[groups.records]]\nname = \"example.net\"\ntype = \"TXT\"",
        )],
        &[r#"t.toml:34:8: groups[1].name: duplicate group name "api" (also used by groups[0])"#],
    ),
    (
        "failover group without health check keeps weights",
        &[(17, r#"traffic = "failover""#)],
        &[
            r#"t.toml:14:1: groups[0].health_check: missing `health_check`: traffic = "failover" needs the id of the PRIMARY record's health check (the drill inverts it to fail over)"#,
            r#"t.toml:24:16: groups[0].records[0].drill_weight: drill_weight is only used with traffic = "weighted"; this group has traffic = "failover""#,
            r#"t.toml:31:16: groups[0].records[1].drill_weight: drill_weight is only used with traffic = "weighted"; this group has traffic = "failover""#,
        ],
    ),
    (
        "failover pair in one region",
        &[
            (17, r#"traffic = "failover""#),
            (18, r#"health_check = "hc-1""#),
            (24, ""),
            (31, ""),
            (30, r#"region = "us-east-1""#),
        ],
        &[
            "t.toml:30:10: groups[0].records[1].region: the records point at us-east-1 and us-east-1; a failover pair needs one record in the primary region (us-east-1) and one in the secondary region (us-west-2)",
        ],
    ),
    (
        "failover pair with different names",
        &[
            (17, r#"traffic = "failover""#),
            (18, r#"health_check = "hc-1""#),
            (24, ""),
            (31, ""),
            (27, r#"name = "www.example.com""#),
        ],
        &[
            "t.toml:27:8: groups[0].records[1].name: the two records of a failover pair share name and type, but these are api.example.com. A and www.example.com. A",
        ],
    ),
    (
        "failover pair without set identifiers",
        &[
            (17, r#"traffic = "failover""#),
            (18, r#"health_check = "hc-1""#),
            (24, ""),
            (31, ""),
            (22, ""),
            (29, ""),
        ],
        &[
            "t.toml:19:1: groups[0].records[0].set_identifier: missing `set_identifier`: both records of a failover pair need it (its set identifier in Route 53)",
            "t.toml:26:1: groups[0].records[1].set_identifier: missing `set_identifier`: both records of a failover pair need it (its set identifier in Route 53)",
        ],
    ),
    (
        "failover group with three records",
        &[
            (17, r#"traffic = "failover""#),
            (18, r#"health_check = "hc-1""#),
            (24, ""),
            (31, ""),
            (
                33,
                "[[groups.records]]\nname = \"api.example.com\"\ntype = \"AAAA\"",
            ),
        ],
        &[
            r#"t.toml:33:1: groups[0].records: traffic = "failover" needs exactly two records (the PRIMARY and SECONDARY of one failover pair), found 3"#,
        ],
    ),
    (
        "health check on a weighted group",
        &[(18, r#"health_check = "hc-1""#)],
        &[
            r#"t.toml:18:16: groups[0].health_check: health_check is only used with traffic = "failover"; this group has traffic = "weighted""#,
        ],
    ),
    (
        "drill_weight in a none group",
        &[(17, r#"traffic = "none""#)],
        &[
            r#"t.toml:24:16: groups[0].records[0].drill_weight: drill_weight is only used with traffic = "weighted"; this group has traffic = "none""#,
            r#"t.toml:31:16: groups[0].records[1].drill_weight: drill_weight is only used with traffic = "weighted"; this group has traffic = "none""#,
        ],
    ),
    (
        "CNAME at the zone apex",
        &[
            (17, r#"traffic = "none""#),
            (20, r#"name = "example.com""#),
            (21, r#"type = "CNAME""#),
            (24, ""),
            (31, ""),
        ],
        &[
            "t.toml:21:8: groups[0].records[0].type: a CNAME cannot sit at the zone apex (example.com.); use an alias A/AAAA record there",
        ],
    ),
    (
        "a table where groups must be an array of tables",
        &[(14, "[groups]")],
        &["t.toml:14:1: groups: expected one or more [[groups]] tables, found a table"],
    ),
    (
        "no groups at all",
        &[
            (14, ""),
            (15, ""),
            (16, ""),
            (17, ""),
            (19, ""),
            (20, ""),
            (21, ""),
            (22, ""),
            (23, ""),
            (24, ""),
            (26, ""),
            (27, ""),
            (28, ""),
            (29, ""),
            (30, ""),
            (31, ""),
        ],
        &[
            "t.toml:1:1: groups: missing [[groups]]: a drill needs at least one group of records to shift",
        ],
    ),
    (
        "an empty records list",
        &[
            (17, r#"traffic = "none""#),
            (18, "records = []"),
            (19, ""),
            (20, ""),
            (21, ""),
            (22, ""),
            (23, ""),
            (24, ""),
            (26, ""),
            (27, ""),
            (28, ""),
            (29, ""),
            (30, ""),
            (31, ""),
        ],
        &["t.toml:18:11: groups[0].records: a group needs at least one record"],
    ),
    (
        "stop alarms: a wrong service, a duplicate, an interval out of range",
        &[
            (33, "[stop]"),
            (
                34,
                r#"alarms = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a", "arn:aws:sns:us-east-1:123456789012:x:y", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"]"#,
            ),
            (35, r#"alarm_interval = "500ms""#),
        ],
        &[
            r#"t.toml:34:64: stop.alarms[1]: invalid alarm ARN "arn:aws:sns:us-east-1:123456789012:x:y": service is "sns", expected "cloudwatch""#,
            "t.toml:34:106: stop.alarms[2]: alarm arn:aws:cloudwatch:us-east-1:123456789012:alarm:a is listed twice",
            "t.toml:35:18: stop.alarm_interval: alarm_interval 500ms is out of range: 1s to 5m",
        ],
    ),
    (
        "stop: an alarm interval without alarms, a probe condition without probes",
        &[
            (33, "[stop]"),
            (34, r#"alarm_interval = "30s""#),
            (35, r#"error_rate = "5%""#),
        ],
        &[
            "t.toml:34:18: stop.alarm_interval: alarm_interval is how often stop.alarms are read, and there are none; remove it or add alarms",
            "t.toml:35:14: stop.error_rate: stop.error_rate measures with probes, but there is no [probes] table; add [probes] with the probe it needs",
        ],
    ),
    (
        "stop alarms empty",
        &[(33, "[stop]"), (34, "alarms = []")],
        &[
            "t.toml:34:10: stop.alarms: alarms is empty; list at least one alarm ARN or remove the key",
        ],
    ),
    (
        "stop alarm in another partition",
        &[
            (33, "[stop]"),
            (
                34,
                r#"alarms = ["arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:a"]"#,
            ),
        ],
        &[
            "t.toml:34:11: stop.alarms[0]: invalid alarm ARN \"arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:a\": the alarm is in partition aws-cn but the drill's regions are in aws; the drill's credentials cannot read it",
        ],
    ),
    (
        "notify: an unknown outcome, a timeout out of range, an unknown key",
        &[
            (33, "[notify]"),
            (34, r#"command = ["/usr/local/bin/page", "--team", "sre"]"#),
            (35, r#"on = ["rolled_back", "failed"]"#),
            (36, r#"timeout = "1h""#),
            (37, r#"shell = "sh -c""#),
        ],
        &[
            "t.toml:35:22: notify.on[1]: unknown outcome \"failed\"; outcomes are passed, slo_failed, refused, rolled_back, rollback_incomplete",
            "t.toml:36:11: notify.timeout: timeout 1h is out of range: 1s to 10m",
            "t.toml:37:1: notify.shell: unknown key `shell`; allowed here: command, on, timeout",
        ],
    ),
    (
        "notify: no command, an empty outcome list",
        &[(33, "[notify]"), (34, "on = []")],
        &[
            "t.toml:33:1: notify.command: missing `command`: [notify] runs a command after each drill (the program and its arguments as an array of strings, e.g. [\"/usr/local/bin/page-oncall\", \"--team\", \"sre\"])",
            "t.toml:34:6: notify.on: on is empty, so the command would never run; list outcomes (passed, slo_failed, refused, rolled_back, rollback_incomplete) or remove the key for all of them",
        ],
    ),
    (
        "notify: an empty command, a shell line instead of an argument vector",
        &[(33, "[notify]"), (34, "command = []")],
        &[
            "t.toml:34:11: notify.command: command is empty; give the program and its arguments as an array of strings, e.g. [\"/usr/local/bin/page-oncall\", \"--team\", \"sre\"]",
        ],
    ),
    (
        "notify: a string where the argument vector goes",
        &[(33, "[notify]"), (34, r#"command = "page --team sre""#)],
        &[
            "t.toml:34:11: notify.command: expected the program and its arguments as an array of strings, e.g. [\"/usr/local/bin/page-oncall\", \"--team\", \"sre\"], found the string \"page --team sre\"",
        ],
    ),
    (
        "syntax error",
        &[(2, "ttl = = 60")],
        &["t.toml:2:7: <file>: invalid TOML: extra `=`, expected nothing..."],
    ),
    (
        "duplicate key",
        &[(2, r#"name = "u""#)],
        &["t.toml:2:1: <file>: invalid TOML: duplicate key"],
    ),
];

#[test]
fn invalid_files_report_every_problem_with_its_position() {
    for (case, edits, expected) in INVALID {
        assert_problems(case, &edited(edits), expected);
    }
}

#[test]
fn base_file_is_valid() {
    assert_problems("base", &edited(&[]), &[]);
}

#[test]
fn one_file_with_many_mistakes_reports_them_all_in_file_order() {
    let text = edited(&[
        (2, "ttl = -5"),
        (3, r#"soak = "5 mins ago""#),
        (6, r#"primary = "US-EAST-1""#),
        (10, r#"global_cluster = "checkout_global""#),
        (12, r#"mode = "promote""#),
        (18, r#"helth_check = "x""#),
        (21, r#"type = "SOA""#),
        (25, "ttl = 30"),
        (31, r#"drill_weight = "100""#),
    ]);
    assert_problems(
        "many",
        &text,
        &[
            "t.toml:2:7: ttl: ttl -5 is out of range: the drill TTL must be 1 to 172800 seconds",
            r#"t.toml:3:8: soak: invalid duration "5 mins ago": ..."#,
            r#"t.toml:6:11: regions.primary: unknown AWS region "US-EAST-1" (region names are lower case: "us-east-1")"#,
            r#"t.toml:10:18: database.global_cluster: invalid identifier "checkout_global": may contain only letters, digits and hyphens"#,
            r#"t.toml:12:8: database.mode: unknown mode "promote"; ..."#,
            "t.toml:18:1: groups[0].helth_check: unknown key `helth_check` (did you mean `health_check`?); allowed here: name, zone, zone_id, traffic, health_check, records, select",
            r#"t.toml:21:8: groups[0].records[0].type: unsupported record type "SOA" (the SOA record has no routing a drill could change); ..."#,
            "t.toml:25:1: groups[0].records[0].ttl: unknown key `ttl`; allowed here: name, type, set_identifier, region, drill_weight",
            r#"t.toml:31:16: groups[0].records[1].drill_weight: expected a whole number 0 to 255, found the string "100""#,
        ],
    );
}

#[test]
fn syntax_errors_come_with_value_problems_but_not_with_whole_file_guesses() {
    // The broken line and the bad record type are reported together; the missing `mode` is not,
    // because a syntax error can swallow keys and make "missing" a false alarm.
    let text = edited(&[(2, "ttl = = 60"), (12, ""), (21, r#"type = "ALIAS""#)]);
    let actual = problems(&text);
    assert!(
        actual[0].starts_with("t.toml:2:7: <file>: invalid TOML: "),
        "{actual:#?}"
    );
    assert!(
        actual.iter().any(|l| l.starts_with(
            "t.toml:21:8: groups[0].records[0].type: unsupported record type \"ALIAS\""
        )),
        "{actual:#?}"
    );
    assert!(
        !actual.iter().any(|l| l.contains("database.mode")),
        "{actual:#?}"
    );
    assert!(
        !actual.iter().any(|l| l.contains("ttl:")),
        "a placeholder value must not be judged: {actual:#?}"
    );
}

#[test]
fn an_unterminated_table_header_points_at_its_line() {
    let text = edited(&[(26, "[[groups.records]")]);
    let actual = problems(&text);
    assert!(!actual.is_empty());
    assert!(
        actual.iter().all(|l| l.starts_with("t.toml:26:")),
        "{actual:#?}"
    );
}

fn temp_drill(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn base_file_loads_with_the_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let text = edited(&[]);
    let path = temp_drill(&dir, "base.toml", &text);
    let drill = spec::load(&path).unwrap();
    assert_eq!(drill.path, path);
    assert_eq!(
        drill.sha256,
        format!("{:x}", Sha256::digest(text.as_bytes()))
    );
    assert_eq!(drill.name, "t");
    assert_eq!(drill.description, "");
    assert_eq!(drill.schedule, None);
    assert_eq!(drill.drill_ttl, 60);
    assert_eq!(drill.soak, Duration::from_secs(300));
    assert!(drill.failback);
    assert_eq!(drill.timeouts.insync, Duration::from_secs(300));
    assert_eq!(drill.timeouts.promotion, Duration::from_secs(900));
    assert_eq!(drill.timeouts.verify, Duration::from_secs(300));
    assert_eq!(drill.slo.max_write_outage, None);
    assert_eq!(drill.slo.max_duration, None);
    assert_eq!(drill.regions.primary, "us-east-1");
    assert_eq!(drill.database.mode, Mode::Switchover);
    let group = &drill.groups[0];
    assert_eq!(group.zone, ZoneRef::Name("example.com.".to_string()));
    assert_eq!(group.traffic, Traffic::Weighted);
    let r = &group.records[1];
    assert_eq!(r.name, "api.example.com.");
    assert_eq!(r.rtype, "A");
    assert_eq!(r.set_identifier.as_deref(), Some("usw2"));
    assert_eq!(r.region.as_deref(), Some("us-west-2"));
    assert_eq!(r.drill_weight, Some(100));
}

#[test]
fn valid_variants_load() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[(usize, &str)])] = &[
        ("zero soak", &[(2, r#"soak = "0s""#)]),
        (
            "lower-case type",
            &[(21, r#"type = "a""#), (28, r#"type = "a""#)],
        ),
        (
            "schedule with seconds and a zone",
            &[
                (2, r#"schedule = "0 0 10 * * TUE#1""#),
                (3, r#"timezone = "America/New_York""#),
            ],
        ),
        (
            "last day of the month",
            &[(2, r#"schedule = "30 9 L * *""#)],
        ),
        (
            "weekday nearest the 15th",
            &[(2, r#"schedule = "30 9 15W * *""#)],
        ),
        (
            "gov cloud",
            &[
                (6, r#"primary = "us-gov-west-1""#),
                (7, r#"secondary = "us-gov-east-1""#),
                (23, r#"region = "us-gov-west-1""#),
                (30, r#"region = "us-gov-east-1""#),
            ],
        ),
        (
            "secondary by ARN",
            &[(
                11,
                r#"secondary_cluster = "arn:aws:rds:us-west-2:123456789012:cluster:s""#,
            )],
        ),
        (
            "inline tables",
            &[
                (
                    2,
                    r#"timeouts = { insync = "2m", promotion = "30m", verify = "90s" }"#,
                ),
                (
                    3,
                    r#"slo = { max_write_outage = "1m", max_duration = "1h" }"#,
                ),
            ],
        ),
        ("failback off", &[(2, "failback = false")]),
        (
            "wildcard record",
            &[
                (20, r#"name = "*.example.com""#),
                (27, r#"name = "*.example.com""#),
            ],
        ),
        (
            "zone apex A record",
            &[
                (20, r#"name = "example.com.""#),
                (27, r#"name = "example.com.""#),
            ],
        ),
    ];
    for (case, edits) in cases {
        let path = temp_drill(&dir, "case.toml", &edited(edits));
        if let Err(e) = spec::load(&path) {
            panic!("case {case:?} rejected:\n{e}");
        }
    }
    // Stop alarms need no probes; their regions come from the ARNs, any region of the partition.
    let path = temp_drill(
        &dir,
        "alarms.toml",
        &edited(&[
            (33, "[stop]"),
            (
                34,
                r#"alarms = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout: 5xx"]"#,
            ),
        ]),
    );
    let d = spec::load(&path).expect("a drill with stop alarms");
    let watch = d.alarms.expect("alarms");
    assert_eq!(watch.interval, Duration::from_secs(10));
    assert_eq!(watch.alarms.len(), 1);
    assert_eq!(watch.alarms[0].region, "eu-west-1");
    assert_eq!(watch.alarms[0].name, "checkout: 5xx");
    assert!(d.probes.is_none());
    let crlf = edited(&[]).replace('\n', "\r\n");
    assert!(
        spec::parse(Path::new("crlf.toml"), &crlf).is_ok(),
        "CRLF line endings"
    );
}

#[test]
fn failover_groups_and_zone_ids_load() {
    let text = edited(&[
        (16, r#"zone_id = "/hostedzone/Z0123ABC""#),
        (17, r#"traffic = "failover""#),
        (
            18,
            r#"health_check = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d""#,
        ),
        (24, ""),
        (31, ""),
    ]);
    let drill = spec::parse(Path::new("f.toml"), &text).unwrap();
    let group = &drill.groups[0];
    assert_eq!(group.zone, ZoneRef::Id("Z0123ABC".to_string()));
    assert_eq!(
        group.traffic,
        Traffic::Failover {
            health_check: "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d".to_string()
        }
    );
    assert!(group.records.iter().all(|r| r.drill_weight.is_none()));
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("drills")
        .join(name)
}

#[test]
fn shipped_example_is_the_weighted_lab_drill() {
    let drill = spec::load(&example("example.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(drill.name, "example");
    assert_eq!(drill.regions.primary, "us-east-1");
    assert_eq!(drill.regions.secondary, "us-west-2");
    assert_eq!(drill.database.global_cluster, "example-global");
    assert_eq!(drill.database.secondary_cluster, "example-usw2");
    assert_eq!(drill.database.mode, Mode::Switchover);
    assert_eq!(drill.soak, Duration::from_secs(120));
    let group = &drill.groups[0];
    assert_eq!(group.zone, ZoneRef::Name("example.com.".to_string()));
    assert_eq!(group.traffic, Traffic::Weighted);
    let sets: Vec<_> = group
        .records
        .iter()
        .map(|r| (r.set_identifier.as_deref(), r.drill_weight))
        .collect();
    assert_eq!(
        sets,
        [(Some("us-east-1"), Some(0)), (Some("us-west-2"), Some(100))]
    );
    assert!(
        group
            .records
            .iter()
            .all(|r| r.name == "api.example.com." && r.rtype == "A")
    );
}

#[test]
fn shipped_failover_example_uses_failover_records_and_a_none_group() {
    let drill = spec::load(&example("failover-records.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(drill.database.mode, Mode::Failover);
    assert!(matches!(drill.groups[0].zone, ZoneRef::Id(_)));
    assert!(matches!(drill.groups[0].traffic, Traffic::Failover { .. }));
    assert_eq!(drill.groups[0].records.len(), 2);
    assert_eq!(drill.groups[1].traffic, Traffic::None);
    assert_eq!(drill.groups[1].records[0].rtype, "CNAME");
    assert!(drill.schedule.is_some());
}

#[test]
fn drill_files_expands_folders_sorted_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.toml", "a.toml", "notes.md", ".#a.toml"] {
        temp_drill(&dir, name, "");
    }
    std::fs::create_dir(dir.path().join("sub.toml")).unwrap();
    let a = dir.path().join("a.toml");
    let files = spec::drill_files(&[dir.path().to_path_buf(), a.clone()]).unwrap();
    assert_eq!(
        files,
        [a, dir.path().join("b.toml")],
        "sorted, a.toml listed once"
    );
}

#[test]
fn drill_files_reports_every_bad_path() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.path().join("missing.toml");
    let err = spec::drill_files(&[missing.clone(), empty.clone()]).unwrap_err();
    assert_eq!(err.path, missing);
    let lines: Vec<String> = err.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with(&format!(
        "{}:1:1: <file>: cannot read the drill file: ",
        missing.display()
    )));
    assert_eq!(
        lines[1],
        format!(
            "{}:1:1: <file>: the folder holds no *.toml drill files",
            empty.display()
        )
    );
}

#[test]
fn load_reports_unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = spec::load(&missing).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    assert!(err.to_string().starts_with(&format!(
        "{}:1:1: <file>: cannot read the drill file: ",
        missing.display()
    )));

    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"name = \"t\"\ndescription = \"f\xfcr\"\n").unwrap();
    let err = spec::load(&latin1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:17: <file>: the file is not valid UTF-8 (TOML files must be)",
            latin1.display()
        )
    );
}

#[test]
fn cli_validates_the_shipped_drills_folder() {
    Drill::new()
        .args(["validate", "drills/"])
        .expect_code(0)
        .stdout_contains("example.toml: ok")
        .stdout_contains("estate.toml: ok")
        .stdout_contains("failover-records.toml: ok");
}

#[test]
fn cli_rejects_a_malformed_file_printing_every_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = edited(&[
        (2, "ttl = -5"),
        (12, r#"mode = "promote""#),
        (25, "weight = 5"),
    ]);
    let path = temp_drill(&dir, "bad.toml", &text);
    let ran = Drill::new().arg("validate").arg(&path).expect_code(2);
    for position in [
        "2:7: ttl:",
        "12:8: database.mode:",
        "25:1: groups[0].records[0].weight:",
    ] {
        let line = format!("{}:{position}", path.display());
        assert!(
            ran.stderr.contains(&line),
            "stderr lacks {line:?}\n{}",
            ran.stderr
        );
    }
}
