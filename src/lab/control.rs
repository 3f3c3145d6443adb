//! The lab's control endpoint: plain JSON under `/_lab/` on the AWS endpoint's server, for a
//! separate `drill` process (`--lab-endpoint`) and for tests. Not AWS-shaped, unsigned, read-only:
//!
//! - `GET /_lab/info`: where everything is and how fast time runs: `{"time_scale", "now" (the
//!   lab clock's modelled now, RFC 3339 with milliseconds), "aws_endpoint", "dns", "control",
//!   "regions": {REGION: {"app": URL}}}`.
//! - `GET /_lab/snapshot`: the world's durable state ([`Snapshot`]), as `world_restored` compares it.
//! - `GET /_lab/truth`: the ground truth so far ([`super::GroundTruth`]), every API call included.
//!
//! None of these calls is logged in the ground truth: looking does not change the world.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::SecondsFormat;

use super::Snapshot;
use super::shared::Shared;

/// The path prefix every control call lives under.
pub const PREFIX: &str = "/_lab";

struct Control {
    shared: Arc<Shared>,
    /// The addresses part of `/_lab/info` (the startup line's fields), fixed at start.
    addresses: serde_json::Map<String, serde_json::Value>,
}

/// The `/_lab/*` routes; `addresses` is what the startup line prints.
pub fn router(
    shared: Arc<Shared>,
    addresses: serde_json::Map<String, serde_json::Value>,
) -> Router {
    Router::new()
        .route("/_lab/info", get(info))
        .route("/_lab/snapshot", get(snapshot))
        .route("/_lab/truth", get(truth))
        .with_state(Arc::new(Control { shared, addresses }))
}

async fn info(State(control): State<Arc<Control>>) -> Json<serde_json::Value> {
    let clock = control.shared.clock();
    let mut body = control.addresses.clone();
    body.insert("time_scale".into(), clock.scale().into());
    body.insert(
        "now".into(),
        clock
            .now()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
            .into(),
    );
    Json(body.into())
}

async fn snapshot(State(control): State<Arc<Control>>) -> Json<Snapshot> {
    Json(Snapshot::of(&control.shared.world()))
}

async fn truth(State(control): State<Arc<Control>>) -> Json<super::GroundTruth> {
    let world = control.shared.world();
    Json(world.truth.snapshot(world.now))
}
