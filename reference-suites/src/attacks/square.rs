//! Square attack L∞ (Andriushchenko et al. 2020): score-based, gradient-free random
//! search. Rows are seen as `channels × height × width` images; it starts from vertical
//! stripes of ±ε and then, for each still-correct row, proposes a random square window
//! set to ±ε per channel and keeps it when the margin loss (true logit minus the best
//! other logit) drops. Each proposal is one model query for that row.

use super::{Adversarial, AttackError, GradStats, check_eps};
use crate::{model::Model, tensor, uncertainty::Rng};

/// Square attack settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SquareConfig {
    /// Radius of the L∞ ball.
    pub eps: f32,
    /// Query budget per row (including the initial query).
    pub max_queries: u32,
    /// Initial share of pixels changed per proposal (halved on the paper's schedule).
    pub p_init: f64,
    /// Image layout (channels, height, width) with c·h·w = features.
    pub shape: (usize, usize, usize),
}

/// The image layout for `features` values: the given one, or a square single-channel
/// image when `features` is a perfect square.
pub fn layout(
    features: usize,
    given: Option<&[usize]>,
) -> Result<(usize, usize, usize), AttackError> {
    let bad = |v: String| AttackError::Param {
        name: "input_shape",
        value: v,
        why: "must be [height, width] or [channels, height, width] with product = features and height, width ≥ 2",
    };
    let (c, h, w) = match given {
        Some([h, w]) => (1, *h, *w),
        Some([c, h, w]) => (*c, *h, *w),
        Some(other) => return Err(bad(format!("{other:?}"))),
        None => {
            let s = (features as f64).sqrt().round() as usize;
            if s * s != features {
                return Err(bad(format!(
                    "none given and {features} is not a perfect square"
                )));
            }
            (1, s, s)
        }
    };
    if c * h * w != features || h < 2 || w < 2 {
        return Err(bad(format!("[{c}, {h}, {w}]")));
    }
    Ok((c, h, w))
}

/// Share of pixels per proposal at iteration `it` of `n_iters` (the paper's schedule).
fn p_selection(p_init: f64, it: u32, n_iters: u32) -> f64 {
    let it = (f64::from(it) / f64::from(n_iters.max(1)) * 10_000.0) as u32;
    let div = match it {
        0..=10 => 1.0,
        11..=50 => 2.0,
        51..=200 => 4.0,
        201..=500 => 8.0,
        501..=1000 => 16.0,
        1001..=2000 => 32.0,
        2001..=4000 => 64.0,
        4001..=6000 => 128.0,
        6001..=8000 => 256.0,
        _ => 512.0,
    };
    p_init / div
}

/// Margin loss per row: logit of the true class minus the largest other logit.
fn margins(model: &Model, x: &[f32], y: &[u32]) -> Result<Vec<f32>, AttackError> {
    let c = model.classes();
    let l = tensor::logits(model, x)?;
    Ok(l.chunks_exact(c)
        .zip(y)
        .map(|(row, &t)| {
            let t = t as usize;
            let other = row
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != t)
                .map(|(_, v)| *v)
                .fold(f32::NEG_INFINITY, f32::max);
            row[t] - other
        })
        .collect())
}

/// Runs the Square attack with the random stream `rng`.
pub fn square(
    model: &Model,
    x0: &[f32],
    y: &[u32],
    cfg: SquareConfig,
    range: (f32, f32),
    rng: &mut Rng,
) -> Result<Adversarial, AttackError> {
    check_eps(cfg.eps, range)?;
    if cfg.max_queries == 0 || cfg.max_queries > 1_000_000 {
        return Err(AttackError::Param {
            name: "max_queries",
            value: cfg.max_queries.to_string(),
            why: "must be in 1..=1000000",
        });
    }
    if !(cfg.p_init > 0.0 && cfg.p_init <= 1.0) {
        return Err(AttackError::Param {
            name: "p_init",
            value: cfg.p_init.to_string(),
            why: "must be in (0, 1]",
        });
    }
    let d = model.input_dim();
    let (c, h, w) = cfg.shape;
    if c * h * w != d {
        return Err(AttackError::Param {
            name: "input_shape",
            value: format!("[{c}, {h}, {w}]"),
            why: "product must equal the model's input width",
        });
    }
    let n = y.len();
    let (lo, hi) = range;
    let eps = cfg.eps;
    let at = |ch: usize, r: usize, col: usize| ch * h * w + r * w + col;
    // Vertical stripes: one ±ε per (channel, column).
    let mut x_best = x0.to_vec();
    for row in 0..n {
        for ch in 0..c {
            for col in 0..w {
                let s = rng.pm1() * eps;
                for r in 0..h {
                    let i = row * d + at(ch, r, col);
                    x_best[i] = (x0[i] + s).clamp(lo, hi);
                }
            }
        }
    }
    let mut best = margins(model, &x_best, y)?;
    let mut queries = vec![1u32; n];
    let mut cand = vec![0f32; 0];
    let mut cand_y = Vec::new();
    let mut cand_rows = Vec::new();
    for it in 0..cfg.max_queries.saturating_sub(1) {
        let active: Vec<usize> = (0..n).filter(|&i| best[i] > 0.0).collect();
        if active.is_empty() {
            break;
        }
        let p = p_selection(cfg.p_init, it, cfg.max_queries);
        let s = ((p * d as f64 / c as f64).sqrt().round() as usize).clamp(1, h.min(w) - 1);
        cand.clear();
        cand_y.clear();
        cand_rows.clear();
        for &row in &active {
            let base = row * d;
            let xb = &x_best[base..base + d];
            let xo = &x0[base..base + d];
            let mut prop = xb.to_vec();
            // Resample until the window changes something (bounded, as it may not).
            for _ in 0..16 {
                let vh = rng.below(h - s);
                let vw = rng.below(w - s);
                let signs: Vec<f32> = (0..c).map(|_| rng.pm1() * eps).collect();
                let mut changed = false;
                for (ch, &sg) in signs.iter().enumerate() {
                    for r in vh..vh + s {
                        for col in vw..vw + s {
                            let i = at(ch, r, col);
                            let v = (xo[i] + sg).clamp(lo, hi);
                            if (v - xb[i]).abs() >= 1e-7 {
                                changed = true;
                            }
                            prop[i] = v;
                        }
                    }
                }
                if changed {
                    break;
                }
                prop.copy_from_slice(xb);
            }
            cand.extend_from_slice(&prop);
            cand_y.push(y[row]);
            cand_rows.push(row);
        }
        let m = margins(model, &cand, &cand_y)?;
        for (k, &row) in cand_rows.iter().enumerate() {
            queries[row] += 1;
            if m[k] < best[row] {
                best[row] = m[k];
                x_best[row * d..(row + 1) * d].copy_from_slice(&cand[k * d..(k + 1) * d]);
            }
        }
    }
    Ok(Adversarial {
        x_adv: x_best,
        grads: GradStats::default(),
        queries: Some(queries),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_schedule_halves_on_the_papers_breakpoints() {
        assert_eq!(p_selection(0.8, 0, 1000), 0.8);
        assert_eq!(p_selection(0.8, 3, 1000), 0.4);
        assert_eq!(p_selection(0.8, 999, 1000), 0.8 / 512.0);
    }

    #[test]
    fn layout_infers_square_images_and_refuses_others() {
        assert_eq!(layout(64, None).unwrap(), (1, 8, 8));
        assert!(matches!(
            layout(60, None),
            Err(AttackError::Param {
                name: "input_shape",
                ..
            })
        ));
        assert_eq!(layout(60, Some(&[6, 10])).unwrap(), (1, 6, 10));
    }
}
