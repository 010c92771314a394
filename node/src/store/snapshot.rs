//! One consistent read of the log: evidence, accepted records (opened), fork proofs and
//! authority, all from one redb read transaction and the in-memory cache state that
//! matches it.
//!
//! Writers bump a sequence counter to an odd value before they commit and back to even
//! after the in-memory cache has caught up (a seqlock). A reader copies what it needs
//! from the cache, begins its read transaction, and keeps the pair only when the counter
//! was even and unchanged across both: then no commit happened in between, and the
//! transaction holds exactly the state the cache describes. Stored records were verified
//! when they were written; they are decoded here, not verified again.
//!
//! A snapshot can grow from the one before ([`Store::snapshot_after`]): records are
//! shared (`Arc`), and of each chain only the records past the earlier snapshot's are
//! read and decoded. Under ingest the root moves many times a second, and re-decoding
//! the whole log for each move was most of what report threads did.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use interlab_protocol::{
    Authority, Envelope, EvidenceState, Fork, ForkProof, Opened, PublicKey, Record,
};
use redb::{ReadTransaction, ReadableDatabase, ReadableTable};

use super::{Inner, Store, StoreError, published::Published, tables};

/// The log at one evidence root, read in one transaction.
#[derive(Debug)]
pub struct Snapshot {
    /// Root, count and frontier of exactly [`Snapshot::records`].
    pub evidence: EvidenceState,
    /// Accepted records in (author, seq) order, shared with the snapshots it grew from
    /// or grows into.
    pub records: Vec<Arc<Opened>>,
    /// Stored fork proofs (each was verified before it was stored), by author and seq.
    pub forks: Vec<Fork>,
    /// Authors with a fork proof.
    pub equivocators: BTreeSet<PublicKey>,
    /// Authority derived from the owner's records.
    pub authority: Authority,
    /// The published suites and the rounds named, found once.
    pub published: Published,
}

impl Snapshot {
    /// A snapshot of `records` (accepted, in (author, seq) order) at `evidence`, with
    /// the stored fork proofs and the authority; the equivocators and the published
    /// suites are derived from them.
    pub fn new(
        evidence: EvidenceState,
        records: Vec<Arc<Opened>>,
        forks: Vec<Fork>,
        authority: Authority,
    ) -> Snapshot {
        Snapshot {
            equivocators: forks.iter().map(|f| f.author).collect(),
            published: Published::of(&records, authority.owner()),
            evidence,
            records,
            forks,
            authority,
        }
    }
}

/// Marks a change of what readers see (a commit and the cache update after it); readers
/// that overlap it retry. Dropped after the cache is updated, also on an error path.
pub(crate) struct Publishing<'a>(&'a Inner);

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        self.0.publish_seq.fetch_add(1, Ordering::SeqCst);
    }
}

/// Optimistic attempts before a reader waits for the writer lock instead.
const OPTIMISTIC_TRIES: u32 = 200;

/// What a snapshot reads from the cache: chain lengths, evidence and authority.
struct CacheState {
    backed: Vec<(PublicKey, u64)>,
    evidence: EvidenceState,
    authority: Authority,
}

impl Store {
    /// Starts a change that readers must not see half-done (see the module docs).
    pub(crate) fn publishing(&self) -> Publishing<'_> {
        self.inner.publish_seq.fetch_add(1, Ordering::SeqCst);
        Publishing(&self.inner)
    }

    /// The accepted log as one consistent snapshot. The evidence it names is the
    /// evidence of the records it holds, even while other threads ingest.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.snapshot_after(None)
    }

    /// [`Store::snapshot`], reusing the records `previous` (an earlier snapshot of this
    /// store) holds where the log still holds them: each chain's records are hash-linked
    /// (every record names the id of the one before), so when the id stored at a chain's
    /// position `k` is the id `previous` holds there, positions `0..=k` are the same
    /// records. Only the rest is read and decoded. A chain that was cut (quarantined
    /// records) or that differs is read again from its start.
    pub fn snapshot_after(&self, previous: Option<&Snapshot>) -> Result<Snapshot, StoreError> {
        let (state, txn) = self.consistent_read()?;
        read_snapshot(state, &txn, previous)
    }

    /// A cache state and a read transaction of the same committed state.
    fn consistent_read(&self) -> Result<(CacheState, ReadTransaction), StoreError> {
        for _ in 0..OPTIMISTIC_TRIES {
            let before = self.inner.publish_seq.load(Ordering::SeqCst);
            if before % 2 == 1 {
                // A commit is under way; it takes about one fsync.
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            let state = self.cache_state();
            let txn = self.inner.db.begin_read()?;
            if self.inner.publish_seq.load(Ordering::SeqCst) == before {
                return Ok((state, txn));
            }
        }
        // Writers kept overlapping: hold the writer lock, under which nothing commits.
        let _w = self.writer()?;
        let state = self.cache_state();
        let txn = self.inner.db.begin_read()?;
        Ok((state, txn))
    }

    fn cache_state(&self) -> CacheState {
        let evidence = self.evidence();
        let cache = self.cache();
        let state = CacheState {
            backed: cache
                .heads
                .keys()
                .map(|a| (*a, cache.backed_len(a)))
                .collect(),
            evidence,
            authority: cache.authority.clone(),
        };
        drop(cache);
        state
    }
}

fn read_snapshot(
    state: CacheState,
    txn: &ReadTransaction,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, StoreError> {
    let table = txn.open_table(tables::RECORDS)?;
    let before = previous.map(chains).unwrap_or_default();
    let mut records = Vec::with_capacity(usize::try_from(state.evidence.records).unwrap_or(0));
    for (author, len) in &state.backed {
        if *len == 0 {
            continue;
        }
        let prior = before.get(author).copied().unwrap_or_default();
        let reused = reusable(&table, author, prior, *len)?;
        records.extend_from_slice(&prior[..reused]);
        let from = reused as u64;
        if from == *len {
            continue;
        }
        let lo = tables::pos_key(author, from);
        let hi = tables::pos_key(author, len - 1);
        for item in table.range(&lo[..]..=&hi[..])? {
            let (_, v) = item?;
            let (summary, bytes) = tables::split_record(v.value())?;
            records.push(Arc::new(open_stored(summary.id, bytes)?));
        }
    }
    if records.len() as u64 != state.evidence.records {
        return Err(StoreError::Corrupt(format!(
            "snapshot read {} records where the log counts {}",
            records.len(),
            state.evidence.records
        )));
    }
    let forks_table = txn.open_table(tables::FORKS)?;
    let mut forks = Vec::new();
    for item in forks_table.iter()? {
        let (_, v) = item?;
        let proof = ForkProof::decode(v.value())
            .map_err(|e| StoreError::Corrupt(format!("stored fork proof: {e}")))?;
        forks.push(stored_fork(&proof)?);
    }
    Ok(Snapshot::new(
        state.evidence,
        records,
        forks,
        state.authority,
    ))
}

/// Each author's records in a snapshot (they are contiguous, in seq order from 0).
fn chains(snap: &Snapshot) -> BTreeMap<PublicKey, &[Arc<Opened>]> {
    let mut out = BTreeMap::new();
    let mut start = 0;
    for (i, o) in snap.records.iter().enumerate() {
        let last = snap
            .records
            .get(i + 1)
            .is_none_or(|next| next.record.author != o.record.author);
        if last {
            out.insert(o.record.author, &snap.records[start..=i]);
            start = i + 1;
        }
    }
    out
}

/// How many of `prior` (the first records of `author`'s chain in an earlier snapshot)
/// the transaction still holds, of a chain now `len` long: all of the common part when
/// the id stored at its last position is the one `prior` holds there, else none.
fn reusable(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    author: &PublicKey,
    prior: &[Arc<Opened>],
    len: u64,
) -> Result<usize, StoreError> {
    let common = prior.len().min(usize::try_from(len).unwrap_or(usize::MAX));
    let Some(last) = common.checked_sub(1).and_then(|i| prior.get(i)) else {
        return Ok(0);
    };
    // A snapshot's chain runs from seq 0 without gaps, so its i-th record has seq i.
    if last.record.seq != common as u64 - 1 || prior[0].record.seq != 0 {
        return Ok(0);
    }
    let Some(stored) = table.get(&tables::pos_key(author, last.record.seq)[..])? else {
        return Ok(0);
    };
    let (summary, _) = tables::split_record(stored.value())?;
    Ok(if summary.id == last.id { common } else { 0 })
}

/// Opens a stored envelope whose id is known, without checking its signature again.
fn open_stored(id: interlab_protocol::RecordId, bytes: &[u8]) -> Result<Opened, StoreError> {
    let envelope = Envelope::decode(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored envelope {id} does not decode: {e}")))?;
    let record = Record::from_canonical(&envelope.body)
        .map_err(|e| StoreError::Corrupt(format!("stored record {id} does not decode: {e}")))?;
    Ok(Opened {
        id,
        envelope,
        record,
    })
}

/// What a stored fork proof establishes (it was verified before it was stored).
fn stored_fork(proof: &ForkProof) -> Result<Fork, StoreError> {
    let a = Record::from_canonical(&proof.a.body)
        .map_err(|e| StoreError::Corrupt(format!("stored fork proof record: {e}")))?;
    Ok(Fork {
        author: proof.a.author,
        seq: a.seq,
        ids: (proof.a.id(), proof.b.id()),
    })
}

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
    };

    use interlab_protocol::{FrontierEntry, RecordId, evidence_root};

    use super::Snapshot;
    use crate::store::{Store, tests::temp_store};
    use interlab_protocol::testkit::Workload;

    /// Checks that `snap` names the root, frontier and count of the records it holds.
    fn assert_names_its_records(snap: &Snapshot, which: &str) {
        let mut ids: Vec<RecordId> = snap.records.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        let mut heads = BTreeMap::new();
        for o in &snap.records {
            heads.insert(o.record.author, (o.record.seq, o.id));
        }
        let frontier: Vec<FrontierEntry> = heads
            .into_iter()
            .map(|(author, (seq, head))| FrontierEntry { author, seq, head })
            .collect();
        assert_eq!(snap.evidence.root, evidence_root(&ids), "{which}: root");
        assert_eq!(snap.evidence.frontier, frontier, "{which}: frontier");
        assert_eq!(snap.evidence.records, snap.records.len() as u64, "{which}");
    }

    /// A thread that ingests `batches` batches of three records of `work` into `store`;
    /// its flag is set when it is done.
    fn ingesting(
        store: &Store,
        mut work: Workload,
        batches: usize,
    ) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                for _ in 0..batches {
                    let batch = work.take(3);
                    store.ingest(&batch, work.now_ms()).unwrap();
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        (writer, done)
    }

    fn ids(snap: &Snapshot) -> Vec<RecordId> {
        snap.records.iter().map(|o| o.id).collect()
    }

    #[test]
    fn a_snapshot_names_the_root_of_the_records_it_holds_while_another_thread_ingests() {
        let (_dir, store) = temp_store();
        let mut work = Workload::new(17, 6);
        store.ingest(&work.take(50), work.now_ms()).unwrap();
        let (writer, done) = ingesting(&store, work, 300);
        let mut snapshots = 0u32;
        let mut roots = std::collections::BTreeSet::new();
        while !done.load(Ordering::SeqCst) || snapshots < 5 {
            let snap = store.snapshot().unwrap();
            assert_names_its_records(&snap, &format!("snapshot {snapshots}"));
            roots.insert(snap.evidence.root);
            snapshots += 1;
        }
        writer.join().unwrap();
        assert!(
            roots.len() > 1,
            "the snapshots all saw one root: no overlap tested"
        );
    }

    #[test]
    fn a_snapshot_grown_from_the_one_before_names_the_root_of_its_records_while_another_thread_ingests()
     {
        let (_dir, store) = temp_store();
        let mut work = Workload::new(19, 5);
        store.ingest(&work.take(60), work.now_ms()).unwrap();
        let (writer, done) = ingesting(&store, work, 200);
        let mut previous = store.snapshot().unwrap();
        let (mut grown, mut shared) = (0u32, 0usize);
        while !done.load(Ordering::SeqCst) || grown < 5 {
            let snap = store.snapshot_after(Some(&previous)).unwrap();
            assert_names_its_records(&snap, &format!("grown snapshot {grown}"));
            shared += snap
                .records
                .iter()
                .filter(|o| previous.records.iter().any(|p| Arc::ptr_eq(o, p)))
                .count();
            previous = snap;
            grown += 1;
        }
        writer.join().unwrap();
        let last = store.snapshot_after(Some(&previous)).unwrap();
        assert_eq!(ids(&last), ids(&store.snapshot().unwrap()));
        assert!(
            shared > 0,
            "no record was carried over from a snapshot before"
        );
    }

    #[test]
    fn a_snapshot_of_other_chains_under_the_same_keys_is_not_reused() {
        use interlab_protocol::testkit::TestScheme;
        let (_x_dir, x) = temp_store();
        let (_y_dir, y) = temp_store();
        for (store, name) in [(&x, "x"), (&y, "y")] {
            let scheme = TestScheme::new(name, 3, 7);
            let results = store.ingest(&scheme.bytes(), 4_000_000_000_000).unwrap();
            assert!(results.iter().all(Result::is_ok), "{results:?}");
        }
        let of_x = x.snapshot().unwrap();
        let fresh = y.snapshot().unwrap();
        assert_eq!(
            of_x.records[3].record.author, fresh.records[3].record.author,
            "one author, one chain length, different records"
        );
        let grown = y.snapshot_after(Some(&of_x)).unwrap();
        assert_eq!(ids(&grown), ids(&fresh));
        assert_eq!(grown.evidence.root, fresh.evidence.root);
    }
}
