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

/// Types whose every part (de)serialises symmetrically through serde's data model: derived
/// impls with no skipped, defaulted, flattened or untagged fields, no map types, no `f32`,
/// and byte arrays as byte strings. For them the strict decoder's acceptance implies the
/// re-encode check, so [`from_slice_strict`] can skip it.
pub(crate) trait StrictShape {}

impl StrictShape for crate::record::Record {}
impl StrictShape for crate::envelope::Envelope {}

/// [`from_slice_canonical`] for the two types every ingest decodes, without the re-encode:
/// the strict decoder refuses anything ciborium would not write back byte for byte (struct
/// fields all present in declaration order, ciborium's float widths, unit variants as bare
/// names), on top of the shortest heads and definite lengths it always requires. Input
/// it refuses goes through [`from_slice_canonical`], which names the exact reason, so
/// errors are the same as there. Debug builds (tests, fuzzing) still re-encode every
/// accepted value and panic if the bytes differ.
pub(crate) fn from_slice_strict<T>(bytes: &[u8], max: usize) -> Result<T, CborError>
where
    T: DeserializeOwned + Serialize + StrictShape,
{
    if bytes.len() <= max
        && let Ok((value, [])) = de::from_slice_strict::<T>(bytes, MAX_DEPTH)
    {
        debug_assert!(
            to_vec(&value) == bytes,
            "strict decoding accepted bytes that do not re-encode the same"
        );
        return Ok(value);
    }
    from_slice_canonical(bytes, max)
}

/// A ciborium decoding error in words (its `Display` is its `Debug`, e.g.
/// `Semantic(None, "...")`, which is no message for a person).
pub(crate) fn describe<T: std::fmt::Display>(e: &ciborium::de::Error<T>) -> String {
    use ciborium::de::Error;
    match e {
        Error::Io(io) => format!("cannot read the input ({io}); it may be truncated"),
        Error::Syntax(at) => format!("not valid CBOR at byte {at}"),
        Error::Semantic(Some(at), m) => format!("{m} (item at byte {at})"),
        Error::Semantic(None, m) => m.clone(),
        Error::RecursionLimitExceeded => "nested too deeply".to_owned(),
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
    fn decoding_errors_read_as_words_not_debug_output() {
        let semantic: ciborium::de::Error<std::io::Error> =
            ciborium::de::Error::Semantic(None, "invalid type: string, expected u64".into());
        assert_eq!(describe(&semantic), "invalid type: string, expected u64");
        let at: ciborium::de::Error<std::io::Error> =
            ciborium::de::Error::Semantic(Some(7), "missing field `sig`".into());
        assert_eq!(describe(&at), "missing field `sig` (item at byte 7)");
        let syntax: ciborium::de::Error<std::io::Error> = ciborium::de::Error::Syntax(3);
        assert_eq!(describe(&syntax), "not valid CBOR at byte 3");
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
    fn field_names_must_be_text_and_known() {
        // A key that is not UTF-8, a key that is a byte string, an unknown key.
        let not_utf8 = [0xa2, 0x61, 0xff, 0x05, 0x61, b'b', 0x61, b'x'];
        let bytes_key = [0xa2, 0x41, b'a', 0x05, 0x61, b'b', 0x61, b'x'];
        let unknown = [0xa2, 0x61, b'c', 0x05, 0x61, b'b', 0x61, b'x'];
        for input in [&not_utf8[..], &bytes_key, &unknown] {
            assert!(
                matches!(
                    from_slice_canonical::<T>(input, 100),
                    Err(CborError::Decode(_))
                ),
                "{input:x?}"
            );
        }
        let err = from_slice_canonical::<T>(&unknown, 100);
        assert!(
            matches!(&err, Err(CborError::Decode(m)) if m.contains("unknown field `c`")),
            "{err:?}"
        );
    }

    #[test]
    fn records_and_envelopes_take_the_strict_path() {
        use crate::{Body, Digest, testkit::Author, testkit::sample_run_result};
        let a = Author::new(1);
        let suite = Digest::of(crate::domain::SUITE, b"s");
        for body in [
            // A genesis that leaves `lab_codes` or `contact` out takes the fallback path
            // (once per scheme); a coded one with a contact has every field.
            Body::SchemeGenesis {
                name: "g".into(),
                lab_codes: true,
                contact: Some("pt@provider.example".into()),
            },
            Body::RunResult(sample_run_result(suite, 2, 0.3)),
            Body::RoundOpened {
                suite,
                round: 1,
                deadline_ms: None,
            },
        ] {
            let env = a.sign(&a.record(body));
            let bytes = env.to_bytes();
            // Decoded by the strict decoder itself, not by the fallback.
            let (e, rest) = de::from_slice_strict::<crate::Envelope>(&bytes, MAX_DEPTH).unwrap();
            assert!(rest.is_empty());
            let (r, rest) = de::from_slice_strict::<crate::Record>(&e.body, MAX_DEPTH).unwrap();
            assert!(rest.is_empty());
            assert_eq!(to_vec(&r), e.body);
        }
    }

    #[test]
    fn strict_refusals_fall_back_to_the_precise_reason() {
        // {"a": 5, "b": "x"} reordered, over-long, with a field missing, widened float.
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct F {
            a: Option<u64>,
            x: f64,
        }
        let ok = to_vec(&F { a: Some(1), x: 1.5 });
        assert_eq!(ok, [0xa2, 0x61, b'a', 0x01, 0x61, b'x', 0xf9, 0x3e, 0x00]);
        assert!(de::from_slice_strict::<F>(&ok, MAX_DEPTH).is_ok());
        let widened = [
            0xa2, 0x61, b'a', 0x01, 0x61, b'x', 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
        ];
        let missing = [0xa1, 0x61, b'x', 0xf9, 0x3e, 0x00];
        let reordered = [0xa2, 0x61, b'x', 0xf9, 0x3e, 0x00, 0x61, b'a', 0x01];
        for input in [&widened[..], &missing, &reordered] {
            assert!(matches!(
                de::from_slice_strict::<F>(input, MAX_DEPTH),
                Err(de::Error::NonCanonical)
            ));
            // The lenient decoder takes each; only the re-encode refuses it.
            assert!(de::from_slice::<F>(input, MAX_DEPTH).is_ok());
            assert_eq!(
                from_slice_canonical::<F>(input, 100),
                Err(CborError::NonCanonical)
            );
        }
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
