//! What travels between nodes: gossip messages, sync requests and responses, and the
//! ciborium codec for `/interlab/sync/1`.
//!
//! Every message is canonical CBOR (the protocol's rule: decode, re-encode, compare), and
//! every read is bounded before it is decoded, so a hostile peer can neither make a node
//! buffer without limit nor smuggle two encodings of one value past the message-id cache.

use std::io;

use futures::{AsyncReadExt, AsyncWriteExt, io::AsyncRead, io::AsyncWrite};
use interlab_protocol::{
    CborError, Digest, Envelope, FrontierEntry, PublicKey, Record, RecordId, SchemeId, domain,
    from_slice_canonical, to_canonical_vec,
};
use libp2p::{StreamProtocol, gossipsub, request_response};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The sync protocol's name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/interlab/sync/1");

/// Largest gossip message (an envelope of at most 256 KiB plus framing).
pub const MAX_GOSSIP_BYTES: usize = 300 * 1024;

/// Largest sync request.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;

/// Most records in one range response.
pub const MAX_RANGE_RECORDS: u32 = 2048;

/// Most envelope bytes in one range response (at least one record is always sent).
pub const MAX_RANGE_BYTES: usize = 4 * 1024 * 1024;

/// Most chain heads in one frontier response.
pub const MAX_FRONTIER_ENTRIES: usize = 100_000;

/// Most fork proofs in one answer (one proof per equivocating author suffices to flag it).
pub const MAX_FORK_PROOFS: usize = 64;

/// Largest artefact served or fetched over the network.
pub const MAX_ARTEFACT_BYTES: usize = crate::store::MAX_ARTEFACT_BYTES;

/// Largest sync response: an artefact or a full range, plus framing.
pub const MAX_RESPONSE_BYTES: usize = MAX_ARTEFACT_BYTES + 64 * 1024;

/// Context for message ids of gossip that is not a record (fork proofs, garbage).
const GOSSIP_ID_DOMAIN: &str = "interlab 2026-11 gossip message id v1";

/// The gossipsub topic of a scheme: `interlab/v1/scheme/<scheme id hex>`.
pub fn topic(scheme: &SchemeId) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("interlab/v1/scheme/{}", scheme.to_hex()))
}

/// One gossip message on a scheme's topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gossip {
    /// A signed record: the envelope's canonical bytes.
    Record(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Evidence of equivocation: a `ForkProof`'s canonical bytes.
    Fork(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl Gossip {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        to_canonical_vec(self)
    }

    /// Strict decoding: bounded, canonical.
    pub fn decode(bytes: &[u8]) -> Result<Gossip, CborError> {
        from_slice_canonical(bytes, MAX_GOSSIP_BYTES)
    }
}

/// The gossipsub message id: the record id for a record (so a record has one id however
/// many peers relay it), a domain-separated hash of the bytes for anything else.
pub fn message_id(data: &[u8]) -> gossipsub::MessageId {
    let id = match Gossip::decode(data) {
        Ok(Gossip::Record(env)) => match Envelope::decode(&env) {
            Ok(e) => e.id(),
            Err(_) => Digest::of(GOSSIP_ID_DOMAIN, data),
        },
        _ => Digest::of(GOSSIP_ID_DOMAIN, data),
    };
    gossipsub::MessageId::new(id.as_bytes())
}

/// A request of the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncRequest {
    /// Every chain head of the responder's log of `scheme`.
    Frontier {
        /// The scheme both sides must be in.
        scheme: SchemeId,
    },
    /// `author`'s records from `from_seq` on, at most `limit` (and [`MAX_RANGE_RECORDS`]).
    Range {
        /// The chain.
        author: PublicKey,
        /// First seq wanted.
        from_seq: u64,
        /// Most records wanted.
        limit: u32,
    },
    /// The genesis envelope of a scheme, to join it by id.
    Genesis {
        /// The scheme id (= genesis record id).
        scheme: SchemeId,
    },
    /// An artefact by digest.
    Artefact {
        /// BLAKE3 digest in the artefact domain.
        digest: Digest,
    },
    /// The fork proofs the responder holds for `scheme`, so that an equivocation seen by
    /// one node reaches every node even when its gossip was lost.
    Forks {
        /// The scheme both sides must be in.
        scheme: SchemeId,
    },
}

/// A response of the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncResponse {
    /// Chain heads, sorted by author.
    Frontier(Vec<FrontierEntry>),
    /// Envelopes of one chain, in seq order.
    Range(Vec<ByteBuf>),
    /// The genesis envelope, if the responder has it.
    Genesis(Option<ByteBuf>),
    /// The artefact's bytes, if the responder has it.
    Artefact(Option<ByteBuf>),
    /// Fork proofs' canonical bytes, at most [`MAX_FORK_PROOFS`].
    Forks(Vec<ByteBuf>),
    /// The request could not be served; the text says why.
    Error(String),
}

impl SyncRequest {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncRequest::Frontier { .. } => "frontier",
            SyncRequest::Range { .. } => "range",
            SyncRequest::Genesis { .. } => "genesis",
            SyncRequest::Artefact { .. } => "artefact",
            SyncRequest::Forks { .. } => "forks",
        }
    }
}

/// Author and seq of an envelope, decoded without checking the signature (used only to
/// order and index work; the store checks everything).
pub fn peek(bytes: &[u8]) -> Option<(PublicKey, u64, RecordId)> {
    let env = Envelope::decode(bytes).ok()?;
    let (author, seq) = position(&env)?;
    Some((author, seq, env.id()))
}

/// Author and seq of an envelope decoded already (its body only is read; the signature
/// is not checked).
pub fn position(env: &Envelope) -> Option<(PublicKey, u64)> {
    let rec = Record::from_canonical(&env.body).ok()?;
    Some((rec.author, rec.seq))
}

/// The ciborium codec of `/interlab/sync/1`: one canonical CBOR value per stream
/// direction, read to the end of the stream with a size bound.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_bounded<T, R>(io: &mut R, max: usize) -> io::Result<T>
where
    T: serde::de::DeserializeOwned + Serialize,
    R: AsyncRead + Unpin + Send,
{
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    from_slice_canonical(&buf, max).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_all<T, W>(io: &mut W, value: &T) -> io::Result<()>
where
    T: Serialize,
    W: AsyncWrite + Unpin + Send,
{
    io.write_all(&to_canonical_vec(value)).await?;
    io.close().await
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_bounded(io, MAX_REQUEST_BYTES).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_bounded(io, MAX_RESPONSE_BYTES).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_all(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_all(io, &res).await
    }
}

/// The artefact digest of some bytes.
pub fn artefact_digest(bytes: &[u8]) -> Digest {
    Digest::of(domain::ARTEFACT, bytes)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use libp2p::request_response::Codec;

    use super::*;

    #[test]
    fn gossip_round_trips_and_non_canonical_gossip_is_refused() {
        let g = Gossip::Record(vec![1, 2, 3]);
        let bytes = g.to_bytes();
        assert_eq!(Gossip::decode(&bytes), Ok(g));
        let mut long = bytes.clone();
        // Re-encode the 3-byte string's length in the 1-byte-argument form.
        let at = long.iter().position(|&b| b == 0x43).unwrap();
        long.splice(at..=at, [0x58, 0x03]);
        assert_eq!(Gossip::decode(&long), Err(CborError::NonCanonical));
    }

    #[test]
    fn codec_reads_back_what_it_wrote_and_refuses_oversize_requests() {
        let req = SyncRequest::Range {
            author: PublicKey([3; 32]),
            from_seq: 7,
            limit: 100,
        };
        let mut buf = futures::io::Cursor::new(Vec::new());
        block_on(SyncCodec.write_request(&SYNC_PROTOCOL, &mut buf, req.clone())).unwrap();
        let mut rd = futures::io::Cursor::new(buf.into_inner());
        let back = block_on(SyncCodec.read_request(&SYNC_PROTOCOL, &mut rd)).unwrap();
        assert_eq!(back, req);

        let huge = vec![0u8; MAX_REQUEST_BYTES + 10];
        let mut rd = futures::io::Cursor::new(huge);
        let err = block_on(SyncCodec.read_request(&SYNC_PROTOCOL, &mut rd)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn message_id_of_a_record_is_its_record_id() {
        let key = interlab_protocol::SecretKey::from_bytes(&[9; 32]);
        let rec = interlab_protocol::Record {
            v: interlab_protocol::RECORD_VERSION,
            author: key.public(),
            scheme: None,
            seq: 0,
            prev: None,
            time_ms: 1,
            body: interlab_protocol::Body::SchemeGenesis {
                name: "x".into(),
                lab_codes: false,
                contact: None,
            },
        };
        let env = Envelope::seal(&key, &rec);
        let data = Gossip::Record(env.to_bytes()).to_bytes();
        assert_eq!(message_id(&data).0, env.id().as_bytes().to_vec());
        assert_eq!(peek(&env.to_bytes()), Some((key.public(), 0, env.id())));
    }
}
