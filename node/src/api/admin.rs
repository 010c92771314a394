//! Operator controls of the node's connections: block peers (a misbehaving lab, or a
//! partition in a test), unblock them, trigger anti-entropy now.

use std::sync::Arc;

use axum::{Json, extract::State};
use libp2p::PeerId;

use super::{
    ApiError, ApiState,
    types::{BlockAnswer, BlockRequest, ErrorBody, SyncAnswer},
};

#[utoipa::path(
    post,
    path = "/v1/admin/block",
    tag = "admin",
    description = "Sets the complete set of blocked peers (empty unblocks all).",
    request_body = BlockRequest,
    responses(
        (status = 200, description = "The answer", body = BlockAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 401, description = "No or wrong API token", body = ErrorBody),
        (status = 502, description = "A peer could not provide it", body = ErrorBody)
    ),
    security(("token" = []))
)]
pub(crate) async fn block(
    State(s): State<Arc<ApiState>>,
    Json(req): Json<BlockRequest>,
) -> Result<Json<BlockAnswer>, ApiError> {
    let peers = req
        .peers
        .iter()
        .map(|p| {
            p.parse::<PeerId>()
                .map_err(|e| ApiError::bad_request(format!("peer id {p:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let n = peers.len();
    s.net
        .set_blocked(peers)
        .await
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    Ok(Json(BlockAnswer { blocked: n as u64 }))
}

#[utoipa::path(
    post,
    path = "/v1/admin/sync",
    tag = "admin",
    description = "Runs one round of anti-entropy with every peer now.",
    responses(
        (status = 200, description = "The answer", body = SyncAnswer),
        (status = 401, description = "No or wrong API token", body = ErrorBody),
        (status = 502, description = "A peer could not provide it", body = ErrorBody)
    ),
    security(("token" = []))
)]
pub(crate) async fn sync(State(s): State<Arc<ApiState>>) -> Result<Json<SyncAnswer>, ApiError> {
    s.net
        .sync_now()
        .await
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    Ok(Json(SyncAnswer {
        evidence_root: s.store.evidence().root,
    }))
}
