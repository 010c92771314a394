//! Convolutional and tabular models from ONNX and PyTorch state dicts against IBM ART
//! 1.20.1 (PyTorch CPU): the fixtures in `tests/oracle/` (see its README for provenance).

#![allow(clippy::unwrap_used)]

mod support;

use interlab_suites::{
    AttackKind, AttackSpec, Model, Precision, SequentialSpec, Split, attack, load_eval_data,
};
use support::*;

fn oracle(path: &str) -> Vec<u8> {
    read(root().join("tests/oracle").join(path))
}

fn cnn_onnx() -> Model {
    Model::from_bytes(&oracle("fmnist-cnn/cnn_a.onnx")).unwrap()
}

fn cnn_state_dict() -> Model {
    let spec = SequentialSpec::from_json(&oracle("fmnist-cnn/cnn_a.arch.json")).unwrap();
    Model::from_state_dict(&oracle("fmnist-cnn/cnn_a.safetensors"), &spec).unwrap()
}

fn cnn_data(model: &Model) -> Split {
    load_eval_data(&oracle("fmnist-cnn/data_test.safetensors"), model).unwrap()
}

fn cnn_art() -> Vec<u8> {
    oracle("fmnist-cnn/art_outputs_subset.safetensors")
}

/// The largest absolute difference between two equally long logit vectors.
fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "logit vectors of different lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

fn spec(kind: AttackKind, eps: f32, precision: Precision) -> AttackSpec {
    AttackSpec {
        kind,
        eps,
        step: Some(eps / 4.0),
        iterations: Some(10),
        random_start: false,
        seed: 0,
        threads: 1,
        precision,
    }
}

/// Correct rows after the attack, against ART's float32 and float64 counts.
fn assert_within(
    kind: AttackKind,
    model: &Model,
    data: &Split,
    eps: f32,
    art: &[u8],
    name: &str,
    slack: i64,
) {
    let truth: Vec<i64> = data.y.iter().map(|&v| i64::from(v)).collect();
    let count = |p: Vec<i64>| p.iter().zip(&truth).filter(|(a, b)| a == b).count() as i64;
    let a32 = count(i64s(art, &format!("{name}_pred")));
    let a64 = count(i64s(art, &format!("{name}_pred_f64")));
    let (lo, hi) = (a32.min(a64), a32.max(a64));
    for precision in [Precision::F32, Precision::F64] {
        let r = attack(model, data, &spec(kind, eps, precision)).unwrap();
        let ours = r
            .adv_pred
            .iter()
            .zip(&data.y)
            .filter(|(a, b)| a == b)
            .count() as i64;
        eprintln!(
            "{name} {}: ours {ours}, ART [{lo}, {hi}] of {}",
            precision.name(),
            data.len()
        );
        assert!(
            ours >= lo - slack && ours <= hi + slack,
            "{name} ({}): {ours} robust rows, ART interval [{lo}, {hi}] ± {slack}",
            precision.name()
        );
    }
}

#[test]
fn cnn_clean_logits_from_onnx_match_art_within_1e_4() {
    let model = cnn_onnx();
    assert_eq!(
        (model.input_shape(), model.classes()),
        (&[1, 28, 28][..], 10)
    );
    let data = cnn_data(&model);
    let ours = model.predict_logits(&data.x).unwrap();
    let theirs = f32s(&cnn_art(), "logits_test");
    let worst = largest_difference(&ours, &theirs);
    assert!(worst <= 1e-4, "largest logit difference {worst}");
}

#[test]
fn cnn_from_onnx_and_from_the_pytorch_state_dict_give_logits_within_1e_4() {
    let (a, b) = (cnn_onnx(), cnn_state_dict());
    let data = cnn_data(&a);
    let la = a.predict_logits(&data.x).unwrap();
    let lb = b.predict_logits(&data.x).unwrap();
    let worst = largest_difference(&la, &lb);
    assert!(worst <= 1e-4, "largest logit difference {worst}");
}

#[test]
fn cnn_input_gradient_signs_equal_pytorchs_on_every_non_fragile_row() {
    // Exact sign agreement needs PyTorch's max-pool tie rule (first maximum, row-major):
    // about 15 % of first-layer windows hold a tied maximum.
    let model = cnn_onnx();
    let data = cnn_data(&model);
    let art = cnn_art();
    let theirs = f32s(&art, "input_grad_test_sumloss");
    let fragile = i64s(&art, "fragile_test_rows");
    let ours = model
        .loss_input_grad(&data.x, &data.y, Precision::F32)
        .unwrap();
    let sgn = |v: f64| (v > 0.0) as i8 - (v < 0.0) as i8;
    let mut differing = 0usize;
    for (r, f) in fragile.iter().enumerate() {
        if *f != 0 {
            continue;
        }
        for j in r * 784..(r + 1) * 784 {
            if sgn(ours[j]) != sgn(f64::from(theirs[j])) {
                differing += 1;
            }
        }
    }
    assert_eq!(
        differing, 0,
        "gradient signs differing from PyTorch's on non-fragile rows"
    );
}

#[test]
fn cnn_fgsm_robust_accuracy_is_within_3_images_of_art() {
    let model = cnn_onnx();
    let data = cnn_data(&model);
    assert_within(
        AttackKind::Fgsm,
        &model,
        &data,
        0.1,
        &cnn_art(),
        "fgsm_eps0.1",
        3,
    );
}

#[test]
fn cnn_pgd_robust_accuracy_is_within_3_images_of_art() {
    let model = cnn_state_dict();
    let data = cnn_data(&model);
    assert_within(
        AttackKind::Pgd,
        &model,
        &data,
        0.1,
        &cnn_art(),
        "pgd_eps0.1",
        3,
    );
}

fn credit_models() -> [Model; 2] {
    [
        Model::from_bytes(&oracle("credit/credit_mlp.onnx")).unwrap(),
        Model::from_bytes(&oracle("credit/credit_mlp.safetensors")).unwrap(),
    ]
}

#[test]
fn credit_fgsm_and_pgd_robust_accuracy_is_within_2_rows_of_art_for_onnx_and_safetensors() {
    let art = oracle("credit/art_outputs_subset.safetensors");
    for model in credit_models() {
        let data = load_eval_data(&oracle("credit/data.safetensors"), &model).unwrap();
        assert_eq!(data.len(), 300);
        for (eps, tag) in [(0.05, "0.05"), (0.1, "0.1")] {
            assert_within(
                AttackKind::Fgsm,
                &model,
                &data,
                eps,
                &art,
                &format!("fgsm_eps{tag}"),
                2,
            );
            assert_within(
                AttackKind::Pgd,
                &model,
                &data,
                eps,
                &art,
                &format!("pgd_eps{tag}"),
                2,
            );
        }
    }
}

#[test]
fn credit_clean_logits_from_onnx_match_art_within_1e_4() {
    let [onnx, st] = credit_models();
    let data = load_eval_data(&oracle("credit/data.safetensors"), &onnx).unwrap();
    let theirs = f32s(
        &oracle("credit/art_outputs_subset.safetensors"),
        "logits_test",
    );
    for m in [onnx, st] {
        let ours = m.predict_logits(&data.x).unwrap();
        let worst = largest_difference(&ours, &theirs);
        assert!(worst <= 1e-4, "largest logit difference {worst}");
    }
}

#[test]
fn retraining_the_cnn_from_its_state_dict_lowers_the_loss_and_repeats_bit_for_bit() {
    use interlab_suites::{Recipe, Rng};
    let model = cnn_state_dict();
    let data = cnn_data(&model);
    // Four Adam steps from the trained weights on 256 test rows.
    let sub = Split {
        x: data.x[..256 * 784].to_vec(),
        y: data.y[..256].to_vec(),
    };
    let recipe = Recipe {
        steps: 4,
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        batch_size: Some(128),
    };
    let a = model.train(&sub, &recipe, &mut Rng::new(3)).unwrap();
    let b = model.train(&sub, &recipe, &mut Rng::new(3)).unwrap();
    assert_eq!(a.to_safetensors().unwrap(), b.to_safetensors().unwrap());
    assert_ne!(a.to_safetensors().unwrap(), model.to_safetensors().unwrap());
    let la = a.predict_logits(&sub.x).unwrap();
    assert!(la.iter().all(|v| v.is_finite()));
}
