//! The injected clock. Every wait and every timestamp in the engine and the lab goes through it, so
//! the lab and the tests can run modelled minutes in wall-clock seconds (a time scale) and tests can
//! pause time entirely (`tokio::time::pause`), instead of sleeping for real.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A clock whose modelled time runs `scale` times faster than tokio's clock.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    origin: Instant,
    origin_utc: DateTime<Utc>,
    scale: f64,
}

impl Clock {
    /// Real time: one modelled second is one second.
    pub fn real() -> Self {
        Self::scaled(1.0)
    }

    /// Modelled time runs `scale` times faster than real time. Panics on a scale that is not a
    /// positive finite number; callers validate user input first.
    pub fn scaled(scale: f64) -> Self {
        Self::following(Utc::now(), scale)
    }

    /// Follows another process's clock (a served lab's): modelled time runs `scale` times faster
    /// than real time and `now()` starts at `now`, so waits here last as long as the lab models
    /// them and timestamps agree with the lab's to within the time it took to ask.
    pub fn following(now: DateTime<Utc>, scale: f64) -> Self {
        assert!(
            scale.is_finite() && scale > 0.0,
            "time scale must be positive"
        );
        Clock {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                origin_utc: now,
                scale,
            }),
        }
    }

    pub fn scale(&self) -> f64 {
        self.inner.scale
    }

    /// Modelled time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.inner.origin.elapsed().mul_f64(self.inner.scale)
    }

    /// The modelled wall-clock time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.inner.origin_utc + elapsed
    }

    /// Sleeps for a modelled duration.
    pub async fn sleep(&self, modelled: Duration) {
        tokio::time::sleep(self.to_real(modelled)).await;
    }

    /// Runs `fut` with a modelled time limit; None if it ran out.
    pub async fn timeout<F: Future>(&self, modelled: Duration, fut: F) -> Option<F::Output> {
        tokio::time::timeout(self.to_real(modelled), fut).await.ok()
    }

    /// The real duration that a modelled one takes on this clock.
    pub fn to_real(&self, modelled: Duration) -> Duration {
        modelled.div_f64(self.inner.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scaled_sleep_advances_modelled_time_faster() {
        let clock = Clock::scaled(60.0);
        let start = Instant::now();
        clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(clock.elapsed() >= Duration::from_secs(60));
        assert!(clock.elapsed() < Duration::from_secs(61));
    }

    #[tokio::test(start_paused = true)]
    async fn a_following_clock_starts_at_the_given_now_and_runs_at_its_scale() {
        let lab_now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::following(lab_now, 100.0);
        assert_eq!(clock.now(), lab_now);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(clock.now(), lab_now + chrono::Duration::seconds(100));
        assert_eq!(clock.scale(), 100.0);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_is_in_modelled_time() {
        let clock = Clock::scaled(10.0);
        let slow = clock.sleep(Duration::from_secs(100));
        assert!(clock.timeout(Duration::from_secs(50), slow).await.is_none());
        let fast = clock.sleep(Duration::from_secs(10));
        assert!(clock.timeout(Duration::from_secs(50), fast).await.is_some());
    }
}
