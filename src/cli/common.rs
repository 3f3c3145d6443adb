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
        .with_writer(super::progress::Stderr)
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
