//! A strict CBOR decoder over a byte slice, for the canonical form ciborium writes.
//!
//! Decoding records was the largest cost of ingest after the signature check; ciborium
//! reads through an I/O trait one header at a time. This decoder reads a slice, accepts
//! only what a canonical encoding can contain (definite lengths, shortest integer
//! heads, no tags, UTF-8 text, text map keys) and borrows strings where the target type
//! allows. It does not define canonical form: `from_slice_canonical` still re-encodes
//! the value with ciborium and compares bytes, so a decoder that accepted too much could
//! not let a non-canonical input through.

use serde::de::{self, IntoDeserializer, Visitor};

mod access;

use access::{Items, Variant};

/// A decoding error: what was wrong and where.
#[derive(Debug)]
pub(super) enum Error {
    /// Not CBOR of the expected shape.
    Malformed(String),
    /// CBOR of the expected shape in a form canonical encoding never writes (over-long
    /// integer heads, indefinite lengths).
    NonCanonical,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Malformed(m) => f.write_str(m),
            Error::NonCanonical => f.write_str("non-canonical encoding"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Malformed(msg.to_string())
    }
}

/// CBOR major types.
const UINT: u8 = 0;
const NINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const SIMPLE: u8 = 7;

const FALSE: u8 = 0xf4;
const TRUE: u8 = 0xf5;
const NULL: u8 = 0xf6;
const F16: u8 = 0xf9;
const F32: u8 = 0xfa;
const F64: u8 = 0xfb;

/// Reads one value of `T` from the front of `input`; returns it and the bytes left.
pub(super) fn from_slice<'de, T: de::Deserialize<'de>>(
    input: &'de [u8],
    max_depth: usize,
) -> Result<(T, &'de [u8]), Error> {
    from_slice_with(input, max_depth, false)
}

/// [`from_slice`] that also refuses every input ciborium would not write back the same
/// (see `super::from_slice_strict`): struct fields all present and in declaration order,
/// floats in the width ciborium picks, unit variants as bare names, and nothing read by
/// peeking at the data (maps, untagged forms, `f32`). Any refusal is `NonCanonical`.
pub(super) fn from_slice_strict<'de, T: de::Deserialize<'de>>(
    input: &'de [u8],
    max_depth: usize,
) -> Result<(T, &'de [u8]), Error> {
    from_slice_with(input, max_depth, true)
}

fn from_slice_with<'de, T: de::Deserialize<'de>>(
    input: &'de [u8],
    max_depth: usize,
    strict: bool,
) -> Result<(T, &'de [u8]), Error> {
    let mut d = Decoder {
        input,
        len: input.len(),
        depth: max_depth,
        strict,
    };
    let value = T::deserialize(&mut d)?;
    Ok((value, d.input))
}

pub(super) struct Decoder<'de> {
    input: &'de [u8],
    /// Length of the whole input, to name error offsets.
    len: usize,
    /// Nesting levels left.
    depth: usize,
    /// Refuse what ciborium would not write back byte for byte.
    strict: bool,
}

impl<'de> Decoder<'de> {
    fn offset(&self) -> usize {
        self.len - self.input.len()
    }

    fn err(&self, what: impl std::fmt::Display) -> Error {
        Error::Malformed(format!("{what} (at byte {})", self.offset()))
    }

    fn eof(&self) -> Error {
        Error::Malformed("input ends before the value does (truncated)".into())
    }

    fn peek(&self) -> Result<u8, Error> {
        self.input.first().copied().ok_or_else(|| self.eof())
    }

    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        if self.input.len() < n {
            return Err(self.eof());
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    /// Reads a head of major type 0–5: `(major, argument)`. Indefinite lengths, reserved
    /// values and over-long arguments are refused.
    fn head(&mut self) -> Result<(u8, u64), Error> {
        let at = self.offset();
        let byte = self.peek()?;
        let (major, info) = (byte >> 5, byte & 0x1f);
        self.input = &self.input[1..];
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes(self.array()?)),
            26 => u64::from(u32::from_be_bytes(self.array()?)),
            27 => u64::from_be_bytes(self.array()?),
            31 if major != UINT && major != NINT => return Err(Error::NonCanonical),
            _ => {
                return Err(Error::Malformed(format!(
                    "reserved head 0x{byte:02x} (at byte {at})"
                )));
            }
        };
        let shortest = match info {
            24 => arg >= 24,
            25 => arg > 0xff,
            26 => arg > 0xffff,
            27 => arg > 0xffff_ffff,
            _ => true,
        };
        if !shortest && major != SIMPLE {
            return Err(Error::NonCanonical);
        }
        Ok((major, arg))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn expect(&mut self, want: u8, name: &str) -> Result<u64, Error> {
        let at = self.offset();
        let (major, arg) = self.head()?;
        if major != want {
            return Err(Error::Malformed(format!(
                "expected {name}, found {} (at byte {at})",
                describe(major)
            )));
        }
        Ok(arg)
    }

    fn len_of(&self, arg: u64) -> Result<usize, Error> {
        let n = usize::try_from(arg).map_err(|_| self.err("length too large"))?;
        // Every item takes at least one byte: a length beyond the input is a lie.
        if n > self.input.len() {
            return Err(self.eof());
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'de [u8], Error> {
        let arg = self.expect(BYTES, "a byte string")?;
        let n = self.len_of(arg)?;
        self.take(n)
    }

    /// A text string's bytes, UTF-8 not checked (field names are matched as bytes).
    fn text_bytes(&mut self) -> Result<&'de [u8], Error> {
        let arg = self.expect(TEXT, "a text string")?;
        let n = self.len_of(arg)?;
        self.take(n)
    }

    fn text(&mut self) -> Result<&'de str, Error> {
        let bytes = self.text_bytes()?;
        let at = self.offset() - bytes.len();
        std::str::from_utf8(bytes)
            .map_err(|_| Error::Malformed(format!("text string is not UTF-8 (at byte {at})")))
    }

    fn uint(&mut self) -> Result<u64, Error> {
        self.expect(UINT, "an unsigned integer")
    }

    fn int(&mut self) -> Result<i128, Error> {
        let at = self.offset();
        match self.head()? {
            (UINT, n) => Ok(i128::from(n)),
            (NINT, n) => Ok(-1 - i128::from(n)),
            (m, _) => Err(Error::Malformed(format!(
                "expected an integer, found {} (at byte {at})",
                describe(m)
            ))),
        }
    }

    fn float(&mut self) -> Result<f64, Error> {
        let at = self.offset();
        let start = self.input;
        let v = match self.peek()? {
            F16 => {
                self.input = &self.input[1..];
                f64::from(half::f16::from_be_bytes(self.array()?))
            }
            F32 => {
                self.input = &self.input[1..];
                f64::from(f32::from_be_bytes(self.array()?))
            }
            F64 => {
                self.input = &self.input[1..];
                f64::from_be_bytes(self.array()?)
            }
            b => {
                return Err(Error::Malformed(format!(
                    "expected a float, found head 0x{b:02x} (at byte {at})"
                )));
            }
        };
        if self.strict {
            let read = &start[..start.len() - self.input.len()];
            if !is_ciborium_float(read, v) {
                return Err(Error::NonCanonical);
            }
        }
        Ok(v)
    }

    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if self.depth == 0 {
            return Err(self.err("nesting too deep"));
        }
        self.depth -= 1;
        let r = f(self);
        self.depth += 1;
        r
    }
}

/// Whether `read` (head and payload) is how ciborium writes `v`: the narrowest of f16,
/// f32 and f64 that gives back the same bits.
fn is_ciborium_float(read: &[u8], v: f64) -> bool {
    let n16 = half::f16::from_f64(v);
    if f64::from(n16).to_bits() == v.to_bits() {
        return read.first() == Some(&F16) && read[1..] == n16.to_be_bytes();
    }
    let n32 = v as f32;
    if f64::from(n32).to_bits() == v.to_bits() {
        return read.first() == Some(&F32) && read[1..] == n32.to_be_bytes();
    }
    read.first() == Some(&F64) && read[1..] == v.to_be_bytes()
}

fn describe(major: u8) -> &'static str {
    match major {
        UINT => "an unsigned integer",
        NINT => "a negative integer",
        BYTES => "a byte string",
        TEXT => "a text string",
        ARRAY => "an array",
        MAP => "a map",
        6 => "a tag",
        _ => "a simple value or float",
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $t:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let at = self.offset();
            let v = self.int()?;
            let v = <$t>::try_from(v).map_err(|_| {
                Error::Malformed(format!(
                    "integer {v} out of range for {} (at byte {at})",
                    stringify!($t)
                ))
            })?;
            visitor.$visit(v)
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = Error;

    /// For types that look at the data to decide (internally tagged enums).
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.strict {
            return Err(Error::NonCanonical);
        }
        let byte = self.peek()?;
        match byte >> 5 {
            UINT => self.deserialize_u64(visitor),
            NINT => self.deserialize_i64(visitor),
            BYTES => self.deserialize_bytes(visitor),
            TEXT => self.deserialize_str(visitor),
            ARRAY => self.deserialize_seq(visitor),
            MAP => self.deserialize_map(visitor),
            SIMPLE => match byte {
                FALSE | TRUE => self.deserialize_bool(visitor),
                NULL => self.deserialize_unit(visitor),
                F16 | F32 | F64 => self.deserialize_f64(visitor),
                _ => Err(self.err(format!("unsupported simple value 0x{byte:02x}"))),
            },
            _ => Err(self.err("tags are not part of canonical Interlab CBOR")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek()? {
            FALSE => {
                self.input = &self.input[1..];
                visitor.visit_bool(false)
            }
            TRUE => {
                self.input = &self.input[1..];
                visitor.visit_bool(true)
            }
            _ => Err(self.err("expected a boolean")),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(self.uint()?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.strict {
            return Err(Error::NonCanonical);
        }
        // As ciborium: a float of any width, narrowed.
        visitor.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let s = self.text()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(self.err("expected a single character")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek()? == NULL {
            self.input = &self.input[1..];
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek()? == NULL {
            self.input = &self.input[1..];
            visitor.visit_unit()
        } else {
            Err(self.err("expected null"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let arg = self.expect(ARRAY, "an array")?;
        let n = self.len_of(arg)?;
        self.nest(|d| {
            let value = visitor.visit_seq(Items::new(d, n))?;
            Ok(value)
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let arg = self.expect(ARRAY, "an array")?;
        if arg != len as u64 {
            return Err(self.err(format!("expected an array of {len} items, found {arg}")));
        }
        self.deserialize_seq_items(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.strict {
            // Key order of a map type is not checked here.
            return Err(Error::NonCanonical);
        }
        let arg = self.expect(MAP, "a map")?;
        let n = self.len_of(arg)?;
        self.nest(|d| visitor.visit_map(Items::new(d, n)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let arg = self.expect(MAP, "a map")?;
        let n = self.len_of(arg)?;
        if !self.strict {
            return self.nest(|d| visitor.visit_map(Items::new(d, n)));
        }
        // ciborium writes every field, in declaration order.
        if n != fields.len() {
            return Err(Error::NonCanonical);
        }
        self.nest(|d| {
            visitor.visit_map(Items {
                d,
                left: n,
                fields: Some(fields),
            })
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // ciborium writes a unit variant as its name, any other as a one-entry map.
        match self.peek()? >> 5 {
            TEXT => visitor.visit_enum(self.text()?.into_deserializer()),
            MAP => {
                let arg = self.expect(MAP, "a map")?;
                if arg != 1 {
                    return Err(self.err("an enum variant must be a map of one entry"));
                }
                self.nest(|d| visitor.visit_enum(Variant { d }))
            }
            m => Err(self.err(format!("expected an enum variant, found {}", describe(m)))),
        }
    }

    /// Field names are matched as bytes: a key that is not UTF-8 matches no field and is
    /// refused as unknown, so checking UTF-8 first would only repeat work on every key.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.text_bytes()?)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl<'de> Decoder<'de> {
    fn deserialize_seq_items<V: Visitor<'de>>(
        &mut self,
        n: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.nest(|d| visitor.visit_seq(Items::new(d, n)))
    }
}
