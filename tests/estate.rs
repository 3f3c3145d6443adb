//! Large estates against the lab, over the real wire: the calls a drill makes grow with the pages
//! of its zones' listings, not with its records, and once the writer moves nothing but the routing
//! change stands between it and traffic following.

use serde_json::Value;

use crate::support::Drill;

const ZONES: usize = 2;
const NAMES: usize = 350;

/// A weighted drill over `ZONES` zones of `NAMES` names, two record sets each (700 per zone, so
/// each zone's listing takes three pages of 300).
fn estate() -> String {
    let mut s = String::from(
        r#"name = "estate"
ttl = 60
soak = "10s"
[regions]
primary = "us-east-1"
secondary = "us-west-2"
[database]
global_cluster = "estate-global"
secondary_cluster = "estate-usw2"
mode = "switchover"
[timeouts]
insync = "5m"
promotion = "30m"
verify = "5m"
[lab]
original_ttl = 300
"#,
    );
    for z in 1..=ZONES {
        s.push_str(&format!(
            "[[groups]]\nname = \"z{z}\"\nzone = \"z{z}.estate.example\"\ntraffic = \"weighted\"\n"
        ));
        for n in 0..NAMES {
            for (set, region, weight) in [("use1", "us-east-1", 0), ("usw2", "us-west-2", 100)] {
                s.push_str(&format!(
                    "[[groups.records]]\nname = \"n{n:04}.z{z}.estate.example\"\ntype = \"A\"\nset_identifier = \"{set}\"\nregion = \"{region}\"\ndrill_weight = {weight}\n"
                ));
            }
        }
    }
    s
}

fn calls(events: &[Value]) -> Vec<(f64, &str, &str, i64)> {
    events
        .iter()
        .filter(|e| e["what"]["kind"] == "api_call")
        .map(|e| {
            (
                e["t"].as_f64().unwrap(),
                e["what"]["operation"].as_str().unwrap(),
                e["what"]["resource"].as_str().unwrap_or(""),
                e["what"]["status"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_two_zone_estate_reads_by_page_and_shifts_right_after_the_writer_moves() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("estate.toml");
    std::fs::write(&file, estate()).unwrap();
    let path = dir.path().join("report.json");
    Drill::new()
        .state_dir(dir.path())
        .arg("run")
        .arg(&file)
        .args(["--lab", "--yes", "--time-scale", "300", "--report"])
        .arg(&path)
        .expect_code(0);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // The ground truth is in the report's sidecar.
    let details = path.with_file_name(r["lab"]["details"].as_str().unwrap());
    let lab: Value = serde_json::from_str(&std::fs::read_to_string(details).unwrap()).unwrap();
    assert_eq!(r["outcome"], "passed", "{}", r["errors"]);
    assert_eq!(r["lab"]["world_restored"], true);
    let events = lab["ground_truth"]["events"].as_array().unwrap();
    let calls = calls(events);

    // Listings: each zone (702 records with its SOA and NS: 3 pages) read in each phase that reads
    // — preflight, the check before the promotion, both verifications, both undos — plus the
    // lease's own reads.
    let lists = calls
        .iter()
        .filter(|c| c.1 == "ListResourceRecordSets")
        .count();
    let pages_per_phase = ZONES * 3;
    assert!(
        lists as f64 <= 1.2 * (pages_per_phase * 6) as f64,
        "{lists} listings for {pages_per_phase} pages × 6 phases"
    );

    // Nothing but the routing change between the writer moving and traffic following: from the
    // switchover on, every zone's shift is sent before anything reads Route 53 again.
    let switchover = calls
        .iter()
        .position(|c| c.1 == "SwitchoverGlobalCluster")
        .expect("a switchover");
    let next_read = switchover
        + calls[switchover..]
            .iter()
            .position(|c| c.1 == "ListResourceRecordSets" || c.1.contains("HealthCheck"))
            .expect("verification reads after the shift");
    let shifted_zones: std::collections::BTreeSet<&str> = calls[switchover..next_read]
        .iter()
        .filter(|c| c.1 == "ChangeResourceRecordSets" && c.3 == 200)
        .map(|c| c.2)
        .collect();
    assert!(
        shifted_zones.len() >= ZONES,
        "not every zone's shift was sent before the next read: {:?}",
        &calls[switchover..next_read]
    );
    // The last promotion poll is followed directly by the shift's change calls.
    let shift_from = switchover
        + calls[switchover..next_read]
            .iter()
            .position(|c| c.1 == "ChangeResourceRecordSets")
            .unwrap();
    assert_eq!(
        calls[shift_from - 1].1,
        "DescribeGlobalClusters",
        "{:?}",
        &calls[switchover..next_read]
    );
    // Each zone's 700 shifted records fit Route 53's request limits in two calls at most.
    let shift_calls = calls[shift_from..next_read]
        .iter()
        .take_while(|c| c.1 == "ChangeResourceRecordSets")
        .count();
    // (One lease renewal may fall among them.)
    assert!(shift_calls <= ZONES * 2 + 1, "{shift_calls}");
}
