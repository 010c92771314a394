//! The peer network: every lab's node gossips records, validates them against its store
//! before forwarding, and catches up on what it missed, so that all honest nodes end
//! with the same evidence root.
//!
//! - gossipsub, one topic per scheme, message id = record id, every message validated by
//!   the store (`Store::ingest`) before it is forwarded; invalid deliveries lower the
//!   sender's peer score (see [`GOSSIP_THRESHOLD`] and its siblings);
//! - `/interlab/sync/1` request-response ([`wire`]): frontier exchange, chain ranges,
//!   a scheme's genesis by id, artefacts by digest;
//! - the rules of catch-up and out-of-order gossip live in the sans-IO [`sync`] state
//!   machine; the swarm runs in one event loop task, driven through a [`NetClient`].
//!
//! The wire format is described in `docs/network.md`.
//!
//! ```no_run
//! # async fn demo(store: interlab_node::store::Store, secret: [u8; 32]) -> Result<(), interlab_node::net::NetError> {
//! use interlab_node::net::{NetConfig, spawn};
//!
//! let config = NetConfig::default()
//!     .with_bootstrap(vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()])
//!     .build()?;
//! let (client, task) = spawn(config, secret, store).await?;
//! let mut accepted = client.subscribe_accepted();
//! println!("listening on {:?}", client.listen_addrs().await?);
//! if let Ok(id) = accepted.recv().await {
//!     println!("accepted record {id}");
//! }
//! client.shutdown().await;
//! let _ = task.await;
//! # Ok(()) }
//! ```

mod ban;
mod behaviour;
#[cfg(feature = "test-utils")]
pub mod bench;
#[cfg(feature = "test-utils")]
pub mod byzantine;
mod client;
mod config;
mod event_loop;
mod own_chain;
pub(crate) mod realtime;
mod scrub;
pub mod sync;
pub mod wire;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod view_tests;

pub use ban::BAN_DURATION;
pub use behaviour::{
    GOSSIP_THRESHOLD, GRAYLIST_THRESHOLD, INVALID_MESSAGE_DECAY, INVALID_MESSAGE_WEIGHT,
    PUBLISH_THRESHOLD, peer_id_of,
};
pub use client::{BannedPeer, NetClient, PeerInfo, PeerView};
pub use config::NetConfig;
pub use libp2p::{Multiaddr, PeerId};
pub use own_chain::OwnChain;
pub use realtime::RealtimeError;

use interlab_protocol::Digest;

use crate::store::{Store, StoreError};

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A setting is out of range.
    #[error("network configuration: {0}")]
    Config(String),
    /// The transport could not be set up.
    #[error("transport: {0}")]
    Transport(String),
    /// Listening on an address failed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// Dialling failed.
    #[error("cannot dial {addr}: {reason}")]
    Dial {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Bytes given to publish are not an envelope.
    #[error("not a publishable envelope: {0}")]
    BadEnvelope(String),
    /// No scheme genesis is known, so there is no topic to publish on.
    #[error("no scheme is known yet (no genesis in the store and none fetched)")]
    NoScheme,
    /// No connected peer had the artefact, or every copy failed its digest check.
    #[error("artefact {digest} is not available from any connected peer ({reason})")]
    ArtefactUnavailable {
        /// The digest asked for.
        digest: Digest,
        /// What happened.
        reason: String,
    },
    /// Gossipsub refused to publish.
    #[error("gossip publish failed: {0}")]
    Publish(String),
    /// The network task has stopped.
    #[error("the network task has stopped")]
    Stopped,
}

/// Starts the network: listens, dials the bootstrap peers, subscribes to the scheme topic
/// (when the store knows the scheme, or after fetching the genesis of `config`'s scheme)
/// and runs until [`NetClient::shutdown`]. `secret` is the node's Interlab secret key; the
/// peer id is derived from it.
pub async fn spawn(
    config: NetConfig,
    secret: [u8; 32],
    store: Store,
) -> Result<(NetClient, tokio::task::JoinHandle<()>), NetError> {
    event_loop::spawn(config, secret, store).await
}
