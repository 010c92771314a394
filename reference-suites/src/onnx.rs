//! ONNX models through candle-onnx: one float input [batch, features] and one logits
//! output. The graph is evaluated with candle tensors, so input gradients flow through it.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use candle_onnx::onnx::ModelProto;
use prost::Message;

use crate::model::ModelError;

/// A decoded ONNX classifier.
#[derive(Debug, Clone)]
pub(crate) struct OnnxModel {
    proto: ModelProto,
    input: String,
    output: String,
    input_dim: usize,
    classes: usize,
}

fn err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Onnx(e.to_string())
}

impl OnnxModel {
    pub(crate) fn load(bytes: &[u8]) -> Result<Self, ModelError> {
        let proto = ModelProto::decode(bytes).map_err(|e| err(format!("cannot decode: {e}")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| err("no graph"))?;
        let inits: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(err(format!("expected one input, found {}", inputs.len())));
        };
        let [output] = graph.output.as_slice() else {
            return Err(err(format!(
                "expected one output, found {}",
                graph.output.len()
            )));
        };
        // Input width from the declared shape; class count by running one zero row.
        let dim = input
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .and_then(|v| match v {
                candle_onnx::onnx::type_proto::Value::TensorType(tt) => tt.shape.as_ref(),
                _ => None,
            })
            .and_then(|s| s.dim.get(1))
            .and_then(|d| match &d.value {
                Some(candle_onnx::onnx::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                    usize::try_from(*v).ok()
                }
                _ => None,
            })
            .filter(|&v| v > 0)
            .ok_or_else(|| {
                err("input must be declared [batch, features] with a fixed feature count")
            })?;
        let mut m = OnnxModel {
            input: input.name.clone(),
            output: output.name.clone(),
            proto: proto.clone(),
            input_dim: dim,
            classes: 0,
        };
        let probe = Tensor::zeros((1, dim), candle_core::DType::F32, &Device::Cpu)?;
        let out = m.logits(&probe)?;
        match out.dims() {
            [1, c] if *c > 0 => m.classes = *c,
            d => {
                return Err(err(format!(
                    "output has shape {d:?} for one row, expected [1, classes]"
                )));
            }
        }
        Ok(m)
    }

    pub(crate) fn input_dim(&self) -> usize {
        self.input_dim
    }

    pub(crate) fn classes(&self) -> usize {
        self.classes
    }

    pub(crate) fn logits(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let mut inputs = HashMap::new();
        inputs.insert(self.input.clone(), x.clone());
        let mut out = candle_onnx::simple_eval(&self.proto, inputs).map_err(err)?;
        out.remove(&self.output)
            .ok_or_else(|| err(format!("no output {:?}", self.output)))
    }
}
