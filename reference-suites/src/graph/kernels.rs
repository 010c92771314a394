//! Plain-slice kernels of the graph evaluator: im2col convolution, pooling with PyTorch's
//! tie rule, and matrix products through candle's gemm.
//!
//! Every kernel has a hand-written backward. The max pool records, per output, the index
//! of the FIRST maximal input in row-major window order (strict `>`; a NaN wins, as in
//! PyTorch's CPU kernel), and its backward sends the whole gradient there. Nothing here
//! depends on the thread count: products split over output blocks only.

use candle_core::{Device, Tensor, WithDType};

/// A float type the graph runs in (f32 or f64).
pub(crate) trait Real: WithDType {}
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

/// im2col for a stride-1 (or strided) convolution: `x` is [n, c, h, w]; the result is
/// [c·kh·kw, n·oh·ow] (row = (channel, ky, kx), column = (row, oy, ox)).
pub(crate) fn im2col<T: Real>(x: &[T], n: usize, c: usize, win: &Window) -> Vec<T> {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let cols_n = n * oh * ow;
    let mut cols = vec![zero::<T>(); c * win.kh * win.kw * cols_n];
    let plane = win.h * win.w;
    for ci in 0..c {
        for ky in 0..win.kh {
            for kx in 0..win.kw {
                let r = (ci * win.kh + ky) * win.kw + kx;
                let row = &mut cols[r * cols_n..(r + 1) * cols_n];
                for s in 0..n {
                    let src = &x[(s * c + ci) * plane..(s * c + ci + 1) * plane];
                    for oy in 0..oh {
                        let Some(iy) = Window::at(oy, ky, win.sh, win.pad[0], win.h) else {
                            continue;
                        };
                        let dst = &mut row[(s * oh + oy) * ow..(s * oh + oy + 1) * ow];
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
    cols
}

/// The adjoint of [`im2col`]: sums column gradients back into an [n, c, h, w] gradient.
pub(crate) fn col2im<T: Real>(cols: &[T], n: usize, c: usize, win: &Window) -> Vec<T> {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let cols_n = n * oh * ow;
    let plane = win.h * win.w;
    let mut dx = vec![zero::<T>(); n * c * plane];
    for ci in 0..c {
        for ky in 0..win.kh {
            for kx in 0..win.kw {
                let r = (ci * win.kh + ky) * win.kw + kx;
                let row = &cols[r * cols_n..(r + 1) * cols_n];
                for s in 0..n {
                    let dst = &mut dx[(s * c + ci) * plane..(s * c + ci + 1) * plane];
                    for oy in 0..oh {
                        let Some(iy) = Window::at(oy, ky, win.sh, win.pad[0], win.h) else {
                            continue;
                        };
                        let src = &row[(s * oh + oy) * ow..(s * oh + oy + 1) * ow];
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
    dx
}

/// Max pool over `planes` channel planes of [h, w]; returns the outputs and, per output,
/// the flat input index of the first maximal element (row-major window order, strict
/// `>`, a NaN wins). A window entirely in the padding yields −∞ and index `u32::MAX`.
pub(crate) fn max_pool<T: Real>(x: &[T], planes: usize, win: &Window) -> (Vec<T>, Vec<u32>) {
    let (oh, ow) = win.out().unwrap_or((0, 0));
    let plane = win.h * win.w;
    let mut out = Vec::with_capacity(planes * oh * ow);
    let mut idx = Vec::with_capacity(planes * oh * ow);
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    for p in 0..planes {
        let src = &x[p * plane..(p + 1) * plane];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = neg_inf;
                let mut at = u32::MAX;
                for ky in 0..win.kh {
                    let Some(iy) = Window::at(oy, ky, win.sh, win.pad[0], win.h) else {
                        continue;
                    };
                    for kx in 0..win.kw {
                        let Some(ix) = Window::at(ox, kx, win.sw, win.pad[1], win.w) else {
                            continue;
                        };
                        let i = iy * win.w + ix;
                        let v = src[i];
                        // PyTorch: `if val > maxval || isnan(val)`, maxval starting at −∞
                        // and the index at the window's first cell.
                        #[allow(clippy::eq_op)]
                        let nan = v != v;
                        let better = v > best || nan;
                        if at == u32::MAX || better {
                            at = u32::try_from(p * plane + i).unwrap_or(u32::MAX);
                        }
                        if better {
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

/// Backward of [`max_pool`]: each output gradient goes to its recorded input.
pub(crate) fn max_pool_back<T: Real>(g: &[T], idx: &[u32], len: usize) -> Vec<T> {
    let mut dx = vec![zero::<T>(); len];
    for (gv, &i) in g.iter().zip(idx) {
        if let Some(d) = dx.get_mut(i as usize) {
            *d += *gv;
        }
    }
    dx
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

    #[test]
    fn a_tied_max_pool_window_sends_the_gradient_to_its_first_element_in_row_major_order() {
        // One 2×2 window whose maximum 1.0 appears at (0,1), (1,0) and (1,1).
        let x = [0.5f32, 1.0, 1.0, 1.0];
        let (out, idx) = max_pool(&x, 1, &win2(2, 2));
        assert_eq!(out, vec![1.0]);
        assert_eq!(idx, vec![1]);
        assert_eq!(max_pool_back(&[2.0f32], &idx, 4), vec![0.0, 2.0, 0.0, 0.0]);
        // All four equal (a constant background after ReLU): the gradient goes to (0,0).
        let (_, idx) = max_pool(&[0.0f32; 4], 1, &win2(2, 2));
        assert_eq!(max_pool_back(&[1.0f32], &idx, 4), vec![1.0, 0.0, 0.0, 0.0]);
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
        let cols = im2col(&x, 2, 2, &win);
        let g: Vec<f64> = (0..cols.len()).map(|i| (i % 7) as f64 - 2.5).collect();
        let back = col2im(&g, 2, 2, &win);
        let lhs: f64 = cols.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
    }
}
