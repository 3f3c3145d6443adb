//! The command line: argument parsing (clap), then one small module per command. `main` only maps
//! the result to an exit code; every error is printed once, with its cause chain, here.

mod args;
mod bench;
mod bench_estate;
mod common;
mod cron;
pub mod exit;
mod lab;
mod notify;
mod plan;
mod progress;
mod recover;
mod report;
mod run;
mod schedule;
mod shell;
mod validate;
mod writable;

use clap::Parser;

pub use args::{Cli, Command};

/// An error that ends a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Incomplete(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Invalid(_) => exit::USAGE,
            CliError::Refused(_) => exit::REFUSED,
            CliError::Incomplete(_) => exit::ROLLBACK_INCOMPLETE,
        }
    }
}

/// Parses the process arguments, runs the command, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            };
            let _ = e.print();
            return code;
        }
    };
    common::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::USAGE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::escape::terminal(&e.to_string()));
            e.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32, CliError> {
    match &cli.command {
        Command::Validate(a) => validate::validate(a),
        Command::Plan(a) => plan::plan(&cli, a).await,
        Command::Run(a) => run::run(&cli, a).await,
        Command::Lab(a) => lab::serve(a).await,
        Command::Recover(a) => recover::recover(&cli, a).await,
        Command::Report(a) => report::report(&cli, a),
        Command::BenchProbes(a) => bench::bench(a).await,
        Command::BenchEstate(a) => bench_estate::bench(a).await,
        Command::Schedule(a) => schedule::schedule(&cli, a).await,
        Command::Cron(a) => cron::cron(&cli, a),
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(a),
    }
}
