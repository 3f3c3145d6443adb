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
        let mut writes_failing = false;
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
                // The write outage, when it starts and ends, as the canary sees it.
                let failing = state.canary.is_some_and(|(_, failed)| failed > 0);
                if failing != writes_failing {
                    match (failing, state.canary) {
                        (true, Some((ok, failed))) => tracing::info!(
                            "writes: failing ({failed} of the last {} canary writes)",
                            ok + failed
                        ),
                        _ => tracing::info!("writes: acknowledged again"),
                    }
                    writes_failing = failing;
                }
            }
            tokio::time::sleep(Duration::from_millis(if tty { 150 } else { 1000 })).await;
        }
    }));
    View { task }
}

fn shares(state: &State) -> String {
    shares_with(state, |r| r.to_string())
}

fn shares_with(state: &State, name: impl Fn(&str) -> String) -> String {
    state
        .shares
        .iter()
        .map(|(region, share)| format!("{} {:.0}%", name(region), share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The live view's widest line: an 80-column terminal less the spinner and its space.
pub const WIDTH: usize = 78;

/// `shift_traffic 0:42 | dns us-west-2 | traffic us-east-1 20%, us-west-2 80% | writes 5/5`,
/// shortened to [`WIDTH`] columns when needed (long waits by their countdown alone, regions by their
/// short names, `traffic` left out), with a last resort cut with `…`. While the canary's writes fail it says so first, since
/// that is the write outage the drill is measuring.
pub fn line(state: &State) -> String {
    let clock = |d: chrono::Duration| {
        let s = d.num_seconds().max(0);
        format!("{}:{:02}", s / 60, s % 60)
    };
    let step = state.step.as_ref().map(|(step, started)| {
        let elapsed = state
            .now
            .map(|now| clock(now - *started))
            .unwrap_or_default();
        format!("{step} {elapsed}")
    });
    let left = match (&state.wait, state.now) {
        (Some((what, until)), Some(now)) => Some((what.clone(), clock(*until - now))),
        _ => None,
    };
    let writes = state.canary.map(|(ok, failed)| match failed {
        0 => format!("writes {ok}/{}", ok + failed),
        _ => format!("WRITES FAILING {failed}/{}", ok + failed),
    });
    let compose = |short: bool| {
        let name = |r: &str| {
            if short {
                crate::lab::seed::region_short(r)
            } else {
                r.to_string()
            }
        };
        let mut parts = Vec::new();
        if let Some(w) = writes.as_ref().filter(|w| w.starts_with("WRITES")) {
            parts.push(w.clone());
        }
        parts.extend(step.clone());
        if let Some(db) = &state.database {
            parts.push(format!("db {db}"));
        }
        if let Some((what, left)) = &left {
            parts.push(if short {
                format!("{left} left")
            } else {
                format!("{what}: {left} left")
            });
        }
        if let Some(dns) = &state.dns {
            parts.push(format!("dns {}", name(dns)));
        }
        let traffic = shares_with(state, name);
        if !traffic.is_empty() && short {
            parts.push(traffic);
        } else if !traffic.is_empty() {
            parts.push(format!("traffic {traffic}"));
        }
        if let Some(w) = writes.as_ref().filter(|w| !w.starts_with("WRITES")) {
            parts.push(w.clone());
        }
        parts.join(" | ")
    };
    let full = compose(false);
    if full.chars().count() <= WIDTH {
        return full;
    }
    let short = compose(true);
    if short.chars().count() <= WIDTH {
        return short;
    }
    let mut cut: String = short.chars().take(WIDTH - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn state(now: chrono::DateTime<Utc>) -> State {
        State {
            step: Some(("soak".to_string(), now - chrono::Duration::seconds(62))),
            wait: Some(("soaking".to_string(), now + chrono::Duration::seconds(58))),
            shares: [
                ("us-east-1".to_string(), 0.25),
                ("us-west-2".to_string(), 0.75),
            ]
            .into(),
            canary: None,
            dns: None,
            database: None,
            now: Some(now),
        }
    }

    #[test]
    fn the_line_shows_step_countdown_and_shares() {
        let now = Utc::now();
        assert_eq!(
            line(&state(now)),
            "soak 1:02 | soaking: 0:58 left | traffic us-east-1 25%, us-west-2 75%"
        );
    }

    #[test]
    fn the_line_fits_eighty_columns_and_puts_a_write_outage_first() {
        let now = Utc::now();
        let mut s = state(now);
        s.step = Some((
            "lower_ttls".to_string(),
            now - chrono::Duration::seconds(30),
        ));
        s.wait = Some((
            "waiting out the longest original TTL".to_string(),
            now + chrono::Duration::seconds(190),
        ));
        s.dns = Some("us-east-1".to_string());
        s.canary = Some((5, 0));
        let shown = line(&s);
        assert!(shown.chars().count() <= WIDTH, "{shown}");
        assert_eq!(
            shown,
            "lower_ttls 0:30 | 3:10 left | dns use1 | use1 25%, usw2 75% | writes 5/5"
        );
        // During the write outage the view says so first, whatever the traffic share.
        s.step = Some(("promote".to_string(), now - chrono::Duration::seconds(40)));
        s.wait = None;
        s.shares = [("us-east-1".to_string(), 1.0)].into();
        s.canary = Some((1, 4));
        let shown = line(&s);
        assert!(
            shown.starts_with("WRITES FAILING 4/5 | promote 0:40"),
            "{shown}"
        );
        assert!(shown.chars().count() <= WIDTH, "{shown}");
        // Whatever the names, never wider than the terminal.
        s.step = Some(("x".repeat(200), now));
        let shown = line(&s);
        assert_eq!(shown.chars().count(), WIDTH, "{shown}");
        assert!(shown.ends_with('…'));
    }
}
