//! Model inversion: for each class, gradient ascent on the log-confidence of that class
//! starting from a blank input, clipped to the valid range after every step. The leak is
//! measured by how much a reconstruction resembles the class mean of the training rows
//! (cosine similarity), and whether it is closer to its own class mean than to any other.

use crate::{
    data::Split,
    model::{Model, ModelError},
    tensor::{self, Precision},
};

/// Inversion settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InversionConfig {
    /// Ascent steps.
    pub iterations: u32,
    /// Step size on the raw gradient.
    pub step: f32,
    /// Value of every feature of the blank start.
    pub start: f32,
}

/// Per-class results of an inversion.
#[derive(Debug, Clone, PartialEq)]
pub struct InversionOutcome {
    /// Cosine similarity of each class's reconstruction to its own class mean.
    pub similarity: Vec<f64>,
    /// Whether the reconstruction is most similar to its own class mean.
    pub identified: Vec<bool>,
    /// Model confidence in the class at the end.
    pub confidence: Vec<f64>,
    /// The reconstructions [classes, features].
    pub reconstructions: Vec<f32>,
}

/// Cosine similarity; 0 when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Inverts every class of `model` and compares with the class means of `train`.
pub fn invert(
    model: &Model,
    train: &Split,
    cfg: InversionConfig,
    range: (f32, f32),
    precision: Precision,
) -> Result<InversionOutcome, ModelError> {
    let d = model.input_dim();
    let k = model.classes();
    let classes: Vec<u32> = (0..k as u32).collect();
    let mut x = vec![cfg.start.clamp(range.0, range.1); k * d];
    for _ in 0..cfg.iterations {
        let (g, _) = tensor::confidence_grad(model, &x, &classes, precision)?;
        for (xi, gi) in x.iter_mut().zip(&g) {
            let gi = if gi.is_finite() { *gi as f32 } else { 0.0 };
            *xi = (*xi + cfg.step * gi).clamp(range.0, range.1);
        }
    }
    let (_, conf) = tensor::confidence_grad(model, &x, &classes, precision)?;
    let means = class_means(train, d, k);
    let mut similarity = Vec::with_capacity(k);
    let mut identified = Vec::with_capacity(k);
    for c in 0..k {
        let r = &x[c * d..(c + 1) * d];
        let sims: Vec<f64> = (0..k)
            .map(|j| cosine(r, &means[j * d..(j + 1) * d]))
            .collect();
        let own = sims[c];
        similarity.push(own);
        identified.push(sims.iter().enumerate().all(|(j, &s)| j == c || s < own));
    }
    Ok(InversionOutcome {
        similarity,
        identified,
        confidence: conf.iter().map(|&v| f64::from(v)).collect(),
        reconstructions: x,
    })
}

/// Mean training row of each class [classes, features] (zeros for an absent class).
fn class_means(train: &Split, d: usize, k: usize) -> Vec<f32> {
    let mut sum = vec![0f64; k * d];
    let mut count = vec![0usize; k];
    for (r, &c) in train.y.iter().enumerate() {
        let c = c as usize;
        count[c] += 1;
        for j in 0..d {
            sum[c * d + j] += f64::from(train.x[r * d + j]);
        }
    }
    sum.iter()
        .enumerate()
        .map(|(i, s)| {
            let n = count[i / d];
            if n == 0 { 0.0 } else { (s / n as f64) as f32 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
