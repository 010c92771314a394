//! What a lab measured: the run result that the suite engine fills and the network compares.
//!
//! Floats are IEEE doubles in CBOR (ciborium writes the shortest lossless width); every
//! one must be finite, which [`RunResult::check`] enforces before a record is signed or
//! accepted.

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, RecordId, domain};

/// Which side of the threshold passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Pass when the metric is at least the threshold (e.g. robust accuracy).
    AtLeast,
    /// Pass when the metric is at most the threshold (e.g. attack success rate).
    AtMost,
}

/// An acceptance criterion for one metric. Its hash names it in every verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// The metric the criterion reads (e.g. `robust_accuracy`).
    pub metric: String,
    /// The threshold.
    pub threshold: f64,
    /// Which side passes.
    pub direction: Direction,
}

impl Criterion {
    /// The verdict this criterion gives on a measured value.
    pub fn verdict(&self, value: f64) -> Verdict {
        let pass = match self.direction {
            Direction::AtLeast => value >= self.threshold,
            Direction::AtMost => value <= self.threshold,
        };
        if pass { Verdict::Pass } else { Verdict::Fail }
    }

    /// The criterion's id: BLAKE3 of its canonical CBOR in the criterion domain.
    pub fn id(&self) -> Digest {
        Digest::of(domain::CRITERION, &crate::cbor::to_vec(self))
    }
}

/// A lab's verdict on one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The item meets the acceptance criterion.
    Pass,
    /// The item does not.
    Fail,
}

/// One software component and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// Component name (e.g. `candle-core`).
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Where and how the lab executed the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// CPU / accelerator description.
    pub hardware: String,
    /// Operating system.
    pub os: String,
    /// Software components and versions.
    pub software: Vec<Software>,
    /// Worker threads used by the engine.
    pub threads: u32,
    /// Executor name (e.g. `interlab-suites/cpu-f32`).
    pub executor: String,
}

/// A content-addressed piece of per-sample evidence (scores, adversarial rows …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvidenceRef {
    /// What it is (e.g. `adversarial_rows`, `scores`).
    pub name: String,
    /// BLAKE3 digest in the artefact domain.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// The measurement of one metric of one test, with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// The metric (e.g. `robust_accuracy`).
    pub metric: String,
    /// One value per repetition.
    pub values: Vec<f64>,
    /// Mean of the repetitions: the reported value.
    pub mean: f64,
    /// Standard uncertainty u.
    pub u: f64,
    /// Expanded uncertainty U = k·u.
    pub expanded: f64,
    /// Coverage factor k.
    pub k: f64,
}

/// A parameter of a test that the lab ran otherwise than the suite prescribes. A result
/// with deviations is shown, and scored, but is not pooled with the conforming ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The parameter (e.g. `eps`, `iterations`).
    pub param: String,
    /// The value the lab used.
    pub value: String,
    /// The value the suite prescribes.
    pub harmonized: String,
}

/// How a result was computed: with Interlab's reference engine or a declared tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The reference implementation (`interlab-suites`).
    Reference,
    /// Another tool (IBM ART, Foolbox, the lab's own code …).
    Tool {
        /// Its name.
        name: String,
        /// Its version.
        version: String,
    },
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Reference => f.write_str("reference engine"),
            Method::Tool { name, version } => write!(f, "{name} {version}"),
        }
    }
}

/// A lab's result for one test of the suite, on one test item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// Test id as named in the suite manifest.
    pub test: String,
    /// The test item (manifest `items[].id`) the test ran on; `None` for tests that do not
    /// take an item (poisoning tests retrain the suite's own initial weights).
    pub item: Option<String>,
    /// Metrics measured (the criterion's metric among them).
    pub measurements: Vec<Measurement>,
    /// The lab's own verdict.
    pub verdict: Verdict,
    /// Id ([`Criterion::id`]) of the criterion the lab says it applied.
    pub criterion: Digest,
    /// Per-sample evidence, by digest, so that a peer can re-score it.
    pub evidence: Vec<EvidenceRef>,
    /// Sanity-check findings (empty when all checks passed).
    pub warnings: Vec<String>,
    /// Parameters run otherwise than the suite prescribes (empty: conforming).
    pub deviations: Vec<Deviation>,
}

impl TestResult {
    /// The measurand name of `metric` in this test: `item/test/metric`, or `test/metric`
    /// for a test without an item.
    pub fn measurand(&self, metric: &str) -> String {
        match &self.item {
            Some(item) => format!("{item}/{}/{metric}", self.test),
            None => format!("{}/{metric}", self.test),
        }
    }
}

/// A lab's signed result of running a suite in a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    /// Suite id (BLAKE3 of the manifest's canonical bytes).
    pub suite: Digest,
    /// Round number (as opened by the scheme owner).
    pub round: u32,
    /// Digest of the model weights under test.
    pub model: Digest,
    /// Seed the lab ran with.
    pub seed: u64,
    /// Execution environment.
    pub environment: Environment,
    /// The reference engine or the declared tool that computed the results.
    pub method: Method,
    /// Per-test results.
    pub tests: Vec<TestResult>,
    /// A re-run of an earlier (e.g. disputed) result.
    pub rerun_of: Option<RecordId>,
}

/// A run result that cannot be signed or accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MeasurementError {
    /// NaN or infinity somewhere.
    #[error("test {test:?} metric {metric:?}: {field} is not a finite number")]
    NotFinite {
        /// Test id.
        test: String,
        /// Metric name.
        metric: String,
        /// Which field.
        field: &'static str,
    },
    /// A measurement with no repetition values.
    #[error("test {test:?} metric {metric:?} has no values")]
    NoValues {
        /// Test id.
        test: String,
        /// Metric name.
        metric: String,
    },
    /// Uncertainty below zero.
    #[error("test {test:?} metric {metric:?}: uncertainty {value} is negative")]
    NegativeUncertainty {
        /// Test id.
        test: String,
        /// Metric name.
        metric: String,
        /// The value.
        value: f64,
    },
    /// The same test id twice (on the same item).
    #[error("test {0} appears more than once")]
    DuplicateTest(String),
    /// A result without tests.
    #[error("the run result has no tests")]
    Empty,
}

impl RunResult {
    /// Checks that every number is finite, uncertainties are non-negative and test ids unique.
    pub fn check(&self) -> Result<(), MeasurementError> {
        if self.tests.is_empty() {
            return Err(MeasurementError::Empty);
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.tests {
            if !seen.insert((t.item.as_deref(), t.test.as_str())) {
                return Err(MeasurementError::DuplicateTest(match &t.item {
                    Some(item) => format!("{} on item {item}", t.test),
                    None => t.test.clone(),
                }));
            }
            for m in &t.measurements {
                let err = |field| MeasurementError::NotFinite {
                    test: t.test.clone(),
                    metric: m.metric.clone(),
                    field,
                };
                if m.values.is_empty() {
                    return Err(MeasurementError::NoValues {
                        test: t.test.clone(),
                        metric: m.metric.clone(),
                    });
                }
                if m.values.iter().any(|v| !v.is_finite()) {
                    return Err(err("a repetition value"));
                }
                for (field, v) in [
                    ("mean", m.mean),
                    ("u", m.u),
                    ("expanded", m.expanded),
                    ("k", m.k),
                ] {
                    if !v.is_finite() {
                        return Err(err(field));
                    }
                }
                if m.u < 0.0 || m.expanded < 0.0 {
                    return Err(MeasurementError::NegativeUncertainty {
                        test: t.test.clone(),
                        metric: m.metric.clone(),
                        value: m.u.min(m.expanded),
                    });
                }
            }
        }
        Ok(())
    }

    /// The measurement of `metric` in test `test` (on the first item that has it), if
    /// present.
    pub fn measurement(&self, test: &str, metric: &str) -> Option<&Measurement> {
        self.tests
            .iter()
            .find(|t| t.test == test)?
            .measurements
            .iter()
            .find(|m| m.metric == metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_gives_verdicts_on_both_sides() {
        let c = Criterion {
            metric: "robust_accuracy".into(),
            threshold: 0.5,
            direction: Direction::AtLeast,
        };
        assert_eq!(c.verdict(0.5), Verdict::Pass);
        assert_eq!(c.verdict(0.49), Verdict::Fail);
        let c2 = Criterion {
            direction: Direction::AtMost,
            ..c.clone()
        };
        assert_eq!(c2.verdict(0.49), Verdict::Pass);
        assert_ne!(c.id(), c2.id());
    }
}
