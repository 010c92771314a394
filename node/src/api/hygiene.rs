//! Rules every request meets before or after its handler: error answers are JSON
//! whatever produced them (an extractor's rejection, an unknown route, the body limit),
//! the body limit is the store's artefact limit, and the checks that keep the answers
//! of two nodes with the same evidence the same (no report for a round that was never
//! opened, no dispute signed against a record this node does not hold).

use axum::{
    body::Body as HttpBody,
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use interlab_protocol::{Body, governance::ComparabilityQuery};

use super::ApiError;
use crate::store::{MAX_ARTEFACT_BYTES, Snapshot, Store};

/// Largest request body: the largest artefact the store keeps (uploads are the biggest
/// bodies). A larger body is answered 413 before the handler runs.
pub const MAX_BODY: usize = MAX_ARTEFACT_BYTES;

/// Longest plain-text rejection message carried over into a JSON error.
const MAX_MESSAGE: usize = 4096;

/// The stable code of an error status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "busy",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// Turns an error answer that is not JSON (axum's extractor rejections and fallbacks
/// answer plain text) into `{ "error": code, "message": text }`.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("request body is over the limit of {MAX_BODY} bytes")
    } else if status == StatusCode::NOT_FOUND && text.is_empty() {
        "no such route".to_owned()
    } else {
        text
    };
    let body = serde_json::json!({ "error": code_of(status), "message": message });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, HttpBody::from(bytes))
}

/// 404 when the query names a round of its suite that no record mentions (the owner
/// never opened it and no result was filed for it): no silent fallback to another
/// round.
pub fn check_round(snap: &Snapshot, q: &ComparabilityQuery) -> Result<(), ApiError> {
    let Some(round) = q.round else { return Ok(()) };
    let known = snap.published.knows_round(&q.suite, round);
    if known {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "round {round} of suite {} was never opened",
            q.suite
        )))
    }
}

/// The node signs a dispute, a response or a resolution only when it holds the record
/// it is about: 404 naming the id otherwise. (A dispute signed elsewhere and received
/// from a peer is stored all the same; see the protocol document.)
pub fn check_target(store: &Store, body: &Body) -> Result<(), ApiError> {
    let (what, id) = match body {
        Body::Dispute { target, .. } => ("disputed record", target),
        Body::DisputeResponse { dispute, .. } | Body::DisputeResolution { dispute, .. } => {
            ("dispute", dispute)
        }
        _ => return Ok(()),
    };
    if store.contains(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "the {what} {id} is not in this node's log; check the id, or wait until the \
             node has synced it"
        )))
    }
}
