//! The engine against IBM ART 1.20.1 (PyTorch CPU) on the same weights and data.

mod support;

use interlab_suites::{AttackKind, AttackSpec, Precision, RunConfig, Suite, attack, run};
use support::*;

fn spec(kind: AttackKind, eps: f32) -> AttackSpec {
    AttackSpec {
        kind,
        eps,
        step: Some(0.025),
        iterations: Some(10),
        random_start: false,
        seed: 0,
        threads: 1,
        precision: Precision::F32,
    }
}

/// Compares adversarial rows with ART's: identical bits on rows not flagged fragile.
fn assert_rows_match_art(ours: &[f32], art_name: &str) -> usize {
    let art = art();
    let theirs = f32s(&art, art_name);
    let fragile = i64s(&art, "fragile_test_rows");
    let mut fragile_diff = 0;
    for (r, f) in fragile.iter().enumerate() {
        let a = &ours[r * 64..(r + 1) * 64];
        let b = &theirs[r * 64..(r + 1) * 64];
        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        if *f == 0 {
            assert!(same, "row {r} (not fragile) differs from ART's {art_name}");
        } else if !same {
            fragile_diff += 1;
        }
    }
    fragile_diff
}

#[test]
fn reference_model_has_the_clean_accuracy_art_reports() {
    let suite = Suite::load(manifest()).unwrap();
    let r = attack(
        suite.model(),
        &suite.data().test,
        &spec(AttackKind::Fgsm, 0.1),
    )
    .unwrap();
    assert_eq!(r.n, 500);
    assert!(
        (r.clean_accuracy - 0.966).abs() < 1e-9,
        "{}",
        r.clean_accuracy
    );
}

#[test]
fn fgsm_rows_equal_arts_outside_fragile_rows_and_robust_accuracy_matches() {
    let suite = Suite::load(manifest()).unwrap();
    let r = attack(
        suite.model(),
        &suite.data().test,
        &spec(AttackKind::Fgsm, 0.1),
    )
    .unwrap();
    let differing = assert_rows_match_art(&r.x_adv, "fgsm_eps0.1");
    eprintln!(
        "fgsm: robust accuracy {}, fragile rows differing {differing}",
        r.robust_accuracy
    );
    assert!(
        (r.robust_accuracy - 0.286).abs() <= 0.012,
        "{}",
        r.robust_accuracy
    );
}

#[test]
fn pgd_rows_equal_arts_outside_fragile_rows_and_robust_accuracy_matches() {
    let suite = Suite::load(manifest()).unwrap();
    let r = attack(
        suite.model(),
        &suite.data().test,
        &spec(AttackKind::Pgd, 0.1),
    )
    .unwrap();
    let differing = assert_rows_match_art(&r.x_adv, "pgd_eps0.1");
    eprintln!(
        "pgd: robust accuracy {}, fragile rows differing {differing}",
        r.robust_accuracy
    );
    assert!(
        (r.robust_accuracy - 0.228).abs() <= 0.012 || (r.robust_accuracy - 0.226).abs() <= 0.012,
        "{}",
        r.robust_accuracy
    );
}

#[test]
fn pgd_with_f64_gradients_stays_within_the_tolerance_of_the_f64_reference() {
    let suite = Suite::load(manifest()).unwrap();
    let mut s = spec(AttackKind::Pgd, 0.1);
    s.precision = Precision::F64;
    let r = attack(suite.model(), &suite.data().test, &s).unwrap();
    eprintln!("pgd f64: robust accuracy {}", r.robust_accuracy);
    assert!(
        (r.robust_accuracy - 0.226).abs() <= 0.012,
        "{}",
        r.robust_accuracy
    );
}

#[test]
fn loss_threshold_membership_inference_matches_art_auc_and_advantage() {
    let suite = Suite::load(manifest()).unwrap();
    let cfg = RunConfig::new().with_only(vec!["mia-loss-threshold".into()]);
    let out = run(&suite, &cfg, |_| {}).unwrap();
    let auc = out.result.measurement("mia-loss-threshold", "auc").unwrap();
    let adv = out
        .result
        .measurement("mia-loss-threshold", "max_advantage")
        .unwrap();
    eprintln!(
        "mia auc {} ± {}, max advantage {}",
        auc.mean, auc.u, adv.mean
    );
    assert!((auc.mean - 0.5245).abs() <= 0.002, "{}", auc.mean);
    assert!((adv.mean - 0.0777).abs() <= 0.002, "{}", adv.mean);
    assert!(auc.u > 0.0 && auc.u < 0.05, "bootstrap u {}", auc.u);
}

#[test]
fn retraining_from_init_with_the_recipe_reproduces_the_reference_accuracy_and_poisoning_bites() {
    let suite = Suite::load(manifest()).unwrap();
    let cfg =
        RunConfig::new().with_only(vec!["backdoor-4px-to-0".into(), "label-flip-20pct".into()]);
    let out = run(&suite, &cfg, |_| {}).unwrap();
    let m = |t: &str, metric: &str| out.result.measurement(t, metric).unwrap().mean;
    // The clean retrain (poisoned accuracy + drop) must land on PyTorch's trained model.
    for t in ["backdoor-4px-to-0", "label-flip-20pct"] {
        let clean = m(t, "clean_accuracy") + m(t, "clean_accuracy_drop");
        assert!(
            (clean - 0.966).abs() <= 0.006,
            "{t}: clean retrain accuracy {clean}"
        );
    }
    let asr = m("backdoor-4px-to-0", "attack_success_rate");
    let flip = m("label-flip-20pct", "clean_accuracy");
    eprintln!(
        "backdoor asr {asr}, backdoor clean acc {}, label-flip clean acc {flip}, drop {}",
        m("backdoor-4px-to-0", "clean_accuracy"),
        m("label-flip-20pct", "clean_accuracy_drop")
    );
    assert!(asr > 0.5, "a 10 % backdoor should work: {asr}");
    assert!(flip < 0.966, "{flip}");
}
