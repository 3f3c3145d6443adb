//! The lab: a simulated two-region AWS world on loopback, seeded from drill files, that the engine
//! reaches exactly as it reaches AWS.
//!
//! - An AWS endpoint ([`endpoint`]) speaking Route 53 REST-XML, the RDS Query protocol and
//!   CloudWatch's RPC v2 CBOR (DescribeAlarms, for `[stop] alarms`), for
//!   unmodified SDK clients with `endpoint_url` set and the static lab credentials
//!   ([`LAB_ACCESS_KEY_ID`], [`LAB_SECRET_ACCESS_KEY`]).
//! - An authoritative DNS server ([`dns`]) answering from the published Route 53 state.
//! - Regional apps ([`apps`]) on 127.0.0.11, 127.0.0.12, … with a health endpoint and a write
//!   canary backed by the modelled Aurora Global Database ([`database`]).
//! - Faults ([`fault`]) and ground truth ([`truth`]) on the injected, scalable [`Clock`].
//! - A read-only control endpoint ([`control`], `/_lab/info`, `/_lab/snapshot`, `/_lab/truth`) on
//!   the AWS endpoint's server, so a separate `drill` process can follow the lab's clock and
//!   tests can compare its world.
//!
//! The lab never imports the engine or the AWS implementation of the cloud traits: they meet only
//! on the wire.

pub mod answer;
pub mod apps;
pub mod cloudwatch_api;
pub mod control;
pub mod critical;
pub mod database;
pub mod dns;
pub mod endpoint;
pub mod fault;
pub mod health;
pub mod options;
pub mod rds_api;
pub mod route53_api;
pub mod seed;
mod shared;
pub mod snapshot;
pub mod summary;
pub mod truth;
pub mod wire;
pub mod world;
pub mod xml;
pub mod zones;

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::fault::{Fault, FaultParseError, Trigger};
pub use self::options::{DEFAULT_TIME_SCALE, LabOptions, Timings};
pub use self::snapshot::Snapshot;
pub use self::truth::GroundTruth;

use self::answer::app_ip;
use self::database::{Role, Sync};
use self::shared::Shared;
use self::world::World;
use crate::clock::Clock;
use crate::spec::Drill;

/// A weighted `api.example.com` group from us-east-1 to us-west-2 (all weight moves to the
/// secondary during the drill): the smallest traffic a lab world serves. The benchmarks and the
/// tests build their drill files around it.
pub const EXAMPLE_API_GROUP: &str = r#"[[groups]]
name = "api"
zone = "example.com"
traffic = "weighted"

  [[groups.records]]
  name = "api.example.com"
  type = "A"
  set_identifier = "us-east-1"
  region = "us-east-1"
  drill_weight = 0

  [[groups.records]]
  name = "api.example.com"
  type = "A"
  set_identifier = "us-west-2"
  region = "us-west-2"
  drill_weight = 100
"#;

/// The access key every request to the lab must be signed with.
pub const LAB_ACCESS_KEY_ID: &str = "LABACCESSKEY";
/// The matching secret (the lab does not verify signatures, but SDKs need one to sign).
pub const LAB_SECRET_ACCESS_KEY: &str = "lab-secret-key";
/// The account that owns every lab resource (it appears in ARNs).
pub const LAB_ACCOUNT_ID: &str = database::ACCOUNT_ID;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("invalid lab options: {0}")]
    Options(String),
    #[error("could not bind the lab's {what} on loopback: {source}")]
    Bind {
        what: String,
        #[source]
        source: io::Error,
    },
}

/// A running lab. Dropping it stops its servers; [`Lab::shutdown`] also waits for them.
#[derive(Debug)]
pub struct Lab {
    shared: Arc<Shared>,
    aws_addr: SocketAddr,
    dns_addr: SocketAddr,
    app_port: u16,
    regions: Vec<String>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts a lab seeded from `drills`, on loopback, with modelled time from `clock` (normally
/// [`LabOptions::clock`], shared with the engine so its waits run at the same scale).
pub async fn start(drills: &[Drill], opts: LabOptions, clock: Clock) -> Result<Lab, LabError> {
    // The clock is what really runs; the ground truth records its scale.
    let mut opts = opts;
    opts.time_scale = clock.scale();
    if opts.original_ttl < 0 {
        return Err(LabError::Options(format!(
            "original TTL must not be negative, got {}",
            opts.original_ttl
        )));
    }
    let regions = seed::regions(drills);
    if regions.len() > 200 {
        return Err(LabError::Options(format!(
            "too many regions for the lab ({})",
            regions.len()
        )));
    }
    let (app_listeners, app_port) = bind_apps(regions.len()).await?;
    let aws = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| LabError::Bind {
            what: "AWS endpoint".into(),
            source,
        })?;
    let aws_addr = aws.local_addr().map_err(|source| LabError::Bind {
        what: "AWS endpoint".into(),
        source,
    })?;
    let (udp, tcp, dns_addr) = bind_dns().await?;

    let origin = clock.elapsed();
    let primary = drills.first().map(|d| d.regions.primary.clone());
    let mut world = World::new(&opts, regions.clone(), primary, app_port, clock.now());
    seed::seed(&mut world, drills, opts.original_ttl);
    if opts.faults.contains(&Fault::SecondaryPendingResync) {
        for c in world.db.clusters.values_mut() {
            if let Role::Secondary(_) = c.role {
                c.role = Role::Secondary(Sync::PendingResync);
                c.stuck_resync = true;
            }
        }
    }
    world.settle();
    let shared = Arc::new(Shared::new(world, clock, origin));

    let mut lab = Lab {
        shared,
        aws_addr,
        dns_addr,
        app_port,
        regions,
        shutdown: CancellationToken::new(),
        tasks: Vec::new(),
    };
    let control = control::router(lab.shared.clone(), lab.addresses());
    let (shared, shutdown) = (lab.shared.clone(), lab.shutdown.clone());
    lab.tasks.push(tokio::spawn(endpoint::serve(
        aws,
        shared.clone(),
        control,
        shutdown.clone(),
    )));
    lab.tasks.push(tokio::spawn(dns::serve(
        udp,
        tcp,
        shared.clone(),
        shutdown.clone(),
    )));
    for (listener, region) in app_listeners.into_iter().zip(lab.regions.clone()) {
        lab.tasks.push(tokio::spawn(apps::serve(
            listener,
            shared.clone(),
            region,
            shutdown.clone(),
        )));
    }
    Ok(lab)
}

/// Binds every region's app address on one common port (retrying if a port is taken on some
/// address).
async fn bind_apps(count: usize) -> Result<(Vec<TcpListener>, u16), LabError> {
    if count == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut last_error = None;
    for _ in 0..20 {
        let first = TcpListener::bind(SocketAddr::new(IpAddr::V4(app_ip(0)), 0))
            .await
            .map_err(|source| LabError::Bind {
                what: format!("app address {}", app_ip(0)),
                source,
            })?;
        let port = first.local_addr().map_err(|source| LabError::Bind {
            what: "app port".into(),
            source,
        })?;
        let port = port.port();
        let mut listeners = vec![first];
        for i in 1..count {
            match TcpListener::bind(SocketAddr::new(IpAddr::V4(app_ip(i)), port)).await {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    last_error = Some((i, e));
                    break;
                }
            }
        }
        if listeners.len() == count {
            return Ok((listeners, port));
        }
    }
    let (i, source) = last_error.expect("a failed attempt left its error");
    Err(LabError::Bind {
        what: format!("app address {} on a port shared by every region", app_ip(i)),
        source,
    })
}

/// Binds UDP and TCP on the same loopback port.
async fn bind_dns() -> Result<(UdpSocket, TcpListener, SocketAddr), LabError> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|source| LabError::Bind {
                what: "DNS (UDP)".into(),
                source,
            })?;
        let addr = udp.local_addr().map_err(|source| LabError::Bind {
            what: "DNS (UDP)".into(),
            source,
        })?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(LabError::Bind {
        what: "DNS (TCP) on the UDP port".into(),
        source: last.expect("a failed attempt left its error"),
    })
}

impl Lab {
    /// `http://127.0.0.1:PORT`: the endpoint URL for both Route 53 and RDS clients.
    pub fn aws_endpoint(&self) -> String {
        format!("http://{}", self.aws_addr)
    }

    /// Where the authoritative DNS server listens (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }

    /// Region → app URL (`http://127.0.0.11:PORT`).
    pub fn regions(&self) -> BTreeMap<String, String> {
        self.regions
            .iter()
            .filter_map(|r| self.app_url(r).map(|url| (r.clone(), url)))
            .collect()
    }

    /// The regions in seeding order (the first drill's primary first).
    pub fn region_names(&self) -> &[String] {
        &self.regions
    }

    pub fn app_addr(&self, region: &str) -> Option<SocketAddr> {
        let i = self.regions.iter().position(|r| r == region)?;
        Some(SocketAddr::new(IpAddr::V4(app_ip(i)), self.app_port))
    }

    pub fn app_url(&self, region: &str) -> Option<String> {
        self.app_addr(region).map(|a| format!("http://{a}"))
    }

    /// The environment an AWS SDK or the AWS CLI needs to talk to this lab.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.aws_endpoint()),
            ("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", LAB_SECRET_ACCESS_KEY.to_string()),
        ]
    }

    pub fn clock(&self) -> &Clock {
        self.shared.clock()
    }

    /// Everything that really happened so far.
    pub fn ground_truth(&self) -> GroundTruth {
        let world = self.shared.world();
        world.truth.snapshot(world.now)
    }

    /// The world's durable state now, for before/after comparisons.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.shared.world())
    }

    /// `http://127.0.0.1:PORT/_lab`: the control endpoint ([`control`]).
    pub fn control_endpoint(&self) -> String {
        format!("{}{}", self.aws_endpoint(), control::PREFIX)
    }

    /// Where everything is: the startup line, and the fixed part of `/_lab/info`.
    fn addresses(&self) -> serde_json::Map<String, serde_json::Value> {
        let regions: serde_json::Map<String, serde_json::Value> = self
            .regions()
            .into_iter()
            .map(|(region, url)| (region, serde_json::json!({ "app": url })))
            .collect();
        let mut out = serde_json::Map::new();
        out.insert("aws_endpoint".into(), self.aws_endpoint().into());
        out.insert("dns".into(), self.dns_addr.to_string().into());
        out.insert("control".into(), self.control_endpoint().into());
        out.insert("regions".into(), regions.into());
        out
    }

    /// The one JSON line `drill lab` prints first.
    pub fn startup_line(&self) -> String {
        serde_json::Value::from(self.addresses()).to_string()
    }

    /// Stops every server and waits for them.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
