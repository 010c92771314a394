//! The item under test: a classifier that maps rows of features to class logits.
//!
//! Models arrive as bytes from a lab or the network, so loading checks every name, dtype
//! and shape and refuses what it cannot run, naming the problem. An MLP is read from
//! safetensors in PyTorch layout (`fc1.weight` [out, in], `fc1.bias` [out], `fc2.…`,
//! ReLU between layers, depth and widths inferred). Convolutional classifiers come as
//! ONNX ([`crate::onnx`]) or as a PyTorch `nn.Sequential` state dict with an
//! architecture list ([`crate::graph::spec`]); both run on the engine's own graph
//! evaluator ([`crate::graph`]) with PyTorch's gradient rules.

use candle_core::{DType, Device, Tensor, Var};
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::{graph::Graph, tensor::Precision};

/// Largest model file the engine reads.
pub const MAX_MODEL_BYTES: usize = 256 << 20;
/// Most layers an MLP may have.
const MAX_LAYERS: usize = 64;

/// Why a model cannot be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file is larger than [`MAX_MODEL_BYTES`].
    #[error("model is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not a safetensors file.
    #[error("model is not a valid safetensors file: {0}")]
    Safetensors(String),
    /// A tensor the layout needs is missing.
    #[error(
        "model has no tensor {0:?} (expected PyTorch names fc1.weight, fc1.bias, fc2.weight, …)"
    )]
    Missing(String),
    /// A tensor of the wrong dtype.
    #[error("model tensor {name:?} has dtype {dtype}, expected F32")]
    Dtype {
        /// Tensor name.
        name: String,
        /// Its dtype.
        dtype: String,
    },
    /// Layer shapes that do not chain.
    #[error("model tensor {name:?} has shape {shape:?}, expected {expected}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// What was expected.
        expected: String,
    },
    /// A weight that is NaN or infinite.
    #[error("model tensor {0:?} holds a NaN or infinite value")]
    NotFinite(String),
    /// The model does not fit the suite's data.
    #[error(
        "model takes {model_inputs} inputs and gives {model_classes} classes, but the data has {data_features} features and {data_classes} classes"
    )]
    Mismatch {
        /// Model input width.
        model_inputs: usize,
        /// Model output width.
        model_classes: usize,
        /// Data feature count.
        data_features: usize,
        /// Class count of the data.
        data_classes: usize,
    },
    /// An ONNX model could not be read or run.
    #[error("onnx model: {0}")]
    Onnx(String),
    /// Neither safetensors nor a readable ONNX protobuf.
    #[error("model is neither safetensors nor ONNX: {0}")]
    NotOnnx(String),
    /// An ONNX operator the engine does not implement.
    #[error(
        "onnx node {node:?} uses operator {op}, which the engine does not support (supported: {supported})",
        supported = crate::onnx::SUPPORTED_OPS
    )]
    OnnxOp {
        /// Operator type (with its domain if not the default one).
        op: String,
        /// Node name.
        node: String,
    },
    /// A non-batch input axis without a fixed size.
    #[error(
        "onnx input {input:?} has a dynamic or missing size on axis {axis}; only the batch axis (0) may be dynamic"
    )]
    DynamicShape {
        /// Input (or node) name.
        input: String,
        /// Axis.
        axis: usize,
    },
    /// The per-row input shape does not fit the data.
    #[error(
        "model takes rows of shape {model} but the data rows have shape {data}; export the model for the suite's input layout"
    )]
    InputShape {
        /// The model's per-row shape, as text.
        model: String,
        /// The data's per-row shape, as text.
        data: String,
    },
    /// What this kind of model cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(String),
}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        ModelError::Tensor(e.to_string())
    }
}

/// One dense layer, y = x·Wᵀ + b.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub(crate) w: Tensor,
    pub(crate) b: Tensor,
}

/// A ReLU multilayer perceptron in PyTorch layout.
#[derive(Debug, Clone)]
pub(crate) struct Mlp {
    f32_layers: Vec<Layer>,
    f64_layers: Vec<Layer>,
}

impl Mlp {
    /// Builds an MLP from f32 layers (the f64 copy is made once, for f64 gradients).
    pub(crate) fn new(f32_layers: Vec<Layer>) -> Result<Self, ModelError> {
        let f64_layers = f32_layers
            .iter()
            .map(|l| {
                Ok(Layer {
                    w: l.w.to_dtype(DType::F64)?,
                    b: l.b.to_dtype(DType::F64)?,
                })
            })
            .collect::<Result<Vec<_>, candle_core::Error>>()?;
        Ok(Mlp {
            f32_layers,
            f64_layers,
        })
    }

    pub(crate) fn layers(&self) -> &[Layer] {
        &self.f32_layers
    }

    fn input_dim(&self) -> usize {
        self.f32_layers.first().map_or(0, |l| l.w.dims()[1])
    }

    fn classes(&self) -> usize {
        self.f32_layers.last().map_or(0, |l| l.w.dims()[0])
    }
}

/// Forward pass through dense layers with PyTorch's ReLU (gradient 0 at exactly 0).
pub(crate) fn forward_layers(
    x: &Tensor,
    layers: &[(&Tensor, &Tensor)],
) -> candle_core::Result<Tensor> {
    let mut h = x.clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        h = h.matmul(&w.t()?)?.broadcast_add(b)?;
        if i + 1 < layers.len() {
            h = relu(&h)?;
        }
    }
    Ok(h)
}

/// ReLU whose gradient is 1 where x > 0 and 0 elsewhere, as in PyTorch (candle's own
/// `relu` passes the gradient at exactly 0).
fn relu(h: &Tensor) -> candle_core::Result<Tensor> {
    let mask = h.gt(0.0)?.to_dtype(h.dtype())?;
    h * mask
}

#[derive(Debug, Clone)]
enum Kind {
    Mlp(Mlp),
    Graph(Box<Graph>),
}

/// A loaded classifier with its per-row input shape and class count.
#[derive(Debug, Clone)]
pub struct Model {
    kind: Kind,
    input_shape: Vec<usize>,
    input_dim: usize,
    classes: usize,
    stripped_softmax: bool,
}

fn shape_text(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

impl Model {
    /// Loads a PyTorch-layout MLP from safetensors bytes.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, ModelError> {
        Self::from_mlp(Mlp::new(read_mlp_layers(bytes)?)?)
    }

    /// Loads an ONNX classifier: one float input [batch, features] or [batch, C, H, W]
    /// with a dynamic batch axis, one logits output (a trailing Softmax is dropped).
    pub fn from_onnx(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_MODEL_BYTES {
            return Err(ModelError::TooLarge {
                len: bytes.len(),
                max: MAX_MODEL_BYTES,
            });
        }
        let (graph, stripped) = crate::onnx::load(bytes)?;
        let mut m = Self::from_graph(graph);
        m.stripped_softmax = stripped;
        Ok(m)
    }

    /// Loads a PyTorch `nn.Sequential` classifier from its state dict (safetensors bytes)
    /// and its architecture.
    pub fn from_state_dict(
        weights: &[u8],
        spec: &crate::graph::spec::SequentialSpec,
    ) -> Result<Self, ModelError> {
        if weights.len() > MAX_MODEL_BYTES {
            return Err(ModelError::TooLarge {
                len: weights.len(),
                max: MAX_MODEL_BYTES,
            });
        }
        Ok(Self::from_graph(spec.build(weights)?))
    }

    pub(crate) fn from_graph(graph: Graph) -> Self {
        Model {
            input_shape: graph.input_shape().to_vec(),
            input_dim: graph.input_shape().iter().product(),
            classes: graph.classes(),
            kind: Kind::Graph(Box::new(graph)),
            stripped_softmax: false,
        }
    }

    /// Loads a model, choosing the format from the bytes: safetensors (an MLP in PyTorch
    /// layout) or ONNX.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_MODEL_BYTES {
            return Err(ModelError::TooLarge {
                len: bytes.len(),
                max: MAX_MODEL_BYTES,
            });
        }
        // A safetensors file opens with an 8-byte little-endian header length and `{`.
        if bytes.len() >= 9 && bytes[8] == b'{' {
            return Self::from_safetensors(bytes);
        }
        Self::from_onnx(bytes)
    }

    /// Wraps an MLP.
    pub(crate) fn from_mlp(mlp: Mlp) -> Result<Self, ModelError> {
        Ok(Model {
            input_shape: vec![mlp.input_dim()],
            input_dim: mlp.input_dim(),
            classes: mlp.classes(),
            kind: Kind::Mlp(mlp),
            stripped_softmax: false,
        })
    }

    /// Number of input values per row (the product of [`Model::input_shape`]).
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Per-row input shape: [features], or [C, H, W] for an image classifier.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Logits of flat rows `x` ([n, input_dim], f32), flattened [n, classes]. Rows are
    /// evaluated in fixed chunks on the current rayon pool.
    pub fn predict_logits(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        self.check_rows(x)?;
        crate::tensor::logits(self, x)
    }

    /// ∇ₓ of the summed cross-entropy of rows `x` with labels `y` (each row's gradient is
    /// that of its own loss), in `precision`, flattened like `x`.
    pub fn loss_input_grad(
        &self,
        x: &[f32],
        y: &[u32],
        precision: Precision,
    ) -> Result<Vec<f64>, ModelError> {
        self.check_rows(x)?;
        if y.len() * self.input_dim != x.len() || y.iter().any(|&c| c as usize >= self.classes) {
            return Err(ModelError::Unsupported(format!(
                "{} labels (each below {}) expected for {} values of rows of {}",
                x.len() / self.input_dim.max(1),
                self.classes,
                x.len(),
                self.input_dim
            )));
        }
        crate::tensor::loss_grad(self, x, y, precision)
    }

    fn check_rows(&self, x: &[f32]) -> Result<(), ModelError> {
        if self.input_dim == 0 || !x.len().is_multiple_of(self.input_dim) {
            return Err(ModelError::Unsupported(format!(
                "{} input values are not whole rows of {}",
                x.len(),
                self.input_dim
            )));
        }
        Ok(())
    }

    /// Whether a trailing Softmax of an ONNX file was dropped (attacks use logits).
    pub fn stripped_softmax(&self) -> bool {
        self.stripped_softmax
    }

    /// Refuses a model whose per-row input shape does not fit the data's (`data_shape`
    /// is a data tensor's shape without the batch axis). Flat rows [d] fit any model with
    /// d input values (the suite says how they are laid out); rows with more axes must
    /// have exactly the model's shape.
    pub fn check_data_shape(&self, data_shape: &[usize]) -> Result<(), ModelError> {
        let flat_fits = data_shape.len() == 1 && data_shape[0] == self.input_dim;
        if !flat_fits && data_shape != self.input_shape.as_slice() {
            return Err(ModelError::InputShape {
                model: shape_text(&self.input_shape),
                data: shape_text(data_shape),
            });
        }
        Ok(())
    }

    /// Number of classes (logits).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Refuses a model whose input width or class count does not fit the data.
    pub fn check_fits(&self, features: usize, classes: usize) -> Result<(), ModelError> {
        if self.input_dim != features || self.classes != classes {
            return Err(ModelError::Mismatch {
                model_inputs: self.input_dim,
                model_classes: self.classes,
                data_features: features,
                data_classes: classes,
            });
        }
        Ok(())
    }

    /// The trainable MLP, for the poisoning tests.
    pub(crate) fn mlp(&self) -> Option<&Mlp> {
        match &self.kind {
            Kind::Mlp(m) => Some(m),
            Kind::Graph(_) => None,
        }
    }

    /// The graph of a convolutional (ONNX or state-dict) model.
    pub(crate) fn graph(&self) -> Option<&Graph> {
        match &self.kind {
            Kind::Mlp(_) => None,
            Kind::Graph(g) => Some(g),
        }
    }

    /// The MLP's weights as safetensors bytes in PyTorch layout (`fc1.weight`, `fc1.bias`,
    /// …, f32, no metadata); the same weights always give the same bytes. Graph models
    /// are written with their parameter names (ONNX initializer names, or the state-dict
    /// keys).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ModelError> {
        let mut tensors = Vec::new();
        match &self.kind {
            Kind::Mlp(mlp) => {
                for (i, l) in mlp.f32_layers.iter().enumerate() {
                    for (name, t) in [("weight", &l.w), ("bias", &l.b)] {
                        let shape = t.dims().to_vec();
                        let data: Vec<u8> = t
                            .flatten_all()?
                            .to_vec1::<f32>()?
                            .iter()
                            .flat_map(|v| v.to_le_bytes())
                            .collect();
                        tensors.push((format!("fc{}.{name}", i + 1), shape, data));
                    }
                }
            }
            Kind::Graph(g) => {
                let mut seen = std::collections::HashSet::new();
                for (i, p) in g.params.iter().enumerate() {
                    let name = if seen.insert(p.name.clone()) {
                        p.name.clone()
                    } else {
                        format!("{}#{i}", p.name)
                    };
                    let data = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                    tensors.push((name, p.shape.clone(), data));
                }
            }
        }
        let views = tensors
            .iter()
            .map(|(name, shape, data)| {
                safetensors::tensor::TensorView::new(StDtype::F32, shape.clone(), data)
                    .map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ModelError::Safetensors(e.to_string()))?;
        safetensors::serialize(views, None).map_err(|e| ModelError::Safetensors(e.to_string()))
    }

    /// Logits for `x` ([n, features]) computed in `precision`; `x` is converted.
    pub(crate) fn logits(&self, x: &Tensor, precision: Precision) -> Result<Tensor, ModelError> {
        match &self.kind {
            Kind::Mlp(m) => {
                let layers = match precision {
                    Precision::F32 => &m.f32_layers,
                    Precision::F64 => &m.f64_layers,
                };
                let x = x.to_dtype(precision.dtype())?;
                let refs: Vec<_> = layers.iter().map(|l| (&l.w, &l.b)).collect();
                Ok(forward_layers(&x, &refs)?)
            }
            Kind::Graph(g) => {
                let n = x.dims().first().copied().unwrap_or(0);
                let flat = x.flatten_all()?;
                let out = match precision {
                    Precision::F32 => {
                        let t = g.forward(flat.to_dtype(DType::F32)?.to_vec1::<f32>()?, n)?;
                        Tensor::from_slice(t.logits(g), (n, self.classes), &Device::Cpu)?
                    }
                    Precision::F64 => {
                        let t = g.forward(flat.to_dtype(DType::F64)?.to_vec1::<f64>()?, n)?;
                        Tensor::from_slice(t.logits(g), (n, self.classes), &Device::Cpu)?
                    }
                };
                Ok(out)
            }
        }
    }
}

/// Reads `fc1.weight`, `fc1.bias`, `fc2.weight`, … until the next index is absent.
pub(crate) fn read_mlp_layers(bytes: &[u8]) -> Result<Vec<Layer>, ModelError> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(ModelError::TooLarge {
            len: bytes.len(),
            max: MAX_MODEL_BYTES,
        });
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Safetensors(e.to_string()))?;
    let mut layers = Vec::new();
    let mut prev_out: Option<usize> = None;
    for i in 1..=MAX_LAYERS {
        let wname = format!("fc{i}.weight");
        let bname = format!("fc{i}.bias");
        let Ok(w) = st.tensor(&wname) else {
            if i == 1 {
                return Err(ModelError::Missing(wname));
            }
            break;
        };
        let b = st
            .tensor(&bname)
            .map_err(|_| ModelError::Missing(bname.clone()))?;
        let wv = f32_values(&wname, &w)?;
        let bv = f32_values(&bname, &b)?;
        let (out, inp) = match w.shape() {
            [o, i] if *o > 0 && *i > 0 => (*o, *i),
            s => {
                return Err(ModelError::Shape {
                    name: wname,
                    shape: s.to_vec(),
                    expected: "[out, in] with both > 0".into(),
                });
            }
        };
        if let Some(p) = prev_out
            && inp != p
        {
            return Err(ModelError::Shape {
                name: wname,
                shape: w.shape().to_vec(),
                expected: format!("[_, {p}] to follow the previous layer"),
            });
        }
        if b.shape() != [out] {
            return Err(ModelError::Shape {
                name: bname,
                shape: b.shape().to_vec(),
                expected: format!("[{out}]"),
            });
        }
        let dev = Device::Cpu;
        layers.push(Layer {
            w: Tensor::from_vec(wv, (out, inp), &dev)?,
            b: Tensor::from_vec(bv, out, &dev)?,
        });
        prev_out = Some(out);
    }
    Ok(layers)
}

pub(crate) fn f32_values(
    name: &str,
    t: &safetensors::tensor::TensorView<'_>,
) -> Result<Vec<f32>, ModelError> {
    if t.dtype() != StDtype::F32 {
        return Err(ModelError::Dtype {
            name: name.into(),
            dtype: format!("{:?}", t.dtype()),
        });
    }
    let v: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if v.iter().any(|x| !x.is_finite()) {
        return Err(ModelError::NotFinite(name.into()));
    }
    Ok(v)
}

/// Trainable copies of MLP layers (weights as candle `Var`s).
pub(crate) fn vars_of(layers: &[Layer]) -> Result<Vec<(Var, Var)>, candle_core::Error> {
    layers
        .iter()
        .map(|l| Ok((Var::from_tensor(&l.w)?, Var::from_tensor(&l.b)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_safetensors_read_back_as_the_same_weights() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("suites/digits-mlp/mlp_trained.safetensors");
        let model = Model::from_bytes(&std::fs::read(path).unwrap()).unwrap();
        let bytes = model.to_safetensors().unwrap();
        let again = Model::from_bytes(&bytes).unwrap();
        let flat = |m: &Model| -> Vec<f32> {
            m.mlp()
                .unwrap()
                .layers()
                .iter()
                .flat_map(|l| {
                    let w = l.w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    w.into_iter()
                        .chain(l.b.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                })
                .collect()
        };
        assert_eq!(flat(&model), flat(&again));
        assert_eq!(again.to_safetensors().unwrap(), bytes);
    }
}
