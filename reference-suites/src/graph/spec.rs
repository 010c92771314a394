//! PyTorch `nn.Sequential` classifiers from a state dict and a short architecture list.
//!
//! A state dict names weights by layer index (`0.weight`, `3.weight`, …) and says nothing
//! about the layers without weights, so the architecture comes beside it as JSON:
//!
//! ```json
//! {"input_shape": [1, 28, 28],
//!  "layers": [{"type": "conv2d", "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
//!             {"type": "conv2d", "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
//!             {"type": "flatten"}, {"type": "linear"}, {"type": "relu"}, {"type": "linear"}]}
//! ```
//!
//! Layer `i` of the list is module `i` of the `nn.Sequential`; a `conv2d` or `linear`
//! reads `{i}.weight` and `{i}.bias` (shapes from the tensors), and every shape must chain.

use serde::Deserialize;

use super::{Graph, MAX_NODES, MAX_ROW_ELEMS, Node, Op, Param, kernels::Window};
use crate::model::ModelError;

/// Largest architecture file read.
pub const MAX_SPEC_BYTES: usize = 64 << 10;

/// One module of the sequence.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// `nn.Conv2d(c, o, k, stride=1, padding)`; channels and kernel from the weights.
    Conv2d {
        /// Zero padding on every side.
        #[serde(default)]
        padding: usize,
    },
    /// `nn.ReLU`.
    Relu,
    /// `nn.MaxPool2d(kernel)` with stride = kernel, no padding.
    Maxpool2d {
        /// Window size.
        kernel: usize,
    },
    /// `nn.AvgPool2d(kernel)` with stride = kernel, no padding.
    Avgpool2d {
        /// Window size.
        kernel: usize,
    },
    /// `nn.Flatten` (NCHW order).
    Flatten,
    /// `nn.Linear(in, out)`; sizes from the weights.
    Linear,
}

/// A sequential architecture: per-row input shape and modules in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialSpec {
    /// Per-row input shape: [C, H, W] for images, [features] for flat rows.
    pub input_shape: Vec<usize>,
    /// The modules.
    pub layers: Vec<LayerSpec>,
}

fn bad(what: String) -> ModelError {
    ModelError::Unsupported(format!("sequential model: {what}"))
}

impl SequentialSpec {
    /// Parses the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(ModelError::TooLarge {
                len: bytes.len(),
                max: MAX_SPEC_BYTES,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| {
            bad(format!(
                "architecture is not valid JSON of the expected form: {e}"
            ))
        })
    }

    /// Builds the graph from safetensors bytes of the state dict.
    pub(crate) fn build(&self, weights: &[u8]) -> Result<Graph, ModelError> {
        let st = safetensors::SafeTensors::deserialize(weights)
            .map_err(|e| ModelError::Safetensors(e.to_string()))?;
        if self.layers.is_empty() || self.layers.len() > MAX_NODES {
            return Err(bad(format!(
                "{} layers; expected 1 to {MAX_NODES}",
                self.layers.len()
            )));
        }
        if self.input_shape.is_empty()
            || self.input_shape.len() > 3
            || self.input_shape.contains(&0)
        {
            return Err(bad(format!(
                "input shape {:?} must be [features] or [C, H, W] with sizes > 0",
                self.input_shape
            )));
        }
        let mut shapes = vec![self.input_shape.clone()];
        let mut params = Vec::new();
        let mut nodes = Vec::new();
        let mut budget = 0usize;
        for (i, layer) in self.layers.iter().enumerate() {
            let cur = shapes[i].clone();
            let mut take = |suffix: &str, dims: usize| -> Result<usize, ModelError> {
                let name = format!("{i}.{suffix}");
                let t = st
                    .tensor(&name)
                    .map_err(|_| ModelError::Missing(name.clone()))?;
                if t.shape().len() != dims {
                    return Err(ModelError::Shape {
                        name,
                        shape: t.shape().to_vec(),
                        expected: format!("{dims} dimensions"),
                    });
                }
                let data = crate::model::f32_values(&name, &t)?;
                params.push(Param {
                    name,
                    shape: t.shape().to_vec(),
                    data,
                });
                Ok(params.len() - 1)
            };
            let (op, out): (Op, Vec<usize>) = match (layer, cur.as_slice()) {
                (LayerSpec::Conv2d { padding }, &[c, h, w]) => {
                    let wi = take("weight", 4)?;
                    let bi = take("bias", 1)?;
                    let &[o, ci, kh, kw] = params[wi].shape.as_slice() else {
                        return Err(bad(format!("layer {i}: conv weight is not 4-D")));
                    };
                    if ci != c || params[bi].shape != [o] {
                        return Err(ModelError::Shape {
                            name: format!("{i}.weight"),
                            shape: params[wi].shape.clone(),
                            expected: format!("[_, {c}, _, _] with bias [out] after {cur:?}"),
                        });
                    }
                    let win = Window {
                        kh,
                        kw,
                        sh: 1,
                        sw: 1,
                        pad: [*padding; 4],
                        h,
                        w,
                    };
                    let (oh, ow) = win
                        .out()
                        .ok_or_else(|| bad(format!("layer {i}: kernel does not fit {cur:?}")))?;
                    budget += c * kh * kw * oh * ow;
                    let op = Op::Conv {
                        w: wi,
                        b: Some(bi),
                        win,
                        cin: c,
                        cout: o,
                    };
                    (op, vec![o, oh, ow])
                }
                (LayerSpec::Maxpool2d { kernel } | LayerSpec::Avgpool2d { kernel }, &[c, h, w]) => {
                    let k = *kernel;
                    let win = Window {
                        kh: k,
                        kw: k,
                        sh: k,
                        sw: k,
                        pad: [0; 4],
                        h,
                        w,
                    };
                    let (oh, ow) = win
                        .out()
                        .ok_or_else(|| bad(format!("layer {i}: pool {k} does not fit {cur:?}")))?;
                    let op = if matches!(layer, LayerSpec::Maxpool2d { .. }) {
                        Op::MaxPool { win, planes: c }
                    } else {
                        Op::AvgPool {
                            win,
                            planes: c,
                            include_pad: true,
                        }
                    };
                    (op, vec![c, oh, ow])
                }
                (LayerSpec::Relu, _) => (Op::Relu, cur.clone()),
                (LayerSpec::Flatten, _) => (Op::View, vec![cur.iter().product()]),
                (LayerSpec::Linear, &[f]) => {
                    let wi = take("weight", 2)?;
                    let bi = take("bias", 1)?;
                    let &[o, inp] = params[wi].shape.as_slice() else {
                        return Err(bad(format!("layer {i}: linear weight is not 2-D")));
                    };
                    if inp != f || params[bi].shape != [o] {
                        return Err(ModelError::Shape {
                            name: format!("{i}.weight"),
                            shape: params[wi].shape.clone(),
                            expected: format!("[_, {f}] with bias [out] after {cur:?}"),
                        });
                    }
                    let op = Op::Dense {
                        w: wi,
                        b: Some(bi),
                        inp: f,
                        out: o,
                    };
                    (op, vec![o])
                }
                (l, s) => {
                    return Err(bad(format!(
                        "layer {i} ({}) cannot take input of shape {s:?}",
                        layer_name(l)
                    )));
                }
            };
            budget += out.iter().product::<usize>();
            if budget > MAX_ROW_ELEMS || out.contains(&0) {
                return Err(bad(format!(
                    "layer {i} makes activations of {budget} values per row, over the limit of {MAX_ROW_ELEMS}"
                )));
            }
            nodes.push(Node {
                op,
                inputs: vec![i],
                name: format!("{i}"),
            });
            shapes.push(out);
        }
        let last = shapes.len() - 1;
        if shapes[last].len() != 1 {
            return Err(bad(format!(
                "the last layer gives shape {:?}; expected [classes]",
                shapes[last]
            )));
        }
        Ok(Graph::new(params, nodes, shapes, last))
    }
}

fn layer_name(l: &LayerSpec) -> &'static str {
    match l {
        LayerSpec::Conv2d { .. } => "conv2d",
        LayerSpec::Relu => "relu",
        LayerSpec::Maxpool2d { .. } => "maxpool2d",
        LayerSpec::Avgpool2d { .. } => "avgpool2d",
        LayerSpec::Flatten => "flatten",
        LayerSpec::Linear => "linear",
    }
}
