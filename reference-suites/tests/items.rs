//! The digits suite's test items are reproducible: rebuilding each by its recipe gives the
//! shipped file's artefact digest, and each item has the property it is shipped for.

#![allow(clippy::unwrap_used)]

mod support;

use interlab_protocol::{Digest, domain};
use interlab_suites::{
    Model,
    items::{self, BuiltItem, DigitsItem, ItemFigures, ItemInputs},
};
use support::*;

fn inputs() -> ItemInputs {
    ItemInputs::from_bytes(
        &read(suite_dir().join("data.safetensors")),
        &read(suite_dir().join("mlp_init.safetensors")),
    )
    .unwrap()
}

fn shipped(file: &str) -> Vec<u8> {
    read(suite_dir().join("items").join(file))
}

fn artefact(bytes: &[u8]) -> Digest {
    Digest::of(domain::ARTEFACT, bytes)
}

/// Rebuilds `item`, checks its digest against the shipped file and returns it.
fn rebuild(item: DigitsItem, inputs: &ItemInputs) -> BuiltItem {
    let started = std::time::Instant::now();
    let built = items::build(item, inputs).unwrap();
    eprintln!(
        "rebuilt {} in {:.1} s",
        item.name(),
        started.elapsed().as_secs_f64()
    );
    let file = shipped(&item.file_name());
    assert_eq!(
        artefact(&built.bytes),
        artefact(&file),
        "{} rebuilt differs from the shipped file",
        item.name()
    );
    built
}

fn base_figures(inputs: &ItemInputs) -> ItemFigures {
    let base = Model::from_bytes(&read(suite_dir().join("mlp_trained.safetensors"))).unwrap();
    let all: Vec<usize> = (0..inputs.train().len()).collect();
    items::measure(&base, inputs, &all, None).unwrap()
}

#[test]
fn rebuilding_the_adversarially_trained_item_gives_the_shipped_file_and_it_resists_pgd() {
    let inputs = inputs();
    let built = rebuild(DigitsItem::RobustPgd, &inputs);
    let f = items::measure(&built.model, &inputs, &built.members, None).unwrap();
    let base = base_figures(&inputs);
    assert!(
        f.pgd_robust_accuracy > 0.5 && f.pgd_robust_accuracy > base.pgd_robust_accuracy + 0.3,
        "PGD robust accuracy {} (base {})",
        f.pgd_robust_accuracy,
        base.pgd_robust_accuracy
    );
    assert!(
        f.clean_accuracy > 0.9,
        "clean accuracy {}",
        f.clean_accuracy
    );
    // A black-box attack does no better than PGD: the gradients are not masked.
    assert!(
        f.square_robust_accuracy >= f.pgd_robust_accuracy - 0.05,
        "Square {} vs PGD {}",
        f.square_robust_accuracy,
        f.pgd_robust_accuracy
    );
}

#[test]
fn rebuilding_the_overfit_item_gives_the_shipped_model_and_member_list_and_leaks_membership() {
    let inputs = inputs();
    let built = rebuild(DigitsItem::Overfit, &inputs);
    let n = inputs.train().len();
    assert_eq!(built.members.len(), items::OVERFIT_ROWS);
    let members = items::members_file(&built.members, n).unwrap();
    assert_eq!(
        artefact(&members),
        artefact(&shipped("kat_members.safetensors"))
    );
    let f = items::measure(&built.model, &inputs, &built.members, None).unwrap();
    let base = base_figures(&inputs);
    assert!(
        f.mia_auc_vs_test > base.mia_auc_vs_test + 0.08,
        "membership AUC {} (base {})",
        f.mia_auc_vs_test,
        base.mia_auc_vs_test
    );
}

#[test]
fn rebuilding_the_known_answer_backdoor_item_gives_the_shipped_file_and_its_trigger_works() {
    let inputs = inputs();
    let built = rebuild(DigitsItem::KatBackdoor, &inputs);
    let (trigger, rows) = built.backdoor.as_ref().unwrap();
    assert_eq!(rows.len(), items::KAT_BACKDOOR_ROWS);
    assert!(rows.iter().all(|&r| inputs.train().y[r] != trigger.target));
    let f = items::measure(&built.model, &inputs, &built.members, Some(trigger)).unwrap();
    let asr = f.backdoor_success_rate.unwrap();
    assert!(asr > 0.9, "trigger attack success rate {asr}");
    assert!(
        f.clean_accuracy > 0.9,
        "clean accuracy {}",
        f.clean_accuracy
    );
}

#[test]
fn a_shipped_item_loads_as_a_model_of_the_suites_shape() {
    for item in DigitsItem::ALL {
        let m = Model::from_bytes(&shipped(&item.file_name())).unwrap();
        m.check_fits(64, 10).unwrap();
    }
}
