//! `interlab suite …`: run a reference suite locally, or show its id.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use interlab_protocol::Verdict;
use interlab_suites::{MAX_MODEL_BYTES, Precision, RunConfig, Suite};

/// Arguments of `interlab suite`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run every test of a suite and print measurements and verdicts.
    Run(RunArgs),
    /// Publish a suite version to the scheme (scheme owner's node).
    Publish(super::suite_publish::PublishArgs),
    /// Seal the known answers of a test item: prints the commitment for the manifest
    /// (scheme owner, before publishing the suite).
    Seal(super::suite_seal::SealArgs),
    /// Reveal a test item's sealed known answers after the round (scheme owner's node).
    Reveal(super::suite_seal::RevealArgs),
    /// Check a suite's artefacts and print its id.
    Id {
        /// The suite manifest (suite.toml).
        manifest: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The suite manifest (suite.toml).
    manifest: PathBuf,
    /// Your own model instead of the suite's (ONNX, or a safetensors MLP).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed (default: the manifest's).
    #[arg(long)]
    seed: Option<u64>,
    /// Override ε of every evasion test (an experiment, not the published suite).
    #[arg(long)]
    eps: Option<f64>,
    /// Precision of input gradients: f32 or f64.
    #[arg(long, default_value = "f32")]
    precision: String,
    /// Run only this test (repeatable).
    #[arg(long = "only")]
    only: Vec<String>,
}

pub(crate) fn parse_precision(s: &str) -> anyhow::Result<Precision> {
    match s {
        "f32" => Ok(Precision::F32),
        "f64" => Ok(Precision::F64),
        other => anyhow::bail!("unknown precision {other:?} (expected f32 or f64)"),
    }
}

/// Reads a file of at most `max` bytes, naming it in errors.
pub(crate) fn read_limited(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        meta.len() <= max,
        "{} is {} bytes, over the limit of {max}",
        path.display(),
        meta.len()
    );
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Run(a) => run_suite(a, json),
        Command::Seal(a) => super::suite_seal::seal(a, json),
        Command::Reveal(a) => super::suite_seal::reveal(a, json),
        Command::Publish(a) => super::suite_publish::run(a, json),
        Command::Id { manifest } => {
            let suite = Suite::load(&manifest)?;
            if json {
                let v = serde_json::json!({
                    "suite": suite.id().to_hex(),
                    "name": suite.manifest().name,
                    "version": suite.manifest().version,
                    "artefacts": suite.artefact_refs(),
                });
                println!("{v}");
            } else {
                println!(
                    "{} {} {}",
                    suite.id(),
                    suite.manifest().name,
                    suite.manifest().version
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_suite(a: RunArgs, json: bool) -> anyhow::Result<ExitCode> {
    let suite = Suite::load(&a.manifest)?;
    let mut cfg = RunConfig::new()
        .with_threads(a.threads)
        .with_precision(parse_precision(&a.precision)?);
    if let Some(s) = a.seed {
        cfg = cfg.with_seed(s);
    }
    if let Some(e) = a.eps {
        cfg = cfg.with_eps(e);
    }
    if let Some(p) = &a.model {
        cfg = cfg.with_model_bytes(read_limited(p, MAX_MODEL_BYTES as u64)?);
    }
    if !a.only.is_empty() {
        cfg = cfg.with_only(a.only.clone());
    }
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let out = interlab_suites::run(&suite, &cfg, |p| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
            b.set_message(p.test.to_string());
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let out = out?;
    let r = &out.result;
    if json {
        let v = serde_json::json!({
            "suite": r.suite.to_hex(),
            "name": suite.manifest().name,
            "result": r,
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "suite {} {} ({}), model {}, seed {}, {} thread(s), {}",
        suite.manifest().name,
        suite.manifest().version,
        r.suite.short(),
        r.model.short(),
        r.seed,
        r.environment.threads,
        r.environment.executor
    );
    let criteria = suite.criteria();
    for t in &r.tests {
        let crit = criteria
            .iter()
            .find(|(id, _)| id == &t.test)
            .map(|(_, c)| c);
        let verdict = match t.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        };
        match crit {
            Some(c) => println!(
                "{verdict} {}  ({} {} {})",
                t.test,
                c.metric,
                match c.direction {
                    interlab_protocol::Direction::AtLeast => ">=",
                    interlab_protocol::Direction::AtMost => "<=",
                },
                c.threshold
            ),
            None => println!("{verdict} {}", t.test),
        }
        for m in &t.measurements {
            println!(
                "    {:<22} {:.4} ± {:.4} (k = {}, {} repetition(s))",
                m.metric,
                m.mean,
                m.expanded,
                m.k,
                m.values.len()
            );
        }
        for w in &t.warnings {
            println!("    warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
