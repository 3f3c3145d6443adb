//! Exit codes: the one place they are defined. Documented in `drill --help` and the README.

use crate::engine::Outcome;

/// The drill completed, everything was restored and every SLO was met.
pub const PASSED: i32 = 0;
/// The drill completed and everything was restored, but an SLO was missed.
pub const SLO_FAILED: i32 = 1;
/// Usage error or an invalid drill file; nothing was changed.
pub const USAGE: i32 = 2;
/// Preflight refused the drill (or another run holds its target); nothing was changed.
pub const REFUSED: i32 = 3;
/// The drill was aborted (a failure or a signal) and every change was rolled back.
pub const ROLLED_BACK: i32 = 4;
/// Something the drill changed is still changed; the message says what, and `drill recover` fixes it.
pub const ROLLBACK_INCOMPLETE: i32 = 5;
/// The drill kept the writer and traffic where they serve instead of moving them back into a
/// region that cannot (or as `on_failure = "stay"` asks); `drill recover` fails back later.
pub const HELD: i32 = 6;

pub const HELP: &str = "\
Exit codes:
  0  passed: the drill completed, everything was restored, every SLO met
  1  slo_failed: completed and fully restored, but an SLO was missed
  2  usage error or invalid drill file (nothing changed)
  3  refused: preflight found the world not ready, or the target is locked (nothing changed)
  4  rolled_back: aborted by a failure or a signal, and every change was rolled back
  5  rollback_incomplete: something is still changed; run the printed `drill recover` command
  6  held: the writer and traffic were kept where they serve, because moving them back was not
     safe (or on_failure = \"stay\"); run the printed `drill recover` command once it is

`drill recover` exits 0 (recovered: every change restored, the run's lease released) or 5
(recovery_incomplete: something is still changed; fix the cause and run it again), or 6 (held: the
way back still cannot serve; run it again once it can).";

pub fn for_outcome(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Passed => PASSED,
        Outcome::SloFailed => SLO_FAILED,
        Outcome::Refused => REFUSED,
        Outcome::RolledBack => ROLLED_BACK,
        Outcome::RollbackIncomplete | Outcome::RecoveryIncomplete => ROLLBACK_INCOMPLETE,
        Outcome::Recovered => PASSED,
        Outcome::Held => HELD,
    }
}
