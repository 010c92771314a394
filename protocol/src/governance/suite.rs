//! What governance reads from a published suite manifest: the tests with their criteria
//! and declared x_pt/σ_pt, and the test items with their sealed known answers. The
//! manifest's full format belongs to the engine (`interlab-suites`); this view decodes
//! only these fields, so that the protocol needs no engine to compute a report.

use serde::Deserialize;

use crate::{
    Criterion, Digest,
    stats::{ConsensusMethod, SigmaPt},
};

/// How a test declares its assigned value in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AssignedDecl {
    /// The participants' robust consensus.
    Consensus {
        /// The estimator.
        method: ConsensusMethod,
    },
    /// The scheme owner's run of the reference implementation in the same round.
    Reference,
}

/// x_pt and σ_pt declared for one metric of a test.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricAssessment {
    /// The metric.
    pub metric: String,
    /// How x_pt is set (an item with a sealed known answer overrides it).
    pub assigned: AssignedDecl,
    /// How σ_pt is set.
    pub sigma_pt: SigmaPt,
}

/// A test as governance sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteTest {
    /// Test id.
    pub id: String,
    /// Harmonized acceptance criterion.
    pub criterion: Criterion,
    /// Declared x_pt/σ_pt per metric (empty: none declared).
    pub assessment: Vec<MetricAssessment>,
}

/// A test item as governance sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteItem {
    /// Item id.
    pub id: String,
    /// Commitment to the item's known answers ([`crate::SealedAnswers::commitment`]).
    pub known_answer: Option<Digest>,
}

/// The parts of a manifest that governance uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteView {
    /// Tests in manifest order.
    pub tests: Vec<SuiteTest>,
    /// Test items in manifest order.
    pub items: Vec<SuiteItem>,
}

#[derive(Deserialize)]
struct RawManifest {
    tests: Vec<RawTest>,
    #[serde(default)]
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
struct RawTest {
    id: String,
    criterion: Criterion,
    #[serde(default)]
    assessment: Vec<MetricAssessment>,
}

#[derive(Deserialize)]
struct RawItem {
    id: String,
    #[serde(default)]
    known_answer: Option<Digest>,
}

impl SuiteView {
    /// Reads the view from a manifest's canonical CBOR.
    pub fn from_manifest(manifest: &[u8]) -> Result<SuiteView, String> {
        let m: RawManifest = ciborium::de::from_reader_with_recursion_limit(manifest, 64)
            .map_err(|e| crate::cbor::describe(&e))?;
        Ok(SuiteView {
            tests: m
                .tests
                .into_iter()
                .map(|t| SuiteTest {
                    id: t.id,
                    criterion: t.criterion,
                    assessment: t.assessment,
                })
                .collect(),
            items: m
                .items
                .into_iter()
                .map(|i| SuiteItem {
                    id: i.id,
                    known_answer: i.known_answer,
                })
                .collect(),
        })
    }

    /// The criteria by test.
    pub fn criteria(&self) -> Vec<(String, Criterion)> {
        self.tests
            .iter()
            .map(|t| (t.id.clone(), t.criterion.clone()))
            .collect()
    }
}
