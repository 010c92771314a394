//! The in-memory view that validation reads, so that checking a record costs no disk read
//! in the common case (new record at the head of its chain).
//!
//! [`Cache`] mirrors what is committed. During a batch, changes collect in an
//! [`Overlay`]; they reach the cache only after the write transaction has committed, so a
//! failed commit leaves the cache exactly as the disk is.

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap, HashSet},
};

use interlab_protocol::{
    Authority, Envelope, EvidenceState, FrontierEntry, Head, LogView, PublicKey, RecordId,
    SchemeId, Standing, evidence_root,
};
use redb::{ReadableTable, Table};

use super::{StoreError, tables};

/// Committed state that validation needs: authority, chain heads and the accepted ids.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub(crate) authority: Authority,
    pub(crate) heads: BTreeMap<PublicKey, Head>,
    pub(crate) ids: HashSet<RecordId>,
    /// Bumped at every change; names the cached evidence state.
    pub(crate) generation: u64,
}

impl Cache {
    /// Accepted ids, sorted.
    pub(crate) fn sorted_ids(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self.ids.iter().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Computes the evidence state (the caller caches it by generation).
    pub(crate) fn evidence(&self) -> EvidenceState {
        let ids = self.sorted_ids();
        EvidenceState {
            root: evidence_root(&ids),
            records: ids.len() as u64,
            frontier: self.frontier(),
        }
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

    /// Applies a committed batch.
    pub(crate) fn apply(&mut self, overlay: Overlay) {
        let Overlay {
            heads,
            added,
            removed,
            authority,
        } = overlay;
        if heads.is_empty() && added.is_empty() && removed.is_empty() && authority.is_none() {
            return;
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
        for id in &removed {
            self.ids.remove(id);
        }
        self.ids.extend(added);
        if let Some(a) = authority {
            self.authority = a;
        }
        self.generation += 1;
    }
}

/// Uncommitted changes of the batch being written.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// New heads (`None`: the chain was emptied by a revocation).
    pub(crate) heads: HashMap<PublicKey, Option<Head>>,
    pub(crate) added: HashSet<RecordId>,
    pub(crate) removed: HashSet<RecordId>,
    /// The authority after this batch's owner records, when any changed it.
    pub(crate) authority: Option<Authority>,
}

impl Overlay {
    pub(crate) fn add(&mut self, id: RecordId) {
        self.removed.remove(&id);
        self.added.insert(id);
    }

    pub(crate) fn remove(&mut self, id: RecordId) {
        if !self.added.remove(&id) {
            self.removed.insert(id);
        }
    }
}

/// Raw-byte table as opened in a write transaction.
pub(crate) type BytesTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// Validation's view of the log in the middle of a batch: cache + overlay, and the write
/// transaction's tables for the rare lookups the cache does not hold.
pub(crate) struct View<'a, 't> {
    pub(crate) cache: &'a Cache,
    pub(crate) overlay: &'a Overlay,
    pub(crate) records: &'a BytesTable<'t>,
    pub(crate) ids: &'a BytesTable<'t>,
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
        let bytes = got?;
        match Envelope::decode(bytes.value()) {
            Ok(env) => Some(env),
            Err(e) => {
                self.note(StoreError::Corrupt(format!(
                    "stored envelope of {author} seq {seq} does not decode: {e}"
                )));
                None
            }
        }
    }

    fn contains(&self, id: &RecordId) -> bool {
        if self.overlay.added.contains(id) {
            return true;
        }
        if self.overlay.removed.contains(id) {
            return false;
        }
        self.cache.ids.contains(id)
    }

    fn locate(&self, id: &RecordId) -> Option<(PublicKey, u64)> {
        if !self.contains(id) {
            return None;
        }
        match self.ids.get(&id.as_bytes()[..]) {
            Ok(v) => tables::split_pos(v?.value()),
            Err(e) => {
                self.note(e);
                None
            }
        }
    }

    fn standing(&self, author: &PublicKey) -> Standing {
        self.authority().standing(author)
    }
}
