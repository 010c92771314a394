//! Fixed-size byte arrays on the wire: CBOR byte strings for machines, lowercase hex for
//! people (JSON). One pair of functions so that ids, keys and signatures agree.

use serde::{Deserialize, Deserializer, Serializer};

/// Serialises bytes as hex (human-readable formats) or a byte string (CBOR).
pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// Reads what [`serialize`] wrote, insisting on exactly `N` bytes.
pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<[u8; N], D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| {
            serde::de::Error::custom(format!("expected {} hex characters, got {s:?}", 2 * N))
        })?;
        Ok(out)
    } else {
        Ok(serde_bytes::ByteArray::<N>::deserialize(d)?.into_array())
    }
}
