//! Q method and Hampel estimator (ISO 13528:2022 C.5): a scale from all pairwise
//! differences between laboratories and a location from Hampel's redescending ψ, so
//! that a few gross results get no weight at all. Cost is O(p²) in the number of values.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use super::robust::{RobustError, check_finite, median};

/// Q-method scale s* of single values per laboratory (ISO 13528:2022 C.5.2):
/// H₁(x) is the share of pairs with |xᵢ − xⱼ| ≤ x; G₁ interpolates linearly through
/// (0, H₁(0)) and the midpoints ½(H₁(xₖ) + H₁(xₖ₋₁)) at each jump xₖ of H₁; then
/// s* = G₁⁻¹(0.25 + 0.75 H₁(0)) / (√2 Φ⁻¹(0.625 + 0.375 H₁(0))).
///
/// Returns 0 when every value is equal and an error for fewer than 2 values.
pub fn q_method(x: &[f64]) -> Result<f64, RobustError> {
    check_finite(x)?;
    let p = x.len();
    if p < 2 {
        return Err(RobustError::BadParameter {
            name: "p",
            value: p as f64,
        });
    }
    let mut d = Vec::with_capacity(p * (p - 1) / 2);
    for i in 0..p {
        for j in i + 1..p {
            d.push((x[i] - x[j]).abs());
        }
    }
    d.sort_by(f64::total_cmp);
    let total = d.len() as f64;
    let zeros = d.iter().take_while(|v| **v == 0.0).count();
    let h0 = zeros as f64 / total;
    if zeros == d.len() {
        return Ok(0.0);
    }
    // Points (x, G1(x)), x ascending.
    let mut pts: Vec<(f64, f64)> = vec![(0.0, h0)];
    let mut prev_h = h0;
    let mut i = zeros;
    while i < d.len() {
        let v = d[i];
        let mut j = i;
        while j < d.len() && d[j] == v {
            j += 1;
        }
        let h = j as f64 / total;
        pts.push((v, 0.5 * (h + prev_h)));
        prev_h = h;
        i = j;
    }
    let target = 0.25 + 0.75 * h0;
    let mut inv = None;
    for w in pts.windows(2) {
        let ((x0, g0), (x1, g1)) = (w[0], w[1]);
        if g1 >= target {
            inv = Some(if g1 > g0 {
                x0 + (target - g0) * (x1 - x0) / (g1 - g0)
            } else {
                x1
            });
            break;
        }
    }
    let inv = inv.unwrap_or_else(|| pts.last().map_or(0.0, |p| p.0));
    let q = Normal::standard().inverse_cdf(0.625 + 0.375 * h0);
    Ok(inv / (std::f64::consts::SQRT_2 * q))
}

/// Hampel's ψ with knots 1.5, 3, 4.5.
fn psi(q: f64) -> f64 {
    let a = q.abs();
    let v = if a <= 1.5 {
        a
    } else if a <= 3.0 {
        1.5
    } else if a <= 4.5 {
        4.5 - a
    } else {
        0.0
    };
    v.copysign(q)
}

/// Hampel location x* for scale `s` (ISO 13528:2022 C.5.3): the root of
/// Ψ(m) = Σ ψ((xᵢ − m)/s). Ψ is piecewise linear in m with knots at xᵢ ± {0, 1.5, 3,
/// 4.5}·s, so every root is found exactly by linear interpolation between knots; when
/// there are several, the one closest to the median is taken (a flat zero stretch counts
/// by its point nearest the median).
pub fn hampel(x: &[f64], s: f64) -> Result<f64, RobustError> {
    check_finite(x)?;
    let med = median(x)?;
    if !(s.is_finite() && s > 0.0) {
        return Ok(med);
    }
    let big_psi = |m: f64| x.iter().map(|v| psi((v - m) / s)).sum::<f64>();
    let mut knots: Vec<f64> = Vec::with_capacity(x.len() * 7);
    for v in x {
        for c in [-4.5, -3.0, -1.5, 0.0, 1.5, 3.0, 4.5] {
            knots.push(v + c * s);
        }
    }
    knots.sort_by(f64::total_cmp);
    knots.dedup();
    let vals: Vec<f64> = knots.iter().map(|&m| big_psi(m)).collect();
    let mut best: Option<f64> = None;
    let mut consider = |r: f64| {
        if best.is_none_or(|b| (r - med).abs() < (b - med).abs()) {
            best = Some(r);
        }
    };
    for i in 0..knots.len() {
        if vals[i] == 0.0 {
            consider(knots[i]);
        }
        if i + 1 < knots.len() {
            let (a, b) = (vals[i], vals[i + 1]);
            if a * b < 0.0 {
                consider(knots[i] + a * (knots[i + 1] - knots[i]) / (a - b));
            } else if a == 0.0 && b == 0.0 && knots[i] <= med && med <= knots[i + 1] {
                consider(med);
            }
        }
    }
    Ok(best.unwrap_or(med))
}

/// Q/Hampel pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QHampel {
    /// Hampel location.
    pub x: f64,
    /// Q-method scale.
    pub s: f64,
    /// u(x_pt) = 1.25 s / √p.
    pub u_x_pt: f64,
}

/// Q-method scale and Hampel location together.
pub fn q_hampel(x: &[f64]) -> Result<QHampel, RobustError> {
    let s = q_method(x)?;
    let m = hampel(x, s)?;
    Ok(QHampel {
        x: m,
        s,
        u_x_pt: 1.25 * s / (x.len() as f64).sqrt(),
    })
}
