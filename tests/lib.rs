//! The one integration-test binary: every test drives the real `drill` binary or the library
//! against something real-shaped (moto, the in-memory cloud, the lab).

mod aws_mocks;
mod aws_moto;
mod bench_estate;
mod cli_lab;
mod cli_moto;
mod crash;
mod drift;
mod drill_files;
mod engine;
mod estate;
mod history;
mod lab;
mod logs;
mod probes;
mod report;
mod report_target;
mod schedule;
mod shell;
mod support;
mod validate;
