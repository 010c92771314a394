//! Signed envelopes: the unit that travels, is stored and is hashed.
//!
//! The body is carried as the exact bytes the author signed, so that nobody has to
//! re-encode a record to check it: hash and signature are over those bytes.

use serde::{Deserialize, Serialize};

use crate::{
    cbor::{self, CborError},
    digest::{Digest, RecordId, domain},
    keys::{KeyCache, PublicKey, SecretKey, Signature, SignatureError},
    record::Record,
};

/// Largest encoded envelope accepted anywhere (network, files, API).
pub const MAX_ENVELOPE_BYTES: usize = 256 * 1024;

/// Prefix of every signed message: the signature covers `SIGN_CONTEXT ‖ body`.
pub const SIGN_CONTEXT: &[u8] = b"interlab/record/v1\0";

/// A signed record as it travels: `{ body: bstr, author, sig }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The record's canonical CBOR bytes.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The signer.
    pub author: PublicKey,
    /// Ed25519 signature over `SIGN_CONTEXT ‖ body`.
    pub sig: Signature,
}

/// Why an envelope could not be opened. These say nothing of the log; see
/// [`Rejection`](crate::Rejection) for the full list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The envelope bytes are not canonical CBOR of an envelope.
    #[error("envelope: {0}")]
    Envelope(CborError),
    /// The body bytes are not canonical CBOR of a record.
    #[error("record body: {0}")]
    Body(CborError),
    /// The signature check failed.
    #[error("{0}")]
    Signature(#[from] SignatureError),
    /// The body declares a record version this code does not read.
    #[error("unknown record version {0} (this node reads version {v})", v = crate::record::RECORD_VERSION)]
    UnknownVersion(u64),
    /// The record names another author than the envelope.
    #[error("envelope author {envelope} differs from record author {record}")]
    AuthorMismatch {
        /// Envelope author.
        envelope: PublicKey,
        /// Record author.
        record: PublicKey,
    },
}

/// An envelope whose signature and encoding have been checked, with its decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The record id.
    pub id: RecordId,
    /// The envelope as received.
    pub envelope: Envelope,
    /// The decoded record.
    pub record: Record,
}

impl Envelope {
    /// Encodes the record canonically and signs it.
    pub fn seal(key: &SecretKey, record: &Record) -> Envelope {
        let body = cbor::to_vec(record);
        let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + body.len());
        msg.extend_from_slice(SIGN_CONTEXT);
        msg.extend_from_slice(&body);
        Envelope {
            sig: key.sign(&msg),
            author: key.public(),
            body,
        }
    }

    /// The record id: BLAKE3 (record-id domain) of the body bytes.
    pub fn id(&self) -> RecordId {
        Digest::of(domain::RECORD_ID, &self.body)
    }

    /// The envelope's canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_vec(self)
    }

    /// Decodes envelope bytes strictly (size bound, canonical form).
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        cbor::from_slice_strict(bytes, MAX_ENVELOPE_BYTES).map_err(EnvelopeError::Envelope)
    }

    /// Checks the signature, then decodes the body strictly.
    pub fn open(self) -> Result<Opened, EnvelopeError> {
        self.verify_signature()?;
        self.open_verified()
    }

    /// [`Envelope::open`] with the author's key taken from `keys`.
    pub fn open_with(self, keys: &KeyCache) -> Result<Opened, EnvelopeError> {
        self.verify_signature_with(keys)?;
        self.open_verified()
    }

    /// Decodes the body of an envelope whose signature has been checked.
    fn open_verified(self) -> Result<Opened, EnvelopeError> {
        let record = self.decode_body()?;
        Ok(Opened {
            id: self.id(),
            envelope: self,
            record,
        })
    }

    /// Decodes the body strictly and checks that it names the envelope's author; the
    /// signature is not checked (that is [`Envelope::open`]). A caller that needs the
    /// record's position before opening (a network queue ordering its work) decodes it
    /// here once and hands it to [`open_all_decoded`].
    pub fn decode_body(&self) -> Result<Record, EnvelopeError> {
        let record = match Record::from_canonical(&self.body) {
            Ok(r) => r,
            Err(e) => {
                return Err(match peek_version(&self.body) {
                    Some(v) if v != u64::from(crate::record::RECORD_VERSION) => {
                        EnvelopeError::UnknownVersion(v)
                    }
                    _ => EnvelopeError::Body(e),
                });
            }
        };
        if record.author != self.author {
            return Err(EnvelopeError::AuthorMismatch {
                envelope: self.author,
                record: record.author,
            });
        }
        Ok(record)
    }

    /// Decodes and opens envelope bytes.
    pub fn open_bytes(bytes: &[u8]) -> Result<Opened, EnvelopeError> {
        Envelope::decode(bytes)?.open()
    }

    /// Checks `verify_strict(author, SIGN_CONTEXT ‖ body, sig)`.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.author.verify_strict(&self.signed_message(), &self.sig)
    }

    /// [`Envelope::verify_signature`] with the author's key taken from `keys`.
    pub fn verify_signature_with(&self, keys: &KeyCache) -> Result<(), SignatureError> {
        keys.verify_strict(&self.author, &self.signed_message(), &self.sig)
    }

    /// `SIGN_CONTEXT ‖ body`: what the signature covers.
    fn signed_message(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + self.body.len());
        msg.extend_from_slice(SIGN_CONTEXT);
        msg.extend_from_slice(&self.body);
        msg
    }
}

/// Opens a batch: the result for each item is exactly what [`Envelope::open_with`]
/// returns for it (a bad signature is reported before a bad body); items that failed to
/// decode pass through.
///
/// The work goes step by step over the whole batch (every body, then every id, then
/// every signature) instead of envelope by envelope, so that each step's code and tables
/// stay hot in the CPU caches: interleaving the decoder with the curve arithmetic cost
/// ingest about a microsecond per record (`docs/decisions.md`).
pub fn open_all(
    envelopes: Vec<Result<Envelope, EnvelopeError>>,
    keys: &KeyCache,
) -> Vec<Result<Opened, EnvelopeError>> {
    open_all_decoded(
        envelopes
            .into_iter()
            .map(|e| e.map(|e| (e, None)))
            .collect(),
        keys,
    )
}

/// An envelope with its body when that was decoded already ([`Envelope::decode_body`]).
pub type DecodedEnvelope = (Envelope, Option<Result<Record, EnvelopeError>>);

/// [`open_all`] of envelopes some of whose bodies were decoded already: each `Some` must
/// be [`Envelope::decode_body`] of the envelope it comes with (its result, error or not,
/// is used as is); the others are decoded here. The results are those of `open_all`.
pub fn open_all_decoded(
    items: Vec<Result<DecodedEnvelope, EnvelopeError>>,
    keys: &KeyCache,
) -> Vec<Result<Opened, EnvelopeError>> {
    let mut envelopes = Vec::with_capacity(items.len());
    let mut records: Vec<Option<Result<Record, EnvelopeError>>> = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Ok((env, body)) => {
                records.push(Some(body.unwrap_or_else(|| env.decode_body())));
                envelopes.push(Ok(env));
            }
            Err(e) => {
                records.push(None);
                envelopes.push(Err(e));
            }
        }
    }
    let ids: Vec<Option<RecordId>> = envelopes
        .iter()
        .map(|e| e.as_ref().ok().map(Envelope::id))
        .collect();
    let signatures: Vec<Option<Result<(), SignatureError>>> = envelopes
        .iter()
        .map(|e| e.as_ref().ok().map(|e| e.verify_signature_with(keys)))
        .collect();
    envelopes
        .into_iter()
        .zip(records)
        .zip(ids)
        .zip(signatures)
        .map(|(((envelope, record), id), signature)| {
            let envelope = envelope?;
            match (record, id, signature) {
                (Some(record), Some(id), Some(signature)) => {
                    signature?;
                    Ok(Opened {
                        id,
                        envelope,
                        record: record?,
                    })
                }
                // Each is `Some` exactly when the envelope decoded.
                _ => envelope.open_with(keys),
            }
        })
        .collect()
}

/// Reads the version from a body whose first map entry is `"v": uint` (the layout every
/// record version keeps), so that a future record is reported as such, not as garbage.
fn peek_version(body: &[u8]) -> Option<u64> {
    let [map, 0x61, b'v', rest @ ..] = body else {
        return None;
    };
    if !(0xa1..=0xb7).contains(map) {
        return None;
    }
    match rest {
        [n @ 0x00..=0x17, ..] => Some(u64::from(*n)),
        [0x18, n, ..] => Some(u64::from(*n)),
        [0x19, a, b, ..] => Some(u64::from(u16::from_be_bytes([*a, *b]))),
        [0x1a, a, b, c, d, ..] => Some(u64::from(u32::from_be_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

/// Splits a file of concatenated envelopes (a CBOR sequence, RFC 8742) into the bytes of
/// each envelope. Fails at the first item that is not a decodable envelope, naming its
/// byte offset; canonical form is checked later, per envelope.
pub fn split_sequence(mut bytes: &[u8]) -> Result<Vec<&[u8]>, (usize, EnvelopeError)> {
    let total = bytes.len();
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let offset = total - bytes.len();
        let mut reader = bytes;
        let decoded: Result<Envelope, _> =
            ciborium::de::from_reader_with_recursion_limit(&mut reader, 16);
        if let Err(e) = decoded {
            return Err((
                offset,
                EnvelopeError::Envelope(CborError::Decode(format!(
                    "item at byte {offset}: {}",
                    cbor::describe(&e)
                ))),
            ));
        }
        let used = bytes.len() - reader.len();
        if used > MAX_ENVELOPE_BYTES {
            return Err((
                offset,
                EnvelopeError::Envelope(CborError::TooLarge {
                    len: used,
                    max: MAX_ENVELOPE_BYTES,
                }),
            ));
        }
        out.push(&bytes[..used]);
        bytes = reader;
    }
    Ok(out)
}
