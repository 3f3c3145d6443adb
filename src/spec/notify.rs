//! The optional `[notify]` table: a command run after every drill that produced a report, so an
//! unattended run tells the team how it ended (and pages someone when it left something changed).
//! The command is an argument vector, never a shell line; what it gets is documented in
//! `docs/drill-format.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::probes::{bounded, duration};
use super::reader::{Field, Reader, Table};

pub(super) const KEYS: &[&str] = &["command", "on", "timeout"];

/// The outcomes a run can end with, as the report names them.
pub const OUTCOMES: &[&str] = &[
    "passed",
    "slo_failed",
    "refused",
    "rolled_back",
    "rollback_incomplete",
];

pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);
const MIN_NOTIFY_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notify {
    /// The program and its arguments. A relative program path is taken from the drill file's
    /// folder, which is also the command's working directory.
    pub command: Vec<String>,
    /// The outcomes it runs for (names from [`OUTCOMES`]); every outcome unless `on` says.
    pub on: Vec<String>,
    /// How long it may take before it is killed.
    pub timeout: Duration,
}

impl Notify {
    pub fn wants(&self, outcome: &str) -> bool {
        self.on.iter().any(|o| o == outcome)
    }

    /// Where the program is: a path with a `/` (relative ones from the folder of `drill_file`),
    /// else the first executable of that name on `PATH`; an error says why it cannot run. Not part
    /// of validation (the machine that validates a file need not be the one that runs it): checked
    /// before a drill starts and when the scheduler loads it.
    pub fn program(&self, drill_file: &Path) -> Result<PathBuf, String> {
        use std::os::unix::fs::PermissionsExt;
        let executable = |p: &Path| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        let name = &self.command[0];
        if name.contains('/') {
            let path = Self::folder(drill_file).join(name);
            return if executable(&path) {
                Ok(path)
            } else if path.exists() {
                Err(format!(
                    "notify.command program {} is not an executable file",
                    path.display()
                ))
            } else {
                Err(format!(
                    "notify.command program {} does not exist",
                    path.display()
                ))
            };
        }
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|p| executable(p))
            .ok_or_else(|| format!("notify.command program {name:?} is not an executable on PATH"))
    }

    /// The drill file's folder: the command's working directory and the base of a relative program.
    pub fn folder(drill_file: &Path) -> &Path {
        drill_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }
}

/// Some(None) without `[notify]`; None when it is present but wrong (the problems are in `r`).
pub(super) fn read(r: &mut Reader, root: &Table) -> Option<Option<Notify>> {
    let t = match r.table(root, "notify", "a table [notify]") {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(&t, KEYS);
    let expected = "the program and its arguments as an array of strings, e.g. [\"/usr/local/bin/page-oncall\", \"--team\", \"sre\"]";
    let command = match r.strings(&t, "command", expected) {
        Field::Present(items) if items.is_empty() => {
            let span = t
                .map
                .get("command")
                .map(|v| v.span())
                .unwrap_or(t.span.clone());
            r.error(
                span,
                t.key("command"),
                format!("command is empty; give {expected}"),
            );
            None
        }
        Field::Present(items) => {
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                if i == 0 && item.value.trim().is_empty() {
                    ok = false;
                    r.error(
                        item.span.clone(),
                        format!("{}[0]", t.key("command")),
                        "the program is an empty string",
                    );
                } else if item.value.contains('\0') {
                    ok = false;
                    r.error(
                        item.span.clone(),
                        format!("{}[{i}]", t.key("command")),
                        "contains a NUL byte, which no command line can carry",
                    );
                }
            }
            ok.then(|| items.into_iter().map(|i| i.value).collect::<Vec<_>>())
        }
        Field::Absent => {
            r.missing(
                &t,
                "command",
                format!("missing `command`: [notify] runs a command after each drill ({expected})"),
            );
            None
        }
        Field::Invalid => None,
    };
    let on = match r.strings(&t, "on", "an array of outcomes") {
        Field::Present(items) if items.is_empty() => {
            let span = t.map.get("on").map(|v| v.span()).unwrap_or(t.span.clone());
            r.error(
                span,
                t.key("on"),
                format!(
                    "on is empty, so the command would never run; list outcomes ({}) or remove the key for all of them",
                    OUTCOMES.join(", ")
                ),
            );
            None
        }
        Field::Present(items) => {
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                if !OUTCOMES.contains(&item.value.as_str()) {
                    ok = false;
                    r.error(
                        item.span.clone(),
                        format!("{}[{i}]", t.key("on")),
                        format!(
                            "unknown outcome {:?}; outcomes are {}",
                            item.value,
                            OUTCOMES.join(", ")
                        ),
                    );
                }
            }
            ok.then(|| items.into_iter().map(|i| i.value).collect::<Vec<_>>())
        }
        Field::Absent => Some(OUTCOMES.iter().map(|o| o.to_string()).collect()),
        Field::Invalid => None,
    };
    let timeout = match duration(r, &t, "timeout", false) {
        Field::Present(d) => bounded(r, &t, "timeout", d, MIN_NOTIFY_TIMEOUT, MAX_NOTIFY_TIMEOUT),
        Field::Absent => Some(DEFAULT_NOTIFY_TIMEOUT),
        Field::Invalid => None,
    };
    Some(Some(Notify {
        command: command?,
        on: on?,
        timeout: timeout?,
    }))
}
