//! Expensive answers, computed once per (evidence root, query), off the async runtime
//! and behind a limit.
//!
//! - The log snapshot is read once per root ([`LogCache`]), on a blocking thread, grown
//!   from the one before (only new records are decoded); while it is read, other
//!   requests answer from the previous snapshot, named by its root.
//! - Reports are kept in a small bounded map ([`Reports`]) keyed by the snapshot's root
//!   and the normalised query; identical requests that arrive together share one
//!   computation (a `OnceCell` per key). A comparability answer is serialised once, with
//!   its report digest, and served as bytes.
//! - While the report of a newer root is computed, requests for the same query get the
//!   newest finished one, named by its own root (stale while revalidating): under
//!   ingest the root moves many times a second, and readers should neither wait for nor
//!   pile up computations.
//! - At most [`Limits::computations`] computations run at once, on report threads of
//!   lower priority than the node's own work (`workers`); one more is refused with 503
//!   and `Retry-After` rather than queued, so that a flood of distinct queries cannot
//!   starve the node.
//! - A comparability answer is also kept gzip-compressed, for the clients that accept
//!   it: the answer lists every result of the round and is large.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::body::Bytes;

use interlab_protocol::{
    Digest, EvidenceState,
    governance::{Comparability, ComparabilityQuery, DisputeView},
};
use tokio::sync::OnceCell;

use super::workers::{Cell, OffThread, limited};
pub use super::workers::{Limits, WorkersError};
use super::{
    ApiError, ApiState,
    reports::{self, ComparabilityParams},
    types::ComparabilityAnswer,
};
use crate::store::{Snapshot, Store};

/// A computed answer shared by every request that asks for it; serialises as the
/// answer itself.
#[derive(Debug)]
pub struct Shared<T>(Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> Shared<T> {
    /// The answer itself, shared (no copy).
    pub fn arc(&self) -> Arc<T> {
        self.0.clone()
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::Serialize> serde::Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Reports kept per kind (each is small next to the snapshot).
const CACHED_REPORTS: usize = 64;

/// The accepted records, opened, for the store's current root.
#[derive(Debug, Default)]
pub struct LogCache {
    current: Mutex<Option<Arc<Snapshot>>>,
    /// Held while a snapshot is read, so that concurrent readers wait for it instead of
    /// reading the log again.
    reading: Mutex<()>,
    /// Set while a request refreshes the snapshot; the others answer from the last one.
    refreshing: AtomicBool,
}

impl LogCache {
    /// The snapshot for the store's current root, read when the root moved. Blocking:
    /// call it from a blocking thread.
    pub fn snapshot(&self, store: &Store) -> Result<Arc<Snapshot>, ApiError> {
        if let Some(s) = self.fresh(store) {
            return Ok(s);
        }
        let _reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = self.fresh(store) {
            return Ok(s);
        }
        // Grown from the last one: only the records since are read and decoded.
        let snap = Arc::new(store.snapshot_after(self.latest().as_deref())?);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(snap.clone());
        Ok(snap)
    }

    /// The last snapshot read: an answer from it names its own, maybe older, root.
    fn latest(&self) -> Option<Arc<Snapshot>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fresh(&self, store: &Store) -> Option<Arc<Snapshot>> {
        let root = store.evidence().root;
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|s| s.evidence.root == root)
            .cloned()
    }
}

/// A bounded map from key to a value computed once; the oldest key leaves first.
#[derive(Debug)]
struct Bounded<K, V> {
    cells: HashMap<K, Cell<V>>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            cells: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// The cell for `key`, created when absent, and the cells of the oldest keys it
    /// evicted to make room.
    fn cell(&mut self, key: &K) -> (Cell<V>, Vec<Cell<V>>) {
        if let Some(c) = self.cells.get(key) {
            return (c.clone(), Vec::new());
        }
        let mut evicted = Vec::new();
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                evicted.extend(self.cells.remove(&old));
            }
        }
        let cell = Arc::new(OnceCell::new());
        self.cells.insert(key.clone(), cell.clone());
        self.order.push_back(key.clone());
        (cell, evicted)
    }
}

/// A comparability report with its `/v1/comparability` answer, serialised once.
#[derive(Debug)]
pub struct Computed {
    /// The evidence it was computed from.
    pub evidence: EvidenceState,
    /// The report.
    pub value: Arc<Comparability>,
    /// The JSON of [`ComparabilityAnswer`] for it.
    pub json: Bytes,
    /// The same JSON, gzip-compressed.
    pub gzip: Bytes,
}

/// The newest finished comparability per normalised query, and the queries whose
/// report for a newer root is being computed.
#[derive(Debug, Default)]
struct Newest {
    done: HashMap<String, Arc<Computed>>,
    order: VecDeque<String>,
    computing: HashSet<String>,
}

impl Newest {
    /// Keeps `c` as the newest answer to `query`; the answers it replaced.
    fn remember(&mut self, query: &str, c: Arc<Computed>) -> Vec<Arc<Computed>> {
        match self.done.get_mut(query) {
            // Computations may finish out of order: keep the one over more records.
            Some(old) if old.evidence.records > c.evidence.records => vec![c],
            Some(old) => vec![std::mem::replace(old, c)],
            None => {
                let mut replaced = Vec::new();
                while self.order.len() >= CACHED_REPORTS {
                    if let Some(q) = self.order.pop_front() {
                        replaced.extend(self.done.remove(&q));
                    }
                }
                self.done.insert(query.to_owned(), c);
                self.order.push_back(query.to_owned());
                replaced
            }
        }
    }
}

/// Marks a query as being computed until dropped (also when the request is cancelled).
struct Computing<'a> {
    newest: &'a Mutex<Newest>,
    query: String,
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        self.newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .computing
            .remove(&self.query);
    }
}

/// Computed reports by (evidence root, normalised query).
#[derive(Debug)]
pub struct Reports {
    comparability: Mutex<Bounded<(Digest, String), Computed>>,
    newest: Mutex<Newest>,
    disputes: Mutex<Bounded<Digest, Vec<DisputeView>>>,
    documents: Mutex<Bounded<(Digest, String), Document>>,
}

/// A rendered round report: its digest, its number and its bytes (HTML or PDF).
#[derive(Debug)]
pub struct Document {
    /// Report digest.
    pub digest: Digest,
    /// Report number.
    pub number: String,
    /// The rendered bytes.
    pub body: Vec<u8>,
}

impl Default for Reports {
    fn default() -> Reports {
        Reports {
            comparability: Mutex::new(Bounded::new(CACHED_REPORTS)),
            newest: Mutex::default(),
            disputes: Mutex::new(Bounded::new(CACHED_REPORTS)),
            documents: Mutex::new(Bounded::new(CACHED_REPORTS)),
        }
    }
}

/// The query in one canonical spelling, for the cache key.
fn normalised(q: &ComparabilityQuery) -> String {
    let round = q
        .round
        .map_or_else(|| "latest".to_owned(), |r| r.to_string());
    format!("{}/{round}/{}", q.suite, q.include_disputed)
}

/// The current snapshot, read off the async runtime.
pub async fn snapshot(s: &Arc<ApiState>) -> Result<Arc<Snapshot>, ApiError> {
    let state = s.clone();
    if let Some(snap) = s.cache.fresh(&s.store) {
        return Ok(snap);
    }
    let Some(previous) = s.cache.latest() else {
        // Nothing read yet: wait for the first read.
        return limited(&s.limits, move || state.cache.snapshot(&state.store)).await;
    };
    // While ingest moves the root, one request reads the log and the others answer from
    // the snapshot before (each answer names the root it was computed from); so does a
    // request that finds no computation permit free.
    let Some(_refreshing) = Refreshing::claim(&s.cache) else {
        return Ok(previous);
    };
    match limited(&s.limits, move || state.cache.snapshot(&state.store)).await {
        Err(e) if e.is_busy() => Ok(previous),
        other => {
            // The cache holds the new snapshot now; the old one may have no other holder.
            s.limits.retire(previous);
            other
        }
    }
}

/// Marks the snapshot as being refreshed until dropped.
struct Refreshing<'a>(&'a LogCache);

impl<'a> Refreshing<'a> {
    fn claim(cache: &'a LogCache) -> Option<Refreshing<'a>> {
        (!cache.refreshing.swap(true, Ordering::SeqCst)).then_some(Refreshing(cache))
    }
}

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::SeqCst);
    }
}

/// The comparability a query asks for, with the evidence it was computed from: for the
/// current root when it is computed (or nobody computes it yet), else the newest
/// finished one while another request computes the current one.
pub async fn answer(s: &Arc<ApiState>, p: &ComparabilityParams) -> Result<Arc<Computed>, ApiError> {
    let snap = OffThread::new(snapshot(s).await?, &s.limits);
    let q = reports::parse_query(p, &snap)?;
    super::hygiene::check_round(&snap, &q)?;
    let query = normalised(&q);
    let key = (snap.evidence.root, query.clone());
    let (cell, evicted) = s
        .reports
        .comparability
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .cell(&key);
    evicted.into_iter().for_each(|c| s.limits.retire_cell(c));
    if let Some(c) = cell.get() {
        return Ok(c.clone());
    }
    let _computing = {
        let mut newest = s
            .reports
            .newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if newest.computing.insert(query.clone()) {
            Some(Computing {
                newest: &s.reports.newest,
                query: query.clone(),
            })
        } else {
            if let Some(newest) = newest.done.get(&query) {
                return Ok(newest.clone());
            }
            // Nothing finished yet for this query: wait for (or share) a computation.
            None
        }
    };
    let computed = cell
        .get_or_try_init(|| {
            let snap = snap.arc();
            limited(&s.limits, move || compute_answer(&snap, &q).map(Arc::new))
        })
        .await;
    let c = match computed {
        Ok(c) => c.clone(),
        // Every permit is taken: the newest finished answer, if there is one.
        Err(e) if e.is_busy() => {
            let newest = s
                .reports
                .newest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .done
                .get(&query)
                .cloned();
            return newest.ok_or(e);
        }
        Err(e) => return Err(e),
    };
    let replaced = s
        .reports
        .newest
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remember(&query, c.clone());
    replaced.into_iter().for_each(|c| s.limits.retire(c));
    Ok(c)
}

/// The report of `q` over `snap`, its digest, and its answer serialised.
fn compute_answer(snap: &Snapshot, q: &ComparabilityQuery) -> Result<Computed, ApiError> {
    let value = Arc::new(reports::compute(snap, q)?);
    let report_digest = interlab_protocol::report_digest(&value).map_err(ApiError::internal)?;
    let json = serde_json::to_vec(&ComparabilityAnswer {
        evidence: snap.evidence.clone(),
        evidence_root: snap.evidence.root,
        report_digest,
        comparability: value.clone(),
    })
    .map_err(ApiError::internal)?;
    let gzip = super::encoding::gzip(&json).map_err(ApiError::internal)?;
    Ok(Computed {
        evidence: snap.evidence.clone(),
        value,
        json: Bytes::from(json),
        gzip: Bytes::from(gzip),
    })
}

/// A rendered document of the snapshot `snap`, computed once per (root, `key`) under
/// the same limit as every report.
pub async fn document<F>(
    s: &Arc<ApiState>,
    snap: &Snapshot,
    key: String,
    render: F,
) -> Result<Arc<Document>, ApiError>
where
    F: FnOnce() -> Result<Document, ApiError> + Send + 'static,
{
    let (cell, evicted) = s
        .reports
        .documents
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .cell(&(snap.evidence.root, key));
    evicted.into_iter().for_each(|c| s.limits.retire_cell(c));
    let d = cell
        .get_or_try_init(|| limited(&s.limits, move || render().map(Arc::new)))
        .await?
        .clone();
    Ok(d)
}

/// The disputes of the current snapshot, computed once per root.
pub async fn disputes(
    s: &Arc<ApiState>,
) -> Result<(Arc<Snapshot>, Shared<Vec<DisputeView>>), ApiError> {
    let snap = snapshot(s).await?;
    let (cell, evicted) = s
        .reports
        .disputes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .cell(&snap.evidence.root);
    evicted.into_iter().for_each(|c| s.limits.retire_cell(c));
    let d = cell
        .get_or_try_init(|| {
            let snap = snap.clone();
            limited(&s.limits, move || {
                Ok(Arc::new(reports::all_disputes(&snap)))
            })
        })
        .await?
        .clone();
    Ok((snap, Shared(d)))
}

#[cfg(test)]
mod tests {
    use super::Bounded;

    #[test]
    fn the_bounded_map_forgets_its_oldest_key_first() {
        let mut m: Bounded<u32, u32> = Bounded::new(2);
        let (a, _) = m.cell(&1);
        assert!(a.set(std::sync::Arc::new(10)).is_ok());
        m.cell(&2);
        assert!(m.cell(&1).0.get().is_some(), "key 1 is still cached");
        let (_, evicted) = m.cell(&3);
        assert_eq!(m.cells.len(), 2);
        assert_eq!(evicted.len(), 1, "one key made room");
        assert_eq!(
            evicted[0].get().map(|v| **v),
            Some(10),
            "it was key 1, the oldest"
        );
        assert!(m.cell(&1).0.get().is_none(), "key 1 was evicted first");
    }
}
