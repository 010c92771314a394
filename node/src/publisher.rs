//! Signing the node's own records: one writer per key, so that two API calls never take
//! the same seq (which would be an equivocation by our own hand).

use std::time::{SystemTime, UNIX_EPOCH};

use interlab_protocol::{Body, Envelope, RECORD_VERSION, Record, RecordId, Rejection, SecretKey};
use tokio::sync::Mutex;

use crate::{
    net::{NetClient, NetError},
    store::{Store, StoreError},
};

/// Why a record could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The log refuses the record (e.g. a lab asking to accredit).
    #[error("the record was refused: {0}")]
    Rejected(Rejection),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking store task did not finish.
    #[error("store task failed: {0}")]
    Task(String),
    /// The node has not joined a scheme yet.
    #[error(
        "this node has no scheme yet (create one or start with --scheme and a peer that has it)"
    )]
    NoScheme,
}

/// Validates and durably stores one envelope off the async threads. The outer error is
/// the store's; the inner result is the log's verdict on the record.
pub async fn store_one(
    store: &Store,
    bytes: Vec<u8>,
    now_ms: u64,
) -> Result<Result<RecordId, Rejection>, PublishError> {
    let store = store.clone();
    let mut results = tokio::task::spawn_blocking(move || store.ingest(&[bytes], now_ms))
        .await
        .map_err(|e| PublishError::Task(e.to_string()))??;
    results
        .pop()
        .ok_or_else(|| PublishError::Task("the store returned no verdict".into()))
}

/// Current wall-clock time in ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Signs records with the node's key at the next position of its chain, stores them
/// durably and gossips them.
#[derive(Debug)]
pub struct Publisher {
    key: SecretKey,
    store: Store,
    net: Option<NetClient>,
    lock: Mutex<()>,
}

impl Publisher {
    /// A publisher for `key` over `store`, gossiping through `net` when given.
    pub fn new(key: SecretKey, store: Store, net: Option<NetClient>) -> Publisher {
        Publisher {
            key,
            store,
            net,
            lock: Mutex::new(()),
        }
    }

    /// The node's public key.
    pub fn public(&self) -> interlab_protocol::PublicKey {
        self.key.public()
    }

    /// Signs `body` as the next record of this node's chain, stores it (durably) and
    /// gossips it. Returns only after the store has committed.
    pub async fn publish(&self, body: Body) -> Result<(RecordId, Envelope), PublishError> {
        let _guard = self.lock.lock().await;
        let is_genesis = matches!(body, Body::SchemeGenesis { .. });
        let scheme = match self.store.scheme() {
            Some((id, _)) => Some(id),
            None if is_genesis => None,
            None => return Err(PublishError::NoScheme),
        };
        let me = self.key.public();
        let head = self.store.head(&me);
        let now = now_ms();
        let record = Record {
            v: RECORD_VERSION,
            author: me,
            scheme: if is_genesis { None } else { scheme },
            seq: head.map_or(0, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            time_ms: head.map_or(now, |h| now.max(h.time_ms)),
            body,
        };
        let envelope = Envelope::seal(&self.key, &record);
        let bytes = envelope.to_bytes();
        let id = store_one(&self.store, bytes.clone(), now)
            .await?
            .map_err(PublishError::Rejected)?;
        if let Some(net) = &self.net {
            // Gossip is best effort: with no peers yet, catch-up delivers it later.
            if let Err(e) = net.publish(bytes).await
                && !matches!(e, NetError::Publish(_))
            {
                tracing::warn!(%id, "gossip of own record failed: {e}");
            }
        }
        Ok((id, envelope))
    }
}
