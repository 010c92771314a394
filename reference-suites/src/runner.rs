//! Runs every test of a suite and fills the protocol's `RunResult`.
//!
//! A run is a pure function of (suite, model, seed, thread count, configuration): all
//! randomness comes from seeds derived from the run seed, the test id and the repetition,
//! work runs on a private rayon pool of the requested size, and nothing is published
//! unless every test finished and the result passed `RunResult::check`.

use interlab_protocol::{
    Deviation, Digest, Environment, EvidenceRef, Measurement, MeasurementError, Method, RunResult,
    Software, TestResult, domain,
};

use crate::{
    attacks::AttackError,
    data::DataError,
    evaluate::{self, Evaluated},
    manifest::TestSpec,
    model::{Model, ModelError},
    suite::Suite,
    tensor::Precision,
};

/// Most worker threads a run may use.
pub const MAX_THREADS: usize = 256;

/// Why a run did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A setting is invalid.
    #[error("run configuration: {0}")]
    Config(String),
    /// The model under test cannot be used.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An attack refused its parameters or failed.
    #[error("test {test:?}: {error}")]
    Attack {
        /// Test id.
        test: String,
        /// Cause.
        error: AttackError,
    },
    /// Test data named by the manifest is unusable.
    #[error("test {test:?}: {error}")]
    Data {
        /// Test id.
        test: String,
        /// Cause.
        error: DataError,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// Requested count.
        threads: usize,
        /// Cause.
        reason: String,
    },
    /// The result failed the protocol's check (a NaN metric …).
    #[error(transparent)]
    Invalid(#[from] MeasurementError),
}

/// How to run a suite. Defaults: the manifest's seed, one thread, the suite's model,
/// the manifest's ε, f32 gradients, round 0.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    seed: Option<u64>,
    threads: Option<usize>,
    model: Option<Vec<u8>>,
    eps: Option<f64>,
    precision: Precision,
    round: u32,
    only: Option<Vec<String>>,
}

impl RunConfig {
    /// The default configuration (see the type docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Run seed (default: the manifest's `seed`).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Worker threads, 1..=[`MAX_THREADS`] (default 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// A lab's own model (safetensors, or ONNX with the `onnx` feature) instead of the
    /// suite's; it is used by the evasion and privacy tests (poisoning tests retrain the
    /// suite's initial weights).
    pub fn with_model_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.model = Some(bytes);
        self
    }

    /// Replaces ε of every evasion test (an experiment: the result is then not a
    /// measurement of the published suite).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = Some(eps);
        self
    }

    /// Precision of input gradients (default f32).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Round number written into the result.
    pub fn with_round(mut self, round: u32) -> Self {
        self.round = round;
        self
    }

    /// Runs only the tests with these ids.
    pub fn with_only(mut self, tests: Vec<String>) -> Self {
        self.only = Some(tests);
        self
    }

    /// Threads the run will use.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or(1)
    }
}

/// Progress of a run, reported after each repetition of each test.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Test id being run.
    pub test: &'a str,
    /// Units done (one unit = one repetition of one test).
    pub done: u64,
    /// Units in the run.
    pub total: u64,
}

/// Per-sample evidence produced by a run, with the reference in the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Test id.
    pub test: String,
    /// Reference as it appears in the test result.
    pub reference: EvidenceRef,
    /// The bytes (little-endian numbers, row-major).
    pub bytes: Vec<u8>,
}

/// The outcome of a run: the result to sign and the evidence it references.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// The result (already checked with `RunResult::check`).
    pub result: RunResult,
    /// Evidence blobs, by digest in `result`.
    pub evidence: Vec<Evidence>,
}

/// Runs every test of `suite` under `config`, calling `progress` as it goes.
pub fn run(
    suite: &Suite,
    config: &RunConfig,
    mut progress: impl FnMut(Progress<'_>) + Send,
) -> Result<RunOutput, EngineError> {
    let threads = config.threads();
    if threads == 0 || threads > MAX_THREADS {
        return Err(EngineError::Config(format!(
            "threads = {threads} must be in 1..={MAX_THREADS}"
        )));
    }
    let (model, model_digest) = match &config.model {
        Some(bytes) => {
            let m = Model::from_bytes(bytes)?;
            (m, Digest::of(domain::ARTEFACT, bytes))
        }
        None => (suite.model().clone(), suite.model_digest()),
    };
    let data = suite.data();
    model.check_fits(data.features, data.classes)?;
    if let (Some(layout), true) = (&data.input_shape, model.input_shape().len() > 1) {
        // An image model must take the suite's layout ([h, w] means one channel).
        let want: Vec<usize> = match layout.as_slice() {
            [h, w] => vec![1, *h, *w],
            other => other.to_vec(),
        };
        model.check_data_shape(&want)?;
    }
    if let Some(eps) = config.eps {
        let width = f64::from(data.range.1 - data.range.0);
        crate::manifest::check_eps("eps override", eps, width)
            .map_err(|e| EngineError::Config(e.to_string()))?;
    }
    let seed = config.seed.unwrap_or(suite.manifest().seed);
    let tests: Vec<_> = suite
        .manifest()
        .tests
        .iter()
        .filter(|t| config.only.as_ref().is_none_or(|o| o.contains(&t.id)))
        .collect();
    if let Some(only) = &config.only
        && let Some(u) = only.iter().find(|o| !tests.iter().any(|t| &t.id == *o))
    {
        return Err(EngineError::Config(format!("the suite has no test {u:?}")));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| EngineError::Threads {
            threads,
            reason: e.to_string(),
        })?;
    // Units of work: each model test on each test item it applies to (or on the one
    // model when the suite lists no items or the lab brings its own), poisoning tests once.
    let manifest = suite.manifest();
    let per_item = config.model.is_none() && !manifest.items.is_empty();
    let mut units: Vec<(Option<usize>, &TestSpec)> = Vec::new();
    for t in &tests {
        if per_item && t.params.uses_model() {
            for (i, item) in manifest.items.iter().enumerate() {
                if manifest.item_tests(item).any(|id| id == t.id) {
                    units.push((Some(i), t));
                }
            }
        } else {
            units.push((None, t));
        }
    }
    let total: u64 = units.iter().map(|(_, t)| u64::from(t.repetitions)).sum();
    let evaluated: Vec<Evaluated> = pool.install(|| {
        let mut done = 0u64;
        let mut cache = evaluate::Cache::default();
        units
            .iter()
            .map(|(item, t)| {
                let unit_model = item
                    .and_then(|i| suite.item_model(i))
                    .map_or(&model, |(m, _)| m);
                let ctx = evaluate::Context {
                    suite,
                    model: unit_model,
                    seed,
                    precision: config.precision,
                    eps_override: config.eps,
                    members: item.and_then(|i| manifest.items[i].members.as_ref()),
                };
                evaluate::test(&ctx, t, &mut cache, &mut |_| {
                    done += 1;
                    progress(Progress {
                        test: &t.id,
                        done,
                        total,
                    });
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()
    })?;
    let mut results: Vec<TestResult> = Vec::with_capacity(evaluated.len());
    let mut evidence = Vec::new();
    for ((item, t), ev) in units.iter().zip(&evaluated) {
        let criterion = t.criterion.clone();
        let value = ev
            .measurements
            .iter()
            .find(|m| m.metric == criterion.metric)
            .map_or(f64::NAN, |m| m.mean);
        let mut refs = Vec::new();
        for (name, bytes) in &ev.evidence {
            let reference = EvidenceRef {
                name: name.clone(),
                digest: Digest::of(domain::ARTEFACT, bytes),
                size: bytes.len() as u64,
            };
            refs.push(reference.clone());
            evidence.push(Evidence {
                test: t.id.clone(),
                reference,
                bytes: bytes.clone(),
            });
        }
        let deviations = match (config.eps, t.params.eps()) {
            (Some(used), Some(harmonized)) if used != harmonized => vec![Deviation {
                param: "eps".into(),
                value: used.to_string(),
                harmonized: harmonized.to_string(),
            }],
            _ => Vec::new(),
        };
        results.push(TestResult {
            test: t.id.clone(),
            item: item.map(|i| manifest.items[i].id.clone()),
            measurements: ev.measurements.clone(),
            verdict: criterion.verdict(value),
            criterion: criterion.id(),
            evidence: refs,
            warnings: ev.warnings.clone(),
            deviations,
        });
    }
    masking_checks(&units, &mut results);
    let result = RunResult {
        suite: suite.id(),
        round: config.round,
        model: model_digest,
        seed,
        environment: environment(threads, config.precision),
        method: Method::Reference,
        tests: results,
        rerun_of: None,
    };
    result.check()?;
    Ok(RunOutput { result, evidence })
}

/// Gradient-masking check: a black-box test stronger than a white-box test at an ε no
/// larger than the white-box one.
fn masking_checks(units: &[(Option<usize>, &TestSpec)], results: &mut [TestResult]) {
    let ra = |r: &TestResult| -> Option<(f64, f64)> {
        r.measurements
            .iter()
            .find(|m| m.metric == "robust_accuracy")
            .map(|m: &Measurement| (m.mean, m.u))
    };
    let mut found = Vec::new();
    for (bi, (bitem, b)) in units.iter().enumerate() {
        let crate::manifest::TestParams::Square { eps: be, .. } = b.params else {
            continue;
        };
        for (wi, (witem, w)) in units.iter().enumerate() {
            if witem != bitem {
                continue;
            }
            let we = match w.params {
                crate::manifest::TestParams::Fgsm { eps }
                | crate::manifest::TestParams::Pgd { eps, .. } => eps,
                _ => continue,
            };
            if be > we {
                continue;
            }
            if let (Some((bacc, bu)), Some((wacc, wu))) = (ra(&results[bi]), ra(&results[wi]))
                && let Some(msg) =
                    crate::sanity::check_masking((&b.id, bacc, 2.0 * bu), (&w.id, wacc, 2.0 * wu))
            {
                found.push((bi, msg.clone()));
                found.push((wi, msg));
            }
        }
    }
    for (i, msg) in found {
        results[i].warnings.push(msg);
    }
}

fn environment(threads: usize, precision: Precision) -> Environment {
    let hardware = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    Environment {
        hardware,
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        software: vec![
            Software {
                name: "interlab-suites".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            Software {
                name: "candle-core".into(),
                version: "0.11.1".into(),
            },
        ],
        threads: u32::try_from(threads).unwrap_or(u32::MAX),
        executor: format!("interlab-suites/cpu-{}", precision.name()),
    }
}
