//! `GET /v1/report?suite=ID&round=R[&format=html|pdf]`: the round report, computed from
//! the node's current snapshot. Headers name the evidence root and the report digest.

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    http::{HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
};
use interlab_protocol::Digest;
use serde::Deserialize;

use super::{ReportError, build};
use crate::api::{ApiError, ApiState};

/// Header naming the evidence root a report was computed from.
pub const ROOT_HEADER: &str = "x-interlab-evidence-root";
/// Header carrying the report digest.
pub const DIGEST_HEADER: &str = "x-interlab-report-digest";

/// Query of `GET /v1/report`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Suite id (required).
    pub suite: Option<String>,
    /// Round (required).
    pub round: Option<String>,
    /// `html` (default) or `pdf`.
    pub format: Option<String>,
    /// `true`: mark the node's own lab's rows "your results" (default: the neutral
    /// report, identical on every node with the same evidence).
    pub mine: Option<String>,
}

/// The format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Pdf,
}

fn parse(p: &ReportParams) -> Result<(Digest, u32, Format, bool), ApiError> {
    let suite = p
        .suite
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("parameter `suite` is required"))?
        .parse::<Digest>()
        .map_err(|e| ApiError::bad_request(format!("parameter `suite`: {e}")))?;
    let round = p
        .round
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("parameter `round` is required"))?
        .parse::<u32>()
        .map_err(|e| ApiError::bad_request(format!("parameter `round`: {e}")))?;
    let format = match p.format.as_deref() {
        None | Some("html") => Format::Html,
        Some("pdf") => Format::Pdf,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "parameter `format`: expected html or pdf, got {other:?}"
            )));
        }
    };
    let mine = match p.mine.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "parameter `mine`: expected true or false, got {other:?}"
            )));
        }
    };
    Ok((suite, round, format, mine))
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> ApiError {
        match e {
            ReportError::UnknownSuite(_) | ReportError::UnknownRound { .. } => {
                ApiError::not_found(e.to_string())
            }
            ReportError::Governance(_) => ApiError::bad_request(e.to_string()),
            ReportError::Pdf(_) => ApiError::internal(e),
        }
    }
}

/// The handler.
#[utoipa::path(
    get,
    path = "/v1/report",
    tag = "reports",
    description = "The round report a proficiency-testing provider issues (ISO/IEC 17043 7.4), as HTML or PDF. Headers x-interlab-evidence-root and x-interlab-report-digest name the evidence and the report's content digest.",
    params(ReportParams),
    responses(
        (status = 200, description = "The report (text/html, or application/pdf with format=pdf)", body = String, content_type = "text/html"),
        (status = 400, description = "A parameter is malformed", body = crate::api::types::ErrorBody),
        (status = 404, description = "Unknown suite or round", body = crate::api::types::ErrorBody),
        (status = 503, description = "Too many report computations; retry after Retry-After seconds", body = crate::api::types::ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = crate::api::types::ErrorBody)
    )
)]
pub async fn report(
    State(s): State<Arc<ApiState>>,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let (suite, round, format, mine) = parse(&p)?;
    let snap = crate::api::compute::snapshot(&s).await?;
    let own = mine.then(|| s.publisher.public());
    let root = snap.evidence.root;
    let key = format!(
        "{suite}/{round}/{}/{}",
        if format == Format::Pdf { "pdf" } else { "html" },
        own.map_or_else(String::new, |k| k.to_hex())
    );
    let for_render = snap.clone();
    let doc = crate::api::compute::document(&s, &snap, key, move || {
        let r = build(&for_render, suite, round, own)?;
        let body = match format {
            Format::Html => r.html().into_bytes(),
            Format::Pdf => r.pdf()?,
        };
        Ok(crate::api::compute::Document {
            digest: r.digest(),
            number: r.number().to_owned(),
            body,
        })
    })
    .await?;
    let (digest, number, body) = (doc.digest, doc.number.clone(), doc.body.clone());
    let mut headers = vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(match format {
                Format::Html => "text/html; charset=utf-8",
                Format::Pdf => "application/pdf",
            }),
        ),
        (
            HeaderName::from_static(ROOT_HEADER),
            HeaderValue::from_str(&root.to_hex()).map_err(ApiError::internal)?,
        ),
        (
            HeaderName::from_static(DIGEST_HEADER),
            HeaderValue::from_str(&digest.to_hex()).map_err(ApiError::internal)?,
        ),
    ];
    if format == Format::Pdf {
        headers.push((
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("inline; filename=\"{number}.pdf\""))
                .map_err(ApiError::internal)?,
        ));
    }
    let mut resp = body.into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    Ok(resp)
}
