//! Ed25519 identities: every author in the log is a public key.

use std::{collections::HashMap, fmt, str::FromStr};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An author's Ed25519 public key (32 bytes), shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
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
    /// Verifies `sig` over `msg` with the strict rules (no small-order keys, canonical S).
    pub fn verify_strict(&self, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        verify_parsed(&self.parse()?, msg, sig)
    }

    /// Decompresses the key's curve point (the part of a verification that depends on
    /// the key alone).
    fn parse(&self) -> Result<VerifyingKey, SignatureError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey)
    }
}

fn verify_parsed(vk: &VerifyingKey, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    vk.verify_strict(msg, &sig)
        .map_err(|_| SignatureError::Invalid)
}

/// Author keys parsed once for a batch of envelopes.
///
/// Decompressing a key costs about a tenth of a verification; a catch-up batch holds
/// hundreds of records by a handful of authors, so parsing each key once pays. The
/// check itself is unchanged: `verify_strict` under the same key.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: HashMap<PublicKey, Result<VerifyingKey, SignatureError>>,
}

impl KeyCache {
    /// Parses every distinct key in `authors`.
    pub fn parse<'a>(authors: impl IntoIterator<Item = &'a PublicKey>) -> KeyCache {
        let mut keys = HashMap::new();
        for a in authors {
            keys.entry(*a).or_insert_with(|| a.parse());
        }
        KeyCache { keys }
    }

    /// [`PublicKey::verify_strict`], with the key taken from the cache when present.
    pub fn verify_strict(
        &self,
        author: &PublicKey,
        msg: &[u8],
        sig: &Signature,
    ) -> Result<(), SignatureError> {
        match self.keys.get(author) {
            Some(Ok(vk)) => verify_parsed(vk, msg, sig),
            Some(Err(e)) => Err(*e),
            None => author.verify_strict(msg, sig),
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The 32 bytes are not a valid Ed25519 point.
    #[error("the author key is not a valid ed25519 public key")]
    BadKey,
    /// The signature does not verify under the strict rules.
    #[error("the signature does not verify under the author's key")]
    Invalid,
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

/// A public key string that is not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hex characters for a public key, got {0:?}")]
pub struct ParseKeyError(pub String);

impl FromStr for PublicKey {
    type Err = ParseKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| ParseKeyError(s.to_owned()))?;
        Ok(PublicKey(out))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::hexbytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::hexbytes::deserialize::<D, 32>(d).map(PublicKey)
    }
}

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..4]))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::hexbytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::hexbytes::deserialize::<D, 64>(d).map(Signature)
    }
}

/// A secret signing key. Its `Debug` never shows the key material.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Builds a key from 32 secret bytes (the caller supplies the randomness).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(bytes))
    }
    /// The 32 secret bytes, for writing the key file.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }
    /// Signs `msg` (deterministic Ed25519).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_debug_hides_material() {
        let k = SecretKey::from_bytes(&[7; 32]);
        assert_eq!(format!("{k:?}"), "SecretKey(..)");
    }

    #[test]
    fn cached_keys_give_the_same_verdicts() {
        let k = SecretKey::from_bytes(&[1; 32]);
        let other = SecretKey::from_bytes(&[2; 32]);
        // The identity point's encoding: a small-order key, which the strict rules refuse.
        let mut small = [0u8; 32];
        small[0] = 1;
        let small = PublicKey(small);
        // Not a curve point at all (y = 2 has no x on Ed25519).
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        let off_curve = PublicKey(off_curve);
        let cache = KeyCache::parse([k.public(), small, off_curve].iter());
        let sig = k.sign(b"msg");
        for (author, msg) in [
            (k.public(), &b"msg"[..]),
            (k.public(), b"msh"),
            (other.public(), b"msg"),
            (small, b"msg"),
            (off_curve, b"msg"),
        ] {
            assert_eq!(
                cache.verify_strict(&author, msg, &sig),
                author.verify_strict(msg, &sig),
                "{author:?}"
            );
        }
        assert_eq!(
            cache.verify_strict(&off_curve, b"msg", &sig),
            Err(SignatureError::BadKey)
        );
    }

    #[test]
    fn strict_verification_accepts_own_signature_and_rejects_others() {
        let k = SecretKey::from_bytes(&[1; 32]);
        let sig = k.sign(b"msg");
        assert_eq!(k.public().verify_strict(b"msg", &sig), Ok(()));
        assert_eq!(
            k.public().verify_strict(b"msh", &sig),
            Err(SignatureError::Invalid)
        );
        let other = SecretKey::from_bytes(&[2; 32]);
        assert_eq!(
            other.public().verify_strict(b"msg", &sig),
            Err(SignatureError::Invalid)
        );
    }
}
