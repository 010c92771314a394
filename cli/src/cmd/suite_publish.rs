//! `interlab suite publish`: the scheme owner publishes a suite version; artefacts are
//! uploaded to the owner's node and travel to labs by hash.

use std::{path::PathBuf, process::ExitCode};

use crate::ops;
use interlab_protocol::Digest;

use super::api_args::ApiArgs;

/// Arguments of `interlab suite publish`.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The suite manifest (suite.toml); its artefacts are checked against their digests.
    manifest: PathBuf,
    /// Suite id of the version this one supersedes.
    #[arg(long)]
    supersedes: Option<Digest>,
}

pub(crate) fn run(args: PublishArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let (suite, id) = ops::publish_suite(&client, &args.manifest, args.supersedes)?;
    if json {
        println!("{}", serde_json::json!({ "suite": suite, "record": id }));
    } else {
        println!("published suite {suite} (record {id})");
    }
    Ok(ExitCode::SUCCESS)
}
