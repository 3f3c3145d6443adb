//! failover-drill: scripted, journaled failover drills for services running in two AWS regions.
//!
//! The pieces, by domain: `spec` (drill files), `engine` (lifecycle, journal, rollback, lock),
//! `cloud` (narrow traits, AWS implementation, in-memory double), `report` (the JSON report),
//! `clock` (injected time), `cli` (commands and exit codes).

pub mod cli;
pub mod clock;
pub mod cloud;
pub mod engine;
pub mod escape;
pub mod lab;
pub mod probes;
pub mod report;
pub mod schedule;
pub mod spec;
