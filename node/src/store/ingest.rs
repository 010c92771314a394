//! Batch ingest: validate every envelope against the log as it stands after the earlier
//! items of the same batch, write the accepted ones in one transaction, and answer only
//! after `commit()`.

use std::cell::RefCell;

use interlab_protocol::{
    Accepted, Body, DecodedEnvelope, Envelope, EnvelopeError, Head, KeyCache, Opened, PublicKey,
    Record, Rejection, Revocation, open_all_decoded, validate_opened,
};
use redb::{ReadableTable, Table, WriteTransaction};

use super::{
    IngestResult, Store, StoreError,
    cache::{BytesTable, Cache, Overlay, View},
    damage::{self, Damage},
    decode_stored,
    tables::{self, Summary},
};

/// The tables one batch writes.
struct Tables<'t> {
    records: BytesTable<'t>,
    heads: BytesTable<'t>,
    forks: BytesTable<'t>,
    quarantine: BytesTable<'t>,
    damaged: BytesTable<'t>,
    meta: Table<'t, &'static str, &'static [u8]>,
    /// A fork proof was written (the overlay tracks everything else).
    new_fork: bool,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Tables {
            records: txn.open_table(tables::RECORDS)?,
            heads: txn.open_table(tables::HEADS)?,
            forks: txn.open_table(tables::FORKS)?,
            quarantine: txn.open_table(tables::QUARANTINE)?,
            damaged: txn.open_table(tables::DAMAGED)?,
            meta: txn.open_table(tables::META)?,
            new_fork: false,
        })
    }

    /// Writes an accepted record (one insert: the summary travels with the envelope).
    fn put(
        &mut self,
        opened: &Opened,
        bytes: &[u8],
        overlay: &mut Overlay,
    ) -> Result<(), StoreError> {
        let rec = &opened.record;
        let pos = tables::pos_key(&rec.author, rec.seq);
        let summary = Summary::of(opened);
        tables::put_record(&mut self.records, &pos, &summary, bytes)?;
        if let Body::SchemeGenesis { .. } = rec.body {
            self.meta
                .insert(tables::META_GENESIS, &opened.id.as_bytes()[..])?;
        }
        overlay.add((rec.author, rec.seq), summary);
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
        for (key, value) in &gone {
            let (summary, envelope) = tables::split_record(value)?;
            let pos = tables::split_pos(key)
                .ok_or_else(|| StoreError::Corrupt("record key is not 40 bytes".into()))?;
            self.records.remove(&key[..])?;
            self.quarantine.insert(&key[..], envelope)?;
            overlay.remove(pos, summary.id);
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
                    Some(value) => {
                        let (env, rec) = decode_stored(tables::envelope_of(&value)?)?;
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

    /// A good copy of the first damaged record of `author`'s chain has just been written
    /// at `head`: brings back the held records after it, each checked again from its
    /// stored bytes and linked to the one before, up to the next damaged record.
    fn reinstate(
        &mut self,
        cache: &Cache,
        overlay: &mut Overlay,
        author: PublicKey,
        head: Head,
    ) -> Result<(), StoreError> {
        let Some(mut hold) = overlay.hold(cache, &author) else {
            return Ok(());
        };
        if hold.first() != head.seq {
            return Ok(());
        }
        let key = tables::pos_key(&author, head.seq);
        self.damaged.remove(&key[..])?;
        hold.damaged.remove(&head.seq);
        let mut last = head;
        'chunks: while let Some(from) = last.seq.checked_add(1) {
            if from > hold.top.seq || hold.damaged.contains_key(&from) {
                break;
            }
            let lo = tables::pos_key(&author, from);
            let hi = tables::pos_key(&author, hold.top.seq);
            let mut chunk = Vec::new();
            for item in self.records.range(&lo[..]..=&hi[..])?.take(256) {
                let (k, v) = item?;
                chunk.push((k.value().to_vec(), v.value().to_vec()));
            }
            if chunk.is_empty() {
                break;
            }
            for (k, v) in chunk {
                let Some((_, seq)) = tables::split_pos(&k) else {
                    break 'chunks;
                };
                let expected = last.seq + 1;
                if seq != expected {
                    hold.damaged.insert(expected, Damage::Missing);
                    break 'chunks;
                }
                if hold.damaged.contains_key(&seq) {
                    break 'chunks;
                }
                let intact = damage::inspect((author, seq), &v, None)
                    .and_then(|i| damage::link(&last, i.prev, i.time_ms).map(|()| i));
                let intact = match intact {
                    Ok(i) => i,
                    Err(d) => {
                        tracing::warn!(%author, seq, "store: a held record is damaged: {d}");
                        hold.damaged.insert(seq, d);
                        break 'chunks;
                    }
                };
                overlay.add((author, seq), intact.summary);
                let owner = overlay
                    .authority
                    .as_ref()
                    .unwrap_or(&cache.authority)
                    .owner();
                if intact.summary.kind == 0 || owner == Some(author) {
                    let (_, record) = decode_stored(tables::envelope_of(&v)?)?;
                    if changes_authority(cache, overlay, &record.body, &author) {
                        let authority = overlay
                            .authority
                            .get_or_insert_with(|| cache.authority.clone());
                        if let Some(rev) = authority.apply(intact.summary.id, &record) {
                            self.quarantine(&rev, overlay)?;
                        }
                    }
                }
                last = intact.head();
            }
        }
        tracing::info!(
            %author,
            seq = head.seq,
            up_to = last.seq,
            "store: damaged record replaced by a good copy; held records are back"
        );
        overlay.heads.insert(author, Some(last));
        let left = (!hold.damaged.is_empty()).then_some(hold);
        overlay.holds.insert(author, left);
        Ok(())
    }
}

/// Envelope bytes on their way to the store, decoded at most once. The network decodes
/// a gossiped envelope at the edge (to refuse non-canonical bytes before they take a
/// place in the queue) and carries the decoded form here, so that [`Store::prepare`]
/// does not decode it again; bytes nobody decoded yet are decoded in `prepare`.
///
/// The decoded envelope, when present, is always the one decoded from exactly these
/// bytes (the fields are private), so canonical form is checked the same either way.
/// The same holds for the record in the envelope's body: when the network decodes it to
/// learn the record's position ([`Incoming::position`]), the store uses that decoding.
#[derive(Debug, Clone)]
pub struct Incoming {
    bytes: Vec<u8>,
    decoded: Option<Envelope>,
    /// Boxed: a decoded record is large next to the rest of an item in the queues.
    body: Option<Box<Result<Record, EnvelopeError>>>,
}

impl Incoming {
    /// Bytes not decoded yet: `prepare` decodes and checks them.
    pub fn raw(bytes: Vec<u8>) -> Incoming {
        Incoming {
            bytes,
            decoded: None,
            body: None,
        }
    }

    /// Decodes `bytes` as a canonical envelope within the size bound, once.
    pub fn decode(bytes: Vec<u8>) -> Result<Incoming, EnvelopeError> {
        let env = Envelope::decode(&bytes)?;
        Ok(Incoming {
            bytes,
            decoded: Some(env),
            body: None,
        })
    }

    /// Author and seq of the record, from an envelope decoded at the edge (`None` for raw
    /// bytes or a body that does not decode). The body is decoded once and kept for the
    /// store; the signature is not checked here.
    pub fn position(&mut self) -> Option<(PublicKey, u64)> {
        let env = self.decoded.as_ref()?;
        let body = self.body.get_or_insert_with(|| Box::new(env.decode_body()));
        body.as_ref().as_ref().ok().map(|r| (r.author, r.seq))
    }

    /// The envelope bytes as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The envelope, when it was decoded at the edge.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.decoded.as_ref()
    }

    /// The envelope bytes, giving up the decoded form.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn into_decoded(self) -> (Vec<u8>, Decoded) {
        let env = match self.decoded {
            Some(env) => Ok((env, self.body.map(|b| *b))),
            None => Envelope::decode(&self.bytes).map(|e| (e, None)),
        };
        (self.bytes, env)
    }
}

/// Two items are equal when their bytes are (the decoded form follows from them).
impl PartialEq for Incoming {
    fn eq(&self, other: &Incoming) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Incoming {}

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

/// Envelopes opened together, step by step ([`open_all`]).
const OPEN_CHUNK: usize = 64;

/// An envelope decoded, with its body when that was decoded too.
type Decoded = Result<DecodedEnvelope, EnvelopeError>;

/// Opens the decoded envelopes of a chunk, keeping each item's place.
fn open_chunk(
    chunk: Vec<(Vec<u8>, Decoded)>,
    keys: &KeyCache,
) -> Vec<(Vec<u8>, Result<Opened, Rejection>)> {
    let (bytes, envelopes): (Vec<_>, Vec<_>) = chunk.into_iter().unzip();
    bytes
        .into_iter()
        .zip(open_all_decoded(envelopes, keys))
        .map(|(b, o)| (b, o.map_err(Rejection::from)))
        .collect()
}

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
        Store::prepare_incoming(batch.into_iter().map(Incoming::raw).collect())
    }

    /// [`Store::prepare`] of envelopes some of which were decoded already ([`Incoming`]):
    /// those are not decoded again; the others are decoded here. Signatures are verified
    /// for all of them.
    pub fn prepare_incoming(batch: Vec<Incoming>) -> Prepared {
        use rayon::prelude::*;
        let decoded: Vec<(Vec<u8>, Decoded)> =
            batch.into_iter().map(Incoming::into_decoded).collect();
        // Each author's key is parsed once per batch.
        let keys = KeyCache::parse(
            decoded
                .iter()
                .filter_map(|(_, e)| e.as_ref().ok())
                .map(|(e, _)| &e.author),
        );
        let items = if decoded.len() >= PARALLEL_BATCH {
            let chunks: Vec<Vec<_>> = decoded
                .into_par_iter()
                .chunks(OPEN_CHUNK)
                .map(|chunk| open_chunk(chunk, &keys))
                .collect();
            chunks.into_iter().flatten().collect()
        } else {
            open_chunk(decoded, &keys)
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
        let wrote = {
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
            t.new_fork || !overlay.is_empty()
        };
        let publishing = self.publishing();
        if wrote {
            txn.commit()?;
        } else {
            // A batch of rejections only: no fsync for nothing (a flood of invalid
            // gossip must not cost a disk write per batch).
            txn.abort()?;
        }
        drop(cache);
        if !overlay.is_empty() {
            let mut cache = self
                .inner
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.apply(overlay)?;
        }
        drop(publishing);
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
            t.put(&opened, bytes, overlay)?;
            let rec = &opened.record;
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
            let head = Head {
                seq: rec.seq,
                id: opened.id,
                time_ms: rec.time_ms,
            };
            t.reinstate(cache, overlay, rec.author, head)?;
            Ok(Ok(opened.id))
        }
        Err(Rejection::Equivocation(proof)) => {
            if let Ok(fork) = proof.verify() {
                let key = tables::fork_key(&fork.author, fork.seq, &fork.ids.0, &fork.ids.1);
                if t.forks.get(&key[..])?.is_none() {
                    t.forks.insert(&key[..], &proof.to_bytes()[..])?;
                    t.new_fork = true;
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

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod incoming_tests;
