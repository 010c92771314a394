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
    /// No closed form and no table value is available (double Grubbs beyond p = 40 or at
    /// a level other than 1 % / 5 %).
    #[error("{test} has no critical value available for p = {p} at this level")]
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

/// ISO 5725-2:2019 Table 5, "two largest or two smallest" columns: (p, 1 %, 5 %) lower
/// critical values of the double-Grubbs ratio s²₍ₚ₋₁,ₚ₎/s²₀ for p = 4…40. Like the single
/// test they follow the two-sided convention (α/2 in the tested tail); simulation of
/// normal samples reproduces them (see `tests/stats_tables.rs`).
// Published table values; 0.3927 is a critical value, not π/8.
#[allow(clippy::approx_constant)]
const GRUBBS_DOUBLE: [(usize, f64, f64); 37] = [
    (4, 0.0000, 0.0002),
    (5, 0.0018, 0.0090),
    (6, 0.0116, 0.0349),
    (7, 0.0308, 0.0708),
    (8, 0.0563, 0.1101),
    (9, 0.0851, 0.1492),
    (10, 0.1150, 0.1864),
    (11, 0.1448, 0.2213),
    (12, 0.1738, 0.2537),
    (13, 0.2016, 0.2836),
    (14, 0.2280, 0.3112),
    (15, 0.2530, 0.3367),
    (16, 0.2767, 0.3603),
    (17, 0.2990, 0.3822),
    (18, 0.3200, 0.4025),
    (19, 0.3398, 0.4214),
    (20, 0.3585, 0.4391),
    (21, 0.3761, 0.4556),
    (22, 0.3927, 0.4711),
    (23, 0.4085, 0.4857),
    (24, 0.4234, 0.4994),
    (25, 0.4376, 0.5123),
    (26, 0.4510, 0.5245),
    (27, 0.4638, 0.5360),
    (28, 0.4759, 0.5470),
    (29, 0.4875, 0.5574),
    (30, 0.4985, 0.5672),
    (31, 0.5091, 0.5766),
    (32, 0.5192, 0.5856),
    (33, 0.5288, 0.5941),
    (34, 0.5381, 0.6023),
    (35, 0.5469, 0.6101),
    (36, 0.5554, 0.6175),
    (37, 0.5636, 0.6247),
    (38, 0.5714, 0.6316),
    (39, 0.5789, 0.6382),
    (40, 0.5862, 0.6445),
];

/// Grubbs double-outlier critical value (lower; the ratio is suspicious when small). The
/// ratio's distribution has no closed form, so the values are ISO 5725-2 Table 5
/// (p = 4…40, α = 1 % or 5 % only); other p or α give [`CriticalError::NotAvailable`].
pub fn grubbs_double(p: usize, alpha: f64) -> Result<f64, CriticalError> {
    check_alpha(alpha)?;
    if p < 4 {
        return Err(CriticalError::TooFewLabs {
            test: "grubbs double",
            min: 4,
            p,
        });
    }
    let row = GRUBBS_DOUBLE.iter().find(|r| r.0 == p);
    match row {
        Some(&(_, one, _)) if alpha == 0.01 => Ok(one),
        Some(&(_, _, five)) if alpha == 0.05 => Ok(five),
        _ => Err(CriticalError::NotAvailable {
            test: "grubbs double",
            p,
        }),
    }
}
