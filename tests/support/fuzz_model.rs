//! The check behind the `onnx_model` fuzz target: model files (ONNX or safetensors) from
//! a lab or a peer are hostile bytes.

use interlab_suites::{Model, Precision};

/// Target `onnx_model`: [`Model::from_bytes`] on arbitrary bytes.
///
/// Invariants: loading returns a model or an error, never a panic or an allocation beyond
/// the engine's bounds; a model that loads has a positive input size and class count, and
/// its logits and input gradients on two rows have the right lengths (or are refused
/// with an error).
pub fn onnx_model(data: &[u8]) {
    let Ok(model) = Model::from_bytes(data) else {
        return;
    };
    let (d, c) = (model.input_dim(), model.classes());
    assert!(
        d > 0 && c > 0,
        "a loaded model has input size {d} and {c} classes"
    );
    assert_eq!(model.input_shape().iter().product::<usize>(), d);
    let x = vec![0.5f32; 2 * d];
    if let Ok(logits) = model.predict_logits(&x) {
        assert_eq!(logits.len(), 2 * c, "logits of two rows");
    }
    if let Ok(g) = model.loss_input_grad(&x, &[0, 0], Precision::F32) {
        assert_eq!(g.len(), x.len(), "input gradient of two rows");
    }
}
