//! Hand-built ONNX graphs, each broken in one way, and the error that names it.

use prost::Message;

use super::proto::*;
use crate::model::{Model, ModelError};

fn dim(v: Option<i64>) -> Dimension {
    Dimension {
        dim_value: v,
        dim_param: v.is_none().then(|| "batch".to_string()),
    }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(|d| dim(*d)).collect(),
                }),
            }),
        }),
    }
}

fn floats(name: &str, dims: &[i64], v: Vec<f32>) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        name: name.into(),
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// Conv(1→2, 3×3, pad 1) → Relu → MaxPool 2 → Flatten → Gemm(8→3) on [batch, 1, 4, 4].
fn good() -> ModelProto {
    let mut conv = node("Conv", "conv", &["input", "cw", "cb"], "c");
    conv.attribute = vec![
        ints_attr("pads", &[1, 1, 1, 1]),
        ints_attr("kernel_shape", &[3, 3]),
    ];
    let mut pool = node("MaxPool", "pool", &["r"], "p");
    pool.attribute = vec![
        ints_attr("kernel_shape", &[2, 2]),
        ints_attr("strides", &[2, 2]),
    ];
    let mut gemm = node("Gemm", "fc", &["f", "fw", "fb"], "logits");
    gemm.attribute = vec![AttributeProto {
        name: "transB".into(),
        r#type: 2,
        i: 1,
        ..Default::default()
    }];
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        producer_name: "test".into(),
        graph: Some(GraphProto {
            node: vec![
                conv,
                node("Relu", "relu", &["c"], "r"),
                pool,
                node("Flatten", "flat", &["p"], "f"),
                gemm,
            ],
            name: "g".into(),
            initializer: vec![
                floats(
                    "cw",
                    &[2, 1, 3, 3],
                    (0..18).map(|i| i as f32 * 0.1 - 0.9).collect(),
                ),
                floats("cb", &[2], vec![0.1, -0.2]),
                floats("fw", &[3, 8], (0..24).map(|i| (i as f32).sin()).collect()),
                floats("fb", &[3], vec![0.0, 0.5, -0.5]),
            ],
            input: vec![value_info("input", &[None, Some(1), Some(4), Some(4)])],
            output: vec![value_info("logits", &[None, Some(3)])],
        }),
    }
}

fn load(m: &ModelProto) -> Result<Model, ModelError> {
    Model::from_bytes(&m.encode_to_vec())
}

#[test]
fn the_hand_built_cnn_loads_with_its_shape() {
    let m = load(&good()).unwrap();
    assert_eq!((m.input_shape(), m.classes()), (&[1, 4, 4][..], 3));
    let logits = m.predict_logits(&[0.5; 32]).unwrap();
    assert_eq!(logits.len(), 6);
    assert_eq!(logits[..3], logits[3..]);
}

#[test]
fn an_unsupported_operator_is_named_with_its_node() {
    let mut m = good();
    m.graph.as_mut().unwrap().node[1].op_type = "LeakyRelu".into();
    match load(&m) {
        Err(ModelError::OnnxOp { op, node }) => {
            assert_eq!((op.as_str(), node.as_str()), ("LeakyRelu", "relu"))
        }
        other => panic!("{other:?}"),
    }
    let text = load(&m).unwrap_err().to_string();
    assert!(
        text.contains("LeakyRelu") && text.contains("\"relu\""),
        "{text}"
    );
}

#[test]
fn a_dynamic_spatial_axis_is_refused_naming_the_axis() {
    let mut m = good();
    m.graph.as_mut().unwrap().input[0] = value_info("input", &[None, Some(1), None, Some(4)]);
    assert!(
        matches!(load(&m), Err(ModelError::DynamicShape { ref input, axis: 2 }) if input == "input"),
        "{:?}",
        load(&m)
    );
}

#[test]
fn a_nan_or_infinite_weight_is_refused_naming_the_tensor() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut m = good();
        m.graph.as_mut().unwrap().initializer[2] = floats("fw", &[3, 8], vec![bad; 24]);
        assert!(
            matches!(load(&m), Err(ModelError::NotFinite(ref n)) if n == "fw"),
            "{:?}",
            load(&m)
        );
    }
}

#[test]
fn an_unknown_input_name_or_a_cycle_is_refused() {
    let mut m = good();
    m.graph.as_mut().unwrap().node[1].input = vec!["nowhere".into()];
    let e = load(&m).unwrap_err().to_string();
    assert!(
        e.contains("\"nowhere\"") && e.contains("topological"),
        "{e}"
    );
    // relu reads the pool's output, which comes later: a cycle in file order.
    let mut m = good();
    m.graph.as_mut().unwrap().node[1].input = vec!["p".into()];
    let e = load(&m).unwrap_err().to_string();
    assert!(e.contains("\"p\"") && e.contains("cycle"), "{e}");
}

#[test]
fn bytes_that_are_not_onnx_are_refused_as_such() {
    for bytes in [&b"hello world, not a model"[..], &[0xff; 64][..], &[][..]] {
        assert!(
            matches!(Model::from_bytes(bytes), Err(ModelError::NotOnnx(_))),
            "{:?}",
            Model::from_bytes(bytes)
        );
    }
    let full = good().encode_to_vec();
    for cut in [1, full.len() / 3, full.len() - 1] {
        assert!(
            matches!(
                Model::from_bytes(&full[..cut]),
                Err(ModelError::NotOnnx(_) | ModelError::Onnx(_))
            ),
            "cut at {cut}: {:?}",
            Model::from_bytes(&full[..cut])
        );
    }
}

#[test]
fn absurd_sizes_are_refused_without_allocating_them() {
    // A weight declaring 2^30 × 2^30 values with no data.
    let mut m = good();
    m.graph.as_mut().unwrap().initializer[2].dims = vec![1 << 30, 1 << 30];
    let e = load(&m).unwrap_err().to_string();
    assert!(e.contains("\"fw\""), "{e}");
    // An input of 2^24 × 2^24 values per row.
    let mut m = good();
    m.graph.as_mut().unwrap().input[0] =
        value_info("input", &[None, Some(1), Some(1 << 24), Some(1 << 24)]);
    assert!(load(&m).unwrap_err().to_string().contains("too large"));
    // Millions of empty nodes: refused by the pre-scan before prost builds them.
    let mut bytes = good().encode_to_vec();
    let mut g = Vec::new();
    for _ in 0..(super::proto::scan::BUDGET + 10) {
        g.extend_from_slice(&[0x0a, 0x00]); // GraphProto.node = {}
    }
    bytes.push(0x3a); // ModelProto.graph, field 7, length-delimited
    prost::encoding::encode_varint(g.len() as u64, &mut bytes);
    bytes.extend_from_slice(&g);
    let e = Model::from_bytes(&bytes).unwrap_err().to_string();
    assert!(e.contains("protobuf fields"), "{e}");
}

#[test]
fn weights_stored_outside_the_file_are_refused() {
    let mut m = good();
    m.graph.as_mut().unwrap().initializer[0].data_location = 1;
    let e = load(&m).unwrap_err().to_string();
    assert!(e.contains("external file") && e.contains("\"cw\""), "{e}");
}

#[test]
fn a_softmax_before_the_end_is_refused_and_a_trailing_one_is_dropped() {
    let mut m = good();
    let g = m.graph.as_mut().unwrap();
    g.node.push(node("Softmax", "sm", &["logits"], "probs"));
    g.output[0].name = "probs".into();
    let plain = load(&good()).unwrap();
    let with = load(&m).unwrap();
    assert!(with.stripped_softmax() && !plain.stripped_softmax());
    let x = [0.25f32; 16];
    assert_eq!(
        with.predict_logits(&x).unwrap(),
        plain.predict_logits(&x).unwrap()
    );
    let g = m.graph.as_mut().unwrap();
    g.node.swap(4, 5);
    assert!(load(&m).is_err());
}
