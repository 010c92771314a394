//! Network settings, validated once by [`NetConfig::build`].

use std::time::Duration;

use interlab_protocol::SchemeId;
use libp2p::Multiaddr;

use super::{NetError, sync::SyncConfig};
use crate::store::ScrubConfig;

/// Settings of the peer network. Start from [`NetConfig::default`], change what you need
/// with the `with_*` setters, then [`build`](NetConfig::build) checks them.
///
/// ```
/// use interlab_node::net::NetConfig;
/// use std::time::Duration;
///
/// let config = NetConfig::default()
///     .with_listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
///     .with_sync_interval(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(config.sync_interval(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
pub struct NetConfig {
    listen: Multiaddr,
    bootstrap: Vec<Multiaddr>,
    scheme: Option<SchemeId>,
    sync_interval: Duration,
    heartbeat: Duration,
    pending_ttl: Duration,
    request_timeout: Duration,
    range_limit: u32,
    max_peers: u32,
    scrub: Option<ScrubConfig>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: Multiaddr::empty()
                .with(libp2p::multiaddr::Protocol::Ip4([127, 0, 0, 1].into()))
                .with(libp2p::multiaddr::Protocol::Tcp(0)),
            bootstrap: Vec::new(),
            scheme: None,
            sync_interval: Duration::from_secs(5),
            heartbeat: Duration::from_millis(700),
            pending_ttl: Duration::from_secs(3),
            request_timeout: Duration::from_secs(20),
            range_limit: 1024,
            max_peers: 64,
            scrub: Some(ScrubConfig::default()),
        }
    }
}

impl NetConfig {
    /// Address to listen on (default `/ip4/127.0.0.1/tcp/0`).
    pub fn with_listen(mut self, addr: Multiaddr) -> Self {
        self.listen = addr;
        self
    }
    /// Peers dialled at start and re-dialled while disconnected.
    pub fn with_bootstrap(mut self, addrs: Vec<Multiaddr>) -> Self {
        self.bootstrap = addrs;
        self
    }
    /// The scheme to join when the store has no genesis yet (fetched from peers by id).
    pub fn with_scheme(mut self, scheme: Option<SchemeId>) -> Self {
        self.scheme = scheme;
        self
    }
    /// How often frontiers are exchanged with each peer (catch-up; default 5 s).
    pub fn with_sync_interval(mut self, d: Duration) -> Self {
        self.sync_interval = d;
        self
    }
    /// Gossipsub heartbeat (mesh maintenance; default 700 ms).
    pub fn with_heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = d;
        self
    }
    /// How long out-of-order gossip is held for its predecessor (default 3 s; must stay
    /// below gossipsub's message-cache lifetime of 10 heartbeats).
    pub fn with_pending_ttl(mut self, d: Duration) -> Self {
        self.pending_ttl = d;
        self
    }
    /// Timeout of one sync request (default 20 s).
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// Records per range request (default 1024, at most 2048).
    pub fn with_range_limit(mut self, n: u32) -> Self {
        self.range_limit = n;
        self
    }
    /// Most simultaneous established connections (default 64; at most two per peer).
    pub fn with_max_peers(mut self, n: u32) -> Self {
        self.max_peers = n;
        self
    }
    /// The background scrub that re-verifies stored records, signatures included, and
    /// quarantines damaged ones (default: 256 records every 2 s; `None` turns it off).
    pub fn with_scrub(mut self, scrub: Option<ScrubConfig>) -> Self {
        self.scrub = scrub;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<NetConfig, NetError> {
        let bad = |what: String| Err(NetError::Config(what));
        if self.sync_interval < Duration::from_millis(50) {
            return bad(format!(
                "sync interval {:?} is below the minimum of 50 ms",
                self.sync_interval
            ));
        }
        if self.heartbeat < Duration::from_millis(50) || self.heartbeat > Duration::from_secs(10) {
            return bad(format!(
                "heartbeat {:?} is outside 50 ms ..= 10 s",
                self.heartbeat
            ));
        }
        if self.pending_ttl >= self.heartbeat * 10 {
            return bad(format!(
                "pending ttl {:?} must be below 10 heartbeats ({:?})",
                self.pending_ttl,
                self.heartbeat * 10
            ));
        }
        if self.range_limit == 0 || self.range_limit > super::wire::MAX_RANGE_RECORDS {
            return bad(format!(
                "range limit {} is outside 1 ..= {}",
                self.range_limit,
                super::wire::MAX_RANGE_RECORDS
            ));
        }
        if self.request_timeout < Duration::from_millis(100) {
            return bad(format!(
                "request timeout {:?} is below 100 ms",
                self.request_timeout
            ));
        }
        if self.max_peers == 0 {
            return bad("max peers must be at least 1".into());
        }
        Ok(self)
    }

    /// The listen address.
    pub fn listen(&self) -> &Multiaddr {
        &self.listen
    }
    /// The bootstrap peers.
    pub fn bootstrap(&self) -> &[Multiaddr] {
        &self.bootstrap
    }
    /// The scheme to join.
    pub fn scheme(&self) -> Option<SchemeId> {
        self.scheme
    }
    /// The frontier exchange interval.
    pub fn sync_interval(&self) -> Duration {
        self.sync_interval
    }
    /// The gossipsub heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }
    /// The sync request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// The most simultaneous connections.
    pub fn max_peers(&self) -> u32 {
        self.max_peers
    }
    /// The background scrub's pace, when it runs.
    pub fn scrub(&self) -> Option<ScrubConfig> {
        self.scrub
    }

    pub(crate) fn sync_config(&self) -> SyncConfig {
        SyncConfig {
            interval_ms: self.sync_interval.as_millis() as u64,
            range_limit: self.range_limit,
            pending_ttl_ms: self.pending_ttl.as_millis() as u64,
            ..SyncConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_ttl_beyond_the_message_cache_is_refused() {
        let err = NetConfig::default()
            .with_heartbeat(Duration::from_millis(100))
            .with_pending_ttl(Duration::from_secs(1))
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, NetError::Config(m) if m.contains("pending ttl")),
            "{err}"
        );
    }

    #[test]
    fn a_zero_range_limit_is_refused() {
        let err = NetConfig::default()
            .with_range_limit(0)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, NetError::Config(m) if m.contains("range limit 0")),
            "{err}"
        );
    }
}
