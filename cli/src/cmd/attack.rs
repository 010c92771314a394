//! `interlab attack`: one ad-hoc evasion run of a model on a data file.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use interlab_suites::{
    AttackKind, AttackSpec, MAX_DATA_BYTES, MAX_MODEL_BYTES, MAX_SPEC_BYTES, Model, Precision,
    SequentialSpec,
};

use super::suite::{parse_precision, read_limited};

/// Arguments of `interlab attack`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model file: ONNX classifier, safetensors MLP in PyTorch layout, or a PyTorch
    /// `nn.Sequential` state dict (safetensors) together with `--arch`.
    #[arg(long)]
    model: PathBuf,
    /// Architecture (JSON, see docs/suites.md) of a state-dict model given as `--model`.
    #[arg(long)]
    arch: Option<PathBuf>,
    /// Safetensors file with `x_test` (f32 [n, features] or [n, C, H, W] in [0, 1]) and
    /// `y_test` (i64).
    #[arg(long)]
    data: PathBuf,
    /// Attack: fgsm, pgd or square.
    #[arg(long)]
    attack: String,
    /// L∞ radius ε, in (0, 1].
    #[arg(long)]
    eps: f32,
    /// PGD step α (default ε/4).
    #[arg(long)]
    step: Option<f32>,
    /// PGD steps (default 10) or Square query budget (default 1000).
    #[arg(long)]
    iterations: Option<u32>,
    /// PGD: start from a random point in the ε-ball.
    #[arg(long)]
    random_start: bool,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Precision of input gradients: f32 or f64.
    #[arg(long, default_value = "f32")]
    precision: String,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let kind: AttackKind = args.attack.parse()?;
    let precision: Precision = parse_precision(&args.precision)?;
    let model_bytes = read_limited(&args.model, MAX_MODEL_BYTES as u64)?;
    let model = match &args.arch {
        None => Model::from_bytes(&model_bytes),
        Some(arch) => {
            let spec = SequentialSpec::from_json(&read_limited(arch, MAX_SPEC_BYTES as u64)?)
                .with_context(|| format!("cannot read architecture {}", arch.display()))?;
            Model::from_state_dict(&model_bytes, &spec)
        }
    }
    .with_context(|| format!("cannot load model {}", args.model.display()))?;
    let data_bytes = read_limited(&args.data, MAX_DATA_BYTES as u64)?;
    let data = interlab_suites::load_eval_data(&data_bytes, &model)
        .with_context(|| format!("cannot use data {}", args.data.display()))?;
    let spec = AttackSpec {
        kind,
        eps: args.eps,
        step: args.step,
        iterations: args.iterations,
        random_start: args.random_start,
        seed: args.seed,
        threads: args.threads,
        precision,
    };
    let r = interlab_suites::attack(&model, &data, &spec)?;
    let seconds = start.elapsed().as_secs_f64();
    if json {
        let v = serde_json::json!({
            "attack": kind.name(),
            "eps": args.eps,
            "n": r.n,
            "clean_accuracy": r.clean_accuracy,
            "robust_accuracy": r.robust_accuracy,
            "attack_success_rate": r.attack_success_rate,
            "median_queries": r.median_queries,
            "precision": precision.name(),
            "threads": args.threads,
            "seed": args.seed,
            "warnings": r.warnings,
            "seconds": seconds,
        });
        println!("{v}");
    } else {
        println!(
            "{} eps {} on {} rows: clean accuracy {:.4}, robust accuracy {:.4}, attack success rate {:.4}",
            kind.name(),
            args.eps,
            r.n,
            r.clean_accuracy,
            r.robust_accuracy,
            r.attack_success_rate
        );
        if let Some(q) = r.median_queries {
            println!("median queries of broken rows: {q}");
        }
        for w in &r.warnings {
            println!("warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
