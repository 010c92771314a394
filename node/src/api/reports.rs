//! Regulator-facing answers: comparability per suite version and round, drift, disputes.
//! Each names the evidence root and frontier it was computed from; two nodes with the
//! same root give byte-identical bodies.

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    http::header,
    response::IntoResponse,
};
use interlab_protocol::{
    Digest, EvidenceState,
    governance::{self, Comparability, ComparabilityQuery, DisputeView, GovernanceError},
    stats::ReportConfig,
};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState, compute};

pub use super::compute::LogCache;
pub use crate::store::Snapshot;

/// Evidence named by an answer.
#[derive(Debug, Serialize)]
pub struct EvidenceRef<'a> {
    /// Evidence root.
    pub root: Digest,
    /// Accepted records.
    pub records: u64,
    /// Per-author heads.
    pub frontier: &'a [interlab_protocol::FrontierEntry],
}

impl<'a> From<&'a EvidenceState> for EvidenceRef<'a> {
    fn from(e: &'a EvidenceState) -> Self {
        EvidenceRef {
            root: e.root,
            records: e.records,
            frontier: &e.frontier,
        }
    }
}

/// Query of `GET /v1/comparability`.
#[derive(Debug, Deserialize)]
pub struct ComparabilityParams {
    /// Suite id.
    pub suite: Option<String>,
    /// Round.
    pub round: Option<String>,
    /// `true` to include results under an upheld `exclude` resolution.
    pub include_disputed: Option<String>,
}

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

/// The suites published in the log (id, name, version), in log order.
pub fn suites(snap: &Snapshot) -> Vec<(Digest, String, String)> {
    snap.records
        .iter()
        .filter_map(|o| match &o.record.body {
            interlab_protocol::Body::SuitePublished {
                suite,
                name,
                version,
                ..
            } => Some((*suite, name.clone(), version.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn parse_query(
    p: &ComparabilityParams,
    snap: &Snapshot,
) -> Result<ComparabilityQuery, ApiError> {
    let suite = match &p.suite {
        Some(s) => s
            .parse()
            .map_err(|e| ApiError::bad_request(format!("parameter `suite`: {e}")))?,
        None => suites(snap)
            .last()
            .map(|(id, _, _)| *id)
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

pub(crate) async fn comparability(
    State(s): State<Arc<ApiState>>,
    Query(p): Query<ComparabilityParams>,
) -> Result<impl IntoResponse, ApiError> {
    let (snap, c) = compute::answer(&s, &p).await?;
    let report_digest = interlab_protocol::report_digest(&c).map_err(ApiError::internal)?;
    let body = serde_json::json!({
        "evidence": EvidenceRef::from(&snap.evidence),
        "evidence_root": snap.evidence.root,
        "report_digest": report_digest,
        "comparability": c,
    });
    json_bytes(&body)
}

pub(crate) async fn drift(
    State(s): State<Arc<ApiState>>,
    Query(p): Query<ComparabilityParams>,
) -> Result<impl IntoResponse, ApiError> {
    let (snap, c) = compute::answer(&s, &p).await?;
    let mut labs = Vec::new();
    for m in c.report.iter().flat_map(|r| &r.measurands) {
        for l in &m.labs {
            if let Some(d) = &l.drift {
                labs.push(serde_json::json!({
                    "lab": l.lab, "measurand": m.measurand, "drift": d,
                }));
            }
        }
    }
    let body = serde_json::json!({
        "evidence": EvidenceRef::from(&snap.evidence),
        "evidence_root": snap.evidence.root,
        "suite": c.suite,
        "round": c.round,
        "labs": labs,
        "flags": c.flags,
    });
    json_bytes(&body)
}

/// All disputes with their derived state.
pub fn all_disputes(snap: &Snapshot) -> Vec<DisputeView> {
    governance::disputes(&snap.records, &snap.authority)
}

pub(crate) async fn disputes(
    State(s): State<Arc<ApiState>>,
) -> Result<impl IntoResponse, ApiError> {
    let (snap, disputes) = compute::disputes(&s).await?;
    let body = serde_json::json!({
        "evidence": EvidenceRef::from(&snap.evidence),
        "evidence_root": snap.evidence.root,
        "disputes": disputes,
    });
    json_bytes(&body)
}
