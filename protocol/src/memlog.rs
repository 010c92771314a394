//! An in-memory log: the reference implementation of [`LogView`], used for offline
//! verification of exported evidence and by simulations and tests.

use std::collections::BTreeMap;

use crate::{
    authority::Authority,
    chain::ForkProof,
    digest::{RecordId, SchemeId},
    envelope::{Envelope, Opened},
    evidence::{EvidenceState, FrontierEntry, InclusionProof, evidence_root},
    keys::PublicKey,
    validate::{Accepted, Head, LogView, Rejection, Standing, validate_opened},
};

/// Records accepted so far, their chains and the authority they imply.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    authority: Authority,
    chains: BTreeMap<PublicKey, Vec<Opened>>,
    ids: BTreeMap<RecordId, (PublicKey, u64)>,
    forks: Vec<ForkProof>,
    quarantined: Vec<Opened>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The authority derived from the owner's records.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Fork proofs seen so far.
    pub fn forks(&self) -> &[ForkProof] {
        &self.forks
    }

    /// Records that left the accepted set because their lab was revoked.
    pub fn quarantined(&self) -> &[Opened] {
        &self.quarantined
    }

    /// Number of accepted records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no record is accepted.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Accepted records, by author then seq.
    pub fn records(&self) -> impl Iterator<Item = &Opened> {
        self.chains.values().flatten()
    }

    /// One record by id.
    pub fn get(&self, id: &RecordId) -> Option<&Opened> {
        let (a, s) = self.ids.get(id)?;
        self.chains.get(a)?.get(usize::try_from(*s).ok()?)
    }

    /// Adds a record that [`validate_opened`] accepted against this log.
    pub fn insert(&mut self, accepted: Accepted) {
        let Accepted(opened) = accepted;
        let author = opened.record.author;
        let seq = opened.record.seq;
        self.ids.insert(opened.id, (author, seq));
        let revocation = self.authority.apply(opened.id, &opened.record);
        self.chains.entry(author).or_default().push(opened);
        if let Some(rev) = revocation
            && let Some(chain) = self.chains.get_mut(&rev.lab)
        {
            let keep = rev
                .last_seq
                .map_or(0, |s| (s + 1) as usize)
                .min(chain.len());
            for gone in chain.drain(keep..) {
                self.ids.remove(&gone.id);
                self.quarantined.push(gone);
            }
            if chain.is_empty() {
                self.chains.remove(&rev.lab);
            }
        }
    }

    /// Validates and adds one envelope. An equivocation's proof is kept.
    pub fn ingest(&mut self, bytes: &[u8], now_ms: u64) -> Result<RecordId, Rejection> {
        let opened = Envelope::open_bytes(bytes)?;
        self.ingest_opened(opened, now_ms)
    }

    fn ingest_opened(&mut self, opened: Opened, now_ms: u64) -> Result<RecordId, Rejection> {
        match validate_opened(opened, self, now_ms) {
            Ok(a) => {
                let id = a.id();
                self.insert(a);
                Ok(id)
            }
            Err(Rejection::Equivocation(proof)) => {
                if !self.forks.contains(&proof) {
                    self.forks.push((*proof).clone());
                }
                Err(Rejection::Equivocation(proof))
            }
            Err(e) => Err(e),
        }
    }

    /// Adds envelopes given in any order: records waiting for a predecessor or an
    /// accreditation are retried until nothing more can be added. Returns the index and
    /// final rejection of every envelope that was not accepted.
    pub fn ingest_all(&mut self, envelopes: &[Vec<u8>], now_ms: u64) -> Vec<(usize, Rejection)> {
        let mut failed = Vec::new();
        let mut pending: Vec<(usize, Opened)> = Vec::new();
        for (i, b) in envelopes.iter().enumerate() {
            match Envelope::open_bytes(b) {
                Ok(o) => pending.push((i, o)),
                Err(e) => failed.push((i, Rejection::from(e))),
            }
        }
        pending.sort_by_key(|(_, o)| (o.record.seq, o.record.author));
        loop {
            let mut progress = false;
            let mut next = Vec::new();
            let mut last_err = Vec::new();
            for (i, o) in pending {
                match self.ingest_opened(o.clone(), now_ms) {
                    Ok(_) => progress = true,
                    Err(
                        e @ (Rejection::Gap { .. }
                        | Rejection::NoScheme
                        | Rejection::UnknownAuthor(_)
                        | Rejection::UnknownTarget(_)),
                    ) => {
                        next.push((i, o));
                        last_err.push(e);
                    }
                    Err(e) => failed.push((i, e)),
                }
            }
            if !progress || next.is_empty() {
                failed.extend(next.into_iter().map(|(i, _)| i).zip(last_err));
                break;
            }
            pending = next;
        }
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    /// Accepted ids in no particular order.
    pub fn ids(&self) -> Vec<RecordId> {
        self.ids.keys().copied().collect()
    }

    /// The evidence root, count and frontier.
    pub fn evidence(&self) -> EvidenceState {
        let ids = self.ids();
        EvidenceState {
            root: evidence_root(&ids),
            records: ids.len() as u64,
            frontier: self
                .chains
                .iter()
                .filter_map(|(a, c)| {
                    c.last().map(|o| FrontierEntry {
                        author: *a,
                        seq: o.record.seq,
                        head: o.id,
                    })
                })
                .collect(),
        }
    }

    /// Inclusion proof of one accepted record.
    pub fn proof(&self, id: &RecordId) -> Option<InclusionProof> {
        InclusionProof::build(&self.ids(), id)
    }
}

impl LogView for MemoryLog {
    fn scheme(&self) -> Option<(SchemeId, PublicKey)> {
        self.authority.scheme()
    }
    fn lab_codes(&self) -> bool {
        self.authority.lab_codes()
    }
    fn head(&self, author: &PublicKey) -> Option<Head> {
        self.chains.get(author)?.last().map(|o| Head {
            seq: o.record.seq,
            id: o.id,
            time_ms: o.record.time_ms,
        })
    }
    fn envelope_at(&self, author: &PublicKey, seq: u64) -> Option<Envelope> {
        let c = self.chains.get(author)?;
        c.get(usize::try_from(seq).ok()?)
            .map(|o| o.envelope.clone())
    }
    fn contains(&self, id: &RecordId) -> bool {
        self.ids.contains_key(id)
    }
    fn locate(&self, id: &RecordId) -> Option<(PublicKey, u64)> {
        self.ids.get(id).copied()
    }
    fn standing(&self, author: &PublicKey) -> Standing {
        self.authority.standing(author)
    }
}
