//! ONNX files as torch exports them, and files that are broken: every operator the engine
//! imports against torch's own numbers, and never a panic on hostile bytes.

#![allow(clippy::unwrap_used)]

mod support;

use interlab_suites::{AttackSpecError, Model, ModelError, Precision, load_eval_data};
use proptest::prelude::*;
use support::*;

fn oracle(path: &str) -> Vec<u8> {
    read(root().join("tests/oracle").join(path))
}

#[test]
fn every_supported_operator_matches_torch_in_logits_and_input_gradient() {
    // tools/make_onnx_fixtures.py: Conv, Relu, BatchNormalization, MaxPool with pads,
    // AveragePool, Add, GlobalAveragePool, Flatten, Constant, Reshape, MatMul, Gemm and a
    // trailing Softmax, exported by torch 2.15 (opset 17).
    let model = Model::from_bytes(&oracle("ops/all_ops.onnx")).unwrap();
    assert!(model.stripped_softmax());
    assert_eq!((model.input_shape(), model.classes()), (&[2, 7, 7][..], 5));
    let want = oracle("ops/all_ops_expected.safetensors");
    let x = f32s(&want, "x");
    let y: Vec<u32> = i64s(&want, "y").iter().map(|&v| v as u32).collect();
    let logits = model.predict_logits(&x).unwrap();
    let worst = logits
        .iter()
        .zip(f32s(&want, "logits"))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "largest logit difference {worst}");
    let g = model.loss_input_grad(&x, &y, Precision::F64).unwrap();
    let worst = g
        .iter()
        .zip(f32s(&want, "input_grad"))
        .map(|(a, b)| (a - f64::from(b)).abs())
        .fold(0.0f64, f64::max);
    assert!(worst <= 1e-5, "largest gradient difference {worst}");
}

#[test]
fn image_data_that_does_not_fit_the_model_is_refused_naming_both_shapes() {
    let cnn = Model::from_bytes(&oracle("fmnist-cnn/cnn_a.onnx")).unwrap();
    let credit = oracle("credit/data.safetensors");
    match load_eval_data(&credit, &cnn) {
        Err(AttackSpecError::Model(e @ ModelError::InputShape { .. })) => {
            let text = e.to_string();
            assert!(
                text.contains("[1, 28, 28]") && text.contains("[29]"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mlp = Model::from_bytes(&oracle("credit/credit_mlp.onnx")).unwrap();
    let images = oracle("fmnist-cnn/data_test.safetensors");
    assert!(matches!(
        load_eval_data(&images, &mlp),
        Err(AttackSpecError::Model(ModelError::InputShape { .. }))
    ));
}

fn corpus() -> Vec<Vec<u8>> {
    vec![oracle("ops/all_ops.onnx"), oracle("credit/credit_mlp.onnx")]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn truncated_or_mutated_onnx_bytes_give_an_error_or_a_model_never_a_panic(
        which in 0usize..2,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut bytes = corpus().swap_remove(which);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep);
        if let Ok(m) = Model::from_bytes(&bytes) {
            // Whatever loads must run.
            let x = vec![0.5f32; m.input_dim() * 2];
            let _ = m.predict_logits(&x);
        }
    }
}
