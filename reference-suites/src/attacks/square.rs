//! Square attack L∞ (Andriushchenko et al. 2020): score-based, gradient-free random
//! search with the margin loss (true logit minus the best other logit). Each proposal is
//! one model query for that row, and a row's best point changes only when its margin drops.
//!
//! - Images (`Layout::Image`, rows are `channels × height × width`): the paper's version.
//!   It starts from vertical stripes of ±ε (one sign per channel and column), then proposes
//!   a square window of side `round(√(p·h·w))` (at least 1, at most min(h, w) − 1) set to
//!   x₀ ± ε with one sign per channel.
//! - Flat features (`Layout::Flat`, tabular rows with no spatial order): it starts from
//!   ±ε per feature, then proposes `round(p·d)` distinct features (at least 1, at most
//!   d − 1 when d > 1) set to x₀ ± ε, each with its own sign.
//!
//! In both, `p` follows the paper's piecewise schedule (halved at iterations 10, 50, 200,
//! 500, 1000, 2000, 4000, 6000 and 8000 of 10 000, scaled to the query budget), and every
//! value is clipped to the valid range, so rows never leave the ε-ball or the range.

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
    /// How a row's features are arranged.
    pub shape: Layout,
}

/// How the Square attack sees a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// An image of (channels, height, width) with c·h·w = features.
    Image(usize, usize, usize),
    /// Features without spatial order (tabular data).
    Flat,
}

/// The layout a suite's data declares: its `input_shape` as an image, none as flat features.
pub fn suite_layout(features: usize, given: Option<&[usize]>) -> Result<Layout, AttackError> {
    match given {
        Some(_) => {
            let (c, h, w) = layout(features, given)?;
            Ok(Layout::Image(c, h, w))
        }
        None => Ok(Layout::Flat),
    }
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
    if x0.len() != y.len() * d {
        return Err(AttackError::Param {
            name: "rows",
            value: format!("{} values for {} labels", x0.len(), y.len()),
            why: "must be one row of the model's input width per label",
        });
    }
    match cfg.shape {
        Layout::Image(c, h, w) => {
            if c * h * w != d || h < 2 || w < 2 {
                return Err(AttackError::Param {
                    name: "input_shape",
                    value: format!("[{c}, {h}, {w}]"),
                    why: "product must equal the model's input width, with height and width at least 2",
                });
            }
            let prop = Image { c, h, w };
            search(model, x0, y, cfg, range, rng, &prop)
        }
        Layout::Flat => search(model, x0, y, cfg, range, rng, &Flat { d }),
    }
}

/// The two ways of drawing the start and the proposals.
trait Proposer {
    /// Writes the start x₀ ± ε (clipped) for one row.
    fn init(&self, xo: &[f32], out: &mut [f32], eps: f32, range: (f32, f32), rng: &mut Rng);
    /// Overwrites a part of `prop` (a copy of the row's best point) with x₀ ± ε; returns
    /// whether any value changed.
    fn propose(
        &self,
        xo: &[f32],
        prop: &mut [f32],
        p: f64,
        eps: f32,
        range: (f32, f32),
        rng: &mut Rng,
    ) -> bool;
}

struct Image {
    c: usize,
    h: usize,
    w: usize,
}

impl Image {
    fn at(&self, ch: usize, r: usize, col: usize) -> usize {
        ch * self.h * self.w + r * self.w + col
    }

    /// Side of the square window for share `p` of the pixels.
    fn side(&self, p: f64) -> usize {
        ((p * (self.h * self.w) as f64).sqrt().round() as usize).clamp(1, self.h.min(self.w) - 1)
    }
}

impl Proposer for Image {
    fn init(&self, xo: &[f32], out: &mut [f32], eps: f32, (lo, hi): (f32, f32), rng: &mut Rng) {
        for ch in 0..self.c {
            for col in 0..self.w {
                let s = rng.pm1() * eps;
                for r in 0..self.h {
                    let i = self.at(ch, r, col);
                    out[i] = (xo[i] + s).clamp(lo, hi);
                }
            }
        }
    }

    fn propose(
        &self,
        xo: &[f32],
        prop: &mut [f32],
        p: f64,
        eps: f32,
        (lo, hi): (f32, f32),
        rng: &mut Rng,
    ) -> bool {
        let s = self.side(p);
        let vh = rng.below(self.h - s);
        let vw = rng.below(self.w - s);
        let mut changed = false;
        for ch in 0..self.c {
            let sg = rng.pm1() * eps;
            for r in vh..vh + s {
                for col in vw..vw + s {
                    let i = self.at(ch, r, col);
                    let v = (xo[i] + sg).clamp(lo, hi);
                    if (v - prop[i]).abs() >= 1e-7 {
                        changed = true;
                    }
                    prop[i] = v;
                }
            }
        }
        changed
    }
}

struct Flat {
    d: usize,
}

impl Flat {
    /// Features changed per proposal for share `p`.
    fn count(&self, p: f64) -> usize {
        let most = if self.d > 1 { self.d - 1 } else { 1 };
        ((p * self.d as f64).round() as usize).clamp(1, most)
    }
}

impl Proposer for Flat {
    fn init(&self, xo: &[f32], out: &mut [f32], eps: f32, (lo, hi): (f32, f32), rng: &mut Rng) {
        for (o, &v) in out.iter_mut().zip(xo) {
            *o = (v + rng.pm1() * eps).clamp(lo, hi);
        }
    }

    fn propose(
        &self,
        xo: &[f32],
        prop: &mut [f32],
        p: f64,
        eps: f32,
        (lo, hi): (f32, f32),
        rng: &mut Rng,
    ) -> bool {
        let k = self.count(p);
        // A partial Fisher–Yates shuffle picks k distinct features.
        let mut order: Vec<usize> = (0..self.d).collect();
        let mut changed = false;
        for j in 0..k {
            let pick = j + rng.below(self.d - j);
            order.swap(j, pick);
            let i = order[j];
            let v = (xo[i] + rng.pm1() * eps).clamp(lo, hi);
            if (v - prop[i]).abs() >= 1e-7 {
                changed = true;
            }
            prop[i] = v;
        }
        changed
    }
}

/// The random search shared by both layouts.
fn search(
    model: &Model,
    x0: &[f32],
    y: &[u32],
    cfg: SquareConfig,
    range: (f32, f32),
    rng: &mut Rng,
    proposer: &dyn Proposer,
) -> Result<Adversarial, AttackError> {
    let d = model.input_dim();
    let n = y.len();
    let eps = cfg.eps;
    let mut x_best = x0.to_vec();
    for row in 0..n {
        let span = row * d..(row + 1) * d;
        proposer.init(&x0[span.clone()], &mut x_best[span], eps, range, rng);
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
        cand.clear();
        cand_y.clear();
        cand_rows.clear();
        for &row in &active {
            let base = row * d;
            let xb = &x_best[base..base + d];
            let xo = &x0[base..base + d];
            let mut prop = xb.to_vec();
            // Resample until the proposal changes something (bounded, as it may not).
            for _ in 0..16 {
                if proposer.propose(xo, &mut prop, p, eps, range, rng) {
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
        // At the paper's budget of 10 000 queries p halves right after each breakpoint.
        let breaks = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
        for (k, &b) in breaks.iter().enumerate() {
            let before = 0.8 / f64::from(1u32 << k);
            assert_eq!(p_selection(0.8, b, 10_000), before, "at iteration {b}");
            assert_eq!(p_selection(0.8, b + 1, 10_000), before / 2.0, "after {b}");
        }
    }

    #[test]
    fn window_side_and_feature_count_follow_p_and_stay_inside_the_row() {
        let img = Image { c: 1, h: 28, w: 28 };
        // round(√(0.05 · 784)) = round(6.26) = 6; the side never reaches the full height.
        assert_eq!(img.side(0.05), 6);
        assert_eq!(img.side(1.0), 27);
        assert_eq!(img.side(1e-6), 1);
        let flat = Flat { d: 29 };
        assert_eq!(flat.count(0.8), 23);
        assert_eq!(flat.count(1.0), 28);
        assert_eq!(flat.count(1e-6), 1);
    }

    fn run(shape: Layout, eps: f32, seed: u64) -> (Vec<f32>, Vec<f32>, Adversarial) {
        let (model, x, y) = crate::attacks::digits_fixture(60);
        let cfg = SquareConfig {
            eps,
            max_queries: 60,
            p_init: 0.8,
            shape,
        };
        let adv = square(&model, &x, &y, cfg, (0.0, 1.0), &mut Rng::new(seed)).unwrap();
        let clean = tensor::logits(&model, &x).unwrap();
        (x, clean, adv)
    }

    #[test]
    fn square_never_leaves_the_eps_ball_or_the_range_on_images_and_flat_rows() {
        for shape in [Layout::Image(1, 8, 8), Layout::Flat] {
            let (x, _, adv) = run(shape, 0.1, 7);
            assert_eq!(adv.x_adv.len(), x.len());
            for (a, o) in adv.x_adv.iter().zip(&x) {
                assert!((0.0..=1.0).contains(a), "{a} left [0, 1]");
                assert!((a - o).abs() <= 0.1 + 1e-6, "{a} is more than eps from {o}");
            }
            let q = adv.queries.unwrap();
            assert!(q.iter().all(|&q| (1..=60).contains(&q)));
        }
    }

    #[test]
    fn square_is_repeatable_with_a_seed_and_differs_with_another() {
        for shape in [Layout::Image(1, 8, 8), Layout::Flat] {
            let (_, _, a) = run(shape, 0.1, 7);
            let (_, _, b) = run(shape, 0.1, 7);
            let (_, _, c) = run(shape, 0.1, 8);
            assert_eq!(a, b);
            assert_ne!(a.x_adv, c.x_adv);
        }
    }

    #[test]
    fn square_turns_some_rows_wrong_and_only_lowers_margins() {
        let (model, x, y) = crate::attacks::digits_fixture(60);
        for shape in [Layout::Image(1, 8, 8), Layout::Flat] {
            let (_, _, adv) = run(shape, 0.3, 7);
            let before = margins(&model, &x, &y).unwrap();
            let after = margins(&model, &adv.x_adv, &y).unwrap();
            let fooled = after.iter().filter(|m| **m <= 0.0).count();
            let was = before.iter().filter(|m| **m <= 0.0).count();
            assert!(fooled > was, "{fooled} rows fooled, {was} wrong before");
        }
    }

    #[test]
    fn square_refuses_an_image_layout_that_does_not_fit_the_model() {
        let (model, x, y) = crate::attacks::digits_fixture(2);
        let cfg = SquareConfig {
            eps: 0.1,
            max_queries: 5,
            p_init: 0.8,
            shape: Layout::Image(1, 7, 9),
        };
        let err = square(&model, &x, &y, cfg, (0.0, 1.0), &mut Rng::new(0)).unwrap_err();
        assert!(matches!(
            err,
            AttackError::Param {
                name: "input_shape",
                ..
            }
        ));
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
