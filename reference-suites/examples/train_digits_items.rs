//! Builds the test items of the digits suite from the suite's data and initial weights,
//! writes them into `reference-suites/suites/digits-mlp/items/` and prints, for the base
//! model and every item, what it measures as and its artefact digest and size.
//!
//! ```sh
//! cargo run -p interlab-suites --release --example train_digits_items
//! ```
//!
//! The recipes live in `interlab_suites::items`; `items/SOURCE.md` records them with the
//! figures this prints.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use interlab_protocol::{Digest, domain};
use interlab_suites::{
    Model,
    items::{self, DigitsItem, ItemFigures, ItemInputs},
};

type Error = Box<dyn std::error::Error>;

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.4}"))
}

fn row(name: &str, f: &ItemFigures) {
    println!(
        "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.4} | {} | {} |",
        f.clean_accuracy,
        f.fgsm_robust_accuracy,
        f.pgd_robust_accuracy,
        f.pgd_random_start_robust_accuracy,
        f.square_robust_accuracy,
        f.mia_auc_vs_test,
        opt(f.mia_auc_vs_unused_train),
        opt(f.backdoor_success_rate),
    );
}

fn run() -> Result<(), Error> {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("suites/digits-mlp");
    let out = suite.join("items");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let inputs = ItemInputs::from_bytes(
        &read(&suite.join("data.safetensors"))?,
        &read(&suite.join("mlp_init.safetensors"))?,
    )?;
    let n_train = inputs.train().len();
    let mut digests = Vec::new();
    let mut figures = Vec::new();

    let base = Model::from_bytes(&read(&suite.join("mlp_trained.safetensors"))?)?;
    let all: Vec<usize> = (0..n_train).collect();
    figures.push((
        "mlp_trained (base)".to_string(),
        items::measure(&base, &inputs, &all, None)?,
    ));

    for item in DigitsItem::ALL {
        let started = Instant::now();
        let built = items::build(item, &inputs)?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!("built {} in {secs:.1} s", item.name());
        let trigger = built.backdoor.as_ref().map(|(t, _)| t);
        figures.push((
            item.name().to_string(),
            items::measure(&built.model, &inputs, &built.members, trigger)?,
        ));
        let file = item.file_name();
        write(&out.join(&file), &built.bytes)?;
        digests.push((file, built.bytes.clone()));
        if item == DigitsItem::Overfit {
            let members = items::members_file(&built.members, n_train)?;
            write(&out.join("kat_members.safetensors"), &members)?;
            digests.push(("kat_members.safetensors".into(), members));
        }
        // The recipes are full-batch without random start: the "batches" stream is
        // seeded but never drawn from.
        let purposes: &[&str] = match item {
            DigitsItem::RobustPgd => &["batches"],
            DigitsItem::Overfit => &["batches", "members"],
            DigitsItem::KatBackdoor => &["batches", "poisoned rows"],
        };
        for purpose in purposes {
            eprintln!("{}: seed {purpose:?} = {}", item.name(), item.seed(purpose));
        }
        if item == DigitsItem::Overfit {
            eprintln!("{}: member rows {:?}", item.name(), built.members);
        }
        if let Some((t, rows)) = &built.backdoor {
            eprintln!(
                "{}: trigger pixels {:?} = {} -> label {}, stamped on training rows {rows:?}",
                item.name(),
                t.pixels,
                t.value,
                t.target,
            );
        }
    }

    println!(
        "| model | clean | FGSM ε 0.1 | PGD ε 0.1 | PGD ε 0.1 random start | Square ε 0.1 | MIA AUC members vs test | MIA AUC members vs unused train | trigger ASR |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, f) in &figures {
        row(name, f);
    }
    println!();
    println!("| file | blake3 (interlab 2026-11 artefact v1) | size |");
    println!("|---|---|---|");
    for (file, bytes) in &digests {
        let d = Digest::of(domain::ARTEFACT, bytes);
        println!("| `{file}` | `{d}` | {} |", bytes.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
