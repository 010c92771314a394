//! One ad-hoc evasion run outside a suite (what `interlab attack` does): a model, a data
//! file holding `x_test` (f32 [n, features] or [n, C, H, W] in [0, 1]) and `y_test` (i64
//! labels), one
//! attack with explicit settings.

use std::str::FromStr;

use crate::{
    attacks::{
        AttackError, EvasionOutcome,
        fgsm::fgsm,
        pgd::{PgdConfig, pgd},
        square::{Layout, SquareConfig, layout, square},
    },
    data::{DataError, DataFile, Split},
    model::{Model, ModelError},
    runner::MAX_THREADS,
    sanity,
    tensor::Precision,
    uncertainty::Rng,
};

/// Valid input range of ad-hoc data.
const RANGE: (f32, f32) = (0.0, 1.0);

/// Which evasion attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackKind {
    /// FGSM L∞.
    Fgsm,
    /// PGD L∞.
    Pgd,
    /// Square attack L∞.
    Square,
}

impl FromStr for AttackKind {
    type Err = AttackSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fgsm" => Ok(AttackKind::Fgsm),
            "pgd" => Ok(AttackKind::Pgd),
            "square" => Ok(AttackKind::Square),
            other => Err(AttackSpecError::UnknownAttack(other.into())),
        }
    }
}

impl AttackKind {
    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::Fgsm => "fgsm",
            AttackKind::Pgd => "pgd",
            AttackKind::Square => "square",
        }
    }
}

/// Why an ad-hoc attack did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackSpecError {
    /// Not fgsm, pgd or square.
    #[error("unknown attack {0:?} (expected fgsm, pgd or square)")]
    UnknownAttack(String),
    /// The model is refused.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The data is refused.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The attack refused its settings.
    #[error(transparent)]
    Attack(#[from] AttackError),
    /// Thread count.
    #[error("threads = {0} must be in 1..={MAX_THREADS}")]
    Threads(usize),
}

/// Settings of one ad-hoc attack.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackSpec {
    /// The attack.
    pub kind: AttackKind,
    /// ε (L∞ radius).
    pub eps: f32,
    /// PGD step α (default ε/4).
    pub step: Option<f32>,
    /// PGD steps (default 10) or Square query budget (default 1000).
    pub iterations: Option<u32>,
    /// PGD random start.
    pub random_start: bool,
    /// Seed of the random choices.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Gradient precision.
    pub precision: Precision,
}

/// Result of an ad-hoc attack.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackReport {
    /// Rows attacked.
    pub n: usize,
    /// Accuracy before the attack.
    pub clean_accuracy: f64,
    /// Accuracy after the attack.
    pub robust_accuracy: f64,
    /// Share of initially correct rows turned wrong.
    pub attack_success_rate: f64,
    /// Median queries of broken rows (Square only).
    pub median_queries: Option<f64>,
    /// Sanity-check findings.
    pub warnings: Vec<String>,
    /// Adversarial rows [n, features].
    pub x_adv: Vec<f32>,
    /// Predictions on the adversarial rows.
    pub adv_pred: Vec<u32>,
}

/// Reads `x_test` and `y_test` from a safetensors file, checked against the model.
pub fn load_eval_data(bytes: &[u8], model: &Model) -> Result<Split, AttackSpecError> {
    let file = DataFile::open(bytes)?;
    model.check_data_shape(&file.row_shape("x_test")?)?;
    let split = file.split("x_test", "y_test", model.classes(), RANGE)?;
    Ok(split)
}

/// Runs one attack on `data` with `model`.
pub fn attack(
    model: &Model,
    data: &Split,
    spec: &AttackSpec,
) -> Result<AttackReport, AttackSpecError> {
    if spec.threads == 0 || spec.threads > MAX_THREADS {
        return Err(AttackSpecError::Threads(spec.threads));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads)
        .build()
        .map_err(|_| AttackSpecError::Threads(spec.threads))?;
    pool.install(|| {
        let mut rng = Rng::new(spec.seed);
        let (x, y) = (&data.x, &data.y);
        let adv = match spec.kind {
            AttackKind::Fgsm => fgsm(model, x, y, spec.eps, RANGE, spec.precision)?,
            AttackKind::Pgd => pgd(
                model,
                x,
                y,
                PgdConfig {
                    eps: spec.eps,
                    step: spec.step.unwrap_or(spec.eps / 4.0),
                    iterations: spec.iterations.unwrap_or(10),
                    random_start: spec.random_start,
                },
                RANGE,
                spec.precision,
                &mut rng,
            )?,
            AttackKind::Square => square(
                model,
                x,
                y,
                SquareConfig {
                    eps: spec.eps,
                    max_queries: spec.iterations.unwrap_or(1000),
                    p_init: 0.8,
                    // An image model gives its layout; else a perfect square is
                    // taken as a grey image and anything else as flat features.
                    shape: match model.input_shape() {
                        [c, h, w] => Layout::Image(*c, *h, *w),
                        _ => layout(model.input_dim(), None)
                            .map_or(Layout::Flat, |(c, h, w)| Layout::Image(c, h, w)),
                    },
                },
                RANGE,
                &mut rng,
            )?,
        };
        let warnings = sanity::check_evasion(x, &adv, spec.eps, RANGE);
        let o = EvasionOutcome::score(model, x, y, adv)?;
        Ok(AttackReport {
            n: o.n,
            clean_accuracy: o.clean_accuracy(),
            robust_accuracy: o.robust_accuracy(),
            attack_success_rate: o.attack_success_rate(),
            median_queries: o.median_queries(),
            warnings,
            adv_pred: o.adv_pred.clone(),
            x_adv: o.adversarial.x_adv,
        })
    })
}
