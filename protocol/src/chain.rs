//! Per-author hash chains and the fork proofs that catch equivocation.
//!
//! An author who signs two different records at one position of its chain has shown
//! different histories to different peers. The two envelopes together are a proof that
//! anyone can check without trusting whoever relays it.

use serde::{Deserialize, Serialize};

use crate::{
    cbor::{self, CborError},
    digest::RecordId,
    envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_BYTES},
    keys::PublicKey,
};

/// Two validly signed records by one author at one chain position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkProof {
    /// The envelope with the smaller id.
    pub a: Envelope,
    /// The envelope with the larger id.
    pub b: Envelope,
}

/// Why a fork proof does not prove a fork.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForkProofError {
    /// One of the two envelopes is not valid on its own.
    #[error("fork proof envelope {which}: {error}")]
    Envelope {
        /// `a` or `b`.
        which: &'static str,
        /// What is wrong with it.
        error: EnvelopeError,
    },
    /// Both envelopes are the same record.
    #[error("both envelopes are the same record {0}")]
    SameRecord(RecordId),
    /// Different authors.
    #[error("the envelopes have different authors ({0} and {1})")]
    DifferentAuthors(PublicKey, PublicKey),
    /// Different chain positions.
    #[error("the envelopes are at different positions (seq {0} and {1})")]
    DifferentSeq(u64, u64),
    /// Not in canonical order (`a` must have the smaller id).
    #[error("envelopes not ordered by id")]
    Order,
    /// The proof's bytes are not canonical.
    #[error("fork proof: {0}")]
    Encoding(CborError),
}

/// What a valid fork proof establishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fork {
    /// The equivocating author.
    pub author: PublicKey,
    /// The position signed twice.
    pub seq: u64,
    /// The two record ids (smaller first).
    pub ids: (RecordId, RecordId),
}

impl ForkProof {
    /// Builds a proof from two envelopes in either order.
    pub fn new(x: Envelope, y: Envelope) -> ForkProof {
        if x.id() <= y.id() {
            ForkProof { a: x, b: y }
        } else {
            ForkProof { a: y, b: x }
        }
    }

    /// Checks the proof on its own: both signatures, same author, same seq, different ids.
    pub fn verify(&self) -> Result<Fork, ForkProofError> {
        let a = self
            .a
            .clone()
            .open()
            .map_err(|error| ForkProofError::Envelope { which: "a", error })?;
        let b = self
            .b
            .clone()
            .open()
            .map_err(|error| ForkProofError::Envelope { which: "b", error })?;
        if a.id == b.id {
            return Err(ForkProofError::SameRecord(a.id));
        }
        if a.id > b.id {
            return Err(ForkProofError::Order);
        }
        if a.record.author != b.record.author {
            return Err(ForkProofError::DifferentAuthors(
                a.record.author,
                b.record.author,
            ));
        }
        if a.record.seq != b.record.seq {
            return Err(ForkProofError::DifferentSeq(a.record.seq, b.record.seq));
        }
        Ok(Fork {
            author: a.record.author,
            seq: a.record.seq,
            ids: (a.id, b.id),
        })
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_vec(self)
    }

    /// Strict decoding (does not verify; call [`ForkProof::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<ForkProof, ForkProofError> {
        cbor::from_slice_canonical(bytes, 2 * MAX_ENVELOPE_BYTES + 64)
            .map_err(ForkProofError::Encoding)
    }
}
