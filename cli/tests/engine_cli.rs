//! The engine's commands through the real binary: numbers on the reference model, and
//! bad input refused with exit 1 and a message naming the problem.

#![allow(clippy::unwrap_used)]

use std::process::Command;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../reference-suites/suites/digits-mlp/"
);

fn interlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlab"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn attack(extra: &[&str]) -> (i32, String, String) {
    let model = format!("{SUITE}mlp_trained.safetensors");
    let data = format!("{SUITE}data.safetensors");
    let mut args = vec!["attack", "--model", &model, "--data", &data, "--json"];
    args.extend_from_slice(extra);
    interlab(&args)
}

#[test]
fn fgsm_through_the_cli_matches_the_art_reference() {
    let (code, out, err) = attack(&["--attack", "fgsm", "--eps", "0.1"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["n"], 500);
    assert_eq!(v["clean_accuracy"], 0.966);
    let robust = v["robust_accuracy"].as_f64().unwrap();
    assert!((robust - 0.286).abs() <= 0.012, "{robust}");
    assert!(v["attack_success_rate"].as_f64().unwrap() > 0.0);
}

#[test]
fn eps_outside_the_valid_range_is_refused_by_name() {
    let (code, out, err) = attack(&["--attack", "pgd", "--eps", "1.5"]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "no partial result: {out}");
    assert!(err.contains("eps 1.5 is outside the valid range"), "{err}");
}

#[test]
fn an_unknown_attack_is_refused_by_name() {
    let (code, _, err) = attack(&["--attack", "deepfool", "--eps", "0.1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown attack \"deepfool\""), "{err}");
}

#[test]
fn a_missing_manifest_or_model_is_named() {
    let (code, _, err) = interlab(&["suite", "run", "/nonexistent/suite.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/suite.toml"), "{err}");
    let data = format!("{SUITE}data.safetensors");
    let (code, _, err) = interlab(&[
        "attack",
        "--model",
        "/nonexistent/model.safetensors",
        "--data",
        &data,
        "--attack",
        "fgsm",
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/model.safetensors"), "{err}");
}

const ORACLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../reference-suites/tests/oracle/"
);

/// The first `n` Fashion-MNIST test images of the oracle fixture, as a new data file.
fn image_data(n: usize, dir: &std::path::Path) -> String {
    let bytes = std::fs::read(format!("{ORACLE}fmnist-cnn/data_test.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let x = st.tensor("x_test").unwrap();
    let y = st.tensor("y_test").unwrap();
    let xv = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![n, 1, 28, 28],
        &x.data()[..n * 784 * 4],
    )
    .unwrap();
    let yv =
        safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![n], &y.data()[..n * 8])
            .unwrap();
    let out = safetensors::serialize(vec![("x_test", xv), ("y_test", yv)], None).unwrap();
    let path = dir.join("images.safetensors");
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

#[test]
fn an_onnx_cnn_and_its_pytorch_state_dict_attack_images_through_the_cli_alike() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_data(64, dir.path());
    let onnx = format!("{ORACLE}fmnist-cnn/cnn_a.onnx");
    let sd = format!("{ORACLE}fmnist-cnn/cnn_a.safetensors");
    let arch = format!("{ORACLE}fmnist-cnn/cnn_a.arch.json");
    let common = ["--data", &data, "--attack", "pgd", "--eps", "0.1", "--json"];
    let (code, a, err) = interlab(&[&["attack", "--model", &onnx][..], &common].concat());
    assert_eq!(code, 0, "{err}");
    let (code, b, err) =
        interlab(&[&["attack", "--model", &sd, "--arch", &arch][..], &common].concat());
    assert_eq!(code, 0, "{err}");
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(a.trim()).unwrap(),
        serde_json::from_str(b.trim()).unwrap(),
    );
    assert_eq!(a["n"], 64);
    assert!(a["clean_accuracy"].as_f64().unwrap() > 0.8, "{a}");
    assert!(a["robust_accuracy"].as_f64().unwrap() < 0.3, "{a}");
    assert_eq!(a["robust_accuracy"], b["robust_accuracy"]);
}

#[test]
fn a_file_that_is_not_a_model_and_an_image_model_on_flat_data_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not an onnx file at all").unwrap();
    let digits = format!("{SUITE}data.safetensors");
    let (code, _, err) = interlab(&[
        "attack",
        "--model",
        junk.to_str().unwrap(),
        "--data",
        &digits,
        "--attack",
        "fgsm",
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("neither safetensors nor ONNX"), "{err}");
    let onnx = format!("{ORACLE}fmnist-cnn/cnn_a.onnx");
    let (code, _, err) = interlab(&[
        "attack", "--model", &onnx, "--data", &digits, "--attack", "fgsm", "--eps", "0.1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("[1, 28, 28]") && err.contains("[64]"), "{err}");
}
