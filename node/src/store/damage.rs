//! What can be wrong with one stored record, and the check that finds it.
//!
//! [`inspect`] looks at one value of the records table on its own: the stored summary,
//! the envelope, the record id re-hashed from the stored body, the record's position
//! against its key, and (when asked) the signature. Links between neighbours (prev,
//! time) are checked by the caller, which knows the record before ([`link`]).
//!
//! A damaged record is quarantined: the author's chain, as the node counts and serves
//! it, ends just before it, and the intact records after it are held until a good copy
//! has been fetched from a peer (`docs/decisions.md`, "A store that knows it is sound").

use interlab_protocol::{Envelope, Head, KeyCache, PublicKey, Record, RecordId};

use super::{
    skim::{self, Skimmed},
    tables::{self, Summary},
};

/// Why a stored record cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// The 70-byte summary in front of the envelope does not decode.
    #[error("the stored summary is unreadable")]
    Summary,
    /// The envelope bytes do not decode.
    #[error("the stored envelope does not decode: {0}")]
    Envelope(String),
    /// The stored id is not the hash of the stored body.
    #[error("the stored id is {stored} but the stored body hashes to {computed}")]
    Id {
        /// The id in the summary.
        stored: RecordId,
        /// BLAKE3 of the stored body.
        computed: RecordId,
    },
    /// The body does not decode as a record.
    #[error("the stored body does not decode: {0}")]
    Body(String),
    /// The envelope's signer is not the record's author.
    #[error("the envelope is signed by {envelope} but the record's author is {record}")]
    Author {
        /// Envelope author.
        envelope: PublicKey,
        /// Record author.
        record: PublicKey,
    },
    /// The record is not the one its key names.
    #[error("the record stored here is {author} seq {seq}")]
    Misplaced {
        /// The record's author.
        author: PublicKey,
        /// The record's seq.
        seq: u64,
    },
    /// The stored kind, suite or round does not describe the record.
    #[error("the stored kind, suite or round does not describe the record")]
    SummaryMismatch,
    /// `prev` does not name the record before.
    #[error("its prev is {} but the record at the seq before is {expected}", show(.found))]
    Link {
        /// The id of the record before, re-hashed from its bytes.
        expected: RecordId,
        /// The record's prev.
        found: Option<RecordId>,
    },
    /// Time goes back along the chain.
    #[error("its time {found_ms} ms is before the previous record's {prev_ms} ms")]
    Time {
        /// The record before.
        prev_ms: u64,
        /// This record.
        found_ms: u64,
    },
    /// The signature does not verify (found by a full check or the background scrub).
    #[error("the signature does not verify: {0}")]
    Signature(String),
    /// The position is empty while later records of the chain are stored.
    #[error("the record is missing while later records of the chain are stored")]
    Missing,
    /// Found earlier by the background scrub and recorded (the reason as it was found).
    #[error("{0}")]
    Recorded(String),
}

fn show(id: &Option<RecordId>) -> String {
    id.map_or_else(|| "none".to_owned(), |id| id.to_string())
}

/// A damaged record and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRecord {
    /// The chain it belongs to (the key it is stored under).
    pub author: PublicKey,
    /// Its seq in that chain.
    pub seq: u64,
    /// What is wrong.
    pub damage: Damage,
}

impl std::fmt::Display for DamagedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} seq {}: {}", self.author, self.seq, self.damage)
    }
}

/// A stored record that passed [`inspect`]: what the chain checks need of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intact {
    pub(crate) summary: Summary,
    pub(crate) seq: u64,
    pub(crate) prev: Option<RecordId>,
    pub(crate) time_ms: u64,
}

impl Intact {
    pub(crate) fn head(&self) -> Head {
        Head {
            seq: self.seq,
            id: self.summary.id,
            time_ms: self.time_ms,
        }
    }
}

/// Checks one stored record value on its own, at position `(author, seq)`: summary,
/// envelope, id re-hashed from the body, body, author, position, summary against the
/// body, and with `keys` the signature.
pub(crate) fn inspect(
    (author, seq): (PublicKey, u64),
    value: &[u8],
    keys: Option<&KeyCache>,
) -> Result<Intact, Damage> {
    let (summary, bytes) = tables::split_record(value).map_err(|_| Damage::Summary)?;
    let env = Envelope::decode(bytes).map_err(|e| Damage::Envelope(e.to_string()))?;
    let computed = env.id();
    if computed != summary.id {
        return Err(Damage::Id {
            stored: summary.id,
            computed,
        });
    }
    // The body hashes to the id it was accepted under, so it is the body that was
    // validated then: reading the few fields needed is enough (`skim`).
    let record = match skim::record(&env.body) {
        Some(s) => s,
        None => {
            let r = Record::from_canonical(&env.body).map_err(|e| Damage::Body(e.to_string()))?;
            Skimmed {
                author: r.author,
                seq: r.seq,
                prev: r.prev,
                time_ms: r.time_ms,
                kind: r.body.kind_index(),
                suite_round: r.body.suite_round(),
            }
        }
    };
    if record.author != env.author {
        return Err(Damage::Author {
            envelope: env.author,
            record: record.author,
        });
    }
    if record.author != author || record.seq != seq {
        return Err(Damage::Misplaced {
            author: record.author,
            seq: record.seq,
        });
    }
    let described = Summary {
        id: computed,
        kind: record.kind,
        suite_round: record.suite_round,
    };
    if described != summary {
        return Err(Damage::SummaryMismatch);
    }
    if let Some(keys) = keys {
        env.verify_signature_with(keys)
            .map_err(|e| Damage::Signature(e.to_string()))?;
    }
    Ok(Intact {
        summary,
        seq,
        prev: record.prev,
        time_ms: record.time_ms,
    })
}

/// Checks that a record with this `prev` and time follows `before` in one chain.
pub(crate) fn link(before: &Head, prev: Option<RecordId>, time_ms: u64) -> Result<(), Damage> {
    if prev != Some(before.id) {
        return Err(Damage::Link {
            expected: before.id,
            found: prev,
        });
    }
    if time_ms < before.time_ms {
        return Err(Damage::Time {
            prev_ms: before.time_ms,
            found_ms: time_ms,
        });
    }
    Ok(())
}
