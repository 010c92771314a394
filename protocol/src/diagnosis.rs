//! Explaining a set of envelopes that did not all verify: every failure with its reason
//! code and the record it belongs to, root causes first.
//!
//! One damaged record can make many others fail: a lab's records wait for its
//! accreditation, an author's later records wait for the damaged one (a gap). Reporting
//! them by position would blame a downstream lab for the scheme owner's damaged record,
//! so each failure that only *waits* for something (`gap`, `unknown_author`, `no_scheme`)
//! is traced to the failed envelope it waits for, and listed after the root causes.

use std::{collections::BTreeMap, fmt};

use crate::{
    digest::RecordId,
    envelope::Envelope,
    keys::PublicKey,
    memlog::MemoryLog,
    record::{Body, Record},
    validate::Rejection,
};

/// Longest chain of causes followed (real chains have at most three steps).
const MAX_CAUSE_STEPS: usize = 16;

/// The record an envelope carries, as far as its bytes tell (the author and seq are
/// claimed, not verified, when the signature or the log rejected it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// The record id (hash of the body bytes).
    pub id: RecordId,
    /// The envelope's author.
    pub author: PublicKey,
    /// The record's seq, when the body decodes.
    pub seq: Option<u64>,
    /// Whether the author is the scheme owner.
    pub owner: bool,
}

impl RecordRef {
    /// Reads what it can from envelope bytes; `None` when they are not an envelope.
    pub fn of(bytes: &[u8], owner: Option<&PublicKey>) -> Option<RecordRef> {
        let env = Envelope::decode(bytes).ok()?;
        let seq = Record::from_canonical(&env.body).ok().map(|r| r.seq);
        Some(RecordRef {
            id: env.id(),
            author: env.author,
            seq,
            owner: owner == Some(&env.author),
        })
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.owner {
            "the scheme owner's record"
        } else {
            "record"
        };
        write!(f, "{who} {} by {}", self.id, self.author)?;
        match self.seq {
            Some(s) => write!(f, " at seq {s}"),
            None => write!(f, " (seq unreadable)"),
        }
    }
}

/// One envelope that was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeFailure {
    /// Its position in the file or bundle.
    pub index: usize,
    /// The record it carries, when the envelope decodes.
    pub record: Option<RecordRef>,
    /// The final reason.
    pub rejection: Rejection,
    /// The failed envelope this failure follows from (a root cause), if any.
    pub follows_from: Option<usize>,
}

impl fmt::Display for EnvelopeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "envelope {} [{}]", self.index, self.rejection.code())?;
        if let Some(r) = &self.record {
            write!(f, " {r}")?;
        }
        write!(f, ": {}", self.rejection)?;
        if let Some(j) = self.follows_from {
            write!(f, " (follows from envelope {j})")?;
        }
        Ok(())
    }
}

/// Orders and explains the failures of [`MemoryLog::ingest_all`] over `envelopes`:
/// root causes first (by position), then the failures that follow from them, each
/// naming its root cause.
pub fn diagnose(
    envelopes: &[Vec<u8>],
    log: &MemoryLog,
    failed: Vec<(usize, Rejection)>,
) -> Vec<EnvelopeFailure> {
    let claimed_genesis = |bytes: &[u8]| -> Option<PublicKey> {
        let env = Envelope::decode(bytes).ok()?;
        let rec = Record::from_canonical(&env.body).ok()?;
        matches!(rec.body, Body::SchemeGenesis { .. }).then_some(env.author)
    };
    // The owner: from the accepted genesis, else from a genesis among the failures.
    let owner = log.authority().owner().or_else(|| {
        failed
            .iter()
            .find_map(|(i, _)| envelopes.get(*i).and_then(|b| claimed_genesis(b)))
    });
    let mut out: Vec<EnvelopeFailure> = failed
        .into_iter()
        .map(|(index, rejection)| EnvelopeFailure {
            index,
            record: envelopes
                .get(index)
                .and_then(|b| RecordRef::of(b, owner.as_ref())),
            rejection,
            follows_from: None,
        })
        .collect();
    // (author, seq) → position in `out`, for the records whose seq is readable.
    let positions: BTreeMap<(PublicKey, u64), usize> = out
        .iter()
        .enumerate()
        .filter_map(|(k, f)| f.record.and_then(|r| Some(((r.author, r.seq?), k))))
        .collect();
    let find = |author: &PublicKey, seq: u64| positions.get(&(*author, seq)).copied();
    // The owner's earliest failed record: what accreditations and the genesis wait for.
    let owner_first = owner.and_then(|o| {
        out.iter()
            .enumerate()
            .filter(|(_, f)| f.record.is_some_and(|r| r.author == o))
            .min_by_key(|(_, f)| f.record.and_then(|r| r.seq))
            .map(|(k, _)| k)
    });
    let direct: Vec<Option<usize>> = out
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let cause = match &f.rejection {
                Rejection::Gap { author, have, .. } => find(author, have.map_or(0, |h| h + 1)),
                Rejection::UnknownAuthor(_) | Rejection::NoScheme => owner_first,
                _ => None,
            };
            cause.filter(|&c| c != k)
        })
        .collect();
    // Follow each chain of causes to its root. A gap points at the first missing seq,
    // which failed for another reason, at most at the owner's earliest failure, whose own
    // cause is no further failure: real chains are at most three steps long. The bound
    // only keeps a hostile file from making this loop long.
    for k in 0..out.len() {
        let mut at = k;
        for _ in 0..MAX_CAUSE_STEPS {
            match direct[at] {
                Some(next) if next != k => at = next,
                _ => break,
            }
        }
        if at != k && direct[at].is_none() {
            out[k].follows_from = Some(out[at].index);
        }
    }
    out.sort_by_key(|f| (f.follows_from.is_some(), f.index));
    out
}
