//! A full self-check of the stored evidence: the open-time check again, optionally with
//! every signature, plus the stored fork proofs and the in-memory evidence root. Run by
//! `interlab store check`, after a crash, or before an export.

use interlab_protocol::{Digest, RecordId, evidence_root};
use redb::{ReadableDatabase, ReadableTableMetadata};

use super::{
    OpenProgress, Store, StoreError, damage::DamagedRecord, recorded_damage, scan, tables,
};

/// What [`Store::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Records read.
    pub records: u64,
    /// Records the store can back: intact, in unbroken chains from seq 0.
    pub backed: u64,
    /// Authors with at least one backed record.
    pub authors: u64,
    /// Intact records held behind a damaged one of their chain.
    pub held: u64,
    /// Damaged records, by author and seq.
    pub damaged: Vec<DamagedRecord>,
    /// Whether signatures were checked.
    pub signatures: bool,
    /// Fork proofs stored (each verified).
    pub forks: u64,
    /// Records quarantined by a revocation (not damage).
    pub revoked: u64,
    /// The evidence root of the backed records.
    pub root: Digest,
}

impl CheckReport {
    /// Whether no record is damaged.
    pub fn is_sound(&self) -> bool {
        self.damaged.is_empty()
    }
}

impl Store {
    /// Checks every stored record with its signature ([`Store::check_with`]).
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        self.check_with(true, OpenProgress::Quiet)
    }

    /// Re-runs the open-time check over every stored record (ids re-hashed, records
    /// read and compared with their summaries and positions, chain links), with
    /// `signatures` every signature too, and verifies the stored fork proofs. Damaged
    /// records are listed in the report, not quarantined (a running node's scrub does
    /// that); the error is for a store whose structure is broken, or whose in-memory
    /// root disagrees with its disk when both see the same damage.
    pub fn check_with(
        &self,
        signatures: bool,
        progress: OpenProgress,
    ) -> Result<CheckReport, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let recorded = recorded_damage(&txn.open_table(tables::DAMAGED)?)?;
        let mut ids: Vec<RecordId> = Vec::new();
        let level = if signatures {
            scan::Level::Signatures
        } else {
            scan::Level::Records
        };
        let scanned = scan::scan(
            &records,
            &recorded,
            level,
            &mut *progress.reporter(),
            |_, summary| {
                ids.push(summary.id);
                Ok(())
            },
        )?;
        let damaged: Vec<DamagedRecord> = scanned
            .holds
            .iter()
            .flat_map(|(author, hold)| {
                hold.damaged.iter().map(|(seq, damage)| DamagedRecord {
                    author: *author,
                    seq: *seq,
                    damage: damage.clone(),
                })
            })
            .collect();
        ids.sort_unstable();
        let root = evidence_root(&ids);
        let same_damage = {
            let known = self.damaged();
            known.len() == damaged.len()
                && known
                    .iter()
                    .zip(&damaged)
                    .all(|(a, b)| (a.author, a.seq) == (b.author, b.seq))
        };
        let cached = self.evidence();
        if same_damage && cached.root != root {
            return Err(StoreError::Corrupt(format!(
                "the in-memory evidence root {} differs from the root on disk {root}",
                cached.root
            )));
        }
        let forks = self.forks()?;
        for f in &forks {
            f.verify()
                .map_err(|e| StoreError::Corrupt(format!("stored fork proof: {e}")))?;
        }
        let revoked = txn.open_table(tables::QUARANTINE)?.len()?;
        Ok(CheckReport {
            records: scanned.records,
            backed: ids.len() as u64,
            authors: scanned.heads.len() as u64,
            held: scanned.holds.values().map(|h| h.held()).sum(),
            damaged,
            signatures,
            forks: forks.len() as u64,
            revoked,
            root,
        })
    }
}
