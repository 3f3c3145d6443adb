//! The embedded lab from the command line: `--lab` on `plan` and `run` (a world seeded from the
//! drill file, reached through the same AWS code path as production), `drill lab`, which serves
//! a world until SIGINT/SIGTERM, and `--lab-endpoint`, which points a command at such a served lab:
//! its AWS endpoint, DNS server and apps, and its clock (read from `/_lab/info`). [`reconnect`]
//! turns a journal's [`Connection`] back into the cloud and clock the run used.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::cloud::aws::{AwsOptions, connect};
use crate::engine::journal::Connection;
use crate::lab::{self, Fault, LabOptions};
use crate::spec::{self, Drill};

use super::CliError;
use super::args::{Cli, LabArgs, LabServeArgs};
use super::common;

/// Where a command acts: AWS, a lab it started, or a lab another process serves.
pub struct Target {
    pub cloud: Cloud,
    pub clock: Clock,
    pub connection: Connection,
    pub poll: Duration,
    /// A lab this process started (and may snapshot for the report).
    pub lab: Option<(lab::Lab, LabOptions)>,
    /// A lab another process serves (`--lab-endpoint`): not ours to snapshot, so the report has
    /// no lab section, but the probes reach its DNS server and apps.
    pub served: Option<Served>,
}

/// A served lab as its `/_lab/info` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Served {
    /// The control endpoint, `http://HOST:PORT/_lab`, as it was asked (normalised).
    #[serde(skip)]
    pub control: String,
    pub time_scale: f64,
    /// The lab clock's modelled now when it answered.
    pub now: DateTime<Utc>,
    pub aws_endpoint: String,
    pub dns: SocketAddr,
    pub regions: BTreeMap<String, ServedRegion>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServedRegion {
    pub app: String,
}

impl Served {
    /// Asks the lab at `url` (its AWS endpoint or its control endpoint) where everything is.
    pub async fn ask(url: &str) -> Result<Served, CliError> {
        let base = url.trim_end_matches('/');
        let control = if base.ends_with(lab::control::PREFIX) {
            base.to_string()
        } else {
            format!("{base}{}", lab::control::PREFIX)
        };
        let cannot = |e: &dyn std::fmt::Display| {
            CliError::Refused(format!(
                "cannot reach the lab at {control}: {e}; nothing was changed"
            ))
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| cannot(&e))?;
        let text = client
            .get(format!("{control}/info"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| cannot(&e))?
            .text()
            .await
            .map_err(|e| cannot(&e))?;
        let mut served: Served = serde_json::from_str(&text)
            .map_err(|e| cannot(&format!("not a lab's /_lab/info ({e})")))?;
        if !(served.time_scale.is_finite() && served.time_scale > 0.0) {
            return Err(cannot(&format!("time scale {}", served.time_scale)));
        }
        served.control = control;
        Ok(served)
    }

    /// A clock that runs with the lab's: its scale, starting at its now.
    pub fn clock(&self) -> Clock {
        Clock::following(self.now, self.time_scale)
    }

    /// The AWS clients, on the lab's endpoint with its static credentials, paced on `clock` (the
    /// run's, one made by [`Served::clock`]).
    pub async fn cloud(&self, regions: Vec<String>, clock: &Clock) -> Result<Cloud, CliError> {
        connect(AwsOptions {
            profile: None,
            endpoint_url: Some(self.aws_endpoint.clone()),
            static_credentials: Some((
                lab::LAB_ACCESS_KEY_ID.to_string(),
                lab::LAB_SECRET_ACCESS_KEY.to_string(),
            )),
            regions,
            clock: clock.clone(),
        })
        .await
        .map_err(|e| CliError::Refused(format!("cannot reach the lab: {e}")))
    }

    /// Every region's app listens on one shared port.
    fn app_port(&self) -> Option<u16> {
        self.regions
            .values()
            .find_map(|r| r.app.rsplit(':').next()?.trim_end_matches('/').parse().ok())
    }
}

/// The cloud and the clock a journaled run used, for `drill recover`: a served lab's (its
/// endpoint, credentials and clock, asked again), or AWS on the real clock.
/// Also the port every HTTP request goes to, when a served lab's apps share one.
pub async fn reconnect(
    cli: &Cli,
    connection: &Connection,
) -> Result<(Cloud, Clock, Option<u16>), CliError> {
    match &connection.lab_endpoint {
        Some(url) => {
            let served = Served::ask(url).await?;
            let clock = served.clock();
            let cloud = served.cloud(connection.regions.clone(), &clock).await?;
            Ok((cloud, clock, served.app_port()))
        }
        None => Ok((common::aws_for(cli, connection).await?, Clock::real(), None)),
    }
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
        match (&self.lab, &self.served) {
            (None, None) => crate::probes::Network::default(),
            (None, Some(served)) => crate::probes::Network {
                name_servers: Some(vec![served.dns]),
                client_dns: Some(vec![served.dns]),
                port: served.app_port(),
            },
            (Some((world, _)), _) => crate::probes::Network {
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
    if let Some(url) = &args.lab_endpoint {
        let served = Served::ask(url).await?;
        let clock = served.clock();
        let cloud = served.cloud(regions.clone(), &clock).await?;
        tracing::info!(
            "lab: served at {}, AWS endpoint {}, DNS {}, time scale {}x",
            served.control,
            served.aws_endpoint,
            served.dns,
            served.time_scale
        );
        return Ok(Target {
            cloud,
            clock,
            connection: Connection {
                profile: None,
                endpoint_url: Some(served.aws_endpoint.clone()),
                // The served lab outlives this process: `drill recover` must reach it.
                lab: false,
                lab_endpoint: Some(served.control.clone()),
                regions,
            },
            poll: common::POLL,
            lab: None,
            served: Some(served),
        });
    }
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
                lab_endpoint: None,
                regions,
            },
            poll: common::POLL,
            lab: None,
            served: None,
        });
    }
    let opts = options(std::slice::from_ref(drill), &args.fault, args.time_scale)?;
    let clock = opts.clock();
    let world = lab::start(std::slice::from_ref(drill), opts.clone(), clock.clone())
        .await
        .map_err(|e| CliError::Usage(format!("cannot start the lab: {e}")))?;
    let cloud = connect_lab(&world, &regions, &clock).await?;
    tracing::info!(
        "lab: AWS endpoint {}, DNS {}, time scale {}x",
        world.aws_endpoint(),
        world.dns_addr(),
        opts.time_scale
    );
    Ok(Target {
        cloud,
        clock,
        connection: Connection::embedded_lab(world.aws_endpoint(), regions),
        poll: common::POLL,
        lab: Some((world, opts)),
        served: None,
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

/// The SDK clients of a lab this process started, with its static keys, on its clock.
pub(super) async fn connect_lab(
    world: &lab::Lab,
    regions: &[String],
    clock: &Clock,
) -> Result<crate::cloud::Cloud, CliError> {
    connect(AwsOptions {
        profile: None,
        endpoint_url: Some(world.aws_endpoint()),
        static_credentials: Some((
            lab::LAB_ACCESS_KEY_ID.to_string(),
            lab::LAB_SECRET_ACCESS_KEY.to_string(),
        )),
        regions: regions.to_vec(),
        clock: clock.clone(),
    })
    .await
    .map_err(|e| CliError::Usage(format!("cannot reach the lab: {e}")))
}
