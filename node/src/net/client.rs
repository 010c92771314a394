//! The handle through which the rest of the node talks to the network task.

use std::sync::Arc;

use interlab_protocol::{Digest, RecordId};
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::{NetError, OwnChain};

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerInfo {
    /// Its peer id (derived from its lab key).
    pub peer_id: String,
    /// Addresses it is connected on or listens on.
    pub addrs: Vec<String>,
    /// Its gossipsub score as this node sees it (`None` before scoring starts).
    pub score: Option<f64>,
}

/// A peer this node disconnected and refuses because its score fell below the graylist
/// threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BannedPeer {
    /// Its peer id.
    pub peer_id: String,
    /// Its gossipsub score now (kept after the disconnect, and decaying).
    pub score: Option<f64>,
    /// Seconds of the ban left.
    pub remaining_s: u64,
}

/// Connected and banned peers, as the network task saw them at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerView {
    /// Connected peers, by peer id.
    pub peers: Vec<PeerInfo>,
    /// Banned peers.
    pub banned: Vec<BannedPeer>,
}

/// Requests to the network task, each with its reply channel.
#[derive(Debug)]
pub(crate) enum Command {
    Publish(Vec<u8>, oneshot::Sender<Result<(), NetError>>),
    PublishFork(
        Box<interlab_protocol::ForkProof>,
        oneshot::Sender<Result<(), NetError>>,
    ),
    PublishRaw(Vec<u8>, oneshot::Sender<Result<(), NetError>>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Banned(oneshot::Sender<Vec<BannedPeer>>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    FetchArtefact(Digest, oneshot::Sender<Result<Vec<u8>, NetError>>),
    Dial(Multiaddr, oneshot::Sender<Result<(), NetError>>),
    SyncNow(oneshot::Sender<()>),
    SetBlocked(Vec<PeerId>, oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// A cheap, cloneable handle to the network task. Every method fails with
/// [`NetError::Stopped`] once the task has ended.
#[derive(Debug, Clone)]
pub struct NetClient {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) accepted: broadcast::Sender<RecordId>,
    pub(crate) peer_id: PeerId,
    pub(crate) own_chain: watch::Receiver<OwnChain>,
    pub(crate) peer_view: watch::Receiver<Arc<PeerView>>,
}

impl NetClient {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// What peers have shown of this node's own chain since it started (see
    /// [`OwnChain`]); the receiver sees every change.
    pub fn own_chain(&self) -> watch::Receiver<OwnChain> {
        self.own_chain.clone()
    }

    /// Gossips an envelope that the caller has already ingested durably. With no peer
    /// connected it still succeeds: peers fetch the record by catch-up later.
    pub async fn publish(&self, envelope_bytes: Vec<u8>) -> Result<(), NetError> {
        self.ask(|r| Command::Publish(envelope_bytes, r)).await?
    }

    /// Gossips a fork proof found outside the network (e.g. by the API); the caller has
    /// stored it already.
    pub async fn publish_fork(&self, proof: interlab_protocol::ForkProof) -> Result<(), NetError> {
        self.ask(|r| Command::PublishFork(Box::new(proof), r))
            .await?
    }

    /// Publishes raw bytes on the scheme topic, unchecked: what a hostile peer does
    /// (the `byzantine` harness, feature `test-utils`). A node never calls it for its own records.
    pub async fn publish_raw(&self, data: Vec<u8>) -> Result<(), NetError> {
        self.ask(|r| Command::PublishRaw(data, r)).await?
    }

    /// Connected peers with their addresses and gossipsub scores.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetError> {
        self.ask(Command::Peers).await
    }

    /// Connected and banned peers as the network task last published them (on each of
    /// its ticks, at most half a second apart, and on each connection change). Reading it
    /// sends no command: `/v1/status` readers never queue behind the gossip the network
    /// task is relaying.
    pub fn peer_view(&self) -> Result<Arc<PeerView>, NetError> {
        if self.tx.is_closed() {
            return Err(NetError::Stopped);
        }
        Ok(self.peer_view.borrow().clone())
    }

    /// Peers banned for a score below the graylist threshold.
    pub async fn banned(&self) -> Result<Vec<BannedPeer>, NetError> {
        self.ask(Command::Banned).await
    }

    /// Addresses this node listens on.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.ask(Command::ListenAddrs).await
    }

    /// An artefact by digest: from the store if present, else from connected peers (each
    /// copy's digest is checked), then stored with `put_artefact`.
    pub async fn fetch_artefact(&self, digest: Digest) -> Result<Vec<u8>, NetError> {
        self.ask(|r| Command::FetchArtefact(digest, r)).await?
    }

    /// Dials a peer and waits until the connection is up (or failed).
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.ask(|r| Command::Dial(addr, r)).await?
    }

    /// Starts a frontier exchange with every connected peer now.
    pub async fn sync_now(&self) -> Result<(), NetError> {
        self.ask(Command::SyncNow).await
    }

    /// Test-only connection gate for partitions: the given peers (replacing the previous
    /// list) are disconnected and refused until unblocked.
    pub async fn set_blocked(&self, peers: Vec<PeerId>) -> Result<(), NetError> {
        self.ask(|r| Command::SetBlocked(peers, r)).await
    }

    /// Ids of records accepted from now on, from the network or published locally.
    /// A slow receiver misses events (`RecvError::Lagged`), it never blocks the network.
    pub fn subscribe_accepted(&self) -> broadcast::Receiver<RecordId> {
        self.accepted.subscribe()
    }

    /// Stops the network task and waits until it has stopped.
    pub async fn shutdown(&self) {
        let _ = self.ask(Command::Shutdown).await;
    }
}
