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

/// Most restarts a PGD test may ask for.
pub const MAX_RESTARTS: u32 = 100;

/// PGD with `restarts` runs (Madry et al. 2018 report the worst case over random
/// restarts): restart `r` draws from `rng_of(r)`, and runs only on the rows every earlier
/// restart left correctly classified. A row keeps the first restart's point that the model
/// misclassifies, else the last restart's; it counts as robust only if it survives all.
/// With one restart this is [`pgd`] with `rng_of(0)`.
#[allow(clippy::too_many_arguments)]
pub fn pgd_restarts(
    model: &Model,
    x0: &[f32],
    y: &[u32],
    cfg: PgdConfig,
    restarts: u32,
    range: (f32, f32),
    precision: Precision,
    rng_of: &mut dyn FnMut(u32) -> Rng,
) -> Result<Adversarial, AttackError> {
    if restarts == 0 || restarts > MAX_RESTARTS {
        return Err(AttackError::Param {
            name: "restarts",
            value: restarts.to_string(),
            why: "must be in 1..=100",
        });
    }
    let mut out = pgd(model, x0, y, cfg, range, precision, &mut rng_of(0))?;
    let d = model.input_dim();
    for r in 1..restarts {
        let pred = tensor::predict(model, &out.x_adv)?;
        let open: Vec<usize> = (0..y.len()).filter(|&i| pred[i] == y[i]).collect();
        if open.is_empty() {
            break;
        }
        let xs: Vec<f32> = open
            .iter()
            .flat_map(|&i| &x0[i * d..(i + 1) * d])
            .copied()
            .collect();
        let ys: Vec<u32> = open.iter().map(|&i| y[i]).collect();
        let again = pgd(model, &xs, &ys, cfg, range, precision, &mut rng_of(r))?;
        out.grads.zero_rows += again.grads.zero_rows;
        out.grads.non_finite += again.grads.non_finite;
        out.grads.evaluations += again.grads.evaluations;
        for (k, &i) in open.iter().enumerate() {
            out.x_adv[i * d..(i + 1) * d].copy_from_slice(&again.x_adv[k * d..(k + 1) * d]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: PgdConfig = PgdConfig {
        eps: 0.1,
        step: 0.025,
        iterations: 5,
        random_start: true,
    };

    fn robust(model: &Model, adv: &Adversarial, y: &[u32]) -> usize {
        let p = tensor::predict(model, &adv.x_adv).unwrap();
        p.iter().zip(y).filter(|(a, b)| a == b).count()
    }

    fn with_restarts(restarts: u32) -> (Model, Vec<f32>, Vec<u32>, Adversarial) {
        let (model, x, y) = crate::attacks::digits_fixture(200);
        let mut rng_of = |k: u32| Rng::new(1000 + u64::from(k));
        let adv = pgd_restarts(
            &model,
            &x,
            &y,
            CFG,
            restarts,
            (0.0, 1.0),
            Precision::F32,
            &mut rng_of,
        )
        .unwrap();
        (model, x, y, adv)
    }

    #[test]
    fn one_restart_is_plain_pgd_with_the_first_stream() {
        let (model, x, y, one) = with_restarts(1);
        let plain = pgd(
            &model,
            &x,
            &y,
            CFG,
            (0.0, 1.0),
            Precision::F32,
            &mut Rng::new(1000),
        )
        .unwrap();
        assert_eq!(one, plain);
    }

    #[test]
    fn more_restarts_never_raise_robust_accuracy_and_stay_in_the_eps_ball() {
        let (model, x, y, _) = with_restarts(1);
        let mut last = usize::MAX;
        for r in [1, 2, 5] {
            let (_, _, _, adv) = with_restarts(r);
            let now = robust(&model, &adv, &y);
            assert!(
                now <= last,
                "{r} restarts: {now} robust rows, before {last}"
            );
            last = now;
            for (a, o) in adv.x_adv.iter().zip(&x) {
                assert!((0.0..=1.0).contains(a) && (a - o).abs() <= 0.1 + 1e-6);
            }
        }
        let (_, _, _, one) = with_restarts(1);
        assert!(
            last < robust(&model, &one, &y),
            "five restarts found nothing more"
        );
    }

    #[test]
    fn zero_restarts_are_refused() {
        let (model, x, y) = crate::attacks::digits_fixture(2);
        let err = pgd_restarts(
            &model,
            &x,
            &y,
            CFG,
            0,
            (0.0, 1.0),
            Precision::F32,
            &mut |_| Rng::new(0),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            AttackError::Param {
                name: "restarts",
                ..
            }
        ));
    }
}
