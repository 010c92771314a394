//! Performance scores (ISO 13528:2022 §9): how far a laboratory is from the assigned
//! value, in units a regulator can read without knowing the measurand.

use serde::{Deserialize, Serialize};

/// ISO 13528 §9.6 band of a z, z′ or ζ score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// |score| ≤ 2 (for En: |En| ≤ the En limit).
    Satisfactory,
    /// 2 < |score| < 3 (not used for En).
    Questionable,
    /// |score| ≥ 3 (for En: |En| > the En limit).
    Unsatisfactory,
}

/// Band of a z, z′ or ζ score: ≤ 2 satisfactory, 2–3 questionable, ≥ 3 unsatisfactory.
pub fn band(score: f64) -> Band {
    let a = score.abs();
    if a <= 2.0 {
        Band::Satisfactory
    } else if a < 3.0 {
        Band::Questionable
    } else {
        Band::Unsatisfactory
    }
}

/// Default En limit: |En| ≤ 1 is satisfactory.
pub const EN_LIMIT: f64 = 1.0;

/// Band of an En score against `limit` (default [`EN_LIMIT`]).
pub fn en_band(en: f64, limit: f64) -> Band {
    if en.abs() <= limit {
        Band::Satisfactory
    } else {
        Band::Unsatisfactory
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// z = (x − x_pt) / σ_pt. `None` when σ_pt is 0 or not finite.
pub fn z(x: f64, x_pt: f64, sigma_pt: f64) -> Option<f64> {
    (sigma_pt > 0.0)
        .then(|| (x - x_pt) / sigma_pt)
        .and_then(finite)
}

/// z′ = (x − x_pt) / √(σ_pt² + u²(x_pt)): z when the assigned value's uncertainty is not
/// negligible.
pub fn z_prime(x: f64, x_pt: f64, sigma_pt: f64, u_x_pt: f64) -> Option<f64> {
    let d = (sigma_pt * sigma_pt + u_x_pt * u_x_pt).sqrt();
    (d > 0.0).then(|| (x - x_pt) / d).and_then(finite)
}

/// ζ = (x − x_pt) / √(u²(x) + u²(x_pt)), with standard uncertainties.
pub fn zeta(x: f64, u_x: f64, x_pt: f64, u_x_pt: f64) -> Option<f64> {
    let d = (u_x * u_x + u_x_pt * u_x_pt).sqrt();
    (d > 0.0).then(|| (x - x_pt) / d).and_then(finite)
}

/// En = (x − x_pt) / √(U²(x) + U²(x_pt)), with expanded uncertainties.
pub fn en(x: f64, big_u_x: f64, x_pt: f64, big_u_x_pt: f64) -> Option<f64> {
    let d = (big_u_x * big_u_x + big_u_x_pt * big_u_x_pt).sqrt();
    (d > 0.0).then(|| (x - x_pt) / d).and_then(finite)
}

/// Relative difference D% = 100 (x − x_pt) / x_pt.
pub fn d_percent(x: f64, x_pt: f64) -> Option<f64> {
    (x_pt != 0.0)
        .then(|| 100.0 * (x - x_pt) / x_pt)
        .and_then(finite)
}

/// ISO 13528 §9.2.1 criterion: u(x_pt) is negligible when u(x_pt) ≤ 0.3 σ_pt; then z
/// may be used, otherwise z′ (or the uncertainty must be reduced).
pub fn u_negligible(u_x_pt: f64, sigma_pt: f64) -> bool {
    u_x_pt <= 0.3 * sigma_pt
}
