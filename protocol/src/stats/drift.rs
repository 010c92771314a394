//! Drift of one laboratory over rounds: CUSUM and EWMA of its z-scores and the
//! Westgard-style rules, each alarm tagged with the round that raised it. A lab whose
//! scores creep in one direction is found before any single score is unsatisfactory.

use serde::{Deserialize, Serialize};

/// Settings of the drift charts (all in units of σ, i.e. of the z-score).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftConfig {
    /// CUSUM reference value k.
    pub cusum_k: f64,
    /// CUSUM decision interval h.
    pub cusum_h: f64,
    /// EWMA weight λ in (0, 1].
    pub ewma_lambda: f64,
    /// EWMA control-limit width L.
    pub ewma_l: f64,
}

impl Default for DriftConfig {
    /// k = 0.5, h = 4 (detects a 1 σ shift, in-control ARL ≈ 170); λ = 0.2, L = 3.
    fn default() -> Self {
        Self {
            cusum_k: 0.5,
            cusum_h: 4.0,
            ewma_lambda: 0.2,
            ewma_l: 3.0,
        }
    }
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alarm {
    /// `cusum_high`, `cusum_low`, `ewma_high`, `ewma_low`, `1_3s`, `2_2s`, `R_4s`,
    /// `4_1s` or `10_x`.
    pub rule: String,
    /// The round that raised it.
    pub round: u64,
    /// The chart value or z-score that triggered it.
    pub value: f64,
}

/// Drift analysis of one lab's z-scores in round order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drift {
    /// Rounds analysed.
    pub rounds: Vec<u64>,
    /// Upper CUSUM after each round.
    pub cusum_high: Vec<f64>,
    /// Lower CUSUM after each round.
    pub cusum_low: Vec<f64>,
    /// EWMA after each round.
    pub ewma: Vec<f64>,
    /// Alarms in round order.
    pub alarms: Vec<Alarm>,
}

/// Runs all charts and rules over `(round, z)` pairs sorted by round.
///
/// CUSUM: C⁺ₜ = max(0, C⁺ₜ₋₁ + zₜ − k), C⁻ₜ = max(0, C⁻ₜ₋₁ − zₜ − k), alarm when above h,
/// then restart from 0. EWMA: Eₜ = λzₜ + (1 − λ)Eₜ₋₁, E₀ = 0, alarm when
/// |Eₜ| > L √(λ/(2 − λ) (1 − (1 − λ)^{2t})). Westgard on z: 1₃s |z| > 3; 2₂s two
/// consecutive beyond 2 on the same side; R₄s two consecutive beyond 2 on opposite
/// sides; 4₁s four consecutive beyond 1 on the same side; 10ₓ ten consecutive on the
/// same side of 0.
pub fn drift(series: &[(u64, f64)], cfg: &DriftConfig) -> Drift {
    let mut out = Drift {
        rounds: Vec::with_capacity(series.len()),
        cusum_high: Vec::with_capacity(series.len()),
        cusum_low: Vec::with_capacity(series.len()),
        ewma: Vec::with_capacity(series.len()),
        alarms: Vec::new(),
    };
    let (mut hi, mut lo, mut e) = (0.0f64, 0.0f64, 0.0f64);
    let lam = cfg.ewma_lambda;
    for (t, &(round, z)) in series.iter().enumerate() {
        out.rounds.push(round);
        hi = (hi + z - cfg.cusum_k).max(0.0);
        lo = (lo - z - cfg.cusum_k).max(0.0);
        out.cusum_high.push(hi);
        out.cusum_low.push(lo);
        if hi > cfg.cusum_h {
            out.alarms.push(Alarm {
                rule: "cusum_high".into(),
                round,
                value: hi,
            });
            hi = 0.0;
        }
        if lo > cfg.cusum_h {
            out.alarms.push(Alarm {
                rule: "cusum_low".into(),
                round,
                value: lo,
            });
            lo = 0.0;
        }
        e = lam * z + (1.0 - lam) * e;
        out.ewma.push(e);
        let limit =
            cfg.ewma_l * (lam / (2.0 - lam) * (1.0 - (1.0 - lam).powi(2 * (t as i32 + 1)))).sqrt();
        if e > limit {
            out.alarms.push(Alarm {
                rule: "ewma_high".into(),
                round,
                value: e,
            });
        } else if e < -limit {
            out.alarms.push(Alarm {
                rule: "ewma_low".into(),
                round,
                value: e,
            });
        }
        let last = |k: usize| (t + 1 >= k).then(|| &series[t + 1 - k..=t]);
        if z.abs() > 3.0 {
            out.alarms.push(Alarm {
                rule: "1_3s".into(),
                round,
                value: z,
            });
        }
        if let Some(w) = last(2) {
            let (a, b) = (w[0].1, w[1].1);
            if (a > 2.0 && b > 2.0) || (a < -2.0 && b < -2.0) {
                out.alarms.push(Alarm {
                    rule: "2_2s".into(),
                    round,
                    value: z,
                });
            }
            if (a > 2.0 && b < -2.0) || (a < -2.0 && b > 2.0) {
                out.alarms.push(Alarm {
                    rule: "R_4s".into(),
                    round,
                    value: b - a,
                });
            }
        }
        if let Some(w) = last(4)
            && (w.iter().all(|p| p.1 > 1.0) || w.iter().all(|p| p.1 < -1.0))
        {
            out.alarms.push(Alarm {
                rule: "4_1s".into(),
                round,
                value: z,
            });
        }
        if let Some(w) = last(10)
            && (w.iter().all(|p| p.1 > 0.0) || w.iter().all(|p| p.1 < 0.0))
        {
            out.alarms.push(Alarm {
                rule: "10_x".into(),
                round,
                value: z,
            });
        }
    }
    out
}
