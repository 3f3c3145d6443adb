//! The compact time series a chart is drawn from: per modelled second (or `bucket`), how many
//! probes of each kind reached each region and how many failed. Columnar: one array of counts per
//! `kind` and `region/ok|error` column, index i covering `[i·bucket, (i+1)·bucket)` from `start`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::sample::Sample;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub bucket_ms: u64,
    pub buckets: usize,
    /// kind → column (`us-east-1/ok`, `us-east-1/error`, `unknown/error`) → counts.
    pub columns: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
}

pub fn build(samples: &[Sample], start: Duration, end: Duration, bucket: Duration) -> Series {
    let bucket_ms = bucket.as_millis().max(1) as u64;
    let buckets = (end.saturating_sub(start).as_millis() as u64 / bucket_ms + 1) as usize;
    let mut columns: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
    for s in samples {
        let i = (s.at.saturating_sub(start).as_millis() as u64 / bucket_ms) as usize;
        if i >= buckets {
            continue;
        }
        let region = s.region.as_deref().unwrap_or("unknown");
        let column = format!("{region}/{}", if s.ok { "ok" } else { "error" });
        let counts = columns
            .entry(s.kind.as_str().to_string())
            .or_default()
            .entry(column)
            .or_insert_with(|| vec![0; buckets]);
        counts[i] += 1;
    }
    Series {
        bucket_ms,
        buckets,
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::sample::Kind;
    use std::sync::Arc;

    #[test]
    fn counts_land_in_their_second() {
        let sample = |ms: u64, ok: bool, region: &str| Sample {
            kind: Kind::Http,
            source: Arc::from("u"),
            authoritative: false,
            at: Duration::from_millis(ms),
            latency: Duration::ZERO,
            ok,
            region: Some(region.to_string()),
            detail: None,
            seq: None,
        };
        let samples = [
            sample(10_000, true, "a"),
            sample(10_500, true, "a"),
            sample(11_200, false, "a"),
            sample(12_000, true, "b"),
        ];
        let s = build(
            &samples,
            Duration::from_secs(10),
            Duration::from_secs(12),
            Duration::from_secs(1),
        );
        assert_eq!(s.buckets, 3);
        assert_eq!(s.columns["http"]["a/ok"], [2, 0, 0]);
        assert_eq!(s.columns["http"]["a/error"], [0, 1, 0]);
        assert_eq!(s.columns["http"]["b/ok"], [0, 0, 1]);
    }
}
