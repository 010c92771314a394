//! `interlab debug …` (hidden): tools for tests that need a real process.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::store::Store;
use interlab_protocol::{
    Rejection,
    testkit::{Workload, batch_plan},
};

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
    /// Run DIR's key as a byzantine peer: join the scheme through the bootstrap peers,
    /// equivocate once, publish COUNT hostile messages at RATE per second
    /// (`interlab_node::net::byzantine`), print what was sent as one JSON line, stay
    /// connected for --linger seconds, exit.
    Byzantine(ByzantineArgs),
    /// Print the OpenAPI document of the HTTP API (what `GET /v1/openapi.json` serves);
    /// `interlab debug openapi > docs/openapi.json` regenerates the checked-in copy.
    Openapi,
}

/// Arguments of `interlab debug byzantine`.
#[derive(Debug, clap::Args)]
pub(crate) struct ByzantineArgs {
    /// A node directory (made by `interlab init`); its key should be accredited.
    #[arg(long)]
    dir: PathBuf,
    /// Peers to dial (multiaddrs with /p2p/PEER_ID).
    #[arg(long, required = true)]
    bootstrap: Vec<String>,
    /// The scheme to join.
    #[arg(long)]
    scheme: interlab_protocol::SchemeId,
    /// Hostile messages to publish.
    #[arg(long, default_value_t = 300)]
    count: u64,
    /// Hostile messages per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Seconds to stay connected after the flood.
    #[arg(long, default_value_t = 10.0)]
    linger: f64,
    /// Seed of the attack's choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
        DebugCommand::Byzantine(a) => byzantine(a),
        DebugCommand::Openapi => {
            print!("{}", interlab_node::api::openapi::document_json());
            Ok(ExitCode::SUCCESS)
        }
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

fn byzantine(args: ByzantineArgs) -> anyhow::Result<ExitCode> {
    use std::time::{Duration, Instant};

    use interlab_node::{
        config::NodeDir,
        keyfile,
        net::{NetConfig, byzantine::Attacker, spawn},
    };

    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be a positive number"
    );
    anyhow::ensure!(
        (0.0..=3600.0).contains(&args.linger),
        "--linger must be 0 … 3600 seconds"
    );
    let dir = NodeDir::new(&args.dir);
    let key = keyfile::load_secret_key(&dir.key())?;
    let store = Store::open(&dir.store())?;
    let bootstrap = args
        .bootstrap
        .iter()
        .map(|b| b.parse().with_context(|| format!("bad --bootstrap {b}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let cfg = NetConfig::default()
            .with_sync_interval(Duration::from_millis(500))
            .with_bootstrap(bootstrap)
            .with_scheme(Some(args.scheme))
            .build()?;
        let (client, task) = spawn(cfg, key.to_bytes(), store.clone()).await?;
        // Join like anyone: the genesis and the owner's records arrive by catch-up.
        let me = key.public();
        let deadline = Instant::now() + Duration::from_secs(60);
        while store.authority().standing(&me) == interlab_protocol::Standing::Unknown {
            anyhow::ensure!(
                Instant::now() < deadline,
                "not accredited in scheme {} after 60 s",
                args.scheme
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Let the gossip mesh form so that the flood reaches peers directly.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut attacker = Attacker::new(key, args.scheme, args.seed);
        let gap = Duration::from_secs_f64(1.0 / args.rate);
        let log = attacker.run(&client, &store, args.count, gap).await?;
        let (a, b) = log.equivocation.unwrap_or_default();
        let line = serde_json::json!({
            "sent": log.sent,
            "refused": log.refused,
            "forbidden": log.forbidden,
            "equivocation": [a, b],
            "peer_id": client.peer_id().to_string(),
        });
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        drop(out);
        tokio::time::sleep(Duration::from_secs_f64(args.linger)).await;
        client.shutdown().await;
        let _ = task.await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
