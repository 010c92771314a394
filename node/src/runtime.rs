//! A running node: store, network and HTTP API wired together, started from a node
//! directory. Used by `interlab node`, by `interlab demo` and by tests.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use interlab_protocol::SchemeId;
use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    api::{self, ApiState},
    config::{Config, ConfigError, NodeDir},
    keyfile::{self, KeyFileError},
    net::{self, NetClient, NetConfig, NetError},
    publisher::Publisher,
    store::{Store, StoreError},
};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The node directory's configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key or token file.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The network.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A bad address.
    #[error("{field}: cannot parse {value:?} as {what}")]
    Address {
        /// Which setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        what: &'static str,
    },
    /// The API socket.
    #[error("cannot listen for the API on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The node directory does not exist or has no key.
    #[error("{0} is not an initialised node directory (run `interlab init --dir {0}` first)")]
    NotInitialised(String),
    /// Writing `node.json`.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Command-line overrides of the node directory's configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// libp2p listen multiaddr.
    pub listen: Option<String>,
    /// API socket address.
    pub api: Option<String>,
    /// Extra bootstrap multiaddrs.
    pub bootstrap: Vec<String>,
    /// Scheme to join.
    pub scheme: Option<SchemeId>,
    /// Anti-entropy interval.
    pub sync_interval: Option<Duration>,
    /// Sign although no peer has answered since start (or the config's
    /// `sign_without_peers`): only for a lab that is truly alone.
    pub sign_without_peers: bool,
}

/// What a running node tells operators and other programs (also written to
/// `DIR/node.json`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Base URL of the HTTP API.
    pub api: String,
    /// The libp2p peer id.
    pub peer_id: String,
    /// Full multiaddrs (with `/p2p/…`) to bootstrap from this node.
    pub p2p: Vec<String>,
    /// The node's public key.
    pub key: String,
    /// Process id.
    pub pid: u32,
}

/// A started node. Dropping it does not stop it; call [`RunningNode::shutdown`].
#[derive(Debug)]
pub struct RunningNode {
    /// What the node announces.
    pub info: NodeInfo,
    /// The API address.
    pub api_addr: SocketAddr,
    /// Handle to the network task.
    pub net: NetClient,
    /// The store.
    pub store: Store,
    /// Handler state (publisher and all).
    pub state: Arc<ApiState>,
    stop: watch::Sender<bool>,
    api_task: JoinHandle<()>,
    net_task: JoinHandle<()>,
}

fn parse_addr(field: &'static str, value: &str) -> Result<Multiaddr, RuntimeError> {
    value.parse().map_err(|_| RuntimeError::Address {
        field,
        value: value.to_owned(),
        what: "a multiaddr like /ip4/127.0.0.1/tcp/4001",
    })
}

/// Starts a node from its directory.
pub async fn start(dir: &NodeDir, overrides: Overrides) -> Result<RunningNode, RuntimeError> {
    if !dir.key().exists() {
        return Err(RuntimeError::NotInitialised(
            dir.root().display().to_string(),
        ));
    }
    let config = Config::load(&dir.config())?;
    let key = keyfile::load_secret_key(&dir.key())?;
    let token = keyfile::load_token(&dir.token())?;
    let store_path = dir.store();
    let store = tokio::task::spawn_blocking(move || {
        Store::open_with_progress(&store_path, crate::store::OpenProgress::Terminal)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("store open task failed: {e}")))??;

    let listen = parse_addr(
        "listen",
        overrides.listen.as_deref().unwrap_or(config.listen()),
    )?;
    let mut bootstrap = Vec::new();
    for b in config.bootstrap().iter().chain(&overrides.bootstrap) {
        bootstrap.push(parse_addr("bootstrap", b)?);
    }
    let scheme = overrides.scheme.or(config.scheme());
    let mut net_config = NetConfig::default()
        .with_listen(listen)
        .with_bootstrap(bootstrap)
        .with_scheme(scheme);
    if let Some(i) = overrides.sync_interval {
        net_config = net_config.with_sync_interval(i);
    }
    let (net, net_task) = net::spawn(net_config.build()?, key.to_bytes(), store.clone()).await?;

    let api_addr: SocketAddr = match &overrides.api {
        Some(a) => a.parse().map_err(|_| RuntimeError::Address {
            field: "api",
            value: a.clone(),
            what: "an IP address and port like 127.0.0.1:8080",
        })?,
        None => config.api()?,
    };
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .map_err(|source| RuntimeError::Bind {
            addr: api_addr,
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| RuntimeError::Bind {
        addr: api_addr,
        source,
    })?;
    let sign_without_peers = overrides.sign_without_peers || config.sign_without_peers();
    if sign_without_peers {
        tracing::warn!(
            "sign_without_peers is on: this node signs without first learning from a peer how \
             far its own chain goes; if its store was lost, moved aside or restored while \
             peers hold later records of this lab, the next record equivocates and flags the \
             lab for good — use it only for a lab that is truly alone"
        );
    }
    let state = Arc::new(ApiState {
        publisher: Publisher::new(
            key.clone(),
            store.clone(),
            Some(net.clone()),
            sign_without_peers,
        ),
        store: store.clone(),
        net: net.clone(),
        name: config.name().to_owned(),
        token,
        cache: Default::default(),
    });
    let (stop, mut stopped) = watch::channel(false);
    let app = api::router(state.clone());
    let api_task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!("API server stopped: {e}");
        }
    });

    // Give the transport a moment to report its listen address.
    let mut addrs = Vec::new();
    for _ in 0..50 {
        addrs = net.listen_addrs().await?;
        if !addrs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peer_id: PeerId = net.peer_id();
    let info = NodeInfo {
        name: config.name().to_owned(),
        api: format!("http://{api_addr}"),
        peer_id: peer_id.to_string(),
        p2p: addrs.iter().map(|a| format!("{a}/p2p/{peer_id}")).collect(),
        key: key.public().to_hex(),
        pid: std::process::id(),
    };
    let info_path = dir.root().join("node.json");
    let json = serde_json::to_vec_pretty(&info).unwrap_or_default();
    let tmp = dir.root().join("node.json.tmp");
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, &info_path))
        .map_err(|source| RuntimeError::Write {
            path: info_path,
            source,
        })?;
    Ok(RunningNode {
        info,
        api_addr,
        net,
        store,
        state,
        stop,
        api_task,
        net_task,
    })
}

impl RunningNode {
    /// Stops the API (finishing requests in flight) and the network.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.api_task.await;
        self.net.shutdown().await;
        let _ = self.net_task.await;
    }
}
