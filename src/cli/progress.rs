//! The live view of a run: on a terminal, one indicatif line with the step under way, a countdown
//! for long waits and the share of probed traffic per region, redrawn a few times a second (log
//! lines print above it); elsewhere, a plain log line whenever the traffic share changes.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use tokio::task::JoinHandle;

use crate::engine::progress::{Progress, State};

/// The bar being drawn, if any: log lines are written around it.
static BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

fn bar() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    BAR.get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A `tracing` writer for stderr that keeps log lines from tearing the live view.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

pub struct Line(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().write_all(&text);
        };
        match bar().as_ref() {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }
}

/// The view of one run; stops drawing when dropped.
pub struct View {
    task: JoinHandle<()>,
}

impl Drop for View {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(b) = bar().take() {
            b.finish_and_clear();
        }
    }
}

/// Starts the view for `progress`: indicatif on a terminal, log lines otherwise.
pub fn start(progress: Arc<Progress>, clock: crate::clock::Clock) -> View {
    let tty = std::io::stderr().is_terminal();
    if tty {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        *bar() = Some(b);
    }
    // In the run's span: its "traffic" lines name the run like every other.
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        let mut last_shares = String::new();
        loop {
            let mut state = progress.snapshot();
            state.now = Some(clock.now());
            if tty {
                if let Some(b) = bar().as_ref() {
                    b.set_message(line(&state));
                    b.tick();
                }
            } else {
                let shares = shares(&state);
                if !shares.is_empty() && shares != last_shares {
                    tracing::info!("traffic: {shares}");
                    last_shares = shares;
                }
            }
            tokio::time::sleep(Duration::from_millis(if tty { 150 } else { 1000 })).await;
        }
    }));
    View { task }
}

fn shares(state: &State) -> String {
    state
        .shares
        .iter()
        .map(|(region, share)| format!("{region} {:.0}%", share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `shift_traffic 0:42 | waiting out the longest original TTL: 3:10 left | us-east-1 20%, us-west-2 80%`
pub fn line(state: &State) -> String {
    let mut parts = Vec::new();
    let clock = |d: chrono::Duration| {
        let s = d.num_seconds().max(0);
        format!("{}:{:02}", s / 60, s % 60)
    };
    if let Some((step, started)) = &state.step {
        let elapsed = state
            .now
            .map(|now| clock(now - *started))
            .unwrap_or_default();
        parts.push(format!("{step} {elapsed}"));
    }
    if let (Some((what, until)), Some(now)) = (&state.wait, state.now) {
        parts.push(format!("{what}: {} left", clock(*until - now)));
    }
    let shares = shares(state);
    if !shares.is_empty() {
        parts.push(format!("traffic {shares}"));
    }
    parts.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn the_line_shows_step_countdown_and_shares() {
        let now = Utc::now();
        let state = State {
            step: Some(("soak".to_string(), now - chrono::Duration::seconds(62))),
            wait: Some(("soaking".to_string(), now + chrono::Duration::seconds(58))),
            shares: [
                ("us-east-1".to_string(), 0.25),
                ("us-west-2".to_string(), 0.75),
            ]
            .into(),
            now: Some(now),
        };
        assert_eq!(
            line(&state),
            "soak 1:02 | soaking: 0:58 left | traffic us-east-1 25%, us-west-2 75%"
        );
    }
}
