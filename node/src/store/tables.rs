//! Table definitions and key layouts.
//!
//! Every table name carries a version suffix so that a later layout can live beside this
//! one during a migration. Keys are raw bytes whose bytewise order is the order we scan
//! in: `author ‖ seq` (seq big-endian) makes one author's chain a contiguous range and
//! appends land at the end of it.

use interlab_protocol::{Digest, PublicKey, RecordId};
use redb::TableDefinition;

/// Length of an `author ‖ seq` key.
pub(crate) const POS_LEN: usize = 40;

/// Accepted records: `author ‖ seq` → envelope bytes.
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records_v1");
/// Index of accepted records: `id` → `author ‖ seq`.
pub(crate) const IDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ids_v1");
/// Chain heads of accepted records: `author` → `seq ‖ id ‖ time_ms`.
pub(crate) const HEADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("heads_v1");
/// Index by kind: `kind ‖ 0x00 ‖ author ‖ seq` → ().
pub(crate) const BY_KIND: TableDefinition<&[u8], ()> = TableDefinition::new("by_kind_v1");
/// Index by suite: `suite ‖ author ‖ seq` → ().
pub(crate) const BY_SUITE: TableDefinition<&[u8], ()> = TableDefinition::new("by_suite_v1");
/// Index by suite and round: `suite ‖ round+1 (u64 BE, 0 = no round) ‖ author ‖ seq` → ().
pub(crate) const BY_ROUND: TableDefinition<&[u8], ()> = TableDefinition::new("by_suite_round_v1");
/// Fork proofs: `author ‖ seq ‖ id_a ‖ id_b` → canonical proof bytes.
pub(crate) const FORKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("forks_v1");
/// Records that left the accepted set when their lab was revoked: `author ‖ seq` → envelope.
pub(crate) const QUARANTINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("quarantine_v1");
/// Content-addressed artefacts: BLAKE3 (artefact domain) → bytes.
pub(crate) const ARTEFACTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("artefacts_v1");
/// Store metadata (format version, scheme genesis id).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");

/// `META` key of the scheme genesis record id.
pub(crate) const META_GENESIS: &str = "genesis";
/// `META` key of the layout version.
pub(crate) const META_LAYOUT: &str = "layout";
/// The layout this code writes.
pub(crate) const LAYOUT_VERSION: u32 = 1;

/// `author ‖ seq` with seq big-endian.
pub(crate) fn pos_key(author: &PublicKey, seq: u64) -> [u8; POS_LEN] {
    let mut k = [0u8; POS_LEN];
    k[..32].copy_from_slice(author.as_bytes());
    k[32..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Splits an `author ‖ seq` key; `None` when it has the wrong length.
pub(crate) fn split_pos(key: &[u8]) -> Option<(PublicKey, u64)> {
    let author: [u8; 32] = key.get(..32)?.try_into().ok()?;
    let seq: [u8; 8] = key.get(32..POS_LEN)?.try_into().ok()?;
    (key.len() == POS_LEN).then(|| (PublicKey(author), u64::from_be_bytes(seq)))
}

/// `kind ‖ 0x00` prefix of the kind index.
pub(crate) fn kind_prefix(kind: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(kind.len() + 1 + POS_LEN);
    k.extend_from_slice(kind.as_bytes());
    k.push(0);
    k
}

/// Suite prefix of the suite index.
pub(crate) fn suite_prefix(suite: &Digest) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + POS_LEN);
    k.extend_from_slice(suite.as_bytes());
    k
}

/// `suite ‖ round+1` prefix of the suite-and-round index (`None`: records of no round).
pub(crate) fn round_prefix(suite: &Digest, round: Option<u32>) -> Vec<u8> {
    let mut k = Vec::with_capacity(40 + POS_LEN);
    k.extend_from_slice(suite.as_bytes());
    k.extend_from_slice(&round.map_or(0, |r| u64::from(r) + 1).to_be_bytes());
    k
}

/// Concatenates a prefix and a position key.
pub(crate) fn with_pos(prefix: &[u8], pos: &[u8; POS_LEN]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + POS_LEN);
    k.extend_from_slice(prefix);
    k.extend_from_slice(pos);
    k
}

/// Encoded value of the heads table.
pub(crate) fn head_value(seq: u64, id: &RecordId, time_ms: u64) -> [u8; 48] {
    let mut v = [0u8; 48];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v[8..40].copy_from_slice(id.as_bytes());
    v[40..].copy_from_slice(&time_ms.to_be_bytes());
    v
}

/// Decodes a heads-table value.
pub(crate) fn split_head(v: &[u8]) -> Option<(u64, RecordId, u64)> {
    if v.len() != 48 {
        return None;
    }
    let seq = u64::from_be_bytes(v[..8].try_into().ok()?);
    let id = Digest(v[8..40].try_into().ok()?);
    let time = u64::from_be_bytes(v[40..].try_into().ok()?);
    Some((seq, id, time))
}

/// Key of a fork proof.
pub(crate) fn fork_key(author: &PublicKey, seq: u64, a: &RecordId, b: &RecordId) -> [u8; 104] {
    let mut k = [0u8; 104];
    k[..POS_LEN].copy_from_slice(&pos_key(author, seq));
    k[40..72].copy_from_slice(a.as_bytes());
    k[72..].copy_from_slice(b.as_bytes());
    k
}
