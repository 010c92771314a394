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
//! use interlab_node::store::Store;
//! use interlab_protocol::testkit::Workload;
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
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use interlab_protocol::{
    Authority, Digest, Envelope, EvidenceState, EvidenceTree, ForkProof, ForkProofError,
    FrontierEntry, Head, InclusionProof, PublicKey, Record, RecordId, Rejection, SchemeId, domain,
};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

mod cache;
mod check;
mod damage;
#[cfg(test)]
mod damage_tests;
mod ingest;
#[cfg(test)]
mod layout_tests;
mod migrate;
mod published;
mod query;
mod scan;
mod scrub;
mod skim;
mod snapshot;
mod tables;
#[cfg(test)]
mod tests;

pub use check::CheckReport;
pub use damage::{Damage, DamagedRecord};
pub use ingest::{Incoming, Prepared};
pub use published::{Published, PublishedSuite};
pub use query::RecordFilter;
pub use scan::Level as CheckLevel;
pub use scrub::{ScrubConfig, ScrubStep};
pub use snapshot::Snapshot;

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
    /// Evidence state and tree of one cache generation.
    evidence: Mutex<Option<EvidenceSlot>>,
    /// Records quarantined while the store was open (the network re-reads the frontier
    /// when this moves).
    quarantines: AtomicU64,
    /// Odd while a change readers must not see half-done is under way (see
    /// [`snapshot`]).
    publish_seq: AtomicU64,
}

/// The evidence state of one cache generation and the Merkle tree it names.
#[derive(Clone)]
struct EvidenceSlot {
    generation: u64,
    state: EvidenceState,
    tree: Arc<EvidenceTree>,
}

/// How [`Store::open_with_progress`] reports the open-time check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpenProgress {
    /// Nothing is shown.
    #[default]
    Quiet,
    /// A progress bar on standard error, for stores of at least
    /// [`PROGRESS_BAR_RECORDS`] records and only when standard error is a terminal.
    Terminal,
}

/// Stores with at least this many records get a progress bar while they are checked.
pub const PROGRESS_BAR_RECORDS: u64 = 200_000;

impl OpenProgress {
    /// A callback for the scan: records done, records in total.
    pub(crate) fn reporter(self) -> Box<dyn FnMut(u64, u64)> {
        match self {
            OpenProgress::Quiet => Box::new(|_, _| {}),
            OpenProgress::Terminal => {
                let mut bar: Option<indicatif::ProgressBar> = None;
                Box::new(move |done, total| {
                    if total < PROGRESS_BAR_RECORDS {
                        return;
                    }
                    let b = bar.get_or_insert_with(|| {
                        let b = indicatif::ProgressBar::new(total);
                        b.set_style(
                            indicatif::ProgressStyle::with_template(
                                "checking store {bar:30} {pos}/{len} records [{elapsed}]",
                            )
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                        );
                        b
                    });
                    b.set_position(done);
                    if done >= total {
                        b.finish_and_clear();
                    }
                })
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating it when absent, checks every record and
    /// rebuilds the in-memory caches (authority, chain heads, accepted ids) from disk.
    ///
    /// The check re-hashes every record id from the stored bytes, reads every record,
    /// compares it with its stored summary and position, and checks every chain link
    /// (prev and time); signatures are left to [`Store::check`] and the scrub. A damaged
    /// record does not stop the store from opening: it is quarantined (see
    /// [`Store::damaged`]). Damage to the file's own structure is an error.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_progress(path, OpenProgress::Quiet)
    }

    /// [`Store::open`], reporting the check's progress.
    pub fn open_with_progress(path: &Path, progress: OpenProgress) -> Result<Store, StoreError> {
        Store::open_checked(path, progress, CheckLevel::Records)
    }

    /// [`Store::open`] with the check at `level`. Anything but
    /// [`CheckLevel::Records`] is for measuring: `SummariesOnly` believes every stored
    /// summary (what opening did before the check existed), `Signatures` verifies every
    /// signature on top.
    pub fn open_checked(
        path: &Path,
        progress: OpenProgress,
        level: CheckLevel,
    ) -> Result<Store, StoreError> {
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
                txn.open_table(tables::DAMAGED)?;
            }
            txn.commit()?;
        }
        let cache = load_cache(&db, level, &mut *progress.reporter())?;
        for d in cache.damaged() {
            tracing::warn!("store: record {d}; quarantined until a peer sends a good copy");
        }
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path: path.to_owned(),
                writer: Mutex::new(()),
                cache: RwLock::new(cache),
                evidence: Mutex::new(None),
                quarantines: AtomicU64::new(0),
                publish_seq: AtomicU64::new(0),
            }),
        })
    }

    /// Damaged records, by author and seq. Each one is quarantined: neither it nor the
    /// later records of its chain are counted or served until a good copy of it arrives.
    pub fn damaged(&self) -> Vec<DamagedRecord> {
        self.cache().damaged()
    }

    /// Intact records held behind damaged ones (not counted or served until the damage
    /// is repaired).
    pub fn held(&self) -> u64 {
        self.cache().holds.values().map(cache::Hold::held).sum()
    }

    /// How many records were quarantined since the store was opened (moves when the
    /// scrub finds damage; the network then re-reads the frontier).
    pub fn quarantines(&self) -> u64 {
        self.inner.quarantines.load(Ordering::Relaxed)
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
        self.evidence_slot().state
    }

    /// The evidence state and its Merkle tree, computed once per change; the tree is
    /// built after the cache's read lock is released, so no commit waits for hashing.
    fn evidence_slot(&self) -> EvidenceSlot {
        let mut slot = self
            .inner
            .evidence
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (generation, ids, frontier) = {
            let cache = self.cache();
            if let Some(s) = slot.as_ref()
                && s.generation == cache.generation
            {
                return s.clone();
            }
            (cache.generation, cache.unsorted_ids(), cache.frontier())
        };
        let tree = EvidenceTree::new(&ids);
        let s = EvidenceSlot {
            generation,
            state: EvidenceState {
                root: tree.root(),
                records: tree.len() as u64,
                frontier,
            },
            tree: Arc::new(tree),
        };
        *slot = Some(s.clone());
        s
    }

    /// Chain heads, sorted by author.
    pub fn frontier(&self) -> Vec<FrontierEntry> {
        self.cache().frontier()
    }

    /// The head of one author's chain: the highest position this store holds for it.
    /// When the chain has damaged records this is above the chain the store counts and
    /// serves ([`Store::frontier`]), so that the node's own key never signs again at a
    /// position it once held (such a record is refused as a gap until the damage is
    /// repaired).
    pub fn head(&self, author: &PublicKey) -> Option<Head> {
        let cache = self.cache();
        match cache.holds.get(author) {
            Some(hold) => Some(hold.top),
            None => cache.heads.get(author).copied(),
        }
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

    /// The scheme this store belongs to: [`Store::scheme`]'s id, or, while the stored
    /// genesis is damaged, the id it was stored under (so that the network fetches it
    /// again).
    pub fn wanted_scheme(&self) -> Option<SchemeId> {
        let cache = self.cache();
        cache.authority.scheme().map(|(s, _)| s).or(cache.genesis)
    }

    /// Inclusion proof of an accepted record against the current evidence root.
    /// Read from the tree kept for the current root: no id is hashed again.
    pub fn proof(&self, id: &RecordId) -> Option<InclusionProof> {
        self.evidence_slot().tree.proof(id)
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
        let _publishing = self.publishing();
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

    /// How many fork proofs are stored (without reading them; for `/v1/status`).
    pub fn fork_count(&self) -> Result<u64, StoreError> {
        let txn = self.inner.db.begin_read()?;
        Ok(txn.open_table(tables::FORKS)?.len()?)
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

/// Rebuilds the cache in one checked pass over the records table ([`scan`]): ids and
/// record summaries of the backed records, heads, damaged chains; then the authority
/// from the owner's backed chain (the only records decoded in full).
fn load_cache(
    db: &Database,
    level: CheckLevel,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Cache, StoreError> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(tables::META)?;
    let records = txn.open_table(tables::RECORDS)?;
    let recorded = recorded_damage(&txn.open_table(tables::DAMAGED)?)?;
    let mut cache = Cache::default();
    let scanned = scan::scan(&records, &recorded, level, progress, |pos, summary| {
        cache.push(pos, summary)
    })?;
    cache.heads = scanned.heads;
    cache.holds = scanned.holds;
    if let Some(g) = meta.get(tables::META_GENESIS)? {
        let genesis = Digest(
            g.value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("the genesis id is not 32 bytes".into()))?,
        );
        // A damaged genesis leaves the scheme unknown until a peer sends it again.
        cache.genesis = Some(genesis);
        if let Some((owner, _)) = cache.ids.get(&genesis).copied() {
            cache.authority = authority_of(&records, &owner, cache.backed_len(&owner))?;
        }
    }
    Ok(cache)
}

/// The authority from the owner's first `len` records.
fn authority_of<T>(records: &T, owner: &PublicKey, len: u64) -> Result<Authority, StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let mut authority = Authority::default();
    if len == 0 {
        return Ok(authority);
    }
    let lo = tables::pos_key(owner, 0);
    let hi = tables::pos_key(owner, len - 1);
    for item in records.range(&lo[..]..=&hi[..])? {
        let (_, v) = item?;
        let (env, rec) = decode_stored(tables::envelope_of(v.value())?)?;
        // Revocations were applied to the tables when the record was written.
        let _ = authority.apply(env.id(), &rec);
    }
    Ok(authority)
}

/// The damage the scrub recorded, by position.
fn recorded_damage<T>(table: &T) -> Result<BTreeMap<cache::Pos, String>, StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let mut out = BTreeMap::new();
    for item in table.iter()? {
        let (k, v) = item?;
        if let Some(pos) = tables::split_pos(k.value()) {
            out.insert(pos, String::from_utf8_lossy(v.value()).into_owned());
        }
    }
    Ok(out)
}

/// Result of ingesting one envelope: its id, or why it was not accepted.
pub type IngestResult = Result<RecordId, Rejection>;
