//! Suite manifests: a versioned TOML format (`format = "interlab-suite/1"`), checked
//! field by field, with a canonical byte form that names the suite.
//!
//! Canonical bytes: the manifest parsed into [`Manifest`] and encoded as the protocol's
//! canonical CBOR (fields in declaration order, shortest integers, lossless floats). The
//! suite id is BLAKE3 of these bytes in `domain::SUITE`. Comments, whitespace, key order
//! and number spelling in the TOML therefore do not change the id; every value does.
//! Peers receive the canonical bytes (`SuitePublished.manifest`) and decode them with
//! [`Manifest::from_canonical`], which accepts only bytes that re-encode identically.

use std::collections::BTreeMap;

use interlab_protocol::{ArtefactRef, Criterion, Digest, domain, governance::MetricAssessment};
use serde::{Deserialize, Serialize};

use crate::{
    fields::{check_id, check_path, check_recipe},
    item::ItemSpec,
};

/// The manifest format this engine reads.
pub const FORMAT: &str = "interlab-suite/1";
/// Largest manifest accepted (TOML text or canonical bytes).
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;
/// Most tests in one suite.
const MAX_TESTS: usize = 256;
/// Most repetitions of one test.
const MAX_REPETITIONS: u32 = 100;

/// Why a manifest is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Over [`MAX_MANIFEST_BYTES`].
    #[error("manifest is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not valid TOML for this format (message from the parser, with the location).
    #[error("malformed manifest: {0}")]
    Malformed(String),
    /// Not canonical CBOR of a manifest.
    #[error("manifest bytes are not canonical: {0}")]
    NotCanonical(String),
    /// Another format version.
    #[error("manifest format {found:?} is not supported (expected {FORMAT:?})")]
    Format {
        /// The declared format.
        found: String,
    },
    /// A field with a value it may not have.
    #[error("manifest field {field}: {problem}")]
    Invalid {
        /// Path of the field (e.g. `tests[2].params.eps`).
        field: String,
        /// What is wrong, with the value.
        problem: String,
    },
}

/// A content-addressed file of the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtefactSpec {
    /// Path relative to the manifest's folder.
    pub path: String,
    /// BLAKE3 of the file in `domain::ARTEFACT`.
    pub blake3: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// The item under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Artefact holding the model (safetensors, or ONNX with the `onnx` feature).
    pub artefact: String,
}

/// The suite's labelled data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Artefact holding the tensors (safetensors).
    pub artefact: String,
    /// Training rows (members, for privacy tests).
    pub x_train: String,
    /// Training labels.
    pub y_train: String,
    /// Test rows.
    pub x_test: String,
    /// Test labels.
    pub y_test: String,
    /// Class count.
    pub classes: u32,
    /// Valid range of every feature, [lo, hi].
    pub range: [f64; 2],
    /// Image layout of a row, `[h, w]` or `[c, h, w]` (used by the Square attack).
    #[serde(default)]
    pub input_shape: Option<Vec<u32>>,
}

/// A tensor inside an artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorRef {
    /// Artefact name.
    pub artefact: String,
    /// Tensor name in that safetensors file.
    pub tensor: String,
}

/// A retraining recipe (Adam, mean cross-entropy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeSpec {
    /// Artefact with the initial weights (PyTorch-layout MLP).
    pub init: String,
    /// Optimizer steps.
    pub steps: u32,
    /// Learning rate.
    pub lr: f64,
    /// Adam β₁, β₂.
    pub betas: [f64; 2],
    /// Adam ε.
    pub eps: f64,
    /// Mini-batch size; absent for full batch.
    #[serde(default)]
    pub batch_size: Option<u32>,
}

/// What a test does, with its parameters (`kind` selects the variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TestParams {
    /// FGSM L∞.
    Fgsm {
        /// ε.
        eps: f64,
    },
    /// PGD L∞.
    Pgd {
        /// ε.
        eps: f64,
        /// Step α.
        step: f64,
        /// Steps.
        iterations: u32,
        /// Random start in the ε-ball.
        #[serde(default)]
        random_start: bool,
        /// Runs per row (each from its own random start); a row is robust only if it
        /// survives all. Absent means one run (and is left out of the canonical bytes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restarts: Option<u32>,
    },
    /// Square attack L∞.
    Square {
        /// ε.
        eps: f64,
        /// Query budget per row.
        max_queries: u32,
        /// Initial share of pixels per proposal.
        p_init: f64,
    },
    /// Backdoor poisoning.
    Backdoor {
        /// Training rows that get the trigger and the target label.
        rows: TensorRef,
        /// Flat feature indices the trigger sets.
        trigger_pixels: Vec<u32>,
        /// Value the trigger writes.
        trigger_value: f64,
        /// Target label.
        target: u32,
        /// Retraining recipe.
        recipe: RecipeSpec,
    },
    /// Label-flipping poisoning.
    LabelFlip {
        /// Training rows whose labels change.
        rows: TensorRef,
        /// New labels: one per training row (read at `rows`) or one per entry of `rows`.
        labels: TensorRef,
        /// Retraining recipe.
        recipe: RecipeSpec,
    },
    /// Loss-threshold membership inference (members: train rows, non-members: test rows).
    MiaLoss {},
    /// Rule-based membership inference (member ⇔ classified correctly).
    MiaRule {},
    /// Model inversion by gradient ascent on class confidence.
    Inversion {
        /// Ascent steps.
        iterations: u32,
        /// Step size.
        step: f64,
        /// Value of the blank start.
        start: f64,
    },
}

impl TestParams {
    /// Kind name as written in manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            TestParams::Fgsm { .. } => "fgsm",
            TestParams::Pgd { .. } => "pgd",
            TestParams::Square { .. } => "square",
            TestParams::Backdoor { .. } => "backdoor",
            TestParams::LabelFlip { .. } => "label-flip",
            TestParams::MiaLoss {} => "mia-loss",
            TestParams::MiaRule {} => "mia-rule",
            TestParams::Inversion { .. } => "inversion",
        }
    }

    /// The metrics this kind of test reports (the criterion must name one).
    pub fn metrics(&self) -> &'static [&'static str] {
        match self {
            TestParams::Fgsm { .. } | TestParams::Pgd { .. } => {
                &["robust_accuracy", "attack_success_rate", "clean_accuracy"]
            }
            TestParams::Square { .. } => &[
                "robust_accuracy",
                "attack_success_rate",
                "median_queries",
                "clean_accuracy",
            ],
            TestParams::Backdoor { .. } => &[
                "attack_success_rate",
                "clean_accuracy",
                "clean_accuracy_drop",
            ],
            TestParams::LabelFlip { .. } => &["clean_accuracy", "clean_accuracy_drop"],
            TestParams::MiaLoss {} => &[
                "auc",
                "tpr_at_fpr_1pct",
                "tpr_at_fpr_0_1pct",
                "max_advantage",
            ],
            TestParams::MiaRule {} => &["accuracy", "balanced_accuracy", "advantage"],
            TestParams::Inversion { .. } => {
                &["mean_similarity", "identification_rate", "mean_confidence"]
            }
        }
    }

    /// ε of an evasion test.
    pub fn eps(&self) -> Option<f64> {
        match self {
            TestParams::Fgsm { eps }
            | TestParams::Pgd { eps, .. }
            | TestParams::Square { eps, .. } => Some(*eps),
            _ => None,
        }
    }
}

/// One test of the suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// Unique id (letters, digits, `.`, `_`, `-`).
    pub id: String,
    /// Repetitions (each with its own derived seed).
    pub repetitions: u32,
    /// Acceptance criterion.
    pub criterion: Criterion,
    /// What to run.
    pub params: TestParams,
    /// x_pt and σ_pt declared per metric (ISO 13528 §7–8; see `docs/statistics.md`).
    #[serde(default)]
    pub assessment: Vec<MetricAssessment>,
}

/// A suite manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Suite name.
    pub name: String,
    /// Suite version.
    pub version: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Default seed of a run.
    pub seed: u64,
    /// Files by name.
    pub artefacts: BTreeMap<String, ArtefactSpec>,
    /// The reference item under test (used when the suite lists no items).
    pub model: ModelSpec,
    /// Test items: every model test runs on each (empty: on `model` only).
    #[serde(default)]
    pub items: Vec<ItemSpec>,
    /// The data.
    pub data: DataSpec,
    /// The tests, run in this order.
    pub tests: Vec<TestSpec>,
}

impl Manifest {
    /// Parses and checks TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                len: text.len(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        // Read the format first, so that another version gets a clear answer.
        if let Ok(v) = text.parse::<toml::Table>()
            && let Some(f) = v.get("format").and_then(|f| f.as_str())
            && f != FORMAT
        {
            return Err(ManifestError::Format { found: f.into() });
        }
        let m: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    /// Decodes canonical bytes (as published in a `SuitePublished` record) and checks them.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m: Manifest = interlab_protocol::from_slice_canonical(bytes, MAX_MANIFEST_BYTES)
            .map_err(|e| ManifestError::NotCanonical(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    /// The canonical bytes (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        interlab_protocol::to_canonical_vec(self)
    }

    /// The artefacts as the protocol names them (path, digest, size).
    pub fn artefact_refs(&self) -> Vec<ArtefactRef> {
        self.artefacts
            .values()
            .map(|a| ArtefactRef {
                path: a.path.clone(),
                digest: a.blake3,
                size: a.size,
            })
            .collect()
    }

    /// The suite id: BLAKE3 of the canonical bytes in `domain::SUITE`.
    pub fn id(&self) -> Digest {
        Digest::of(domain::SUITE, &self.canonical_bytes())
    }

    /// Checks every rule the types cannot express.
    pub fn check(&self) -> Result<(), ManifestError> {
        let bad = |field: String, problem: String| Err(ManifestError::Invalid { field, problem });
        if self.format != FORMAT {
            return Err(ManifestError::Format {
                found: self.format.clone(),
            });
        }
        for (f, v) in [("name", &self.name), ("version", &self.version)] {
            if v.is_empty() || v.len() > 128 {
                return bad(f.into(), format!("{v:?} must have 1 to 128 characters"));
            }
        }
        for (name, a) in &self.artefacts {
            check_id(&format!("artefacts.{name}"), name)?;
            check_path(&format!("artefacts.{name}.path"), &a.path)?;
        }
        let artefact = |field: &str, name: &str| -> Result<(), ManifestError> {
            if self.artefacts.contains_key(name) {
                Ok(())
            } else {
                Err(ManifestError::Invalid {
                    field: field.into(),
                    problem: format!("names artefact {name:?}, which the manifest does not list"),
                })
            }
        };
        artefact("model.artefact", &self.model.artefact)?;
        artefact("data.artefact", &self.data.artefact)?;
        let d = &self.data;
        if d.classes < 2 || d.classes > 100_000 {
            return bad(
                "data.classes".into(),
                format!("{} must be in 2..=100000", d.classes),
            );
        }
        let [lo, hi] = d.range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return bad(
                "data.range".into(),
                format!("[{lo}, {hi}] must be finite with lo < hi"),
            );
        }
        if self.tests.is_empty() || self.tests.len() > MAX_TESTS {
            return bad(
                "tests".into(),
                format!("{} tests; must be 1..={MAX_TESTS}", self.tests.len()),
            );
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, t) in self.tests.iter().enumerate() {
            let at = |f: &str| format!("tests[{i}].{f}");
            check_id(&at("id"), &t.id)?;
            if !ids.insert(t.id.as_str()) {
                return bad(at("id"), format!("{:?} appears more than once", t.id));
            }
            if t.repetitions == 0 || t.repetitions > MAX_REPETITIONS {
                return bad(
                    at("repetitions"),
                    format!("{} must be in 1..={MAX_REPETITIONS}", t.repetitions),
                );
            }
            if !t.params.metrics().contains(&t.criterion.metric.as_str()) {
                return bad(
                    at("criterion.metric"),
                    format!(
                        "{:?} is not a metric of a {} test (one of {:?})",
                        t.criterion.metric,
                        t.params.kind(),
                        t.params.metrics()
                    ),
                );
            }
            if !t.criterion.threshold.is_finite() {
                return bad(at("criterion.threshold"), "must be a finite number".into());
            }
            self.check_params(&at("params"), &t.params)?;
            match &t.params {
                TestParams::Backdoor { rows, recipe, .. } => {
                    artefact(&at("params.rows.artefact"), &rows.artefact)?;
                    artefact(&at("params.recipe.init"), &recipe.init)?;
                }
                TestParams::LabelFlip {
                    rows,
                    labels,
                    recipe,
                } => {
                    artefact(&at("params.rows.artefact"), &rows.artefact)?;
                    artefact(&at("params.labels.artefact"), &labels.artefact)?;
                    artefact(&at("params.recipe.init"), &recipe.init)?;
                }
                _ => {}
            }
        }
        self.check_items()
    }

    fn check_params(&self, at: &str, p: &TestParams) -> Result<(), ManifestError> {
        let bad = |f: &str, problem: String| {
            Err(ManifestError::Invalid {
                field: format!("{at}.{f}"),
                problem,
            })
        };
        let width = self.data.range[1] - self.data.range[0];
        if let Some(eps) = p.eps() {
            check_eps(&format!("{at}.eps"), eps, width)?;
        }
        match p {
            TestParams::Pgd {
                step,
                iterations,
                random_start,
                restarts,
                ..
            } => {
                if !(step.is_finite() && *step > 0.0) {
                    return bad("step", format!("{step} must be a positive number"));
                }
                if *iterations == 0 || *iterations > 100_000 {
                    return bad("iterations", format!("{iterations} must be in 1..=100000"));
                }
                if let Some(r) = restarts {
                    let max = crate::attacks::pgd::MAX_RESTARTS;
                    if *r == 0 || *r > max {
                        return bad("restarts", format!("{r} must be in 1..={max}"));
                    }
                    if *r > 1 && !random_start {
                        return bad(
                            "restarts",
                            format!(
                                "{r} restarts need random_start = true (without it every restart is the same run)"
                            ),
                        );
                    }
                }
            }
            TestParams::Square {
                max_queries,
                p_init,
                ..
            } => {
                if *max_queries == 0 || *max_queries > 1_000_000 {
                    return bad(
                        "max_queries",
                        format!("{max_queries} must be in 1..=1000000"),
                    );
                }
                if !(*p_init > 0.0 && *p_init <= 1.0) {
                    return bad("p_init", format!("{p_init} must be in (0, 1]"));
                }
            }
            TestParams::Backdoor {
                trigger_pixels,
                trigger_value,
                target,
                recipe,
                ..
            } => {
                if trigger_pixels.is_empty() {
                    return bad("trigger_pixels", "must name at least one feature".into());
                }
                let [lo, hi] = self.data.range;
                if !(*trigger_value >= lo && *trigger_value <= hi) {
                    return bad(
                        "trigger_value",
                        format!("{trigger_value} is outside [{lo}, {hi}]"),
                    );
                }
                if *target >= self.data.classes {
                    return bad(
                        "target",
                        format!("{target} is not a class of 0..{}", self.data.classes),
                    );
                }
                check_recipe(&format!("{at}.recipe"), recipe)?;
            }
            TestParams::LabelFlip { recipe, .. } => check_recipe(&format!("{at}.recipe"), recipe)?,
            TestParams::Inversion {
                iterations,
                step,
                start,
            } => {
                if *iterations > 100_000 {
                    return bad("iterations", format!("{iterations} must be at most 100000"));
                }
                if !(step.is_finite() && *step > 0.0) {
                    return bad("step", format!("{step} must be a positive number"));
                }
                if !start.is_finite() {
                    return bad("start", format!("{start} must be finite"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// ε must lie in (0, width of the valid range].
pub(crate) fn check_eps(field: &str, eps: f64, width: f64) -> Result<(), ManifestError> {
    if !(eps.is_finite() && eps > 0.0 && eps <= width) {
        return Err(ManifestError::Invalid {
            field: field.into(),
            problem: format!("eps {eps} is outside the valid range (0, {width}]"),
        });
    }
    Ok(())
}
