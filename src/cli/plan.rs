//! `drill plan FILE`: read-only preflight, then the ordered actions a run would take. With
//! `[probes]` it also watches the steady state over the baseline window, as `drill run` does before
//! its first change, unless `--no-steady-state` says not to (and then it says it did not).

use crate::engine::plan::actions;
use crate::engine::preflight::preflight;
use crate::engine::probing;
use crate::schedule::lease::Place;

use super::args::{Cli, PlanArgs};
use super::{CliError, exit};
use super::{common, lab};

pub async fn plan(cli: &Cli, args: &PlanArgs) -> Result<i32, CliError> {
    let drill = common::load(&args.file)?;
    let target = lab::target(cli, &drill, &args.lab).await?;
    let notify = drill
        .notify
        .as_ref()
        .map(|n| n.program(&drill.path).map(|program| (n, program)));
    let not_ready = |reasons: Vec<String>| {
        eprintln!(
            "drill {} is not ready; nothing would be changed:",
            drill.name
        );
        for reason in reasons {
            eprintln!("  - {}", crate::escape::terminal(&reason));
        }
        Ok(exit::REFUSED)
    };
    let plan = match (preflight(&drill, &target.cloud).await, &notify) {
        (Ok(plan), None | Some(Ok(_))) => plan,
        (result, _) => {
            let mut reasons: Vec<String> =
                result.err().into_iter().flat_map(|r| r.reasons).collect();
            if let Some(Err(e)) = &notify {
                reasons.push(e.to_string());
            }
            return not_ready(reasons);
        }
    };
    let steady = match (&drill.probes, args.no_steady_state) {
        (None, _) => "not checked (the drill has no [probes])".to_string(),
        (Some(_), true) => "not checked (--no-steady-state)".to_string(),
        (Some(config), false) => {
            let checked = probing::check_steady_state(
                config,
                &drill,
                &plan,
                &target.probe_network(),
                &target.cloud.route53,
                &target.clock,
            )
            .await;
            match checked {
                // A zero baseline is no check at all (the run skips it too).
                Ok(evidence) if evidence["checked"] == false => {
                    "not checked ([probes] baseline is 0)".to_string()
                }
                Ok(_) => format!(
                    "ok over the {} baseline: the probes found the service healthy in {}",
                    humantime::format_duration(config.baseline),
                    drill.regions.primary
                ),
                Err(reasons) => return not_ready(reasons),
            }
        }
    };
    let failback = drill.failback && !args.no_failback;
    println!("steady state: {steady}");
    println!(
        "drill {} ({} from {} to {}): ready. A run would:",
        drill.name,
        drill.database.mode.as_str(),
        drill.regions.primary,
        drill.regions.secondary
    );
    for (i, action) in actions(&drill, &plan, failback).iter().enumerate() {
        println!(
            "{:>3}. {}",
            i + 1,
            crate::escape::terminal(&action.to_string())
        );
    }
    if let Some(watch) = &drill.alarms {
        println!(
            "While it runs it reads these CloudWatch alarms every {} and stops (rolling back) if one goes to ALARM:",
            humantime::format_duration(watch.interval)
        );
        for alarm in &watch.alarms {
            println!("     {}", alarm.arn);
        }
    }
    if let Some(Ok((n, program))) = &notify {
        println!(
            "After it, for outcome {}, it runs {} with the report on stdin:",
            n.on.join(", "),
            program.display()
        );
        println!("     {}", n.command.join(" "));
    }
    match Place::of(target.cloud.route53.as_ref(), &drill).await {
        Ok(place) => println!(
            "It takes the lease {} (TXT, in hosted zone {} {}, the account's first zone by name): one run at a time on global cluster {}.",
            place.lease_name(),
            place.zone_id,
            place.zone_name,
            place.global_cluster
        ),
        Err(e) => println!("warning: cannot find where the lease would live: {e}"),
    }
    for warning in &plan.warnings {
        println!("warning: {}", crate::escape::terminal(warning));
    }
    Ok(exit::PASSED)
}
