//! Row-batched model evaluation: logits, per-row losses and input gradients.
//!
//! Rows are processed in chunks of a fixed size, in parallel on the caller's rayon pool.
//! The chunking does not depend on the thread count, so a result depends only on the
//! inputs (and the matmul kernel), which is what makes runs reproducible across labs.

use candle_core::{D, DType, Device, Tensor, Var};
use rayon::prelude::*;

use crate::{
    graph::{Graph, Precise, pool},
    model::{Model, ModelError},
};

/// Rows per chunk (fixed so that results do not depend on the thread count).
pub(crate) const CHUNK: usize = 128;

/// Floating-point precision of a gradient computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// IEEE single precision, as the models are stored (the default).
    #[default]
    F32,
    /// Double precision: weights and inputs are widened before the forward pass.
    F64,
}

impl Precision {
    pub(crate) fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }

    /// Short name (`f32`, `f64`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// The sign with sign(0) = 0 and sign(NaN) = 0 (`f32::signum(0.0)` is 1).
pub(crate) fn sign(v: f64) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Index of the largest value (the first one on ties); NaN never wins.
pub(crate) fn argmax(row: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    u32::try_from(best).unwrap_or(u32::MAX)
}

fn rows_tensor(x: &[f32], d: usize, precision: Precision) -> candle_core::Result<Tensor> {
    let n = x.len() / d;
    match precision {
        Precision::F32 => Tensor::from_slice(x, (n, d), &Device::Cpu),
        Precision::F64 => {
            let v: Vec<f64> = x.iter().map(|&a| f64::from(a)).collect();
            Tensor::from_vec(v, (n, d), &Device::Cpu)
        }
    }
}

/// Runs `f` on each chunk of rows in parallel and concatenates the outputs in order.
fn per_chunk<T: Send>(
    x: &[f32],
    d: usize,
    f: impl Fn(usize, &[f32]) -> Result<Vec<T>, ModelError> + Sync,
) -> Result<Vec<T>, ModelError> {
    let parts: Vec<Result<Vec<T>, ModelError>> = x
        .par_chunks(CHUNK * d)
        .enumerate()
        .map(|(c, rows)| f(c * CHUNK, rows))
        .collect();
    let mut out = Vec::with_capacity(x.len() / d.max(1));
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Logits of every row, flattened [n, classes], computed in f32.
pub(crate) fn logits(model: &Model, x: &[f32]) -> Result<Vec<f32>, ModelError> {
    let d = model.input_dim();
    if let Some(g) = model.graph() {
        return per_chunk(x, d, |_, rows| {
            let t = g.forward::<f32>(pool::copied(rows), rows.len() / d)?;
            let out = t.logits(g).to_vec();
            t.recycle();
            Ok(out)
        });
    }
    per_chunk(x, d, |_, rows| {
        let t = rows_tensor(rows, d, Precision::F32)?;
        let l = model.logits(&t, Precision::F32)?;
        Ok(l.flatten_all()?.to_vec1::<f32>()?)
    })
}

/// Predicted class of every row.
pub(crate) fn predict(model: &Model, x: &[f32]) -> Result<Vec<u32>, ModelError> {
    let c = model.classes();
    Ok(logits(model, x)?.chunks_exact(c).map(argmax).collect())
}

/// Log-softmax along the last axis with the shift treated as a constant, so that the
/// gradient is the textbook softmax − one-hot (as PyTorch's fused kernel computes it).
pub(crate) fn log_softmax(logits: &Tensor) -> candle_core::Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let diff = logits.broadcast_sub(&max)?;
    let lse = diff.exp()?.sum_keepdim(D::Minus1)?.log()?;
    diff.broadcast_sub(&lse)
}

/// Per-row cross-entropy loss tensor [n] from logits and u32 labels.
pub(crate) fn ce_rows(logits: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    log_softmax(logits)?
        .gather(&y.unsqueeze(1)?, 1)?
        .squeeze(1)?
        .neg()
}

fn labels_tensor(y: &[u32]) -> candle_core::Result<Tensor> {
    Tensor::from_slice(y, y.len(), &Device::Cpu)
}

/// Per-row cross-entropy losses, computed in f32.
pub(crate) fn losses(model: &Model, x: &[f32], y: &[u32]) -> Result<Vec<f32>, ModelError> {
    let d = model.input_dim();
    if let Some(g) = model.graph() {
        let c = model.classes();
        return per_chunk(x, d, |start, rows| {
            let n = rows.len() / d;
            let t = g.forward::<f32>(pool::copied(rows), n)?;
            let lp = log_probs(t.logits(g), c, &y[start..start + n]);
            t.recycle();
            Ok(lp.iter().map(|v| (-v) as f32).collect())
        });
    }
    per_chunk(x, d, |start, rows| {
        let n = rows.len() / d;
        let t = rows_tensor(rows, d, Precision::F32)?;
        let yl = labels_tensor(&y[start..start + n])?;
        let l = model.logits(&t, Precision::F32)?;
        Ok(ce_rows(&l, &yl)?.to_vec1::<f32>()?)
    })
}

/// ∇ₓ of the summed cross-entropy (each row's gradient is its own loss's gradient),
/// computed through candle's autograd in `precision`.
pub(crate) fn loss_grad(
    model: &Model,
    x: &[f32],
    y: &[u32],
    precision: Precision,
) -> Result<Vec<f64>, ModelError> {
    let d = model.input_dim();
    if let Some(g) = model.graph() {
        return per_chunk(x, d, |start, rows| {
            let yl = &y[start..start + rows.len() / d];
            Ok(match precision {
                Precision::F32 => graph_grad::<f32>(g, rows, yl, 1.0)?.0,
                Precision::F64 => graph_grad::<f64>(g, rows, yl, 1.0)?.0,
            })
        });
    }
    per_chunk(x, d, |start, rows| {
        let n = rows.len() / d;
        let xv = Var::from_tensor(&rows_tensor(rows, d, precision)?)?;
        let yl = labels_tensor(&y[start..start + n])?;
        let l = model.logits(xv.as_tensor(), precision)?;
        let loss = ce_rows(&l, &yl)?.sum_all()?;
        let grads = loss.backward()?;
        let g = grads
            .get(xv.as_tensor())
            .ok_or_else(|| ModelError::Unsupported("the model gives no input gradient".into()))?;
        Ok(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
    })
}

/// ∇ₓ of log softmax(logits)[class] for each row (its own target class).
pub(crate) fn confidence_grad(
    model: &Model,
    x: &[f32],
    class: &[u32],
    precision: Precision,
) -> Result<(Vec<f64>, Vec<f32>), ModelError> {
    let d = model.input_dim();
    let n = x.len() / d;
    if let Some(g) = model.graph() {
        let (dx, lp) = match precision {
            Precision::F32 => graph_grad::<f32>(g, x, &class[..n], -1.0)?,
            Precision::F64 => graph_grad::<f64>(g, x, &class[..n], -1.0)?,
        };
        return Ok((dx, lp.iter().map(|v| v.exp() as f32).collect()));
    }
    let xv = Var::from_tensor(&rows_tensor(x, d, precision)?)?;
    let yl = labels_tensor(&class[..n])?;
    let l = model.logits(xv.as_tensor(), precision)?;
    let logp = ce_rows(&l, &yl)?.neg()?;
    let grads = logp.sum_all()?.backward()?;
    let g = grads
        .get(xv.as_tensor())
        .ok_or_else(|| ModelError::Unsupported("the model gives no input gradient".into()))?;
    let p = logp.exp()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    Ok((g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?, p))
}

/// Per-row log softmax at each row's class, from flat logits [n, c].
fn log_probs<T: Precise>(logits: &[T], c: usize, y: &[u32]) -> Vec<f64> {
    logits
        .chunks_exact(c)
        .zip(y)
        .map(|(row, &k)| {
            let r: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
            let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = r.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            r.get(k as usize).map_or(f64::NAN, |v| v - max - lse)
        })
        .collect()
}

/// Input gradient of a graph model for `rows` with row classes `y`: `dir` = 1 gives ∇ of
/// the summed cross-entropy (softmax − one-hot per row, as PyTorch's fused kernel),
/// `dir` = −1 gives ∇ of the summed log-probability of the class. Also returns each
/// row's log-probability of its class.
fn graph_grad<T: Precise>(
    g: &Graph,
    rows: &[f32],
    y: &[u32],
    dir: f64,
) -> Result<(Vec<f64>, Vec<f64>), ModelError> {
    let d: usize = g.input_shape().iter().product();
    let c = g.classes();
    let n = rows.len() / d.max(1);
    if y.len() != n {
        return Err(ModelError::Unsupported(format!(
            "{} labels for {n} rows",
            y.len()
        )));
    }
    let mut x = pool::take::<T>(rows.len());
    x.extend(rows.iter().map(|&v| T::from_f64(f64::from(v))));
    let tape = g.forward::<T>(x, n)?;
    let logits = tape.logits(g);
    let lp = log_probs(logits, c, y);
    let mut seed = Vec::with_capacity(n * c);
    for (row, &k) in logits.chunks_exact(c).zip(y) {
        let r: Vec<T> = row.to_vec();
        let max = r
            .iter()
            .map(|v| v.to_f64())
            .fold(f64::NEG_INFINITY, f64::max);
        let max = T::from_f64(max);
        let shifted: Vec<T> = r.iter().map(|v| *v - max).collect();
        let sum = shifted
            .iter()
            .map(|v| T::from_f64(v.to_f64().exp()))
            .fold(T::from_f64(0.0), |a, b| a + b);
        let lse = T::from_f64(sum.to_f64().ln());
        for (j, v) in shifted.iter().enumerate() {
            let p = T::from_f64((*v - lse).to_f64().exp());
            let hot = if j == k as usize {
                T::from_f64(1.0)
            } else {
                T::from_f64(0.0)
            };
            seed.push(T::from_f64(dir) * (p - hot));
        }
    }
    let (dx, _) = g.backward(&tape, seed, true, false)?;
    tape.recycle();
    let dx = dx.unwrap_or_default();
    let out = dx.iter().map(|v| v.to_f64()).collect();
    pool::give(dx);
    Ok((out, lp))
}
