//! Table definitions, key layouts and the stored record value.
//!
//! Every table name carries a version suffix so that a later layout can live beside this
//! one during a migration. Keys are raw bytes whose bytewise order is the order we scan
//! in: `author ‖ seq` (seq big-endian) makes one author's chain a contiguous range and
//! appends land at the end of it.
//!
//! Accepted records are the one table written per record: its value starts with a fixed
//! summary (id, kind, suite, round) from which the store rebuilds its in-memory indexes
//! on open without decoding CBOR. Random-key indexes on disk cost more per record than
//! the signature check they follow (see `docs/decisions.md`).

use interlab_protocol::{Body, Digest, Opened, PublicKey, RecordId};
use redb::TableDefinition;

use super::StoreError;

/// Length of an `author ‖ seq` key.
pub(crate) const POS_LEN: usize = 40;

/// Accepted records: `author ‖ seq` → [`Summary`] ‖ envelope bytes.
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records_v2");
/// Chain heads of accepted records: `author` → `seq ‖ id ‖ time_ms`.
pub(crate) const HEADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("heads_v1");
/// Fork proofs: `author ‖ seq ‖ id_a ‖ id_b` → canonical proof bytes.
pub(crate) const FORKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("forks_v1");
/// Records that left the accepted set when their lab was revoked: `author ‖ seq` → envelope.
pub(crate) const QUARANTINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("quarantine_v1");
/// Content-addressed artefacts: BLAKE3 (artefact domain) → bytes.
pub(crate) const ARTEFACTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("artefacts_v1");
/// Records the background scrub found damaged (a check at open would not find them
/// again, e.g. a bad signature): `author ‖ seq` → what was wrong, as text. Removed when
/// a good copy replaces the record.
pub(crate) const DAMAGED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("damaged_v1");
/// Store metadata (format version, scheme genesis id).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");

/// `META` key of the scheme genesis record id.
pub(crate) const META_GENESIS: &str = "genesis";
/// `META` key of the layout version.
pub(crate) const META_LAYOUT: &str = "layout";
/// The layout this code writes.
pub(crate) const LAYOUT_VERSION: u32 = 2;

/// Layout 1, read only to migrate it: plain envelopes plus four index tables.
pub(crate) mod v1 {
    use redb::TableDefinition;

    /// Name of the records table.
    pub(crate) const RECORDS_NAME: &str = "records_v1";
    /// `author ‖ seq` → envelope bytes.
    pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new(RECORDS_NAME);
    /// Index tables that layout 2 keeps in memory instead.
    pub(crate) const INDEXES: [&str; 4] =
        ["ids_v1", "by_kind_v1", "by_suite_v1", "by_suite_round_v1"];
}

/// What the store keeps in memory of every accepted record, stored in front of its
/// envelope so that opening the store needs no decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// The record id.
    pub(crate) id: RecordId,
    /// Index of the record's kind in [`Body::KINDS`].
    pub(crate) kind: u8,
    /// The suite and round the record is about ([`Body::suite_round`]).
    pub(crate) suite_round: Option<(Digest, Option<u32>)>,
}

/// Length of an encoded [`Summary`]: id, kind, tag, suite, round.
pub(crate) const SUMMARY_LEN: usize = 32 + 1 + 1 + 32 + 4;

impl Summary {
    /// The summary of an opened record.
    pub(crate) fn of(opened: &Opened) -> Summary {
        Summary::new(opened.id, &opened.record.body)
    }

    /// The summary of record `id` with this body.
    pub(crate) fn new(id: RecordId, body: &Body) -> Summary {
        Summary {
            id,
            kind: body.kind_index(),
            suite_round: body.suite_round(),
        }
    }

    /// `id ‖ kind ‖ tag ‖ suite ‖ round`, tag 0 = no suite, 1 = suite, 2 = suite and round.
    fn encode(&self) -> [u8; SUMMARY_LEN] {
        let mut v = [0u8; SUMMARY_LEN];
        v[..32].copy_from_slice(self.id.as_bytes());
        v[32] = self.kind;
        if let Some((suite, round)) = self.suite_round {
            v[33] = if round.is_some() { 2 } else { 1 };
            v[34..66].copy_from_slice(suite.as_bytes());
            v[66..].copy_from_slice(&round.unwrap_or(0).to_be_bytes());
        }
        v
    }

    fn decode(v: &[u8; SUMMARY_LEN]) -> Option<Summary> {
        let id = Digest(v[..32].try_into().ok()?);
        let kind = v[32];
        if usize::from(kind) >= Body::KINDS.len() {
            return None;
        }
        let suite = Digest(v[34..66].try_into().ok()?);
        let round = u32::from_be_bytes(v[66..].try_into().ok()?);
        let suite_round = match v[33] {
            0 => None,
            1 => Some((suite, None)),
            2 => Some((suite, Some(round))),
            _ => return None,
        };
        Some(Summary {
            id,
            kind,
            suite_round,
        })
    }
}

/// Writes an accepted record's value (summary ‖ envelope) straight into the table's
/// page, without building it in a buffer first.
pub(crate) fn put_record(
    table: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    key: &[u8],
    summary: &Summary,
    envelope: &[u8],
) -> Result<(), StoreError> {
    let mut slot = table.insert_reserve(key, SUMMARY_LEN + envelope.len())?;
    let (head, tail) = slot.as_mut().split_at_mut(SUMMARY_LEN);
    head.copy_from_slice(&summary.encode());
    tail.copy_from_slice(envelope);
    Ok(())
}

/// Splits a stored record value into its summary and envelope bytes.
pub(crate) fn split_record(v: &[u8]) -> Result<(Summary, &[u8]), StoreError> {
    let summary = v
        .first_chunk::<SUMMARY_LEN>()
        .and_then(Summary::decode)
        .ok_or_else(|| StoreError::Corrupt("stored record has no valid summary".into()))?;
    Ok((summary, &v[SUMMARY_LEN..]))
}

/// The envelope bytes of a stored record value.
pub(crate) fn envelope_of(v: &[u8]) -> Result<&[u8], StoreError> {
    split_record(v).map(|(_, e)| e)
}

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

/// Encoded value of the heads table.
pub(crate) fn head_value(seq: u64, id: &RecordId, time_ms: u64) -> [u8; 48] {
    let mut v = [0u8; 48];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v[8..40].copy_from_slice(id.as_bytes());
    v[40..].copy_from_slice(&time_ms.to_be_bytes());
    v
}

/// Key of a fork proof.
pub(crate) fn fork_key(author: &PublicKey, seq: u64, a: &RecordId, b: &RecordId) -> [u8; 104] {
    let mut k = [0u8; 104];
    k[..POS_LEN].copy_from_slice(&pos_key(author, seq));
    k[40..72].copy_from_slice(a.as_bytes());
    k[72..].copy_from_slice(b.as_bytes());
    k
}
