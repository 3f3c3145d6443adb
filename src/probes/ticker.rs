//! The sampling timer: fires every `interval` of modelled time on the injected clock, at absolute
//! deadlines (a late tick does not push the later ones back), skipping the ticks that fell due while
//! it was late instead of bursting to catch up. It records how late each tick woke
//! in real time, so the benchmark can report the timer's skew.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;

/// How late ticks woke, in real microseconds, shared by every ticker of one prober.
#[derive(Debug, Default)]
pub struct Skew {
    micros: Mutex<Vec<u32>>,
    missed: Mutex<u64>,
}

/// Skews kept at most (about an hour of 20 ticks a second); older ones are dropped.
const KEEP: usize = 100_000;

impl Skew {
    fn record(&self, real: Duration) {
        let mut v = self.micros.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() >= KEEP {
            v.drain(..KEEP / 2);
        }
        v.push(real.as_micros().min(u32::MAX as u128) as u32);
    }

    /// The `q` quantile (0..=1) of the recorded skews, real time.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut v = self
            .micros
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        v.sort_unstable();
        super::measure::quantile(&v, q).map(|us| Duration::from_micros(u64::from(us)))
    }

    pub fn count(&self) -> usize {
        self.micros.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Ticks skipped because the timer fell a whole interval behind.
    pub fn missed(&self) -> u64 {
        *self.missed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct Ticker {
    clock: Clock,
    interval: Duration,
    next: Duration,
    skew: Arc<Skew>,
}

impl Ticker {
    /// The first tick is due at once.
    pub fn new(clock: Clock, interval: Duration, skew: Arc<Skew>) -> Self {
        let next = clock.elapsed();
        Ticker {
            clock,
            interval,
            next,
            skew,
        }
    }

    /// Waits for the next tick; returns the modelled time it was due.
    pub async fn tick(&mut self) -> Duration {
        let now = self.clock.elapsed();
        if self.next > now {
            self.clock.sleep(self.next - now).await;
        }
        let due = self.next;
        let woke = self.clock.elapsed();
        self.skew
            .record(self.clock.to_real(woke.saturating_sub(due)));
        self.next += self.interval;
        let mut missed = 0;
        while self.next <= woke {
            self.next += self.interval;
            missed += 1;
        }
        if missed > 0 {
            *self.skew.missed.lock().unwrap_or_else(|p| p.into_inner()) += missed;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_at_absolute_deadlines_on_the_modelled_clock() {
        let clock = Clock::scaled(10.0);
        let skew = Arc::new(Skew::default());
        let mut t = Ticker::new(clock.clone(), Duration::from_secs(1), skew.clone());
        let first = t.tick().await;
        let second = t.tick().await;
        let third = t.tick().await;
        assert_eq!(second - first, Duration::from_secs(1));
        assert_eq!(third - second, Duration::from_secs(1));
        // One modelled second is 100 ms of (paused) tokio time at 10x.
        assert!(clock.elapsed() >= Duration::from_secs(2));
        assert_eq!(skew.count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_tick_skips_instead_of_bursting() {
        let clock = Clock::scaled(1.0);
        let skew = Arc::new(Skew::default());
        let mut t = Ticker::new(clock.clone(), Duration::from_millis(100), skew.clone());
        let first = t.tick().await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        let late = t.tick().await;
        assert_eq!(
            late - first,
            Duration::from_millis(100),
            "the overdue tick fires once"
        );
        let next = t.tick().await;
        assert_eq!(
            next - first,
            Duration::from_millis(400),
            "then it is back on the grid"
        );
        assert_eq!(skew.missed(), 2);
    }
}
