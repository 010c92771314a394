//! Sealed known answers: a suite commits to the true values of its known-answer items
//! (a hash in the manifest), the owner reveals them in a signed record after the round,
//! and every node checks the reveal against the commitment before using it.
//!
//! The commitment covers a random salt, so that it gives nothing away about the values
//! while the round runs (the values are few and guessable).

use serde::{Deserialize, Serialize};

use crate::{Digest, domain};

/// Shortest salt accepted: 128 bits.
pub const MIN_SALT: usize = 16;
/// Longest salt accepted.
pub const MAX_SALT: usize = 64;
/// Most answers in one reveal.
pub const MAX_ANSWERS: usize = 1024;

/// The true value of one metric of one test on a known-answer item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KnownAnswer {
    /// Test id.
    pub test: String,
    /// Metric.
    pub metric: String,
    /// The true value.
    pub value: f64,
    /// Its standard uncertainty (0 when exact by construction).
    pub u: f64,
}

/// What the commitment is computed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedAnswers {
    /// The item id.
    pub item: String,
    /// Random bytes chosen by the owner ([`MIN_SALT`]..=[`MAX_SALT`]).
    #[serde(with = "serde_bytes")]
    pub salt: Vec<u8>,
    /// The answers.
    pub answers: Vec<KnownAnswer>,
}

/// Why a reveal cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RevealError {
    /// The salt is too short or too long.
    #[error("the salt has {len} bytes; it must have {MIN_SALT} to {MAX_SALT}")]
    Salt {
        /// Its length.
        len: usize,
    },
    /// No answers or too many.
    #[error("a reveal holds 1 to {MAX_ANSWERS} answers, this one {count}")]
    Count {
        /// How many.
        count: usize,
    },
    /// A value or uncertainty that is not a finite number, or a negative uncertainty.
    #[error("answer for {test}/{metric}: value and u must be finite and u at least 0")]
    Number {
        /// Test id.
        test: String,
        /// Metric.
        metric: String,
    },
    /// The suite record named is not a publication of this suite.
    #[error("record {record} is not the publication of suite {suite}")]
    NotTheSuite {
        /// The record named.
        record: crate::RecordId,
        /// The suite.
        suite: Digest,
    },
    /// The suite has no such known-answer item.
    #[error("suite {suite} has no known-answer item named {item}")]
    NoSuchItem {
        /// The suite.
        suite: Digest,
        /// The item.
        item: String,
    },
    /// The revealed answers do not hash to the commitment.
    #[error(
        "the revealed answers for item {item} hash to {computed}, not to the committed {committed}"
    )]
    Mismatch {
        /// The item.
        item: String,
        /// In the manifest.
        committed: Digest,
        /// Of the reveal.
        computed: Digest,
    },
}

impl SealedAnswers {
    /// The commitment: BLAKE3 of the canonical CBOR in `domain::KNOWN_ANSWER`.
    pub fn commitment(&self) -> Digest {
        Digest::of(domain::KNOWN_ANSWER, &crate::cbor::to_vec(self))
    }

    /// Checks sizes and numbers.
    pub fn check(&self) -> Result<(), RevealError> {
        if !(MIN_SALT..=MAX_SALT).contains(&self.salt.len()) {
            return Err(RevealError::Salt {
                len: self.salt.len(),
            });
        }
        if self.answers.is_empty() || self.answers.len() > MAX_ANSWERS {
            return Err(RevealError::Count {
                count: self.answers.len(),
            });
        }
        for a in &self.answers {
            if !(a.value.is_finite() && a.u.is_finite() && a.u >= 0.0) {
                return Err(RevealError::Number {
                    test: a.test.clone(),
                    metric: a.metric.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks the reveal against the commitment `committed`.
    pub fn verify(&self, committed: &Digest) -> Result<(), RevealError> {
        self.check()?;
        let computed = self.commitment();
        if computed == *committed {
            Ok(())
        } else {
            Err(RevealError::Mismatch {
                item: self.item.clone(),
                committed: *committed,
                computed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> SealedAnswers {
        SealedAnswers {
            item: "kat-backdoor".into(),
            salt: vec![7; 16],
            answers: vec![KnownAnswer {
                test: "fgsm-eps0.1".into(),
                metric: "robust_accuracy".into(),
                value: 0.31,
                u: 0.0,
            }],
        }
    }

    #[test]
    fn a_reveal_matches_its_own_commitment_and_no_other() {
        let s = sealed();
        let c = s.commitment();
        assert_eq!(s.verify(&c), Ok(()));
        let mut changed = s.clone();
        changed.answers[0].value = 0.32;
        assert!(matches!(
            changed.verify(&c),
            Err(RevealError::Mismatch { .. })
        ));
        let mut salted = s;
        salted.salt[0] ^= 1;
        assert!(matches!(
            salted.verify(&c),
            Err(RevealError::Mismatch { .. })
        ));
    }

    #[test]
    fn short_salts_and_bad_numbers_are_refused() {
        let mut s = sealed();
        s.salt.truncate(8);
        assert_eq!(s.check(), Err(RevealError::Salt { len: 8 }));
        let mut s = sealed();
        s.answers[0].u = -1.0;
        assert!(matches!(s.check(), Err(RevealError::Number { .. })));
    }
}
