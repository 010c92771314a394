//! Fixed-size byte arrays on the wire: CBOR byte strings for machines, lowercase hex for
//! people (JSON). One pair of functions so that ids, keys and signatures agree.

use serde::{Deserialize, Deserializer, Serializer};

/// The longest array written through the stack buffer (signatures, 64 bytes).
const ON_STACK: usize = 64;

/// Lowercase hex of `bytes` written into `buf`, when it fits. `hex::encode` collects
/// a `String` one `char` at a time; a large report holds thousands of ids.
fn hex_in<'a>(bytes: &[u8], buf: &'a mut [u8; 2 * ON_STACK]) -> Option<&'a str> {
    let out = buf.get_mut(..2 * bytes.len())?;
    hex::encode_to_slice(bytes, out).ok()?;
    std::str::from_utf8(out).ok()
}

/// Calls `f` with the lowercase hex of `bytes`: from a stack buffer when it fits, else
/// from an allocated string.
pub(crate) fn with_hex<R>(bytes: &[u8], f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 2 * ON_STACK];
    match hex_in(bytes, &mut buf) {
        Some(hex) => f(hex),
        None => f(&hex::encode(bytes)),
    }
}

/// Serialises bytes as hex (human-readable formats) or a byte string (CBOR).
pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        with_hex(bytes, |hex| s.serialize_str(hex))
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

#[cfg(test)]
mod tests {
    use super::{ON_STACK, hex_in, with_hex};

    #[test]
    fn hex_on_the_stack_is_hex_encode_and_longer_arrays_fall_back_to_it() {
        let bytes: Vec<u8> = (0..=ON_STACK as u8).map(|b| b.wrapping_mul(37)).collect();
        for n in [0, 1, 32, ON_STACK] {
            let mut buf = [0u8; 2 * ON_STACK];
            assert_eq!(
                hex_in(&bytes[..n], &mut buf),
                Some(hex::encode(&bytes[..n]).as_str())
            );
        }
        let mut buf = [0u8; 2 * ON_STACK];
        assert_eq!(hex_in(&bytes, &mut buf), None, "65 bytes");
        assert_eq!(with_hex(&bytes, str::to_owned), hex::encode(&bytes));
    }
}
