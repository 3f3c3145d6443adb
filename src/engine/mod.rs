//! The engine: the drill lifecycle (`run`), its steps, the journal every mutation goes through,
//! undo (shared by fail-back, rollback and recover), the run lock and the verdicts. It reaches the
//! world only through the `cloud` traits and the injected `clock`.

pub mod alarms;
mod context;
pub mod guard;
pub mod journal;
pub mod lock;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod probing;
pub mod progress;
pub mod reading;
pub mod recover;
mod run;
mod steps;
pub mod undo;
pub mod verify;
pub mod wait;

pub use context::StepError;
pub use outcome::{
    ChangeRecord, Fate, Outcome, RunResult, SloResult, StepRecord, StepStatus, StopRecord,
};
pub use recover::{RecoverOptions, Recovery, recover};
pub use run::{Extras, RunOptions, changes, new_run_id, run, run_with};
