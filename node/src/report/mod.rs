//! The round report a proficiency-testing provider issues (ISO/IEC 17043:2023 clause 7.4,
//! ISO 13528 clause 10), as HTML or PDF, computed from the same evidence and governance
//! computation as `/v1/comparability`.
//!
//! Every fact comes from the signed records: the issue date is the latest record time of
//! the round, the report number is derived from the suite id and round, and the status
//! (interim or final) follows from the round's deadline and its disputes. Rendering the
//! same evidence twice therefore gives the same bytes, on any node.

mod build;
mod doc;
mod figure;
mod html;
pub mod http;
mod pdf;
mod scores;
mod stability;
mod typeset;

use interlab_protocol::{
    Body, Digest, PublicKey,
    governance::{self, Comparability, ComparabilityQuery, GovernanceError},
    stats::ReportConfig,
};

use crate::api::reports::Snapshot;
pub(crate) use doc::Content;

/// Why no report could be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No such suite in the log.
    #[error("no suite {0} has been published in this scheme")]
    UnknownSuite(Digest),
    /// The suite has no such round (neither opened nor with results).
    #[error("suite {suite} has no round {round}: it was never opened and has no results")]
    UnknownRound {
        /// Suite id.
        suite: Digest,
        /// Round asked for.
        round: u32,
    },
    /// The governance computation failed.
    #[error("cannot compute the round: {0}")]
    Governance(String),
    /// The PDF writer failed.
    #[error("cannot write the PDF: {0}")]
    Pdf(String),
}

/// A built report: its content and the digest of that content.
#[derive(Debug, Clone)]
pub struct RoundReport {
    content: Content,
    digest: Digest,
}

impl RoundReport {
    /// The report digest: BLAKE3 (report domain) of the canonical CBOR of the content.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The report as one self-contained HTML page.
    pub fn html(&self) -> String {
        html::render(&self.content, &self.digest)
    }

    /// The report as PDF bytes (deterministic for the same content).
    pub fn pdf(&self) -> Result<Vec<u8>, ReportError> {
        pdf::render(&self.content, &self.digest)
    }

    /// The report number.
    pub fn number(&self) -> &str {
        &self.content.number
    }
}

/// Builds the report of `round` of `suite` from a snapshot. `own` is the reading node's
/// key: that lab's rows are marked "your results".
pub fn build(
    snap: &Snapshot,
    suite: Digest,
    round: u32,
    own: Option<PublicKey>,
) -> Result<RoundReport, ReportError> {
    let owner = snap.authority.owner();
    let known_round = snap.records.iter().any(|o| match &o.record.body {
        Body::RunResult(r) => r.suite == suite && r.round == round,
        Body::RoundOpened {
            suite: s, round: r, ..
        } => *s == suite && *r == round && Some(o.record.author) == owner,
        _ => false,
    });
    let q = ComparabilityQuery {
        suite,
        round: Some(round),
        include_disputed: false,
    };
    let c = comparability(snap, &q)?;
    if !known_round {
        return Err(ReportError::UnknownRound { suite, round });
    }
    let content = build::content(snap, &c, own);
    let digest = interlab_protocol::report_digest(&content)
        .map_err(|e| ReportError::Governance(e.to_string()))?;
    Ok(RoundReport { content, digest })
}

fn comparability(snap: &Snapshot, q: &ComparabilityQuery) -> Result<Comparability, ReportError> {
    governance::comparability(
        &snap.records,
        &snap.authority,
        &snap.equivocators,
        q,
        &ReportConfig::default(),
    )
    .map_err(|e| match e {
        GovernanceError::UnknownSuite(s) => ReportError::UnknownSuite(s),
        other => ReportError::Governance(other.to_string()),
    })
}

#[cfg(test)]
mod tests;
