//! The node's HTTP API (JSON, versioned under `/v1`). Reads are open; calls that sign
//! with the node's key need the bearer token that `init` wrote. Every answer names the
//! evidence root it was computed from.

mod admin;
#[cfg(feature = "test-utils")]
pub mod bench;
#[cfg(feature = "test-utils")]
mod bench_load;
pub mod compute;
#[cfg(test)]
mod compute_tests;
pub mod dashboard;
mod encoding;
mod error;
pub mod hygiene;
#[cfg(test)]
mod hygiene_tests;
pub mod openapi;
mod records;
pub mod reports;
pub mod serve;
pub mod types;
pub mod workers;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::header::AUTHORIZATION,
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
pub use error::ApiError;
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

use crate::{net::NetClient, publisher::Publisher, store::Store};

/// What every handler can reach.
#[derive(Debug)]
pub struct ApiState {
    /// The evidence store.
    pub store: Store,
    /// The network handle.
    pub net: NetClient,
    /// Signs the node's own records.
    pub publisher: Publisher,
    /// The node's name from its config.
    pub name: String,
    /// Bearer token for mutating calls.
    pub token: String,
    /// Opened records per evidence root, for governance answers.
    pub cache: reports::LogCache,
    /// Computed reports per evidence root and query.
    pub reports: compute::Reports,
    /// How many report computations may run at once.
    pub limits: compute::Limits,
}

/// Builds the router.
pub fn router(state: Arc<ApiState>) -> Router {
    let open = Router::new()
        .route("/", get(dashboard::page))
        .route("/v1/status", get(records::status))
        .route("/v1/signing", get(records::signing))
        .route("/v1/records", get(records::list))
        .route("/v1/records/{id}", get(records::one))
        .route("/v1/proof/{id}", get(records::proof))
        .route("/v1/artefacts/{digest}", get(records::artefact))
        .route("/v1/labs", get(records::labs))
        .route("/v1/forks", get(records::forks))
        .route("/v1/comparability", get(reports::comparability))
        .route("/v1/drift", get(reports::drift))
        .route("/v1/disputes", get(reports::disputes))
        .route("/v1/report", get(crate::report::http::report))
        .route("/v1/openapi.json", get(openapi::openapi_json));
    let guarded = Router::new()
        .route("/v1/publish", post(records::publish))
        .route("/v1/artefacts", post(records::upload))
        .route("/v1/envelopes", post(records::submit))
        .route("/v1/admin/block", post(admin::block))
        .route("/v1/admin/sync", post(admin::sync))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    open.merge(guarded)
        .layer(DefaultBodyLimit::max(hygiene::MAX_BODY))
        .layer(RequestBodyLimitLayer::new(hygiene::MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .layer(middleware::map_response(hygiene::json_errors))
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<ApiState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ok = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), state.token.as_bytes()));
    if !ok {
        return Err(ApiError::unauthorized());
    }
    Ok(next.run(req).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An initialised node directory under `root` (key, API token, config named `name`) for
/// the API's tests; the token is returned.
#[cfg(test)]
pub(crate) fn test_node_dir(
    root: &std::path::Path,
    name: &str,
) -> (crate::config::NodeDir, String) {
    let dir = crate::config::NodeDir::new(root.join("node"));
    let config = crate::config::Config::default()
        .with_name(name)
        .build()
        .unwrap();
    let (_, token) = dir.init(&config).unwrap();
    (dir, token)
}
