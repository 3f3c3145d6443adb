//! The regional apps: one HTTP server per region on that region's loopback address (127.0.0.11,
//! 127.0.0.12, …), all on the same port, which the lab's A records point to.
//!
//! - `GET /healthz` → 200 `{"region": "us-east-1", "db_role": "writer"|"reader"}`, with headers
//!   `x-lab-region` and `x-lab-db-role`.
//! - `POST /canary` with `{"seq": N}` → 200 `{"region", "seq", "cluster"}` only where the region's
//!   cluster is the writer and writes are available; 503 `{"region", "error"}` otherwise. An
//!   acknowledged write is stored in the writer and replicates to the secondary after the modelled
//!   replication lag.
//! - `GET /canary` → 200 `{"region", "cluster", "role", "count", "max_seq", "seqs": [...]}`: what
//!   this region's cluster holds right now (a secondary lags by the replication lag).
//!
//! While the region is down (`primary-outage`) every path answers 503 `{"error": "region outage"}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::database::Refusal;
use super::shared::Shared;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    region: String,
}

#[derive(Deserialize)]
struct CanaryWrite {
    seq: u64,
}

pub fn router(shared: Arc<Shared>, region: String) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/canary", get(read_canary).post(write_canary))
        .with_state(App { shared, region })
}

/// Serves one region's app until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    region: String,
    shutdown: CancellationToken,
) {
    let app = router(shared, region.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, region, "lab app stopped");
    }
}

fn down(region: &str) -> Response {
    let body = json!({"region": region, "error": Refusal::RegionDown.as_str()});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn healthz(State(app): State<App>) -> Response {
    let world = app.shared.world();
    if world.down.contains(&app.region) {
        return down(&app.region);
    }
    let role = world
        .db
        .app_cluster
        .get(&app.region)
        .and_then(|arn| world.db.clusters.get(arn))
        .map(|c| {
            if c.role.is_writer() {
                "writer"
            } else {
                "reader"
            }
        })
        .unwrap_or("none");
    drop(world);
    let mut response = Json(json!({"region": app.region, "db_role": role})).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&app.region) {
        headers.insert("x-lab-region", v);
    }
    headers.insert("x-lab-db-role", HeaderValue::from_static(role));
    response
}

async fn write_canary(State(app): State<App>, body: Bytes) -> Response {
    let Ok(write) = serde_json::from_slice::<CanaryWrite>(&body) else {
        let body = json!({"region": app.region, "error": "expected a JSON body {\"seq\": N}"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let mut world = app.shared.world();
    match world.canary_write(&app.region, write.seq) {
        Ok(()) => {
            let cluster = world
                .db
                .app_cluster
                .get(&app.region)
                .cloned()
                .unwrap_or_default();
            Json(json!({"region": app.region, "seq": write.seq, "cluster": cluster}))
                .into_response()
        }
        Err(refusal) => {
            drop(world);
            let body = json!({"region": app.region, "error": refusal.as_str()});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

async fn read_canary(State(app): State<App>) -> Response {
    let world = app.shared.world();
    if world.down.contains(&app.region) {
        return down(&app.region);
    }
    let Some(c) = world
        .db
        .app_cluster
        .get(&app.region)
        .and_then(|arn| world.db.clusters.get(arn))
    else {
        let body = json!({"region": app.region, "error": Refusal::NoCluster.as_str()});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    };
    let seqs: Vec<u64> = c.data.iter().copied().collect();
    Json(json!({
        "region": app.region,
        "cluster": c.arn,
        "role": c.role.as_str(),
        "count": seqs.len(),
        "max_seq": seqs.last(),
        "seqs": seqs,
    }))
    .into_response()
}
