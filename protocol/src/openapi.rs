//! OpenAPI schemas (feature `openapi`) for the types whose JSON form is written by hand:
//! digests, record ids and keys travel as lowercase hex strings (see `hexbytes`), which a
//! derive could not know.

use std::borrow::Cow;

use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, RefOr, Schema, schema::Type},
};

use crate::{Digest, PublicKey, Signature};

/// A string of exactly `bytes` bytes in lowercase hex.
fn hex_string(bytes: usize, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(2 * bytes))
        .max_length(Some(2 * bytes))
        .pattern(Some(format!("^[0-9a-f]{{{}}}$", 2 * bytes)))
        .description(Some(description))
        .into()
}

impl PartialSchema for Digest {
    fn schema() -> RefOr<Schema> {
        hex_string(
            32,
            "A BLAKE3 digest (record id, scheme id, suite id, artefact digest or evidence \
             root) as 64 lowercase hex characters.",
        )
    }
}

impl ToSchema for Digest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Digest")
    }
}

impl PartialSchema for PublicKey {
    fn schema() -> RefOr<Schema> {
        hex_string(32, "An Ed25519 public key as 64 lowercase hex characters.")
    }
}

impl ToSchema for PublicKey {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PublicKey")
    }
}

impl PartialSchema for Signature {
    fn schema() -> RefOr<Schema> {
        hex_string(64, "An Ed25519 signature as 128 lowercase hex characters.")
    }
}

impl ToSchema for Signature {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Signature")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_schema_accepts_what_a_digest_serializes_to() {
        let d = Digest::of(crate::domain::RECORD_ID, b"x");
        let json = serde_json::to_value(d).unwrap();
        let text = json.as_str().unwrap();
        let RefOr::T(Schema::Object(o)) = Digest::schema() else {
            panic!("digest schema is not an inline object");
        };
        assert_eq!(o.min_length, Some(text.len()));
        assert_eq!(o.max_length, Some(text.len()));
        assert!(text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert_eq!(o.pattern.as_deref(), Some("^[0-9a-f]{64}$"));
    }
}
