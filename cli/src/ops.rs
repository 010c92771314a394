//! Operator workflows over a node's API: publishing a suite with its artefacts, and a
//! lab's run of a published suite (fetch by hash, check digests, execute, publish).

use std::path::Path;

use interlab_protocol::{Body, Digest, RecordId, RunResult, SealedAnswers};
use interlab_suites::{Progress, RunConfig, Suite, SuiteError};

use interlab_node::client::{ApiClient, ClientError};

/// Why a workflow failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OpsError {
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
    /// A results file does not fit the suite; nothing was published.
    #[error("{0}; nothing was published")]
    Submission(#[from] interlab_suites::SubmissionError),
    /// A sealed-answers file is unusable; nothing was published.
    #[error("sealed answers: {0}; nothing was published")]
    Sealed(String),
}

/// The file `interlab suite seal` writes and the owner keeps private until the reveal.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealedFile {
    /// The commitment to put into the manifest.
    pub commitment: Digest,
    /// The item.
    pub item: String,
    /// The salt, hex.
    pub salt: String,
    /// The answers.
    pub answers: Vec<interlab_protocol::KnownAnswer>,
}

impl SealedFile {
    /// The file for `sealed`.
    pub(crate) fn of(sealed: &SealedAnswers) -> SealedFile {
        SealedFile {
            commitment: sealed.commitment(),
            item: sealed.item.clone(),
            salt: hex::encode(&sealed.salt),
            answers: sealed.answers.clone(),
        }
    }

    /// The answers, checked, and checked against the recorded commitment.
    pub(crate) fn sealed(&self) -> Result<SealedAnswers, OpsError> {
        let salt = hex::decode(&self.salt)
            .map_err(|e| OpsError::Sealed(format!("`salt` is not hex: {e}")))?;
        let s = SealedAnswers {
            item: self.item.clone(),
            salt,
            answers: self.answers.clone(),
        };
        s.check().map_err(|e| OpsError::Sealed(e.to_string()))?;
        if s.commitment() != self.commitment {
            return Err(OpsError::Sealed(format!(
                "the answers and salt hash to {}, not to the recorded commitment {}",
                s.commitment(),
                self.commitment
            )));
        }
        Ok(s)
    }
}

/// Checks a results file (`interlab-results/1`) against the published suite and, unless
/// `dry_run`, publishes it as the lab's run result. Returns the record id (none on a dry
/// run), the result and the suite it was checked against.
pub(crate) fn submit_results(
    client: &ApiClient,
    suite_id: &Digest,
    round: u32,
    results: &[u8],
    dry_run: bool,
) -> Result<(Option<RecordId>, RunResult, Suite), OpsError> {
    let submission = interlab_suites::Submission::from_json(results)?;
    let suite = fetch_suite(client, suite_id)?;
    let result = submission.to_run_result(&suite, round)?;
    if dry_run {
        return Ok((None, result, suite));
    }
    let v = client.publish(&Body::RunResult(result.clone()))?;
    Ok((Some(v.id), result, suite))
}

/// Publishes the owner's reveal of a sealed file's answers for `suite_id`.
pub(crate) fn reveal(
    client: &ApiClient,
    suite_id: &Digest,
    file: &SealedFile,
) -> Result<RecordId, OpsError> {
    let sealed = file.sealed()?;
    let suite_record = client
        .records(&format!("kind=suite_published&suite={suite_id}"))?
        .iter()
        .find(|o| matches!(&o.record.body, Body::SuitePublished { suite, .. } if suite == suite_id))
        .map(|o| o.id)
        .ok_or(OpsError::UnknownSuite(*suite_id))?;
    let v = client.publish(&Body::KnownAnswerReveal {
        suite: *suite_id,
        suite_record,
        sealed,
    })?;
    Ok(v.id)
}

/// Publishes the suite at `manifest` (artefacts first, by hash, then the signed record).
pub(crate) fn publish_suite(
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
    let id = client.publish(&body)?.id;
    Ok((suite.id(), id))
}

/// Fetches a published suite and its artefacts (by hash) through the node, and checks them.
pub(crate) fn fetch_suite(client: &ApiClient, suite_id: &Digest) -> Result<Suite, OpsError> {
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
pub(crate) fn latest_round(client: &ApiClient, suite_id: &Digest) -> Result<Option<u32>, OpsError> {
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
pub(crate) struct Deviation {
    /// Judge verdicts with the suite's threshold moved this far towards passing, while
    /// still naming the suite's criterion (a misapplied criterion).
    pub lax_threshold: Option<f64>,
    /// Declare this re-run as a re-run of an earlier result.
    pub rerun_of: Option<RecordId>,
}

/// A lab's run: fetch the suite, run it with the engine, upload the per-sample evidence,
/// publish the signed result. Returns the record id and the result.
pub(crate) fn run_suite(
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
    let id = client.publish(&Body::RunResult(out.result.clone()))?.id;
    Ok((id, out.result))
}
