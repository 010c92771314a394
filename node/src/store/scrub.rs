//! The scrub: while the node runs, its backed records are re-verified a few at a time,
//! signatures included, and whatever turns out damaged is quarantined (recorded on disk
//! so that the next open knows it too). The network then sees a lower head for that
//! chain and fetches the record again from peers.

use std::{ops::Bound, time::Duration};

use interlab_protocol::{Head, KeyCache, PublicKey};
use redb::{ReadableDatabase, ReadableTable};

use super::{
    Store, StoreError, authority_of,
    cache::Pos,
    damage::{self, Damage, DamagedRecord},
    tables,
};

/// How fast the scrub goes: `batch` records every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubConfig {
    interval: Duration,
    batch: usize,
}

impl Default for ScrubConfig {
    /// 256 records every 2 s: about 128 signature checks a second, under 1 % of one
    /// core; a million records are gone through in a little over two hours.
    fn default() -> Self {
        ScrubConfig {
            interval: Duration::from_secs(2),
            batch: 256,
        }
    }
}

impl ScrubConfig {
    /// Time between two batches (at least 10 ms).
    pub fn with_interval(mut self, d: Duration) -> Self {
        self.interval = d.max(Duration::from_millis(10));
        self
    }

    /// Records per batch (at least 1).
    pub fn with_batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Time between two batches.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Records per batch.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// What one scrub batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubStep {
    /// Records re-verified.
    pub checked: usize,
    /// Damaged records found (and quarantined).
    pub found: Vec<DamagedRecord>,
    /// Where the next batch starts (after this position); `None`: the pass is complete
    /// and the next one starts from the beginning.
    pub next: Option<(PublicKey, u64)>,
}

impl Store {
    /// Re-verifies up to `limit` backed records after position `after` (all of them from
    /// the start when `None`), in `(author, seq)` order: everything the open-time check
    /// looks at, plus the signature. Damaged records are quarantined.
    pub fn scrub(
        &self,
        after: Option<(PublicKey, u64)>,
        limit: usize,
    ) -> Result<ScrubStep, StoreError> {
        let mut step = ScrubStep::default();
        let mut damaged: Vec<(Pos, Damage)> = Vec::new();
        {
            let txn = self.inner.db.begin_read()?;
            let records = txn.open_table(tables::RECORDS)?;
            let key = after.map(|(a, s)| tables::pos_key(&a, s));
            let lower = match &key {
                Some(k) => Bound::Excluded(&k[..]),
                None => Bound::Unbounded,
            };
            let mut batch: Vec<(Pos, Vec<u8>)> = Vec::with_capacity(limit);
            for item in records
                .range::<&[u8]>((lower, Bound::Unbounded))?
                .take(limit)
            {
                let (k, v) = item?;
                let pos = tables::split_pos(k.value())
                    .ok_or_else(|| StoreError::Corrupt("a record key is not 40 bytes".into()))?;
                batch.push((pos, v.value().to_vec()));
            }
            step.next = if batch.len() == limit {
                batch.last().map(|(p, _)| *p)
            } else {
                None
            };
            let keys = KeyCache::parse(batch.iter().map(|((a, _), _)| a));
            let mut before: Option<(Pos, Head)> = None;
            for ((author, seq), value) in &batch {
                let (author, seq) = (*author, *seq);
                if seq >= self.cache().backed_len(&author) {
                    before = None;
                    continue; // already quarantined or held
                }
                step.checked += 1;
                let prev = match before {
                    Some(((a, s), h)) if a == author && s + 1 == seq => Some(h),
                    _ if seq == 0 => None,
                    _ => read_head(&records, author, seq - 1)?.ok(),
                };
                let checked =
                    damage::inspect((author, seq), value, Some(&keys)).and_then(|i| match &prev {
                        Some(p) => damage::link(p, i.prev, i.time_ms).map(|()| i),
                        None => Ok(i),
                    });
                match checked {
                    Ok(i) => before = Some(((author, seq), i.head())),
                    Err(d) => {
                        before = None;
                        damaged.push(((author, seq), d));
                    }
                }
            }
        }
        for (pos, d) in damaged {
            if self.quarantine(pos, d.clone())? {
                step.found.push(DamagedRecord {
                    author: pos.0,
                    seq: pos.1,
                    damage: d,
                });
            }
        }
        Ok(step)
    }

    /// Quarantines the record at `pos`: it and the later records of its chain leave the
    /// counted and served set, and the damage is recorded on disk. `false` when the
    /// record was not backed (already quarantined, or gone).
    pub(crate) fn quarantine(&self, pos: Pos, d: Damage) -> Result<bool, StoreError> {
        let _w = self.writer()?;
        self.quarantine_locked(pos, d)
    }

    fn quarantine_locked(&self, (author, seq): Pos, d: Damage) -> Result<bool, StoreError> {
        let (backed, owner) = {
            let cache = self.cache();
            (cache.backed_len(&author), cache.authority.owner())
        };
        if seq >= backed {
            return Ok(false);
        }
        let (head, authority) = {
            let txn = self.inner.db.begin_read()?;
            let records = txn.open_table(tables::RECORDS)?;
            let head = match seq.checked_sub(1) {
                Some(s) => match read_head(&records, author, s)? {
                    Ok(h) => Some(h),
                    Err(before) => {
                        // The record before is damaged too: it ends the chain.
                        drop(records);
                        drop(txn);
                        self.quarantine_locked((author, s), before)?;
                        self.record_held_damage((author, seq), d)?;
                        return Ok(true);
                    }
                },
                None => None,
            };
            let authority = if owner == Some(author) {
                Some(authority_of(&records, &author, seq)?)
            } else {
                None
            };
            (head, authority)
        };
        let publishing = self.publishing();
        self.mark_damaged((author, seq), &d)?;
        tracing::warn!(%author, seq, "store: record is damaged ({d}); quarantined until a peer sends a good copy");
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let done = cache.quarantine((author, seq), d, head);
        if let Some(a) = authority {
            cache.authority = a;
        }
        drop(cache);
        drop(publishing);
        self.inner
            .quarantines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(done)
    }

    /// Records damage of a record that is already held behind an earlier one.
    fn record_held_damage(&self, (author, seq): Pos, d: Damage) -> Result<(), StoreError> {
        let _publishing = self.publishing();
        self.mark_damaged((author, seq), &d)?;
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hold) = cache.holds.get_mut(&author) {
            hold.damaged.insert(seq, d);
        }
        Ok(())
    }

    /// Writes the damage of `pos` to disk, for the next open.
    fn mark_damaged(&self, (author, seq): Pos, d: &Damage) -> Result<(), StoreError> {
        let key = tables::pos_key(&author, seq);
        let txn = self.inner.db.begin_write()?;
        {
            let mut table = txn.open_table(tables::DAMAGED)?;
            table.insert(&key[..], d.to_string().as_bytes())?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// What the stored record at `(author, seq)` gives as a chain head, or why it cannot.
fn read_head<T>(
    records: &T,
    author: PublicKey,
    seq: u64,
) -> Result<Result<Head, Damage>, StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let Some(v) = records.get(&tables::pos_key(&author, seq)[..])? else {
        return Ok(Err(Damage::Missing));
    };
    Ok(damage::inspect((author, seq), v.value(), None).map(|i| i.head()))
}
