//! `drill bench-estate` on a tiny estate: it runs, and its JSON figures hang together (phases add up
//! to the total, the busiest second stays within Route 53's 5 calls, the bound is the documented
//! formula). A check of the instrument, not of its figures' size: timing targets live in the
//! benchmark's own output, never here.

use serde::Deserialize;

use crate::support::Drill;

#[derive(Debug, Deserialize)]
struct Figures {
    estate: Estate,
    record_sets_per_zone: usize,
    pages_per_zone: usize,
    time_scale: f64,
    scenarios: Vec<Scenario>,
    wall_s: f64,
    peak_rss_kib: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Estate {
    zones: usize,
    records: usize,
}

#[derive(Debug, Deserialize)]
struct Scenario {
    scenario: String,
    outcome: String,
    phases: Vec<Phase>,
    total: Calls,
    peak_route53_calls_per_second: usize,
    throttled: usize,
    preflight_s: Option<f64>,
    drill_s: Option<f64>,
    wall_s: f64,
    bound: Bound,
    #[serde(default)]
    undo: Option<serde_json::Value>,
    world: World,
}

#[derive(Debug, Deserialize)]
struct Phase {
    phase: String,
    from_s: Option<f64>,
    to_s: Option<f64>,
    calls: Calls,
    max_change_calls_per_zone: usize,
    max_change_calls_needed: usize,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
struct Calls {
    route53: usize,
    list_pages: usize,
    change_calls: usize,
    get_change: usize,
    health_checks: usize,
    other_route53: usize,
    rds: usize,
}

#[derive(Debug, Deserialize)]
struct Bound {
    pages_to_list_touched_zones: usize,
    reading_phases: usize,
    health_check_calls: usize,
    bound: f64,
    actual: usize,
    within: bool,
}

#[derive(Debug, Deserialize)]
struct World {
    equal: bool,
    zones: usize,
    record_sets: usize,
    writer_regions: Vec<String>,
}

#[test]
fn a_tiny_estate_pass_gives_consistent_figures() {
    let ran = Drill::new()
        .args([
            "bench-estate",
            "--zones",
            "2",
            "--records",
            "8",
            "--scenario",
            "pass",
            "--json",
        ])
        .expect_code(0);
    let f: Figures = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}\n--- stdout\n{}", ran.stdout));
    assert_eq!((f.estate.zones, f.estate.records), (2, 8));
    assert_eq!((f.record_sets_per_zone, f.pages_per_zone), (4, 1));
    assert_eq!(f.time_scale, 30.0);
    assert!(f.wall_s > 0.0 && f.peak_rss_kib.is_some_and(|k| k > 0));
    let [s] = f.scenarios.as_slice() else {
        panic!("one scenario asked for: {:?}", f.scenarios);
    };
    assert_eq!(
        (s.scenario.as_str(), s.outcome.as_str()),
        ("pass", "passed")
    );

    let names: Vec<&str> = s.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(
        names,
        [
            "preflight",
            "lower_ttls",
            "promote",
            "shift_traffic",
            "verify_shift",
            "soak",
            "fail_back",
            "verify_recovery",
            "restore_ttls"
        ],
        "no call fell outside the run's steps"
    );
    let mut last_end = 0.0;
    for p in &s.phases {
        let (from, to) = (p.from_s.unwrap(), p.to_s.unwrap());
        assert!(
            from <= to && from >= last_end - 0.01,
            "{p:?} after {last_end}"
        );
        last_end = to;
    }

    // The phases add up to the total, and the kinds add up to the Route 53 calls.
    let mut sum = Calls::default();
    for p in &s.phases {
        let c = &p.calls;
        assert_eq!(
            c.route53,
            c.list_pages + c.change_calls + c.get_change + c.health_checks + c.other_route53,
            "{p:?}"
        );
        sum.route53 += c.route53;
        sum.list_pages += c.list_pages;
        sum.change_calls += c.change_calls;
        sum.get_change += c.get_change;
        sum.health_checks += c.health_checks;
        sum.other_route53 += c.other_route53;
        sum.rds += c.rds;
    }
    assert_eq!(sum, s.total);
    // Every record set is read in preflight; the TTLs and the weights change in every zone.
    assert!(s.phases[0].calls.list_pages >= 1);
    for step in ["lower_ttls", "shift_traffic", "fail_back", "restore_ttls"] {
        let p = s.phases.iter().find(|p| p.phase == step).unwrap();
        assert!(p.calls.change_calls >= 2, "{p:?}: one per zone at least");
        assert_eq!(p.max_change_calls_needed, 1, "{p:?}");
        assert!(p.max_change_calls_per_zone >= 1, "{p:?}");
    }
    let soak = s.phases.iter().find(|p| p.phase == "soak").unwrap();
    assert_eq!(soak.calls, Calls::default(), "the soak calls nothing");
    assert!(s.total.rds > 0, "the promotion is RDS's");

    // Route 53's account limit, on the lab's clock.
    assert!((1..=5).contains(&s.peak_route53_calls_per_second));
    assert_eq!(s.throttled, 0);

    // The bound is the documented formula over this run.
    let b = &s.bound;
    assert_eq!(b.pages_to_list_touched_zones, 2);
    let reading = s.phases.iter().filter(|p| p.calls.list_pages > 0).count();
    assert_eq!(b.reading_phases, reading);
    assert_eq!(b.health_check_calls, s.total.health_checks);
    assert_eq!(b.actual, s.total.route53);
    let expected = 1.2 * (2 * reading) as f64 + s.total.health_checks as f64;
    assert!((b.bound - expected).abs() < 1e-9, "{b:?}");
    assert_eq!(b.within, b.actual as f64 <= b.bound);

    let preflight = s.preflight_s.unwrap();
    let drill = s.drill_s.unwrap();
    assert!(
        preflight > 0.0 && drill >= 30.0,
        "the soak alone is 30 s: {drill}"
    );
    assert!(s.wall_s > 0.0);
    assert!(s.undo.is_none(), "nothing was rolled back");
    let w = &s.world;
    assert!(w.equal, "the world ends as it began");
    // Each zone: its 4 record sets, SOA and NS.
    assert_eq!((w.zones, w.record_sets), (2, 12));
    assert_eq!(w.writer_regions, ["us-east-1"]);
}

#[test]
fn an_estate_that_cannot_be_split_evenly_is_refused() {
    Drill::new()
        .args(["bench-estate", "--zones", "2", "--records", "6"])
        .expect_code(2)
        .stderr_contains("--records 6: must be a positive multiple of 2 × --zones (4)");
}
