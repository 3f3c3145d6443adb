//! The command-line arguments, with help text for every command and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::exit;

#[derive(Debug, Parser)]
#[command(
    name = "drill",
    version,
    about = "Scripted, journaled failover drills for services running in two AWS regions",
    long_about = "Runs a failover drill: lowers Route 53 TTLs, promotes the Aurora Global Database \
secondary, moves traffic to the other region, verifies it moved, fails back, verifies recovery and \
restores every original value. Every change is journaled before it is made and undone on failure, \
SIGINT or SIGTERM; `drill recover` finishes the job after a crash.",
    after_help = exit::HELP
)]
pub struct Cli {
    /// Where journals, locks and reports live [default: $XDG_STATE_HOME/drill or ~/.local/state/drill]
    #[arg(long, global = true, env = "DRILL_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// The AWS profile to use (otherwise the default credential chain)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// How log lines on stderr are written
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More detail in the logs (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check drill files (or every *.toml in folders) and print every problem as PATH:LINE:COL
    #[command(after_help = "Exit codes: 0 every file is valid, 2 a file is invalid.")]
    Validate(ValidateArgs),
    /// Run the read-only preflight and print the ordered actions a run would take
    #[command(
        after_help = "Exit codes: 0 ready to run, 2 invalid drill file, 3 not ready (each reason printed)."
    )]
    Plan(PlanArgs),
    /// Run a drill (asks for the drill's name on a terminal unless --yes)
    #[command(after_help = exit::HELP)]
    Run(RunArgs),
    /// Serve the embedded lab (a simulated two-region AWS world on loopback) until SIGINT/SIGTERM
    #[command(
        after_help = "Prints one JSON line first: {\"aws_endpoint\": ..., \"control\": ..., \"dns\": ..., \"regions\": {REGION: {\"app\": URL}}}.\nPoint any AWS SDK or the AWS CLI at aws_endpoint with the lab's static credentials \
(AWS_ACCESS_KEY_ID=LABACCESSKEY AWS_SECRET_ACCESS_KEY=lab-secret-key), and dig at dns.\n`drill run FILE --lab-endpoint CONTROL` runs a drill against it on its clock; \
GET CONTROL/info, CONTROL/snapshot and CONTROL/truth (JSON) show its clock, world and ground truth."
    )]
    Lab(LabServeArgs),
    /// Finish a run that did not finish: restore everything its journal says is still changed
    #[command(
        after_help = "Exit codes: 0 everything restored (or nothing was left), 2 no such run, 5 something could not be restored."
    )]
    Recover(RecoverArgs),
    /// Render a run's report as Markdown for the post-mortem, or --list the history of runs
    #[command(
        after_help = "RUN is a run id (its report in <state-dir>/reports) or a report file.\nExit codes: 0 rendered or listed, 2 no such run, or a report that cannot be read."
    )]
    Report(ReportArgs),
    /// Measure how many probes per second this machine sustains, and the sampling timer's skew
    /// (against a private lab, on the real clock)
    #[command(name = "bench-probes")]
    BenchProbes(BenchArgs),
    /// Measure a drill over a large estate against a private lab: Route 53 calls per phase, the
    /// busiest second, modelled durations, against a bound (a benchmark: it judges nothing)
    #[command(name = "bench-estate")]
    BenchEstate(BenchEstateArgs),
    /// Run every drill with a `schedule` at its fire times, unattended (or --list them, or check
    /// one with --due)
    #[command(after_help = super::schedule::HELP)]
    Schedule(ScheduleArgs),
    /// Print crontab lines that run the drills at their schedules, for teams that prefer system cron
    Cron(CronArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout
    #[command(
        after_help = "bash: drill completions bash > /etc/bash_completion.d/drill\nzsh:  drill completions zsh > \"${fpath[1]}/_drill\"\nfish: drill completions fish > ~/.config/fish/completions/drill.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write it and one page per subcommand into --dir
    #[command(
        after_help = "drill man --dir /usr/local/share/man/man1   # drill.1, drill-run.1, drill-plan.1, …"
    )]
    Man(ManArgs),
}

/// `drill bench-probes`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Probes per second to ask for, shared by the DNS, HTTP and canary probes
    #[arg(long, value_name = "N", default_value_t = 200.0)]
    pub rate: f64,
    /// How long to run
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub seconds: u64,
}

/// `drill bench-estate`.
#[derive(Debug, Args)]
pub struct BenchEstateArgs {
    /// Hosted zones, `z00.estate.example` …
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub zones: usize,
    /// Record sets in all, split evenly over the zones, two weighted sets (us-east-1, us-west-2)
    /// per name: a multiple of 2 × --zones
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub records: usize,
    /// Modelled seconds per wall second in the lab
    #[arg(long, value_name = "X", default_value_t = 30.0)]
    pub time_scale: f64,
    /// Which runs to measure
    #[arg(long, value_enum, default_value_t = EstateScenario::All)]
    pub scenario: EstateScenario,
    /// Print the figures as one JSON document instead of tables
    #[arg(long)]
    pub json: bool,
    /// Also write each scenario's phases and the lab's ground truth to DIR/<scenario>.json, to
    /// check the figures by hand
    #[arg(long, value_name = "DIR")]
    pub truth: Option<PathBuf>,
}

/// The runs `drill bench-estate` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstateScenario {
    /// The drill runs to its end and passes
    Pass,
    /// The drill is cancelled once traffic has moved, and rolls back
    Rollback,
    /// The drill is dropped once traffic has moved (as by SIGKILL), then recovered
    Recover,
    /// Pass, rollback and recover in turn
    All,
}

impl EstateScenario {
    pub fn expand(self) -> &'static [EstateScenario] {
        match self {
            EstateScenario::Pass => &[EstateScenario::Pass],
            EstateScenario::Rollback => &[EstateScenario::Rollback],
            EstateScenario::Recover => &[EstateScenario::Recover],
            EstateScenario::All => &[
                EstateScenario::Pass,
                EstateScenario::Rollback,
                EstateScenario::Recover,
            ],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EstateScenario::Pass => "pass",
            EstateScenario::Rollback => "rollback",
            EstateScenario::Recover => "recover",
            EstateScenario::All => "all",
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Drill files or folders of drill files
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Running against the embedded lab instead of AWS.
#[derive(Debug, Args, Clone)]
pub struct LabArgs {
    /// Run against the embedded lab, seeded from the drill file, instead of AWS
    #[arg(long)]
    pub lab: bool,
    /// Run against a lab served by `drill lab` (its control URL, e.g. http://127.0.0.1:PORT or
    /// http://127.0.0.1:PORT/_lab): its AWS endpoint, DNS, apps and clock
    #[arg(
        long,
        value_name = "URL",
        env = "DRILL_LAB_ENDPOINT",
        conflicts_with = "lab"
    )]
    pub lab_endpoint: Option<String>,
    /// A lab fault to inject (repeatable), e.g. throttle=0.2, switchover-fails,
    /// primary-outage@promote, replication-lag=5s, dns-silent, dns-stale@promote,
    /// secondary-pending-resync, slow-insync=300s
    #[arg(long, value_name = "FAULT", requires = "lab")]
    pub fault: Vec<String>,
    /// Modelled seconds per wall second in the lab [default: 30]
    #[arg(long, value_name = "X", requires = "lab")]
    pub time_scale: Option<f64>,
}

#[derive(Debug, Args)]
pub struct LabServeArgs {
    /// Drill file or folder of drill files to seed the world from
    #[arg(long, value_name = "PATH", required = true)]
    pub world: Vec<PathBuf>,
    /// A lab fault to inject (repeatable); see `drill run --help`
    #[arg(long, value_name = "FAULT")]
    pub fault: Vec<String>,
    /// Modelled seconds per wall second [default: 30]
    #[arg(long, value_name = "X")]
    pub time_scale: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The drill file
    pub file: PathBuf,
    #[command(flatten)]
    pub lab: LabArgs,
    /// Plan as `drill run --no-failback` would run
    #[arg(long)]
    pub no_failback: bool,
    /// Skip the probes' steady-state check (which watches the `[probes] baseline` window, as
    /// `drill run` does before its first change)
    #[arg(long)]
    pub no_steady_state: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The drill file
    pub file: PathBuf,
    #[command(flatten)]
    pub lab: LabArgs,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Where to write the JSON report [default: <state-dir>/reports/<run-id>.json]
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Stay in the secondary region: skip the fail-back, restore only the TTLs
    #[arg(long)]
    pub no_failback: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RecoverArgs {
    /// The run to recover (its id is in every message and report)
    #[arg(value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Recover the most recently started run
    #[arg(long)]
    pub latest: bool,
}

/// `drill report`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("history").args(["list", "trend"])))]
pub struct ReportArgs {
    /// A run id or a report file
    #[arg(value_name = "RUN", required_unless_present_any = ["latest", "list", "trend"])]
    pub run: Option<String>,
    /// The most recently started run in the reports folder
    #[arg(long, conflicts_with_all = ["run", "list", "trend"])]
    pub latest: bool,
    /// One line per run in the reports folder, newest first, lab runs marked
    #[arg(long, conflicts_with_all = ["run", "trend"])]
    pub list: bool,
    /// With --list: one JSON document with every field of the list (docs/report.md)
    #[arg(long, requires = "list", conflicts_with = "openmetrics")]
    pub json: bool,
    /// With --list: the OpenMetrics text format for node_exporter's textfile collector, per drill
    /// and target (lab or aws): last outcome, last run and last pass times, write outage, lost
    /// writes
    #[arg(long, requires = "list", conflicts_with = "count")]
    pub openmetrics: bool,
    /// Per drill, one Markdown row per run, oldest first, each figure with its change against the
    /// previous run of the drill
    #[arg(long, conflicts_with = "run")]
    pub trend: bool,
    /// With --list or --trend: only this drill's runs
    #[arg(long, value_name = "NAME", requires = "history")]
    pub drill: Option<String>,
    /// With --list: at most N runs
    #[arg(short = 'n', value_name = "N", requires = "list")]
    pub count: Option<usize>,
    /// The reports folder [default: <state-dir>/reports]
    #[arg(long, visible_alias = "reports", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Drill files or folders of drill files [default: drills]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print each drill's next fire times (UTC and the drill's time zone) and exit
    #[arg(long, conflicts_with = "due")]
    pub list: bool,
    /// With --list: how many fire times per drill
    #[arg(short = 'n', value_name = "N", default_value_t = 5, requires = "list")]
    pub count: usize,
    /// With --list: list the fire times after this moment (RFC 3339) instead of after now
    #[arg(long, value_name = "TIME", requires = "list")]
    pub after: Option<chrono::DateTime<chrono::Utc>>,
    /// Exit 0 if the drill's schedule fired within its grace (normally: this minute) and a run may
    /// start now, 3 if not (the guard in front of `drill cron` lines)
    #[arg(long)]
    pub due: bool,
    /// Where the daemon writes each run's report [default: <state-dir>/reports]
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "due"])]
    pub reports: Option<PathBuf>,
    #[command(flatten)]
    pub lab: LabArgs,
}

#[derive(Debug, Args)]
pub struct CronArgs {
    /// Drill files or folders of drill files [default: drills]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `drill completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `drill man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write drill.1 and a drill-SUBCOMMAND.1 per subcommand into this folder instead of printing
    /// drill.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}
