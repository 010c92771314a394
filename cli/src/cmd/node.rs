//! `interlab node`: run a lab's (or the scheme owner's) node until interrupted.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use interlab_node::{
    config::NodeDir,
    runtime::{self, Overrides},
};
use interlab_protocol::SchemeId;

/// Arguments of `interlab node`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The node directory (made by `interlab init`).
    #[arg(long)]
    dir: PathBuf,
    /// libp2p listen address (default: from the config).
    #[arg(long)]
    listen: Option<String>,
    /// HTTP API address, loopback by default (default: from the config).
    #[arg(long)]
    api: Option<String>,
    /// A peer to connect to, as a multiaddr with /p2p/PEER_ID (repeatable).
    #[arg(long)]
    bootstrap: Vec<String>,
    /// The scheme to join (its id); the genesis is fetched from peers.
    #[arg(long)]
    scheme: Option<SchemeId>,
    /// Seconds between anti-entropy rounds with peers.
    #[arg(long, value_name = "SECONDS")]
    sync_interval: Option<f64>,
    /// Sign records although no peer has answered since start. Only for a lab that is
    /// truly alone: a node whose store was lost or moved aside would sign at positions of
    /// its chain that peers already hold, and be flagged as an equivocator for good.
    #[arg(long)]
    sign_without_peers: bool,
    /// Let the HTTP API listen on an address other than loopback (anyone who can reach
    /// it can read the log and try the token; put it behind a TLS proxy).
    #[arg(long)]
    api_public: bool,
    /// Run the network's workers in the real-time class (SCHED_FIFO 1), so that gossip
    /// never waits behind a busy API. Needs CAP_SYS_NICE or `LimitRTPRIO=1`; without it
    /// the node logs a warning and runs as usual.
    #[arg(long)]
    net_realtime: bool,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let sync_interval = match args.sync_interval {
        Some(s) if !(0.05..=3600.0).contains(&s) => {
            anyhow::bail!("--sync-interval {s} is outside 0.05 … 3600 seconds")
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    // The API's runtime runs below the network's thread, which `start` launches from
    // this (the main) thread at the process's priority.
    let rt = interlab_node::api::workers::api_runtime("interlab-api")
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let dir = NodeDir::new(&args.dir);
        let node = runtime::start(
            &dir,
            Overrides {
                listen: args.listen,
                api: args.api,
                bootstrap: args.bootstrap,
                scheme: args.scheme,
                sync_interval,
                sign_without_peers: args.sign_without_peers,
                api_public: args.api_public,
                net_realtime: args.net_realtime,
            },
        )
        .await
        .with_context(|| format!("cannot start the node in {}", args.dir.display()))?;
        if json {
            println!("{}", serde_json::to_string(&node.info)?);
        } else {
            println!("node {} ({})", node.info.name, node.info.key);
            println!("api {}", node.info.api);
            for a in &node.info.p2p {
                println!("p2p {a}");
            }
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
