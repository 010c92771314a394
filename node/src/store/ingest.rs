//! Batch ingest: validate every envelope against the log as it stands after the earlier
//! items of the same batch, write the accepted ones in one transaction, and answer only
//! after `commit()`.

use std::cell::RefCell;

use interlab_protocol::{
    Accepted, Body, Envelope, Head, Opened, PublicKey, Rejection, Revocation, validate_opened,
};
use redb::{ReadableTable, Table, WriteTransaction};

use super::{
    IngestResult, Store, StoreError,
    cache::{BytesTable, Cache, Overlay, View},
    decode_stored, tables,
};

/// The tables one batch writes.
struct Tables<'t> {
    records: BytesTable<'t>,
    ids: BytesTable<'t>,
    heads: BytesTable<'t>,
    by_kind: Table<'t, &'static [u8], ()>,
    by_suite: Table<'t, &'static [u8], ()>,
    by_round: Table<'t, &'static [u8], ()>,
    forks: BytesTable<'t>,
    quarantine: BytesTable<'t>,
    meta: Table<'t, &'static str, &'static [u8]>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Tables {
            records: txn.open_table(tables::RECORDS)?,
            ids: txn.open_table(tables::IDS)?,
            heads: txn.open_table(tables::HEADS)?,
            by_kind: txn.open_table(tables::BY_KIND)?,
            by_suite: txn.open_table(tables::BY_SUITE)?,
            by_round: txn.open_table(tables::BY_ROUND)?,
            forks: txn.open_table(tables::FORKS)?,
            quarantine: txn.open_table(tables::QUARANTINE)?,
            meta: txn.open_table(tables::META)?,
        })
    }

    /// Writes the record and its index entries.
    fn put(&mut self, opened: &Opened, bytes: &[u8]) -> Result<(), StoreError> {
        let rec = &opened.record;
        let pos = tables::pos_key(&rec.author, rec.seq);
        self.records.insert(&pos[..], bytes)?;
        self.ids.insert(&opened.id.as_bytes()[..], &pos[..])?;
        self.index(&rec.body, &pos, true)?;
        if let Body::SchemeGenesis { .. } = rec.body {
            self.meta
                .insert(tables::META_GENESIS, &opened.id.as_bytes()[..])?;
        }
        Ok(())
    }

    /// Adds (or removes) the kind, suite and round index entries of a record.
    fn index(&mut self, body: &Body, pos: &[u8; 40], add: bool) -> Result<(), StoreError> {
        let mut keys = vec![(
            0u8,
            tables::with_pos(&tables::kind_prefix(body.kind()), pos),
        )];
        if let Some((suite, round)) = body.suite_round() {
            keys.push((1, tables::with_pos(&tables::suite_prefix(&suite), pos)));
            keys.push((
                2,
                tables::with_pos(&tables::round_prefix(&suite, round), pos),
            ));
        }
        for (which, key) in keys {
            let table = match which {
                0 => &mut self.by_kind,
                1 => &mut self.by_suite,
                _ => &mut self.by_round,
            };
            if add {
                table.insert(&key[..], ())?;
            } else {
                table.remove(&key[..])?;
            }
        }
        Ok(())
    }

    /// Moves a revoked lab's records after `last_seq` out of the accepted set, as
    /// `MemoryLog::insert` does.
    fn quarantine(&mut self, rev: &Revocation, overlay: &mut Overlay) -> Result<(), StoreError> {
        let keep = rev.last_seq.map_or(Some(0), |s| s.checked_add(1));
        let Some(keep) = keep else { return Ok(()) };
        let lo = tables::pos_key(&rev.lab, keep);
        let hi = tables::pos_key(&rev.lab, u64::MAX);
        let mut gone = Vec::new();
        for item in self.records.range(&lo[..]..=&hi[..])? {
            let (k, v) = item?;
            gone.push((k.value().to_vec(), v.value().to_vec()));
        }
        if gone.is_empty() {
            return Ok(());
        }
        for (key, bytes) in &gone {
            let (env, rec) = decode_stored(bytes)?;
            let pos: [u8; 40] = key
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("record key is not 40 bytes".into()))?;
            let id = env.id();
            self.records.remove(&pos[..])?;
            self.ids.remove(&id.as_bytes()[..])?;
            self.index(&rec.body, &pos, false)?;
            self.quarantine.insert(&pos[..], &bytes[..])?;
            overlay.remove(id);
        }
        let head = match keep.checked_sub(1) {
            None => None,
            Some(last) => {
                let v = self
                    .records
                    .get(&tables::pos_key(&rev.lab, last)[..])?
                    .map(|v| v.value().to_vec());
                match v {
                    None => None,
                    Some(bytes) => {
                        let (env, rec) = decode_stored(&bytes)?;
                        Some(Head {
                            seq: rec.seq,
                            id: env.id(),
                            time_ms: rec.time_ms,
                        })
                    }
                }
            }
        };
        // The heads table is written from the overlay at the end of the batch.
        overlay.heads.insert(rev.lab, head);
        Ok(())
    }
}

/// A batch whose envelopes have been decoded, checked for canonical form and
/// signature-verified: the part of ingest that needs no log and no lock. Produced by
/// [`Store::prepare`], consumed by [`Store::ingest_prepared`].
#[derive(Debug)]
pub struct Prepared {
    items: Vec<(Vec<u8>, Result<Opened, Rejection>)>,
}

impl Prepared {
    /// Number of envelopes in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Batches at least this large have their signatures checked in parallel.
const PARALLEL_BATCH: usize = 64;

impl Store {
    /// Validates each envelope against the log, including the earlier items of the same
    /// batch, and writes the accepted ones in one write transaction. Returns only after
    /// the transaction has committed durably. An equivocation's fork proof is stored.
    ///
    /// `Err` means nothing of the batch was written; the per-item results say which
    /// records were accepted and why others were not.
    pub fn ingest(&self, batch: &[Vec<u8>], now_ms: u64) -> Result<Vec<IngestResult>, StoreError> {
        self.ingest_prepared(Store::prepare(batch.to_vec()), now_ms)
    }

    /// Decodes, checks canonical form and verifies the signatures of a batch, without
    /// touching the log or taking the writer lock, so that a caller can prepare the next
    /// batch while the previous one commits.
    ///
    /// Large batches (catch-up) are checked on every available core; order is kept, so
    /// the outcome is the same as checking them one by one.
    pub fn prepare(batch: Vec<Vec<u8>>) -> Prepared {
        use rayon::prelude::*;
        let open = |b: Vec<u8>| {
            let opened = Envelope::open_bytes(&b).map_err(Rejection::from);
            (b, opened)
        };
        let items = if batch.len() >= PARALLEL_BATCH {
            batch.into_par_iter().map(open).collect()
        } else {
            batch.into_iter().map(open).collect()
        };
        Prepared { items }
    }

    /// [`Store::ingest`] of a prepared batch.
    pub fn ingest_prepared(
        &self,
        batch: Prepared,
        now_ms: u64,
    ) -> Result<Vec<IngestResult>, StoreError> {
        let _w = self.writer()?;
        let cache = self.cache();
        let txn = self.inner.db.begin_write()?;
        let mut overlay = Overlay::default();
        let mut results = Vec::with_capacity(batch.items.len());
        {
            let mut t = Tables::open(&txn)?;
            for (bytes, o) in batch.items {
                let r = match o {
                    Ok(o) => ingest_one(&mut t, &cache, &mut overlay, o, &bytes, now_ms)?,
                    Err(e) => Err(e),
                };
                results.push(r);
            }
            // One head write per author per batch.
            for (author, head) in &overlay.heads {
                match head {
                    Some(h) => {
                        let v = tables::head_value(h.seq, &h.id, h.time_ms);
                        t.heads.insert(&author.as_bytes()[..], &v[..])?;
                    }
                    None => {
                        t.heads.remove(&author.as_bytes()[..])?;
                    }
                }
            }
        }
        txn.commit()?;
        drop(cache);
        if !overlay.added.is_empty() || !overlay.removed.is_empty() || overlay.authority.is_some() {
            let mut cache = self
                .inner
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.apply(overlay);
        }
        Ok(results)
    }
}

fn ingest_one(
    t: &mut Tables<'_>,
    cache: &Cache,
    overlay: &mut Overlay,
    opened: Opened,
    bytes: &[u8],
    now_ms: u64,
) -> Result<IngestResult, StoreError> {
    let verdict = {
        let view = View {
            cache,
            overlay,
            records: &t.records,
            ids: &t.ids,
            error: RefCell::new(None),
        };
        let verdict = validate_opened(opened, &view, now_ms);
        if let Some(e) = view.take_error() {
            return Err(e);
        }
        verdict
    };
    match verdict {
        Ok(Accepted(opened)) => {
            t.put(&opened, bytes)?;
            let rec = &opened.record;
            overlay.add(opened.id);
            overlay.heads.insert(
                rec.author,
                Some(Head {
                    seq: rec.seq,
                    id: opened.id,
                    time_ms: rec.time_ms,
                }),
            );
            if changes_authority(cache, overlay, &rec.body, &rec.author) {
                let authority = overlay
                    .authority
                    .get_or_insert_with(|| cache.authority.clone());
                if let Some(rev) = authority.apply(opened.id, rec) {
                    t.quarantine(&rev, overlay)?;
                }
            }
            Ok(Ok(opened.id))
        }
        Err(Rejection::Equivocation(proof)) => {
            if let Ok(fork) = proof.verify() {
                let key = tables::fork_key(&fork.author, fork.seq, &fork.ids.0, &fork.ids.1);
                if t.forks.get(&key[..])?.is_none() {
                    t.forks.insert(&key[..], &proof.to_bytes()[..])?;
                }
            }
            Ok(Err(Rejection::Equivocation(proof)))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Only the genesis and the owner's records change authority; skip cloning it otherwise.
fn changes_authority(cache: &Cache, overlay: &Overlay, body: &Body, author: &PublicKey) -> bool {
    if let Body::SchemeGenesis { .. } = body {
        return true;
    }
    let authority = overlay.authority.as_ref().unwrap_or(&cache.authority);
    authority.owner() == Some(*author)
}
