//! Questions about the probes while they run: has traffic moved, do the name servers answer with
//! the target, what is the error rate right now, how is traffic shared between regions. The
//! verifier, the stop conditions and the progress view ask these.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Prober;
use super::measure::{self, ShiftRule};
use super::sample::{Kind, Sample};

impl Prober {
    pub fn shift_rule(&self) -> ShiftRule {
        ShiftRule {
            share: self.config().shift_share,
            window: self.config().shift_window,
        }
    }

    /// When traffic moved to `target` (a full window confirms it), among HTTP probes sent since
    /// `since`.
    pub fn traffic_moved(&self, target: &str, since: Duration) -> Option<Duration> {
        let samples = self.samples_since(Kind::Http, since);
        let refs: Vec<&Sample> = samples.iter().collect();
        measure::shift(&refs, target, self.shift_rule())
    }

    /// When every authoritative answer began pointing at `target` for good, among DNS probes sent
    /// since `since`; None if the latest answers do not all point there.
    pub fn dns_on(&self, target: &str, since: Duration) -> Option<Duration> {
        let samples: Vec<Sample> = self
            .samples_since(Kind::Dns, since)
            .into_iter()
            .filter(|s| s.authoritative)
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        measure::cutover(&refs, target)
    }

    /// The HTTP error rate over the last `window` and how many probes it covers; None until the
    /// probes have run for a whole window.
    pub fn error_rate(&self, window: Duration) -> Option<(f64, usize)> {
        let now = self.clock().elapsed();
        let since = now.checked_sub(window)?;
        if since < self.shared().started {
            return None;
        }
        let samples = self.samples_since(Kind::Http, since);
        if samples.is_empty() {
            return None;
        }
        let errors = samples.iter().filter(|s| !s.ok).count();
        Some((errors as f64 / samples.len() as f64, samples.len()))
    }

    /// Of the last `n` canary writes: (acknowledged, failed); None before the first.
    pub fn canary(&self, n: usize) -> Option<(usize, usize)> {
        let mut samples = self.samples_since(Kind::Canary, Duration::ZERO);
        samples.sort_by_key(|s| s.at);
        let recent = &samples[samples.len().saturating_sub(n)..];
        if recent.is_empty() {
            return None;
        }
        let ok = recent.iter().filter(|s| s.ok).count();
        Some((ok, recent.len() - ok))
    }

    /// The region the name servers' latest answer points to (authoritative DNS probes).
    pub fn dns_region(&self) -> Option<String> {
        self.samples_since(Kind::Dns, Duration::ZERO)
            .into_iter()
            .filter(|s| s.authoritative && s.ok)
            .max_by_key(|s| s.at)
            .and_then(|s| s.region)
    }

    /// Share of the last `n` answered HTTP probes per region (`error` for failures).
    pub fn shares(&self, n: usize) -> BTreeMap<String, f64> {
        let mut samples = self.samples_since(Kind::Http, Duration::ZERO);
        samples.sort_by_key(|s| s.at);
        let recent = &samples[samples.len().saturating_sub(n)..];
        let mut out = BTreeMap::new();
        for s in recent {
            let key = match (s.ok, &s.region) {
                (true, Some(r)) => r.clone(),
                (true, None) => "unknown".to_string(),
                (false, _) => "error".to_string(),
            };
            *out.entry(key).or_insert(0.0) += 1.0 / recent.len() as f64;
        }
        out
    }
}
