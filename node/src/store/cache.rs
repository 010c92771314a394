//! The in-memory view of the accepted records: authority, chain heads, every id's
//! position and a dense per-author list of record summaries. Validation reads it so that
//! checking a record costs no disk read in the common case, and listings filter it so
//! that the disk holds one table per record instead of four indexes.
//!
//! [`Cache`] mirrors what is committed. During a batch, changes collect in an
//! [`Overlay`]; they reach the cache only after the write transaction has committed, so a
//! failed commit leaves the cache exactly as the disk is.

use std::{cell::RefCell, collections::BTreeMap};

// Keys are BLAKE3 ids and public keys of accepted records, not free attacker input;
// foldhash (randomly seeded) hashes them several times faster than SipHash, and id
// lookups and inserts are on every record's ingest path.
use foldhash::HashMap;

use interlab_protocol::{
    Authority, Digest, Envelope, FrontierEntry, Head, LogView, PublicKey, RecordId, SchemeId,
    Standing,
};
use redb::{ReadableTable, Table};

use super::{
    RecordFilter, StoreError,
    damage::{Damage, DamagedRecord},
    tables::{self, Summary},
};

/// A record's place in the log: its author's chain and its seq.
pub(crate) type Pos = (PublicKey, u64);

/// What listings filter on, for one record (16 bytes; suites are interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    kind: u8,
    /// Index into [`Cache::suites`].
    suite: Option<u32>,
    round: Option<u32>,
}

/// A chain with damaged records: the chain the node counts and serves ends just before
/// the first of them; the records stored after it are held until it is repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hold {
    /// Damaged (or missing) positions and what is wrong; never empty.
    pub(crate) damaged: BTreeMap<u64, Damage>,
    /// The highest position stored for the author (damaged or held), with the best id
    /// known for it: what the chain's head was before the damage was found.
    pub(crate) top: Head,
}

impl Hold {
    /// A hold with one damaged position.
    pub(crate) fn new(seq: u64, damage: Damage, top: Head) -> Hold {
        Hold {
            damaged: BTreeMap::from([(seq, damage)]),
            top,
        }
    }

    /// The first damaged seq: the chain is backed up to the seq before.
    pub(crate) fn first(&self) -> u64 {
        self.damaged.keys().next().copied().unwrap_or(self.top.seq)
    }

    /// Raises the recorded top to `head` when it is higher.
    pub(crate) fn raise(&mut self, head: Head) {
        if head.seq > self.top.seq {
            self.top = head;
        }
    }

    /// Intact records held behind the damage.
    pub(crate) fn held(&self) -> u64 {
        let span = self.top.seq.saturating_sub(self.first()) + 1;
        span.saturating_sub(self.damaged.len() as u64)
    }
}

/// Committed state: authority, chain heads, accepted ids and record summaries.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub(crate) authority: Authority,
    pub(crate) heads: BTreeMap<PublicKey, Head>,
    /// Chains with damaged records (see [`Hold`]).
    pub(crate) holds: BTreeMap<PublicKey, Hold>,
    /// The scheme genesis this store was created for, even while it is damaged.
    pub(crate) genesis: Option<SchemeId>,
    /// Accepted records by id.
    pub(crate) ids: HashMap<RecordId, Pos>,
    /// Per author (in key order), the entry of each accepted record at index `seq`.
    /// Chains are contiguous from seq 0, so a vector indexed by seq holds them.
    chains: BTreeMap<PublicKey, Vec<Entry>>,
    /// Interned suite ids.
    suites: Vec<Digest>,
    suite_index: HashMap<Digest, u32>,
    /// Bumped at every change; names the cached evidence state.
    pub(crate) generation: u64,
}

impl Cache {
    /// Accepted ids in no particular order (the evidence tree sorts them).
    pub(crate) fn unsorted_ids(&self) -> Vec<RecordId> {
        self.ids.keys().copied().collect()
    }

    /// Chain heads sorted by author.
    pub(crate) fn frontier(&self) -> Vec<FrontierEntry> {
        self.heads
            .iter()
            .map(|(a, h)| FrontierEntry {
                author: *a,
                seq: h.seq,
                head: h.id,
            })
            .collect()
    }

    /// Number of records of `author`'s chain the node backs (seq 0 up to its head).
    pub(crate) fn backed_len(&self, author: &PublicKey) -> u64 {
        self.chains.get(author).map_or(0, |c| c.len() as u64)
    }

    /// Every damaged record, by author and seq.
    pub(crate) fn damaged(&self) -> Vec<DamagedRecord> {
        self.holds
            .iter()
            .flat_map(|(author, hold)| {
                hold.damaged.iter().map(|(seq, damage)| DamagedRecord {
                    author: *author,
                    seq: *seq,
                    damage: damage.clone(),
                })
            })
            .collect()
    }

    /// Takes the record at `(author, seq)` and every later one of its chain out of the
    /// counted and served set (the scrub found it damaged); `head` is the record before
    /// it, `None` at seq 0.
    pub(crate) fn quarantine(
        &mut self,
        (author, seq): Pos,
        damage: Damage,
        head: Option<Head>,
    ) -> bool {
        if self.backed_len(&author) <= seq {
            return false;
        }
        let old = self.heads.get(&author).copied();
        if let Some(chain) = self.chains.get_mut(&author) {
            chain.truncate(usize::try_from(seq).unwrap_or(usize::MAX));
            if chain.is_empty() {
                self.chains.remove(&author);
            }
        }
        self.ids.retain(|_, (a, s)| *a != author || *s < seq);
        match head {
            Some(h) => self.heads.insert(author, h),
            None => self.heads.remove(&author),
        };
        let top = old.unwrap_or(Head {
            seq,
            id: RecordId::default(),
            time_ms: 0,
        });
        match self.holds.get_mut(&author) {
            Some(hold) => {
                hold.damaged.insert(seq, damage);
                hold.raise(top);
            }
            None => {
                self.holds.insert(author, Hold::new(seq, damage, top));
            }
        }
        self.generation += 1;
        true
    }

    /// Adds an accepted record at the end of its author's chain. Records must come in
    /// chain order; anything else means the disk and the cache disagree.
    pub(crate) fn push(&mut self, (author, seq): Pos, summary: &Summary) -> Result<(), StoreError> {
        let suite = summary.suite_round.map(|(s, _)| self.intern(s));
        let entry = Entry {
            kind: summary.kind,
            suite,
            round: summary.suite_round.and_then(|(_, r)| r),
        };
        let chain = self.chains.entry(author).or_default();
        if chain.len() as u64 != seq {
            return Err(StoreError::Corrupt(format!(
                "record {author} seq {seq} follows a chain of {} records",
                chain.len()
            )));
        }
        chain.push(entry);
        self.ids.insert(summary.id, (author, seq));
        Ok(())
    }

    fn intern(&mut self, suite: Digest) -> u32 {
        if let Some(i) = self.suite_index.get(&suite) {
            return *i;
        }
        let i = u32::try_from(self.suites.len()).unwrap_or(u32::MAX);
        self.suites.push(suite);
        self.suite_index.insert(suite, i);
        i
    }

    /// Positions of accepted records matching `filter`, in `(author, seq)` order, after
    /// `after`, at most `limit`.
    pub(crate) fn select(
        &self,
        filter: &RecordFilter,
        after: Option<Pos>,
        limit: usize,
    ) -> Vec<Pos> {
        let kind = filter
            .kind
            .as_deref()
            .map(|k| interlab_protocol::Body::KINDS.iter().position(|x| *x == k));
        // A filter naming an unknown kind or suite matches nothing.
        let kind = match kind {
            Some(None) => return Vec::new(),
            Some(Some(i)) => u8::try_from(i).ok(),
            None => None,
        };
        let suite = match &filter.suite {
            Some(s) => match self.suite_index.get(s) {
                Some(i) => Some(*i),
                None => return Vec::new(),
            },
            None => None,
        };
        let wanted = |e: &Entry| {
            kind.is_none_or(|k| e.kind == k)
                && suite.is_none_or(|s| e.suite == Some(s))
                && filter.round.is_none_or(|r| e.round == Some(r))
        };
        let mut out = Vec::new();
        if limit == 0 {
            return out;
        }
        let chains: Box<dyn Iterator<Item = (&PublicKey, &Vec<Entry>)>> = match &filter.author {
            Some(a) => Box::new(self.chains.get_key_value(a).into_iter()),
            None => match after {
                Some((a, _)) => Box::new(self.chains.range(a..)),
                None => Box::new(self.chains.iter()),
            },
        };
        for (author, entries) in chains {
            let from = match after {
                Some((a, s)) if a == *author => s.saturating_add(1),
                Some((a, _)) if a > *author => continue,
                _ => 0,
            };
            let from = usize::try_from(from).unwrap_or(usize::MAX);
            for (seq, e) in entries.iter().enumerate().skip(from) {
                if wanted(e) {
                    out.push((*author, seq as u64));
                    if out.len() == limit {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Applies a committed batch.
    pub(crate) fn apply(&mut self, overlay: Overlay) -> Result<(), StoreError> {
        let Overlay {
            heads,
            ops,
            live: _,
            authority,
            holds,
        } = overlay;
        if heads.is_empty() && ops.is_empty() && authority.is_none() && holds.is_empty() {
            return Ok(());
        }
        for (author, hold) in holds {
            match hold {
                Some(h) => self.holds.insert(author, h),
                None => self.holds.remove(&author),
            };
        }
        for (author, head) in heads {
            match head {
                Some(h) => {
                    self.heads.insert(author, h);
                }
                None => {
                    self.heads.remove(&author);
                }
            }
        }
        self.ids.reserve(ops.len());
        for op in ops {
            match op {
                Op::Add(pos, summary) => self.push(pos, &summary)?,
                Op::Remove((author, seq), id) => {
                    if let Some(chain) = self.chains.get_mut(&author) {
                        chain.truncate(usize::try_from(seq).unwrap_or(usize::MAX));
                        if chain.is_empty() {
                            self.chains.remove(&author);
                        }
                    }
                    self.ids.remove(&id);
                }
            }
        }
        if let Some(a) = authority {
            self.authority = a;
        }
        self.generation += 1;
        Ok(())
    }
}

/// One change of a batch, applied to the cache in order after the commit.
#[derive(Debug)]
pub(crate) enum Op {
    Add(Pos, Summary),
    /// Quarantine: the record and, since chains only lose their tails, every later one.
    Remove(Pos, RecordId),
}

/// Uncommitted changes of the batch being written.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// New heads (`None`: the chain was emptied by a revocation).
    pub(crate) heads: HashMap<PublicKey, Option<Head>>,
    ops: Vec<Op>,
    /// Ids added (`Some`) or removed (`None`) by this batch, for lookups before the commit.
    live: HashMap<RecordId, Option<Pos>>,
    /// The authority after this batch's owner records, when any changed it.
    pub(crate) authority: Option<Authority>,
    /// Chains whose damage this batch repaired (`None`: no damage left).
    pub(crate) holds: HashMap<PublicKey, Option<Hold>>,
}

impl Overlay {
    pub(crate) fn add(&mut self, pos: Pos, summary: Summary) {
        self.live.insert(summary.id, Some(pos));
        self.ops.push(Op::Add(pos, summary));
    }

    pub(crate) fn remove(&mut self, pos: Pos, id: RecordId) {
        self.live.insert(id, None);
        self.ops.push(Op::Remove(pos, id));
    }

    /// Whether the batch changed anything the cache holds.
    pub(crate) fn is_empty(&self) -> bool {
        self.heads.is_empty()
            && self.ops.is_empty()
            && self.authority.is_none()
            && self.holds.is_empty()
    }

    /// The damage of `author`'s chain as this batch leaves it.
    pub(crate) fn hold(&self, cache: &Cache, author: &PublicKey) -> Option<Hold> {
        match self.holds.get(author) {
            Some(h) => h.clone(),
            None => cache.holds.get(author).cloned(),
        }
    }
}

/// Raw-byte table as opened in a write transaction.
pub(crate) type BytesTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// Validation's view of the log in the middle of a batch: cache + overlay, and the write
/// transaction's records table for the rare lookup the cache does not hold.
pub(crate) struct View<'a, 't> {
    pub(crate) cache: &'a Cache,
    pub(crate) overlay: &'a Overlay,
    pub(crate) records: &'a BytesTable<'t>,
    /// First storage error met by a lookup (`LogView` cannot return one).
    pub(crate) error: RefCell<Option<StoreError>>,
}

impl View<'_, '_> {
    pub(crate) fn authority(&self) -> &Authority {
        self.overlay
            .authority
            .as_ref()
            .unwrap_or(&self.cache.authority)
    }

    fn note(&self, e: impl Into<StoreError>) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e.into());
        }
    }

    /// The first storage error met, if any.
    pub(crate) fn take_error(&self) -> Option<StoreError> {
        self.error.borrow_mut().take()
    }
}

impl LogView for View<'_, '_> {
    fn scheme(&self) -> Option<(SchemeId, PublicKey)> {
        self.authority().scheme()
    }

    fn lab_codes(&self) -> bool {
        self.authority().lab_codes()
    }

    fn head(&self, author: &PublicKey) -> Option<Head> {
        match self.overlay.heads.get(author) {
            Some(h) => *h,
            None => self.cache.heads.get(author).copied(),
        }
    }

    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Option<Envelope> {
        let got = match self.records.get(&tables::pos_key(author, seq)[..]) {
            Ok(v) => v,
            Err(e) => {
                self.note(e);
                return None;
            }
        };
        let value = got?;
        let decoded = tables::envelope_of(value.value()).and_then(|bytes| {
            Envelope::decode(bytes).map_err(|e| {
                StoreError::Corrupt(format!(
                    "stored envelope of {author} seq {seq} does not decode: {e}"
                ))
            })
        });
        match decoded {
            Ok(env) => Some(env),
            Err(e) => {
                self.note(e);
                None
            }
        }
    }

    fn contains(&self, id: &RecordId) -> bool {
        self.locate(id).is_some()
    }

    fn locate(&self, id: &RecordId) -> Option<(PublicKey, u64)> {
        match self.overlay.live.get(id) {
            Some(pos) => *pos,
            None => self.cache.ids.get(id).copied(),
        }
    }

    fn standing(&self, author: &PublicKey) -> Standing {
        self.authority().standing(author)
    }
}
