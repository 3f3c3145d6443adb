//! Someone else's change is never overwritten: everything the routing change needs is read and
//! checked before the writer moves, and the change itself is conditional (a DELETE of the record
//! as the drill read it plus a CREATE, in one atomic batch), so an edit made during the promotion
//! makes Route 53 refuse the shift instead of the drill silently undoing the edit.

use crate::support::Drill;

#[test]
fn a_record_edited_during_the_promotion_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    // The example without its probes: this is about the control plane, and a busy machine's late
    // probe must not refuse the run before the edit.
    let example = std::fs::read_to_string("drills/example.toml").unwrap();
    let (control, _) = example.split_once("\n[probes]").unwrap();
    let file = dir.path().join("example.toml");
    std::fs::write(&file, control).unwrap();
    Drill::new()
        .state_dir(dir.path())
        .arg("run")
        .arg(&file)
        .args(["--lab", "--yes"])
        .args(["--fault", "record-edited@promote", "--time-scale", "60"])
        .arg("--report")
        .arg(&path)
        .expect_code(5);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // The whole world before and after, and the ground truth, are in the report's sidecar.
    let details = path.with_file_name(r["lab"]["details"].as_str().unwrap());
    let lab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(details).unwrap()).unwrap();
    // Rolled back, but not called restored: a record the drill touched is not as it found it.
    assert_eq!(r["outcome"], "rollback_incomplete", "{}", r["errors"]);
    let errors = r["errors"].to_string();
    assert!(errors.contains("changed outside the drill"), "{errors}");

    // The lab's ground truth: the edit happened.
    let events = lab["ground_truth"]["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["what"]["fault"] == "record-edited@promote"),
        "the lab edited a record"
    );
    let end = &lab["final_state"];
    let records: Vec<&serde_json::Value> = end["zones"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|z| z["records"].as_array().unwrap())
        .filter(|rec| rec["name"] == "api.example.com.")
        .collect();
    let east = records
        .iter()
        .find(|rec| rec["set_identifier"] == "us-east-1")
        .unwrap();
    let west = records
        .iter()
        .find(|rec| rec["set_identifier"] == "us-west-2")
        .unwrap();
    assert_eq!(east["weight"], 7, "the other party's edit stands: {east}");
    assert_eq!(
        west["weight"], 0,
        "the drill weight was never applied: {west}"
    );
    assert_eq!(east["ttl"], 300, "{east}");
    assert_eq!(west["ttl"], 300, "{west}");
    // The report says exactly what happened to each change.
    let changes = r["changes"].as_array().unwrap();
    for c in changes.iter().filter(|c| c["step"] == "shift_traffic") {
        assert_eq!(c["failed"], true, "{c}");
        assert_eq!(
            c["how"], "already",
            "the refused shift never changed anything: {c}"
        );
    }
    let lowered_east = changes
        .iter()
        .find(|c| c["step"] == "lower_ttls" && c["resource"].to_string().contains("us-east-1"))
        .unwrap();
    assert_eq!(lowered_east["restored"], false, "{lowered_east}");
    assert!(
        lowered_east["note"]
            .to_string()
            .contains("weight was changed by someone else during the drill (now 7"),
        "{lowered_east}"
    );
    // The writer went back to the primary region.
    let writer = end["global_clusters"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "writer")
        .cloned()
        .unwrap();
    assert_eq!(writer["region"], "us-east-1", "{writer}");
}
