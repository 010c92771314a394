//! 32-byte BLAKE3 digests with domain separation.
//!
//! Every hash in Interlab is taken in BLAKE3's `derive_key` mode under a context string
//! of its own, so a record id can never be confused with an artefact digest or a Merkle
//! node even when the hashed bytes coincide.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Context strings for every domain that Interlab hashes in.
pub mod domain {
    /// Record ids: the hash of a record's exact body bytes.
    pub const RECORD_ID: &str = "interlab 2026-11 record id v1";
    /// Content-addressed artefacts (datasets, model weights, per-sample evidence).
    pub const ARTEFACT: &str = "interlab 2026-11 artefact v1";
    /// Suite ids: the hash of a suite manifest's canonical bytes.
    pub const SUITE: &str = "interlab 2026-11 suite id v1";
    /// Acceptance criteria: the hash of a criterion's canonical CBOR.
    pub const CRITERION: &str = "interlab 2026-11 criterion v1";
    /// Reports: the hash of a comparability report's canonical bytes.
    pub const REPORT: &str = "interlab 2026-11 report v1";
    /// Commitments to sealed known answers of a suite's test items.
    pub const KNOWN_ANSWER: &str = "interlab 2026-11 known answer v1";
}

/// A BLAKE3 digest (32 bytes). Shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Hashes `data` in the given domain (one of [`domain`]'s context strings).
    pub fn of(domain: &str, data: &[u8]) -> Self {
        let mut h = blake3::Hasher::new_derive_key(domain);
        h.update(data);
        Digest(*h.finalize().as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters, for logs and tables.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hexbytes::with_hex(&self.0, |hex| f.write_str(hex))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

/// A digest string that is not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hex characters for a digest, got {0:?}")]
pub struct ParseDigestError(pub String);

impl FromStr for Digest {
    type Err = ParseDigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| ParseDigestError(s.to_owned()))?;
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::hexbytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::hexbytes::deserialize::<D, 32>(d).map(Digest)
    }
}

/// The id of a record: [`Digest`] of its exact body bytes in the record-id domain.
pub type RecordId = Digest;

/// The id of a scheme: the record id of its genesis record.
pub type SchemeId = Digest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_equal_inputs() {
        let a = Digest::of(domain::RECORD_ID, b"x");
        let b = Digest::of(domain::ARTEFACT, b"x");
        assert_ne!(a, b);
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let d = Digest::of(domain::SUITE, b"suite");
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        assert_eq!(
            "abc".parse::<Digest>(),
            Err(ParseDigestError("abc".to_owned()))
        );
    }
}
