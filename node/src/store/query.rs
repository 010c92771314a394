//! Reads: one chain's range, one record by id, filtered and paged listings.
//!
//! Every listing is ordered by `(author, seq)` so that a page ends at a position the next
//! page can start after, whichever index served it.

use std::ops::Bound;

use interlab_protocol::{Digest, PublicKey, RecordId};
use redb::{ReadOnlyTable, ReadableDatabase, ReadableTable};

use super::{Store, StoreError, decode_stored, tables};

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
    pub fn range(
        &self,
        author: &PublicKey,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let lo = tables::pos_key(author, from_seq);
        let hi = tables::pos_key(author, u64::MAX);
        let mut out = Vec::new();
        for item in records.range(&lo[..]..=&hi[..])?.take(limit) {
            out.push(item?.1.value().to_vec());
        }
        Ok(out)
    }

    /// Envelope bytes of an accepted record.
    pub fn get(&self, id: &RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let ids = txn.open_table(tables::IDS)?;
        let Some(pos) = ids.get(&id.as_bytes()[..])? else {
            return Ok(None);
        };
        let records = txn.open_table(tables::RECORDS)?;
        let bytes = records
            .get(pos.value())?
            .ok_or_else(|| StoreError::Corrupt(format!("record {id} is indexed but not stored")))?;
        Ok(Some(bytes.value().to_vec()))
    }

    /// Every accepted envelope, by author then seq.
    pub fn all_envelopes(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let mut out = Vec::new();
        for item in records.iter()? {
            out.push(item?.1.value().to_vec());
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
        let txn = self.inner.db.begin_read()?;
        let records = txn.open_table(tables::RECORDS)?;
        // The index whose key prefix the filter fixes; the rest is checked per record.
        let (index, prefix): (Option<&str>, Vec<u8>) = match (&filter.suite, &filter.kind) {
            (Some(s), _) if filter.round.is_some() => {
                (Some("round"), tables::round_prefix(s, filter.round))
            }
            (Some(s), _) => (Some("suite"), tables::suite_prefix(s)),
            (None, Some(k)) => (Some("kind"), tables::kind_prefix(k)),
            (None, None) => (None, Vec::new()),
        };
        let (lo, hi) = bounds(&prefix, filter.author.as_ref(), after);
        let mut out = Vec::new();
        let mut visit = |key: &[u8]| -> Result<bool, StoreError> {
            let pos = key.get(prefix.len()..).unwrap_or_default();
            let Some(v) = records.get(pos)? else {
                return Err(StoreError::Corrupt(
                    "an index names a missing record".into(),
                ));
            };
            let bytes = v.value();
            if matches(filter, index, bytes)? {
                out.push(bytes.to_vec());
            }
            Ok(out.len() < limit)
        };
        if limit == 0 {
            return Ok(out);
        }
        match index {
            Some("round") => scan(&txn.open_table(tables::BY_ROUND)?, lo, hi, &mut visit)?,
            Some("suite") => scan(&txn.open_table(tables::BY_SUITE)?, lo, hi, &mut visit)?,
            Some(_) => scan(&txn.open_table(tables::BY_KIND)?, lo, hi, &mut visit)?,
            None => scan(&records, lo, hi, &mut visit)?,
        }
        Ok(out)
    }
}

/// Calls `visit` on each key in the range until it returns `false`.
fn scan<V: redb::Value + 'static>(
    table: &ReadOnlyTable<&'static [u8], V>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    visit: &mut impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let lo = lo.as_ref().map(Vec::as_slice);
    let hi = hi.as_ref().map(Vec::as_slice);
    for item in table.range::<&[u8]>((lo, hi))? {
        let (k, _) = item?;
        if !visit(k.value())? {
            break;
        }
    }
    Ok(())
}

/// Key bounds under `prefix` for an optional author and an exclusive start position.
fn bounds(
    prefix: &[u8],
    author: Option<&PublicKey>,
    after: Option<(PublicKey, u64)>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let from_author = author.map(|a| tables::with_pos(prefix, &tables::pos_key(a, 0)));
    let after = after.map(|(a, s)| tables::with_pos(prefix, &tables::pos_key(&a, s)));
    let lo = match (from_author, after) {
        (Some(f), Some(a)) if f > a => Bound::Included(f),
        (_, Some(a)) => Bound::Excluded(a),
        (Some(f), None) => Bound::Included(f),
        (None, None) if prefix.is_empty() => Bound::Unbounded,
        (None, None) => Bound::Included(prefix.to_vec()),
    };
    let hi = match author {
        Some(a) => Bound::Included(tables::with_pos(prefix, &tables::pos_key(a, u64::MAX))),
        None => successor(prefix).map_or(Bound::Unbounded, Bound::Excluded),
    };
    (lo, hi)
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < u8::MAX {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// Checks the filter fields the chosen index does not guarantee.
fn matches(filter: &RecordFilter, index: Option<&str>, bytes: &[u8]) -> Result<bool, StoreError> {
    let need_kind = filter.kind.is_some() && index != Some("kind");
    let need_round = filter.round.is_some() && index != Some("round");
    if !need_kind && !need_round {
        return Ok(true);
    }
    let (_, rec) = decode_stored(bytes)?;
    if need_kind && filter.kind.as_deref() != Some(rec.body.kind()) {
        return Ok(false);
    }
    if need_round {
        let round = rec.body.suite_round().and_then(|(_, r)| r);
        if round != filter.round {
            return Ok(false);
        }
    }
    Ok(true)
}
