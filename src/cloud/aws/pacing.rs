//! Pacing of Route 53 requests: the control plane allows 5 requests per second per account, so every
//! request (retries included) waits until at least [`ROUTE53_INTERVAL`] — 1 s / 5 plus a 10 ms
//! margin — has passed since the previous one went out. The pacer sits in the HTTP layer, under the
//! SDK's retry loop, so a retried attempt is paced exactly like a first one.
//!
//! The pace is kept on the injected [`Clock`] (DESIGN.md, "One clock, one budget"): against AWS
//! (scale 1) 5 requests per real second, in a lab at 30× 5 per *modelled* second (150 real ones),
//! so a Route 53 call costs the same modelled time at every lab speed.
//!
//! One limiter per clock and account: [`RateLimiter::shared`] hands every client built for the same
//! (time scale, endpoint, profile, access key) the same limiter while one is alive, so concurrent
//! drills of one process (the scheduler's) share the account's budget, while labs at different
//! scales in one process (the tests) never share one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

use crate::clock::Clock;

/// The modelled time between two Route 53 requests: 1 s / 5 plus 10 ms, so no second holds more
/// than 5 even when sends jitter by a few milliseconds (6 sends span at least 1.05 s).
pub const ROUTE53_INTERVAL: Duration = Duration::from_millis(210);

/// Who a limiter paces for: the clock's scale (its bits) and the account as the options name it.
type Key = (u64, String);

static LIMITERS: LazyLock<Mutex<HashMap<Key, Weak<RateLimiter>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Lets requests out at least `interval` of modelled time apart, measured from the instant the
/// previous one actually went out (a late wake-up only widens the gap, never narrows the next).
pub struct RateLimiter {
    clock: Clock,
    interval: Duration,
    /// The clock's elapsed time when the last request went out; None before the first.
    last: Mutex<Option<Duration>>,
}

impl RateLimiter {
    /// A private limiter on `clock`, `interval` of modelled time between requests.
    pub fn new(clock: Clock, interval: Duration) -> Self {
        RateLimiter {
            clock,
            interval,
            last: Mutex::new(None),
        }
    }

    /// The Route 53 limiter for `account` (any string naming endpoint, profile and credentials) on
    /// `clock`'s time scale: the live one if a client of the process already has it, else a new
    /// one. Clocks of the same scale measure the same intervals, so they may share a limiter.
    pub fn shared(clock: &Clock, account: &str) -> Arc<RateLimiter> {
        let key = (clock.scale().to_bits(), account.to_string());
        let mut limiters = LIMITERS.lock().unwrap_or_else(PoisonError::into_inner);
        limiters.retain(|_, limiter| limiter.strong_count() > 0);
        if let Some(limiter) = limiters.get(&key).and_then(Weak::upgrade) {
            return limiter;
        }
        let limiter = Arc::new(RateLimiter::new(clock.clone(), ROUTE53_INTERVAL));
        limiters.insert(key, Arc::downgrade(&limiter));
        limiter
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits until this caller may send. Concurrent callers that wake together race for the
    /// slot; the losers wait for the next one.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                // The guarded value is a plain duration: a panic elsewhere cannot leave it
                // half-written.
                let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
                let now = self.clock.elapsed();
                match *last {
                    Some(at) if at + self.interval > now => at + self.interval - now,
                    _ => {
                        *last = Some(now);
                        return;
                    }
                }
            };
            self.clock.sleep(wait).await;
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval)
            .field("scale", &self.clock.scale())
            .finish_non_exhaustive()
    }
}

/// An HTTP client that waits for a slot from the limiter before every request it sends.
#[derive(Debug, Clone)]
pub(crate) struct PacedHttpClient {
    inner: SharedHttpClient,
    limiter: Arc<RateLimiter>,
}

impl PacedHttpClient {
    pub(crate) fn new(inner: SharedHttpClient, limiter: Arc<RateLimiter>) -> Self {
        PacedHttpClient { inner, limiter }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: Arc::clone(&self.limiter),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<RateLimiter>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = Arc::clone(&self.limiter);
        HttpConnectorFuture::new(async move {
            limiter.acquire().await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most requests any window of one modelled second holds.
    fn busiest_second(sent: &[Duration]) -> usize {
        let mut sent = sent.to_vec();
        sent.sort();
        (0..sent.len())
            .map(|i| {
                sent[i..]
                    .iter()
                    .take_while(|t| **t < sent[i] + Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_requests_are_spaced_by_the_interval_in_modelled_time() {
        let clock = Clock::scaled(30.0);
        let limiter = RateLimiter::new(clock.clone(), Duration::from_millis(200));
        let start = clock.elapsed();
        let mut at = Vec::new();
        for _ in 0..4 {
            limiter.acquire().await;
            at.push((clock.elapsed() - start).as_millis());
        }
        // tokio's timer rounds up to whole real milliseconds: 30 modelled ms at 30x.
        for (i, ms) in at.iter().enumerate() {
            let want = 200 * i as u128;
            assert!((want..want + 31).contains(ms), "slots: {at:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_does_not_delay() {
        let clock = Clock::scaled(30.0);
        let limiter = RateLimiter::new(clock.clone(), ROUTE53_INTERVAL);
        limiter.acquire().await;
        clock.sleep(Duration::from_secs(1)).await;
        let before = tokio::time::Instant::now();
        limiter.acquire().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn fifty_concurrent_requests_never_put_six_in_a_modelled_second() {
        let clock = Clock::scaled(30.0);
        let limiter = Arc::new(RateLimiter::new(clock.clone(), ROUTE53_INTERVAL));
        let start = clock.elapsed();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                let clock = clock.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    clock.elapsed() - start
                })
            })
            .collect();
        let mut sent = Vec::new();
        for task in tasks {
            sent.push(task.await.expect("task"));
        }
        assert_eq!(busiest_second(&sent), 5, "sent: {sent:?}");
        let last = sent.iter().max().expect("sent");
        // 49 gaps of 210 ms: 10.29 s, plus the timer's rounding; not over-throttled.
        assert!(*last <= Duration::from_millis(10_500), "last at {last:?}");
        // Real time: 30x faster than modelled.
        assert!(clock.to_real(*last) < Duration::from_millis(360));
    }

    #[tokio::test(start_paused = true)]
    async fn one_limiter_per_scale_and_account() {
        let lab = Clock::scaled(30.0);
        let a = RateLimiter::shared(&lab, "http://127.0.0.1:1");
        let b = RateLimiter::shared(&Clock::scaled(30.0), "http://127.0.0.1:1");
        assert!(Arc::ptr_eq(&a, &b), "same scale and account share one");
        let faster = RateLimiter::shared(&Clock::scaled(10.0), "http://127.0.0.1:1");
        assert!(!Arc::ptr_eq(&a, &faster), "another scale never shares");
        let other = RateLimiter::shared(&lab, "http://127.0.0.1:2");
        assert!(!Arc::ptr_eq(&a, &other), "another account never shares");
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(
            weak.upgrade().is_none(),
            "the registry does not keep one alive"
        );
    }
}
