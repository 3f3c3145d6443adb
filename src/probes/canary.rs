//! The write canary. Every tick it POSTs `{"seq": N}` (N increasing, unique to the run) to the
//! write URL; a 2xx answer means the service acknowledged the write. After the failover and after
//! the fail-back the engine asks for a read-back: GET the read URL, whose JSON `seqs` array must
//! list the writes the service holds, and count the acknowledged writes that are missing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;
use super::http::send;
use super::sample::{Kind, LossCheck, Sample};

pub async fn write(
    shared: Arc<Shared>,
    url: reqwest::Url,
    source: Arc<str>,
    seq: u64,
    at: Duration,
) {
    let request = shared
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::json!({ "seq": seq }).to_string());
    // A real round trip, timed on the real clock: in the lab it is not modelled, so it must not
    // grow with the time scale.
    let sent = Instant::now();
    let reply = send(&shared, request).await;
    let latency = sent.elapsed();
    let (ok, region, detail) = match reply {
        Ok(r) if (200..300).contains(&r.status) => (true, r.region, None),
        Ok(r) => {
            let why = r
                .body
                .as_ref()
                .and_then(|b| b.get("error")?.as_str().map(str::to_string))
                .map(|e| format!("HTTP {}: {e}", r.status))
                .unwrap_or_else(|| format!("HTTP {}", r.status));
            (false, r.region, Some(why))
        }
        Err(e) => (false, None, Some(e)),
    };
    if ok {
        shared.acknowledged(seq);
    }
    shared.record(Sample {
        kind: Kind::Canary,
        source,
        authoritative: false,
        at,
        latency,
        ok,
        region,
        detail,
        seq: Some(seq),
    });
}

/// One read of what the service holds: (seqs, region).
async fn read(
    shared: &Shared,
    url: &reqwest::Url,
) -> Result<(BTreeSet<u64>, Option<String>), String> {
    let reply = send(shared, shared.http.get(url.clone())).await?;
    if !(200..300).contains(&reply.status) {
        return Err(format!("read-back {url}: HTTP {}", reply.status));
    }
    let seqs = reply
        .body
        .as_ref()
        .and_then(|b| b.get("seqs")?.as_array().cloned())
        .ok_or_else(|| format!("read-back {url}: the answer has no `seqs` array"))?;
    Ok((
        seqs.iter().filter_map(|v| v.as_u64()).collect(),
        reply.region,
    ))
}

/// Reads back twice (a write that is only late, e.g. still replicating, shows up in the second
/// read) and reports the acknowledged writes missing from both.
pub async fn read_back(
    shared: &Shared,
    url: &reqwest::Url,
    settle: Duration,
) -> Result<LossCheck, String> {
    let at = shared.clock.elapsed();
    // Only writes acknowledged before the read was sent can be expected in it.
    let acked = shared.acknowledged_before(at);
    let (first, region) = read(shared, url).await?;
    let mut missing: BTreeSet<u64> = acked.difference(&first).copied().collect();
    if !missing.is_empty() {
        shared.clock.sleep(settle).await;
        let (second, _) = read(shared, url).await?;
        missing.retain(|s| !second.contains(s));
    }
    Ok(LossCheck {
        at,
        checked: acked.len(),
        missing: missing.into_iter().collect(),
        region,
    })
}
