//! Chance-corrected agreement of verdicts: Fleiss' κ for many laboratories judging the
//! same items, Cohen's κ for two. κ = 0 is the agreement expected by chance alone.

use serde::{Deserialize, Serialize};

/// Why κ could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KappaError {
    /// No items or no categories.
    #[error("no items to compare")]
    Empty,
    /// Rows have different lengths.
    #[error("item {item} has {got} categories but item 0 has {expected}")]
    Ragged {
        /// The item.
        item: usize,
        /// Its category count.
        got: usize,
        /// The first item's category count.
        expected: usize,
    },
    /// Fleiss' κ needs the same number of raters on every item.
    #[error("item {item} has {got} ratings but item 0 has {expected}")]
    UnequalRaters {
        /// The item.
        item: usize,
        /// Its rating count.
        got: f64,
        /// The first item's rating count.
        expected: f64,
    },
    /// Fewer than two raters per item.
    #[error("need at least 2 raters per item but got {0}")]
    TooFewRaters(f64),
    /// A count is negative or not finite.
    #[error("count at item {item}, category {category} is invalid: {value}")]
    BadCount {
        /// The item.
        item: usize,
        /// The category.
        category: usize,
        /// The value.
        value: f64,
    },
    /// Every rating falls in one category: chance agreement is 1 and κ is 0/0.
    #[error(
        "every rating is in one category: kappa is undefined (agreement is total but carries no information beyond chance)"
    )]
    OneCategory,
}

/// Fleiss' κ with its standard error under κ = 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fleiss {
    /// κ = (P̄ − P̄ₑ) / (1 − P̄ₑ).
    pub kappa: f64,
    /// Standard error of κ under the null hypothesis κ = 0 (Fleiss, Nee & Landis 1979).
    pub se0: f64,
    /// z = κ / se0.
    pub z: f64,
    /// Mean observed agreement P̄.
    pub p_bar: f64,
    /// Chance agreement P̄ₑ = Σ pⱼ².
    pub p_e: f64,
    /// Category shares pⱼ.
    pub p_j: Vec<f64>,
    /// Number of items N.
    pub items: usize,
    /// Raters per item n.
    pub raters: f64,
}

fn check_table(table: &[Vec<f64>]) -> Result<usize, KappaError> {
    let k = table.first().map(Vec::len).ok_or(KappaError::Empty)?;
    if k == 0 {
        return Err(KappaError::Empty);
    }
    for (item, row) in table.iter().enumerate() {
        if row.len() != k {
            return Err(KappaError::Ragged {
                item,
                got: row.len(),
                expected: k,
            });
        }
        if let Some(category) = row.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(KappaError::BadCount {
                item,
                category,
                value: row[category],
            });
        }
    }
    Ok(k)
}

/// Fleiss' κ from an items × categories table of rating counts.
pub fn fleiss(table: &[Vec<f64>]) -> Result<Fleiss, KappaError> {
    let k = check_table(table)?;
    let n: f64 = table[0].iter().sum();
    for (item, row) in table.iter().enumerate() {
        let got: f64 = row.iter().sum();
        if got != n {
            return Err(KappaError::UnequalRaters {
                item,
                got,
                expected: n,
            });
        }
    }
    if n < 2.0 {
        return Err(KappaError::TooFewRaters(n));
    }
    let big_n = table.len() as f64;
    let mut p_j = vec![0.0; k];
    let mut p_bar = 0.0;
    for row in table {
        let sq: f64 = row.iter().map(|v| v * v).sum();
        p_bar += (sq - n) / (n * (n - 1.0));
        for (j, v) in row.iter().enumerate() {
            p_j[j] += v;
        }
    }
    p_bar /= big_n;
    for p in &mut p_j {
        *p /= big_n * n;
    }
    let p_e: f64 = p_j.iter().map(|p| p * p).sum();
    let pq: f64 = p_j.iter().map(|p| p * (1.0 - p)).sum();
    if pq <= 0.0 || p_e >= 1.0 {
        return Err(KappaError::OneCategory);
    }
    let kappa = (p_bar - p_e) / (1.0 - p_e);
    let pqqp: f64 = p_j.iter().map(|p| p * (1.0 - p) * (1.0 - 2.0 * p)).sum();
    let var0 = 2.0 / (big_n * n * (n - 1.0)) * (pq * pq - pqqp) / (pq * pq);
    let se0 = var0.sqrt();
    Ok(Fleiss {
        kappa,
        se0,
        z: kappa / se0,
        p_bar,
        p_e,
        p_j,
        items: table.len(),
        raters: n,
    })
}

/// Cohen's κ with its large-sample standard errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cohen {
    /// κ = (pₒ − pₑ) / (1 − pₑ).
    pub kappa: f64,
    /// Asymptotic standard error (Fleiss, Cohen & Everitt 1969), for intervals.
    pub se: f64,
    /// Standard error under κ = 0, for the test.
    pub se0: f64,
    /// z = κ / se0.
    pub z: f64,
    /// Observed agreement pₒ.
    pub p_o: f64,
    /// Chance agreement pₑ.
    pub p_e: f64,
    /// Number of items rated by both.
    pub items: f64,
}

/// Cohen's κ from a square table (rows: rater A's category, columns: rater B's).
pub fn cohen(table: &[Vec<f64>]) -> Result<Cohen, KappaError> {
    let k = check_table(table)?;
    if table.len() != k {
        return Err(KappaError::Ragged {
            item: table.len(),
            got: k,
            expected: table.len(),
        });
    }
    let total: f64 = table.iter().flatten().sum();
    if total <= 0.0 {
        return Err(KappaError::Empty);
    }
    let p = |i: usize, j: usize| table[i][j] / total;
    let row: Vec<f64> = (0..k).map(|i| (0..k).map(|j| p(i, j)).sum()).collect();
    let col: Vec<f64> = (0..k).map(|j| (0..k).map(|i| p(i, j)).sum()).collect();
    let p_o: f64 = (0..k).map(|i| p(i, i)).sum();
    let p_e: f64 = (0..k).map(|i| row[i] * col[i]).sum();
    if p_e >= 1.0 {
        return Err(KappaError::OneCategory);
    }
    let kappa = (p_o - p_e) / (1.0 - p_e);
    let mut a = 0.0;
    let mut b = 0.0;
    for i in 0..k {
        a += p(i, i) * (1.0 - (row[i] + col[i]) * (1.0 - kappa)).powi(2);
        for j in (0..k).filter(|&j| j != i) {
            b += p(i, j) * (col[i] + row[j]).powi(2);
        }
    }
    b *= (1.0 - kappa).powi(2);
    let c = (kappa - p_e * (1.0 - kappa)).powi(2);
    let denom = (1.0 - p_e).powi(2) * total;
    let se = ((a + b - c) / denom).max(0.0).sqrt();
    let s3: f64 = (0..k).map(|i| row[i] * col[i] * (row[i] + col[i])).sum();
    let se0 = ((p_e + p_e * p_e - s3) / denom).max(0.0).sqrt();
    Ok(Cohen {
        kappa,
        se,
        se0,
        z: kappa / se0,
        p_o,
        p_e,
        items: total,
    })
}
