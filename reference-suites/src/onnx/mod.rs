//! ONNX classifiers, as `torch.onnx.export` (opset 13 or later) writes them, loaded into
//! the engine's own [`Graph`] evaluator.
//!
//! The protobuf is decoded with hand-written `prost` messages ([`proto`]) after a
//! wire-format pre-scan that bounds what decoding allocates. Supported operators: Conv
//! (2-D, group 1, stride and dilation 1), MaxPool, AveragePool, GlobalAveragePool,
//! BatchNormalization (inference), Relu, Gemm, MatMul, Add, Flatten, Reshape (constant
//! shape), Identity, Dropout (inference), Constant, and a trailing Softmax, which is
//! dropped so that attacks see logits. Anything else is refused with the operator and
//! the node named, before any test runs.

pub(crate) mod proto;

use std::collections::HashMap;

use prost::Message;
use proto::{AttributeProto, ModelProto, NodeProto, TensorProto, data_type};

use crate::graph::{Graph, MAX_NODES, MAX_ROW_ELEMS, Node, Param};
use crate::model::ModelError;

/// Operators the loader accepts.
pub const SUPPORTED_OPS: &str = "Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Relu, Gemm, MatMul, Add, Flatten, Reshape, Identity, Dropout, Constant, Softmax (last node only)";

fn err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Onnx(e.to_string())
}

/// A constant known at load time.
#[derive(Clone)]
struct Const {
    dims: Vec<usize>,
    floats: Vec<f32>,
    ints: Vec<i64>,
}

/// Decodes and checks an ONNX model.
pub(crate) fn load(bytes: &[u8]) -> Result<(Graph, bool), ModelError> {
    match proto::scan::cost(bytes) {
        None => {
            return Err(ModelError::NotOnnx(
                "the bytes are not a protobuf message (truncated or another format)".into(),
            ));
        }
        Some(c) if c > proto::scan::BUDGET => {
            return Err(err(format!(
                "the file declares more than {} protobuf fields; refused as too large",
                proto::scan::BUDGET
            )));
        }
        Some(_) => {}
    }
    let model = ModelProto::decode(bytes)
        .map_err(|e| ModelError::NotOnnx(format!("cannot decode the protobuf: {e}")))?;
    let Some(graph) = model.graph.as_ref() else {
        return Err(ModelError::NotOnnx("the file has no graph".into()));
    };
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| err("the model imports no opset of the default ONNX domain"))?;
    if opset < 9 {
        return Err(err(format!(
            "opset {opset} is too old; export with opset 13 or later"
        )));
    }
    if graph.node.len() > MAX_NODES {
        return Err(err(format!(
            "{} nodes, over the limit of {MAX_NODES}",
            graph.node.len()
        )));
    }
    let mut consts: HashMap<String, Const> = HashMap::new();
    for t in &graph.initializer {
        consts.insert(t.name.clone(), tensor_const(t)?);
    }
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !consts.contains_key(&i.name))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(err(format!(
            "expected one data input, found {}",
            inputs.len()
        )));
    };
    let [output] = graph.output.as_slice() else {
        return Err(err(format!(
            "expected one output, found {}",
            graph.output.len()
        )));
    };
    let row_shape = input_shape(input)?;
    let mut b = Builder {
        consts,
        values: HashMap::from([(input.name.clone(), 0usize)]),
        shapes: vec![row_shape],
        nodes: Vec::new(),
        params: Vec::new(),
        budget: 0,
    };
    let mut softmax = false;
    let mut out_value: Option<usize> = None;
    for (k, node) in graph.node.iter().enumerate() {
        if softmax {
            return Err(err(format!(
                "node {:?} follows a Softmax; Softmax is accepted only as the last node",
                node.name
            )));
        }
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ModelError::OnnxOp {
                op: format!("{}.{}", node.domain, node.op_type),
                node: node.name.clone(),
            });
        }
        if node.op_type == "Softmax" || node.op_type == "LogSoftmax" {
            if k + 1 != graph.node.len() {
                return Err(err(format!(
                    "node {:?}: {} is accepted only as the last node",
                    node.name, node.op_type
                )));
            }
            let v = b.act(node, 0)?;
            let [o] = node.output.as_slice() else {
                return Err(err(format!("node {:?} must have one output", node.name)));
            };
            b.values.insert(o.clone(), v);
            softmax = true;
            continue;
        }
        b.node(node)?;
        out_value = node.output.first().and_then(|o| b.values.get(o)).copied();
    }
    let out = b.values.get(&output.name).copied().ok_or_else(|| {
        err(format!(
            "the graph output {:?} is never computed",
            output.name
        ))
    })?;
    let _ = out_value;
    if out == 0 || b.shapes[out].len() != 1 || b.shapes[out][0] == 0 {
        return Err(err(format!(
            "the output {:?} has per-row shape {:?}; expected [classes]",
            output.name, b.shapes[out]
        )));
    }
    // Nodes after the output value are not needed; they cannot exist in a topological
    // single-output graph except as dead ends, which are kept harmlessly.
    Ok((Graph::new(b.params, b.nodes, b.shapes, out), softmax))
}

fn input_shape(vi: &proto::ValueInfoProto) -> Result<Vec<usize>, ModelError> {
    let dims = vi
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| {
            (t.elem_type == data_type::FLOAT || t.elem_type == 0).then_some(t.shape.as_ref())
        })
        .flatten()
        .map(|s| s.dim.as_slice())
        .ok_or_else(|| {
            err(format!(
                "input {:?} must be a float tensor with a declared shape",
                vi.name
            ))
        })?;
    if !(2..=4).contains(&dims.len()) {
        return Err(err(format!(
            "input {:?} has {} dimensions; expected [batch, features] or [batch, C, H, W]",
            vi.name,
            dims.len()
        )));
    }
    let mut row = Vec::with_capacity(dims.len() - 1);
    for (i, d) in dims.iter().enumerate().skip(1) {
        match d.dim_value {
            Some(v) if v > 0 && v <= 1 << 24 => row.push(v as usize),
            _ => {
                return Err(ModelError::DynamicShape {
                    input: vi.name.clone(),
                    axis: i,
                });
            }
        }
    }
    if row.iter().product::<usize>() > MAX_ROW_ELEMS {
        return Err(err(format!(
            "input {:?} shape {row:?} is too large",
            vi.name
        )));
    }
    Ok(row)
}

fn usize_dims(t: &TensorProto) -> Result<Vec<usize>, ModelError> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d <= 1 << 30))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            err(format!(
                "tensor {:?} has a negative or huge dimension",
                t.name
            ))
        })
}

fn tensor_const(t: &TensorProto) -> Result<Const, ModelError> {
    if t.data_location == 1 {
        return Err(err(format!(
            "tensor {:?} is stored in an external file; save the model with its weights inside",
            t.name
        )));
    }
    let dims = usize_dims(t)?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err(format!("tensor {:?} is too large", t.name)))?;
    let raw = &t.raw_data;
    let mut c = Const {
        dims,
        floats: Vec::new(),
        ints: Vec::new(),
    };
    let sized = |len: usize, width: usize| -> Result<(), ModelError> {
        if len != count {
            return Err(err(format!(
                "tensor {:?} holds {len} values of {width} bytes but its shape needs {count}",
                t.name
            )));
        }
        Ok(())
    };
    match t.data_type {
        data_type::FLOAT => {
            if raw.is_empty() {
                sized(t.float_data.len(), 4)?;
                c.floats = t.float_data.clone();
            } else {
                sized(raw.len() / 4, 4)?;
                if !raw.len().is_multiple_of(4) {
                    return Err(err(format!("tensor {:?} has a ragged raw_data", t.name)));
                }
                c.floats = raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
            }
            if c.floats.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::NotFinite(t.name.clone()));
            }
        }
        data_type::DOUBLE => {
            let v: Vec<f64> = if raw.is_empty() {
                t.double_data.clone()
            } else {
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect()
            };
            sized(v.len(), 8)?;
            c.floats = v.iter().map(|&x| x as f32).collect();
            if c.floats.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::NotFinite(t.name.clone()));
            }
        }
        data_type::INT64 => {
            c.ints = if raw.is_empty() {
                t.int64_data.clone()
            } else {
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect()
            };
            sized(c.ints.len(), 8)?;
        }
        data_type::INT32 => {
            c.ints = if raw.is_empty() {
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            } else {
                raw.chunks_exact(4)
                    .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect()
            };
            sized(c.ints.len(), 4)?;
        }
        other => {
            return Err(err(format!(
                "tensor {:?} has element type {other}; only float, double, int32 and int64 are read",
                t.name
            )));
        }
    }
    Ok(c)
}

struct Builder {
    consts: HashMap<String, Const>,
    values: HashMap<String, usize>,
    shapes: Vec<Vec<usize>>,
    nodes: Vec<Node>,
    params: Vec<Param>,
    budget: usize,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_i(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_f(node: &NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

mod ops;
#[cfg(test)]
mod tests;
