//! `interlab debug …` (hidden): tools for tests that need a real process.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::store::{
    Store,
    synth::{Workload, batch_plan},
};
use interlab_protocol::Rejection;

/// Arguments of `interlab debug`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DebugCommand,
}

/// Debug subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DebugCommand {
    /// Ingest a deterministic synthetic log into DIR's store, printing `ACK <id>` for each
    /// record once its batch has committed. Re-running with the same seed continues where
    /// the store stands (records already stored come back as duplicates).
    IngestStream(StreamArgs),
}

/// Arguments of `interlab debug ingest-stream`.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// Directory holding `store.redb` (created if absent).
    #[arg(long)]
    dir: PathBuf,
    /// Records to generate.
    #[arg(long)]
    count: u64,
    /// Seed of the log and of the batch sizes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Labs writing results.
    #[arg(long, default_value_t = 4)]
    labs: usize,
    /// Largest batch (sizes are drawn from 1 to this).
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
}

pub(crate) fn run(args: Args, _json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        DebugCommand::IngestStream(a) => ingest_stream(a),
    }
}

fn ingest_stream(args: StreamArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let store = Store::open(&args.dir.join("store.redb"))?;
    let mut work = Workload::new(args.seed, args.labs);
    let mut plan = batch_plan(args.seed, args.max_batch);
    let mut out = std::io::stdout().lock();
    let mut left = args.count;
    while left > 0 {
        let n = plan
            .next()
            .unwrap_or(1)
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let batch = work.take(n);
        left -= n as u64;
        let now = super::scheme::now_ms()?.max(work.now_ms());
        for r in store.ingest(&batch, now)? {
            match r {
                Ok(id) => writeln!(out, "ACK {id}")?,
                Err(Rejection::Duplicate(id)) => writeln!(out, "DUP {id}")?,
                Err(e) => anyhow::bail!("the synthetic log was rejected: {e}"),
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
