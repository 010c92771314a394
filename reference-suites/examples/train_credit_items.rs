//! Builds the test items and poisoning inputs of the credit-tabular suite from the suite's
//! data and initial weights, writes them into `reference-suites/suites/credit-tabular/`
//! and prints what each model measures as, with every file's artefact digest and size.
//!
//! ```sh
//! cargo run -p interlab-suites --release --example train_credit_items
//! ```

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use interlab_protocol::{Digest, domain};
use interlab_suites::{
    Model,
    credit::items::{self, CreditFigures, CreditInputs, CreditItem},
    items::members_file,
};

type Error = Box<dyn std::error::Error>;

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

fn row(name: &str, f: &CreditFigures) {
    println!(
        "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.4} |",
        f.member_accuracy,
        f.clean_accuracy,
        f.fgsm_robust_accuracy,
        f.pgd_robust_accuracy,
        f.square_robust_accuracy,
        f.mia_auc_vs_test,
    );
}

fn run() -> Result<(), Error> {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("suites/credit-tabular");
    let inputs = CreditInputs::from_bytes(
        &read(&suite.join("data.safetensors"))?,
        &read(&suite.join("mlp_init.safetensors"))?,
    )?;
    let n = inputs.train().len();
    let all: Vec<usize> = (0..n).collect();
    let mut files = Vec::new();
    let mut figures = Vec::new();
    let base = Model::from_bytes(&read(&suite.join("mlp_trained.safetensors"))?)?;
    figures.push(("mlp_trained (base)", items::measure(&base, &inputs, &all)?));
    for item in CreditItem::ALL {
        let built = items::build(item, &inputs)?;
        figures.push((
            item.name(),
            items::measure(&built.model, &inputs, &built.members)?,
        ));
        files.push((format!("items/{}", item.file_name()), built.bytes));
        if item == CreditItem::Overfit {
            files.push((
                "items/members.safetensors".into(),
                members_file(&built.members, n)?,
            ));
            println!("members: {:?}", built.members);
        }
    }
    files.push((
        "poisoning_inputs.safetensors".into(),
        items::poisoning_file(&inputs)?,
    ));
    println!("| model | members | clean | FGSM 0.05 | PGD 0.05 | Square 0.05 | MIA AUC |");
    println!("|---|---|---|---|---|---|---|");
    for (name, f) in &figures {
        row(name, f);
    }
    for path in [
        "data.safetensors",
        "mlp_init.safetensors",
        "mlp_trained.safetensors",
    ] {
        let bytes = read(&suite.join(path))?;
        println!(
            "{path}: blake3 {} size {}",
            Digest::of(domain::ARTEFACT, &bytes),
            bytes.len()
        );
    }
    for (path, bytes) in &files {
        write(&suite.join(path), bytes)?;
        println!(
            "{path}: blake3 {} size {}",
            Digest::of(domain::ARTEFACT, bytes),
            bytes.len()
        );
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
