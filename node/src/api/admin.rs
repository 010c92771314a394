//! Operator controls of the node's connections: block peers (a misbehaving lab, or a
//! partition in a test), unblock them, trigger anti-entropy now.

use std::sync::Arc;

use axum::{Json, extract::State};
use libp2p::PeerId;

use super::{
    ApiError, ApiState,
    types::{BlockAnswer, BlockRequest, SyncAnswer},
};

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

pub(crate) async fn sync(State(s): State<Arc<ApiState>>) -> Result<Json<SyncAnswer>, ApiError> {
    s.net
        .sync_now()
        .await
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    Ok(Json(SyncAnswer {
        evidence_root: s.store.evidence().root,
    }))
}
