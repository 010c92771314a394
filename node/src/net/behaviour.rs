//! The libp2p behaviour: gossipsub with application validation and peer scoring, the
//! sync request-response protocol, identify, a block list (test partitions) and a ban list
//! (peers below the graylist threshold).

use std::{collections::HashSet, net::IpAddr, time::Duration};

use libp2p::{
    Swarm, allow_block_list, connection_limits, gossipsub, identify, identity, noise,
    request_response, swarm::NetworkBehaviour, tcp, yamux,
};

use super::{
    NetConfig, NetError,
    wire::{MAX_GOSSIP_BYTES, SYNC_PROTOCOL, SyncCodec, message_id},
};

/// Score below which a peer gets no gossip (IHAVE/IWANT) from us.
pub const GOSSIP_THRESHOLD: f64 = -10.0;
/// Score below which we do not publish to a peer.
pub const PUBLISH_THRESHOLD: f64 = -50.0;
/// Score below which every RPC of a peer is ignored.
pub const GRAYLIST_THRESHOLD: f64 = -100.0;
/// Weight of P4 (invalid deliveries, squared counter) on the scheme topic.
pub const INVALID_MESSAGE_WEIGHT: f64 = -20.0;
/// Per-second decay of the invalid-delivery counter: a half-life of about 69 s. Honest
/// relays almost never earn P4 (they validate before forwarding), so it is remembered
/// long enough that a flooder, graylisted while it floods, stays below the gossip
/// threshold for about two minutes after it stops instead of seconds.
pub const INVALID_MESSAGE_DECAY: f64 = 0.99;

/// Everything the node speaks.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Test partitions: blocked peers are disconnected and refused.
    pub(crate) block: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Peers banned for their score (`ban.rs`): disconnected and refused for a while.
    pub(crate) ban: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// At most `max_peers` connections in total, two per peer.
    pub(crate) limits: connection_limits::Behaviour,
    /// Record and fork-proof gossip.
    pub(crate) gossip: gossipsub::Behaviour,
    /// Catch-up, genesis and artefact fetches.
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    /// Listen addresses of peers (to re-dial them).
    pub(crate) identify: identify::Behaviour,
}

/// The libp2p keypair of a node: the lab's own Ed25519 key, so the peer id names the lab.
pub(crate) fn keypair(secret: &[u8; 32]) -> Result<identity::Keypair, NetError> {
    let mut bytes = *secret;
    identity::Keypair::ed25519_from_bytes(&mut bytes)
        .map_err(|e| NetError::Config(format!("secret key is not an ed25519 key: {e}")))
}

/// The peer id that a lab key has on the network.
pub fn peer_id_of(key: &interlab_protocol::PublicKey) -> Option<libp2p::PeerId> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes()).ok()?;
    Some(identity::PublicKey::from(pk).to_peer_id())
}

fn gossip_config(cfg: &NetConfig) -> Result<gossipsub::Config, NetError> {
    gossipsub::ConfigBuilder::default()
        .heartbeat_interval(cfg.heartbeat())
        .history_length(10)
        .history_gossip(3)
        .validate_messages()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .message_id_fn(|m: &gossipsub::Message| message_id(&m.data))
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .duplicate_cache_time(Duration::from_secs(120))
        .build()
        .map_err(|e| NetError::Config(format!("gossipsub: {e}")))
}

/// Score parameters of a scheme topic: invalid deliveries (P4) dominate; mesh delivery
/// deficits (P3) are off because honest labs publish rarely.
pub(crate) fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 100.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 20.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: INVALID_MESSAGE_DECAY,
        ..Default::default()
    }
}

fn score_params() -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let loopback: HashSet<IpAddr> = [
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ]
    .into_iter()
    .collect();
    let params = gossipsub::PeerScoreParams {
        topic_score_cap: 20.0,
        ip_colocation_factor_whitelist: loopback,
        decay_interval: Duration::from_secs(1),
        ..Default::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 3.0,
    };
    (params, thresholds)
}

fn behaviour(key: &identity::Keypair, cfg: &NetConfig) -> Result<Behaviour, NetError> {
    let mut gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_config(cfg)?,
    )
    .map_err(|e| NetError::Config(format!("gossipsub: {e}")))?;
    let (params, thresholds) = score_params();
    gossip
        .with_peer_score(params, thresholds)
        .map_err(|e| NetError::Config(format!("peer score: {e}")))?;
    let sync = request_response::Behaviour::with_codec(
        SyncCodec,
        [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(cfg.request_timeout())
            .with_max_concurrent_streams(256),
    );
    let identify =
        identify::Behaviour::new(identify::Config::new("/interlab/id/1".into(), key.public()));
    Ok(Behaviour {
        block: allow_block_list::Behaviour::default(),
        ban: allow_block_list::Behaviour::default(),
        limits: connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(cfg.max_peers()))
                .with_max_established_per_peer(Some(2)),
        ),
        gossip,
        sync,
        identify,
    })
}

/// Builds the swarm: TCP (and QUIC with the `quic` feature) + noise + yamux on tokio.
pub(crate) fn build_swarm(
    key: identity::Keypair,
    cfg: &NetConfig,
) -> Result<Swarm<Behaviour>, NetError> {
    let transport_err = |e: &dyn std::fmt::Display| NetError::Transport(e.to_string());
    let builder = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| transport_err(&e))?;
    #[cfg(feature = "quic")]
    let builder = builder.with_quic();
    let mut built: Option<NetError> = None;
    let swarm = builder
        .with_behaviour(|key| match behaviour(key, cfg) {
            Ok(b) => Ok(b),
            Err(e) => {
                let msg = e.to_string();
                built = Some(e);
                Err(msg.into())
            }
        })
        .map_err(|e| built.take().unwrap_or_else(|| transport_err(&e)))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}
