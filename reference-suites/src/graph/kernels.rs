//! Plain-slice kernels of the graph evaluator: im2col convolution, pooling with PyTorch's
//! tie rule, and matrix products through candle's gemm.
//!
//! Every kernel has a hand-written backward. The max pool records, per output, the index
//! of the FIRST maximal input in row-major window order (strict `>`; a NaN wins, as in
//! PyTorch's CPU kernel), and its backward sends the whole gradient there. Nothing here
//! depends on the thread count: products split over output blocks only.

use candle_core::{Device, Tensor, WithDType};

/// A float type the graph runs in (f32 or f64).
pub(crate) trait Real: WithDType + super::pool::Pooled {}
impl Real for f32 {}
impl Real for f64 {}

pub(crate) fn zero<T: Real>() -> T {
    T::from_f64(0.0)
}

/// `a · b` where `a` is [m, k] (stored [k, m] when `ta`) and `b` is [k, n] (stored
/// [n, k] when `tb`); the result is [m, n] row-major.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul<T: Real>(
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    m: usize,
    k: usize,
    n: usize,
) -> candle_core::Result<Vec<T>> {
    let dev = Device::Cpu;
    let at = if ta {
        Tensor::from_slice(a, (k, m), &dev)?.t()?
    } else {
        Tensor::from_slice(a, (m, k), &dev)?
    };
    let bt = if tb {
        Tensor::from_slice(b, (n, k), &dev)?.t()?
    } else {
        Tensor::from_slice(b, (k, n), &dev)?
    };
    at.matmul(&bt)?.flatten_all()?.to_vec1::<T>()
}

/// Geometry of a 2-D window operation on one channel plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    /// Padding top, left, bottom, right.
    pub(crate) pad: [usize; 4],
    pub(crate) h: usize,
    pub(crate) w: usize,
}

impl Window {
    /// Output height and width, or `None` if the window does not fit.
    pub(crate) fn out(&self) -> Option<(usize, usize)> {
        let ph = self.h + self.pad[0] + self.pad[2];
        let pw = self.w + self.pad[1] + self.pad[3];
        if self.kh == 0 || self.kw == 0 || self.sh == 0 || self.sw == 0 {
            return None;
        }
        if ph < self.kh || pw < self.kw {
            return None;
        }
        Some(((ph - self.kh) / self.sh + 1, (pw - self.kw) / self.sw + 1))
    }

    /// For stride 1 along the width: the outputs `lo..hi` whose input column for kernel
    /// column `kx` lies inside the row (one contiguous run), or `None` for other strides.
    fn unit_span(&self, kx: usize, ow: usize) -> Option<(usize, usize)> {
        if self.sw != 1 {
            return None;
        }
        let lo = self.pad[1].saturating_sub(kx).min(ow);
        let hi = (self.w + self.pad[1]).saturating_sub(kx).min(ow).max(lo);
        Some((lo, hi))
    }

    /// Input coordinate of output `o` and kernel offset `k` along an axis, if inside.
    fn at(o: usize, k: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        (o * stride + k).checked_sub(pad).filter(|&i| i < size)
    }
}

/// Appends the im2col columns of ONE image to `cols`: `x` is [c, h, w]; the block appended
/// is [c·kh·kw, oh·ow] (row = (channel, ky, kx), column = (oy, ox)), zero in the padding.
pub(crate) fn im2col<T: Real>(x: &[T], c: usize, win: &Window, cols: &mut Vec<T>) {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let ohw = oh * ow;
    let base = cols.len();
    cols.resize(base + c * win.kh * win.kw * ohw, zero::<T>());
    let cols = &mut cols[base..];
    let plane = win.h * win.w;
    for ci in 0..c {
        let src = &x[ci * plane..(ci + 1) * plane];
        for ky in 0..win.kh {
            for kx in 0..win.kw {
                let r = (ci * win.kh + ky) * win.kw + kx;
                let row = &mut cols[r * ohw..(r + 1) * ohw];
                for oy in 0..oh {
                    let Some(iy) = Window::at(oy, ky, win.sh, win.pad[0], win.h) else {
                        continue;
                    };
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    if let Some((lo, hi)) = win.unit_span(kx, ow) {
                        let at = iy * win.w + lo + kx - win.pad[1];
                        dst[lo..hi].copy_from_slice(&src[at..at + hi - lo]);
                        continue;
                    }
                    for (ox, d) in dst.iter_mut().enumerate() {
                        if let Some(ix) = Window::at(ox, kx, win.sw, win.pad[1], win.w) {
                            *d = src[iy * win.w + ix];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`] for one image: adds the column gradients `cols`
/// [c·kh·kw, oh·ow] into the image gradient `dx` [c, h, w].
pub(crate) fn col2im<T: Real>(cols: &[T], c: usize, win: &Window, dx: &mut [T]) {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let ohw = oh * ow;
    let plane = win.h * win.w;
    for ci in 0..c {
        let dst = &mut dx[ci * plane..(ci + 1) * plane];
        for ky in 0..win.kh {
            for kx in 0..win.kw {
                let r = (ci * win.kh + ky) * win.kw + kx;
                let row = &cols[r * ohw..(r + 1) * ohw];
                for oy in 0..oh {
                    let Some(iy) = Window::at(oy, ky, win.sh, win.pad[0], win.h) else {
                        continue;
                    };
                    let src = &row[oy * ow..(oy + 1) * ow];
                    if let Some((lo, hi)) = win.unit_span(kx, ow) {
                        let at = iy * win.w + lo + kx - win.pad[1];
                        for (d, v) in dst[at..at + hi - lo].iter_mut().zip(&src[lo..hi]) {
                            *d += *v;
                        }
                        continue;
                    }
                    for (ox, v) in src.iter().enumerate() {
                        if let Some(ix) = Window::at(ox, kx, win.sw, win.pad[1], win.w) {
                            dst[iy * win.w + ix] += *v;
                        }
                    }
                }
            }
        }
    }
}

/// The inputs `lo..hi` along one axis that output `o` of a window reads (kernel `k`,
/// stride `s`, leading padding `pad`, input size `size`); empty if all in the padding.
fn span(o: usize, k: usize, s: usize, pad: usize, size: usize) -> (usize, usize) {
    let start = o * s;
    let lo = start.saturating_sub(pad).min(size);
    let hi = (start + k).saturating_sub(pad).min(size).max(lo);
    (lo, hi)
}

/// Max pool over `planes` channel planes of [h, w]; appends the outputs to `out` and, per
/// output, the flat input index of the first maximal element (row-major window order,
/// strict `>`, a NaN wins) to `idx`. A window entirely in the padding yields −∞ and index
/// `u32::MAX`.
///
/// A row of outputs is done together: each starts at its window's first cell (the same as
/// PyTorch's start at −∞ with the index at the first cell), then every later cell of the
/// window, in row-major order, updates all outputs of the row. The update is a select
/// with no dependence between neighbouring outputs: ties are frequent and a branch on
/// them mispredicts.
pub(crate) fn max_pool<T: Real>(
    x: &[T],
    planes: usize,
    win: &Window,
    out: &mut Vec<T>,
    idx: &mut Vec<u32>,
) {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let plane = win.h * win.w;
    if plane == 0 {
        return;
    }
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    let cols: Vec<(usize, usize)> = (0..ow)
        .map(|ox| span(ox, win.kw, win.sw, win.pad[1], win.w))
        .collect();
    let flat = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    for p in 0..planes {
        let src = &x[p * plane..(p + 1) * plane];
        for oy in 0..oh {
            let (ylo, yhi) = span(oy, win.kh, win.sh, win.pad[0], win.h);
            let first = out.len();
            for &(xlo, xhi) in &cols {
                if ylo == yhi || xlo == xhi {
                    out.push(neg_inf);
                    idx.push(u32::MAX);
                } else {
                    out.push(src[ylo * win.w + xlo]);
                    idx.push(flat(p * plane + ylo * win.w + xlo));
                }
            }
            let best = &mut out[first..];
            let at = &mut idx[first..];
            // No left padding and every window inside the row (PyTorch's MaxPool2d(k)
            // without padding): no cell needs a bounds test.
            let inner = win.pad[1] == 0
                && (ow.saturating_sub(1) * win.sw + win.kw) <= win.w
                && u32::try_from((p + 1) * plane + win.sw).is_ok();
            if inner {
                for iy in ylo..yhi {
                    let row = &src[iy * win.w..(iy + 1) * win.w];
                    let row_at = flat(p * plane + iy * win.w);
                    for kx in 0..win.kw {
                        let cells = row[kx..].iter().step_by(win.sw);
                        let mut ix = row_at + kx as u32;
                        for ((b, a), &v) in best.iter_mut().zip(at.iter_mut()).zip(cells) {
                            #[allow(clippy::eq_op)]
                            let take = (v > *b) | (v != v);
                            *b = if take { v } else { *b };
                            *a = if take { ix } else { *a };
                            ix += win.sw as u32;
                        }
                    }
                }
                continue;
            }
            for iy in ylo..yhi {
                let row = &src[iy * win.w..(iy + 1) * win.w];
                let row_at = p * plane + iy * win.w;
                for kx in 0..win.kw {
                    for (ox, (b, a)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                        // Input column of cell kx; outside the row when it wraps below 0
                        // or passes the width (then read a valid cell and ignore it).
                        let ix = (ox * win.sw + kx).wrapping_sub(win.pad[1]);
                        let inside = ix < win.w;
                        let v = row[ix.min(win.w - 1)];
                        // PyTorch: `if val > maxval || isnan(val)`.
                        #[allow(clippy::eq_op)]
                        let take = inside & ((v > *b) | (v != v));
                        *b = if take { v } else { *b };
                        *a = if take { flat(row_at + ix) } else { *a };
                    }
                }
            }
        }
    }
}

/// Backward of [`max_pool`]: each output gradient is added at its recorded input in `dx`.
pub(crate) fn max_pool_back<T: Real>(g: &[T], idx: &[u32], dx: &mut [T]) {
    for (gv, &i) in g.iter().zip(idx) {
        if let Some(d) = dx.get_mut(i as usize) {
            *d += *gv;
        }
    }
}

/// Average pool (ONNX `count_include_pad` decides the divisor at the borders).
pub(crate) fn avg_pool<T: Real>(
    x: &[T],
    planes: usize,
    win: &Window,
    include_pad: bool,
    back: bool,
) -> Vec<T> {
    // Forward: x is [planes, h, w] → [planes, oh, ow]. Backward: x is the output
    // gradient [planes, oh, ow] → [planes, h, w].
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let plane = win.h * win.w;
    let mut out = vec![zero::<T>(); planes * if back { plane } else { oh * ow }];
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut cells = Vec::with_capacity(win.kh * win.kw);
                for ky in 0..win.kh {
                    for kx in 0..win.kw {
                        let iy = Window::at(oy, ky, win.sh, win.pad[0], win.h);
                        let ix = Window::at(ox, kx, win.sw, win.pad[1], win.w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            cells.push(p * plane + iy * win.w + ix);
                        }
                    }
                }
                let count = if include_pad {
                    win.kh * win.kw
                } else {
                    cells.len().max(1)
                };
                let inv = T::from_f64(1.0 / count as f64);
                let o = (p * oh + oy) * ow + ox;
                if back {
                    for &c in &cells {
                        out[c] += x[o] * inv;
                    }
                } else {
                    let mut s = zero::<T>();
                    for &c in &cells {
                        s += x[c];
                    }
                    out[o] = s * inv;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win2(h: usize, w: usize) -> Window {
        Window {
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pad: [0; 4],
            h,
            w,
        }
    }

    fn pool(x: &[f32], planes: usize, win: &Window) -> (Vec<f32>, Vec<u32>) {
        let (mut out, mut idx) = (Vec::new(), Vec::new());
        max_pool(x, planes, win, &mut out, &mut idx);
        (out, idx)
    }

    #[test]
    fn a_max_pool_window_in_the_padding_takes_only_its_inside_cells_and_a_nan_wins() {
        // 3×3 plane, 2×2 windows, stride 2, padding 1 on every side: 2×2 outputs whose
        // windows hold 1, 2, 2 and 4 cells of the plane.
        let win = Window {
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pad: [1; 4],
            h: 3,
            w: 3,
        };
        let x = [-5.0f32, 1.0, 1.0, 3.0, 3.0, f32::NAN, 2.0, 2.0, 0.5];
        let (out, idx) = pool(&x, 1, &win);
        assert_eq!(idx, vec![0, 1, 3, 5]);
        assert_eq!(out[..3], [-5.0, 1.0, 3.0]);
        assert!(out[3].is_nan());
    }

    /// PyTorch's rule cell by cell, for comparison with the row-at-a-time kernel.
    fn naive_pool(x: &[f32], planes: usize, win: &Window) -> (Vec<f32>, Vec<u32>) {
        let (oh, ow) = win.out().unwrap_or((0, 0));
        let (mut out, mut idx) = (Vec::new(), Vec::new());
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut best, mut at) = (f32::NEG_INFINITY, u32::MAX);
                    for ky in 0..win.kh {
                        for kx in 0..win.kw {
                            let iy = Window::at(oy, ky, win.sh, win.pad[0], win.h);
                            let ix = Window::at(ox, kx, win.sw, win.pad[1], win.w);
                            let (Some(iy), Some(ix)) = (iy, ix) else {
                                continue;
                            };
                            let i = p * win.h * win.w + iy * win.w + ix;
                            let v = x[i];
                            if at == u32::MAX || v > best || v.is_nan() {
                                at = i as u32;
                            }
                            if v > best || v.is_nan() {
                                best = v;
                            }
                        }
                    }
                    out.push(best);
                    idx.push(at);
                }
            }
        }
        (out, idx)
    }

    #[test]
    fn max_pool_picks_the_same_cells_as_the_cell_by_cell_rule_with_and_without_padding() {
        // Values from a small set, so most windows hold ties; one NaN and one −∞.
        let mut x: Vec<f32> = (0..3 * 7 * 9).map(|i| ((i * 7) % 5) as f32).collect();
        x[40] = f32::NAN;
        x[100] = f32::NEG_INFINITY;
        for (k, s, pad) in [
            (2, 2, [0; 4]),
            (3, 2, [0; 4]),
            (3, 1, [1; 4]),
            (2, 2, [1, 0, 1, 1]),
        ] {
            let win = Window {
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                pad,
                h: 7,
                w: 9,
            };
            let (out, idx) = pool(&x, 3, &win);
            let (want_out, want_idx) = naive_pool(&x, 3, &win);
            assert_eq!(idx, want_idx, "window {k} stride {s} padding {pad:?}");
            let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
            assert!(out.iter().zip(&want_out).all(|(a, b)| same(*a, *b)));
        }
    }

    #[test]
    fn a_tied_max_pool_window_sends_the_gradient_to_its_first_element_in_row_major_order() {
        // One 2×2 window whose maximum 1.0 appears at (0,1), (1,0) and (1,1).
        let x = [0.5f32, 1.0, 1.0, 1.0];
        let (out, idx) = pool(&x, 1, &win2(2, 2));
        assert_eq!(out, vec![1.0]);
        assert_eq!(idx, vec![1]);
        let mut dx = [0.0f32; 4];
        max_pool_back(&[2.0f32], &idx, &mut dx);
        assert_eq!(dx, [0.0, 2.0, 0.0, 0.0]);
        // All four equal (a constant background after ReLU): the gradient goes to (0,0).
        let (_, idx) = pool(&[0.0f32; 4], 1, &win2(2, 2));
        let mut dx = [0.0f32; 4];
        max_pool_back(&[1.0f32], &idx, &mut dx);
        assert_eq!(dx, [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let win = Window {
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            pad: [1; 4],
            h: 4,
            w: 5,
        };
        let x: Vec<f64> = (0..2 * 2 * 20).map(|i| f64::from(i) * 0.37 - 3.0).collect();
        let mut cols = Vec::new();
        for img in x.chunks_exact(2 * 20) {
            im2col(img, 2, &win, &mut cols);
        }
        let g: Vec<f64> = (0..cols.len()).map(|i| (i % 7) as f64 - 2.5).collect();
        let mut back = vec![0.0; x.len()];
        for (gc, dx) in g
            .chunks_exact(cols.len() / 2)
            .zip(back.chunks_exact_mut(2 * 20))
        {
            col2im(gc, 2, &win, dx);
        }
        let lhs: f64 = cols.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
    }
}
