//! Do laboratories apply the harmonized acceptance criterion? Each lab's reported
//! verdicts are compared with the verdict the criterion gives on its own measurements,
//! and the threshold the lab actually seems to use is estimated from its verdicts.

use serde::{Deserialize, Serialize};

use crate::{Criterion, Verdict};

/// One measurement with the verdict the lab reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judged {
    /// Measured value.
    pub value: f64,
    /// Reported verdict.
    pub verdict: Verdict,
    /// Round, if known.
    pub round: Option<u64>,
}

/// A reported verdict the harmonized criterion disagrees with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disagreement {
    /// Measured value.
    pub value: f64,
    /// What the lab reported.
    pub reported: Verdict,
    /// What the harmonized criterion gives.
    pub harmonized: Verdict,
    /// Round, if known.
    pub round: Option<u64>,
}

/// Agreement of one lab's verdicts with the harmonized criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agreement {
    /// Verdicts compared.
    pub n: usize,
    /// Share that agree (`None` when `n` is 0).
    pub rate: Option<f64>,
    /// The disagreements, in input order.
    pub disagreements: Vec<Disagreement>,
}

/// Compares reported verdicts with `criterion` applied to the same values.
pub fn agreement(judged: &[Judged], criterion: &Criterion) -> Agreement {
    let mut disagreements = Vec::new();
    for j in judged {
        let harmonized = criterion.verdict(j.value);
        if harmonized != j.verdict {
            disagreements.push(Disagreement {
                value: j.value,
                reported: j.verdict,
                harmonized,
                round: j.round,
            });
        }
    }
    let n = judged.len();
    let rate = (n > 0).then(|| (n - disagreements.len()) as f64 / n as f64);
    Agreement {
        n,
        rate,
        disagreements,
    }
}

/// The acceptance threshold a lab's verdicts imply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ImpliedThreshold {
    /// Logistic fit P(pass | x) = 1/(1 + e^−(β₀ + β₁x)); x₅₀ = −β₀/β₁ with its
    /// delta-method standard error.
    Logistic {
        /// Intercept β₀.
        beta0: f64,
        /// Slope β₁ (positive: higher values pass).
        beta1: f64,
        /// x₅₀ = −β₀/β₁, the value judged pass and fail equally often.
        x50: f64,
        /// Delta-method standard error of x₅₀.
        se: f64,
    },
    /// The verdicts separate perfectly: any threshold in (lower, upper) explains them;
    /// no finite logistic fit exists.
    Separated {
        /// The lower end: largest value on the low side.
        lower: f64,
        /// The upper end: smallest value on the high side.
        upper: f64,
        /// Which side passes.
        passing_side: PassingSide,
    },
    /// All verdicts equal, or too few values: nothing can be said.
    Undetermined {
        /// Why.
        reason: String,
    },
}

/// Which side of the implied threshold passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PassingSide {
    /// Values above pass.
    Above,
    /// Values below pass.
    Below,
}

/// Estimates the threshold implied by `judged` (values must be finite).
pub fn implied_threshold(judged: &[Judged]) -> ImpliedThreshold {
    let passes: Vec<f64> = judged
        .iter()
        .filter(|j| j.verdict == Verdict::Pass)
        .map(|j| j.value)
        .collect();
    let fails: Vec<f64> = judged
        .iter()
        .filter(|j| j.verdict == Verdict::Fail)
        .map(|j| j.value)
        .collect();
    if passes.is_empty() || fails.is_empty() {
        return ImpliedThreshold::Undetermined {
            reason: format!(
                "{} pass and {} fail verdicts: no boundary to locate",
                passes.len(),
                fails.len()
            ),
        };
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    if max(&fails) <= min(&passes) {
        return ImpliedThreshold::Separated {
            lower: max(&fails),
            upper: min(&passes),
            passing_side: PassingSide::Above,
        };
    }
    if max(&passes) <= min(&fails) {
        return ImpliedThreshold::Separated {
            lower: max(&passes),
            upper: min(&fails),
            passing_side: PassingSide::Below,
        };
    }
    logistic(judged)
}

/// Newton–Raphson (IRLS) maximum likelihood on centred and scaled x, mapped back.
fn logistic(judged: &[Judged]) -> ImpliedThreshold {
    let n = judged.len() as f64;
    let mean = judged.iter().map(|j| j.value).sum::<f64>() / n;
    let sd = (judged.iter().map(|j| (j.value - mean).powi(2)).sum::<f64>() / n).sqrt();
    if sd <= 0.0 {
        return ImpliedThreshold::Undetermined {
            reason: "all values equal".into(),
        };
    }
    let (mut a, mut b) = (0.0f64, 0.0f64);
    let mut info = [0.0; 3];
    for _ in 0..100 {
        let (mut g0, mut g1) = (0.0, 0.0);
        info = [0.0; 3];
        for j in judged {
            let t = (j.value - mean) / sd;
            let pr = 1.0 / (1.0 + (-(a + b * t)).exp());
            let y = if j.verdict == Verdict::Pass { 1.0 } else { 0.0 };
            let w = pr * (1.0 - pr);
            g0 += y - pr;
            g1 += (y - pr) * t;
            info[0] += w;
            info[1] += w * t;
            info[2] += w * t * t;
        }
        let det = info[0] * info[2] - info[1] * info[1];
        if !(det.is_finite() && det > 0.0) {
            return ImpliedThreshold::Undetermined {
                reason: "singular information matrix".into(),
            };
        }
        let da = (info[2] * g0 - info[1] * g1) / det;
        let db = (info[0] * g1 - info[1] * g0) / det;
        a += da;
        b += db;
        if da.abs() < 1e-12 && db.abs() < 1e-12 {
            break;
        }
    }
    let det = info[0] * info[2] - info[1] * info[1];
    if b == 0.0
        || det.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || !a.is_finite()
        || !b.is_finite()
    {
        return ImpliedThreshold::Undetermined {
            reason: "the fit has no slope: verdicts do not depend on the value".into(),
        };
    }
    // Covariance of (a, b) is the inverse information; t50 = −a/b, gradient (−1/b, a/b²).
    let (vaa, vab, vbb) = (info[2] / det, -info[1] / det, info[0] / det);
    let (ga, gb) = (-1.0 / b, a / (b * b));
    let var_t = ga * ga * vaa + 2.0 * ga * gb * vab + gb * gb * vbb;
    let t50 = -a / b;
    let x50 = mean + sd * t50;
    let se = sd * var_t.max(0.0).sqrt();
    let beta1 = b / sd;
    let beta0 = a - beta1 * mean;
    if ![x50, se, beta0, beta1].iter().all(|v| v.is_finite()) {
        return ImpliedThreshold::Undetermined {
            reason: "the fit did not converge to finite values".into(),
        };
    }
    ImpliedThreshold::Logistic {
        beta0,
        beta1,
        x50,
        se,
    }
}
