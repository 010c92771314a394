//! Convolution of the graph evaluator in small groups of images.
//!
//! A group of images is unrolled by im2col into one buffer of about half a megabyte (it
//! stays in the core's cache), then one batched product multiplies the weight [o, c·k·k]
//! with every image's columns [c·k·k, oh·ow] and gives the output directly in NCHW order.
//! The backward does the same: the input gradient is Wᵀ times the output gradient, folded
//! back by col2im; the weight gradient, only when training asks for it, unrolls the group
//! again instead of keeping every image's columns from the forward pass. The group size
//! depends only on the layer's shape, never on the thread count.

use candle_core::{Device, Storage, Tensor};

use super::{
    kernels::{Real, Window, col2im, im2col, zero},
    pool,
};

/// Target size of one group's im2col columns, in elements.
const GROUP_ELEMS: usize = 1 << 17;

/// The shape of one convolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvShape {
    pub(crate) cin: usize,
    pub(crate) cout: usize,
    pub(crate) win: Window,
}

impl ConvShape {
    /// Rows of the im2col columns (c·kh·kw) and output pixels per channel (oh·ow).
    fn dims(&self) -> (usize, usize) {
        let (oh, ow) = self.win.out().unwrap_or((0, 0));
        (self.cin * self.win.kh * self.win.kw, oh * ow)
    }

    /// Images per group.
    fn group(&self) -> usize {
        let (ckk, ohw) = self.dims();
        (GROUP_ELEMS / (ckk * ohw).max(1)).max(1)
    }

    fn in_row(&self) -> usize {
        self.cin * self.win.h * self.win.w
    }
}

/// Calls `f` with the values of a contiguous CPU tensor, without copying them.
fn with_values<T: Real, R>(t: &Tensor, f: impl FnOnce(&[T]) -> R) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(candle_core::Error::Msg(
            "graph tensors live on the CPU".into(),
        ));
    };
    let all = cpu.as_slice::<T>()?;
    let (a, b) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("a product gave a strided tensor".into()))?;
    Ok(f(&all[a..b]))
}

/// Forward: `x` [n, cin, h, w] → [n, cout, oh, ow] (a pooled buffer).
pub(crate) fn forward<T: Real>(
    s: &ConvShape,
    x: &[T],
    n: usize,
    w: &[T],
    b: Option<&[T]>,
) -> candle_core::Result<Vec<T>> {
    let (ckk, ohw) = s.dims();
    let group = s.group();
    let dev = Device::Cpu;
    let wt = Tensor::from_slice(w, (s.cout, ckk), &dev)?;
    let mut y = pool::take::<T>(n * s.cout * ohw);
    let mut cols = pool::take::<T>(group.min(n) * ckk * ohw);
    for first in (0..n).step_by(group) {
        let m = group.min(n - first);
        cols.clear();
        for img in x[first * s.in_row()..(first + m) * s.in_row()].chunks_exact(s.in_row()) {
            im2col(img, s.cin, &s.win, &mut cols);
        }
        let rhs = Tensor::from_slice(&cols, (m, ckk, ohw), &dev)?;
        let out = wt.broadcast_as((m, s.cout, ckk))?.matmul(&rhs)?;
        with_values(&out, |o: &[T]| {
            for (c, ch) in o.chunks_exact(ohw).enumerate() {
                let bias = b.map_or(zero::<T>(), |b| b[c % s.cout]);
                y.extend(ch.iter().map(|v| *v + bias));
            }
        })?;
    }
    pool::give(cols);
    Ok(y)
}

/// Backward from the output gradient `g` [n, cout, oh, ow]: the input gradient (a pooled
/// buffer) if `want_dx`, and, if `grads` is given, the weight and bias gradients added
/// into it (`x` is the forward input).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    s: &ConvShape,
    x: &[T],
    g: &[T],
    n: usize,
    w: &[T],
    want_dx: bool,
    grads: Option<(&mut [T], Option<&mut [T]>)>,
) -> candle_core::Result<Option<Vec<T>>> {
    let (ckk, ohw) = s.dims();
    let group = s.group();
    let dev = Device::Cpu;
    let wt = Tensor::from_slice(w, (s.cout, ckk), &dev)?;
    let out_row = s.cout * ohw;
    let mut dx = want_dx.then(|| pool::filled(n * s.in_row(), zero::<T>()));
    let mut cols = pool::take::<T>(if grads.is_some() {
        group.min(n) * ckk * ohw
    } else {
        0
    });
    let mut grads = grads;
    for first in (0..n).step_by(group) {
        let m = group.min(n - first);
        let gg = &g[first * out_row..(first + m) * out_row];
        let gt = Tensor::from_slice(gg, (m, s.cout, ohw), &dev)?;
        if let Some(dx) = dx.as_mut() {
            let dcols = wt.t()?.broadcast_as((m, ckk, s.cout))?.matmul(&gt)?;
            let dxg = &mut dx[first * s.in_row()..(first + m) * s.in_row()];
            with_values(&dcols, |d: &[T]| {
                for (dc, di) in d
                    .chunks_exact(ckk * ohw)
                    .zip(dxg.chunks_exact_mut(s.in_row()))
                {
                    col2im(dc, s.cin, &s.win, di);
                }
            })?;
        }
        if let Some((dw, db)) = grads.as_mut() {
            cols.clear();
            for img in x[first * s.in_row()..(first + m) * s.in_row()].chunks_exact(s.in_row()) {
                im2col(img, s.cin, &s.win, &mut cols);
            }
            let ct = Tensor::from_slice(&cols, (m, ckk, ohw), &dev)?;
            let per_image = gt.matmul(&ct.transpose(1, 2)?)?;
            with_values(&per_image, |p: &[T]| {
                for img in p.chunks_exact(s.cout * ckk) {
                    for (a, v) in dw.iter_mut().zip(img) {
                        *a += *v;
                    }
                }
            })?;
            if let Some(db) = db.as_mut() {
                for (c, ch) in gg.chunks_exact(ohw).enumerate() {
                    let mut sum = zero::<T>();
                    for v in ch {
                        sum += *v;
                    }
                    db[c % s.cout] += sum;
                }
            }
        }
    }
    pool::give(cols);
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, its input gradient and its weight gradient, by the definition.
    #[allow(clippy::type_complexity, clippy::needless_range_loop)]
    fn direct(
        s: &ConvShape,
        x: &[f64],
        n: usize,
        w: &[f64],
        bias: &[f64],
        g: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let win = s.win;
        let (oh, ow) = win.out().unwrap_or((0, 0));
        let (mut y, mut dx, mut dw) = (
            vec![0.0; n * s.cout * oh * ow],
            vec![0.0; x.len()],
            vec![0.0; w.len()],
        );
        for img in 0..n {
            for o in 0..s.cout {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((img * s.cout + o) * oh + oy) * ow + ox;
                        y[yi] = bias[o];
                        for c in 0..s.cin {
                            for ky in 0..win.kh {
                                for kx in 0..win.kw {
                                    let iy = (oy * win.sh + ky).checked_sub(win.pad[0]);
                                    let ix = (ox * win.sw + kx).checked_sub(win.pad[1]);
                                    let (Some(iy), Some(ix)) = (iy, ix) else {
                                        continue;
                                    };
                                    if iy >= win.h || ix >= win.w {
                                        continue;
                                    }
                                    let xi = ((img * s.cin + c) * win.h + iy) * win.w + ix;
                                    let wi = ((o * s.cin + c) * win.kh + ky) * win.kw + kx;
                                    y[yi] += w[wi] * x[xi];
                                    dx[xi] += w[wi] * g[yi];
                                    dw[wi] += x[xi] * g[yi];
                                }
                            }
                        }
                    }
                }
            }
        }
        (y, dx, dw)
    }

    #[test]
    fn grouped_convolution_equals_the_direct_one_forward_and_backward_across_groups() {
        // 13 images of 2×48×48: groups of 3 images with stride 1 and padding 1, of 12 with
        // stride 2 and uneven padding; both end in a partial group.
        for (sh, pad) in [(1, [1, 1, 1, 1]), (2, [0, 1, 1, 0])] {
            let s = ConvShape {
                cin: 2,
                cout: 3,
                win: Window {
                    kh: 3,
                    kw: 3,
                    sh,
                    sw: sh,
                    pad,
                    h: 48,
                    w: 48,
                },
            };
            let n = 13;
            let x: Vec<f64> = (0..n * s.in_row())
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let w: Vec<f64> = (0..3 * 2 * 9).map(|i| (i as f64 * 0.71).cos()).collect();
            let bias = [0.1, -0.2, 0.3];
            let (oh, ow) = s.win.out().unwrap_or((0, 0));
            let g: Vec<f64> = (0..n * 3 * oh * ow)
                .map(|i| (i as f64 * 0.13).sin())
                .collect();
            let (y0, dx0, dw0) = direct(&s, &x, n, &w, &bias, &g);
            let y = forward(&s, &x, n, &w, Some(&bias)).unwrap();
            let mut dw = vec![0.0; w.len()];
            let mut db = vec![0.0; 3];
            let dx = backward(&s, &x, &g, n, &w, true, Some((&mut dw, Some(&mut db))))
                .unwrap()
                .unwrap();
            let close = |a: &[f64], b: &[f64]| {
                a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-9)
            };
            assert!(s.group() > 1 && s.group() < n, "the test must span groups");
            assert!(close(&y, &y0), "forward differs (stride {sh})");
            assert!(close(&dx, &dx0), "input gradient differs (stride {sh})");
            assert!(close(&dw, &dw0), "weight gradient differs (stride {sh})");
            for (o, got) in db.iter().enumerate() {
                let want: f64 = g.chunks_exact(oh * ow).skip(o).step_by(3).flatten().sum();
                assert!(
                    (got - want).abs() < 1e-9,
                    "bias gradient {o}: {got} vs {want}"
                );
            }
        }
    }
}
