//! Pacing of Route 53 requests: the control plane allows 5 requests per second per account, so every
//! request this process sends (retries included) waits for a slot at least 200 ms after the previous
//! one. The pacer sits in the HTTP layer, under the SDK's retry loop, so a retried attempt is paced
//! exactly like a first one.

use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
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
use tokio::time::Instant;

/// The spacing that keeps the whole process under Route 53's 5 requests per second.
pub const ROUTE53_INTERVAL: Duration = Duration::from_millis(200);

static ROUTE53: LazyLock<Arc<RateLimiter>> =
    LazyLock::new(|| Arc::new(RateLimiter::new(ROUTE53_INTERVAL)));

/// Hands out send slots at least `interval` apart, first come first served.
///
/// Time is `tokio::time`, so a test on a paused runtime waits in virtual time only.
pub struct RateLimiter {
    interval: Duration,
    /// The earliest instant the next request may go out; None before the first request.
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(interval: Duration) -> Self {
        RateLimiter {
            interval,
            next: Mutex::new(None),
        }
    }

    /// The limiter shared by every Route 53 client in this process.
    pub fn route53() -> Arc<RateLimiter> {
        Arc::clone(&ROUTE53)
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this caller's slot. The slot is reserved before waiting, so concurrent callers queue
    /// in arrival order; a caller that gives up while waiting merely leaves its slot unused.
    pub async fn acquire(&self) {
        let slot = {
            // The guarded value is a plain instant: a panic elsewhere cannot leave it half-written.
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = match *next {
                Some(at) if at > now => at,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval)
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

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_interval() {
        let limiter = RateLimiter::new(Duration::from_millis(200));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..4 {
            limiter.acquire().await;
            at.push(start.elapsed());
        }
        assert_eq!(
            at,
            [0, 200, 400, 600].map(Duration::from_millis).to_vec(),
            "slots: {at:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_does_not_delay() {
        let limiter = RateLimiter::new(Duration::from_millis(200));
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = Instant::now();
        limiter.acquire().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_queue_behind_each_other() {
        let limiter = Arc::new(RateLimiter::new(Duration::from_millis(200)));
        let start = Instant::now();
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move {
                    limiter.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await.expect("task"));
        }
        done.sort();
        assert_eq!(
            done,
            [0, 200, 400, 600, 800].map(Duration::from_millis).to_vec()
        );
    }
}
