//! Canonical CBOR: the one encoding whose bytes are signed and hashed.
//!
//! ciborium does not canonicalise on its own, so the rule is: the canonical form of a
//! value is what ciborium writes for it (structs as maps with fields in declaration
//! order, shortest-width integers and lossless floats), and input is accepted only if
//! decoding then re-encoding gives back the very same bytes. That rejects unknown or
//! duplicate fields, reordered fields, over-long integers, indefinite lengths and
//! trailing bytes, each with a reason.

use serde::{Serialize, de::DeserializeOwned};

mod de;

/// How deep CBOR may nest before decoding stops (well above any Interlab type).
const MAX_DEPTH: usize = 64;

/// Why bytes were not accepted as canonical CBOR of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// More bytes than the limit for this kind of value.
    #[error("input is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not CBOR of the expected shape (truncated, wrong type, unknown field …).
    #[error("cannot decode: {0}")]
    Decode(String),
    /// Valid CBOR, but not the canonical bytes for the decoded value.
    #[error("non-canonical encoding: re-encoding the decoded value gives different bytes")]
    NonCanonical,
    /// Bytes after the end of the value.
    #[error("{0} trailing bytes after the value")]
    Trailing(usize),
}

/// Encodes a value to its canonical bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing to a Vec cannot fail and every Interlab type is serialisable.
    if let Err(e) = ciborium::into_writer(value, &mut out) {
        unreachable_encode(e);
    }
    out
}

#[cold]
fn unreachable_encode(e: ciborium::ser::Error<std::io::Error>) -> ! {
    panic!("encoding an in-memory value cannot fail: {e}")
}

/// Decodes `bytes` as `T`, accepting only canonical input of at most `max` bytes.
pub fn from_slice_canonical<T>(bytes: &[u8], max: usize) -> Result<T, CborError>
where
    T: DeserializeOwned + Serialize,
{
    if bytes.len() > max {
        return Err(CborError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let (value, rest): (T, _) = de::from_slice(bytes, MAX_DEPTH).map_err(|e| match e {
        de::Error::Malformed(m) => CborError::Decode(m),
        de::Error::NonCanonical => CborError::NonCanonical,
    })?;
    if !rest.is_empty() {
        return Err(CborError::Trailing(rest.len()));
    }
    // Re-encode, comparing as we go instead of writing.
    let mut expected = Expect(bytes);
    match ciborium::into_writer(&value, &mut expected) {
        Ok(()) if expected.0.is_empty() => Ok(value),
        _ => Err(CborError::NonCanonical),
    }
}

/// A writer that accepts exactly the bytes it holds, in order.
struct Expect<'a>(&'a [u8]);

impl std::io::Write for Expect<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self.0.strip_prefix(data) {
            Some(rest) => {
                self.0 = rest;
                Ok(data.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        a: u64,
        b: String,
    }

    #[test]
    fn canonical_bytes_round_trip() {
        let v = T {
            a: 5,
            b: "x".into(),
        };
        let bytes = to_vec(&v);
        assert_eq!(from_slice_canonical::<T>(&bytes, 100), Ok(v));
    }

    #[test]
    fn over_long_integer_is_non_canonical() {
        // {"a": 5 as u16, "b": "x"}
        let bytes = [0xa2, 0x61, b'a', 0x19, 0x00, 0x05, 0x61, b'b', 0x61, b'x'];
        assert_eq!(
            from_slice_canonical::<T>(&bytes, 100),
            Err(CborError::NonCanonical)
        );
    }

    #[test]
    fn reordered_fields_are_non_canonical() {
        let bytes = [0xa2, 0x61, b'b', 0x61, b'x', 0x61, b'a', 0x05];
        assert_eq!(
            from_slice_canonical::<T>(&bytes, 100),
            Err(CborError::NonCanonical)
        );
    }

    #[test]
    fn trailing_and_oversize_and_truncated_are_rejected() {
        let mut bytes = to_vec(&T {
            a: 1,
            b: "y".into(),
        });
        assert!(matches!(
            from_slice_canonical::<T>(&bytes, 3),
            Err(CborError::TooLarge { max: 3, .. })
        ));
        let truncated = &bytes[..bytes.len() - 1];
        assert!(matches!(
            from_slice_canonical::<T>(truncated, 100),
            Err(CborError::Decode(m)) if m.contains("truncated")
        ));
        bytes.push(0);
        assert_eq!(
            from_slice_canonical::<T>(&bytes, 100),
            Err(CborError::Trailing(1))
        );
    }
}
