//! How operator commands find their node's API: `--api URL`, or `--dir DIR` of a running
//! node (its `node.json` and token file), or the matching environment variables.

use std::path::PathBuf;

use anyhow::Context;
use interlab_node::client::ApiClient;

/// Where the node's API is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApiArgs {
    /// Base URL of the node's API, like http://127.0.0.1:8080 (default: from DIR/node.json).
    #[arg(long, env = "INTERLAB_API", global = true)]
    api: Option<String>,
    /// The node directory (for node.json and the API token).
    #[arg(long, env = "INTERLAB_DIR", global = true)]
    dir: Option<PathBuf>,
    /// API token for calls that sign (default: read from DIR/api.token).
    #[arg(long, env = "INTERLAB_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

impl ApiArgs {
    /// The node directory, when given.
    pub(crate) fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// A client for the chosen node.
    pub(crate) fn client(&self) -> anyhow::Result<ApiClient> {
        let client = match (&self.api, &self.dir) {
            (Some(api), dir) => {
                let token = dir.as_ref().and_then(|d| {
                    interlab_node::keyfile::load_token(
                        &interlab_node::config::NodeDir::new(d).token(),
                    )
                    .ok()
                });
                ApiClient::new(api.clone(), token)
            }
            (None, Some(dir)) => ApiClient::for_dir(dir)
                .with_context(|| format!("is a node running from {}?", dir.display()))?,
            (None, None) => anyhow::bail!(
                "say which node to talk to: --api URL or --dir DIR (or INTERLAB_API / INTERLAB_DIR)"
            ),
        };
        Ok(client.with_token(self.token.clone()))
    }
}
