//! The record model: one versioned struct with a closed enum of bodies.
//!
//! A record is what an author signs. Its exact CBOR bytes are hashed into its id and
//! carried as an opaque byte string inside the [`Envelope`](crate::Envelope).

use serde::{Deserialize, Serialize};

use crate::{
    digest::{Digest, RecordId, SchemeId},
    keys::PublicKey,
    measurement::RunResult,
    reveal::SealedAnswers,
};

/// The record format version this code writes and accepts.
pub const RECORD_VERSION: u32 = 1;

/// Longest free text (names, statements, reasons) in bytes.
pub const MAX_TEXT: usize = 4096;

/// A signed statement by one author, at one position of the author's hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Format version ([`RECORD_VERSION`]).
    pub v: u32,
    /// The author (must equal the envelope's author).
    pub author: PublicKey,
    /// The scheme this record belongs to; `None` only in a scheme genesis.
    pub scheme: Option<SchemeId>,
    /// Position in the author's chain: 0, 1, 2 …
    pub seq: u64,
    /// Id of the author's record at `seq − 1`; `None` exactly when `seq == 0`.
    pub prev: Option<RecordId>,
    /// Author-claimed wall-clock time, milliseconds since the Unix epoch. Never
    /// decreases along a chain.
    pub time_ms: u64,
    /// What the record says.
    pub body: Body,
}

impl Record {
    /// Decodes a record body, accepting only its canonical bytes (at most
    /// [`MAX_ENVELOPE_BYTES`](crate::MAX_ENVELOPE_BYTES)).
    pub fn from_canonical(bytes: &[u8]) -> Result<Record, crate::CborError> {
        crate::cbor::from_slice_strict(bytes, crate::MAX_ENVELOPE_BYTES)
    }
}

/// Why a dispute was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Grounds {
    /// The result is a statistical outlier.
    Outlier,
    /// The disputing lab could not reproduce it.
    NotReproducible,
    /// The verdict does not follow from the criterion on the lab's own measurement.
    CriterionMisapplied,
    /// The declared environment is not what was used.
    EnvironmentMisreported,
    /// The author signed two records at one position of its chain.
    Equivocation,
}

/// How the scheme owner settled a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The dispute is justified.
    Upheld,
    /// The dispute is not justified.
    Dismissed,
}

/// What follows from a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing changes.
    None,
    /// The disputed result is excluded from statistics (shown on request).
    Exclude,
    /// The lab must run again.
    RerunRequired,
    /// The lab is suspended.
    SuspendLab,
}

impl Grounds {
    /// The wire name (`outlier`, `not-reproducible` …), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Grounds::Outlier => "outlier",
            Grounds::NotReproducible => "not-reproducible",
            Grounds::CriterionMisapplied => "criterion-misapplied",
            Grounds::EnvironmentMisreported => "environment-misreported",
            Grounds::Equivocation => "equivocation",
        }
    }
}

impl Outcome {
    /// The wire name (`upheld`, `dismissed`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Upheld => "upheld",
            Outcome::Dismissed => "dismissed",
        }
    }
}

impl Action {
    /// The wire name (`none`, `exclude`, `rerun-required`, `suspend-lab`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Exclude => "exclude",
            Action::RerunRequired => "rerun-required",
            Action::SuspendLab => "suspend-lab",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether `s` is a lab code as a coded scheme requires: one to three capital letters, an
/// optional hyphen, then two to four digits (`L07`, `LAB-0012`). Anything else — a
/// lowercase letter, a space, a long word — looks like a name and is refused.
pub fn is_lab_code(s: &str) -> bool {
    let b = s.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let rest = &b[letters..];
    let rest = rest.strip_prefix(b"-").unwrap_or(rest);
    (1..=3).contains(&letters)
        && (2..=4).contains(&rest.len())
        && rest.iter().all(u8::is_ascii_digit)
}

/// A content-addressed file a suite needs (dataset, model weights).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ArtefactRef {
    /// Path relative to the manifest.
    pub path: String,
    /// BLAKE3 digest in the artefact domain.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// The body of a record: what kind of statement it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Creates a scheme; its author is the scheme owner and its id is the scheme id.
    SchemeGenesis {
        /// Scheme name.
        name: String,
        /// Labs appear by code, not by name: every `lab_accredited` record of the scheme
        /// must carry a code ([`is_lab_code`]); the owner keeps the names off the network.
        /// Absent (and not written) when false, so name schemes keep their bytes.
        #[serde(default, skip_serializing_if = "is_false")]
        lab_codes: bool,
        /// How participants and regulators reach the proficiency-testing provider (an
        /// address, a mail box), printed on every round report. Absent (and not
        /// written) when the owner gave none, so older schemes keep their bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<String>,
    },
    /// Publishes a version of a reference suite.
    SuitePublished {
        /// Suite id: BLAKE3 of the manifest's canonical bytes.
        suite: Digest,
        /// Suite name from the manifest.
        name: String,
        /// Suite version from the manifest.
        version: String,
        /// The manifest's canonical bytes.
        #[serde(with = "serde_bytes")]
        manifest: Vec<u8>,
        /// Artefacts the manifest names, fetched by digest.
        artefacts: Vec<ArtefactRef>,
        /// Suite id of the version this one supersedes.
        supersedes: Option<Digest>,
    },
    /// Accredits a lab.
    LabAccredited {
        /// The lab's key.
        lab: PublicKey,
        /// The lab's name.
        name: String,
    },
    /// Suspends a lab from a time on.
    LabSuspended {
        /// The lab's key.
        lab: PublicKey,
        /// Why.
        reason: String,
        /// From when (ms since the epoch).
        from_ms: u64,
    },
    /// Ends a suspension.
    LabReinstated {
        /// The lab's key.
        lab: PublicKey,
    },
    /// Revokes a lab: its records after `last_seq` are rejected.
    LabRevoked {
        /// The lab's key.
        lab: PublicKey,
        /// Why.
        reason: String,
        /// The lab's last record that stays valid (`None`: none does).
        last_seq: Option<u64>,
    },
    /// Opens a comparison round of a suite.
    RoundOpened {
        /// Suite id.
        suite: Digest,
        /// Round number.
        round: u32,
        /// Results after this time are kept but marked late.
        deadline_ms: Option<u64>,
    },
    /// A lab's measured results.
    RunResult(RunResult),
    /// Objects to a record.
    Dispute {
        /// The disputed record.
        target: RecordId,
        /// Why.
        grounds: Grounds,
        /// Free-text statement.
        statement: String,
        /// Records supporting the dispute (e.g. a re-run).
        evidence: Vec<RecordId>,
    },
    /// Answers a dispute.
    DisputeResponse {
        /// The dispute record.
        dispute: RecordId,
        /// Free-text statement.
        statement: String,
        /// Records supporting the answer.
        evidence: Vec<RecordId>,
    },
    /// Settles a dispute (scheme owner only).
    DisputeResolution {
        /// The dispute record.
        dispute: RecordId,
        /// Upheld or dismissed.
        outcome: Outcome,
        /// What follows.
        action: Action,
        /// Free-text statement.
        statement: String,
    },
    /// Withdraws one of the author's own earlier records.
    Retraction {
        /// The retracted record (same author).
        target: RecordId,
        /// Why.
        reason: String,
    },
    /// Reveals the sealed known answers of a test item (scheme owner only); accepted only
    /// when they hash to the commitment in the suite's manifest.
    KnownAnswerReveal {
        /// Suite id.
        suite: Digest,
        /// The `suite_published` record of that suite (where the commitment is).
        suite_record: RecordId,
        /// The answers with their salt.
        sealed: SealedAnswers,
    },
}

impl Body {
    /// A short kind name, as used by the API's `kind=` filter.
    pub fn kind(&self) -> &'static str {
        Body::KINDS[usize::from(self.kind_index())]
    }

    /// The kind's position in [`Body::KINDS`] (stable: new kinds are appended).
    pub fn kind_index(&self) -> u8 {
        match self {
            Body::SchemeGenesis { .. } => 0,
            Body::SuitePublished { .. } => 1,
            Body::LabAccredited { .. } => 2,
            Body::LabSuspended { .. } => 3,
            Body::LabReinstated { .. } => 4,
            Body::LabRevoked { .. } => 5,
            Body::RoundOpened { .. } => 6,
            Body::RunResult(_) => 7,
            Body::Dispute { .. } => 8,
            Body::DisputeResponse { .. } => 9,
            Body::DisputeResolution { .. } => 10,
            Body::Retraction { .. } => 11,
            Body::KnownAnswerReveal { .. } => 12,
        }
    }

    /// Every kind name, for validating filters.
    pub const KINDS: [&'static str; 13] = [
        "scheme_genesis",
        "suite_published",
        "lab_accredited",
        "lab_suspended",
        "lab_reinstated",
        "lab_revoked",
        "round_opened",
        "run_result",
        "dispute",
        "dispute_response",
        "dispute_resolution",
        "retraction",
        "known_answer_reveal",
    ];

    /// Only the scheme owner may write this kind.
    pub fn owner_only(&self) -> bool {
        matches!(
            self,
            Body::SchemeGenesis { .. }
                | Body::SuitePublished { .. }
                | Body::LabAccredited { .. }
                | Body::LabSuspended { .. }
                | Body::LabReinstated { .. }
                | Body::LabRevoked { .. }
                | Body::RoundOpened { .. }
                | Body::DisputeResolution { .. }
                | Body::KnownAnswerReveal { .. }
        )
    }

    /// The suite and round this record is about, for the store's indexes.
    pub fn suite_round(&self) -> Option<(Digest, Option<u32>)> {
        match self {
            Body::SuitePublished { suite, .. } => Some((*suite, None)),
            Body::RoundOpened { suite, round, .. } => Some((*suite, Some(*round))),
            Body::RunResult(r) => Some((r.suite, Some(r.round))),
            Body::KnownAnswerReveal { suite, .. } => Some((*suite, None)),
            _ => None,
        }
    }

    /// The free-text fields that [`MAX_TEXT`] bounds, with their names.
    pub(crate) fn texts(&self) -> Vec<(&'static str, &str)> {
        match self {
            Body::SchemeGenesis { name, contact, .. } => {
                let mut v = vec![("name", name.as_str())];
                if let Some(c) = contact {
                    v.push(("contact", c.as_str()));
                }
                v
            }
            Body::LabAccredited { name, .. } => vec![("name", name)],
            Body::SuitePublished { name, version, .. } => {
                vec![("name", name), ("version", version)]
            }
            Body::LabSuspended { reason, .. }
            | Body::LabRevoked { reason, .. }
            | Body::Retraction { reason, .. } => vec![("reason", reason)],
            Body::Dispute { statement, .. }
            | Body::DisputeResponse { statement, .. }
            | Body::DisputeResolution { statement, .. } => vec![("statement", statement)],
            Body::KnownAnswerReveal { sealed, .. } => {
                let mut v = vec![("item", sealed.item.as_str())];
                for a in &sealed.answers {
                    v.push(("test", a.test.as_str()));
                    v.push(("metric", a.metric.as_str()));
                }
                v
            }
            Body::LabReinstated { .. } | Body::RoundOpened { .. } | Body::RunResult(_) => {
                vec![]
            }
        }
    }
}
