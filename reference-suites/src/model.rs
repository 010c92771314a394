//! The item under test: a classifier that maps rows of features to class logits.
//!
//! Models arrive as bytes from a lab or the network, so loading checks every name, dtype
//! and shape and refuses what it cannot run, naming the problem. An MLP is read from
//! safetensors in PyTorch layout (`fc1.weight` [out, in], `fc1.bias` [out], `fc2.…`,
//! ReLU between layers, depth and widths inferred); an ONNX graph runs through
//! candle-onnx behind the `onnx` feature.

use candle_core::{DType, Device, Tensor, Var};
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::tensor::Precision;

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
    #[cfg(feature = "onnx")]
    Onnx(Box<crate::onnx::OnnxModel>),
}

/// A loaded classifier with its input width and class count.
#[derive(Debug, Clone)]
pub struct Model {
    kind: Kind,
    input_dim: usize,
    classes: usize,
}

impl Model {
    /// Loads a PyTorch-layout MLP from safetensors bytes.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, ModelError> {
        let mlp = Mlp::new(read_mlp_layers(bytes)?)?;
        Ok(Model {
            input_dim: mlp.input_dim(),
            classes: mlp.classes(),
            kind: Kind::Mlp(mlp),
        })
    }

    /// Loads an ONNX model (one float input [batch, features], one logits output).
    #[cfg(feature = "onnx")]
    pub fn from_onnx(bytes: &[u8]) -> Result<Self, ModelError> {
        let m = crate::onnx::OnnxModel::load(bytes)?;
        Ok(Model {
            input_dim: m.input_dim(),
            classes: m.classes(),
            kind: Kind::Onnx(Box::new(m)),
        })
    }

    /// Loads a model, choosing the format from the bytes (ONNX needs the `onnx` feature).
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
        #[cfg(feature = "onnx")]
        {
            Self::from_onnx(bytes)
        }
        #[cfg(not(feature = "onnx"))]
        Err(ModelError::Unsupported(
            "model is not safetensors; ONNX models need the `onnx` feature".into(),
        ))
    }

    /// Wraps an MLP.
    pub(crate) fn from_mlp(mlp: Mlp) -> Result<Self, ModelError> {
        Ok(Model {
            input_dim: mlp.input_dim(),
            classes: mlp.classes(),
            kind: Kind::Mlp(mlp),
        })
    }

    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.input_dim
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
            #[cfg(feature = "onnx")]
            Kind::Onnx(_) => None,
        }
    }

    /// The MLP's weights as safetensors bytes in PyTorch layout (`fc1.weight`, `fc1.bias`,
    /// …, f32, no metadata); the same weights always give the same bytes. ONNX models
    /// cannot be written.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ModelError> {
        let Some(mlp) = self.mlp() else {
            return Err(ModelError::Unsupported(
                "only MLP models can be written as safetensors".into(),
            ));
        };
        let mut tensors = Vec::with_capacity(2 * mlp.f32_layers.len());
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
            #[cfg(feature = "onnx")]
            Kind::Onnx(m) => {
                if precision != Precision::F32 {
                    return Err(ModelError::Unsupported(
                        "onnx models run in f32 only; f64 gradients are not available".into(),
                    ));
                }
                m.logits(x)
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

fn f32_values(name: &str, t: &safetensors::tensor::TensorView<'_>) -> Result<Vec<f32>, ModelError> {
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
