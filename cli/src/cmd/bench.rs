//! `interlab bench …`: throughput measurements printed side by side, never asserted.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::store::{CheckLevel, IngestResult, OpenProgress, Prepared, Store};
use interlab_protocol::{Envelope, KeyCache, Record, testkit::Workload};

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
    /// Opening a large store with the open-time check (ids re-hashed, records read
    /// and compared with their summaries, chain links) against opening it with the
    /// summaries believed, as before the check existed; alternated, medians reported.
    StoreOpen(StoreOpenArgs),
    /// PGD L∞ on an image classifier: the engine against IBM ART on PyTorch CPU, whole
    /// process, time and peak memory, and the engine's thread scaling.
    Attack(super::bench_attack::Args),
}

/// Arguments of `interlab bench store-open`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreOpenArgs {
    /// Records in the store (realistic run results from 8 labs, plus setup records).
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Seed of the synthetic log.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Alternations of the two ways of opening.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where the store is built, and kept for the next run with the same --records and
    /// --seed (generating a million signed records takes minutes).
    #[arg(long)]
    dir: PathBuf,
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
    /// Alternations of bare verification and ingest; the ratio reported is the median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where to put the benchmark store [default: a fresh directory under the system
    /// temporary directory, removed afterwards].
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Ingest(a) => ingest(a, json),
        BenchCommand::StoreOpen(a) => store_open(a, json),
        BenchCommand::Attack(a) => super::bench_attack::run(a, json),
    }
}

fn store_open(args: StoreOpenArgs, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.records > 0, "--records must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let path = args
        .dir
        .join(format!("open-{}-{}.redb", args.records, args.seed));
    if !path.exists() {
        let tmp = path.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        let store = Store::open(&tmp)?;
        let mut work = Workload::new(args.seed, 8);
        let bar = indicatif::ProgressBar::new(args.records as u64);
        let mut left = args.records;
        while left > 0 {
            let n = left.min(4096);
            let batch = work.take(n);
            check_all(store.ingest(&batch, work.now_ms())?)?;
            left -= n;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        drop(store);
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    }
    let bytes = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let mut plain = Vec::new();
    let mut checked = Vec::new();
    let mut n = 0;
    for _ in 0..args.rounds {
        let start = Instant::now();
        let store = Store::open_checked(&path, OpenProgress::Quiet, CheckLevel::SummariesOnly)?;
        plain.push(start.elapsed().as_secs_f64());
        n = store.len();
        drop(store);
        let start = Instant::now();
        let store = Store::open_checked(&path, OpenProgress::Quiet, CheckLevel::Records)?;
        checked.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            store.damaged().is_empty() && store.len() == n,
            "the benchmark store is damaged: {:?}",
            store.damaged().first().map(ToString::to_string)
        );
        drop(store);
    }
    let (p, c) = (median(plain.clone()), median(checked.clone()));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "records": n,
                "file_bytes": bytes,
                "open_summaries_only_s": plain,
                "open_checked_s": checked,
                "median_summaries_only_s": p,
                "median_checked_s": c,
                "ratio": c / p,
                "checked_records_per_s": n as f64 / c,
                "cores_available": cores,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{n} records, store file {:.2} GB, {cores} core(s) available",
        bytes as f64 / 1e9
    );
    println!("round  summaries only   with the check");
    for (i, (p, c)) in plain.iter().zip(&checked).enumerate() {
        println!("{:>5}  {p:>11.2} s  {c:>13.2} s", i + 1);
    }
    println!(
        "median: {p:.2} s ({:.0} records/s) without the check, {c:.2} s ({:.0} records/s) with it; ratio {:.2}",
        n as f64 / p,
        n as f64 / c,
        c / p
    );
    Ok(ExitCode::SUCCESS)
}

fn ingest(args: IngestArgs, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.records > 0, "--records must be at least 1");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let mut work = Workload::new(args.seed, 8);
    let bytes = work.take(args.records);
    let now = work.now_ms();
    let n = bytes.len() as f64;
    let mean_len = bytes.iter().map(Vec::len).sum::<usize>() / bytes.len();
    let envelopes: Vec<Envelope> = bytes
        .iter()
        .map(|b| Envelope::decode(b))
        .collect::<Result<_, _>>()
        .context("a generated envelope does not decode")?;

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
    let bench = Bench {
        bytes: &bytes,
        batch: args.batch,
        now,
        path: &path,
    };

    // The measured pair, alternated so that a slow spell of the machine hits both: bare
    // verify_strict as a verifier given only the records would call it (parsing the
    // author key of each), then the full pipelined ingest into a fresh store.
    let mut rounds = Vec::with_capacity(args.rounds);
    for _ in 0..args.rounds {
        let verify = timed(n, || {
            for e in &envelopes {
                e.verify_signature()
                    .context("a generated signature fails")?;
            }
            Ok(())
        })?;
        let ingest = bench.pipelined()?;
        rounds.push(Round {
            verify,
            ingest,
            ratio: ingest / verify,
        });
    }
    let ratio = median(rounds.iter().map(|r| r.ratio).collect());

    // The breakdown, once each.
    let keys = KeyCache::parse(envelopes.iter().map(|e| &e.author));
    let parsed = timed(n, || {
        for e in &envelopes {
            e.verify_signature_with(&keys)
                .context("a generated signature fails")?;
        }
        Ok(())
    })?;
    let decode = timed(n, || {
        for b in &bytes {
            let env = Envelope::decode(b).context("a generated envelope does not decode")?;
            let record =
                Record::from_canonical(&env.body).context("a generated body does not decode")?;
            std::hint::black_box((record, env.id()));
        }
        Ok(())
    })?;
    let chunks = bench.chunks();
    let open = timed(n, || {
        for chunk in chunks {
            std::hint::black_box(Store::prepare(chunk));
        }
        Ok(())
    })?;
    let sequential = bench.sequential()?;
    let store_only = bench.store_only()?;
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    if json {
        let v = serde_json::json!({
            "records": args.records,
            "batch": args.batch,
            "mean_envelope_bytes": mean_len,
            "rounds": rounds.iter().map(|r| serde_json::json!({
                "verify_per_s": r.verify,
                "ingest_per_s": r.ingest,
                "ratio": r.ratio,
            })).collect::<Vec<_>>(),
            "ratio": ratio,
            "verify_parsed_keys_per_s": parsed,
            "decode_per_s": decode,
            "open_per_s": open,
            "sequential_ingest_per_s": sequential,
            "store_only_per_s": store_only,
            "cores_available": cores,
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
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
    println!("round  bare verify_strict  pipelined ingest   ratio");
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "{:>5}  {:>10.0} rec/s    {:>10.0} rec/s  {:.3}",
            i + 1,
            r.verify,
            r.ingest,
            r.ratio
        );
    }
    println!(
        "ratio ingest/verify, median of {} rounds: {ratio:.3} (target >= 0.8)",
        rounds.len()
    );
    println!("breakdown, once each:");
    println!("  verify_strict, keys parsed once: {parsed:>8.0} records/s  (the curve work alone)");
    println!(
        "  decode only:                     {decode:>8.0} records/s  (envelope and body, canonical checks, record id)"
    );
    println!(
        "  open only:                       {open:>8.0} records/s  (decode + canonical check + verify_strict, keys parsed per batch)"
    );
    println!(
        "  store only:                      {store_only:>8.0} records/s  (opened batches: chain check + durable store, fsync waited on)"
    );
    println!(
        "  ingest, sequential:              {sequential:>8.0} records/s  (one thread opens and stores, waiting on every fsync)"
    );
    Ok(ExitCode::SUCCESS)
}

/// One alternation of the measured pair.
struct Round {
    verify: f64,
    ingest: f64,
    ratio: f64,
}

/// The records and the store file every ingest variant uses.
struct Bench<'a> {
    bytes: &'a [Vec<u8>],
    batch: usize,
    now: u64,
    path: &'a std::path::Path,
}

impl Bench<'_> {
    /// The batches as they arrive from the network: owned (copying them is not ingest's
    /// work, so it happens before the clock starts).
    fn chunks(&self) -> Vec<Vec<Vec<u8>>> {
        self.bytes
            .chunks(self.batch)
            .map(<[Vec<u8>]>::to_vec)
            .collect()
    }

    /// Runs `f` on a fresh store at the bench path, removed afterwards.
    fn with_store(&self, f: impl FnOnce(&Store) -> anyhow::Result<f64>) -> anyhow::Result<f64> {
        let store = Store::open(self.path)?;
        let rate = f(&store);
        drop(store);
        std::fs::remove_file(self.path)
            .with_context(|| format!("cannot remove {}", self.path.display()))?;
        rate
    }

    /// Batch k+1 is opened while batch k is stored and waits on its fsync, as the node's
    /// event loop does (`net/event_loop/ingests.rs`); on one core this overlaps only CPU
    /// work with disk waits.
    fn pipelined(&self) -> anyhow::Result<f64> {
        let chunks = self.chunks();
        self.with_store(|store| {
            timed(self.bytes.len() as f64, || {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Prepared>(1);
                let producer = std::thread::spawn(move || {
                    for chunk in chunks {
                        if tx.send(Store::prepare(chunk)).is_err() {
                            break;
                        }
                    }
                });
                for prepared in rx {
                    check_all(store.ingest_prepared(prepared, self.now)?)?;
                }
                producer
                    .join()
                    .map_err(|_| anyhow::anyhow!("the preparing thread panicked"))
            })
        })
    }

    /// One thread does everything, waiting on each commit's fsync.
    fn sequential(&self) -> anyhow::Result<f64> {
        self.with_store(|store| {
            timed(self.bytes.len() as f64, || {
                for chunk in self.bytes.chunks(self.batch) {
                    check_all(store.ingest(chunk, self.now)?)?;
                }
                Ok(())
            })
        })
    }

    /// Storing batches opened beforehand (not timed).
    fn store_only(&self) -> anyhow::Result<f64> {
        let prepared: Vec<Prepared> = self.chunks().into_iter().map(Store::prepare).collect();
        self.with_store(|store| {
            timed(self.bytes.len() as f64, || {
                for p in prepared {
                    check_all(store.ingest_prepared(p, self.now)?)?;
                }
                Ok(())
            })
        })
    }
}

/// Items per second of `f` over `items` items.
fn timed(items: f64, f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let start = Instant::now();
    f()?;
    Ok(items / start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn check_all(results: Vec<IngestResult>) -> anyhow::Result<()> {
    for r in results {
        r.map_err(|e| anyhow::anyhow!("a generated record was rejected: {e}"))?;
    }
    Ok(())
}
