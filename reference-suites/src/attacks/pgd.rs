//! PGD L∞ (Madry et al. 2018): repeated signed-gradient steps, each followed by a clip to
//! the valid range and a projection into the ε-ball around the clean row; the last
//! iterate is returned (as ART does).

use super::{Adversarial, AttackError, GradStats, check_eps};
use crate::{
    model::Model,
    tensor::{self, Precision, sign},
    uncertainty::Rng,
};

/// PGD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PgdConfig {
    /// Radius of the L∞ ball.
    pub eps: f32,
    /// Step size α.
    pub step: f32,
    /// Number of steps.
    pub iterations: u32,
    /// Start from a uniform point in the ε-ball (clipped to the range) instead of x.
    pub random_start: bool,
}

/// Runs PGD; `rng` is used only for the random start.
pub fn pgd(
    model: &Model,
    x0: &[f32],
    y: &[u32],
    cfg: PgdConfig,
    range: (f32, f32),
    precision: Precision,
    rng: &mut Rng,
) -> Result<Adversarial, AttackError> {
    check_eps(cfg.eps, range)?;
    if !(cfg.step.is_finite() && cfg.step > 0.0) {
        return Err(AttackError::Param {
            name: "step",
            value: cfg.step.to_string(),
            why: "must be a positive number",
        });
    }
    if cfg.iterations == 0 || cfg.iterations > 100_000 {
        return Err(AttackError::Param {
            name: "iterations",
            value: cfg.iterations.to_string(),
            why: "must be in 1..=100000",
        });
    }
    let d = model.input_dim();
    let (lo, hi) = range;
    let eps = cfg.eps;
    let mut x: Vec<f32> = if cfg.random_start {
        x0.iter()
            .map(|&v| {
                let u = (rng.unit() * 2.0 - 1.0) as f32 * eps;
                (v + u).clamp(lo, hi)
            })
            .collect()
    } else {
        x0.to_vec()
    };
    let mut grads = GradStats::default();
    for _ in 0..cfg.iterations {
        let g = tensor::loss_grad(model, &x, y, precision)?;
        grads.add(&g, d);
        for ((xi, &x0i), &gi) in x.iter_mut().zip(x0).zip(&g) {
            let stepped = (*xi + cfg.step * sign(gi)).clamp(lo, hi);
            let delta = (stepped - x0i).clamp(-eps, eps);
            *xi = x0i + delta;
        }
    }
    Ok(Adversarial {
        x_adv: x,
        grads,
        queries: None,
    })
}
