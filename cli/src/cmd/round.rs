//! `interlab round open`: the scheme owner opens a comparison round of a suite.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use interlab_protocol::{Body, Digest};

use super::api_args::ApiArgs;

/// Arguments of `interlab round`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: RoundCommand,
}

#[derive(Debug, Subcommand)]
enum RoundCommand {
    /// Open a round (scheme owner); results after the deadline are kept but marked late.
    Open {
        /// The suite id.
        #[arg(long)]
        suite: Digest,
        /// Round number (default: one more than the latest opened for this suite).
        #[arg(long)]
        round: Option<u32>,
        /// Deadline, RFC 3339 (like 2026-12-31T23:59:59Z).
        #[arg(long)]
        deadline: Option<String>,
    },
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let RoundCommand::Open {
        suite,
        round,
        deadline,
    } = args.command;
    let deadline_ms = deadline
        .map(|d| {
            let t = humantime::parse_rfc3339(&d)
                .with_context(|| format!("--deadline {d:?} is not an RFC 3339 time"))?;
            let ms = t
                .duration_since(std::time::UNIX_EPOCH)
                .context("--deadline is before 1970")?
                .as_millis();
            anyhow::Ok(u64::try_from(ms).unwrap_or(u64::MAX))
        })
        .transpose()?;
    let round = match round {
        Some(r) => r,
        None => crate::ops::latest_round(&client, &suite)?.map_or(1, |r| r + 1),
    };
    let v = client.publish(&Body::RoundOpened {
        suite,
        round,
        deadline_ms,
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "round": round, "suite": suite, "record": v.id })
        );
    } else {
        println!("opened round {round} of suite {suite} (record {})", v.id);
    }
    Ok(ExitCode::SUCCESS)
}
