//! The HTTP probe and the canary's requests: one reqwest client per prober whose every new
//! connection resolves through the probes' own caching resolver. Idle connections are not kept:
//! a pooled connection would keep reaching the old region after DNS moved, which measures the
//! pool, not the routing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use super::Shared;
use super::resolver::{CachingResolver, ForReqwest};
use super::sample::{Kind, Sample};
use crate::spec::RegionFrom;

pub fn client(resolver: Arc<CachingResolver>) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .dns_resolver(ForReqwest(resolver))
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        .user_agent(concat!(
            "failover-drill/",
            env!("CARGO_PKG_VERSION"),
            " probe"
        ))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// `url` with its port replaced (the lab's apps share one port whatever the URL says).
pub fn with_port(url: &str, port: Option<u16>) -> Result<reqwest::Url, String> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
    if let Some(p) = port {
        parsed
            .set_port(Some(p))
            .map_err(|()| format!("cannot set the port of {url}"))?;
    }
    Ok(parsed)
}

/// What one request got back.
pub struct Reply {
    pub status: u16,
    pub region: Option<String>,
    pub body: Option<serde_json::Value>,
}

/// Sends one request within the probe timeout (modelled) and reads the whole answer.
pub async fn send(shared: &Shared, request: reqwest::RequestBuilder) -> Result<Reply, String> {
    let exchange = async {
        let response = request.send().await.map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| error_chain(&e))?;
        let body = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        let region = region(&headers, body.as_ref(), shared.region_from.as_ref());
        Ok(Reply {
            status,
            region,
            body,
        })
    };
    let timeout = shared.config.timeout;
    shared
        .clock
        .timeout(timeout, exchange)
        .await
        .unwrap_or_else(|| {
            Err(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            ))
        })
}

/// The serving region: the configured header or JSON field, else a JSON `region` field.
fn region(
    headers: &HeaderMap,
    body: Option<&serde_json::Value>,
    from: Option<&RegionFrom>,
) -> Option<String> {
    let field = |name: &str| body?.get(name)?.as_str().map(str::to_string);
    match from {
        Some(RegionFrom::Header(h)) => headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| field("region")),
        Some(RegionFrom::JsonField(f)) => field(f),
        None => field("region"),
    }
}

/// reqwest's errors say little at the top; the cause chain says what happened.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// One GET of the service URL.
pub async fn probe(shared: Arc<Shared>, url: reqwest::Url, source: Arc<str>, at: Duration) {
    // A real round trip, timed on the real clock: in the lab it is not modelled, so it must not
    // grow with the time scale.
    let sent = Instant::now();
    let reply = send(&shared, shared.http.get(url)).await;
    let latency = sent.elapsed();
    let (ok, region, detail) = match reply {
        Ok(r) if (200..300).contains(&r.status) => (true, r.region, None),
        Ok(r) => (false, r.region, Some(format!("HTTP {}", r.status))),
        Err(e) => (false, None, Some(e)),
    };
    shared.record(Sample {
        kind: Kind::Http,
        source,
        authoritative: false,
        at,
        latency,
        ok,
        region,
        detail,
        seq: None,
    });
}
