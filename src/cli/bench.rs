//! `drill bench-probes`: how many probes per second this machine sustains and how precisely the
//! sampling timer fires. Runs a prober (DNS, HTTP and canary at equal rates) against a private lab
//! on the real clock and prints the figures; a benchmark, not a test: it judges nothing but prints
//! whether the target (200 probes/s, p99 timer skew under 5 ms) was met.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::clock::Clock;
use crate::lab::{self, LabOptions};
use crate::probes::{self, Kind, Prober, Setup};
use crate::spec;

use super::CliError;
use super::args::BenchArgs;

/// The world and the probes the benchmark uses.
fn drill_text() -> String {
    format!(
        r#"
name = "bench-probes"
[regions]
primary = "us-east-1"
secondary = "us-west-2"
[database]
global_cluster = "bench-global"
secondary_cluster = "bench-usw2"
mode = "switchover"
[probes]
baseline = "0s"
[probes.dns]
names = ["api.example.com"]
[probes.http]
url = "http://api.example.com/healthz"
region_header = "x-lab-region"
[probes.canary]
write_url = "http://api.example.com/canary"
{}"#,
        lab::EXAMPLE_API_GROUP
    )
}

pub const TARGET_RATE: f64 = 200.0;
pub const TARGET_SKEW: Duration = Duration::from_millis(5);

pub async fn bench(args: &BenchArgs) -> Result<i32, CliError> {
    if !(args.rate > 0.0 && args.rate <= 5000.0) {
        return Err(CliError::Usage(format!(
            "--rate {}: must be above 0 and at most 5000 probes per second",
            args.rate
        )));
    }
    if args.seconds == 0 || args.seconds > 3600 {
        return Err(CliError::Usage("--seconds must be 1 to 3600".to_string()));
    }
    let drill = spec::parse(Path::new("bench-probes.toml"), &drill_text())
        .map_err(|e| CliError::Usage(format!("internal benchmark drill: {e}")))?;
    let clock = Clock::real();
    let opts = LabOptions {
        time_scale: 1.0,
        ..LabOptions::default()
    };
    let world = lab::start(std::slice::from_ref(&drill), opts, clock.clone())
        .await
        .map_err(|e| CliError::Usage(format!("cannot start the lab: {e}")))?;
    let mut config = drill
        .probes
        .clone()
        .ok_or_else(|| CliError::Usage("internal benchmark drill has no probes".to_string()))?;
    // Three kinds of probe share the rate.
    let interval = Duration::from_secs_f64(3.0 / args.rate);
    config.interval = interval;
    if let Some(h) = config.http.as_mut() {
        h.interval = interval;
    }
    let regions: BTreeMap<String, String> = world
        .region_names()
        .iter()
        .filter_map(|r| Some((world.app_addr(r)?.ip().to_string(), r.clone())))
        .collect();
    let port = world
        .region_names()
        .first()
        .and_then(|r| world.app_addr(r))
        .map(|a| a.port());
    let setup = Setup {
        config,
        name_servers: vec![world.dns_addr()],
        resolvers: Vec::new(),
        client_dns: vec![world.dns_addr()],
        client_recursion: false,
        port,
        regions,
        route53_view: None,
    };
    println!(
        "bench-probes: asking for {} probes/s (DNS, HTTP and canary each every {}) for {} s against a private lab",
        args.rate,
        humantime::format_duration(interval),
        args.seconds
    );
    let prober = Prober::start(setup, clock.clone()).map_err(CliError::Usage)?;
    let started = clock.elapsed();
    clock.sleep(Duration::from_secs(args.seconds)).await;
    let ended = clock.elapsed();
    let record = prober.stop().await;
    let skew = prober.shared().skew.clone();
    world.shutdown().await;

    let window: Vec<&probes::Sample> = record
        .samples
        .iter()
        .filter(|s| s.at >= started && s.at < ended)
        .collect();
    let seconds = (ended - started).as_secs_f64();
    let rate = window.len() as f64 / seconds;
    let errors = window.iter().filter(|s| !s.ok).count();
    println!(
        "sustained:  {rate:.1} probes/s ({} answered in {seconds:.1} s, {errors} errors)",
        window.len()
    );
    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{:.3} ms", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "—".to_string())
    };
    let p99 = skew.quantile(0.99);
    println!(
        "timer skew: p50 {}, p99 {}, max {} over {} ticks; {} ticks skipped",
        ms(skew.quantile(0.5)),
        ms(p99),
        ms(skew.quantile(1.0)),
        skew.count(),
        skew.missed()
    );
    for kind in [Kind::Dns, Kind::Http, Kind::Canary] {
        let of_kind: Vec<&probes::Sample> =
            window.iter().copied().filter(|s| s.kind == kind).collect();
        let stats = probes::measure::stats(&of_kind);
        println!(
            "{:<7}     {} probes, {} errors, latency p50 {:.2} ms, p99 {:.2} ms",
            kind.as_str(),
            stats.count,
            stats.errors,
            stats.p50_ms.unwrap_or(f64::NAN),
            stats.p99_ms.unwrap_or(f64::NAN)
        );
    }
    let met = rate >= TARGET_RATE.min(args.rate) * 0.98 && p99.is_some_and(|s| s < TARGET_SKEW);
    println!(
        "target ({TARGET_RATE} probes/s, p99 skew < {} ms): {}",
        TARGET_SKEW.as_millis(),
        if met { "met" } else { "NOT met" }
    );
    Ok(super::exit::PASSED)
}
