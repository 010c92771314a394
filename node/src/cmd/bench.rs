//! `interlab bench …`: throughput measurements printed side by side, never asserted.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::store::{IngestResult, Prepared, Store, synth::Workload};
use interlab_protocol::{Envelope, KeyCache, MAX_ENVELOPE_BYTES, Record, from_slice_canonical};

/// Arguments of `interlab bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Full ingest (decode, canonical check, verify_strict, chain check, durable batched
    /// store) against bare verify_strict of the same envelopes, on one thread.
    Ingest(IngestArgs),
}

/// Arguments of `interlab bench ingest`.
#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// Records to generate (realistic run results from 8 labs, plus setup records).
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// Records per durable commit.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Seed of the synthetic log.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to put the benchmark store [default: a fresh directory under the system
    /// temporary directory, removed afterwards].
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Ingest(a) => ingest(a, json),
    }
}

fn ingest(args: IngestArgs, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.records > 0, "--records must be at least 1");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let mut work = Workload::new(args.seed, 8);
    let bytes = work.take(args.records);
    let now = work.now_ms();
    let mean_len = bytes.iter().map(Vec::len).sum::<usize>() / bytes.len();
    let envelopes: Vec<Envelope> = bytes
        .iter()
        .map(|b| Envelope::decode(b))
        .collect::<Result<_, _>>()
        .context("a generated envelope does not decode")?;

    // The baseline: verify_strict as a verifier given only the records would call it,
    // parsing the author key of each.
    let verify = |envelopes: &[Envelope]| -> anyhow::Result<f64> {
        let start = Instant::now();
        for e in envelopes {
            e.verify_signature()
                .context("a generated signature fails")?;
        }
        Ok(envelopes.len() as f64 / start.elapsed().as_secs_f64())
    };
    // The curve work alone: every key parsed beforehand.
    let keys = KeyCache::parse(envelopes.iter().map(|e| &e.author));
    let verify_parsed = |envelopes: &[Envelope]| -> anyhow::Result<f64> {
        let start = Instant::now();
        for e in envelopes {
            e.verify_signature_with(&keys)
                .context("a generated signature fails")?;
        }
        Ok(envelopes.len() as f64 / start.elapsed().as_secs_f64())
    };
    let verify_before = verify(&envelopes)?;
    let parsed_before = verify_parsed(&envelopes)?;
    // The byte work alone, for the breakdown: envelope and body decoded strictly with
    // their canonical checks, and the record id; no signature.
    let start = Instant::now();
    for b in &bytes {
        let env = Envelope::decode(b).context("a generated envelope does not decode")?;
        let record: Record = from_slice_canonical(&env.body, MAX_ENVELOPE_BYTES)
            .context("a generated body does not decode")?;
        std::hint::black_box((record, env.id()));
    }
    let decode_rate = bytes.len() as f64 / start.elapsed().as_secs_f64();
    // The log-independent part of ingest, for the breakdown.
    let chunks: Vec<Vec<Vec<u8>>> = bytes.chunks(args.batch).map(<[Vec<u8>]>::to_vec).collect();
    let start = Instant::now();
    for chunk in chunks {
        std::hint::black_box(Store::prepare(chunk));
    }
    let open_rate = bytes.len() as f64 / start.elapsed().as_secs_f64();

    let (dir, remove) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("interlab-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("bench.redb");
    anyhow::ensure!(
        !path.exists(),
        "{} exists; pass an empty --dir",
        path.display()
    );
    // Sequential: one thread does everything, waiting on each commit's fsync.
    let store = Store::open(&path)?;
    let start = Instant::now();
    for chunk in bytes.chunks(args.batch) {
        check_all(store.ingest(chunk, now)?)?;
    }
    let sequential_rate = bytes.len() as f64 / start.elapsed().as_secs_f64();
    drop(store);
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;

    // Pipelined: batch k+1 is decoded and verified while batch k waits on its fsync.
    // On one core this overlaps only CPU work with disk waits.
    let store = Store::open(&path)?;
    // Batches arrive owned (as from the network); copying them is not ingest's work.
    let chunks: Vec<Vec<Vec<u8>>> = bytes.chunks(args.batch).map(<[Vec<u8>]>::to_vec).collect();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Prepared>(1);
    let producer = std::thread::spawn(move || {
        for chunk in chunks {
            if tx.send(Store::prepare(chunk)).is_err() {
                break;
            }
        }
    });
    for prepared in rx {
        check_all(store.ingest_prepared(prepared, now)?)?;
    }
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the preparing thread panicked"))?;
    let ingest_rate = bytes.len() as f64 / start.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    drop(store);
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let verify_after = verify(&envelopes)?;
    let parsed_after = verify_parsed(&envelopes)?;
    let verify_rate = (verify_before + verify_after) / 2.0;
    let parsed_rate = (parsed_before + parsed_after) / 2.0;
    let ratio = ingest_rate / verify_rate;
    let ratio_parsed = ingest_rate / parsed_rate;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    if json {
        let v = serde_json::json!({
            "records": args.records,
            "batch": args.batch,
            "mean_envelope_bytes": mean_len,
            "verify_per_s": verify_rate,
            "verify_runs_per_s": [verify_before, verify_after],
            "verify_parsed_keys_per_s": parsed_rate,
            "decode_per_s": decode_rate,
            "open_per_s": open_rate,
            "sequential_ingest_per_s": sequential_rate,
            "ingest_per_s": ingest_rate,
            "cores_available": cores,
            "ratio": ratio,
            "ratio_parsed_keys": ratio_parsed,
            "store_bytes": file_bytes,
        });
        println!("{v}");
    } else {
        println!(
            "{} records, mean envelope {mean_len} bytes, {} per durable commit, {cores} core(s) available{}",
            args.records,
            args.batch,
            if cores == 1 {
                ""
            } else {
                " (pin with `taskset -c 0` to measure one core)"
            }
        );
        println!(
            "bare verify_strict:      {verify_rate:>8.0} records/s  (key parsed per record; runs before/after ingest: {verify_before:.0}, {verify_after:.0})"
        );
        println!(
            "  keys parsed once:      {parsed_rate:>8.0} records/s  (curve work only; runs: {parsed_before:.0}, {parsed_after:.0})"
        );
        println!(
            "decode only:             {decode_rate:>8.0} records/s  (envelope and body, canonical checks, record id; no signature)"
        );
        println!(
            "open only:               {open_rate:>8.0} records/s  (decode + canonical check + verify_strict with keys parsed per batch, no log)"
        );
        println!(
            "ingest, sequential:      {sequential_rate:>8.0} records/s  (one thread waits on every fsync)"
        );
        println!(
            "ingest, pipelined:       {ingest_rate:>8.0} records/s  (open + chain check + durable store; next batch opened during the fsync)"
        );
        println!(
            "ratio ingest/verify:     {ratio:.3} (target >= 0.8); against keys parsed once: {ratio_parsed:.3}"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check_all(results: Vec<IngestResult>) -> anyhow::Result<()> {
    for r in results {
        r.map_err(|e| anyhow::anyhow!("a generated record was rejected: {e}"))?;
    }
    Ok(())
}
