//! ISO 5725-2 §7.3.3–7.3.4 outlier tests on cells: Cochran's C on the cell SDs, Grubbs
//! single (both ends) and double on the cell means, the straggler / outlier
//! classification, and the order in which ISO applies them.

use serde::{Deserialize, Serialize};

use super::{critical, precision::Cell, precision::typical_n};

/// ISO 5725-2 classification of a test statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Within the 5 % critical value: accepted.
    Correct,
    /// Between the 5 % and 1 % critical values: kept, but flagged.
    Straggler,
    /// Beyond the 1 % critical value: statistical outlier.
    Outlier,
}

/// Classifies a statistic that is extreme when large.
pub fn classify_upper(stat: f64, crit_5: f64, crit_1: f64) -> Class {
    if stat > crit_1 {
        Class::Outlier
    } else if stat > crit_5 {
        Class::Straggler
    } else {
        Class::Correct
    }
}

/// Classifies a statistic that is extreme when small (the double Grubbs ratio).
pub fn classify_lower(stat: f64, crit_5: f64, crit_1: f64) -> Class {
    if stat < crit_1 {
        Class::Outlier
    } else if stat < crit_5 {
        Class::Straggler
    } else {
        Class::Correct
    }
}

/// Cochran's test on the cell SDs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cochran {
    /// C = s²_max / Σ sᵢ².
    #[serde(rename = "C")]
    pub c: f64,
    /// Index of the cell with the largest SD.
    pub cell: usize,
    /// Number of cells with an SD.
    pub p: usize,
    /// Replicate count used for the critical values.
    pub n: usize,
    /// 5 % critical value.
    pub crit_5: f64,
    /// 1 % critical value.
    pub crit_1: f64,
    /// Classification.
    pub class: Class,
}

/// Cochran's test over the cells that have an SD; `None` when fewer than 2 such cells or
/// all SDs are 0.
pub fn cochran(cells: &[Cell]) -> Option<Cochran> {
    let mut sum = 0.0;
    let mut best: Option<(usize, f64)> = None;
    let mut p = 0;
    for (i, c) in cells.iter().enumerate() {
        if let Some(s) = c.sd {
            p += 1;
            sum += s * s;
            if best.is_none_or(|(_, b)| s * s > b) {
                best = Some((i, s * s));
            }
        }
    }
    let (cell, max) = best?;
    if p < 2 || sum <= 0.0 {
        return None;
    }
    let n = typical_n(cells)?;
    let crit_5 = critical::cochran(p, n, 0.05).ok()?;
    let crit_1 = critical::cochran(p, n, 0.01).ok()?;
    let c = max / sum;
    Some(Cochran {
        c,
        cell,
        p,
        n,
        crit_5,
        crit_1,
        class: classify_upper(c, crit_5, crit_1),
    })
}

/// One Grubbs test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrubbsTest {
    /// The statistic: G for the single test, the ratio s²₍ₚ₋₂₎ / s²₀ for the double test.
    #[serde(rename = "G")]
    pub g: f64,
    /// The suspect cell(s).
    pub cells: Vec<usize>,
    /// 5 % critical value (`None` where no table value exists).
    pub crit_5: Option<f64>,
    /// 1 % critical value.
    pub crit_1: Option<f64>,
    /// Classification (`None` without critical values).
    pub class: Option<Class>,
}

/// Grubbs tests on the cell means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grubbs {
    /// Number of cell means tested.
    pub p: usize,
    /// Single test on the largest mean: G = (x_max − x̄)/s.
    pub single_high: GrubbsTest,
    /// Single test on the smallest mean: G = (x̄ − x_min)/s.
    pub single_low: GrubbsTest,
    /// Double test on the two largest means (p ≥ 4).
    pub double_high: Option<GrubbsTest>,
    /// Double test on the two smallest means (p ≥ 4).
    pub double_low: Option<GrubbsTest>,
}

/// Grubbs tests on `values` (cell means, indexed by `ids`). `None` when fewer than 3
/// values or all equal.
pub fn grubbs(values: &[f64], ids: &[usize]) -> Option<Grubbs> {
    let p = values.len();
    if p < 3 || ids.len() != p {
        return None;
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let pf = p as f64;
    let mean = values.iter().sum::<f64>() / pf;
    let ss0: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    if ss0 <= 0.0 {
        return None;
    }
    let s = (ss0 / (pf - 1.0)).sqrt();
    let c5 = critical::grubbs_single(p, 0.05).ok();
    let c1 = critical::grubbs_single(p, 0.01).ok();
    let single = |idx: usize, g: f64| GrubbsTest {
        g,
        cells: vec![ids[idx]],
        crit_5: c5,
        crit_1: c1,
        class: c5.zip(c1).map(|(a, b)| classify_upper(g, a, b)),
    };
    let (lo, hi) = (order[0], order[p - 1]);
    let single_high = single(hi, (values[hi] - mean) / s);
    let single_low = single(lo, (mean - values[lo]) / s);
    let double = |drop: [usize; 2]| {
        let rest: Vec<f64> = order
            .iter()
            .filter(|i| !drop.contains(i))
            .map(|&i| values[i])
            .collect();
        let m = rest.iter().sum::<f64>() / rest.len() as f64;
        let ss: f64 = rest.iter().map(|v| (v - m).powi(2)).sum();
        let g = ss / ss0;
        let d5 = critical::grubbs_double(p, 0.05).ok();
        let d1 = critical::grubbs_double(p, 0.01).ok();
        GrubbsTest {
            g,
            cells: drop.iter().map(|&i| ids[i]).collect(),
            crit_5: d5,
            crit_1: d1,
            class: d5.zip(d1).map(|(a, b)| classify_lower(g, a, b)),
        }
    };
    let (double_high, double_low) = if p >= 4 {
        (
            Some(double([order[p - 1], order[p - 2]])),
            Some(double([order[0], order[1]])),
        )
    } else {
        (None, None)
    };
    Some(Grubbs {
        p,
        single_high,
        single_low,
        double_high,
        double_low,
    })
}

/// One step of the ISO 5725-2 §7.3.4 screening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScreeningStep {
    /// `cochran`, `grubbs_single_high`, `grubbs_single_low`, `grubbs_double_high` or
    /// `grubbs_double_low`.
    pub test: &'static str,
    /// The suspect cell(s).
    pub cells: Vec<usize>,
    /// The statistic.
    pub statistic: f64,
    /// Classification.
    pub class: Class,
    /// Whether the cell(s) were set aside before the next step (outliers only).
    pub excluded: bool,
}

/// ISO 5725-2 §7.3.4 order: Cochran repeatedly on the remaining cells while it finds an
/// outlier; then single Grubbs on the remaining cell means, repeated while either end is
/// an outlier; when the single test finds none, double Grubbs once. Stragglers are
/// recorded and kept; outliers are set aside. Returns the steps and the excluded cells.
pub fn screen(cells: &[Cell]) -> (Vec<ScreeningStep>, Vec<usize>) {
    let mut steps = Vec::new();
    let mut excluded: Vec<usize> = Vec::new();
    loop {
        let kept: Vec<Cell> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if excluded.contains(&i) {
                    Cell {
                        n: 0,
                        mean: None,
                        sd: None,
                    }
                } else {
                    *c
                }
            })
            .collect();
        let Some(t) = cochran(&kept) else { break };
        let out = t.class == Class::Outlier;
        steps.push(ScreeningStep {
            test: "cochran",
            cells: vec![t.cell],
            statistic: t.c,
            class: t.class,
            excluded: out,
        });
        if !out {
            break;
        }
        excluded.push(t.cell);
    }
    loop {
        let (ids, vals): (Vec<usize>, Vec<f64>) = cells
            .iter()
            .enumerate()
            .filter(|(i, _)| !excluded.contains(i))
            .filter_map(|(i, c)| c.mean.map(|m| (i, m)))
            .unzip();
        let Some(g) = grubbs(&vals, &ids) else { break };
        let mut found = false;
        for (name, t) in [
            ("grubbs_single_high", &g.single_high),
            ("grubbs_single_low", &g.single_low),
        ] {
            if let Some(class) = t.class {
                let out = class == Class::Outlier && !found;
                if class != Class::Correct {
                    steps.push(ScreeningStep {
                        test: name,
                        cells: t.cells.clone(),
                        statistic: t.g,
                        class,
                        excluded: out,
                    });
                }
                if out {
                    excluded.extend(&t.cells);
                    found = true;
                }
            }
        }
        if found {
            continue;
        }
        for (name, t) in [
            ("grubbs_double_high", &g.double_high),
            ("grubbs_double_low", &g.double_low),
        ] {
            if let Some(t) = t
                && let Some(class) = t.class
            {
                let out = class == Class::Outlier;
                steps.push(ScreeningStep {
                    test: name,
                    cells: t.cells.clone(),
                    statistic: t.g,
                    class,
                    excluded: out,
                });
                if out {
                    let new: Vec<usize> = t
                        .cells
                        .iter()
                        .filter(|c| !excluded.contains(c))
                        .copied()
                        .collect();
                    excluded.extend(new);
                }
            }
        }
        break;
    }
    (steps, excluded)
}
