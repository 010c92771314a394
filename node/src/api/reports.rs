//! Regulator-facing answers: comparability per suite version and round, drift, disputes.
//! Each names the evidence root and frontier it was computed from; two nodes with the
//! same root give byte-identical bodies.

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    http::{HeaderMap, header},
    response::IntoResponse,
};
use interlab_protocol::{
    governance::{self, Comparability, ComparabilityQuery, DisputeView, GovernanceError},
    stats::ReportConfig,
};
use serde::Serialize;

pub use super::types::ComparabilityParams;
use super::{
    ApiError, ApiState, compute, encoding,
    types::{ComparabilityAnswer, DisputesAnswer, DriftAnswer, ErrorBody, LabDrift},
};

pub use super::compute::LogCache;
pub use crate::store::Snapshot;

/// Computes comparability from a snapshot.
pub fn compute(snap: &Snapshot, q: &ComparabilityQuery) -> Result<Comparability, ApiError> {
    governance::comparability(
        &snap.records,
        &snap.authority,
        &snap.equivocators,
        q,
        &ReportConfig::default(),
    )
    .map_err(|e| match e {
        GovernanceError::UnknownSuite(_) => ApiError::not_found(e.to_string()),
        other => ApiError::bad_request(other.to_string()),
    })
}

pub(crate) fn parse_query(
    p: &ComparabilityParams,
    snap: &Snapshot,
) -> Result<ComparabilityQuery, ApiError> {
    let suite = match &p.suite {
        Some(s) => s
            .parse()
            .map_err(|e| ApiError::bad_request(format!("parameter `suite`: {e}")))?,
        None => snap
            .published
            .latest()
            .map(|s| s.id)
            .ok_or_else(|| ApiError::not_found("no suite has been published yet"))?,
    };
    let round = p
        .round
        .as_deref()
        .map(|r| {
            r.parse::<u32>()
                .map_err(|e| ApiError::bad_request(format!("parameter `round`: {e}")))
        })
        .transpose()?;
    let include_disputed = match p.include_disputed.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "parameter `include_disputed`: expected true or false, got {other:?}"
            )));
        }
    };
    Ok(ComparabilityQuery {
        suite,
        round,
        include_disputed,
    })
}

/// A JSON body with its content type.
type JsonBody = ([(header::HeaderName, &'static str); 1], Vec<u8>);

fn json_bytes(v: &impl Serialize) -> Result<JsonBody, ApiError> {
    let bytes = serde_json::to_vec(v).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes))
}

#[utoipa::path(
    get,
    path = "/v1/comparability",
    tag = "reports",
    description = "Comparability of labs for one suite version and round.",
    params(ComparabilityParams),
    responses(
        (status = 200, description = "The answer", body = ComparabilityAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn comparability(
    State(s): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(p): Query<ComparabilityParams>,
) -> Result<impl IntoResponse, ApiError> {
    let c = compute::answer(&s, &p).await?;
    let vary = (header::VARY, "accept-encoding");
    let json = (header::CONTENT_TYPE, "application/json");
    Ok(if encoding::accepts_gzip(&headers) {
        let gzip = (header::CONTENT_ENCODING, "gzip");
        ([json, vary, gzip], c.gzip.clone()).into_response()
    } else {
        ([json, vary], c.json.clone()).into_response()
    })
}

#[utoipa::path(
    get,
    path = "/v1/drift",
    tag = "reports",
    description = "Drift of each lab's z-scores across rounds (CUSUM, EWMA, Westgard rules).",
    params(ComparabilityParams),
    responses(
        (status = 200, description = "The answer", body = DriftAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn drift(
    State(s): State<Arc<ApiState>>,
    Query(p): Query<ComparabilityParams>,
) -> Result<impl IntoResponse, ApiError> {
    let computed = compute::answer(&s, &p).await?;
    let c = &computed.value;
    let mut labs = Vec::new();
    for m in c.report.iter().flat_map(|r| &r.measurands) {
        for l in &m.labs {
            if let Some(d) = &l.drift {
                labs.push(LabDrift {
                    lab: l.lab.clone(),
                    measurand: m.measurand.clone(),
                    drift: d.clone(),
                });
            }
        }
    }
    json_bytes(&DriftAnswer {
        evidence: computed.evidence.clone(),
        evidence_root: computed.evidence.root,
        suite: c.suite,
        round: c.round,
        labs,
        flags: c.flags.clone(),
    })
}

/// All disputes with their derived state.
pub fn all_disputes(snap: &Snapshot) -> Vec<DisputeView> {
    governance::disputes(&snap.records, &snap.authority)
}

#[utoipa::path(
    get,
    path = "/v1/disputes",
    tag = "reports",
    description = "Every dispute with its derived state.",
    responses(
        (status = 200, description = "The answer", body = DisputesAnswer),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn disputes(
    State(s): State<Arc<ApiState>>,
) -> Result<impl IntoResponse, ApiError> {
    let (snap, disputes) = compute::disputes(&s).await?;
    json_bytes(&DisputesAnswer {
        evidence: snap.evidence.clone(),
        evidence_root: snap.evidence.root,
        disputes: disputes.arc(),
    })
}
