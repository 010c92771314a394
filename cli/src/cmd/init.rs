//! `interlab init`: a new node directory with a fresh lab key, API token and config.

use std::{path::PathBuf, process::ExitCode};

use interlab_node::config::{Config, NodeDir};

/// Arguments of `interlab init`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory for the node's key, API token, configuration and store (created if absent).
    #[arg(long)]
    dir: PathBuf,
    /// The lab's display name.
    #[arg(long)]
    name: String,
    /// libp2p listen multiaddr [default: /ip4/127.0.0.1/tcp/0].
    #[arg(long)]
    listen: Option<String>,
    /// HTTP API address [default: 127.0.0.1:0].
    #[arg(long)]
    api: Option<String>,
    /// A bootstrap peer's multiaddr (repeat for several).
    #[arg(long = "bootstrap")]
    bootstrap: Vec<String>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let dir = NodeDir::new(&args.dir);
    let mut config = Config::default()
        .with_name(args.name)
        .with_bootstrap(args.bootstrap);
    if let Some(l) = args.listen {
        config = config.with_listen(l);
    }
    if let Some(a) = args.api {
        config = config.with_api(a);
    }
    let config = config.build()?;
    let (key, _) = dir.init(&config)?;
    let public = key.public();
    if json {
        let v = serde_json::json!({
            "name": config.name(),
            "dir": dir.root(),
            "public_key": public.to_hex(),
            "key_file": dir.key(),
            "token_file": dir.token(),
            "config": dir.config(),
        });
        println!("{v}");
    } else {
        println!(
            "initialised lab {:?} in {}",
            config.name(),
            dir.root().display()
        );
        println!("public key: {public}");
    }
    Ok(ExitCode::SUCCESS)
}
