//! What the commands share: logging, the state directory, loading a drill, reaching the cloud,
//! and turning SIGINT/SIGTERM into a cancellation.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::cloud::aws::{AwsOptions, connect};
use crate::engine::journal::Connection;
use crate::spec::{self, Drill};

use super::args::{Cli, LogFormat};
use super::{CliError, exit};

/// How often the engine polls the cloud while waiting (for INSYNC, for a promotion to finish,
/// for verification), on the run's clock: against AWS and in the lab alike.
///
/// A wait ends on the first poll after the thing waited for happened, so the poll is the
/// resolution of every control-plane measurement (`dns_insync_ms`, `promotion_ms`) and what a wait
/// adds to the drill: at 5 s a drill of ten waits spent up to 50 s more than it had to, and its
/// figures moved by up to 5 s from run to run. At 1 s, one wait costs one GetChange or one
/// DescribeGlobalClusters a second: a fifth of Route 53's 5 requests/s account budget (the pacer,
/// `cloud::aws::pacing`, keeps the whole process under it), and waits run one at a time.
pub const POLL: Duration = Duration::from_secs(1);

pub fn init_logging(cli: &Cli) {
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // The SDK's own logs stay at warn unless asked: they are noisy and could echo request details.
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRILL_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,failover_drill={level}"))
    });
    // Colour only for a person at a terminal: cron mail, journald and CI logs get plain text, and
    // NO_COLOR (https://no-color.org) turns it off everywhere.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(OneLine(super::progress::Stderr))
        .with_ansi(colour)
        .with_target(false);
    // Each line of a drill is inside its `run` span (`cli::run::execute`), and inside the
    // scheduler's `fire` span when the scheduler started it: text lines begin
    // `run{drill=… run_id=…}:`, JSON lines carry the fields in `span` and `spans`. JSON lines
    // also name the module that wrote them (`target`), so a tool can tell the scheduler's own
    // lines from its runs'.
    let _ = match cli.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_target(true).try_init(),
    };
}

/// Keeps each text log line one line. The formatter already writes out escape sequences in what
/// it logs, but not line breaks: an error message or an identifier holding one would start a line
/// that looks like a log line of its own. Each event reaches the writer in one write ending in
/// its newline; a break before that end is written out as `\u{a}` (`\u{d}` for a carriage
/// return). JSON lines need none of this: JSON escapes them.
struct OneLine<M>(M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for OneLine<M>
{
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter(self.0.make_writer())
    }
}

struct OneLineWriter<W>(W);

impl<W: std::io::Write> std::io::Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut line = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b"\\u{a}"),
                b'\r' => line.extend_from_slice(b"\\u{d}"),
                b => line.push(b),
            }
        }
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

pub fn state_dir(cli: &Cli) -> Result<PathBuf, CliError> {
    if let Some(dir) = &cli.state_dir {
        return Ok(dir.clone());
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("drill"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/drill")),
        None => Err(CliError::Usage(
            "cannot choose a state directory: set --state-dir, DRILL_STATE_DIR, XDG_STATE_HOME or HOME"
                .to_string(),
        )),
    }
}

pub fn load(path: &Path) -> Result<Drill, CliError> {
    spec::load(path).map_err(|e| CliError::Invalid(e.to_string()))
}

/// The AWS implementation of the cloud traits, for the drill's two regions.
pub async fn aws(cli: &Cli, regions: Vec<String>) -> Result<Cloud, CliError> {
    connect(AwsOptions {
        profile: cli.profile.clone(),
        endpoint_url: None,
        static_credentials: None,
        regions,
        clock: Clock::real(),
    })
    .await
    .map_err(|e| CliError::Refused(format!("cannot reach AWS: {e}")))
}

/// The cloud a journaled run used: its profile (unless `--profile` overrides) and endpoint.
pub async fn aws_for(cli: &Cli, connection: &Connection) -> Result<Cloud, CliError> {
    connect(AwsOptions {
        profile: cli.profile.clone().or_else(|| connection.profile.clone()),
        endpoint_url: connection.endpoint_url.clone(),
        static_credentials: None,
        regions: connection.regions.clone(),
        clock: Clock::real(),
    })
    .await
    .map_err(|e| CliError::Refused(format!("cannot reach AWS: {e}")))
}

/// The first SIGINT or SIGTERM cancels the token (the run rolls back); a second SIGINT exits at
/// once, leaving the journal for `drill recover`.
pub fn cancel_on_signals(run_id: &str) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let run_id = run_id.to_string();
    // In the run's span, like everything else the run logs.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::error!("cannot listen for signals; Ctrl-C will not roll back");
            return;
        };
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        tracing::warn!(
            "{name}: stopping and rolling back every change (press Ctrl-C again to stop at once and leave the rest to `drill recover {run_id}`)"
        );
        cancel.cancel();
        int.recv().await;
        eprintln!(
            "second SIGINT: stopping now without finishing the rollback. The journal is kept; run `drill recover {run_id}` to restore what is still changed."
        );
        std::process::exit(exit::ROLLBACK_INCOMPLETE);
    }));
    token
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::OneLineWriter;

    #[test]
    fn a_log_line_with_a_break_in_it_stays_one_line() {
        let mut out = OneLineWriter(Vec::new());
        out.write_all(b"INFO run{drill=a}: set x\r\nINFO forged line\n")
            .unwrap();
        out.write_all(b"INFO plain\n").unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "INFO run{drill=a}: set x\\u{d}\\u{a}INFO forged line\nINFO plain\n"
        );
    }
}
