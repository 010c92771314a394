//! One pass over the records table, in `(author, seq)` order, that checks every record
//! ([`inspect`](super::damage::inspect)) and every link between neighbours, and sorts
//! each record into backed (counted and served), held (intact, but behind a damaged
//! record of its chain) or damaged. Opening the store rebuilds its cache from this pass;
//! `Store::check` runs it again, with signatures when asked.
//!
//! Records are read in chunks; the per-record work (envelope decode, id re-hash, body
//! decode, and signatures for a full check) runs on every core, the chain logic after it
//! in order.

use std::collections::BTreeMap;

use interlab_protocol::{Head, KeyCache, PublicKey, RecordId};
use rayon::prelude::*;
use redb::ReadableTable;

use super::{
    StoreError,
    cache::{Hold, Pos},
    damage::{self, Damage, Intact},
    tables::{self, Summary},
};

/// Records read and checked per chunk.
const CHUNK: usize = 4096;

/// What the pass found besides the backed records it handed to the caller.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// Head of every backed chain.
    pub(crate) heads: BTreeMap<PublicKey, Head>,
    /// Chains with damage.
    pub(crate) holds: BTreeMap<PublicKey, Hold>,
    /// Records read.
    pub(crate) records: u64,
}

/// The chain being scanned.
struct Chain {
    author: PublicKey,
    /// The seq the next record should have.
    next: u64,
    /// Still in the intact prefix from seq 0.
    backed: bool,
    /// The record before, when it is intact (for the link check).
    before: Option<Head>,
}

/// How much the pass checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Nothing: the stored summaries are believed, as before the open-time check
    /// existed. Only for measuring what the check costs (`interlab bench store-open`).
    SummariesOnly,
    /// The open-time check: everything but signatures.
    Records,
    /// The open-time check and every signature.
    Signatures,
}

/// Reads every record of `records` and calls `backed` for each one the node can back,
/// in order. `recorded` are the positions the scrub found damaged earlier; `progress`
/// gets (records done, total) after every chunk.
pub(crate) fn scan<T>(
    records: &T,
    recorded: &BTreeMap<Pos, String>,
    level: Level,
    progress: &mut dyn FnMut(u64, u64),
    mut backed: impl FnMut(Pos, &Summary) -> Result<(), StoreError>,
) -> Result<Scanned, StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let total = records.len()?;
    let mut out = Scanned::default();
    let mut chain: Option<Chain> = None;
    let mut iter = records.iter()?;
    if level == Level::SummariesOnly {
        for item in iter {
            let (k, v) = item?;
            let pos = tables::split_pos(k.value())
                .ok_or_else(|| StoreError::Corrupt("a record key is not 40 bytes".into()))?;
            let slim = tables::split_record(v.value())
                .map(|(summary, _)| Slim {
                    summary,
                    prev: None,
                    time_ms: 0,
                })
                .map_err(|_| Damage::Summary);
            out.records += 1;
            feed(
                &mut chain,
                &mut out,
                pos,
                v.value(),
                slim,
                false,
                &mut backed,
            )?;
        }
        progress(out.records, total);
        return Ok(out);
    }
    let signatures = level == Level::Signatures;
    loop {
        let mut chunk: Vec<(Pos, Vec<u8>)> = Vec::with_capacity(CHUNK);
        for item in iter.by_ref().take(CHUNK) {
            let (k, v) = item?;
            let pos = tables::split_pos(k.value())
                .ok_or_else(|| StoreError::Corrupt("a record key is not 40 bytes".into()))?;
            chunk.push((pos, v.value().to_vec()));
        }
        if chunk.is_empty() {
            break;
        }
        let keys = signatures.then(|| KeyCache::parse(chunk.iter().map(|((a, _), _)| a)));
        let checked: Vec<Result<Slim, Damage>> = chunk
            .par_iter()
            .map(|(pos, value)| {
                if let Some(reason) = recorded.get(pos) {
                    return Err(Damage::Recorded(reason.clone()));
                }
                damage::inspect(*pos, value, keys.as_ref()).map(Slim::from)
            })
            .collect();
        for ((pos, value), result) in chunk.iter().zip(checked) {
            out.records += 1;
            feed(&mut chain, &mut out, *pos, value, result, true, &mut backed)?;
        }
        progress(out.records, total);
    }
    Ok(out)
}

/// What the chain logic needs of an intact record.
struct Slim {
    summary: Summary,
    prev: Option<RecordId>,
    time_ms: u64,
}

impl From<Intact> for Slim {
    fn from(i: Intact) -> Slim {
        Slim {
            summary: i.summary,
            prev: i.prev,
            time_ms: i.time_ms,
        }
    }
}

fn feed(
    chain: &mut Option<Chain>,
    out: &mut Scanned,
    (author, seq): Pos,
    value: &[u8],
    result: Result<Slim, Damage>,
    links: bool,
    backed: &mut impl FnMut(Pos, &Summary) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let c = match chain {
        Some(c) if c.author == author => c,
        _ => chain.insert(Chain {
            author,
            next: 0,
            backed: true,
            before: None,
        }),
    };
    if seq != c.next {
        // A hole: the chain cannot be backed past it.
        let top = Head {
            seq: c.next,
            id: RecordId::default(),
            time_ms: 0,
        };
        mark(out, author, c.next, Damage::Missing, top);
        c.backed = false;
        c.before = None;
    }
    c.next = seq.saturating_add(1);
    let checked = result.and_then(|slim| match &c.before {
        Some(before) if links => damage::link(before, slim.prev, slim.time_ms).map(|()| slim),
        _ => Ok(slim),
    });
    match checked {
        Ok(slim) => {
            let head = Head {
                seq,
                id: slim.summary.id,
                time_ms: slim.time_ms,
            };
            // A record after a damaged one cannot be linked yet: it is held.
            let linked = seq == 0 || c.before.is_some();
            if c.backed && linked {
                backed((author, seq), &slim.summary)?;
                out.heads.insert(author, head);
            } else {
                c.backed = false;
                if let Some(h) = out.holds.get_mut(&author) {
                    h.raise(head);
                }
            }
            c.before = Some(head);
        }
        Err(damage) => {
            let id = tables::split_record(value).map_or(RecordId::default(), |(s, _)| s.id);
            let top = Head {
                seq,
                id,
                time_ms: 0,
            };
            mark(out, author, seq, damage, top);
            c.backed = false;
            c.before = None;
        }
    }
    Ok(())
}

/// Records a damaged position of `author`'s chain.
fn mark(out: &mut Scanned, author: PublicKey, seq: u64, damage: Damage, top: Head) {
    let hold = out.holds.entry(author).or_insert_with(|| Hold {
        damaged: BTreeMap::new(),
        top,
    });
    hold.damaged.insert(seq, damage);
    hold.raise(top);
}
