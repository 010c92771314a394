//! ISO 5725-2 precision: repeatability and reproducibility from a one-factor design with
//! unequal replicate counts and missing cells, and Mandel's h and k per laboratory.
//! The outlier tests (Cochran, Grubbs) are in `outliers.rs`.

use serde::{Deserialize, Serialize};

use super::{critical, robust::mean_sd};

/// One laboratory's cell: its replicate count, mean and SD (`None` when n < 2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cell {
    /// Number of values.
    pub n: usize,
    /// Cell mean ȳᵢ (`None` for an empty cell).
    pub mean: Option<f64>,
    /// Cell standard deviation sᵢ (n − 1 denominator; `None` for n < 2).
    pub sd: Option<f64>,
}

impl Cell {
    /// Summarises one laboratory's values (assumed finite).
    pub fn of(values: &[f64]) -> Self {
        match mean_sd(values) {
            None => Self {
                n: 0,
                mean: None,
                sd: None,
            },
            Some((m, sd)) => Self {
                n: values.len(),
                mean: Some(m),
                sd,
            },
        }
    }
}

/// ISO 5725-2 §7.4 estimates. Every field is `None` when the data cannot give it, and
/// `notes` says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Precision {
    /// Cells with at least one value.
    pub p: usize,
    /// Total number of values.
    pub n_total: usize,
    /// Weighted grand mean ȳ = Σnᵢȳᵢ / Σnᵢ.
    pub grand_mean: Option<f64>,
    /// Repeatability SD: s_r² = Σ(nᵢ − 1)sᵢ² / Σ(nᵢ − 1).
    pub s_r: Option<f64>,
    /// s_d² = Σnᵢ(ȳᵢ − ȳ)² / (p − 1) (the between-laboratory mean square).
    pub s_d: Option<f64>,
    /// n̄ = (Σnᵢ − Σnᵢ²/Σnᵢ) / (p − 1).
    pub nbar: Option<f64>,
    /// Between-laboratory SD: s_L² = max(0, (s_d² − s_r²)/n̄).
    #[serde(rename = "s_L")]
    pub s_l: Option<f64>,
    /// Reproducibility SD: s_R² = s_L² + s_r².
    #[serde(rename = "s_R")]
    pub s_big_r: Option<f64>,
    /// Repeatability limit r = 2.8 s_r.
    pub r: Option<f64>,
    /// Reproducibility limit R = 2.8 s_R.
    #[serde(rename = "R")]
    pub big_r: Option<f64>,
    /// Why a value is missing or was adjusted.
    pub notes: Vec<String>,
}

/// Factor 2.8 ≈ 1.96·√2 of ISO 5725-6 for the repeatability and reproducibility limits.
pub const LIMIT_FACTOR: f64 = 2.8;

/// ISO 5725-2 §7.4.4–7.4.5 with unequal nᵢ; empty cells are skipped.
pub fn precision(cells: &[Cell]) -> Precision {
    let used: Vec<&Cell> = cells.iter().filter(|c| c.n > 0).collect();
    let p = used.len();
    let n_total: usize = used.iter().map(|c| c.n).sum();
    let mut notes = Vec::new();
    let mut out = Precision {
        p,
        n_total,
        grand_mean: None,
        s_r: None,
        s_d: None,
        nbar: None,
        s_l: None,
        s_big_r: None,
        r: None,
        big_r: None,
        notes: Vec::new(),
    };
    if p == 0 {
        out.notes.push("no values".into());
        return out;
    }
    let nt = n_total as f64;
    let gm = used
        .iter()
        .map(|c| c.n as f64 * c.mean.unwrap_or(0.0))
        .sum::<f64>()
        / nt;
    out.grand_mean = Some(gm);
    let (mut num, mut den) = (0.0, 0.0);
    for c in &used {
        if let Some(s) = c.sd {
            num += (c.n as f64 - 1.0) * s * s;
            den += c.n as f64 - 1.0;
        }
    }
    let s_r2 = (den > 0.0).then(|| num / den);
    if s_r2.is_none() {
        notes
            .push("every laboratory has a single value: repeatability s_r is not estimable".into());
    }
    out.s_r = s_r2.map(f64::sqrt);
    if p < 2 {
        notes.push(format!(
            "{p} laboratory: between-laboratory variation is not estimable"
        ));
    } else {
        let pf = p as f64;
        let ss: f64 = used
            .iter()
            .map(|c| c.n as f64 * (c.mean.unwrap_or(gm) - gm).powi(2))
            .sum();
        let s_d2 = ss / (pf - 1.0);
        let sum_n2: f64 = used.iter().map(|c| (c.n as f64).powi(2)).sum();
        let nbar = (nt - sum_n2 / nt) / (pf - 1.0);
        out.s_d = Some(s_d2.sqrt());
        out.nbar = Some(nbar);
        match s_r2 {
            Some(sr2) => {
                let mut sl2 = (s_d2 - sr2) / nbar;
                if sl2 < 0.0 {
                    notes.push(format!(
                        "s_d² = {s_d2:.6e} < s_r² = {sr2:.6e}: s_L² is negative and set to 0 (ISO 5725-2 7.4.5.4)"
                    ));
                    sl2 = 0.0;
                }
                out.s_l = Some(sl2.sqrt());
                out.s_big_r = Some((sl2 + sr2).sqrt());
            }
            None => {
                notes.push("with one value per laboratory s_R is the SD of the single results (s_L and s_r not separable)".into());
                out.s_big_r = Some(s_d2.sqrt());
            }
        }
    }
    out.r = out.s_r.map(|s| LIMIT_FACTOR * s);
    out.big_r = out.s_big_r.map(|s| LIMIT_FACTOR * s);
    out.notes = notes;
    out
}

/// Mandel's h per cell: (ȳᵢ − mean of cell means) / SD of cell means. `None` for an empty
/// cell, or everywhere when fewer than 2 cells or the cell means are all equal.
pub fn mandel_h(cells: &[Cell]) -> Vec<Option<f64>> {
    let means: Vec<f64> = cells.iter().filter_map(|c| c.mean).collect();
    let sd = mean_sd(&means).and_then(|(m, sd)| sd.filter(|s| *s > 0.0).map(|s| (m, s)));
    cells
        .iter()
        .map(|c| match (c.mean, sd) {
            (Some(y), Some((m, s))) => Some((y - m) / s),
            _ => None,
        })
        .collect()
}

/// Mandel's k per cell: sᵢ √p / √(Σ sⱼ²) over the cells that have an SD (ISO 5725-2
/// 7.3.1.2). `None` for cells with n < 2, or everywhere when all SDs are 0.
pub fn mandel_k(cells: &[Cell]) -> Vec<Option<f64>> {
    let sds: Vec<f64> = cells.iter().filter_map(|c| c.sd).collect();
    let sum2: f64 = sds.iter().map(|s| s * s).sum();
    let pk = sds.len() as f64;
    cells
        .iter()
        .map(|c| match c.sd {
            Some(s) if sum2 > 0.0 => Some(s * (pk / sum2).sqrt()),
            _ => None,
        })
        .collect()
}

/// The replicate count used to look up k and Cochran critical values when cells differ:
/// the most frequent nᵢ among cells with n ≥ 2 (ties: the smaller), as ISO 5725-2 8.2.2
/// advises for Cochran's test.
pub fn typical_n(cells: &[Cell]) -> Option<usize> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for c in cells.iter().filter(|c| c.n >= 2) {
        match counts.iter_mut().find(|(n, _)| *n == c.n) {
            Some(e) => e.1 += 1,
            None => counts.push((c.n, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.first().map(|e| e.0)
}

/// Mandel critical values at 5 % and 1 % (`None` where not defined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MandelCritical {
    /// Two-sided h at 5 %.
    pub h_5: Option<f64>,
    /// Two-sided h at 1 %.
    pub h_1: Option<f64>,
    /// Upper k at 5 %.
    pub k_5: Option<f64>,
    /// Upper k at 1 %.
    pub k_1: Option<f64>,
    /// Replicate count the k values were looked up with.
    pub n: Option<usize>,
}

/// Mandel h and k critical values for these cells.
pub fn mandel_critical(cells: &[Cell]) -> MandelCritical {
    let p = cells.iter().filter(|c| c.mean.is_some()).count();
    let pk = cells.iter().filter(|c| c.sd.is_some()).count();
    let n = typical_n(cells);
    let k = |a| n.and_then(|n| critical::mandel_k(pk, n, a).ok());
    MandelCritical {
        h_5: critical::mandel_h(p, 0.05).ok(),
        h_1: critical::mandel_h(p, 0.01).ok(),
        k_5: k(0.05),
        k_1: k(0.01),
        n,
    }
}
