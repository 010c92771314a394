//! A feed-forward graph of image-classifier operators with exact hand-written gradients.
//!
//! ONNX files ([`crate::onnx`]) and PyTorch `nn.Sequential` state dicts
//! ([`spec::SequentialSpec`]) both load into a [`Graph`]: one activation input with a
//! fixed per-row shape (NCHW images or flat features) and a dynamic batch, nodes in
//! topological order, weights as parameters. The forward pass records what the backward
//! needs (im2col columns, max-pool winners); the backward gives the input gradient and,
//! for training, the parameter gradients. The gradient rules are PyTorch's: ReLU'(0) = 0,
//! and a max pool routes its gradient to the first maximal element of a window in
//! row-major order.

mod conv;
pub(crate) mod fit;
pub(crate) mod kernels;
pub(crate) mod pool;
pub(crate) mod spec;

use conv::ConvShape;
use kernels::{Real, Window, avg_pool, matmul, max_pool, max_pool_back, zero};

/// Largest sum of per-row element counts over all activations (and im2col columns) of a
/// graph; with 128 rows per chunk this bounds a chunk's working memory to about 0.5 GB.
pub(crate) const MAX_ROW_ELEMS: usize = 1 << 20;
/// Most nodes a graph may have.
pub(crate) const MAX_NODES: usize = 4096;

/// One operation on activations. Weights are indices into [`Graph::params`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// 2-D convolution (cross-correlation), group 1, dilation 1: weight [o, c, kh, kw].
    Conv {
        w: usize,
        b: Option<usize>,
        win: Window,
        cin: usize,
        cout: usize,
    },
    /// Max pool with PyTorch's first-maximum rule.
    MaxPool { win: Window, planes: usize },
    /// Average pool.
    AvgPool {
        win: Window,
        planes: usize,
        include_pad: bool,
    },
    /// Per-channel affine map `x·scale[c] + shift[c]` (inference batch norm; not trained).
    Affine {
        scale: Vec<f32>,
        shift: Vec<f32>,
        channels: usize,
        plane: usize,
    },
    /// ReLU with gradient 0 at 0.
    Relu,
    /// `y = x·Wᵀ + b`, weight [out, in].
    Dense {
        w: usize,
        b: Option<usize>,
        inp: usize,
        out: usize,
    },
    /// Adds a parameter of the row's shape (broadcast over the batch).
    AddParam { p: usize },
    /// Adds two activations of the same shape.
    Add,
    /// A view change that keeps the data (Flatten, Reshape, Identity, Dropout).
    View,
}

/// A node: an op, its activation inputs (value ids) and its output value id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) inputs: Vec<usize>,
    pub(crate) name: String,
}

/// A named parameter tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

/// A loaded graph. Value 0 is the input; node `i` writes value `i + 1`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Graph {
    pub(crate) params: Vec<Param>,
    params64: Vec<Vec<f64>>,
    pub(crate) nodes: Vec<Node>,
    /// Per-row shape of every value.
    pub(crate) shapes: Vec<Vec<usize>>,
    /// Value holding the logits.
    pub(crate) output: usize,
}

/// What the forward pass keeps for the backward (a convolution keeps nothing: its
/// weight gradient unrolls the input again, see [`conv`]).
enum Aux {
    None,
    Argmax(Vec<u32>),
}

/// A forward pass over `n` rows.
pub(crate) struct Tape<T> {
    n: usize,
    vals: Vec<Vec<T>>,
    aux: Vec<Aux>,
}

impl<T: Real> Tape<T> {
    /// The logits [n, classes].
    pub(crate) fn logits(&self, g: &Graph) -> &[T] {
        &self.vals[g.output]
    }

    /// Gives the tape's buffers back to this thread's pool for the next pass.
    pub(crate) fn recycle(self) {
        for v in self.vals {
            pool::give(v);
        }
        for a in self.aux {
            if let Aux::Argmax(idx) = a {
                pool::give(idx);
            }
        }
    }
}

/// The input gradient (if asked for) and the parameter gradients (empty if not).
pub(crate) type Grads<T> = (Option<Vec<T>>, Vec<Vec<T>>);

/// Parameters in the precision of a pass.
pub(crate) trait Precise: Real {
    fn params(g: &Graph) -> Vec<&[Self]>;
}
impl Precise for f32 {
    fn params(g: &Graph) -> Vec<&[f32]> {
        g.params.iter().map(|p| p.data.as_slice()).collect()
    }
}
impl Precise for f64 {
    fn params(g: &Graph) -> Vec<&[f64]> {
        g.params64.iter().map(Vec::as_slice).collect()
    }
}

fn cerr(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

impl Graph {
    /// Builds a graph; shapes must already be checked by the loader.
    pub(crate) fn new(
        params: Vec<Param>,
        nodes: Vec<Node>,
        shapes: Vec<Vec<usize>>,
        output: usize,
    ) -> Self {
        let params64 = params
            .iter()
            .map(|p| p.data.iter().map(|&v| f64::from(v)).collect())
            .collect();
        Graph {
            params,
            params64,
            nodes,
            shapes,
            output,
        }
    }

    /// Per-row input shape.
    pub(crate) fn input_shape(&self) -> &[usize] {
        &self.shapes[0]
    }

    /// Number of classes.
    pub(crate) fn classes(&self) -> usize {
        self.shapes[self.output].iter().product()
    }

    /// The same graph with new f32 parameter values (same shapes, in order).
    pub(crate) fn with_params(&self, data: Vec<Vec<f32>>) -> Self {
        let params = self
            .params
            .iter()
            .zip(data)
            .map(|(p, d)| Param {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data: d,
            })
            .collect();
        Graph::new(params, self.nodes.clone(), self.shapes.clone(), self.output)
    }

    fn row(&self, v: usize) -> usize {
        self.shapes[v].iter().product()
    }

    /// Forward pass over `n` rows of `x` (flattened [n, input shape]).
    pub(crate) fn forward<T: Precise>(&self, x: Vec<T>, n: usize) -> candle_core::Result<Tape<T>> {
        let params = T::params(self);
        let mut vals = Vec::with_capacity(self.nodes.len() + 1);
        let mut aux = Vec::with_capacity(self.nodes.len());
        if x.len() != n * self.row(0) {
            return Err(cerr(format!(
                "input has {} values, expected {n} rows of {}",
                x.len(),
                self.row(0)
            )));
        }
        vals.push(x);
        for (i, node) in self.nodes.iter().enumerate() {
            let xin: &Vec<T> = &vals[node.inputs[0]];
            let out_row = self.row(i + 1);
            let (y, a) = match &node.op {
                Op::Conv {
                    w,
                    b,
                    win,
                    cin,
                    cout,
                } => {
                    let shape = ConvShape {
                        cin: *cin,
                        cout: *cout,
                        win: *win,
                    };
                    let bias = b.map(|b| params[b]);
                    (conv::forward(&shape, xin, n, params[*w], bias)?, Aux::None)
                }
                Op::MaxPool { win, planes } => {
                    let mut y = pool::take(n * out_row);
                    let mut idx = pool::take(n * out_row);
                    max_pool(xin, n * planes, win, &mut y, &mut idx);
                    (y, Aux::Argmax(idx))
                }
                Op::AvgPool {
                    win,
                    planes,
                    include_pad,
                } => (
                    avg_pool(xin, n * planes, win, *include_pad, false),
                    Aux::None,
                ),
                Op::Affine {
                    scale,
                    shift,
                    channels,
                    plane,
                } => {
                    let mut y = pool::copied(xin);
                    for (j, v) in y.iter_mut().enumerate() {
                        let c = (j / plane) % channels;
                        *v = *v * T::from_f64(f64::from(scale[c]))
                            + T::from_f64(f64::from(shift[c]));
                    }
                    (y, Aux::None)
                }
                Op::Relu => {
                    let mut y = pool::filled(xin.len(), zero());
                    for (d, &v) in y.iter_mut().zip(xin) {
                        *d = if v > zero() { v } else { zero() };
                    }
                    (y, Aux::None)
                }
                Op::Dense { w, b, inp, out } => {
                    let mut y = matmul(xin, false, params[*w], true, n, *inp, *out)?;
                    if let Some(b) = b {
                        for row in y.chunks_exact_mut(*out) {
                            for (v, bv) in row.iter_mut().zip(params[*b]) {
                                *v += *bv;
                            }
                        }
                    }
                    (y, Aux::None)
                }
                Op::AddParam { p } => {
                    let mut y = pool::copied(xin);
                    for row in y.chunks_exact_mut(out_row) {
                        for (v, pv) in row.iter_mut().zip(params[*p]) {
                            *v += *pv;
                        }
                    }
                    (y, Aux::None)
                }
                Op::Add => {
                    let other = &vals[node.inputs[1]];
                    let mut y = pool::take(xin.len());
                    y.extend(xin.iter().zip(other).map(|(a, b)| *a + *b));
                    (y, Aux::None)
                }
                Op::View => (pool::copied(xin), Aux::None),
            };
            vals.push(y);
            aux.push(a);
        }
        Ok(Tape { n, vals, aux })
    }

    /// Backward pass from the logits' gradient. Returns the input gradient (if
    /// `want_input`) and the parameter gradients (if `want_params`, else empty).
    pub(crate) fn backward<T: Precise>(
        &self,
        tape: &Tape<T>,
        dlogits: Vec<T>,
        want_input: bool,
        want_params: bool,
    ) -> candle_core::Result<Grads<T>> {
        let params = T::params(self);
        let n = tape.n;
        let mut pgrads: Vec<Vec<T>> = if want_params {
            self.params
                .iter()
                .map(|p| vec![zero::<T>(); p.data.len()])
                .collect()
        } else {
            Vec::new()
        };
        let mut grads: Vec<Option<Vec<T>>> = vec![None; tape.vals.len()];
        grads[self.output] = Some(dlogits);
        for (i, node) in self.nodes.iter().enumerate().rev() {
            let Some(mut g) = grads[i + 1].take() else {
                continue;
            };
            let src = node.inputs[0];
            // The input gradient of the first node is needed only for the input itself.
            let need_dx = src != 0 || want_input;
            let xin = &tape.vals[src];
            let dx: Option<Vec<T>> = match &node.op {
                Op::Conv {
                    w,
                    b,
                    win,
                    cin,
                    cout,
                } => {
                    let shape = ConvShape {
                        cin: *cin,
                        cout: *cout,
                        win: *win,
                    };
                    let (dx, dw, db) = if want_params {
                        let mut dw = vec![zero::<T>(); params[*w].len()];
                        let mut db = b.map(|b| vec![zero::<T>(); params[b].len()]);
                        let dx = conv::backward(
                            &shape,
                            xin,
                            &g,
                            n,
                            params[*w],
                            need_dx,
                            Some((&mut dw, db.as_deref_mut())),
                        )?;
                        (dx, Some(dw), db)
                    } else {
                        let dx = conv::backward(&shape, xin, &g, n, params[*w], need_dx, None)?;
                        (dx, None, None)
                    };
                    if let Some(dw) = dw {
                        add_into(&mut pgrads[*w], &dw);
                    }
                    if let (Some(b), Some(db)) = (b, db) {
                        add_into(&mut pgrads[*b], &db);
                    }
                    pool::give(g);
                    dx
                }
                Op::MaxPool { .. } => {
                    let Aux::Argmax(idx) = &tape.aux[i] else {
                        return Err(cerr("max-pool tape lost its winners"));
                    };
                    let mut dx = pool::filled(xin.len(), zero::<T>());
                    max_pool_back(&g, idx, &mut dx);
                    pool::give(g);
                    Some(dx)
                }
                Op::AvgPool {
                    win,
                    planes,
                    include_pad,
                } => {
                    let dx = avg_pool(&g, n * planes, win, *include_pad, true);
                    pool::give(g);
                    Some(dx)
                }
                Op::Affine {
                    scale,
                    channels,
                    plane,
                    ..
                } => {
                    for (j, v) in g.iter_mut().enumerate() {
                        *v *= T::from_f64(f64::from(scale[(j / plane) % channels]));
                    }
                    Some(g)
                }
                Op::Relu => {
                    // A select, not a branch: the signs of activations are unpredictable.
                    for (gv, xv) in g.iter_mut().zip(xin) {
                        *gv = if *xv > zero() { *gv } else { zero() };
                    }
                    Some(g)
                }
                Op::Dense { w, b, inp, out } => {
                    if want_params {
                        let dw = matmul(&g, true, xin, false, *out, n, *inp)?;
                        add_into(&mut pgrads[*w], &dw);
                        if let Some(b) = b {
                            for row in g.chunks_exact(*out) {
                                add_into(&mut pgrads[*b], row);
                            }
                        }
                    }
                    let dx = if need_dx {
                        Some(matmul(&g, false, params[*w], false, n, *out, *inp)?)
                    } else {
                        None
                    };
                    pool::give(g);
                    dx
                }
                Op::AddParam { p } => {
                    if want_params {
                        for row in g.chunks_exact(self.row(i + 1)) {
                            add_into(&mut pgrads[*p], row);
                        }
                    }
                    Some(g)
                }
                Op::Add => {
                    accumulate(&mut grads[node.inputs[1]], pool::copied(&g));
                    Some(g)
                }
                Op::View => Some(g),
            };
            if let Some(dx) = dx {
                accumulate(&mut grads[src], dx);
            }
        }
        let dx = grads[0].take();
        for g in grads.into_iter().flatten() {
            pool::give(g);
        }
        Ok((dx, pgrads))
    }
}

fn add_into<T: Real>(acc: &mut [T], v: &[T]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += *b;
    }
}

/// Adds a gradient into a value's slot (taking the buffer if the slot is empty).
fn accumulate<T: Real>(slot: &mut Option<Vec<T>>, g: Vec<T>) {
    match slot {
        Some(acc) => {
            add_into(acc, &g);
            pool::give(g);
        }
        None => *slot = Some(g),
    }
}
