//! Builds the second test item of the fmnist-cnn suite: the suite's CNN (`cnn_a.onnx`)
//! fine-tuned on the first 100 training images until it memorises them, written as a
//! PyTorch state dict (`items/cnn_overfit.safetensors`, architecture `cnn_a.arch.json`)
//! with its member rows (`items/members.safetensors`). Prints what each file's artefact
//! digest and size are, and the item's accuracies.
//!
//! ```sh
//! cargo run -p interlab-suites --example train_fmnist_items
//! ```
//!
//! The recipe is the constants below; `items/SOURCE.md` records it.

use std::{path::PathBuf, process::ExitCode};

use interlab_protocol::{Digest, domain};
use interlab_suites::{Model, Recipe, Rng, Split, Suite, derive_seed, items::members_file};

type Error = Box<dyn std::error::Error>;

/// Training rows the item memorises: rows 0..MEMBERS of `x_train`.
const MEMBERS: usize = 100;

/// Full-batch Adam over the member rows, starting from the suite's trained CNN.
const RECIPE: Recipe = Recipe {
    steps: 200,
    lr: 0.001,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

fn accuracy(model: &Model, s: &Split) -> Result<f64, Error> {
    let c = model.classes();
    let logits = model.predict_logits(&s.x)?;
    let hits = logits
        .chunks_exact(c)
        .zip(&s.y)
        .filter(|(row, y)| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            best.0 == **y as usize
        })
        .count();
    Ok(hits as f64 / s.y.len() as f64)
}

fn run() -> Result<(), Error> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("suites/fmnist-cnn");
    let suite = Suite::load(dir.join("suite.toml"))?;
    let data = suite.data();
    let d = data.features;
    let members = Split {
        x: data.train.x[..MEMBERS * d].to_vec(),
        y: data.train.y[..MEMBERS].to_vec(),
    };
    let mut rng = Rng::new(derive_seed(
        suite.manifest().seed,
        "cnn_overfit",
        0,
        "batches",
    ));
    let started = std::time::Instant::now();
    let model = suite.model().train(&members, &RECIPE, &mut rng)?;
    eprintln!("fine-tuned in {:.1} s", started.elapsed().as_secs_f64());
    let rest = Split {
        x: data.train.x[MEMBERS * d..].to_vec(),
        y: data.train.y[MEMBERS..].to_vec(),
    };
    for (name, m) in [("base", suite.model()), ("cnn_overfit", &model)] {
        println!(
            "{name}: members {:.3}, other training rows {:.3}, test {:.3}",
            accuracy(m, &members)?,
            accuracy(m, &rest)?,
            accuracy(m, &data.test)?
        );
    }
    let rows: Vec<usize> = (0..MEMBERS).collect();
    let files = [
        ("items/cnn_overfit.safetensors", model.to_safetensors()?),
        (
            "items/members.safetensors",
            members_file(&rows, data.train.len())?,
        ),
    ];
    for (path, bytes) in &files {
        std::fs::write(dir.join(path), bytes)?;
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
