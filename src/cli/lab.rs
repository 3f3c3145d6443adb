//! The embedded lab from the command line: `--lab` on `plan` and `run` (a world seeded from the
//! drill file, reached through the same AWS code path as production), and `drill lab`, which serves
//! a world until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::cloud::aws::{AwsOptions, connect};
use crate::engine::journal::Connection;
use crate::lab::{self, Fault, LabOptions};
use crate::spec::{self, Drill};

use super::CliError;
use super::args::{Cli, LabArgs, LabServeArgs};
use super::common;

/// Where a command acts: AWS, or a lab it started.
pub struct Target {
    pub cloud: Cloud,
    pub clock: Clock,
    pub connection: Connection,
    pub poll: Duration,
    pub lab: Option<(lab::Lab, LabOptions)>,
}

/// The lab's options: the drills' `[lab]` tables first, then the command line (`--fault` adds to
/// the faults, `--time-scale` overrides the scale).
fn options(
    drills: &[Drill],
    faults: &[String],
    time_scale: Option<f64>,
) -> Result<LabOptions, CliError> {
    let mut opts = LabOptions::default();
    let settings = drills.iter().filter_map(|d| d.lab.as_ref());
    for lab in settings.clone() {
        if let Some(scale) = lab.time_scale {
            opts.time_scale = scale;
        }
        if let Some(ttl) = lab.original_ttl {
            opts.original_ttl = ttl;
        }
    }
    let from_files = settings.flat_map(|lab| lab.faults.iter());
    for text in from_files.chain(faults) {
        let fault: Fault = text
            .parse()
            .map_err(|e| CliError::Usage(format!("--fault {text}: {e}")))?;
        opts.faults.push(fault);
    }
    if let Some(scale) = time_scale {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(CliError::Usage(format!(
                "--time-scale {scale}: must be a positive number"
            )));
        }
        opts.time_scale = scale;
    }
    Ok(opts)
}

impl Target {
    /// Where probes reach the world: in the lab, its DNS server (for the authoritative answers
    /// and the HTTP probes' resolver) and its apps' shared port; against AWS, the defaults (the
    /// zones' delegation sets and this host's resolvers).
    pub fn probe_network(&self) -> crate::probes::Network {
        match &self.lab {
            None => crate::probes::Network::default(),
            Some((world, _)) => crate::probes::Network {
                name_servers: Some(vec![world.dns_addr()]),
                client_dns: Some(vec![world.dns_addr()]),
                port: world
                    .region_names()
                    .first()
                    .and_then(|r| world.app_addr(r))
                    .map(|a| a.port()),
            },
        }
    }
}

/// AWS, or (with `--lab`) a lab seeded from the drill and reached through the same AWS clients.
pub async fn target(cli: &Cli, drill: &Drill, args: &LabArgs) -> Result<Target, CliError> {
    let regions = vec![
        drill.regions.primary.clone(),
        drill.regions.secondary.clone(),
    ];
    if !args.lab {
        return Ok(Target {
            cloud: common::aws(cli, regions.clone()).await?,
            clock: Clock::real(),
            connection: Connection {
                profile: cli.profile.clone(),
                // Recorded so `drill recover` reaches the same endpoint from another shell.
                endpoint_url: std::env::var("AWS_ENDPOINT_URL")
                    .ok()
                    .filter(|v| !v.is_empty()),
                lab: false,
                regions,
            },
            poll: common::POLL,
            lab: None,
        });
    }
    let opts = options(std::slice::from_ref(drill), &args.fault, args.time_scale)?;
    let clock = opts.clock();
    let world = lab::start(std::slice::from_ref(drill), opts.clone(), clock.clone())
        .await
        .map_err(|e| CliError::Usage(format!("cannot start the lab: {e}")))?;
    let cloud = connect(AwsOptions {
        profile: None,
        endpoint_url: Some(world.aws_endpoint()),
        static_credentials: Some((
            lab::LAB_ACCESS_KEY_ID.to_string(),
            lab::LAB_SECRET_ACCESS_KEY.to_string(),
        )),
        regions: regions.clone(),
    })
    .await
    .map_err(|e| CliError::Usage(format!("cannot reach the lab: {e}")))?;
    tracing::info!(
        "lab: AWS endpoint {}, DNS {}, time scale {}x",
        world.aws_endpoint(),
        world.dns_addr(),
        opts.time_scale
    );
    Ok(Target {
        cloud,
        clock,
        connection: Connection {
            profile: None,
            endpoint_url: Some(world.aws_endpoint()),
            lab: true,
            regions,
        },
        poll: common::POLL,
        lab: Some((world, opts)),
    })
}

/// `drill lab --world PATH`: serve until SIGINT or SIGTERM.
pub async fn serve(args: &LabServeArgs) -> Result<i32, CliError> {
    let files = spec::drill_files(&args.world).map_err(|e| CliError::Invalid(e.to_string()))?;
    let mut drills = Vec::new();
    for file in &files {
        drills.push(common::load(file)?);
    }
    if drills.is_empty() {
        return Err(CliError::Invalid(format!(
            "no drill files in {}",
            args.world
                .iter()
                .map(|p: &PathBuf| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let opts = options(&drills, &args.fault, args.time_scale)?;
    let world = lab::start(&drills, opts.clone(), opts.clock())
        .await
        .map_err(|e| CliError::Usage(format!("cannot start the lab: {e}")))?;
    println!("{}", world.startup_line());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return Err(CliError::Usage("cannot listen for signals".to_string()));
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    world.shutdown().await;
    Ok(super::exit::PASSED)
}
