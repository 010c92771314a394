//! Adam training of a graph model (the CNN's poisoning retrains), with the MLP trainer's
//! batch order and PyTorch's Adam update order (see [`crate::train`]).
//!
//! A batch is split into fixed chunks of [`CHUNK`] rows; their parameter gradients are
//! computed in parallel and summed in chunk order, so the result depends on the seed
//! only, not on the thread count. Parameters of inference batch norm stay fixed.

use rayon::prelude::*;

use super::{Graph, pool};
use crate::{model::ModelError, tensor::CHUNK, train::Recipe, uncertainty::Rng};

/// Gradients of the MEAN cross-entropy over `rows` (given as row indices into `x`).
fn batch_grads(
    g: &Graph,
    x: &[f32],
    y: &[u32],
    rows: &[usize],
) -> Result<(Vec<Vec<f32>>, f64), ModelError> {
    let d: usize = g.input_shape().iter().product();
    let c = g.classes();
    let scale = 1.0 / rows.len() as f64;
    type Part = Result<(Vec<Vec<f32>>, f64), ModelError>;
    let parts: Vec<Part> = rows
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut bx = pool::take(chunk.len() * d);
            for &r in chunk {
                bx.extend_from_slice(&x[r * d..(r + 1) * d]);
            }
            let tape = g.forward::<f32>(bx, chunk.len())?;
            let logits = tape.logits(g);
            let mut seed = Vec::with_capacity(chunk.len() * c);
            let mut loss = 0.0;
            for (row, &r) in logits.chunks_exact(c).zip(chunk) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
                let lse = sum.ln();
                for (j, v) in row.iter().enumerate() {
                    let p = (v - max - lse).exp();
                    let hot = if j == y[r] as usize { 1.0 } else { 0.0 };
                    seed.push(((f64::from(p) - hot) * scale) as f32);
                    if j == y[r] as usize {
                        loss -= f64::from(v - max - lse);
                    }
                }
            }
            let (_, grads) = g.backward(&tape, seed, false, true)?;
            tape.recycle();
            Ok((grads, loss))
        })
        .collect();
    let mut total: Vec<Vec<f32>> = g.params.iter().map(|p| vec![0.0; p.data.len()]).collect();
    let mut loss = 0.0;
    for p in parts {
        let (grads, l) = p?;
        for (t, gv) in total.iter_mut().zip(grads) {
            for (a, b) in t.iter_mut().zip(gv) {
                *a += b;
            }
        }
        loss += l;
    }
    Ok((total, loss * scale))
}

/// Trains `init` on (x, y); returns the trained graph and the loss of each step.
pub(crate) fn fit(
    init: &Graph,
    x: &[f32],
    y: &[u32],
    recipe: &Recipe,
    rng: &mut Rng,
) -> Result<(Graph, Vec<f64>), ModelError> {
    recipe.check()?;
    let n = y.len();
    let d: usize = init.input_shape().iter().product();
    if n == 0 || x.len() != n * d || y.iter().any(|&c| c as usize >= init.classes()) {
        return Err(ModelError::Unsupported(format!(
            "training data: {} values and {n} labels do not make rows of {d} with classes below {}",
            x.len(),
            init.classes()
        )));
    }
    let mut params: Vec<Vec<f32>> = init.params.iter().map(|p| p.data.clone()).collect();
    let mut m: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut v = m.clone();
    let mut g = init.clone();
    let mut order: Vec<usize> = (0..n).collect();
    let mut cursor = n;
    let mut losses = Vec::with_capacity(recipe.steps as usize);
    for step in 1..=recipe.steps {
        // The same batch order as the MLP trainer: full batch, or a Fisher–Yates shuffle
        // from the suite's stream at each new epoch.
        let rows: Vec<usize> = match recipe.batch_size {
            None => (0..n).collect(),
            Some(bs) => {
                let bs = bs.min(n);
                if cursor + bs > n {
                    for i in (1..n).rev() {
                        order.swap(i, rng.below(i + 1));
                    }
                    cursor = 0;
                }
                cursor += bs;
                order[cursor - bs..cursor].to_vec()
            }
        };
        let (grads, loss) = batch_grads(&g, x, y, &rows)?;
        losses.push(loss);
        let bc1 = 1.0 - recipe.beta1.powi(step as i32);
        let bc2 = 1.0 - recipe.beta2.powi(step as i32);
        let step_size = (recipe.lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (w1, w2, e) = (
            (1.0 - recipe.beta1) as f32,
            recipe.beta2 as f32,
            recipe.eps as f32,
        );
        let b2c = (1.0 - recipe.beta2) as f32;
        for (((p, gr), mm), vv) in params.iter_mut().zip(&grads).zip(&mut m).zip(&mut v) {
            for i in 0..p.len() {
                let mi = mm[i] + w1 * (gr[i] - mm[i]);
                let vi = vv[i] * w2 + b2c * gr[i] * gr[i];
                mm[i] = mi;
                vv[i] = vi;
                let denom = vi.sqrt() / bc2_sqrt + e;
                p[i] += -step_size * (mi / denom);
            }
        }
        if params.iter().flatten().any(|v| !v.is_finite()) {
            return Err(ModelError::Unsupported(format!(
                "training diverged at step {step} (a weight became NaN or infinite)"
            )));
        }
        g = init.with_params(params.clone());
    }
    Ok((g, losses))
}

/// Loss-gradient check helper for tests: ∂(mean CE)/∂θ in f64 by the hand-written backward.
#[cfg(test)]
pub(crate) fn grads_f64(g: &Graph, x: &[f32], y: &[u32]) -> Vec<Vec<f64>> {
    let n = y.len();
    let c = g.classes();
    let xt: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let tape = g.forward::<f64>(xt, n).unwrap_or_else(|e| panic!("{e}"));
    let mut seed = Vec::new();
    for (row, &k) in tape.logits(g).chunks_exact(c).zip(y) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        for (j, v) in row.iter().enumerate() {
            let hot = if j == k as usize { 1.0 } else { 0.0 };
            seed.push(((v - max - lse).exp() - hot) / n as f64);
        }
    }
    g.backward(&tape, seed, false, true)
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

/// Mean cross-entropy in f64 (for finite differences in tests).
#[cfg(test)]
pub(crate) fn mean_loss_f64(g: &Graph, x: &[f32], y: &[u32]) -> f64 {
    let c = g.classes();
    let xt: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let tape = g
        .forward::<f64>(xt, y.len())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut total = 0.0;
    for (row, &k) in tape.logits(g).chunks_exact(c).zip(y) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        total -= row[k as usize] - max - lse;
    }
    total / y.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::spec::SequentialSpec;

    /// A tiny CNN: conv(2→3, 3×3, pad 1), ReLU, max pool 2, flatten, linear(12→4), with
    /// weights from a fixed formula.
    pub(crate) fn tiny(pool: &str) -> Graph {
        let spec = SequentialSpec::from_json(
            format!(
                r#"{{"input_shape": [2, 4, 4], "layers": [{{"type": "conv2d", "padding": 1}},
                {{"type": "relu"}}, {{"type": "{pool}", "kernel": 2}}, {{"type": "flatten"}},
                {{"type": "linear"}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let vals = |n: usize, k: f32| -> Vec<u8> {
            (0..n)
                .flat_map(|i| (((i as f32 * k).sin()) * 0.5).to_le_bytes())
                .collect()
        };
        let t = [
            ("0.weight", vec![3, 2, 3, 3], vals(54, 1.3)),
            ("0.bias", vec![3], vals(3, 0.7)),
            ("4.weight", vec![4, 12], vals(48, 2.1)),
            ("4.bias", vec![4], vals(4, 0.3)),
        ];
        let views: Vec<_> = t
            .iter()
            .map(|(n, s, d)| {
                (
                    *n,
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                        .unwrap(),
                )
            })
            .collect();
        spec.build(&safetensors::serialize(views, None).unwrap())
            .unwrap()
    }

    /// Rows whose class brightens an eighth of the row.
    fn rows(n: usize) -> (Vec<f32>, Vec<u32>) {
        let y: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        let x = (0..n * 32)
            .map(|i| {
                let (r, j) = (i / 32, i % 32);
                let base = ((i * 37 % 101) as f32) / 200.0;
                if j / 8 == y[r] as usize {
                    base + 0.5
                } else {
                    base
                }
            })
            .collect();
        (x, y)
    }

    #[test]
    fn parameter_gradients_match_finite_differences() {
        for pool in ["maxpool2d", "avgpool2d"] {
            let g = tiny(pool);
            let (x, y) = rows(5);
            let grads = grads_f64(&g, &x, &y);
            for (pi, p) in g.params.iter().enumerate() {
                for i in (0..p.data.len()).step_by(5) {
                    let shift = |h: f32| {
                        let mut data: Vec<Vec<f32>> =
                            g.params.iter().map(|q| q.data.clone()).collect();
                        data[pi][i] += h;
                        let moved = f64::from(data[pi][i]);
                        (mean_loss_f64(&g.with_params(data), &x, &y), moved)
                    };
                    let ((lp, xp), (lm, xm)) = (shift(1e-3), shift(-1e-3));
                    let numeric = (lp - lm) / (xp - xm);
                    let analytic = grads[pi][i];
                    assert!(
                        (numeric - analytic).abs() <= 1e-4 + 1e-2 * analytic.abs(),
                        "{pool} {} [{i}]: numeric {numeric}, analytic {analytic}",
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn training_lowers_the_loss_and_repeats_bit_for_bit_on_one_or_two_threads() {
        let g = tiny("maxpool2d");
        let (x, y) = rows(300);
        let recipe = Recipe {
            steps: 30,
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            batch_size: Some(200),
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit(&g, &x, &y, &recipe, &mut Rng::new(7)).unwrap())
        };
        let (a, la) = run(1);
        let (b, lb) = run(2);
        assert!(
            la.last().unwrap() < &(la[0] * 0.7),
            "loss {} → {}",
            la[0],
            la.last().unwrap()
        );
        assert_eq!(la, lb);
        assert_eq!(a.params, b.params);
    }
}
