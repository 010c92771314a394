//! Evidence bundles: everything a comparability answer depends on, in one file that
//! anyone can re-verify offline — every signature, chain and the evidence root — and from
//! which the report is recomputed and compared byte for byte.

use std::{collections::BTreeSet, fmt};

use serde::{Deserialize, Serialize};

use crate::{
    Digest, ForkProof, ForkProofError, MemoryLog, Rejection,
    canonical_report::report_canonical_bytes,
    cbor::{self, CborError},
    diagnosis::{RecordRef, diagnose},
    governance::{self, ComparabilityQuery},
    stats::ReportConfig,
};

/// Format version of bundles this code writes and reads. Version 2 carries the report as
/// its canonical CBOR ([`report_canonical_bytes`]); version 1 carried JSON.
pub const BUNDLE_VERSION: u32 = 2;

/// Largest bundle read (the whole log of a scheme).
pub const MAX_BUNDLE_BYTES: usize = 1 << 30;

/// A self-contained evidence bundle (`docs/protocol.md` §9 gives the byte format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_VERSION`].
    pub v: u32,
    /// The suite the report is about.
    pub suite: Digest,
    /// The round.
    pub round: u32,
    /// Whether disputed results were included.
    pub include_disputed: bool,
    /// The evidence root the report was computed from.
    pub evidence_root: Digest,
    /// Every accepted envelope (canonical bytes), in (author, seq) order.
    pub envelopes: Vec<serde_bytes::ByteBuf>,
    /// Fork proofs held (canonical bytes).
    pub forks: Vec<serde_bytes::ByteBuf>,
    /// The comparability report's canonical bytes ([`report_canonical_bytes`]).
    pub report: serde_bytes::ByteBuf,
}

/// One thing wrong with a bundle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a canonical bundle.
    #[error("bundle encoding: {0}")]
    Encoding(CborError),
    /// Another format version.
    #[error("bundle version {0} is not version {BUNDLE_VERSION}")]
    Version(u32),
    /// An envelope was rejected.
    #[error("envelope {index}: {rejection}")]
    Envelope {
        /// Position in the bundle.
        index: usize,
        /// Why.
        rejection: Rejection,
    },
    /// A fork proof does not verify.
    #[error("fork proof {index}: {error}")]
    Fork {
        /// Position in the bundle.
        index: usize,
        /// Why.
        error: ForkProofError,
    },
    /// The envelopes hash to another root.
    #[error("the accepted envelopes hash to evidence root {computed}, the bundle claims {claimed}")]
    Root {
        /// Claimed.
        claimed: Digest,
        /// Computed.
        computed: Digest,
    },
    /// The report cannot be recomputed.
    #[error("cannot recompute the report: {0}")]
    Recompute(String),
    /// The recomputed report differs.
    #[error(
        "the report differs from the one recomputed from the evidence (first difference at byte {at})"
    )]
    ReportMismatch {
        /// First differing byte.
        at: usize,
    },
}

impl BundleError {
    /// A short machine-readable code (a [`Rejection::code`] for envelopes).
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::Encoding(CborError::NonCanonical) => "non_canonical",
            BundleError::Encoding(CborError::TooLarge { .. }) => "oversize",
            BundleError::Encoding(_) => "malformed",
            BundleError::Version(_) => "unknown_version",
            BundleError::Envelope { rejection, .. } => rejection.code(),
            BundleError::Fork { .. } => "bad_fork_proof",
            BundleError::Root { .. } => "root_mismatch",
            BundleError::Recompute(_) => "report_not_recomputable",
            BundleError::ReportMismatch { .. } => "report_mismatch",
        }
    }
}

/// A [`BundleError`] with what it concerns and what it follows from.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFailure {
    /// What is wrong.
    pub error: BundleError,
    /// The record concerned (envelope failures).
    pub record: Option<RecordRef>,
    /// Positions of the failed envelopes this failure follows from; empty for a root
    /// cause.
    pub follows_from: Vec<usize>,
}

impl BundleFailure {
    fn root(error: BundleError) -> Self {
        BundleFailure {
            error,
            record: None,
            follows_from: Vec::new(),
        }
    }
}

impl fmt::Display for BundleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.record) {
            (BundleError::Envelope { index, rejection }, Some(r)) => write!(
                f,
                "envelope {index} [{}] {r}: {rejection}",
                rejection.code()
            )?,
            (e, _) => write!(f, "[{}] {e}", e.code())?,
        }
        match self.follows_from.as_slice() {
            [] => Ok(()),
            [one] => write!(f, " (follows from envelope {one})"),
            many => {
                let list: Vec<String> = many.iter().map(usize::to_string).collect();
                write!(f, " (follows from envelopes {})", list.join(", "))
            }
        }
    }
}

/// What a verified bundle establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The evidence root.
    pub root: Digest,
    /// Envelopes checked.
    pub envelopes: usize,
    /// Fork proofs checked.
    pub forks: usize,
    /// Digest (report domain) of the report's canonical bytes.
    pub report_digest: Digest,
}

/// Recomputes the report's canonical bytes ([`report_canonical_bytes`]) from a log.
pub fn report_bytes(
    log: &MemoryLog,
    forks: &[ForkProof],
    query: &ComparabilityQuery,
) -> Result<Vec<u8>, String> {
    let records: Vec<_> = log.records().cloned().collect();
    let equivocators: BTreeSet<_> = forks
        .iter()
        .filter_map(|p| p.verify().ok().map(|f| f.author))
        .collect();
    let c = governance::comparability(
        &records,
        log.authority(),
        &equivocators,
        query,
        &ReportConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    report_canonical_bytes(&c).map_err(|e| e.to_string())
}

impl Bundle {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_vec(self)
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let b: Bundle =
            cbor::from_slice_canonical(bytes, MAX_BUNDLE_BYTES).map_err(BundleError::Encoding)?;
        if b.v != BUNDLE_VERSION {
            return Err(BundleError::Version(b.v));
        }
        Ok(b)
    }

    /// Re-verifies everything — every envelope against the others, every fork proof,
    /// the evidence root — and recomputes the report. Records more than
    /// [`MAX_CLOCK_SKEW_MS`](crate::MAX_CLOCK_SKEW_MS) ahead of `now_ms` are rejected
    /// (`from_the_future`), as every node rejects them; offline, pass the verifier's clock.
    ///
    /// On failure, returns every failure: root causes first, then those that follow
    /// from them.
    pub fn verify(&self, now_ms: u64) -> Result<Verified, Vec<BundleFailure>> {
        let mut log = MemoryLog::new();
        let envelopes: Vec<Vec<u8>> = self.envelopes.iter().map(|b| b.to_vec()).collect();
        let failed = log.ingest_all(&envelopes, now_ms);
        let diagnosed = diagnose(&envelopes, &log, failed);
        let envelope_roots: Vec<usize> = diagnosed
            .iter()
            .filter(|f| f.follows_from.is_none())
            .map(|f| f.index)
            .collect();
        let mut failures: Vec<BundleFailure> = diagnosed
            .into_iter()
            .map(|f| BundleFailure {
                error: BundleError::Envelope {
                    index: f.index,
                    rejection: f.rejection,
                },
                record: f.record,
                follows_from: f.follows_from.into_iter().collect(),
            })
            .collect();
        let mut forks = Vec::new();
        for (index, f) in self.forks.iter().enumerate() {
            match ForkProof::decode(f).and_then(|p| p.verify().map(|_| p)) {
                Ok(p) => forks.push(p),
                Err(error) => {
                    failures.push(BundleFailure::root(BundleError::Fork { index, error }))
                }
            }
        }
        // What follows from rejected envelopes is listed after them, naming them.
        let consequence = |error: BundleError| BundleFailure {
            error,
            record: None,
            follows_from: envelope_roots.clone(),
        };
        let computed = log.evidence().root;
        if computed != self.evidence_root {
            failures.push(consequence(BundleError::Root {
                claimed: self.evidence_root,
                computed,
            }));
        }
        let query = ComparabilityQuery {
            suite: self.suite,
            round: Some(self.round),
            include_disputed: self.include_disputed,
        };
        match report_bytes(&log, &forks, &query) {
            Err(e) => failures.push(consequence(BundleError::Recompute(e))),
            Ok(report) if report != self.report.as_slice() => {
                let at = report
                    .iter()
                    .zip(self.report.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(report.len().min(self.report.len()));
                failures.push(consequence(BundleError::ReportMismatch { at }));
            }
            Ok(_) => {}
        }
        if !failures.is_empty() {
            failures.sort_by_key(|f| !f.follows_from.is_empty());
            return Err(failures);
        }
        Ok(Verified {
            root: computed,
            envelopes: envelopes.len(),
            forks: forks.len(),
            report_digest: Digest::of(crate::digest::domain::REPORT, &self.report),
        })
    }
}
