//! FGSM L∞ (Goodfellow et al. 2015): one signed-gradient step of size ε, then clip.

use super::{Adversarial, AttackError, GradStats, check_eps};
use crate::{
    model::Model,
    tensor::{self, Precision, sign},
};

/// x_adv = clip(x + ε·sign(∇ₓ CE(x, y)), lo, hi) with sign(0) = 0, computed in f32.
pub fn fgsm(
    model: &Model,
    x: &[f32],
    y: &[u32],
    eps: f32,
    range: (f32, f32),
    precision: Precision,
) -> Result<Adversarial, AttackError> {
    check_eps(eps, range)?;
    let d = model.input_dim();
    let g = tensor::loss_grad(model, x, y, precision)?;
    let mut grads = GradStats::default();
    grads.add(&g, d);
    let x_adv = x
        .iter()
        .zip(&g)
        .map(|(&xi, &gi)| (xi + eps * sign(gi)).clamp(range.0, range.1))
        .collect();
    Ok(Adversarial {
        x_adv,
        grads,
        queries: None,
    })
}
