//! Results computed outside the engine (IBM ART, Foolbox, a lab's own code), as a JSON
//! file a lab submits with `interlab submit`: checked field by field against the suite,
//! then turned into the same signed run result the engine produces, naming the tool.
//!
//! The format is documented in `docs/suites.md` ("Results from any tool"). Parameters a
//! lab states are compared with the suite's: any difference becomes a declared deviation,
//! so that the result is scored but not pooled with the conforming ones.

use interlab_protocol::{
    Deviation, Digest, Environment, Measurement, Method, RunResult, Software, TestResult, Verdict,
};
use serde::{Deserialize, Serialize};

use crate::{manifest::TestParams, suite::Suite, uncertainty::COVERAGE_K};

/// The format name of a results file.
pub const SUBMISSION_FORMAT: &str = "interlab-results/1";
/// Largest results file read.
pub const MAX_SUBMISSION_BYTES: usize = 4 << 20;

/// A results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Always [`SUBMISSION_FORMAT`].
    pub format: String,
    /// The tool that computed the results.
    pub tool: Tool,
    /// Where it ran.
    pub environment: SubmittedEnvironment,
    /// Seed the lab used, if its tool takes one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// One entry per item and test.
    pub results: Vec<SubmittedTest>,
}

/// Tool name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// E.g. `adversarial-robustness-toolbox`.
    pub name: String,
    /// E.g. `1.20.1`.
    pub version: String,
}

/// The environment a tool ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedEnvironment {
    /// CPU / accelerator.
    pub hardware: String,
    /// Operating system.
    pub os: String,
    /// Frameworks and their versions (e.g. torch 2.5.1).
    #[serde(default)]
    pub software: Vec<Software>,
    /// Threads used.
    #[serde(default = "one")]
    pub threads: u32,
}

fn one() -> u32 {
    1
}

/// The lab's result for one test on one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedTest {
    /// The item id (absent for poisoning tests, which take no item).
    #[serde(default)]
    pub item: Option<String>,
    /// The test id.
    pub test: String,
    /// The parameters the tool used, by the manifest's names (`eps`, `step`,
    /// `iterations`, `max_queries`, `p_init`); any that differs from the suite's is a
    /// deviation.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, f64>,
    /// Other deviations from the harmonized method, in words.
    #[serde(default)]
    pub deviations: Vec<String>,
    /// The metrics measured (the criterion's metric among them).
    pub metrics: Vec<SubmittedMetric>,
    /// The lab's verdict (`pass`/`fail`); absent: the suite's criterion applied to the
    /// mean.
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

/// One metric: its repetition values and uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedMetric {
    /// Metric name as the suite names it.
    pub metric: String,
    /// One value per repetition.
    pub values: Vec<f64>,
    /// Standard uncertainty u of the mean.
    #[serde(default)]
    pub u: Option<f64>,
    /// Expanded uncertainty U (with `k`).
    #[serde(default, rename = "U")]
    pub big_u: Option<f64>,
    /// Coverage factor of `U`.
    #[serde(default)]
    pub k: Option<f64>,
}

/// Why a results file is refused; `field` is a path like `results[2].metrics[0].u`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmissionError {
    /// Not JSON of this format.
    #[error("the results file is not valid: {0}")]
    Malformed(String),
    /// Over [`MAX_SUBMISSION_BYTES`].
    #[error("the results file has {0} bytes, over the limit of {MAX_SUBMISSION_BYTES}")]
    TooLarge(usize),
    /// A field with a value it may not have.
    #[error("{field}: {problem}")]
    Invalid {
        /// Where.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> SubmissionError {
    SubmissionError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

impl Submission {
    /// Parses a results file (strict: unknown fields are refused).
    pub fn from_json(bytes: &[u8]) -> Result<Submission, SubmissionError> {
        if bytes.len() > MAX_SUBMISSION_BYTES {
            return Err(SubmissionError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| SubmissionError::Malformed(e.to_string()))
    }

    /// Checks the file against `suite` and builds the run result for `round`.
    pub fn to_run_result(&self, suite: &Suite, round: u32) -> Result<RunResult, SubmissionError> {
        if self.format != SUBMISSION_FORMAT {
            return Err(invalid(
                "format",
                format!("{:?} is not {SUBMISSION_FORMAT:?}", self.format),
            ));
        }
        for (field, v) in [
            ("tool.name", &self.tool.name),
            ("tool.version", &self.tool.version),
            ("environment.hardware", &self.environment.hardware),
            ("environment.os", &self.environment.os),
        ] {
            if v.trim().is_empty() || v.len() > 256 {
                return Err(invalid(field, "must have 1 to 256 characters"));
            }
        }
        if self.tool.name.eq_ignore_ascii_case("interlab-suites") {
            return Err(invalid(
                "tool.name",
                "results of the reference engine are published with `interlab run`",
            ));
        }
        if self.results.is_empty() {
            return Err(invalid("results", "holds no result"));
        }
        let manifest = suite.manifest();
        let mut tests = Vec::with_capacity(self.results.len());
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.results.iter().enumerate() {
            let at = |f: &str| format!("results[{i}].{f}");
            let spec = manifest
                .tests
                .iter()
                .find(|t| t.id == r.test)
                .ok_or_else(|| {
                    invalid(at("test"), format!("the suite has no test {:?}", r.test))
                })?;
            match (&r.item, spec.params.uses_model()) {
                (Some(item), true) => {
                    let Some(it) = manifest.items.iter().find(|x| &x.id == item) else {
                        return Err(invalid(
                            at("item"),
                            format!(
                                "the suite has no item {item:?} (items: {})",
                                manifest
                                    .items
                                    .iter()
                                    .map(|x| x.id.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    };
                    if !manifest.item_tests(it).any(|t| t == r.test) {
                        return Err(invalid(
                            at("item"),
                            format!("test {:?} does not run on item {item:?}", r.test),
                        ));
                    }
                }
                (None, true) if !manifest.items.is_empty() => {
                    return Err(invalid(
                        at("item"),
                        format!("test {:?} runs on items: name the item", r.test),
                    ));
                }
                (Some(_), false) => {
                    return Err(invalid(
                        at("item"),
                        format!("{:?} is a poisoning test and takes no item", r.test),
                    ));
                }
                _ => {}
            }
            if !seen.insert((r.item.clone(), r.test.clone())) {
                return Err(invalid(at("test"), "this item and test appear twice"));
            }
            let deviations = deviations(&format!("results[{i}]"), &spec.params, r)?;
            let mut measurements = Vec::with_capacity(r.metrics.len());
            let mut metric_names = std::collections::BTreeSet::new();
            for (j, m) in r.metrics.iter().enumerate() {
                let at = |f: &str| format!("results[{i}].metrics[{j}].{f}");
                if !spec.params.metrics().contains(&m.metric.as_str()) {
                    return Err(invalid(
                        at("metric"),
                        format!(
                            "{:?} is not a metric of test {} (one of {})",
                            m.metric,
                            spec.id,
                            spec.params.metrics().join(", ")
                        ),
                    ));
                }
                if !metric_names.insert(m.metric.as_str()) {
                    return Err(invalid(at("metric"), "appears twice in this test"));
                }
                measurements.push(measurement(&at, m)?);
            }
            let Some(main) = measurements
                .iter()
                .find(|m| m.metric == spec.criterion.metric)
            else {
                return Err(invalid(
                    at("metrics"),
                    format!(
                        "the criterion's metric {:?} is missing",
                        spec.criterion.metric
                    ),
                ));
            };
            let verdict = r
                .verdict
                .unwrap_or_else(|| spec.criterion.verdict(main.mean));
            tests.push(TestResult {
                test: r.test.clone(),
                item: r.item.clone(),
                measurements,
                verdict,
                criterion: spec.criterion.id(),
                evidence: Vec::new(),
                warnings: Vec::new(),
                deviations,
            });
        }
        let model = match manifest.items.len() {
            0 => suite.model_digest(),
            _ => item_digest(suite, &self.results),
        };
        let result = RunResult {
            suite: suite.id(),
            round,
            model,
            seed: self.seed.unwrap_or(0),
            environment: Environment {
                hardware: self.environment.hardware.clone(),
                os: self.environment.os.clone(),
                software: self.environment.software.clone(),
                threads: self.environment.threads,
                executor: format!("{} {}", self.tool.name, self.tool.version),
            },
            method: Method::Tool {
                name: self.tool.name.clone(),
                version: self.tool.version.clone(),
            },
            tests,
            rerun_of: None,
        };
        result
            .check()
            .map_err(|e| SubmissionError::Malformed(e.to_string()))?;
        Ok(result)
    }
}

/// The digest of the first item named (a run result names one model; the items are
/// named per test).
fn item_digest(suite: &Suite, results: &[SubmittedTest]) -> Digest {
    let m = suite.manifest();
    results
        .iter()
        .find_map(|r| {
            let i = m
                .items
                .iter()
                .position(|x| Some(&x.id) == r.item.as_ref())?;
            suite.item_model(i).map(|(_, d)| d)
        })
        .unwrap_or_else(|| suite.model_digest())
}

fn measurement(
    at: &dyn Fn(&str) -> String,
    m: &SubmittedMetric,
) -> Result<Measurement, SubmissionError> {
    if m.values.is_empty() || m.values.len() > 1000 {
        return Err(invalid(
            at("values"),
            "must hold 1 to 1000 repetition values",
        ));
    }
    if let Some(v) = m.values.iter().find(|v| !v.is_finite()) {
        return Err(invalid(at("values"), format!("{v} is not a finite number")));
    }
    let mean = m.values.iter().sum::<f64>() / m.values.len() as f64;
    let finite_nonneg = |name: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(invalid(
                at(name),
                format!("{v} must be a finite number at or above zero"),
            ))
        }
    };
    let (u, expanded, k) = match (m.u, m.big_u, m.k) {
        (_, Some(big), Some(k)) => {
            let big = finite_nonneg("U", big)?;
            if !(k.is_finite() && k > 0.0) {
                return Err(invalid(at("k"), format!("{k} must be above zero")));
            }
            let u = big / k;
            if let Some(given) = m.u {
                let given = finite_nonneg("u", given)?;
                if (given - u).abs() > 1e-9 * given.max(u) {
                    return Err(invalid(
                        at("u"),
                        format!("{given} contradicts U/k = {big}/{k} = {u}"),
                    ));
                }
            }
            (u, big, k)
        }
        (_, Some(_), None) => return Err(invalid(at("k"), "U is given without k")),
        (Some(u), None, None) => {
            let u = finite_nonneg("u", u)?;
            (u, COVERAGE_K * u, COVERAGE_K)
        }
        (_, None, Some(_)) => return Err(invalid(at("U"), "k is given without U")),
        (None, None, None) => {
            return Err(invalid(
                at("u"),
                "a result needs its uncertainty: u, or U with k",
            ));
        }
    };
    Ok(Measurement {
        metric: m.metric.clone(),
        values: m.values.clone(),
        mean,
        u,
        expanded,
        k,
    })
}

/// Stated parameters against the suite's; each difference and each stated deviation
/// becomes a [`Deviation`].
fn deviations(
    at: &str,
    params: &TestParams,
    r: &SubmittedTest,
) -> Result<Vec<Deviation>, SubmissionError> {
    let harmonized: Vec<(&str, f64)> = match params {
        TestParams::Fgsm { eps } => vec![("eps", *eps)],
        TestParams::Pgd {
            eps,
            step,
            iterations,
            ..
        } => vec![
            ("eps", *eps),
            ("step", *step),
            ("iterations", f64::from(*iterations)),
        ],
        TestParams::Square {
            eps,
            max_queries,
            p_init,
        } => vec![
            ("eps", *eps),
            ("max_queries", f64::from(*max_queries)),
            ("p_init", *p_init),
        ],
        TestParams::Inversion {
            iterations, step, ..
        } => vec![("iterations", f64::from(*iterations)), ("step", *step)],
        _ => vec![],
    };
    let mut out = Vec::new();
    for (name, used) in &r.parameters {
        let Some((_, h)) = harmonized.iter().find(|(n, _)| n == name) else {
            return Err(invalid(
                format!("{at}.parameters.{name}"),
                format!(
                    "test {} has no parameter {name:?} (it has: {})",
                    r.test,
                    harmonized
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !used.is_finite() {
            return Err(invalid(
                format!("{at}.parameters.{name}"),
                "must be a finite number",
            ));
        }
        if (used - h).abs() > 1e-12 * h.abs().max(1.0) {
            out.push(Deviation {
                param: name.clone(),
                value: used.to_string(),
                harmonized: h.to_string(),
            });
        }
    }
    for (j, d) in r.deviations.iter().enumerate() {
        if d.trim().is_empty() || d.len() > 1024 {
            return Err(invalid(
                format!("{at}.deviations[{j}]"),
                "must have 1 to 1024 characters",
            ));
        }
        out.push(Deviation {
            param: "method".into(),
            value: d.clone(),
            harmonized: "as the suite prescribes".into(),
        });
    }
    Ok(out)
}
