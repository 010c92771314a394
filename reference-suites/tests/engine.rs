//! Engine properties: determinism, suite ids, and refusal of bad input with the reason.

#![allow(clippy::unwrap_used)]

mod support;

use interlab_protocol::{Digest, domain, to_canonical_vec};
use interlab_suites::{
    DataError, EngineError, Manifest, ManifestError, ModelError, RunConfig, Suite, SuiteError, run,
};
use support::*;

fn canonical(out: &interlab_suites::RunOutput) -> Vec<u8> {
    to_canonical_vec(&out.result)
}

#[test]
fn same_seed_and_thread_count_give_bit_identical_results_and_evidence() {
    let suite = Suite::load(manifest()).unwrap();
    let cfg = RunConfig::new().with_threads(2).with_seed(7);
    let a = run(&suite, &cfg, |_| {}).unwrap();
    let b = run(&suite, &cfg, |_| {}).unwrap();
    assert_eq!(canonical(&a), canonical(&b));
    assert_eq!(a.evidence, b.evidence);
    // Every model test on every item it applies to, every poisoning test once.
    let m = suite.manifest();
    let units: usize = m
        .tests
        .iter()
        .map(|t| {
            if t.params.uses_model() {
                m.items
                    .iter()
                    .filter(|i| m.item_tests(i).any(|id| id == t.id))
                    .count()
            } else {
                1
            }
        })
        .sum();
    assert_eq!(a.result.tests.len(), units);
    assert!(units > m.tests.len());
    assert!(a.result.tests.iter().all(|t| {
        t.item.is_some()
            == m.tests
                .iter()
                .any(|x| x.id == t.test && x.params.uses_model())
    }));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let suite = Suite::load(manifest()).unwrap();
    let only = vec!["pgd-rs-eps0.1".to_string(), "square-eps0.1".to_string()];
    let one = run(
        &suite,
        &RunConfig::new().with_only(only.clone()).with_threads(1),
        |_| {},
    )
    .unwrap();
    let mut two = run(
        &suite,
        &RunConfig::new().with_only(only).with_threads(2),
        |_| {},
    )
    .unwrap();
    two.result.environment.threads = 1;
    assert_eq!(canonical(&one), canonical(&two));
}

#[test]
fn another_seed_changes_randomised_tests_but_not_deterministic_ones() {
    let suite = Suite::load(manifest()).unwrap();
    let only = vec!["fgsm-eps0.1".to_string(), "square-eps0.1".to_string()];
    let a = run(
        &suite,
        &RunConfig::new().with_only(only.clone()).with_seed(1),
        |_| {},
    )
    .unwrap();
    let b = run(
        &suite,
        &RunConfig::new().with_only(only).with_seed(2),
        |_| {},
    )
    .unwrap();
    let m = |o: &interlab_suites::RunOutput, t| {
        o.result.measurement(t, "robust_accuracy").unwrap().clone()
    };
    assert_eq!(m(&a, "fgsm-eps0.1").values, m(&b, "fgsm-eps0.1").values);
    let square = |o: &interlab_suites::RunOutput| {
        o.evidence
            .iter()
            .find(|e| e.test == "square-eps0.1")
            .unwrap()
            .bytes
            .clone()
    };
    assert_ne!(square(&a), square(&b), "square rows should differ");
    let sq = m(&a, "square-eps0.1");
    assert_eq!(sq.values.len(), 3);
    assert!(sq.u > 0.0);
}

#[test]
fn an_eps_override_changes_the_attack_and_is_stated_in_the_warnings() {
    let suite = Suite::load(manifest()).unwrap();
    let only = vec!["fgsm-eps0.1".to_string()];
    let base = run(&suite, &RunConfig::new().with_only(only.clone()), |_| {}).unwrap();
    let small = run(
        &suite,
        &RunConfig::new().with_only(only).with_eps(0.05),
        |_| {},
    )
    .unwrap();
    let ra = |o: &interlab_suites::RunOutput| {
        o.result
            .measurement("fgsm-eps0.1", "robust_accuracy")
            .unwrap()
            .mean
    };
    assert!(ra(&small) > ra(&base), "{} vs {}", ra(&small), ra(&base));
    assert!(base.result.tests[0].warnings.is_empty());
    assert!(small.result.tests[0].warnings[0].contains("eps 0.05 instead of the suite's 0.1"));
    // The override is declared in the result: it is not a conforming measurement.
    assert!(base.result.tests.iter().all(|t| t.deviations.is_empty()));
    let d = &small.result.tests[0].deviations;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (
            d[0].param.as_str(),
            d[0].value.as_str(),
            d[0].harmonized.as_str()
        ),
        ("eps", "0.05", "0.1")
    );
}

#[test]
fn progress_reports_every_repetition_of_every_test() {
    let suite = Suite::load(manifest()).unwrap();
    let only = vec!["fgsm-eps0.1".to_string(), "pgd-rs-eps0.1".to_string()];
    let mut seen = Vec::new();
    run(&suite, &RunConfig::new().with_only(only), |p| {
        seen.push((p.test.to_string(), p.done, p.total))
    })
    .unwrap();
    // FGSM (one repetition) on the four items, random-start PGD (three repetitions) on
    // the three items it runs on: 4 + 9 units.
    assert_eq!(seen.len(), 13);
    assert_eq!(seen.last().unwrap(), &("pgd-rs-eps0.1".to_string(), 13, 13));
}

#[test]
fn every_test_carries_its_criterion_id_and_evidence_digests() {
    let suite = Suite::load(manifest()).unwrap();
    let out = run(
        &suite,
        &RunConfig::new().with_only(vec!["pgd-eps0.1".into()]),
        |_| {},
    )
    .unwrap();
    let t = &out.result.tests[0];
    let (_, c) = suite
        .criteria()
        .into_iter()
        .find(|(id, _)| id == "pgd-eps0.1")
        .unwrap();
    assert_eq!(t.criterion, c.id());
    for e in &out.evidence {
        assert_eq!(e.reference.digest, Digest::of(domain::ARTEFACT, &e.bytes));
    }
    assert_eq!(out.result.suite, suite.id());
    assert_eq!(out.result.model, suite.model_digest());
}

#[test]
fn suite_id_ignores_comments_and_key_order_but_not_values() {
    let text = std::fs::read_to_string(manifest()).unwrap();
    let m = Manifest::from_toml(&text).unwrap();
    let commented = format!(
        "# another comment\n{}",
        text.replace("seed = 20261125", "seed   =   20261125 # same")
    );
    assert_eq!(Manifest::from_toml(&commented).unwrap().id(), m.id());
    let changed = text.replace(
        "params = { kind = \"fgsm\", eps = 0.1 }",
        "params = { kind = \"fgsm\", eps = 0.2 }",
    );
    assert_ne!(Manifest::from_toml(&changed).unwrap().id(), m.id());
    // Canonical bytes decode to the same manifest and the same id.
    let back = Manifest::from_canonical(&m.canonical_bytes()).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.id(), Digest::of(domain::SUITE, &m.canonical_bytes()));
}

#[test]
fn a_suite_from_canonical_bytes_and_a_resolver_equals_the_loaded_one() {
    let loaded = Suite::load(manifest()).unwrap();
    let dir = suite_dir();
    let fetched = Suite::from_parts(loaded.canonical_bytes(), |req| {
        std::fs::read(dir.join(req.path)).map_err(|e| e.to_string())
    })
    .unwrap();
    assert_eq!(fetched.id(), loaded.id());
    assert_eq!(fetched.artefact_refs(), loaded.artefact_refs());
}

#[test]
fn non_canonical_manifest_bytes_are_refused() {
    let loaded = Suite::load(manifest()).unwrap();
    let mut bytes = loaded.canonical_bytes().to_vec();
    bytes.push(0);
    let err = Suite::from_parts(&bytes, |_| Ok(Vec::new())).unwrap_err();
    assert!(
        matches!(err, SuiteError::Manifest(ManifestError::NotCanonical(_))),
        "{err}"
    );
}

fn load_with(edit: impl Fn(&str) -> String) -> SuiteError {
    let dir = suite_copy();
    let p = dir.path().join("suite.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, edit(&text)).unwrap();
    Suite::load(&p).unwrap_err()
}

#[test]
fn a_missing_artefact_is_named() {
    let dir = suite_copy();
    std::fs::remove_file(dir.path().join("poisoning_inputs.safetensors")).unwrap();
    let err = Suite::load(dir.path().join("suite.toml")).unwrap_err();
    assert!(
        matches!(&err, SuiteError::MissingArtefact { name, .. } if name == "poisoning"),
        "{err}"
    );
}

#[test]
fn an_artefact_with_other_bytes_is_refused_by_digest() {
    let dir = suite_copy();
    let p = dir.path().join("mlp_trained.safetensors");
    let mut b = std::fs::read(&p).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&p, b).unwrap();
    let err = Suite::load(dir.path().join("suite.toml")).unwrap_err();
    assert!(
        matches!(&err, SuiteError::DigestMismatch { name, .. } if name == "model"),
        "{err}"
    );
    assert!(err.to_string().contains("mlp_trained.safetensors"));
}

#[test]
fn malformed_toml_is_refused_with_the_parsers_location() {
    let err = load_with(|t| t.replace("seed = 20261125", "seed = = 1"));
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Malformed(m)) if m.contains("line")),
        "{err}"
    );
}

#[test]
fn an_unknown_attack_kind_is_refused_by_name() {
    let err = load_with(|t| t.replace("kind = \"fgsm\"", "kind = \"deepfool\""));
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Malformed(m)) if m.contains("deepfool")),
        "{err}"
    );
}

#[test]
fn another_format_version_is_refused() {
    let err = load_with(|t| t.replace("interlab-suite/1", "interlab-suite/9"));
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Format { found }) if found == "interlab-suite/9"),
        "{err}"
    );
}

#[test]
fn eps_outside_the_valid_range_is_refused_in_the_manifest_and_as_an_override() {
    let err = load_with(|t| t.replace("kind = \"fgsm\", eps = 0.1", "kind = \"fgsm\", eps = 1.5"));
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Invalid { field, .. }) if field == "tests[0].params.eps"),
        "{err}"
    );
    let suite = Suite::load(manifest()).unwrap();
    let err = run(&suite, &RunConfig::new().with_eps(-0.1), |_| {
        panic!("no test may start")
    })
    .unwrap_err();
    assert!(
        matches!(&err, EngineError::Config(m) if m.contains("-0.1")),
        "{err}"
    );
}

#[test]
fn a_criterion_on_a_metric_the_test_does_not_report_is_refused() {
    let err = load_with(|t| t.replacen("metric = \"robust_accuracy\"", "metric = \"auc\"", 1));
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Invalid { field, .. }) if field == "tests[0].criterion.metric"),
        "{err}"
    );
}

#[test]
fn a_manifest_may_not_declare_an_undeclared_sigma_pt() {
    let err = load_with(|t| {
        t.replacen(
            "sigma_pt = { kind = \"binomial\", n = 500 }",
            "sigma_pt = { kind = \"undeclared\" }",
            1,
        )
    });
    assert!(
        matches!(&err, SuiteError::Manifest(ManifestError::Invalid { field, problem })
            if field.ends_with(".sigma_pt") && problem.contains("leave the metric out")),
        "{err}"
    );
}

fn mlp_bytes(classes: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let f = |n: usize| vec![0u8; n * 4];
    write_safetensors(
        &p,
        &[
            (
                "fc1.weight",
                safetensors::Dtype::F32,
                vec![32, 64],
                f(32 * 64),
            ),
            ("fc1.bias", safetensors::Dtype::F32, vec![32], f(32)),
            (
                "fc2.weight",
                safetensors::Dtype::F32,
                vec![classes, 32],
                f(classes * 32),
            ),
            (
                "fc2.bias",
                safetensors::Dtype::F32,
                vec![classes],
                f(classes),
            ),
        ],
    );
    std::fs::read(p).unwrap()
}

#[test]
fn a_model_with_another_class_count_is_refused_before_any_test() {
    let suite = Suite::load(manifest()).unwrap();
    let cfg = RunConfig::new().with_model_bytes(mlp_bytes(5));
    let err = run(&suite, &cfg, |_| panic!("no test may start")).unwrap_err();
    assert!(
        matches!(
            &err,
            EngineError::Model(ModelError::Mismatch {
                model_classes: 5,
                data_classes: 10,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn a_model_whose_layers_do_not_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    write_safetensors(
        &p,
        &[
            (
                "fc1.weight",
                safetensors::Dtype::F32,
                vec![32, 64],
                vec![0; 32 * 64 * 4],
            ),
            (
                "fc1.bias",
                safetensors::Dtype::F32,
                vec![32],
                vec![0; 32 * 4],
            ),
            (
                "fc2.weight",
                safetensors::Dtype::F32,
                vec![10, 16],
                vec![0; 160 * 4],
            ),
            ("fc2.bias", safetensors::Dtype::F32, vec![10], vec![0; 40]),
        ],
    );
    let err = interlab_suites::Model::from_bytes(&std::fs::read(p).unwrap()).unwrap_err();
    assert!(
        matches!(&err, ModelError::Shape { name, .. } if name == "fc2.weight"),
        "{err}"
    );
}

#[test]
fn nan_in_the_data_is_refused_naming_tensor_and_row() {
    let dir = suite_copy();
    let data = std::fs::read(dir.path().join("data.safetensors")).unwrap();
    let mut x = f32s(&data, "x_test");
    x[3 * 64 + 5] = f32::NAN;
    let as_bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    let i64b = |v: &[i64]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    let p = dir.path().join("data.safetensors");
    write_safetensors(
        &p,
        &[
            (
                "x_train",
                safetensors::Dtype::F32,
                vec![1297, 64],
                as_bytes(&f32s(&data, "x_train")),
            ),
            (
                "y_train",
                safetensors::Dtype::I64,
                vec![1297],
                i64b(&i64s(&data, "y_train")),
            ),
            (
                "x_test",
                safetensors::Dtype::F32,
                vec![500, 64],
                as_bytes(&x),
            ),
            (
                "y_test",
                safetensors::Dtype::I64,
                vec![500],
                i64b(&i64s(&data, "y_test")),
            ),
        ],
    );
    let new = std::fs::read(&p).unwrap();
    let m = dir.path().join("suite.toml");
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace(
            "2312cf3023a8678cb4e22bd412f877c40f70bc457bd2655e9028744198b8ca7f",
            &Digest::of(domain::ARTEFACT, &new).to_hex(),
        )
        .replace("size = 489216", &format!("size = {}", new.len()));
    std::fs::write(&m, text).unwrap();
    let err = Suite::load(&m).unwrap_err();
    assert!(
        matches!(&err, SuiteError::Data(DataError::NotFinite { name, row: 3 }) if name == "x_test"),
        "{err}"
    );
}

#[test]
fn the_onnx_export_gives_the_same_adversarial_rows_as_the_safetensors_model_outside_fragile_rows() {
    use interlab_suites::{AttackKind, AttackSpec, Precision, attack};
    let suite = Suite::load(manifest()).unwrap();
    let onnx =
        interlab_suites::Model::from_bytes(&read(root().join("tests/data/mlp_trained.onnx")))
            .unwrap();
    assert_eq!((onnx.input_dim(), onnx.classes()), (64, 10));
    let spec = AttackSpec {
        kind: AttackKind::Pgd,
        eps: 0.1,
        step: Some(0.025),
        iterations: Some(10),
        random_start: false,
        seed: 0,
        threads: 1,
        precision: Precision::F32,
    };
    let a = attack(&onnx, &suite.data().test, &spec).unwrap();
    let b = attack(suite.model(), &suite.data().test, &spec).unwrap();
    let fragile = i64s(&art(), "fragile_test_rows");
    for (r, (x, y)) in a.x_adv.chunks(64).zip(b.x_adv.chunks(64)).enumerate() {
        assert!(
            fragile[r] == 1 || x == y,
            "row {r} differs between onnx and safetensors"
        );
    }
    assert_eq!(a.clean_accuracy, b.clean_accuracy);
    assert!(
        (a.robust_accuracy - b.robust_accuracy).abs() <= 0.012,
        "{} vs {}",
        a.robust_accuracy,
        b.robust_accuracy
    );
}

#[test]
fn an_item_with_declared_members_takes_them_as_members_for_membership_inference() {
    let suite = Suite::load(manifest()).unwrap();
    let only = vec!["mia-loss-threshold".to_string()];
    let out = run(&suite, &RunConfig::new().with_only(only), |_| {}).unwrap();
    let auc = |item: &str| {
        out.result
            .tests
            .iter()
            .find(|t| t.item.as_deref() == Some(item))
            .unwrap()
            .measurements
            .iter()
            .find(|m| m.metric == "auc")
            .unwrap()
            .mean
    };
    // `overfit` was trained on exactly 100 training rows (items/SOURCE.md): with those as
    // members and the other 1 197 training rows as non-members it leaks (AUC 0.6908);
    // taking every training row as a member would give 0.4841.
    assert!((auc("overfit") - 0.6908).abs() < 5e-4, "{}", auc("overfit"));
    assert!((auc("base") - 0.5245).abs() < 5e-4, "{}", auc("base"));
    // The evidence holds one loss per member and non-member: all 1 297 training rows.
    let i = out
        .result
        .tests
        .iter()
        .position(|t| t.item.as_deref() == Some("overfit"))
        .unwrap();
    let losses = &out.result.tests[i].evidence[0];
    assert_eq!(losses.size, 1297 * 4);
}
