//! A full self-check of the stored evidence: after a crash, or before an export, prove
//! that what is on disk is a set of valid, intact chains that the caches describe.

use interlab_protocol::{Digest, Envelope, PublicKey, RecordId, evidence_root};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::{
    Store, StoreError,
    tables::{self, Summary},
};

/// What [`Store::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Accepted records checked.
    pub records: u64,
    /// Authors with at least one accepted record.
    pub authors: u64,
    /// Fork proofs stored (each verified).
    pub forks: u64,
    /// Quarantined records.
    pub quarantined: u64,
    /// The evidence root of the records on disk.
    pub root: Digest,
}

impl Store {
    /// Re-opens every stored envelope (signature, canonical form), checks that each
    /// author's records form an unbroken hash chain from seq 0, that each stored summary
    /// and head agrees with the records, that every fork proof verifies, and that the
    /// in-memory evidence root equals the one recomputed from disk. The first problem
    /// found is returned as [`StoreError::Corrupt`].
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let corrupt = |m: String| StoreError::Corrupt(m);
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let heads = txn.open_table(tables::HEADS)?;
        let mut all: Vec<RecordId> = Vec::new();
        let mut authors = 0u64;
        // (author, seq, id, time) of the previous record seen.
        let mut prev: Option<(PublicKey, u64, RecordId, u64)> = None;
        let close_chain = |p: Option<(PublicKey, u64, RecordId, u64)>| -> Result<(), StoreError> {
            let Some((author, seq, id, time)) = p else {
                return Ok(());
            };
            let head = heads
                .get(&author.as_bytes()[..])?
                .and_then(|v| tables::split_head(v.value()));
            if head != Some((seq, id, time)) {
                return Err(corrupt(format!(
                    "head of {author} is {head:?}, chain ends at seq {seq} {id}"
                )));
            }
            Ok(())
        };
        for item in records.iter()? {
            let (k, v) = item?;
            let (author, seq) = tables::split_pos(k.value())
                .ok_or_else(|| corrupt("record key is not 40 bytes".into()))?;
            let (summary, envelope) = tables::split_record(v.value())?;
            let opened = Envelope::open_bytes(envelope)
                .map_err(|e| corrupt(format!("record {author} seq {seq}: {e}")))?;
            if summary != Summary::of(&opened) {
                return Err(corrupt(format!(
                    "the summary stored with {author} seq {seq} does not describe the record"
                )));
            }
            let rec = &opened.record;
            if rec.author != author || rec.seq != seq {
                return Err(corrupt(format!(
                    "record stored at {author} seq {seq} is {} seq {}",
                    rec.author, rec.seq
                )));
            }
            let expected_prev = match prev {
                Some((a, s, id, t)) if a == author => {
                    if seq != s + 1 {
                        return Err(corrupt(format!(
                            "chain of {author} jumps from {s} to {seq}"
                        )));
                    }
                    if rec.time_ms < t {
                        return Err(corrupt(format!("time goes back at {author} seq {seq}")));
                    }
                    Some(id)
                }
                _ => {
                    close_chain(prev)?;
                    authors += 1;
                    if seq != 0 {
                        return Err(corrupt(format!("chain of {author} starts at seq {seq}")));
                    }
                    None
                }
            };
            if rec.prev != expected_prev {
                return Err(corrupt(format!(
                    "record {author} seq {seq} has prev {:?}, expected {expected_prev:?}",
                    rec.prev
                )));
            }
            all.push(opened.id);
            prev = Some((author, seq, opened.id, rec.time_ms));
        }
        close_chain(prev)?;
        if heads.len()? != authors {
            return Err(corrupt(format!(
                "{} heads stored for {authors} chains",
                heads.len()?
            )));
        }
        let root = evidence_root(&all);
        let cached = self.evidence();
        if cached.root != root {
            return Err(corrupt(format!(
                "cached evidence root {} differs from the root on disk {root}",
                cached.root
            )));
        }
        let forks = self.forks()?;
        for f in &forks {
            f.verify()
                .map_err(|e| corrupt(format!("stored fork proof: {e}")))?;
        }
        let quarantined = txn.open_table(tables::QUARANTINE)?.len()?;
        Ok(CheckReport {
            records: all.len() as u64,
            authors,
            forks: forks.len() as u64,
            quarantined,
            root,
        })
    }
}
