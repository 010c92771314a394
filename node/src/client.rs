//! A small blocking client for a node's HTTP API, used by the operator commands and the
//! demo, so that both go through exactly the interface a lab's scripts would use.

use std::{path::Path, time::Duration};

use interlab_protocol::{Body, Digest, Envelope, Opened, RecordId};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    api::types::{
        BlockAnswer, BlockRequest, ComparabilityAnswer, DisputesAnswer, DriftAnswer, ErrorBody,
        ForksAnswer, LabsAnswer, ProofAnswer, PublishAnswer, PublishRequest, RecordAnswer,
        RecordsPage, SigningAnswer, StatusAnswer, SubmitAnswer, SyncAnswer, UploadAnswer,
    },
    config::NodeDir,
    keyfile,
};

/// The part of `node.json` the client needs.
#[derive(Debug, Deserialize)]
struct NodeJson {
    api: String,
}

/// What `GET /v1/comparability` (and `/v1/drift`) should answer about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Suite id (default: the latest published).
    pub suite: Option<Digest>,
    /// Round (default: the latest).
    pub round: Option<u32>,
    /// Include results excluded by an upheld dispute.
    pub include_disputed: bool,
}

impl ReportQuery {
    /// The query string (without `?`).
    fn to_query(self) -> String {
        let mut q = vec![format!("include_disputed={}", self.include_disputed)];
        if let Some(s) = self.suite {
            q.push(format!("suite={s}"));
        }
        if let Some(r) = self.round {
            q.push(format!("round={r}"));
        }
        q.join("&")
    }
}

/// Largest response body read (artefacts are the biggest).
const MAX_RESPONSE: u64 = 80 * 1024 * 1024;

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No API address known.
    #[error("no API address: pass --api URL or --dir DIR of a running node ({0})")]
    NoApi(String),
    /// Transport failure.
    #[error("cannot reach the node at {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The node answered with an error.
    #[error("the node refused ({status} {code}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code (a rejection code for refused records).
        code: String,
        /// The API's message.
        message: String,
    },
    /// The node's answer is not what the API promises.
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
}

/// The format of a rendered round report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One self-contained HTML page.
    Html,
    /// A PDF document.
    Pdf,
}

/// A round report as a node rendered it.
#[derive(Debug, Clone)]
pub struct ReportDocument {
    /// The document's bytes.
    pub bytes: Vec<u8>,
    /// The evidence root it was computed from.
    pub evidence_root: Digest,
    /// The report digest the node named.
    pub report_digest: Digest,
}

/// A connection to one node's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl ApiClient {
    /// A client for `base` (like `http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>, token: Option<String>) -> ApiClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        ApiClient {
            base: base.into().trim_end_matches('/').to_owned(),
            token,
            agent,
        }
    }

    /// A client for the node running from `dir` (reads `node.json` and the token file).
    pub fn for_dir(dir: &Path) -> Result<ApiClient, ClientError> {
        let nd = NodeDir::new(dir);
        let info = std::fs::read(dir.join("node.json"))
            .map_err(|e| ClientError::NoApi(format!("{}: {e}", dir.join("node.json").display())))?;
        let info: NodeJson = serde_json::from_slice(&info)
            .map_err(|e| ClientError::NoApi(format!("node.json: {e}")))?;
        let token = keyfile::load_token(&nd.token()).ok();
        Ok(ApiClient::new(info.api, token))
    }

    /// Replaces the token.
    pub fn with_token(mut self, token: Option<String>) -> ApiClient {
        if token.is_some() {
            self.token = token;
        }
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Reads a whole answer: its headers and bytes on success, the node's [`ErrorBody`]
    /// as [`ClientError::Api`] on an error status.
    fn exchange(
        &self,
        url: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(ureq::http::HeaderMap, Vec<u8>), ClientError> {
        let transport = |e: ureq::Error| ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let mut resp = r.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(transport)?;
        if status >= 400 {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => ClientError::Api {
                    status,
                    code: e.error,
                    message: e.message,
                },
                Err(_) => ClientError::Api {
                    status,
                    code: "unknown".into(),
                    message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
                },
            });
        }
        Ok((resp.headers().clone(), bytes))
    }

    /// Reads a JSON answer as `T` (errors as [`Self::exchange`]).
    fn finish<T: DeserializeOwned>(
        &self,
        url: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let (_, bytes) = self.exchange(url, r)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(format!("{url}: {e}")))
    }

    /// `GET /v1/report`: the round report as the node rendered it, with the evidence root
    /// and report digest it named (`mine`: marked for this node's own lab).
    pub fn report(
        &self,
        suite: &Digest,
        round: u32,
        format: ReportFormat,
        mine: bool,
    ) -> Result<ReportDocument, ClientError> {
        let format = match format {
            ReportFormat::Html => "html",
            ReportFormat::Pdf => "pdf",
        };
        let url = self.url(&format!(
            "/v1/report?suite={suite}&round={round}&format={format}&mine={mine}"
        ));
        let (headers, bytes) = self.exchange(&url, self.agent.get(&url).call())?;
        let header = |name: &str| -> Result<Digest, ClientError> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ClientError::Protocol(format!("{url}: no digest in header {name}")))
        };
        let (evidence_root, report_digest) = (
            header(crate::report::http::ROOT_HEADER)?,
            header(crate::report::http::DIGEST_HEADER)?,
        );
        Ok(ReportDocument {
            bytes,
            evidence_root,
            report_digest,
        })
    }

    /// `GET path` → the typed answer.
    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let r = self.agent.get(&url).call();
        self.finish(&url, r)
    }

    /// `POST path` with a JSON body and the token → the typed answer.
    fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut req = self.agent.post(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req.send_json(body);
        self.finish(&url, r)
    }

    /// `POST path` with raw bytes and the token → the typed answer.
    fn post_bytes<T: DeserializeOwned>(&self, path: &str, bytes: &[u8]) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut req = self.agent.post(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req
            .header("Content-Type", "application/octet-stream")
            .send(bytes);
        self.finish(&url, r)
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusAnswer, ClientError> {
        self.get("/v1/status")
    }

    /// Waits until the node may sign (`GET /v1/signing`, at most the node's peer wait);
    /// the error says what it waits for (catching up on its own chain, no peer yet).
    pub fn signing_ready(&self) -> Result<SigningAnswer, ClientError> {
        self.get("/v1/signing")
    }

    /// Signs and publishes `body` as the node's next record (`POST /v1/publish`).
    pub fn publish(&self, body: &Body) -> Result<PublishAnswer, ClientError> {
        self.post_json("/v1/publish", &PublishRequest { body: body.clone() })
    }

    /// Submits an envelope signed elsewhere (`POST /v1/envelopes`).
    pub fn submit(&self, envelope: &Envelope) -> Result<SubmitAnswer, ClientError> {
        self.post_bytes("/v1/envelopes", &envelope.to_bytes())
    }

    /// `GET /v1/labs`.
    pub fn labs(&self) -> Result<LabsAnswer, ClientError> {
        self.get("/v1/labs")
    }

    /// `GET /v1/forks`.
    pub fn forks(&self) -> Result<ForksAnswer, ClientError> {
        self.get("/v1/forks")
    }

    /// `GET /v1/disputes`.
    pub fn disputes(&self) -> Result<DisputesAnswer, ClientError> {
        self.get("/v1/disputes")
    }

    /// `GET /v1/comparability`.
    pub fn comparability(&self, q: ReportQuery) -> Result<ComparabilityAnswer, ClientError> {
        self.get(&format!("/v1/comparability?{}", q.to_query()))
    }

    /// `GET /v1/drift`.
    pub fn drift(&self, q: ReportQuery) -> Result<DriftAnswer, ClientError> {
        self.get(&format!("/v1/drift?{}", q.to_query()))
    }

    /// `GET /v1/proof/{id}`.
    pub fn proof(&self, id: &RecordId) -> Result<ProofAnswer, ClientError> {
        self.get(&format!("/v1/proof/{id}"))
    }

    /// `GET /v1/records/{id}`: the record with its inclusion proof, as the node shows it.
    pub fn record_answer(&self, id: &RecordId) -> Result<RecordAnswer, ClientError> {
        self.get(&format!("/v1/records/{id}"))
    }

    /// `GET /v1/records?…`: one page (`query` like `kind=run_result&limit=10`).
    pub fn records_page(&self, query: &str) -> Result<RecordsPage, ClientError> {
        self.get(&format!("/v1/records?{query}"))
    }

    /// `POST /v1/admin/block`: the complete set of blocked peers (empty unblocks all).
    pub fn block(&self, peers: Vec<String>) -> Result<BlockAnswer, ClientError> {
        self.post_json("/v1/admin/block", &BlockRequest { peers })
    }

    /// `POST /v1/admin/sync`: one round of anti-entropy now.
    pub fn sync(&self) -> Result<SyncAnswer, ClientError> {
        self.post_json("/v1/admin/sync", &serde_json::Map::new())
    }

    /// Uploads an artefact; checks the digest the node computed.
    pub fn upload(&self, bytes: &[u8]) -> Result<Digest, ClientError> {
        let UploadAnswer { digest } = self.post_bytes("/v1/artefacts", bytes)?;
        let expected = Digest::of(interlab_protocol::domain::ARTEFACT, bytes);
        if digest != expected {
            return Err(ClientError::Protocol(format!(
                "node stored the artefact as {digest}, expected {expected}"
            )));
        }
        Ok(digest)
    }

    /// Downloads an artefact by digest and checks it.
    pub fn artefact(&self, digest: &Digest) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&format!("/v1/artefacts/{digest}"));
        let (_, bytes) = self.exchange(&url, self.agent.get(&url).call())?;
        let got = Digest::of(interlab_protocol::domain::ARTEFACT, &bytes);
        if got != *digest {
            return Err(ClientError::Protocol(format!(
                "artefact {digest} arrived with digest {got}"
            )));
        }
        Ok(bytes)
    }

    /// All accepted records matching `query` (e.g. `kind=run_result&suite=…`), opened and
    /// verified locally from their envelopes.
    pub fn records(&self, query: &str) -> Result<Vec<Opened>, ClientError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/v1/records?limit=500&{query}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page: RecordsPage = self.get(&path)?;
            for r in &page.records {
                out.push(open_served(&r.envelope)?);
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// One record by id.
    pub fn record(&self, id: &RecordId) -> Result<Opened, ClientError> {
        open_served(&self.record_answer(id)?.record.envelope)
    }
}

/// Opens and verifies an envelope the node served in hex: the decoded fields beside it
/// are the node's word, the signed bytes are the evidence.
fn open_served(hex: &str) -> Result<Opened, ClientError> {
    let bytes = hex::decode(hex).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Envelope::open_bytes(&bytes)
        .map_err(|e| ClientError::Protocol(format!("node served an invalid envelope: {e}")))
}
