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
