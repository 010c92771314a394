//! Reads: one chain's range, one record by id, filtered and paged listings.
//!
//! Listings filter the in-memory summaries and read only the records they return; every
//! listing is ordered by `(author, seq)` so that a page ends at a position the next page
//! can start after.

use interlab_protocol::{Digest, PublicKey, RecordId};
use redb::{ReadableDatabase, ReadableTable};

use super::{Store, StoreError, tables};

/// Which records to list; every field left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only this author's records.
    pub author: Option<PublicKey>,
    /// Only this kind (one of `Body::KINDS`).
    pub kind: Option<String>,
    /// Only records about this suite (suite published, round opened, run result).
    pub suite: Option<Digest>,
    /// Only records of this round (round opened, run result).
    pub round: Option<u32>,
}

impl Store {
    /// Envelope bytes of `author`'s accepted records from `from_seq` on, in seq order.
    /// Never a quarantined record, nor one held behind it.
    pub fn range(
        &self,
        author: &PublicKey,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let backed = self.cache().backed_len(author);
        if from_seq >= backed || limit == 0 {
            return Ok(Vec::new());
        }
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let lo = tables::pos_key(author, from_seq);
        let hi = tables::pos_key(author, backed - 1);
        let mut out = Vec::new();
        for item in records.range(&lo[..]..=&hi[..])?.take(limit) {
            out.push(tables::envelope_of(item?.1.value())?.to_vec());
        }
        Ok(out)
    }

    /// Envelope bytes of an accepted record.
    pub fn get(&self, id: &RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(pos) = self.cache().ids.get(id).copied() else {
            return Ok(None);
        };
        Ok(self.read_positions(&[pos])?.pop())
    }

    /// Every accepted envelope, by author then seq (quarantined and held records left
    /// out).
    pub fn all_envelopes(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let backed: Vec<(PublicKey, u64)> = {
            let cache = self.cache();
            cache
                .heads
                .keys()
                .map(|a| (*a, cache.backed_len(a)))
                .collect()
        };
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let mut out = Vec::new();
        for (author, len) in backed {
            if len == 0 {
                continue;
            }
            let lo = tables::pos_key(&author, 0);
            let hi = tables::pos_key(&author, len - 1);
            for item in records.range(&lo[..]..=&hi[..])? {
                out.push(tables::envelope_of(item?.1.value())?.to_vec());
            }
        }
        Ok(out)
    }

    /// Envelopes that left the accepted set because their lab was revoked, by author
    /// then seq.
    pub fn quarantined(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(tables::QUARANTINE)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            out.push(item?.1.value().to_vec());
        }
        Ok(out)
    }

    /// Accepted envelopes matching `filter`, ordered by `(author, seq)`, starting after
    /// the position `after` (the last one of the previous page), at most `limit`.
    pub fn records(
        &self,
        filter: &RecordFilter,
        after: Option<(PublicKey, u64)>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let positions = self.cache().select(filter, after, limit);
        self.read_positions(&positions)
    }

    /// The envelopes at these positions. A position the cache named may have been
    /// quarantined since; it is skipped.
    fn read_positions(&self, positions: &[(PublicKey, u64)]) -> Result<Vec<Vec<u8>>, StoreError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let positions: Vec<(PublicKey, u64)> = {
            let cache = self.cache();
            positions
                .iter()
                .filter(|(a, s)| *s < cache.backed_len(a))
                .copied()
                .collect()
        };
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let mut out = Vec::with_capacity(positions.len());
        for (author, seq) in &positions {
            if let Some(v) = records.get(&tables::pos_key(author, *seq)[..])? {
                out.push(tables::envelope_of(v.value())?.to_vec());
            }
        }
        Ok(out)
    }
}
