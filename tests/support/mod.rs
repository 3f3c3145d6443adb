//! Shared test helpers: a fluent builder for running the `drill` binary.

#![allow(dead_code)]

pub mod moto;
pub mod process;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The weighted `api.example.com` group of us-east-1 → us-west-2 that lab drills in the tests
/// share: all weight moves to the secondary during the drill.
pub use failover_drill::lab::EXAMPLE_API_GROUP as API_GROUP;

/// `Drill::new().args(["validate", "x.toml"]).expect_code(2).stderr_contains("x.toml:3:1")`.
pub struct Drill {
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    state_dir: Option<PathBuf>,
    current_dir: Option<PathBuf>,
}

/// What a finished `drill` printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Drill {
    pub fn new() -> Self {
        Drill {
            args: Vec::new(),
            envs: Vec::new(),
            state_dir: None,
            current_dir: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = Some(dir.to_path_buf());
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.current_dir = Some(dir.to_path_buf());
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drill"));
        cmd.current_dir(
            self.current_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        );
        // Tests never reach real AWS and never read the developer's credentials or config.
        for var in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_ROUTE_53",
            "AWS_ENDPOINT_URL_RDS",
            "DRILL_STATE_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1");
        if let Some(dir) = &self.state_dir {
            cmd.env("DRILL_STATE_DIR", dir);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.args(&self.args).stdin(Stdio::null());
        cmd
    }

    pub fn run(self) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command().output().expect("drill binary runs");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs and asserts the exit code, printing both streams when it differs.
    pub fn expect_code(self, code: i32) -> Ran {
        let ran = self.run();
        assert_eq!(
            ran.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            ran.stdout, ran.stderr
        );
        ran
    }
}

impl Ran {
    pub fn stderr_contains(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_contains(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}",
            self.stdout
        );
        self
    }
}
