//! The run report: one versioned JSON document per run, for tooling and the post-mortem.
//! The schema is documented in `docs/report.md`; `SCHEMA_VERSION` changes whenever a field changes
//! meaning or disappears (adding fields does not bump it).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::journal::Header;
use crate::engine::{
    ChangeRecord, Fate, Outcome, RunResult, SloResult, StepRecord, StepStatus, StopRecord,
};
use crate::spec::Drill;

pub mod history;
pub mod render;

pub const SCHEMA_VERSION: u32 = 1;

/// How many changes that came back a report lists before it only counts them: a drill over
/// thousands of records journals thousands of changes, and the journal keeps each.
pub const CHANGES_LISTED: usize = 50;

/// How many items a list in a step's details keeps; the rest are counted in `<key>_total`.
pub const DETAIL_ITEMS: usize = 20;

/// The changes a report lists and the count of those it leaves out ([`Report::changes`]).
fn listed_changes(all: &[ChangeRecord]) -> (Vec<ChangeRecord>, Option<BTreeMap<String, usize>>) {
    let mut listed = Vec::new();
    let mut omitted: BTreeMap<String, usize> = BTreeMap::new();
    let mut came_back = 0;
    for c in all {
        let fine = matches!(c.fate(), Fate::PutBack | Fate::FoundBack);
        if fine && came_back >= CHANGES_LISTED {
            *omitted.entry(c.fate().to_string()).or_default() += 1;
            continue;
        }
        came_back += usize::from(fine);
        listed.push(c.clone());
    }
    (listed, (!omitted.is_empty()).then_some(omitted))
}

/// A step's details with every list longer than [`DETAIL_ITEMS`] cut to its first items and its
/// length in a sibling `<key>_total` (lists of every record do not belong in a report).
fn bounded(step: &StepRecord) -> StepRecord {
    fn bound(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let mut totals = Vec::new();
                for (key, item) in map.iter_mut() {
                    if let serde_json::Value::Array(items) = item
                        && items.len() > DETAIL_ITEMS
                    {
                        totals.push((format!("{key}_total"), items.len()));
                        items.truncate(DETAIL_ITEMS);
                    }
                    bound(item);
                }
                for (key, total) in totals {
                    map.insert(key, total.into());
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(bound),
            _ => {}
        }
    }
    let mut step = step.clone();
    bound(&mut step.details);
    step
}

/// Why a report could not be read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a drill report: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error(
        "{}: schema_version {found} is newer than this drill understands ({SCHEMA_VERSION}); read it with a newer failover-drill",
        path.display()
    )]
    Newer { path: PathBuf, found: u64 },
}

/// Reads a report, refusing one written by a newer schema than this build knows.
pub fn read(path: &Path) -> Result<Report, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = |message: String| ReadError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        None => return Err(malformed("no schema_version".to_string())),
        Some(found) if found > u64::from(SCHEMA_VERSION) => {
            return Err(ReadError::Newer {
                path: path.to_path_buf(),
                found,
            });
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
}

/// One file of a reports folder and what reading it gave.
pub type Entry = (PathBuf, Result<Report, ReadError>);

/// Every `*.json` report in `dir` with what reading it gave, newest run first (by start time,
/// then run id; unreadable files last, by name). A missing folder is an empty history.
pub fn history(dir: &Path) -> Result<Vec<Entry>, ReadError> {
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ReadError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut runs: Vec<Entry> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()) == Some("json") && !is_sidecar(p) && p.is_file()
        })
        .map(|p| {
            let read = read(&p);
            (p, read)
        })
        .collect();
    runs.sort_by(|(pa, a), (pb, b)| match (a, b) {
        (Ok(a), Ok(b)) => (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => pa.cmp(pb),
    });
    Ok(runs)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    pub tool: Tool,
    pub drill: DrillInfo,
    /// `switchover` or `failover`.
    pub mode: String,
    pub regions: Regions,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The exit code `drill run` ended with.
    pub exit_code: i32,
    pub failback: bool,
    pub steps: Vec<StepRecord>,
    /// Every journaled change that did not simply come back (still changed, kept, failed), and
    /// the first [`CHANGES_LISTED`] of those that did; `changes_omitted` counts the rest.
    pub changes: Vec<ChangeRecord>,
    /// How many changes `changes` leaves out, by fate (`put back`, `found at its original
    /// value`): all of them came back. Absent when every change is listed. The journal lists
    /// each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_omitted: Option<BTreeMap<String, usize>>,
    /// Milliseconds unless the name says otherwise.
    pub measurements: BTreeMap<String, serde_json::Value>,
    pub slos: Vec<SloResult>,
    pub errors: Vec<String>,
    /// What the drill left changed, one line per resource; empty unless the outcome is
    /// `rollback_incomplete`.
    pub left: Vec<String>,
    /// The command that finishes the job when something is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<PathBuf>,
    pub time: TimeInfo,
    /// Lab runs only: the time scale, the faults, whether the world ended as it began and every
    /// difference if not, the ground truth's key figures, the critical path, and the name of the
    /// sidecar file holding the whole picture (`crate::lab::summary`; `docs/report.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<serde_json::Value>,
    /// Drills with `[probes]`: what the probes saw (directions, read-backs, phases, the time
    /// series). See `docs/report.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<serde_json::Value>,
    /// The stop condition (`[stop]`) that aborted the run, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRecord>,
    /// Drills with `[stop] alarms`: the evidence they were watched. See `docs/report.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<serde_json::Value>,
    /// Who ran the drill (or `drill recover`), from where, against what. Absent in reports
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
}

/// Who ran a drill, from which host, how it was started and against what: what an auditor asks
/// first. Never credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// `user@host` for `drill run`; `scheduler@host` when `drill schedule` started the run.
    pub operator: String,
    /// The host the run ran on.
    pub host: String,
    /// `drill run`, `drill schedule` or `drill recover`.
    pub started_by: String,
    /// The fire time the scheduler started the run for; absent for `drill run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<DateTime<Utc>>,
    pub target: Target,
}

impl Context {
    /// The context of a run started on this host now: by the user in `USER` (or `LOGNAME`) for
    /// `drill run`, by the scheduler when `fire` (the scheduled fire the run is for) is given.
    pub fn here(fire: Option<DateTime<Utc>>, target: Target) -> Self {
        // The lease owner is `host/pid`, its host already read and cleaned of anything odd.
        let owner = crate::schedule::lease::owner();
        let host = owner
            .rsplit_once('/')
            .map_or(owner.as_str(), |(h, _)| h)
            .to_string();
        let user = match fire {
            Some(_) => "scheduler".to_string(),
            None => ["USER", "LOGNAME"]
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .map(|u| u.trim().to_string())
                .find(|u| !u.is_empty())
                .unwrap_or_else(|| "unknown".to_string()),
        };
        Context {
            operator: format!("{user}@{host}"),
            host,
            started_by: if fire.is_some() {
                "drill schedule"
            } else {
                "drill run"
            }
            .to_string(),
            fire,
            target,
        }
    }
}

impl Target {
    /// What a journal's connection says the run went against (`drill recover` reconnects the same
    /// way), with any user or password part left out.
    pub fn of_connection(c: &crate::engine::journal::Connection, time_scale: Option<f64>) -> Self {
        let (kind, endpoint) = match (&c.lab_endpoint, c.lab) {
            (Some(control), _) => ("lab-endpoint", Some(without_userinfo(control))),
            (None, true) => ("lab", None),
            (None, false) => ("aws", c.endpoint_url.as_deref().map(without_userinfo)),
        };
        Target {
            kind: kind.to_string(),
            time_scale,
            endpoint,
            profile: c.profile.clone(),
            regions: c.regions.clone(),
        }
    }
}

/// What a run went against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// `lab` (the embedded lab this process started), `lab-endpoint` (a lab served by `drill
    /// lab`) or `aws`.
    pub kind: String,
    /// The lab's time scale (modelled seconds per wall second); lab runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// The served lab's control URL (`lab-endpoint`), or the AWS endpoint override
    /// (`AWS_ENDPOINT_URL`) of an `aws` run, without any user or password part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The AWS profile (`--profile`/`AWS_PROFILE`); absent for the default credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The drill's two regions, primary first.
    pub regions: Vec<String>,
}

impl Target {
    /// One line for people: `lab (time scale 30×)`, `lab-endpoint http://127.0.0.1:4566/_lab`,
    /// `aws (profile prod; us-east-1, us-west-2)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.profile {
            parts.push(format!("profile {p}"));
        }
        if let Some(e) = &self.endpoint
            && self.kind == "aws"
        {
            parts.push(format!("endpoint {e}"));
        }
        if !self.regions.is_empty() {
            parts.push(self.regions.join(", "));
        }
        match (self.kind.as_str(), self.time_scale) {
            ("lab", Some(scale)) => format!("lab (time scale {scale}×)"),
            ("lab-endpoint", scale) => format!(
                "lab-endpoint {}{}",
                self.endpoint.as_deref().unwrap_or("?"),
                scale
                    .map(|s| format!(" (time scale {s}×)"))
                    .unwrap_or_default()
            ),
            (kind, _) if parts.is_empty() => kind.to_string(),
            (kind, _) => format!("{kind} ({})", parts.join("; ")),
        }
    }
}

/// `url` without a `user:password@` part, which must never reach a report.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillInfo {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
    /// The drill file's `description`; absent when it has none (and in older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regions {
    pub primary: String,
    pub secondary: String,
}

/// Whose clock the times and durations are on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeInfo {
    /// `real`, or `modelled` for lab runs, whose clock runs `scale` times faster than the wall.
    pub clock: String,
    pub scale: f64,
}

impl Report {
    pub fn new(
        drill: &Drill,
        result: &RunResult,
        failback: bool,
        exit_code: i32,
        scale: f64,
    ) -> Self {
        let recover_command = matches!(result.outcome, Outcome::RollbackIncomplete | Outcome::Held)
            .then(|| format!("drill recover {}", result.run_id));
        let (changes, changes_omitted) = listed_changes(&result.changes);
        Report {
            schema_version: SCHEMA_VERSION,
            run_id: result.run_id.clone(),
            tool: Tool {
                name: "failover-drill".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            drill: DrillInfo {
                name: drill.name.clone(),
                file: drill.path.clone(),
                sha256: drill.sha256.clone(),
                description: Some(drill.description.clone()).filter(|d| !d.trim().is_empty()),
            },
            mode: drill.database.mode.as_str().to_string(),
            regions: Regions {
                primary: drill.regions.primary.clone(),
                secondary: drill.regions.secondary.clone(),
            },
            started_at: result.started_at,
            finished_at: result.finished_at,
            outcome: result.outcome,
            exit_code,
            failback,
            steps: result.steps.iter().map(bounded).collect(),
            changes,
            changes_omitted,
            measurements: result.measurements.clone(),
            slos: result.slos.clone(),
            errors: result.errors.clone(),
            left: result.left.clone(),
            recover_command,
            journal: result.journal.clone(),
            time: TimeInfo {
                clock: if scale == 1.0 { "real" } else { "modelled" }.to_string(),
                scale,
            },
            lab: None,
            probes: result.probes.clone(),
            stop: result.stop.clone(),
            alarms: result.alarms.clone(),
            context: None,
        }
    }

    /// The report of a run `drill recover` finished (outcome `recovered` or
    /// `recovery_incomplete`): the drill and run from the journal's header, the changes from the
    /// journal, one `recover` step from `recovering_since` to `finished_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn recovered(
        header: &Header,
        mode: &str,
        changes: Vec<ChangeRecord>,
        left: Vec<String>,
        recovering_since: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        outcome: Outcome,
        exit_code: i32,
        journal: PathBuf,
    ) -> Self {
        let region = |i: usize| {
            header
                .connection
                .regions
                .get(i)
                .cloned()
                .unwrap_or_default()
        };
        let (changes, changes_omitted) = listed_changes(&changes);
        let status = if left.is_empty() {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        };
        Report {
            schema_version: SCHEMA_VERSION,
            run_id: header.run_id.clone(),
            tool: Tool {
                name: "failover-drill".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            drill: DrillInfo {
                name: header.drill_name.clone(),
                file: header.drill_file.clone(),
                sha256: header.drill_sha256.clone(),
                description: None,
            },
            mode: mode.to_string(),
            regions: Regions {
                primary: region(0),
                secondary: region(1),
            },
            started_at: header.started_at,
            finished_at,
            outcome,
            exit_code,
            failback: true,
            steps: vec![StepRecord {
                name: "recover".to_string(),
                status,
                started_at: recovering_since,
                finished_at,
                duration_ms: (finished_at - recovering_since).num_milliseconds().max(0) as u64,
                details: serde_json::json!({ "left": left }),
            }],
            changes,
            changes_omitted,
            measurements: BTreeMap::new(),
            slos: Vec::new(),
            errors: left.clone(),
            recover_command: (!left.is_empty()).then(|| format!("drill recover {}", header.run_id)),
            left,
            journal: Some(journal),
            time: TimeInfo {
                clock: "real".to_string(),
                scale: 1.0,
            },
            lab: None,
            probes: None,
            stop: None,
            alarms: None,
            context: None,
        }
    }

    pub fn outcome_str(&self) -> &'static str {
        self.outcome.as_str()
    }

    /// The default location: `<state-dir>/reports/<run-id>.json`.
    pub fn default_path(state_dir: &Path, run_id: &str) -> PathBuf {
        Self::default_dir(state_dir).join(format!("{run_id}.json"))
    }

    /// Where runs write their reports unless told otherwise: `<state-dir>/reports`.
    pub fn default_dir(state_dir: &Path) -> PathBuf {
        state_dir.join("reports")
    }

    /// Writes the report atomically (temp file, fsync, rename), creating the folder.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_atomically(path, self)
    }
}

/// The extension of a lab report's sidecar (`<stem>.lab.json` beside `<stem>.json`): the lab's
/// whole picture, too big for the report. Not a report: [`history`] skips it.
pub const SIDECAR_EXTENSION: &str = "lab.json";

/// Whether `path` names a sidecar file rather than a report.
pub fn is_sidecar(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(&format!(".{SIDECAR_EXTENSION}")))
}

/// Writes `value` as pretty JSON atomically: to a temp file beside `path`, fsync'd, then renamed
/// over it, creating the folder. Streams, so a large document is never held as one string.
pub fn write_atomically<T: Serialize + ?Sized>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::io::BufWriter::new(fs::File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut f, value).map_err(std::io::Error::other)?;
        f.write_all(b"\n")?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    if renamed.is_err() {
        // Nothing half-written stays behind, whichever step failed.
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::UndoneHow;

    #[test]
    fn endpoints_lose_their_user_and_password() {
        assert_eq!(
            without_userinfo("https://AKIA:secret@example.com:4566/_lab"),
            "https://example.com:4566/_lab"
        );
        assert_eq!(
            without_userinfo("http://127.0.0.1:80"),
            "http://127.0.0.1:80"
        );
        assert_eq!(without_userinfo("u:p@host/x"), "host/x");
    }

    #[test]
    fn targets_read_as_one_line() {
        let target = |kind: &str| Target {
            kind: kind.to_string(),
            time_scale: None,
            endpoint: None,
            profile: None,
            regions: vec!["us-east-1".to_string(), "us-west-2".to_string()],
        };
        let lab = Target {
            time_scale: Some(30.0),
            ..target("lab")
        };
        assert_eq!(lab.describe(), "lab (time scale 30×)");
        let served = Target {
            endpoint: Some("http://127.0.0.1:9/_lab".to_string()),
            time_scale: Some(600.0),
            ..target("lab-endpoint")
        };
        assert_eq!(
            served.describe(),
            "lab-endpoint http://127.0.0.1:9/_lab (time scale 600×)"
        );
        let aws = Target {
            profile: Some("prod".to_string()),
            ..target("aws")
        };
        assert_eq!(aws.describe(), "aws (profile prod; us-east-1, us-west-2)");
        assert_eq!(target("aws").describe(), "aws (us-east-1, us-west-2)");
    }

    #[test]
    fn scheduled_runs_are_the_schedulers() {
        let context = Context::here(
            Some(Utc::now()),
            Target {
                kind: "aws".to_string(),
                time_scale: None,
                endpoint: None,
                profile: None,
                regions: Vec::new(),
            },
        );
        assert!(context.operator.starts_with("scheduler@"), "{context:?}");
        assert_eq!(context.operator, format!("scheduler@{}", context.host));
        assert_eq!(context.started_by, "drill schedule");
    }

    fn change(seq: u64, restored: bool) -> ChangeRecord {
        ChangeRecord {
            seq,
            step: "lower_ttls".to_string(),
            resource: format!("record {seq}"),
            before: serde_json::json!(300),
            after: serde_json::json!(60),
            restored,
            how: restored.then_some(UndoneHow::Restored),
            failed: false,
            kept: false,
            note: None,
        }
    }

    #[test]
    fn a_report_lists_every_change_still_changed_and_counts_most_of_those_that_came_back() {
        let mut all: Vec<ChangeRecord> = (0..200).map(|i| change(i, true)).collect();
        all[150].restored = false;
        all[150].how = None;
        all[7].how = Some(UndoneHow::Already);
        let (listed, omitted) = listed_changes(&all);
        assert_eq!(listed.len(), CHANGES_LISTED + 1);
        assert!(listed.iter().any(|c| c.seq == 150 && !c.restored));
        assert_eq!(listed[..CHANGES_LISTED].last().unwrap().seq, 49);
        let omitted = omitted.expect("some are left out");
        assert_eq!(omitted.get("put back"), Some(&149));
        assert_eq!(omitted.values().sum::<usize>(), 149);

        let few: Vec<ChangeRecord> = (0..3).map(|i| change(i, true)).collect();
        assert_eq!(listed_changes(&few), (few.clone(), None));
    }

    #[test]
    fn long_lists_in_step_details_are_cut_and_counted() {
        let keys: Vec<String> = (0..500).map(|i| format!("r{i}.example.com. A")).collect();
        let step = StepRecord {
            name: "lower_ttls".to_string(),
            status: StepStatus::Passed,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            duration_ms: 0,
            details: serde_json::json!({
                "lowered": 3,
                "already_at_or_below": keys,
                "nested": { "warnings": keys[..30], "few": ["a", "b"] },
            }),
        };
        let d = bounded(&step).details;
        assert_eq!(
            d["already_at_or_below"].as_array().unwrap().len(),
            DETAIL_ITEMS
        );
        assert_eq!(d["already_at_or_below"][0], "r0.example.com. A");
        assert_eq!(d["already_at_or_below_total"], 500);
        assert_eq!(d["nested"]["warnings_total"], 30);
        assert_eq!(d["nested"]["few"], serde_json::json!(["a", "b"]));
        assert!(d.get("few_total").is_none() && d["nested"].get("few_total").is_none());
        assert_eq!(d["lowered"], 3);
    }

    #[test]
    fn history_skips_sidecar_files_and_the_writer_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = dir.path().join("run-1.lab.json");
        write_atomically(&sidecar, &serde_json::json!({ "format": 1 })).unwrap();
        assert!(is_sidecar(&sidecar));
        assert!(!is_sidecar(&dir.path().join("run-1.json")));
        assert!(history(dir.path()).unwrap().is_empty());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["run-1.lab.json"]);
    }
}
