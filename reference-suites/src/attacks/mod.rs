//! Evasion attacks (FGSM, PGD, Square) and their metrics.
//!
//! Each attack takes the rows, labels and valid range and returns adversarial rows plus
//! what the sanity checks need (gradient statistics, query counts). Metrics are computed
//! here once, the same way for every attack.

pub mod fgsm;
pub mod pgd;
pub mod square;

use crate::{
    model::{Model, ModelError},
    tensor,
};

/// Why an attack cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// ε not in (0, width of the valid range].
    #[error("eps {eps} is outside the valid range (0, {max}]")]
    Eps {
        /// The value.
        eps: f32,
        /// Largest allowed value.
        max: f32,
    },
    /// A parameter out of its range.
    #[error("{name} = {value} is invalid: {why}")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// Its value.
        value: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Checks ε against the valid input range.
pub(crate) fn check_eps(eps: f32, range: (f32, f32)) -> Result<(), AttackError> {
    let max = range.1 - range.0;
    if !(eps.is_finite() && eps > 0.0 && eps <= max) {
        return Err(AttackError::Eps { eps, max });
    }
    Ok(())
}

/// Input-gradient statistics gathered over all gradient evaluations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradStats {
    /// Gradient evaluations that were all zero for a row.
    pub zero_rows: usize,
    /// Gradient values that were NaN or infinite.
    pub non_finite: usize,
    /// Row-gradient evaluations in total.
    pub evaluations: usize,
}

impl GradStats {
    pub(crate) fn add(&mut self, g: &[f64], d: usize) {
        for row in g.chunks_exact(d) {
            self.evaluations += 1;
            if row.iter().all(|v| *v == 0.0) {
                self.zero_rows += 1;
            }
            self.non_finite += row.iter().filter(|v| !v.is_finite()).count();
        }
    }
}

/// What an evasion attack produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Adversarial {
    /// Adversarial rows [n, features].
    pub x_adv: Vec<f32>,
    /// Input-gradient statistics (empty for black-box attacks).
    pub grads: GradStats,
    /// Model queries per row (black-box attacks).
    pub queries: Option<Vec<u32>>,
}

/// Per-row outcome of an evasion attack and its summary metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct EvasionOutcome {
    /// Number of rows.
    pub n: usize,
    /// Clean prediction correct, per row.
    pub clean_correct: Vec<bool>,
    /// Adversarial prediction correct, per row.
    pub adv_correct: Vec<bool>,
    /// Predictions on the adversarial rows.
    pub adv_pred: Vec<u32>,
    /// The attack's output.
    pub adversarial: Adversarial,
}

impl EvasionOutcome {
    /// Scores adversarial rows against the labels.
    pub(crate) fn score(
        model: &Model,
        x: &[f32],
        y: &[u32],
        adversarial: Adversarial,
    ) -> Result<Self, ModelError> {
        let clean = tensor::predict(model, x)?;
        let adv_pred = tensor::predict(model, &adversarial.x_adv)?;
        Ok(EvasionOutcome {
            n: y.len(),
            clean_correct: clean.iter().zip(y).map(|(p, t)| p == t).collect(),
            adv_correct: adv_pred.iter().zip(y).map(|(p, t)| p == t).collect(),
            adv_pred,
            adversarial,
        })
    }

    /// Share of rows classified correctly before the attack.
    pub fn clean_accuracy(&self) -> f64 {
        share_all(&self.clean_correct)
    }

    /// Share of rows classified correctly after the attack.
    pub fn robust_accuracy(&self) -> f64 {
        share_all(&self.adv_correct)
    }

    /// Among rows correct before the attack, the share the attack turned wrong.
    pub fn attack_success_rate(&self) -> f64 {
        success_rate(&self.clean_correct, &self.adv_correct, None)
    }

    /// Median queries over rows the attack turned wrong (black-box only).
    pub fn median_queries(&self) -> Option<f64> {
        let q = self.adversarial.queries.as_ref()?;
        let mut v: Vec<u32> = (0..self.n)
            .filter(|&i| self.clean_correct[i] && !self.adv_correct[i])
            .map(|i| q[i])
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let m = v.len();
        Some(if m % 2 == 1 {
            f64::from(v[m / 2])
        } else {
            (f64::from(v[m / 2 - 1]) + f64::from(v[m / 2])) / 2.0
        })
    }
}

fn share_all(flags: &[bool]) -> f64 {
    if flags.is_empty() {
        return 0.0;
    }
    flags.iter().filter(|&&b| b).count() as f64 / flags.len() as f64
}

/// Attack success rate over `idx` rows (all rows when `None`).
pub(crate) fn success_rate(clean: &[bool], adv: &[bool], idx: Option<&[usize]>) -> f64 {
    let (mut c, mut s) = (0usize, 0usize);
    let mut visit = |i: usize| {
        if clean[i] {
            c += 1;
            if !adv[i] {
                s += 1;
            }
        }
    };
    match idx {
        Some(idx) => idx.iter().for_each(|&i| visit(i)),
        None => (0..clean.len()).for_each(&mut visit),
    }
    if c == 0 { 0.0 } else { s as f64 / c as f64 }
}

/// The digits suite's trained model and first test rows, for the attack unit tests.
#[cfg(test)]
pub(crate) fn digits_fixture(rows: usize) -> (Model, Vec<f32>, Vec<u32>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/digits-mlp");
    let model =
        Model::from_bytes(&std::fs::read(dir.join("mlp_trained.safetensors")).unwrap()).unwrap();
    let data = std::fs::read(dir.join("data.safetensors")).unwrap();
    let test = crate::data::DataFile::open(&data)
        .unwrap()
        .split("x_test", "y_test", 10, (0.0, 1.0))
        .unwrap();
    let d = model.input_dim();
    (model, test.x[..rows * d].to_vec(), test.y[..rows].to_vec())
}
