//! The question every reversal asks before it moves traffic or the writer: can the place it moves
//! them to serve? A fail-back, rollback or recover that blindly restored could send every client
//! into a region that is down; instead undo holds traffic and the writer where they are served and
//! says why (see `Line::Held`).
//!
//! Three witnesses, each asked only where it applies:
//! - the database: the original writer cluster is `available` and, for traffic, is the writer
//!   again (traffic follows the writer);
//! - Route 53 health checks of the endpoints that would gain traffic, read through their
//!   inversion (an inverted check that reports unhealthy watches a healthy endpoint);
//! - the application itself, when the drill has an HTTP probe: its URL asked at the address of
//!   each record that would gain traffic.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::cloud::{Cloud, region_of_arn};

/// How to ask a region's application whether it serves: the drill's HTTP probe URL, sent to the
/// address of each record that would gain traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct AppCheck {
    pub url: String,
    /// Every request goes to this port (the lab's apps share one), instead of the URL's.
    pub port: Option<u16>,
}

/// Why a place cannot take traffic or the writer: it said so (`down`), or it could not be asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NoGo {
    /// The answer could not be read: worth asking again.
    pub unknown: bool,
    pub why: String,
}

fn down(why: String) -> NoGo {
    NoGo {
        unknown: false,
        why,
    }
}

fn unknown(why: String) -> NoGo {
    NoGo { unknown: true, why }
}

/// The writer a reversal would return to.
#[derive(Debug, Clone, PartialEq)]
pub struct Writer {
    pub global_cluster: String,
    /// Where to ask (the region the promotion was called on).
    pub region: String,
    /// The cluster that was the writer before the drill.
    pub original: String,
}

/// Whether the original writer cluster can take writes: `available` as its region's RDS sees it.
pub async fn cluster_serves(cloud: &Cloud, writer: &Writer) -> Result<(), NoGo> {
    let region = region_of_arn(&writer.original).unwrap_or(&writer.region);
    match cloud.rds.describe_cluster(region, &writer.original).await {
        Ok(c) if c.status == "available" => Ok(()),
        Ok(c) => Err(down(format!("cluster {} is {}", writer.original, c.status))),
        Err(e) => Err(unknown(format!(
            "cannot read cluster {}: {e}",
            writer.original
        ))),
    }
}

/// Whether traffic may go back: the original cluster is the writer again, with no promotion
/// running, and can take writes.
pub async fn writer_is_back(cloud: &Cloud, writer: &Writer) -> Result<(), NoGo> {
    let global = cloud
        .rds
        .describe_global_cluster(&writer.region, &writer.global_cluster)
        .await
        .map_err(|e| {
            unknown(format!(
                "cannot read global cluster {}: {e}",
                writer.global_cluster
            ))
        })?;
    if let Some(fs) = &global.failover_state {
        return Err(down(format!(
            "global cluster {} is {}; traffic follows the writer",
            writer.global_cluster, fs.status
        )));
    }
    let now = global.writer().map(|m| m.cluster_arn.as_str());
    if now != Some(writer.original.as_str()) {
        return Err(down(format!(
            "the writer of {} is {}, not {}; traffic follows the writer",
            writer.global_cluster,
            now.unwrap_or("nobody"),
            writer.original
        )));
    }
    cluster_serves(cloud, writer).await
}

/// Whether the endpoint a health check watches is up, read through its inversion. A disabled
/// check says nothing (Route 53 counts it healthy whatever the endpoint does): Ok.
pub async fn endpoint_up(cloud: &Cloud, id: &str) -> Result<(), NoGo> {
    let check = cloud
        .route53
        .get_health_check(id)
        .await
        .map_err(|e| unknown(format!("cannot read health check {id}: {e}")))?;
    if check.disabled {
        return Ok(());
    }
    let status = cloud
        .route53
        .get_health_check_status(id)
        .await
        .map_err(|e| unknown(format!("cannot read the status of health check {id}: {e}")))?;
    if status.is_healthy() != check.inverted {
        Ok(())
    } else {
        Err(down(format!(
            "health check {id} sees its endpoint down ({} of {} checkers healthy{})",
            status.healthy_checkers,
            status.total_checkers,
            if check.inverted { ", inverted" } else { "" }
        )))
    }
}

/// Whether the application answers at `address` (a record's value): the probe URL, sent there
/// with the URL's host name. Anything but a 5xx or no answer counts as serving.
pub async fn app_answers(app: &AppCheck, address: &str) -> Result<(), NoGo> {
    let Ok(ip) = address.parse::<IpAddr>() else {
        return Ok(()); // not an address (a CNAME target): the health checks speak for it
    };
    let url = reqwest::Url::parse(&app.url)
        .map_err(|e| unknown(format!("invalid URL {}: {e}", app.url)))?;
    let host = url.host_str().unwrap_or_default().to_string();
    let port = app.port.or(url.port_or_known_default()).unwrap_or(80);
    let mut target = url.clone();
    if app.port.is_some() {
        let _ = target.set_port(Some(port));
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .resolve(&host, SocketAddr::new(ip, port))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| unknown(format!("cannot build the HTTP client: {e}")))?;
    match client.get(target).send().await {
        Ok(r) if r.status().as_u16() < 500 => Ok(()),
        Ok(r) => Err(down(format!(
            "{} at {address} answered {}",
            app.url,
            r.status().as_u16()
        ))),
        Err(e) => Err(down(format!(
            "{} at {address} did not answer: {e}",
            app.url
        ))),
    }
}
