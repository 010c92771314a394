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
    /// The API address is not loopback and the operator did not allow it.
    #[error(
        "the API address {addr} is not a loopback address: anyone who can reach it can read \
         the log and try the API token; add --api-public (or `api_public = true` in the \
         config) to allow it, or use 127.0.0.1"
    )]
    PublicApi {
        /// The address.
        addr: SocketAddr,
    },
    /// The network's thread or runtime could not be started.
    #[error("cannot start the network thread: {0}")]
    NetThread(std::io::Error),
    /// The report threads.
    #[error(transparent)]
    Workers(#[from] crate::api::compute::WorkersError),
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
    /// Let the API listen on an address other than loopback (or the config's
    /// `api_public`).
    pub api_public: bool,
    /// Run the network's workers in the real-time class (or the config's
    /// `net_realtime`).
    pub net_realtime: bool,
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
    /// Whether the network's workers run in the real-time class (asked for, and allowed).
    pub net_realtime: bool,
    stop: watch::Sender<bool>,
    api_task: JoinHandle<()>,
    net_task: std::thread::JoinHandle<()>,
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
    let realtime = overrides.net_realtime || config.net_realtime();
    let (net, net_task, net_realtime) =
        spawn_net(net_config.build()?, key.to_bytes(), store.clone(), realtime).await?;

    let api_addr: SocketAddr = match &overrides.api {
        Some(a) => a.parse().map_err(|_| RuntimeError::Address {
            field: "api",
            value: a.clone(),
            what: "an IP address and port like 127.0.0.1:8080",
        })?,
        None => config.api()?,
    };
    if !api_addr.ip().is_loopback() {
        if !(overrides.api_public || config.api_public()) {
            return Err(RuntimeError::PublicApi { addr: api_addr });
        }
        tracing::warn!(
            "the API listens on {api_addr}, which is not loopback: reads are open to anyone \
             who can reach it; put it behind a TLS proxy"
        );
    }
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
        reports: Default::default(),
        limits: api::compute::Limits::half_the_cores()?,
    });
    let (stop, mut stopped) = watch::channel(false);
    let app = api::router(state.clone());
    let api_task = tokio::spawn(api::serve::serve(
        listener,
        app,
        api::serve::ServeConfig::default(),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));

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
        net_realtime,
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
        let net_task = self.net_task;
        let _ = tokio::task::spawn_blocking(move || net_task.join()).await;
    }
}

/// Starts the peer network on its own thread and tokio runtime, so that however busy
/// the API's runtime is (report computations, many clients), gossip and sync keep being
/// polled; with `realtime`, its workers in the real-time class if the kernel allows it
/// (returned: whether it did). The thread ends when the network's event loop does.
async fn spawn_net(
    config: NetConfig,
    secret: [u8; 32],
    store: Store,
    realtime: bool,
) -> Result<(NetClient, std::thread::JoinHandle<()>, bool), RuntimeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("interlab-net".into())
        .spawn(move || {
            let realtime = realtime && realtime_allowed();
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder
                .worker_threads(NET_THREADS)
                .thread_name("interlab-net")
                .enable_all();
            if realtime {
                crate::net::realtime::install(&mut builder);
            }
            let rt = match builder.build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(RuntimeError::NetThread(e)));
                    return;
                }
            };
            rt.block_on(async move {
                match net::spawn(config, secret, store).await {
                    Ok((client, task)) => {
                        let _ = tx.send(Ok((client, realtime)));
                        let _ = task.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into()));
                    }
                }
            });
        })
        .map_err(RuntimeError::NetThread)?;
    match rx.await {
        Ok(Ok((client, realtime))) => Ok((client, thread, realtime)),
        Ok(Err(e)) => {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            Err(e)
        }
        Err(_) => Err(RuntimeError::NetThread(std::io::Error::other(
            "the network thread ended before it started",
        ))),
    }
}

/// Whether the network's workers may enter the real-time class; logs the answer.
fn realtime_allowed() -> bool {
    match crate::net::realtime::probe() {
        Ok(()) => {
            tracing::info!(
                "net_realtime: the network's workers run in the real-time class \
                 (SCHED_FIFO, priority 1)"
            );
            true
        }
        Err(e) => {
            tracing::warn!("net_realtime is on, but the network stays in the normal class: {e}");
            false
        }
    }
}

/// Worker threads of the network's runtime (the event loop is one task; the scrub and
/// ingest's blocking work are the others).
const NET_THREADS: usize = 2;
