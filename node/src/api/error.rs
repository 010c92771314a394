//! API errors become JSON bodies with a stable code; internal detail goes to the log only.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::types::ErrorBody;
use crate::{
    publisher::{NotReady, PublishError, SigningStatus},
    store::StoreError,
};

/// An error answer: HTTP status, a stable machine code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// What the node knows about signing, on a refusal to sign.
    signing: Option<SigningStatus>,
}

impl ApiError {
    /// 400 with a message naming the bad parameter.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            signing: None,
        }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            signing: None,
        }
    }
    /// 401.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "this call needs the node's API token (Authorization: Bearer …)".into(),
            signing: None,
        }
    }
    /// 422: the log refused the record; the code is the rejection's.
    pub fn rejected(r: &interlab_protocol::Rejection) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: r.code(),
            message: r.to_string(),
            signing: None,
        }
    }
    /// 502: a peer could not provide what was asked.
    pub fn upstream(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: "unavailable",
            message: message.into(),
            signing: None,
        }
    }
    /// 503: the node is at its limit of concurrent report computations; the answer
    /// carries `Retry-After`.
    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "busy",
            message: message.into(),
            signing: None,
        }
    }

    /// Whether this is the limit's 503 (`busy`).
    pub fn is_busy(&self) -> bool {
        self.code == "busy"
    }
    /// 413: the request body is over the limit.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: message.into(),
            signing: None,
        }
    }
    /// 500; the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal API error: {detail}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; see the node's log".into(),
            signing: None,
        }
    }
    /// 409: signing now could equivocate (the node is catching up on its own chain, or
    /// has heard from no peer); the answer carries the signing status.
    pub fn not_ready(e: &NotReady, signing: Option<SigningStatus>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: e.code(),
            message: e.to_string(),
            signing,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ArtefactTooLarge { .. } => ApiError::too_large(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Rejected(r) => ApiError::rejected(&r),
            PublishError::NoScheme => ApiError {
                status: StatusCode::CONFLICT,
                code: "no_scheme",
                message: e.to_string(),
                signing: None,
            },
            PublishError::NotReady(n) => ApiError::not_ready(&n, None),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
                signing: self.signing,
            }),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{net::OwnChain, publisher::SigningState};

    #[tokio::test]
    async fn a_refusal_to_sign_is_a_409_with_the_reason_and_the_signing_state() {
        let status = SigningStatus {
            ready: false,
            state: SigningState::CatchingUp {
                held: 3072,
                known: 5705,
            },
            own_records: 3072,
            peers: OwnChain {
                peers_heard: 2,
                proven_seq: Some(5704),
                checking: 0,
            },
            without_peers: None,
        };
        let e = NotReady::CatchingUp {
            held: 3072,
            known: 5705,
        };
        let resp = ApiError::not_ready(&e, Some(status)).into_response();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(v.error, "catching_up");
        assert!(
            v.message
                .starts_with("this node holds 3072 of its own 5705 records known to peers"),
            "{v:?}"
        );
        let signing = v.signing.expect("the signing status");
        assert_eq!(
            signing.state,
            SigningState::CatchingUp {
                held: 3072,
                known: 5705
            }
        );
        assert!(!signing.ready);
        assert_eq!(signing.peers.proven_seq, Some(5704));
    }
}
