//! `interlab scheme …`: scheme-owner commands.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::{
    config::{Config, NodeDir},
    keyfile,
    store::Store,
};
use interlab_protocol::{Body, Envelope, RECORD_VERSION, Record};

/// Arguments of `interlab scheme`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: SchemeCommand,
}

/// Scheme subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SchemeCommand {
    /// Create a new scheme owned by this node's key: sign its genesis, store it, and
    /// record the scheme id in the node's configuration.
    Create(CreateArgs),
}

/// Arguments of `interlab scheme create`.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The node directory (made by `interlab init`).
    #[arg(long)]
    dir: PathBuf,
    /// The scheme's name.
    #[arg(long)]
    name: String,
    /// Show labs by code, not by name, in every record and output (ISO/IEC 17043
    /// confidentiality); the owner keeps the names in `lab-codes.json`, off the network.
    #[arg(long)]
    lab_codes: bool,
    /// How participants and regulators reach you, the provider (an address, a mail box);
    /// printed on every round report.
    #[arg(long)]
    contact: Option<String>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        SchemeCommand::Create(a) => create(a, json),
    }
}

fn create(args: CreateArgs, json: bool) -> anyhow::Result<ExitCode> {
    let dir = NodeDir::new(&args.dir);
    let config = Config::load(&dir.config())?;
    if let Some(s) = config.scheme() {
        anyhow::bail!(
            "{} already belongs to scheme {s}; a node serves one scheme",
            dir.root().display()
        );
    }
    let key = keyfile::load_secret_key(&dir.key())?;
    let store = Store::open(&dir.store())?;
    if let Some((s, _)) = store.scheme() {
        anyhow::bail!(
            "the store in {} already holds scheme {s}",
            dir.root().display()
        );
    }
    let now_ms = now_ms()?;
    let genesis = Record {
        v: RECORD_VERSION,
        author: key.public(),
        scheme: None,
        seq: 0,
        prev: None,
        time_ms: now_ms,
        body: Body::SchemeGenesis {
            name: args.name,
            lab_codes: args.lab_codes,
            contact: args.contact,
        },
    };
    let envelope = Envelope::seal(&key, &genesis);
    let result = store
        .ingest(&[envelope.to_bytes()], now_ms)?
        .pop()
        .context("the store returned no result for the genesis")?;
    let id = result.map_err(|r| anyhow::anyhow!("the genesis was rejected: {r}"))?;
    config.with_scheme(Some(id)).build()?.save(&dir.config())?;
    if json {
        let v = serde_json::json!({ "scheme": id.to_hex(), "owner": key.public().to_hex() });
        println!("{v}");
    } else {
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> anyhow::Result<u64> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    Ok(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
