//! Reading the log (status, records, proofs, labs, artefacts) and publishing to it.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::header,
    response::IntoResponse,
};
use interlab_protocol::{Body, Digest, Envelope, PublicKey, Record, RecordId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiState};
use crate::{publisher::PublishError, store::RecordFilter};

/// Most records one page returns.
const MAX_PAGE: usize = 500;

/// A record as the API shows it: decoded, with its raw envelope in hex.
#[derive(Debug, Serialize)]
pub(crate) struct RecordView {
    id: RecordId,
    author: PublicKey,
    seq: u64,
    kind: &'static str,
    time_ms: u64,
    record: Record,
    envelope: String,
}

impl RecordView {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<RecordView, ApiError> {
        // Stored bytes were validated on ingest; failing here means the store is damaged.
        let opened = Envelope::open_bytes(bytes).map_err(ApiError::internal)?;
        Ok(RecordView {
            id: opened.id,
            author: opened.record.author,
            seq: opened.record.seq,
            kind: opened.record.body.kind(),
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

pub(crate) async fn status(State(s): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let ev = s.store.evidence();
    let peers = s
        .net
        .peers()
        .await
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    let banned = s
        .net
        .banned()
        .await
        .map_err(|e| ApiError::upstream(e.to_string()))?;
    let scheme = s.store.scheme();
    let forks = s.store.forks()?.len();
    Ok(Json(json!({
        "name": s.name,
        "node": s.publisher.public(),
        "peer_id": s.net.peer_id().to_string(),
        "scheme": scheme.map(|(id, _)| id),
        "owner": scheme.map(|(_, o)| o),
        "evidence_root": ev.root,
        "records": ev.records,
        "frontier": ev.frontier,
        "peers": peers.len(),
        "peer_list": peers,
        "banned": banned,
        "forks": forks,
        "signing": s.publisher.signing_status(),
    })))
}

/// `GET /v1/signing`: waits (at most the peer wait) until the node may sign, then
/// answers its signing status; 409 with the reason when it may not. Commands that do
/// long work before they publish (`interlab run`) ask first.
pub(crate) async fn signing(State(s): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    match s.publisher.ready().await {
        Ok(()) => Ok(Json(json!({
            "evidence_root": s.store.evidence().root,
            "signing": s.publisher.signing_status(),
        }))),
        Err(n) => Err(ApiError::not_ready(&n, Some(s.publisher.signing_status()))),
    }
}

/// Filters of `GET /v1/records`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    author: Option<String>,
    kind: Option<String>,
    suite: Option<String>,
    round: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn list(
    State(s): State<Arc<ApiState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "evidence_root": ev.root,
        "records": views,
        "next": next,
    })))
}

pub(crate) async fn one(
    State(s): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: RecordId = parse("id", &id)?;
    let bytes = s
        .store
        .get(&id)?
        .ok_or_else(|| ApiError::not_found(format!("no accepted record {id}")))?;
    let view = RecordView::from_bytes(&bytes)?;
    let proof = s.store.proof(&id);
    Ok(Json(json!({
        "evidence_root": proof.as_ref().map(|p| p.root),
        "record": view,
        "proof": proof,
    })))
}

pub(crate) async fn proof(
    State(s): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: RecordId = parse("id", &id)?;
    let proof = s
        .store
        .proof(&id)
        .ok_or_else(|| ApiError::not_found(format!("no accepted record {id}")))?;
    Ok(Json(
        json!({ "evidence_root": proof.root, "proof": proof, "valid": proof.verify() }),
    ))
}

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

pub(crate) async fn upload(
    State(s): State<Arc<ApiState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let store = s.store.clone();
    let digest = tokio::task::spawn_blocking(move || store.put_artefact(&body))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({ "digest": digest })))
}

/// Body of `POST /v1/publish`: the record body to sign as the node's next record.
#[derive(Debug, Deserialize)]
pub(crate) struct PublishRequest {
    body: Body,
}

pub(crate) async fn publish(
    State(s): State<Arc<ApiState>>,
    Json(req): Json<PublishRequest>,
) -> Result<Json<Value>, ApiError> {
    let kind = req.body.kind();
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
    Ok(Json(json!({
        "id": id,
        "kind": kind,
        "seq": opened.record.seq,
        "evidence_root": ev.root,
        "records": ev.records,
    })))
}

pub(crate) async fn labs(State(s): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let ev = s.store.evidence();
    let authority = s.store.authority();
    let forks = s.store.forks()?;
    let flagged: Vec<PublicKey> = forks
        .iter()
        .filter_map(|f| f.verify().ok().map(|fork| fork.author))
        .collect();
    let labs: Vec<Value> = authority
        .labs()
        .map(|l| {
            json!({
                "lab": l.key,
                "name": l.name,
                "status": l.status(),
                "accredited_ms": l.accredited_ms,
                "suspensions": l.suspensions,
                "suspension_reasons": l.suspension_reasons,
                "revoked_reason": l.revoked_reason,
                "equivocated": flagged.contains(&l.key),
            })
        })
        .collect();
    Ok(Json(json!({
        "evidence_root": ev.root,
        "owner": authority.owner(),
        "labs": labs,
    })))
}

pub(crate) async fn forks(State(s): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let ev = s.store.evidence();
    let forks: Vec<Value> = s
        .store
        .forks()?
        .iter()
        .filter_map(|p| {
            p.verify().ok().map(|f| {
                json!({
                    "author": f.author,
                    "seq": f.seq,
                    "ids": [f.ids.0, f.ids.1],
                    "proof": hex::encode(p.to_bytes()),
                })
            })
        })
        .collect();
    Ok(Json(json!({ "evidence_root": ev.root, "forks": forks })))
}

/// `POST /v1/envelopes`: an envelope signed elsewhere (e.g. with a key kept offline),
/// validated, stored durably and gossiped like any other.
pub(crate) async fn submit(
    State(s): State<Arc<ApiState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let bytes = body.to_vec();
    let now = crate::publisher::now_ms();
    match crate::publisher::store_one(&s.store, bytes.clone(), now).await? {
        Ok(id) => {
            if let Err(e) = s.net.publish(bytes).await {
                tracing::debug!(%id, "gossip of submitted record: {e}");
            }
            Ok(Json(
                json!({ "id": id, "evidence_root": s.store.evidence().root }),
            ))
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
