//! The one integration-test binary: every test drives the real `drill` binary or the library
//! against something real-shaped (moto, the in-memory cloud, the lab).

mod support;
mod engine;
