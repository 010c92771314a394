//! Robust location and scale (ISO 13528:2022 Annex C): median, MADe, nIQR, Algorithm A,
//! Algorithm S. They give an assigned value and spread that a few wild laboratories
//! cannot drag away. The Q method / Hampel estimator lives in `qhampel.rs`.

use serde::{Deserialize, Serialize};

use super::critical::{chi2_cdf, chi2_quantile};

/// ISO 13528 factor turning a median absolute deviation into a standard deviation.
pub const MADE_FACTOR: f64 = 1.483;
/// R's `mad()` factor (1/Φ⁻¹(3/4) to four decimals), used by metRology to start Algorithm A.
pub const R_MAD_FACTOR: f64 = 1.4826;
/// ISO 13528 factor turning an interquartile range into a standard deviation.
pub const NIQR_FACTOR: f64 = 0.7413;
/// ISO 13528 Algorithm A consistency factor (rounded).
pub const ISO_HUBER_FACTOR: f64 = 1.134;
/// Huber's constant: values beyond x* ± 1.5 s* are pulled in.
pub const HUBER_K: f64 = 1.5;

/// Why a robust statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RobustError {
    /// No values at all.
    #[error("no values")]
    Empty,
    /// A value is NaN or infinite.
    #[error("value {index} is not finite: {value}")]
    NonFinite {
        /// Position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A parameter is out of range.
    #[error("bad parameter {name}: {value}")]
    BadParameter {
        /// Which parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
}

pub(crate) fn check_finite(x: &[f64]) -> Result<(), RobustError> {
    if x.is_empty() {
        return Err(RobustError::Empty);
    }
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(RobustError::NonFinite {
            index,
            value: x[index],
        }),
        None => Ok(()),
    }
}

fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// The median.
pub fn median(x: &[f64]) -> Result<f64, RobustError> {
    check_finite(x)?;
    Ok(median_sorted(&sorted(x)))
}

/// Median absolute deviation from the median, unscaled.
pub fn mad(x: &[f64]) -> Result<f64, RobustError> {
    let m = median(x)?;
    let dev: Vec<f64> = x.iter().map(|v| (v - m).abs()).collect();
    median(&dev)
}

/// MADe = 1.483 · median|xᵢ − med(x)| (ISO 13528:2022 C.2.2).
pub fn made(x: &[f64]) -> Result<f64, RobustError> {
    Ok(MADE_FACTOR * mad(x)?)
}

/// Median, MADe and nIQR together, sorting once (what a report needs).
pub fn median_made_niqr(x: &[f64]) -> Result<(f64, f64, f64), RobustError> {
    check_finite(x)?;
    let s = sorted(x);
    let m = median_sorted(&s);
    let mut dev: Vec<f64> = s.iter().map(|v| (v - m).abs()).collect();
    dev.sort_unstable_by(f64::total_cmp);
    let q1 = quantile_type7_sorted(&s, 0.25).ok_or(RobustError::Empty)?;
    let q3 = quantile_type7_sorted(&s, 0.75).ok_or(RobustError::Empty)?;
    Ok((
        m,
        MADE_FACTOR * median_sorted(&dev),
        NIQR_FACTOR * (q3 - q1),
    ))
}

/// Sample quantile, R type 7 (linear interpolation between order statistics at
/// h = (n − 1)·prob), on sorted data.
pub fn quantile_type7_sorted(s: &[f64], prob: f64) -> Option<f64> {
    if s.is_empty() || !(0.0..=1.0).contains(&prob) {
        return None;
    }
    let h = (s.len() - 1) as f64 * prob;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    Some(s[lo] + (h - lo as f64) * (s[hi] - s[lo]))
}

/// nIQR = 0.7413 · (Q₃ − Q₁), quartiles as R type 7 (ISO 13528:2022 C.2.3).
pub fn niqr(x: &[f64]) -> Result<f64, RobustError> {
    check_finite(x)?;
    let s = sorted(x);
    let q1 = quantile_type7_sorted(&s, 0.25).ok_or(RobustError::Empty)?;
    let q3 = quantile_type7_sorted(&s, 0.75).ok_or(RobustError::Empty)?;
    Ok(NIQR_FACTOR * (q3 - q1))
}

/// Arithmetic mean and sample standard deviation (n − 1); the SD is `None` for n < 2.
pub fn mean_sd(x: &[f64]) -> Option<(f64, Option<f64>)> {
    if x.is_empty() {
        return None;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return Some((mean, None));
    }
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    Some((mean, Some((ss / (n - 1.0)).sqrt())))
}

/// Rounds to three significant figures (0 stays 0).
pub fn round_sig3(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let e = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(2 - e);
    (v * scale).round() / scale
}

/// The consistency factor of Algorithm A.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HuberFactor {
    /// 1.134, as printed in ISO 13528.
    Iso,
    /// 1/√β with β = E[ψ²] for Huber's ψ at k = 1.5 (1.133393), as metRology and
    /// MASS::hubers use.
    Exact,
}

impl HuberFactor {
    /// The factor's value.
    pub fn value(self) -> f64 {
        match self {
            Self::Iso => ISO_HUBER_FACTOR,
            Self::Exact => exact_huber_factor(HUBER_K),
        }
    }
}

/// 1/√β, β = 2Φ(k) − 1 − 2kφ(k) + 2k²(1 − Φ(k)): makes Huber proposal 2 consistent for
/// the standard deviation of a normal distribution.
pub fn exact_huber_factor(k: f64) -> f64 {
    use statrs::distribution::{Continuous, ContinuousCDF, Normal};
    let n = Normal::standard();
    let (cdf, pdf) = (n.cdf(k), n.pdf(k));
    let beta = 2.0 * cdf - 1.0 - 2.0 * k * pdf + 2.0 * k * k * (1.0 - cdf);
    1.0 / beta.sqrt()
}

/// When an iterative estimator stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Stopping {
    /// ISO 13528:2022 C.3.1: stop when the third significant figure of both estimates
    /// no longer changes from one iteration to the next.
    IsoThreeFigures,
    /// Stop when the scale changes by less than `tol` times its previous value and the
    /// location by less than `tol` times the previous scale (metRology's rule; its
    /// default `tol` is `f64::EPSILON.powf(0.25)`).
    Converge {
        /// Relative tolerance.
        tol: f64,
    },
}

impl Stopping {
    /// metRology's default: converge with tol = ε^¼ ≈ 1.22e-4.
    pub fn metrology_default() -> Self {
        Self::Converge {
            tol: f64::EPSILON.powf(0.25),
        }
    }

    fn done(self, (x0, s0): (f64, f64), (x1, s1): (f64, f64)) -> bool {
        match self {
            Self::IsoThreeFigures => {
                round_sig3(x0) == round_sig3(x1) && round_sig3(s0) == round_sig3(s1)
            }
            Self::Converge { tol } => (s1 - s0).abs() < tol * s0 && (x1 - x0).abs() < tol * s0,
        }
    }
}

/// How Algorithm A starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StartScale {
    /// MADe with 1.483 (ISO 13528).
    Iso,
    /// R's `mad()` with 1.4826 (metRology).
    R,
}

/// Settings of Algorithm A.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlgorithmAConfig {
    /// Consistency factor.
    pub factor: HuberFactor,
    /// Stopping rule.
    pub stopping: Stopping,
    /// Start scale.
    pub start: StartScale,
    /// Largest number of iterations.
    pub max_iter: usize,
}

impl Default for AlgorithmAConfig {
    /// ISO 13528:2022 as printed: factor 1.134, three-figure rule, MADe start, at most
    /// 100 iterations.
    fn default() -> Self {
        Self::iso()
    }
}

impl AlgorithmAConfig {
    /// ISO 13528:2022 as printed (factor 1.134, three-figure rule, MADe start).
    pub fn iso() -> Self {
        Self {
            factor: HuberFactor::Iso,
            stopping: Stopping::IsoThreeFigures,
            start: StartScale::Iso,
            max_iter: 100,
        }
    }

    /// Converge to a relative tolerance of 1e-13 with the exact factor 1.133393.
    pub fn converge() -> Self {
        Self {
            factor: HuberFactor::Exact,
            stopping: Stopping::Converge { tol: 1e-13 },
            start: StartScale::Iso,
            max_iter: 1000,
        }
    }

    /// metRology 0.9-29 `algA()` defaults (exact factor, R `mad()` start,
    /// tol = ε^¼, at most 25 iterations).
    pub fn metrology() -> Self {
        Self {
            factor: HuberFactor::Exact,
            stopping: Stopping::metrology_default(),
            start: StartScale::R,
            max_iter: 25,
        }
    }
}

/// The result of Algorithm A.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlgorithmA {
    /// Robust mean x*.
    pub x: f64,
    /// Robust standard deviation s*.
    pub s: f64,
    /// Number of update steps taken.
    pub iterations: usize,
    /// Whether the stopping rule was met (false: stopped at `max_iter`, or s* = 0).
    pub converged: bool,
    /// (x*, s*) at the start and after each step.
    pub trace: Vec<(f64, f64)>,
    /// u(x_pt) = 1.25 · s* / √p (ISO 13528:2022 C.3.3 / 7.7.3).
    pub u_x_pt: f64,
}

/// Algorithm A (ISO 13528:2022 C.3.1): start at the median and a MAD-based scale, then
/// repeatedly winsorize at x* ± 1.5 s*, set x* to the mean and s* to factor × SD (n − 1)
/// of the winsorized values.
///
/// If the start scale is 0 (more than half the values equal) the nIQR is used, then the
/// sample SD; if that is 0 too, every value is equal and the answer is x* = that value,
/// s* = 0, no iterations.
pub fn algorithm_a(x: &[f64], cfg: &AlgorithmAConfig) -> Result<AlgorithmA, RobustError> {
    check_finite(x)?;
    if cfg.max_iter == 0 {
        return Err(RobustError::BadParameter {
            name: "max_iter",
            value: 0.0,
        });
    }
    let p = x.len() as f64;
    let s_sorted = sorted(x);
    let mut xs = median_sorted(&s_sorted);
    let madv = {
        let mut dev: Vec<f64> = x.iter().map(|v| (v - xs).abs()).collect();
        dev.sort_unstable_by(f64::total_cmp);
        median_sorted(&dev)
    };
    let mut ss = match cfg.start {
        StartScale::Iso => MADE_FACTOR * madv,
        StartScale::R => R_MAD_FACTOR * madv,
    };
    if ss == 0.0 {
        let q1 = quantile_type7_sorted(&s_sorted, 0.25).unwrap_or(xs);
        let q3 = quantile_type7_sorted(&s_sorted, 0.75).unwrap_or(xs);
        ss = NIQR_FACTOR * (q3 - q1);
    }
    if ss == 0.0 {
        ss = mean_sd(x).and_then(|(_, sd)| sd).unwrap_or(0.0);
    }
    let mut trace = vec![(xs, ss)];
    if ss == 0.0 || x.len() < 2 {
        return Ok(AlgorithmA {
            x: xs,
            s: 0.0,
            iterations: 0,
            converged: false,
            trace,
            u_x_pt: 0.0,
        });
    }
    let factor = cfg.factor.value();
    let mut converged = false;
    let mut iterations = 0;
    while iterations < cfg.max_iter {
        let delta = HUBER_K * ss;
        let (lo, hi) = (xs - delta, xs + delta);
        let mut sum = 0.0;
        for &v in x {
            sum += v.clamp(lo, hi);
        }
        let mean = sum / p;
        let mut ssq = 0.0;
        for &v in x {
            let d = v.clamp(lo, hi) - mean;
            ssq += d * d;
        }
        let s_new = factor * (ssq / (p - 1.0)).sqrt();
        iterations += 1;
        let stop = cfg.stopping.done((xs, ss), (mean, s_new));
        xs = mean;
        ss = s_new;
        trace.push((xs, ss));
        if stop || ss == 0.0 {
            converged = stop;
            break;
        }
    }
    Ok(AlgorithmA {
        x: xs,
        s: ss,
        iterations,
        converged,
        trace,
        u_x_pt: 1.25 * ss / p.sqrt(),
    })
}

/// The result of Algorithm S.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlgorithmS {
    /// Robust pooled standard deviation (or range) w*.
    pub w: f64,
    /// Limit factor η = √(χ²₀.₉(ν)/ν).
    pub eta: f64,
    /// Adjustment factor ξ = 1/√(P(χ²_{ν+2} ≤ νη²) + η²·P(χ²_ν > νη²)).
    pub xi: f64,
    /// Number of update steps.
    pub iterations: usize,
    /// Whether the stopping rule was met.
    pub converged: bool,
}

/// Algorithm S (ISO 13528:2022 C.4): robust pooled value of standard deviations or
/// ranges `w`, each with `nu` degrees of freedom (ν = 1 for ranges of duplicates). The
/// constants η and ξ are computed from χ² (ISO Table C.1 prints them rounded).
pub fn algorithm_s(
    w: &[f64],
    nu: f64,
    stopping: Stopping,
    max_iter: usize,
) -> Result<AlgorithmS, RobustError> {
    check_finite(w)?;
    if !(nu.is_finite() && nu > 0.0) {
        return Err(RobustError::BadParameter {
            name: "nu",
            value: nu,
        });
    }
    let bad = |_| RobustError::BadParameter {
        name: "nu",
        value: nu,
    };
    let eta = (chi2_quantile(0.9, nu).map_err(bad)? / nu).sqrt();
    let c = nu * eta * eta;
    let ratio =
        chi2_cdf(c, nu + 2.0).map_err(bad)? + eta * eta * (1.0 - chi2_cdf(c, nu).map_err(bad)?);
    let xi = 1.0 / ratio.sqrt();
    let p = w.len() as f64;
    let mut ws = median(w)?;
    let mut iterations = 0;
    let mut converged = false;
    while ws > 0.0 && iterations < max_iter {
        let psi = eta * ws;
        let ssq: f64 = w.iter().map(|v| v.min(psi).powi(2)).sum();
        let new = xi * (ssq / p).sqrt();
        iterations += 1;
        let stop = match stopping {
            Stopping::IsoThreeFigures => round_sig3(new) == round_sig3(ws),
            Stopping::Converge { tol } => (new - ws).abs() < tol * ws,
        };
        ws = new;
        if stop {
            converged = true;
            break;
        }
    }
    Ok(AlgorithmS {
        w: ws,
        eta,
        xi,
        iterations,
        converged,
    })
}
