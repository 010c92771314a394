//! The canonical byte form of a comparability report, and the digest that names it.
//!
//! A report is served as JSON, which has no canonical form (key order, number spelling
//! and escapes vary between encoders). Its digest is therefore taken over its canonical
//! CBOR instead, written by the same encoder as records (`docs/protocol.md` §3): every
//! struct a map with its fields in declaration order, shortest integers and lossless
//! floats. The one extra rule is for numbers JSON cannot carry either: a NaN or an
//! infinity is written as `null`, exactly as the JSON answer shows it.
//!
//! The encoding is derived from the report's `Serialize` implementation alone, so a
//! field added to a report struct is covered without any change here.

use ciborium::Value;
use serde::Serialize;

use crate::{
    cbor,
    digest::{Digest, domain},
};

/// A report that serde could not turn into a CBOR value (a `Serialize` implementation
/// that fails on purpose; derived ones never do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode the report: {0}")]
pub struct ReportEncodingError(pub String);

/// The report's canonical bytes: its canonical CBOR, with non-finite numbers as `null`.
pub fn report_canonical_bytes<T: Serialize + ?Sized>(
    report: &T,
) -> Result<Vec<u8>, ReportEncodingError> {
    let mut value = Value::serialized(report).map_err(|e| ReportEncodingError(e.to_string()))?;
    null_non_finite(&mut value);
    Ok(cbor::to_vec(&value))
}

/// The report digest: BLAKE3 (report domain) of [`report_canonical_bytes`].
pub fn report_digest<T: Serialize + ?Sized>(report: &T) -> Result<Digest, ReportEncodingError> {
    Ok(Digest::of(domain::REPORT, &report_canonical_bytes(report)?))
}

fn null_non_finite(v: &mut Value) {
    match v {
        Value::Float(f) if !f.is_finite() => *v = Value::Null,
        Value::Array(items) => items.iter_mut().for_each(null_non_finite),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            null_non_finite(k);
            null_non_finite(v);
        }),
        Value::Tag(_, inner) => null_non_finite(inner),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Band {
        Satisfactory,
        Score(f64),
    }

    #[derive(Serialize)]
    struct Line {
        lab: Digest,
        z: f64,
        note: Option<String>,
        band: Band,
        scores: Vec<Band>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<u32>,
        pairs: Vec<(String, u64)>,
    }

    fn line(z: f64) -> Line {
        Line {
            lab: Digest::of(domain::ARTEFACT, b"lab"),
            z,
            note: None,
            band: Band::Satisfactory,
            scores: vec![Band::Score(1.5), Band::Score(0.1)],
            extra: None,
            pairs: vec![("a".into(), 300)],
        }
    }

    #[test]
    fn a_report_encodes_exactly_as_the_record_encoder_writes_it() {
        let l = line(-1.25);
        assert_eq!(report_canonical_bytes(&l).unwrap(), cbor::to_vec(&l));
    }

    #[test]
    fn a_report_starts_with_its_first_field_as_a_text_key_and_uses_shortest_floats() {
        let bytes = report_canonical_bytes(&line(1.5)).unwrap();
        // A map of 6 entries (the skipped option is absent), key "lab", a 32-byte string.
        assert_eq!(&bytes[..7], &[0xa6, 0x63, b'l', b'a', b'b', 0x58, 0x20]);
        // z = 1.5 as a half-precision float after the key "z".
        let at = 7 + 32;
        assert_eq!(&bytes[at..at + 5], &[0x61, b'z', 0xf9, 0x3e, 0x00]);
    }

    #[test]
    fn non_finite_numbers_encode_as_null_like_the_json_answer() {
        for z in [f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let bytes = report_canonical_bytes(&line(z)).unwrap();
            let at = 7 + 32;
            assert_eq!(&bytes[at..at + 3], &[0x61, b'z', 0xf6], "{z}");
        }
        assert_eq!(
            report_digest(&line(f64::NAN)).unwrap(),
            report_digest(&line(f64::INFINITY)).unwrap()
        );
        assert_ne!(
            report_digest(&line(f64::NAN)).unwrap(),
            report_digest(&line(0.0)).unwrap()
        );
    }
}
