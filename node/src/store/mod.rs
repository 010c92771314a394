//! The node's durable evidence store, on `redb`.
//!
//! One writer at a time, one write transaction per batch, and a reply to the caller only
//! after `commit()` has returned: a record this store acknowledged survives `kill -9`.
//! Acceptance follows [`MemoryLog`](interlab_protocol::MemoryLog) exactly (same
//! validation, same revocation quarantine, same fork proofs), so a node and the offline
//! verifier name the same evidence root for the same records.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use interlab_node::store::{Store, synth::Workload};
//!
//! let dir = std::env::temp_dir().join(format!("interlab-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let store = Store::open(&dir.join("store.redb"))?;
//! let mut work = Workload::new(7, 3);
//! let batch = work.take(20);
//! let results = store.ingest(&batch, work.now_ms())?;
//! assert!(results.iter().all(|r| r.is_ok()));
//! assert_eq!(store.evidence().records, 20);
//! # drop(store);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard},
};

use interlab_protocol::{
    Authority, Digest, Envelope, EvidenceState, ForkProof, ForkProofError, FrontierEntry, Head,
    InclusionProof, PublicKey, Record, RecordId, Rejection, SchemeId, domain,
};
use redb::{Database, ReadableDatabase, ReadableTable};

mod cache;
mod check;
mod ingest;
#[cfg(test)]
mod layout_tests;
mod migrate;
mod query;
pub mod synth;
mod tables;
#[cfg(test)]
mod tests;

pub use check::CheckReport;
pub use ingest::Prepared;
pub use query::RecordFilter;

use cache::Cache;

/// Largest artefact the store keeps (datasets and model weights of reference suites).
pub const MAX_ARTEFACT_BYTES: usize = 64 * 1024 * 1024;

/// Why a store operation failed. A rejected record is not an error: see [`Rejection`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What redb said.
        source: redb::Error,
    },
    /// A database operation failed.
    #[error("store: {0}")]
    Db(#[from] redb::Error),
    /// The stored data contradicts itself.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The file was written by another layout version.
    #[error("store layout version {found} is not the version {expected} this node reads")]
    Layout {
        /// Version in the file.
        found: u32,
        /// Version this code writes.
        expected: u32,
    },
    /// An artefact over the size bound.
    #[error("artefact is {len} bytes, over the limit of {max} bytes")]
    ArtefactTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A fork proof that does not prove a fork.
    #[error("invalid fork proof: {0}")]
    BadForkProof(#[from] ForkProofError),
    /// A thread panicked while holding the writer lock.
    #[error("a writer panicked earlier; reopen the store")]
    Poisoned,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A handle to the store; clones share one database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    /// Serialises writers (redb has one writer; this also guards the overlay protocol).
    writer: Mutex<()>,
    cache: RwLock<Cache>,
    /// Evidence state of cache generation `.0`.
    evidence: Mutex<Option<(u64, EvidenceState)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating it when absent, and rebuilds the in-memory
    /// caches (authority, chain heads, accepted ids) from disk.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source: redb::Error| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let db = Database::create(path).map_err(|e| open_err(e.into()))?;
        {
            let txn = db.begin_write()?;
            {
                let mut meta = txn.open_table(tables::META)?;
                let found = meta
                    .get(tables::META_LAYOUT)?
                    .map(|v| decode_u32(v.value()));
                match found {
                    None => {}
                    Some(Some(v)) if v == tables::LAYOUT_VERSION => {}
                    Some(Some(1)) => migrate::from_v1(&txn)?,
                    Some(v) => {
                        return Err(StoreError::Layout {
                            found: v.unwrap_or(0),
                            expected: tables::LAYOUT_VERSION,
                        });
                    }
                }
                meta.insert(
                    tables::META_LAYOUT,
                    &tables::LAYOUT_VERSION.to_be_bytes()[..],
                )?;
                // Create every table so that readers never meet a missing one.
                txn.open_table(tables::RECORDS)?;
                txn.open_table(tables::HEADS)?;
                txn.open_table(tables::FORKS)?;
                txn.open_table(tables::QUARANTINE)?;
                txn.open_table(tables::ARTEFACTS)?;
            }
            txn.commit()?;
        }
        let cache = load_cache(&db)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path: path.to_owned(),
                writer: Mutex::new(()),
                cache: RwLock::new(cache),
                evidence: Mutex::new(None),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        // The cache is only changed by `Cache::apply`, which cannot leave it half-done.
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn writer(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        self.inner.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Evidence root over the accepted ids, their count and the frontier. The root is
    /// cached until the next change.
    pub fn evidence(&self) -> EvidenceState {
        let cache = self.cache();
        let mut slot = self
            .inner
            .evidence
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((generation, ev)) = slot.as_ref()
            && *generation == cache.generation
        {
            return ev.clone();
        }
        let ev = cache.evidence();
        *slot = Some((cache.generation, ev.clone()));
        ev
    }

    /// Chain heads, sorted by author.
    pub fn frontier(&self) -> Vec<FrontierEntry> {
        self.cache().frontier()
    }

    /// The head of one author's chain.
    pub fn head(&self, author: &PublicKey) -> Option<Head> {
        self.cache().heads.get(author).copied()
    }

    /// Number of accepted records.
    pub fn len(&self) -> usize {
        self.cache().ids.len()
    }

    /// Whether no record is accepted.
    pub fn is_empty(&self) -> bool {
        self.cache().ids.is_empty()
    }

    /// Whether a record is accepted.
    pub fn contains(&self, id: &RecordId) -> bool {
        self.cache().ids.contains_key(id)
    }

    /// The authority derived from the owner's records.
    pub fn authority(&self) -> Authority {
        self.cache().authority.clone()
    }

    /// The scheme id and owner, once the genesis is stored.
    pub fn scheme(&self) -> Option<(SchemeId, PublicKey)> {
        self.cache().authority.scheme()
    }

    /// Inclusion proof of an accepted record against the current evidence root.
    pub fn proof(&self, id: &RecordId) -> Option<InclusionProof> {
        let ids = self.cache().sorted_ids();
        InclusionProof::build(&ids, id)
    }

    /// Stores a verified fork proof; `true` when it was new.
    pub fn add_fork(&self, proof: &ForkProof) -> Result<bool, StoreError> {
        let fork = proof.verify()?;
        let key = tables::fork_key(&fork.author, fork.seq, &fork.ids.0, &fork.ids.1);
        let _w = self.writer()?;
        let txn = self.inner.db.begin_write()?;
        let new = {
            let mut forks = txn.open_table(tables::FORKS)?;
            let new = forks.get(&key[..])?.is_none();
            if new {
                forks.insert(&key[..], &proof.to_bytes()[..])?;
            }
            new
        };
        txn.commit()?;
        Ok(new)
    }

    /// Every stored fork proof, by author and seq.
    pub fn forks(&self) -> Result<Vec<ForkProof>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(tables::FORKS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            let (_, v) = item?;
            let proof = ForkProof::decode(v.value())
                .map_err(|e| StoreError::Corrupt(format!("stored fork proof: {e}")))?;
            out.push(proof);
        }
        Ok(out)
    }

    /// Stores an artefact under its BLAKE3 digest (artefact domain); returns the digest.
    pub fn put_artefact(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        if bytes.len() > MAX_ARTEFACT_BYTES {
            return Err(StoreError::ArtefactTooLarge {
                len: bytes.len(),
                max: MAX_ARTEFACT_BYTES,
            });
        }
        let digest = Digest::of(domain::ARTEFACT, bytes);
        if self.has_artefact(&digest)? {
            return Ok(digest);
        }
        let _w = self.writer()?;
        let txn = self.inner.db.begin_write()?;
        {
            let mut table = txn.open_table(tables::ARTEFACTS)?;
            table.insert(&digest.as_bytes()[..], bytes)?;
        }
        txn.commit()?;
        Ok(digest)
    }

    /// The artefact with this digest; its bytes are re-hashed before they are returned.
    pub fn artefact(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(tables::ARTEFACTS)?;
        let Some(v) = table.get(&digest.as_bytes()[..])? else {
            return Ok(None);
        };
        let bytes = v.value().to_vec();
        let found = Digest::of(domain::ARTEFACT, &bytes);
        if found != *digest {
            return Err(StoreError::Corrupt(format!(
                "artefact {digest} hashes to {found}"
            )));
        }
        Ok(Some(bytes))
    }

    /// Whether an artefact with this digest is stored.
    pub fn has_artefact(&self, digest: &Digest) -> Result<bool, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(tables::ARTEFACTS)?;
        Ok(table.get(&digest.as_bytes()[..])?.is_some())
    }
}

fn decode_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

/// Decodes a stored envelope and its record without re-checking the signature (it was
/// checked before the record was written).
pub(crate) fn decode_stored(bytes: &[u8]) -> Result<(Envelope, Record), StoreError> {
    let env = Envelope::decode(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored envelope does not decode: {e}")))?;
    let rec = Record::from_canonical(&env.body).map_err(|e| {
        StoreError::Corrupt(format!("stored record {} does not decode: {e}", env.id()))
    })?;
    Ok((env, rec))
}

/// Rebuilds the cache: ids and record summaries from the records table (no CBOR is
/// decoded but the owner's records), authority from the owner's chain, heads from their
/// table.
fn load_cache(db: &Database) -> Result<Cache, StoreError> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(tables::META)?;
    let records = txn.open_table(tables::RECORDS)?;
    let heads_table = txn.open_table(tables::HEADS)?;
    let mut cache = Cache::default();
    for item in records.iter()? {
        let (k, v) = item?;
        let pos = tables::split_pos(k.value())
            .ok_or_else(|| StoreError::Corrupt("record key is not 40 bytes".into()))?;
        let (summary, _) = tables::split_record(v.value())?;
        cache.push(pos, &summary)?;
    }
    if let Some(g) = meta.get(tables::META_GENESIS)? {
        let genesis = Digest(
            g.value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("the genesis id is not 32 bytes".into()))?,
        );
        let (owner, _) = *cache
            .ids
            .get(&genesis)
            .ok_or_else(|| StoreError::Corrupt("the genesis record is not stored".into()))?;
        let lo = tables::pos_key(&owner, 0);
        let hi = tables::pos_key(&owner, u64::MAX);
        for item in records.range(&lo[..]..=&hi[..])? {
            let (_, v) = item?;
            let (env, rec) = decode_stored(tables::envelope_of(v.value())?)?;
            // Revocations were applied to the tables when the record was written.
            let _ = cache.authority.apply(env.id(), &rec);
        }
    }
    for item in heads_table.iter()? {
        let (k, v) = item?;
        let author: [u8; 32] = k
            .value()
            .try_into()
            .map_err(|_| StoreError::Corrupt("head key is not 32 bytes".into()))?;
        let (seq, id, time_ms) = tables::split_head(v.value())
            .ok_or_else(|| StoreError::Corrupt("head value is not 48 bytes".into()))?;
        cache
            .heads
            .insert(PublicKey(author), Head { seq, id, time_ms });
    }
    Ok(cache)
}

/// Result of ingesting one envelope: its id, or why it was not accepted.
pub type IngestResult = Result<RecordId, Rejection>;
