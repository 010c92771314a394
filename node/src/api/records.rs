//! Reading the log (status, records, proofs, labs, artefacts) and publishing to it.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::header,
    response::IntoResponse,
};
use interlab_protocol::{Body, Digest, Envelope, PublicKey, RecordId};

use super::{
    ApiError, ApiState,
    types::{
        ErrorBody, ForkView, ForksAnswer, LabStatus, LabView, LabsAnswer, ProofAnswer,
        PublishAnswer, PublishRequest, RecordAnswer, RecordView, RecordsPage, RecordsQuery,
        SigningAnswer, StatusAnswer, SubmitAnswer, UploadAnswer,
    },
};
use crate::{publisher::PublishError, store::RecordFilter};

/// Most records one page returns.
const MAX_PAGE: usize = 500;

impl RecordView {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<RecordView, ApiError> {
        // Stored bytes were validated on ingest; failing here means the store is damaged.
        let opened = Envelope::open_bytes(bytes).map_err(ApiError::internal)?;
        Ok(RecordView {
            id: opened.id,
            author: opened.record.author,
            seq: opened.record.seq,
            kind: opened.record.body.kind().to_owned(),
            time_ms: opened.record.time_ms,
            envelope: hex::encode(bytes),
            record: opened.record,
        })
    }
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| ApiError::bad_request(format!("parameter `{name}`: {e}")))
}

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "node",
    description = "The node: evidence root, records, peers, fork proofs, and whether it may sign.",
    responses(
        (status = 200, description = "The answer", body = StatusAnswer),
        (status = 502, description = "A peer could not provide it", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn status(State(s): State<Arc<ApiState>>) -> Result<Json<StatusAnswer>, ApiError> {
    let ev = s.store.evidence();
    let view = s
        .net
        .peer_view()
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    let scheme = s.store.scheme();
    let forks = s.store.fork_count()?;
    Ok(Json(StatusAnswer {
        name: s.name.clone(),
        node: s.publisher.public(),
        peer_id: s.net.peer_id().to_string(),
        scheme: scheme.map(|(id, _)| id),
        owner: scheme.map(|(_, o)| o),
        evidence_root: ev.root,
        records: ev.records,
        frontier: ev.frontier,
        peers: view.peers.len() as u64,
        peer_list: view.peers.clone(),
        banned: view.banned.clone(),
        forks,
        signing: s.publisher.signing_status(),
    }))
}

/// `GET /v1/signing`: waits (at most the peer wait) until the node may sign, then
/// answers its signing status; 409 with the reason when it may not. Commands that do
/// long work before they publish (`interlab run`) ask first.
#[utoipa::path(
    get,
    path = "/v1/signing",
    tag = "node",
    description = "Waits (at most the peer wait) until the node may sign; 409 with the reason when it may not.",
    responses(
        (status = 200, description = "The answer", body = SigningAnswer),
        (status = 409, description = "Signing now could equivocate, or no scheme yet; the body carries the signing status", body = ErrorBody)
    )
)]
pub(crate) async fn signing(
    State(s): State<Arc<ApiState>>,
) -> Result<Json<SigningAnswer>, ApiError> {
    match s.publisher.ready().await {
        Ok(()) => Ok(Json(SigningAnswer {
            evidence_root: s.store.evidence().root,
            signing: s.publisher.signing_status(),
        })),
        Err(n) => Err(ApiError::not_ready(&n, Some(s.publisher.signing_status()))),
    }
}

#[utoipa::path(
    get,
    path = "/v1/records",
    tag = "records",
    description = "One page of accepted records in (author, seq) order.",
    params(RecordsQuery),
    responses(
        (status = 200, description = "The answer", body = RecordsPage),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn list(
    State(s): State<Arc<ApiState>>,
    Query(q): Query<RecordsQuery>,
) -> Result<Json<RecordsPage>, ApiError> {
    let filter = RecordFilter {
        author: q
            .author
            .as_deref()
            .map(|a| parse("author", a))
            .transpose()?,
        kind: match q.kind {
            Some(k) if !Body::KINDS.contains(&k.as_str()) => {
                return Err(ApiError::bad_request(format!(
                    "parameter `kind`: unknown kind {k:?}; one of {}",
                    Body::KINDS.join(", ")
                )));
            }
            k => k,
        },
        suite: q.suite.as_deref().map(|v| parse("suite", v)).transpose()?,
        round: q.round.as_deref().map(|v| parse("round", v)).transpose()?,
    };
    let after = match q.after.as_deref() {
        None => None,
        Some(a) => {
            let (author, seq) = a.split_once(':').ok_or_else(|| {
                ApiError::bad_request("parameter `after`: expected AUTHOR_HEX:SEQ")
            })?;
            Some((parse("after", author)?, parse("after", seq)?))
        }
    };
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => parse::<usize>("limit", l)?.clamp(1, MAX_PAGE),
    };
    let ev = s.store.evidence();
    let page = s.store.records(&filter, after, limit)?;
    let views = page
        .iter()
        .map(|b| RecordView::from_bytes(b))
        .collect::<Result<Vec<_>, _>>()?;
    let next = (views.len() == limit)
        .then(|| views.last().map(|v| format!("{}:{}", v.author, v.seq)))
        .flatten();
    Ok(Json(RecordsPage {
        evidence_root: ev.root,
        records: views,
        next,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/records/{id}",
    tag = "records",
    description = "One accepted record with its inclusion proof.",
    params(("id" = String, Path, description = "Record id (64 hex characters)")),
    responses(
        (status = 200, description = "The answer", body = RecordAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn one(
    State(s): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> Result<Json<RecordAnswer>, ApiError> {
    let id: RecordId = parse("id", &id)?;
    let bytes = s
        .store
        .get(&id)?
        .ok_or_else(|| ApiError::not_found(format!("no accepted record {id}")))?;
    let view = RecordView::from_bytes(&bytes)?;
    let proof = s.store.proof(&id);
    Ok(Json(RecordAnswer {
        evidence_root: proof.as_ref().map(|p| p.root),
        record: view,
        proof,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/proof/{id}",
    tag = "records",
    description = "The inclusion proof of an accepted record under the current evidence root.",
    params(("id" = String, Path, description = "Record id (64 hex characters)")),
    responses(
        (status = 200, description = "The answer", body = ProofAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    )
)]
pub(crate) async fn proof(
    State(s): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> Result<Json<ProofAnswer>, ApiError> {
    let id: RecordId = parse("id", &id)?;
    let proof = s
        .store
        .proof(&id)
        .ok_or_else(|| ApiError::not_found(format!("no accepted record {id}")))?;
    Ok(Json(ProofAnswer {
        evidence_root: proof.root,
        valid: proof.verify(),
        proof,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/artefacts/{digest}",
    tag = "artefacts",
    description = "An artefact by digest, from this node or fetched from a peer.",
    params(("digest" = String, Path, description = "Artefact digest (64 hex characters)")),
    responses(
        (status = 200, description = "The artefact's bytes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 502, description = "A peer could not provide it", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn artefact(
    State(s): State<Arc<ApiState>>,
    Path(digest): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let digest: Digest = parse("digest", &digest)?;
    let bytes = match s.store.artefact(&digest)? {
        Some(b) => b,
        None => s
            .net
            .fetch_artefact(digest)
            .await
            .map_err(|e| ApiError::upstream(e.to_string()))?,
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

#[utoipa::path(
    post,
    path = "/v1/artefacts",
    tag = "artefacts",
    description = "Stores an artefact; its digest is the BLAKE3 of the bytes in the artefact domain.",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The answer", body = UploadAnswer),
        (status = 401, description = "No or wrong API token", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    ),
    security(("token" = []))
)]
pub(crate) async fn upload(
    State(s): State<Arc<ApiState>>,
    body: Bytes,
) -> Result<Json<UploadAnswer>, ApiError> {
    let store = s.store.clone();
    let digest = tokio::task::spawn_blocking(move || store.put_artefact(&body))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(UploadAnswer { digest }))
}

#[utoipa::path(
    post,
    path = "/v1/publish",
    tag = "records",
    description = "Signs the body as the node's next record, stores it durably and gossips it.",
    request_body = PublishRequest,
    responses(
        (status = 200, description = "The answer", body = PublishAnswer),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 401, description = "No or wrong API token", body = ErrorBody),
        (status = 409, description = "Signing now could equivocate, or no scheme yet; the body carries the signing status", body = ErrorBody),
        (status = 422, description = "The log refused the record; `error` is the rejection code", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    ),
    security(("token" = []))
)]
pub(crate) async fn publish(
    State(s): State<Arc<ApiState>>,
    Json(req): Json<PublishRequest>,
) -> Result<Json<PublishAnswer>, ApiError> {
    let kind = req.body.kind();
    // A node that is still catching up may lack the target for that reason alone: say
    // it cannot sign yet (409) before judging the target unknown (404).
    s.publisher
        .ready()
        .await
        .map_err(|n| ApiError::not_ready(&n, Some(s.publisher.signing_status())))?;
    super::hygiene::check_target(&s.store, &req.body)?;
    let (id, envelope) = s
        .publisher
        .publish(req.body)
        .await
        .inspect_err(|e| {
            tracing::info!(kind, "publish refused: {e}");
        })
        .map_err(|e| match e {
            PublishError::NotReady(n) => {
                ApiError::not_ready(&n, Some(s.publisher.signing_status()))
            }
            other => other.into(),
        })?;
    let opened = envelope.open().map_err(ApiError::internal)?;
    let ev = s.store.evidence();
    Ok(Json(PublishAnswer {
        id,
        kind: kind.to_owned(),
        seq: opened.record.seq,
        evidence_root: ev.root,
        records: ev.records,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/labs",
    tag = "governance",
    description = "The scheme owner and every lab it accredited, with standing.",
    responses(
        (status = 200, description = "The answer", body = LabsAnswer),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn labs(State(s): State<Arc<ApiState>>) -> Result<Json<LabsAnswer>, ApiError> {
    let ev = s.store.evidence();
    let authority = s.store.authority();
    let forks = s.store.forks()?;
    let flagged: Vec<PublicKey> = forks
        .iter()
        .filter_map(|f| f.verify().ok().map(|fork| fork.author))
        .collect();
    let labs = authority
        .labs()
        .map(|l| LabView {
            lab: l.key,
            name: l.name.clone(),
            status: LabStatus::of(l),
            accredited_ms: l.accredited_ms,
            suspensions: l.suspensions.clone(),
            suspension_reasons: l.suspension_reasons.clone(),
            revoked_reason: l.revoked_reason.clone(),
            equivocated: flagged.contains(&l.key),
        })
        .collect();
    Ok(Json(LabsAnswer {
        evidence_root: ev.root,
        owner: authority.owner(),
        labs,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/forks",
    tag = "governance",
    description = "Every verified fork proof (equivocation) the node holds.",
    responses(
        (status = 200, description = "The answer", body = ForksAnswer),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    )
)]
pub(crate) async fn forks(State(s): State<Arc<ApiState>>) -> Result<Json<ForksAnswer>, ApiError> {
    let ev = s.store.evidence();
    let forks = s
        .store
        .forks()?
        .iter()
        .filter_map(|p| {
            p.verify().ok().map(|f| ForkView {
                author: f.author,
                seq: f.seq,
                ids: [f.ids.0, f.ids.1],
                proof: hex::encode(p.to_bytes()),
            })
        })
        .collect();
    Ok(Json(ForksAnswer {
        evidence_root: ev.root,
        forks,
    }))
}

/// `POST /v1/envelopes`: an envelope signed elsewhere (e.g. with a key kept offline),
/// validated, stored durably and gossiped like any other.
#[utoipa::path(
    post,
    path = "/v1/envelopes",
    tag = "records",
    description = "An envelope signed elsewhere (canonical CBOR), validated, stored durably and gossiped.",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The answer", body = SubmitAnswer),
        (status = 401, description = "No or wrong API token", body = ErrorBody),
        (status = 422, description = "The log refused the record; `error` is the rejection code", body = ErrorBody),
        (status = 500, description = "Internal error (detail in the node's log)", body = ErrorBody)
    ),
    security(("token" = []))
)]
pub(crate) async fn submit(
    State(s): State<Arc<ApiState>>,
    body: Bytes,
) -> Result<Json<SubmitAnswer>, ApiError> {
    let bytes = body.to_vec();
    let now = crate::publisher::now_ms();
    match crate::publisher::store_one(&s.store, bytes.clone(), now).await? {
        Ok(id) => {
            if let Err(e) = s.net.publish(bytes).await {
                tracing::debug!(%id, "gossip of submitted record: {e}");
            }
            Ok(Json(SubmitAnswer {
                id,
                evidence_root: s.store.evidence().root,
            }))
        }
        Err(interlab_protocol::Rejection::Equivocation(proof)) => {
            // The store kept the proof; spread it so every node flags the author.
            if let Err(e) = s.net.publish_fork((*proof).clone()).await {
                tracing::debug!("gossip of fork proof: {e}");
            }
            Err(ApiError::rejected(
                &interlab_protocol::Rejection::Equivocation(proof),
            ))
        }
        Err(r) => Err(ApiError::rejected(&r)),
    }
}
