//! Operator workflows over a node's API: publishing a suite with its artefacts, and a
//! lab's run of a published suite (fetch by hash, check digests, execute, publish).

use std::path::Path;

use interlab_protocol::{Body, Digest, RecordId, RunResult};
use interlab_suites::{Progress, RunConfig, Suite, SuiteError};

use crate::client::{ApiClient, ClientError};

/// Why a workflow failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// The API call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The suite could not be loaded or its artefacts do not match their digests.
    #[error("suite: {0}")]
    Suite(#[from] SuiteError),
    /// The engine failed; nothing was published.
    #[error("engine: {0}; nothing was published")]
    Engine(#[from] interlab_suites::EngineError),
    /// No such suite in the log.
    #[error(
        "no suite {0} has been published in this scheme (see `interlab query` or GET /v1/records?kind=suite_published)"
    )]
    UnknownSuite(Digest),
    /// The node's answer is inconsistent.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Publishes the suite at `manifest` (artefacts first, by hash, then the signed record).
pub fn publish_suite(
    client: &ApiClient,
    manifest: &Path,
    supersedes: Option<Digest>,
) -> Result<(Digest, RecordId), OpsError> {
    let suite = Suite::load(manifest)?;
    for name in suite.manifest().artefacts.keys() {
        let bytes = suite
            .artefact(name)
            .ok_or_else(|| OpsError::Unexpected(format!("artefact {name} not loaded")))?;
        client.upload(bytes)?;
    }
    let m = suite.manifest();
    let body = Body::SuitePublished {
        suite: suite.id(),
        name: m.name.clone(),
        version: m.version.clone(),
        manifest: suite.canonical_bytes().to_vec(),
        artefacts: suite.artefact_refs(),
        supersedes,
    };
    let v = client.publish(&body)?;
    let id = v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| OpsError::Unexpected("publish answer without id".into()))?;
    Ok((suite.id(), id))
}

/// Fetches a published suite and its artefacts (by hash) through the node, and checks them.
pub fn fetch_suite(client: &ApiClient, suite_id: &Digest) -> Result<Suite, OpsError> {
    let records = client.records(&format!("kind=suite_published&suite={suite_id}"))?;
    let manifest = records
        .iter()
        .find_map(|o| match &o.record.body {
            Body::SuitePublished {
                suite, manifest, ..
            } if suite == suite_id => Some(manifest.clone()),
            _ => None,
        })
        .ok_or(OpsError::UnknownSuite(*suite_id))?;
    let suite = Suite::from_parts(&manifest, |req| {
        client.artefact(req.digest).map_err(|e| e.to_string())
    })?;
    Ok(suite)
}

/// The latest round the owner opened for a suite, if any.
pub fn latest_round(client: &ApiClient, suite_id: &Digest) -> Result<Option<u32>, OpsError> {
    let records = client.records(&format!("kind=round_opened&suite={suite_id}"))?;
    Ok(records
        .iter()
        .filter_map(|o| match o.record.body {
            Body::RoundOpened { round, .. } => Some(round),
            _ => None,
        })
        .max())
}

/// How a lab deviates from the harmonized procedure — for demonstrations and tests of
/// what the network detects. An honest lab uses the default (no deviation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Deviation {
    /// Judge verdicts with the suite's threshold moved this far towards passing, while
    /// still naming the suite's criterion (a misapplied criterion).
    pub lax_threshold: Option<f64>,
    /// Declare this re-run as a re-run of an earlier result.
    pub rerun_of: Option<RecordId>,
}

/// A lab's run: fetch the suite, run it with the engine, upload the per-sample evidence,
/// publish the signed result. Returns the record id and the result.
pub fn run_suite(
    client: &ApiClient,
    suite_id: &Digest,
    config: RunConfig,
    deviation: Deviation,
    progress: impl FnMut(Progress<'_>) + Send,
) -> Result<(RecordId, RunResult), OpsError> {
    // Before the long work: a node still catching up on its own chain cannot sign it.
    client.signing_ready()?;
    let suite = fetch_suite(client, suite_id)?;
    let mut out = interlab_suites::run(&suite, &config, progress)?;
    if let Some(shift) = deviation.lax_threshold {
        for t in &mut out.result.tests {
            let Some((_, c)) = suite.criteria().into_iter().find(|(id, _)| *id == t.test) else {
                continue;
            };
            let mut lax = c.clone();
            lax.threshold = match c.direction {
                interlab_protocol::Direction::AtLeast => c.threshold - shift,
                interlab_protocol::Direction::AtMost => c.threshold + shift,
            };
            if let Some(m) = t.measurements.iter().find(|m| m.metric == c.metric) {
                t.verdict = lax.verdict(m.mean);
            }
        }
    }
    out.result.rerun_of = deviation.rerun_of;
    for e in &out.evidence {
        client.upload(&e.bytes)?;
    }
    let v = client.publish(&Body::RunResult(out.result.clone()))?;
    let id = v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| OpsError::Unexpected("publish answer without id".into()))?;
    Ok((id, out.result))
}
