//! Critical values for the ISO 5725-2 consistency and outlier tests.
//!
//! Every value comes from the t, F, Beta or χ² distributions of `statrs`; nothing here
//! approximates a special function by hand. Upper-tail quantiles are taken through the
//! Beta distribution with swapped shapes so that small tail areas keep full precision.

use statrs::distribution::{Beta, ChiSquared, ContinuousCDF, Normal};

/// Why a critical value could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CriticalError {
    /// The test needs more laboratories.
    #[error("{test} needs at least {min} laboratories but got {p}")]
    TooFewLabs {
        /// Which test.
        test: &'static str,
        /// The smallest number of laboratories it accepts.
        min: usize,
        /// The number given.
        p: usize,
    },
    /// The test needs at least two replicates per laboratory.
    #[error("{test} needs at least 2 replicates per laboratory but got {n}")]
    TooFewReplicates {
        /// Which test.
        test: &'static str,
        /// The number given.
        n: usize,
    },
    /// The significance level is not in (0, 1).
    #[error("significance level must be in (0, 1) but got {0}")]
    BadAlpha(f64),
    /// No closed form and no table value is available.
    #[error("{test} has no critical value available for p = {p}")]
    NotAvailable {
        /// Which test.
        test: &'static str,
        /// The number of laboratories.
        p: usize,
    },
    /// The underlying distribution rejected its parameters.
    #[error("distribution parameters rejected: {0}")]
    Distribution(String),
}

fn check_alpha(alpha: f64) -> Result<(), CriticalError> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(CriticalError::BadAlpha(alpha))
    }
}

/// Upper-tail quantile of F(d1, d2): the value exceeded with probability `tail`.
///
/// Uses W = d2 / (d1·F + d2) ~ Beta(d2/2, d1/2), so `F = d2 (1 − w) / (d1 w)` with `w`
/// the lower `tail` quantile of W (no `1 − tail` cancellation).
pub fn f_upper(tail: f64, d1: f64, d2: f64) -> Result<f64, CriticalError> {
    check_alpha(tail)?;
    let key = (tail.to_bits(), d1.to_bits(), d2.to_bits());
    if let Some(v) = CACHE.with(|c| c.borrow().get(&key).copied()) {
        return Ok(v);
    }
    let beta = Beta::new(d2 / 2.0, d1 / 2.0).map_err(|e| {
        CriticalError::Distribution(format!("beta({}, {}): {e}", d2 / 2.0, d1 / 2.0))
    })?;
    let w = beta.inverse_cdf(tail);
    let f = d2 * (1.0 - w) / (d1 * w);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, f);
    });
    Ok(f)
}

/// Bound on memoized F quantiles per thread.
const CACHE_LIMIT: usize = 4096;

thread_local! {
    /// F quantiles already computed on this thread, by exact arguments: a report over many
    /// measurands asks for the same few values again and again. Same arguments, same bits.
    static CACHE: std::cell::RefCell<std::collections::HashMap<(u64, u64, u64), f64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Upper-tail quantile of Student's t with `df` degrees of freedom (one-sided `tail`).
pub fn t_upper(tail: f64, df: f64) -> Result<f64, CriticalError> {
    check_alpha(tail)?;
    if tail >= 0.5 {
        return Err(CriticalError::BadAlpha(tail));
    }
    // T² ~ F(1, df) and P(T > t) = P(T² > t²) / 2.
    Ok(f_upper(2.0 * tail, 1.0, df)?.sqrt())
}

/// Upper-tail quantile of the standard normal distribution.
pub fn z_upper(tail: f64) -> Result<f64, CriticalError> {
    check_alpha(tail)?;
    let n = Normal::standard();
    Ok(-n.inverse_cdf(tail))
}

/// Lower quantile of χ² with `df` degrees of freedom.
pub fn chi2_quantile(prob: f64, df: f64) -> Result<f64, CriticalError> {
    check_alpha(prob)?;
    let c =
        ChiSquared::new(df).map_err(|e| CriticalError::Distribution(format!("chi2({df}): {e}")))?;
    Ok(c.inverse_cdf(prob))
}

/// Lower-tail probability of χ² with `df` degrees of freedom.
pub fn chi2_cdf(x: f64, df: f64) -> Result<f64, CriticalError> {
    let c =
        ChiSquared::new(df).map_err(|e| CriticalError::Distribution(format!("chi2({df}): {e}")))?;
    Ok(c.cdf(x))
}

/// Mandel's h critical value (two-sided, level `alpha`) for `p` laboratories
/// (ISO 5725-2 Table 6): `h = (p−1) t / √(p (p − 2 + t²))`, t at `1 − alpha/2` with
/// `p − 2` degrees of freedom. Does not depend on the number of replicates.
pub fn mandel_h(p: usize, alpha: f64) -> Result<f64, CriticalError> {
    if p < 3 {
        return Err(CriticalError::TooFewLabs {
            test: "mandel h",
            min: 3,
            p,
        });
    }
    let pf = p as f64;
    let t = t_upper(alpha / 2.0, pf - 2.0)?;
    Ok((pf - 1.0) * t / (pf * (pf - 2.0 + t * t)).sqrt())
}

/// Mandel's k critical value (upper, level `alpha`) for `p` laboratories with `n`
/// replicates (ISO 5725-2 Table 6): `k = √(p / (1 + (p − 1)/F))`, F the upper `alpha`
/// quantile of F(n − 1, (p − 1)(n − 1)).
pub fn mandel_k(p: usize, n: usize, alpha: f64) -> Result<f64, CriticalError> {
    if p < 2 {
        return Err(CriticalError::TooFewLabs {
            test: "mandel k",
            min: 2,
            p,
        });
    }
    if n < 2 {
        return Err(CriticalError::TooFewReplicates {
            test: "mandel k",
            n,
        });
    }
    let (pf, nf) = (p as f64, n as f64);
    let f = f_upper(alpha, nf - 1.0, (pf - 1.0) * (nf - 1.0))?;
    Ok((pf / (1.0 + (pf - 1.0) / f)).sqrt())
}

/// Cochran's C critical value (upper, level `alpha`) for `p` laboratories with `n`
/// replicates: `C = F / (F + p − 1)`, F the upper `alpha/p` quantile of
/// F(n − 1, (p − 1)(n − 1)) (the same as `outliers::qcochran`).
pub fn cochran(p: usize, n: usize, alpha: f64) -> Result<f64, CriticalError> {
    if p < 2 {
        return Err(CriticalError::TooFewLabs {
            test: "cochran",
            min: 2,
            p,
        });
    }
    if n < 2 {
        return Err(CriticalError::TooFewReplicates { test: "cochran", n });
    }
    check_alpha(alpha)?;
    let (pf, nf) = (p as f64, n as f64);
    let f = f_upper(alpha / pf, nf - 1.0, (pf - 1.0) * (nf - 1.0))?;
    Ok(f / (f + pf - 1.0))
}

/// Grubbs single-outlier critical value, ISO 5725-2 convention (two-sided, level
/// `alpha`): `G = (p − 1)/√p · √(t² / (p − 2 + t²))`, t at `1 − alpha/(2p)` with `p − 2`
/// degrees of freedom.
pub fn grubbs_single(p: usize, alpha: f64) -> Result<f64, CriticalError> {
    if p < 3 {
        return Err(CriticalError::TooFewLabs {
            test: "grubbs",
            min: 3,
            p,
        });
    }
    check_alpha(alpha)?;
    let pf = p as f64;
    let t = t_upper(alpha / (2.0 * pf), pf - 2.0)?;
    Ok((pf - 1.0) / pf.sqrt() * (t * t / (pf - 2.0 + t * t)).sqrt())
}

/// Grubbs double-outlier critical value. The distribution of the ratio s²₍ₚ₋₂₎/s²₀ has
/// no closed form (ISO 5725-2 Table 5 tabulates Grubbs' 1950 integration); this crate
/// does not ship that table yet, so the answer is always
/// [`CriticalError::NotAvailable`] and the double test reports its ratio unclassified.
pub fn grubbs_double(p: usize, alpha: f64) -> Result<f64, CriticalError> {
    check_alpha(alpha)?;
    if p < 4 {
        return Err(CriticalError::TooFewLabs {
            test: "grubbs double",
            min: 4,
            p,
        });
    }
    Err(CriticalError::NotAvailable {
        test: "grubbs double",
        p,
    })
}
