//! Interlab reference suites and the deterministic engine that runs them.
//!
//! A suite is a versioned TOML manifest (see `docs/suites.md`) plus content-addressed
//! artefacts: data, the reference model, initial weights and poisoning inputs. The engine
//! runs its tests — evasion (FGSM, PGD, Square), poisoning (backdoor, label flip) and
//! privacy (membership inference, model inversion) — on CPU with candle, and fills the
//! protocol's [`RunResult`](interlab_protocol::RunResult): per metric the repetition
//! values, the mean, a bootstrap standard uncertainty and the expanded uncertainty.
//! A run is bit-identical for the same suite, model, seed, thread count and settings.
//!
//! The stable surface the node uses:
//! - [`Suite::load`] (a manifest file and its folder) and [`Suite::from_parts`] (canonical
//!   manifest bytes + an artefact resolver, for suites fetched over the network); both
//!   verify every artefact's BLAKE3 digest (`domain::ARTEFACT`) and size first.
//! - [`Suite::id`], [`Suite::criteria`], [`Suite::canonical_bytes`], [`Suite::artefact_refs`].
//! - [`run`] with a [`RunConfig`] (seed, threads, a lab's own model, an ε override,
//!   gradient [`Precision`], round) and a progress callback → [`RunOutput`].
//! - [`attack`] for one ad-hoc evasion run (what `interlab attack` calls).
//! - [`items`]: the recipes that build the digits suite's test items (adversarially
//!   trained, overfitted, known-answer backdoor) and the figures they measure.
//!
//! ```no_run
//! use interlab_suites::{RunConfig, Suite, run};
//!
//! let suite = Suite::load("reference-suites/suites/digits-mlp/suite.toml")?;
//! let config = RunConfig::new().with_threads(2);
//! let out = run(&suite, &config, |p| eprintln!("{} {}/{}", p.test, p.done, p.total))?;
//! for t in &out.result.tests {
//!     println!("{}: {:?}", t.test, t.verdict);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unreachable_pub, missing_docs)]

pub mod attacks;
pub mod credit;
mod data;
mod evaluate;
mod fields;
mod graph;
mod item;
pub mod items;
mod manifest;
mod model;
mod onnx;
mod poisoning;
pub mod privacy;
mod runner;
mod sanity;
mod single;
mod submission;
mod suite;
mod tensor;
mod train;
mod uncertainty;

pub use data::{DataError, Dataset, MAX_DATA_BYTES, Split};
pub use graph::spec::{LayerSpec, MAX_SPEC_BYTES, SequentialSpec};
pub use item::ItemSpec;
pub use manifest::{
    ArtefactSpec, DataSpec, FORMAT, MAX_MANIFEST_BYTES, Manifest, ManifestError, ModelSpec,
    RecipeSpec, TensorRef, TestParams, TestSpec,
};
pub use model::{MAX_MODEL_BYTES, Model, ModelError};
pub use onnx::SUPPORTED_OPS;
pub use poisoning::{PoisonOutcome, Trigger};
pub use runner::{EngineError, Evidence, MAX_THREADS, Progress, RunConfig, RunOutput, run};
pub use sanity::{check_evasion, check_masking};
pub use single::{AttackKind, AttackReport, AttackSpec, AttackSpecError, attack, load_eval_data};
pub use submission::{
    MAX_SUBMISSION_BYTES, SUBMISSION_FORMAT, Submission, SubmissionError, SubmittedEnvironment,
    SubmittedMetric, SubmittedTest, Tool,
};
pub use suite::{ArtefactRequest, Suite, SuiteError};
pub use tensor::Precision;
pub use train::Recipe;
pub use uncertainty::{BOOTSTRAP_RESAMPLES, COVERAGE_K, Rng, derive_seed};
