//! The HTTP contract: every request and answer body of the `/v1` API, as plain data.
//!
//! The server builds these, [`crate::client::ApiClient`] reads them back, and the
//! OpenAPI document (`docs/openapi.json`, served at `GET /v1/openapi.json`) is generated
//! from them. They hold no server state, so a separate client crate can take them as
//! they are. Protocol types appear where they already are the answer (a record, an
//! inclusion proof, the comparability report); digests, record ids and keys travel as
//! lowercase hex strings.

use interlab_protocol::{
    Body, Digest, EvidenceState, FrontierEntry, InclusionProof, PublicKey, Record, RecordId,
    governance::{Comparability, DisputeView, Flag},
    stats::drift::Drift,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use crate::{
    net::{BannedPeer, OwnChain, PeerInfo},
    publisher::{SigningState, SigningStatus, WithoutPeers},
};

/// The body of every error answer (4xx and 5xx).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine code: `bad_request`, `not_found`, `unauthorized`, `unavailable`,
    /// `internal`, `no_scheme`, a signing refusal (`catching_up`, `checking_own_chain`,
    /// `no_peer`) or the rejection code of a refused record.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// What the node knows about signing, on a refusal to sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningStatus>,
}

/// `GET /v1/status`: the node, its evidence, its peers and whether it may sign.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusAnswer {
    /// The node's name from its config.
    pub name: String,
    /// The node's signing key.
    pub node: PublicKey,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// The scheme it serves, once the genesis is known.
    pub scheme: Option<Digest>,
    /// The scheme owner's key, once the genesis is known.
    pub owner: Option<PublicKey>,
    /// Evidence root over the accepted records.
    pub evidence_root: Digest,
    /// Number of accepted records.
    pub records: u64,
    /// Per-author chain heads, sorted by author.
    pub frontier: Vec<FrontierEntry>,
    /// Number of connected peers.
    pub peers: u64,
    /// The connected peers (as the network saw them at most half a second ago).
    pub peer_list: Vec<PeerInfo>,
    /// Peers refused for a low score.
    pub banned: Vec<BannedPeer>,
    /// Number of stored fork proofs.
    pub forks: u64,
    /// Whether the node may sign now, and if not why.
    pub signing: SigningStatus,
}

/// `GET /v1/signing`: the node may sign now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SigningAnswer {
    /// Evidence root when the answer was given.
    pub evidence_root: Digest,
    /// The signing status.
    pub signing: SigningStatus,
}

/// A record as the API shows it: decoded, with its raw signed envelope in hex (verify
/// that, not the decoded fields).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// Record id.
    pub id: RecordId,
    /// Author key.
    pub author: PublicKey,
    /// Position in the author's chain.
    pub seq: u64,
    /// Body kind (`run_result`, `dispute`, …).
    pub kind: String,
    /// Author's clock when signing (milliseconds since the Unix epoch).
    pub time_ms: u64,
    /// The decoded record.
    pub record: Record,
    /// The signed envelope (canonical CBOR) in hex.
    pub envelope: String,
}

/// Filters of `GET /v1/records` (all optional; values are checked by the server).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Only records by this author (hex key).
    pub author: Option<String>,
    /// Only records of this kind (`run_result`, `dispute`, …).
    pub kind: Option<String>,
    /// Only records about this suite id.
    pub suite: Option<String>,
    /// Only records of this round.
    pub round: Option<String>,
    /// Continue after this position (`AUTHOR_HEX:SEQ`, the `next` of the previous page).
    pub after: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<String>,
}

/// `GET /v1/records`: one page of accepted records in (author, seq) order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordsPage {
    /// Evidence root when the page was read.
    pub evidence_root: Digest,
    /// The records.
    pub records: Vec<RecordView>,
    /// `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// `GET /v1/records/{id}`: one accepted record and its inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordAnswer {
    /// The root the proof leads to.
    pub evidence_root: Option<Digest>,
    /// The record.
    pub record: RecordView,
    /// Its inclusion proof under `evidence_root`.
    pub proof: Option<InclusionProof>,
}

/// `GET /v1/proof/{id}`: an inclusion proof, checked by the node.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProofAnswer {
    /// The root the proof leads to.
    pub evidence_root: Digest,
    /// The proof.
    pub proof: InclusionProof,
    /// Whether the path leads to the root (always true from an honest node; check it
    /// yourself).
    pub valid: bool,
}

/// `POST /v1/artefacts`: the digest under which the node stored the upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadAnswer {
    /// BLAKE3 of the bytes in the artefact domain.
    pub digest: Digest,
}

/// Body of `POST /v1/publish`: the record body to sign as the node's next record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishRequest {
    /// The record body.
    pub body: Body,
}

/// `POST /v1/publish`: the record the node signed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishAnswer {
    /// The new record's id.
    pub id: RecordId,
    /// Its body kind.
    pub kind: String,
    /// Its position in the node's chain.
    pub seq: u64,
    /// Evidence root after storing it.
    pub evidence_root: Digest,
    /// Accepted records after storing it.
    pub records: u64,
}

/// `POST /v1/envelopes`: the envelope was accepted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubmitAnswer {
    /// The record id.
    pub id: RecordId,
    /// Evidence root after storing it.
    pub evidence_root: Digest,
}

/// A lab's accreditation standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabStatus {
    /// Accredited and not suspended.
    Accredited,
    /// Suspended now.
    Suspended,
    /// Revoked.
    Revoked,
}

impl LabStatus {
    /// The standing the owner's records give `lab` now.
    pub fn of(lab: &interlab_protocol::Lab) -> LabStatus {
        match lab.status() {
            "revoked" => LabStatus::Revoked,
            "suspended" => LabStatus::Suspended,
            _ => LabStatus::Accredited,
        }
    }

    /// The word the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LabStatus::Accredited => "accredited",
            LabStatus::Suspended => "suspended",
            LabStatus::Revoked => "revoked",
        }
    }
}

/// A lab as the owner's records describe it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabView {
    /// The lab's key.
    pub lab: PublicKey,
    /// Its name at accreditation.
    pub name: String,
    /// Its standing now.
    pub status: LabStatus,
    /// Time of the (first) accreditation record.
    pub accredited_ms: u64,
    /// Suspension intervals `[from, until)`; `until` is null while suspended.
    pub suspensions: Vec<(u64, Option<u64>)>,
    /// Reasons given for suspensions, in order.
    pub suspension_reasons: Vec<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// Whether a verified fork proof shows it signed two records with one seq.
    pub equivocated: bool,
}

/// `GET /v1/labs`: the scheme owner and every lab it accredited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabsAnswer {
    /// Evidence root the list was derived from.
    pub evidence_root: Digest,
    /// The scheme owner, once the genesis is known.
    pub owner: Option<PublicKey>,
    /// The labs.
    pub labs: Vec<LabView>,
}

/// One verified equivocation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForkView {
    /// The author who signed two records with one seq.
    pub author: PublicKey,
    /// The seq.
    pub seq: u64,
    /// The two record ids.
    pub ids: [RecordId; 2],
    /// The fork proof (both envelopes, canonical CBOR) in hex.
    pub proof: String,
}

/// `GET /v1/forks`: every verified fork proof the node holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForksAnswer {
    /// Evidence root when the list was read.
    pub evidence_root: Digest,
    /// The forks.
    pub forks: Vec<ForkView>,
}

/// Query of `GET /v1/comparability` and `GET /v1/drift`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComparabilityParams {
    /// Suite id (default: the latest published).
    pub suite: Option<String>,
    /// Round (default: the latest).
    pub round: Option<String>,
    /// `true` to include results under an upheld `exclude` resolution.
    pub include_disputed: Option<String>,
}

/// `GET /v1/comparability`: the report for one suite version and round.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComparabilityAnswer {
    /// The evidence the report was computed from.
    pub evidence: EvidenceState,
    /// The same root, at the top level like every answer.
    pub evidence_root: Digest,
    /// Digest of the report's canonical form: two nodes with the same root give the same.
    pub report_digest: Digest,
    /// The report.
    #[schema(value_type = Comparability)]
    pub comparability: std::sync::Arc<Comparability>,
}

/// One lab's drift on one measurand.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabDrift {
    /// Lab name.
    pub lab: String,
    /// Measurand (`test/metric`).
    pub measurand: String,
    /// CUSUM, EWMA and Westgard-style alarms of its z-scores across rounds.
    pub drift: Drift,
}

/// `GET /v1/drift`: each lab's z-scores across rounds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DriftAnswer {
    /// The evidence the answer was computed from.
    pub evidence: EvidenceState,
    /// The same root.
    pub evidence_root: Digest,
    /// Suite id.
    pub suite: Digest,
    /// Latest round analysed.
    pub round: u32,
    /// Drift per lab and measurand (labs with too few rounds are absent).
    pub labs: Vec<LabDrift>,
    /// Labs the network flags, with reasons.
    pub flags: Vec<Flag>,
}

/// `GET /v1/disputes`: every dispute with its derived state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisputesAnswer {
    /// The evidence the answer was computed from.
    pub evidence: EvidenceState,
    /// The same root.
    pub evidence_root: Digest,
    /// The disputes.
    #[schema(value_type = Vec<DisputeView>)]
    pub disputes: std::sync::Arc<Vec<DisputeView>>,
}

/// Body of `POST /v1/admin/block`: the complete set of blocked peers (empty unblocks all).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockRequest {
    /// libp2p peer ids.
    pub peers: Vec<String>,
}

/// `POST /v1/admin/block`: how many peers are blocked now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockAnswer {
    /// Number of blocked peers.
    pub blocked: u64,
}

/// `POST /v1/admin/sync`: anti-entropy ran.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncAnswer {
    /// Evidence root after the round of anti-entropy.
    pub evidence_root: Digest,
}
