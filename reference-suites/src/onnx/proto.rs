//! The subset of the ONNX protobuf schema the engine reads, as hand-written `prost`
//! messages (no build script, no `protoc`).
//!
//! Field numbers follow `onnx/onnx.proto` of the ONNX repository
//! (<https://github.com/onnx/onnx/blob/main/onnx/onnx.proto>, IR version 10). Fields the
//! engine does not need are left out; prost skips them while decoding. Sub-graphs
//! (`AttributeProto.g`, `.graphs`), functions and training info are skipped too, which
//! also bounds the nesting depth of what is decoded.

#![allow(missing_docs, unreachable_pub)]

/// `ModelProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `OperatorSetIdProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `GraphProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `NodeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto` (without sub-graphs, sparse tensors and type protos).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

/// `TensorProto` (dense, stored inside the file; external data is refused).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `TensorProto.DataType` values the engine reads.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
}

/// `ValueInfoProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto` (only the tensor case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeTensor>,
}

/// `TypeProto.Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeTensor {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension` (`oneof value { dim_value = 1; dim_param = 2 }`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// Wire-format pre-scan: counts what decoding would allocate before prost allocates it.
///
/// Every field occurrence in a decoded message costs one unit, and every byte of a
/// varint-packed repeated field one more (its values may widen up to 8×). Fixed-width
/// data (raw tensor bytes, packed floats) costs nothing beyond the input itself. A file
/// over the budget is refused, so a small hostile file cannot make the decoder build
/// millions of empty messages.
pub mod scan {
    /// Most units a model may cost.
    pub const BUDGET: usize = 1_000_000;

    /// Which message a length-delimited field holds.
    #[derive(Clone, Copy)]
    enum Msg {
        Model,
        Opset,
        Graph,
        Node,
        Attribute,
        Tensor,
        ValueInfo,
        Type,
        TypeTensor,
        Shape,
        Dim,
    }

    /// What a field of a message is, for the scan.
    enum Field {
        Sub(Msg),
        /// A repeated varint field that may be packed.
        Varints,
        Other,
    }

    fn field(m: Msg, tag: u64) -> Field {
        use Field::{Other, Sub, Varints};
        match (m, tag) {
            (Msg::Model, 8) => Sub(Msg::Opset),
            (Msg::Model, 7) => Sub(Msg::Graph),
            (Msg::Graph, 1) => Sub(Msg::Node),
            (Msg::Graph, 5) => Sub(Msg::Tensor),
            (Msg::Graph, 11 | 12) => Sub(Msg::ValueInfo),
            (Msg::Node, 5) => Sub(Msg::Attribute),
            (Msg::Attribute, 5) => Sub(Msg::Tensor),
            (Msg::Attribute, 8) => Varints,
            (Msg::Tensor, 1 | 5 | 7) => Varints,
            (Msg::ValueInfo, 2) => Sub(Msg::Type),
            (Msg::Type, 1) => Sub(Msg::TypeTensor),
            (Msg::TypeTensor, 2) => Sub(Msg::Shape),
            (Msg::Shape, 1) => Sub(Msg::Dim),
            _ => Other,
        }
    }

    fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            if shift < 64 {
                v |= u64::from(byte & 0x7f) << shift;
            }
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Units `bytes` (a `ModelProto`) would cost, or `None` if the wire format is broken
    /// (prost then reports the precise error). Stops counting once over `BUDGET`.
    pub fn cost(bytes: &[u8]) -> Option<usize> {
        let mut units = 0usize;
        walk(bytes, Msg::Model, &mut units).then_some(units)
    }

    fn walk(b: &[u8], m: Msg, units: &mut usize) -> bool {
        let mut pos = 0;
        while pos < b.len() {
            if *units > BUDGET {
                return true;
            }
            let Some(key) = varint(b, &mut pos) else {
                return false;
            };
            *units += 1;
            match key & 7 {
                0 => {
                    if varint(b, &mut pos).is_none() {
                        return false;
                    }
                }
                1 => pos += 8,
                5 => pos += 4,
                2 => {
                    let Some(len) = varint(b, &mut pos).and_then(|l| usize::try_from(l).ok())
                    else {
                        return false;
                    };
                    let Some(end) = pos.checked_add(len).filter(|&e| e <= b.len()) else {
                        return false;
                    };
                    let body = &b[pos..end];
                    match field(m, key >> 3) {
                        Field::Sub(sub) => {
                            if !walk(body, sub, units) {
                                return false;
                            }
                        }
                        Field::Varints => *units += len,
                        Field::Other => {}
                    }
                    pos = end;
                }
                _ => return false,
            }
        }
        pos == b.len()
    }
}
