//! A small blocking client for a node's HTTP API, used by the operator commands and the
//! demo, so that both go through exactly the interface a lab's scripts would use.

use std::{path::Path, time::Duration};

use interlab_protocol::{Body, Digest, Envelope, Opened, RecordId};
use serde_json::Value;

use crate::{config::NodeDir, keyfile};

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
        let info: Value = serde_json::from_slice(&info)
            .map_err(|e| ClientError::NoApi(format!("node.json: {e}")))?;
        let api = info["api"]
            .as_str()
            .ok_or_else(|| ClientError::NoApi("node.json has no `api`".into()))?;
        let token = keyfile::load_token(&nd.token()).ok();
        Ok(ApiClient::new(api, token))
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

    fn finish(
        &self,
        url: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut resp = r.map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let value: Value = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_json()
            .map_err(|e| ClientError::Protocol(format!("{url}: {e}")))?;
        if status >= 400 {
            return Err(ClientError::Api {
                status,
                code: value["error"].as_str().unwrap_or("unknown").to_owned(),
                message: value["message"].as_str().unwrap_or("").to_owned(),
            });
        }
        Ok(value)
    }

    /// `GET path` → JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = self.url(path);
        let r = self.agent.get(&url).call();
        self.finish(&url, r)
    }

    /// `POST path` with a JSON body and the token → JSON.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(path);
        let mut req = self.agent.post(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req.send_json(body);
        self.finish(&url, r)
    }

    /// Waits until the node may sign (`GET /v1/signing`, at most the node's peer wait);
    /// the error says what it waits for (catching up on its own chain, no peer yet).
    pub fn signing_ready(&self) -> Result<Value, ClientError> {
        self.get("/v1/signing")
    }

    /// Signs and publishes `body` as the node's next record.
    pub fn publish(&self, body: &Body) -> Result<Value, ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.post_json("/v1/publish", &serde_json::json!({ "body": body }))
    }

    /// `POST path` with raw bytes and the token → JSON.
    pub fn post_bytes(&self, path: &str, bytes: &[u8]) -> Result<Value, ClientError> {
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

    /// Submits an envelope signed elsewhere.
    pub fn submit(&self, envelope: &Envelope) -> Result<Value, ClientError> {
        self.post_bytes("/v1/envelopes", &envelope.to_bytes())
    }

    /// Uploads an artefact; checks the digest the node computed.
    pub fn upload(&self, bytes: &[u8]) -> Result<Digest, ClientError> {
        let v = self.post_bytes("/v1/artefacts", bytes)?;
        let digest: Digest = v["digest"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| ClientError::Protocol("upload answer has no digest".into()))?;
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
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
        if resp.status().as_u16() >= 400 {
            return self
                .finish(&url, Ok(resp))
                .and_then(|_| Err(ClientError::Protocol(format!("{url}: error status"))));
        }
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
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
            let v = self.get(&path)?;
            let list = v["records"]
                .as_array()
                .ok_or_else(|| ClientError::Protocol("records answer has no list".into()))?;
            for r in list {
                let hex = r["envelope"]
                    .as_str()
                    .ok_or_else(|| ClientError::Protocol("record without envelope".into()))?;
                let bytes = hex::decode(hex).map_err(|e| ClientError::Protocol(e.to_string()))?;
                let opened = Envelope::open_bytes(&bytes).map_err(|e| {
                    ClientError::Protocol(format!("node served an invalid envelope: {e}"))
                })?;
                out.push(opened);
            }
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
        Ok(out)
    }

    /// One record by id.
    pub fn record(&self, id: &RecordId) -> Result<Opened, ClientError> {
        let v = self.get(&format!("/v1/records/{id}"))?;
        let hex = v["record"]["envelope"]
            .as_str()
            .ok_or_else(|| ClientError::Protocol("record without envelope".into()))?;
        let bytes = hex::decode(hex).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Envelope::open_bytes(&bytes)
            .map_err(|e| ClientError::Protocol(format!("node served an invalid envelope: {e}")))
    }
}
