//! Evidence bundles: everything a comparability answer depends on, in one file that
//! anyone can re-verify offline — every signature, chain and the evidence root — and from
//! which the report is recomputed and compared byte for byte.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    Digest, ForkProof, MemoryLog, Rejection,
    cbor::{self, CborError},
    governance::{self, ComparabilityQuery},
    stats::ReportConfig,
};

/// Format version of bundles this code writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// Largest bundle read (the whole log of a scheme).
pub const MAX_BUNDLE_BYTES: usize = 1 << 30;

/// A self-contained evidence bundle.
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
    /// The comparability report as JSON bytes (as the API serves its `comparability`).
    pub report: serde_bytes::ByteBuf,
}

/// Why a bundle does not verify.
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
    #[error("fork proof {index}: {reason}")]
    Fork {
        /// Position in the bundle.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The envelopes hash to another root.
    #[error("evidence root of the envelopes is {computed}, the bundle claims {claimed}")]
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

/// What a verified bundle establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The evidence root.
    pub root: Digest,
    /// Envelopes checked.
    pub envelopes: usize,
    /// Fork proofs checked.
    pub forks: usize,
    /// Digest (report domain) of the report bytes.
    pub report_digest: Digest,
}

/// Recomputes the report JSON bytes from a log.
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
    serde_json::to_vec(&c).map_err(|e| e.to_string())
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

    /// Re-verifies everything and recomputes the report. `now_ms` bounds record times
    /// (offline, pass a generous clock).
    pub fn verify(&self, now_ms: u64) -> Result<Verified, BundleError> {
        let mut log = MemoryLog::new();
        let envelopes: Vec<Vec<u8>> = self.envelopes.iter().map(|b| b.to_vec()).collect();
        if let Some((index, rejection)) = log.ingest_all(&envelopes, now_ms).into_iter().next() {
            return Err(BundleError::Envelope { index, rejection });
        }
        let mut forks = Vec::new();
        for (index, f) in self.forks.iter().enumerate() {
            let p = ForkProof::decode(f).map_err(|e| BundleError::Fork {
                index,
                reason: e.to_string(),
            })?;
            p.verify().map_err(|e| BundleError::Fork {
                index,
                reason: e.to_string(),
            })?;
            forks.push(p);
        }
        let computed = log.evidence().root;
        if computed != self.evidence_root {
            return Err(BundleError::Root {
                claimed: self.evidence_root,
                computed,
            });
        }
        let query = ComparabilityQuery {
            suite: self.suite,
            round: Some(self.round),
            include_disputed: self.include_disputed,
        };
        let report = report_bytes(&log, &forks, &query).map_err(BundleError::Recompute)?;
        if report != self.report.as_slice() {
            let at = report
                .iter()
                .zip(self.report.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(report.len().min(self.report.len()));
            return Err(BundleError::ReportMismatch { at });
        }
        Ok(Verified {
            root: computed,
            envelopes: envelopes.len(),
            forks: forks.len(),
            report_digest: Digest::of(crate::digest::domain::REPORT, &report),
        })
    }
}
