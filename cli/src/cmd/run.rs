//! `interlab run`: a lab executes a published suite on its own hardware and publishes the
//! signed result.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use crate::ops;
use anyhow::Context;
use interlab_protocol::Digest;
use interlab_suites::RunConfig;

use super::api_args::ApiArgs;

/// Arguments of `interlab run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// The suite id (from `interlab suite publish` or the suite_published record).
    #[arg(long)]
    suite: Digest,
    /// The round (default: the latest round the owner opened, else 1).
    #[arg(long)]
    round: Option<u32>,
    /// Seed (default: the suite's).
    #[arg(long)]
    seed: Option<u64>,
    /// Engine threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Your own model (ONNX, or a safetensors MLP) instead of the suite's reference model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Run only this test of the suite (repeatable; default: every test).
    #[arg(long)]
    only: Vec<String>,
    /// Replace ε of every evasion test (an experiment, not the published procedure).
    #[arg(long)]
    eps: Option<f64>,
    /// Precision of input gradients: f32 (the suite's) or f64.
    #[arg(long, value_parser = ["f32", "f64"])]
    precision: Option<String>,
    /// This run re-runs an earlier (e.g. disputed) result.
    #[arg(long)]
    rerun_of: Option<interlab_protocol::RecordId>,
    /// Simulate a careless lab: judge verdicts with the threshold moved this far towards
    /// passing while naming the suite's criterion.
    #[arg(long, hide = true)]
    lax_criterion: Option<f64>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    // First: a node that is catching up on its own chain can neither sign nor know the
    // latest round; say so before any work.
    client.signing_ready()?;
    let round = match args.round {
        Some(r) => r,
        None => ops::latest_round(&client, &args.suite)?.unwrap_or(1),
    };
    let mut config = RunConfig::new()
        .with_threads(args.threads)
        .with_round(round);
    if let Some(eps) = args.eps {
        config = config.with_eps(eps);
    }
    if args.precision.as_deref() == Some("f64") {
        config = config.with_precision(interlab_suites::Precision::F64);
    }
    if !args.only.is_empty() {
        config = config.with_only(args.only.clone());
    }
    if let Some(seed) = args.seed {
        config = config.with_seed(seed);
    }
    if let Some(path) = &args.model {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
        config = config.with_model_bytes(bytes);
    }
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let deviation = ops::Deviation {
        lax_threshold: args.lax_criterion,
        rerun_of: args.rerun_of,
    };
    let (id, result) = ops::run_suite(&client, &args.suite, config, deviation, |p| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
            b.set_message(p.test.to_owned());
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        println!(
            "{}",
            serde_json::json!({ "id": id, "suite": args.suite, "round": round, "result": result })
        );
    } else {
        println!(
            "published run result {id} for suite {} round {round}",
            args.suite
        );
        for t in &result.tests {
            let m = t.measurements.first();
            println!(
                "  {:<22} {:<8} {}",
                t.test,
                super::wire_name(&t.verdict),
                m.map(|m| format!(
                    "{} = {:.4} ± {:.4} (k={})",
                    m.metric, m.mean, m.expanded, m.k
                ))
                .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
