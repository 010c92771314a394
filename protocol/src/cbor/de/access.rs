//! The serde access types the decoder hands to visitors: array items, map entries (in
//! strict mode checked against the struct's field order) and enum variants.

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use super::{Decoder, Error};

/// The items of an array, or the entries of a map.
pub(super) struct Items<'a, 'de> {
    pub(super) d: &'a mut Decoder<'de>,
    pub(super) left: usize,
    /// Strict struct: the field names still expected, in order.
    pub(super) fields: Option<&'static [&'static str]>,
}

impl<'a, 'de> Items<'a, 'de> {
    pub(super) fn new(d: &'a mut Decoder<'de>, left: usize) -> Self {
        Items {
            d,
            left,
            fields: None,
        }
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.d).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if let Some(fields) = &mut self.fields {
            let key = self.d.text_bytes()?;
            let Some((want, rest)) = fields.split_first() else {
                return Err(Error::NonCanonical);
            };
            if key != want.as_bytes() {
                return Err(Error::NonCanonical);
            }
            *fields = rest;
            return seed
                .deserialize(de::value::BorrowedBytesDeserializer::new(key))
                .map(Some);
        }
        seed.deserialize(&mut *self.d).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.d)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// A non-unit enum variant: `{ name: value }`.
pub(super) struct Variant<'a, 'de> {
    pub(super) d: &'a mut Decoder<'de>,
}

impl<'a, 'de> EnumAccess<'de> for Variant<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name = self.d.text()?;
        let v = seed.deserialize(name.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if self.d.strict {
            // ciborium writes a unit variant as its bare name, never as `{name: null}`.
            return Err(Error::NonCanonical);
        }
        de::Deserialize::deserialize(&mut *self.d)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.d)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(&mut *self.d, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(&mut *self.d, "", fields, visitor)
    }
}
