//! Keeping the peer set healthy: banning peers whose score fell below the graylist
//! threshold and re-dialling bootstrap and remembered peers; and the peer lists the API
//! shows. Split from `event_loop.rs`.

use std::{sync::Arc, time::Instant};

use libp2p::{Multiaddr, PeerId, swarm::dial_opts::DialOpts};

use super::EventLoop;
use crate::net::{BannedPeer, PeerInfo, PeerView, ban::BAN_DURATION};

impl EventLoop {
    /// Connected peers with their scores, by peer id.
    pub(super) fn peer_list(&self) -> Vec<PeerInfo> {
        let g = &self.swarm.behaviour().gossip;
        let mut peers: Vec<PeerInfo> = self
            .connected
            .iter()
            .map(|(p, addrs)| PeerInfo {
                peer_id: p.to_string(),
                addrs: addrs.iter().map(|a| a.to_string()).collect(),
                score: g.peer_score(p),
            })
            .collect();
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        peers
    }

    /// Publishes the connected and banned peers to readers when they changed.
    pub(super) fn publish_view(&mut self) {
        let view = PeerView {
            peers: self.peer_list(),
            banned: self.banned_list(),
        };
        self.view_tx.send_if_modified(|old| {
            let changed = **old != view;
            if changed {
                *old = Arc::new(view);
            }
            changed
        });
    }

    /// Banned peers with their scores and the time left.
    pub(super) fn banned_list(&self) -> Vec<BannedPeer> {
        let g = &self.swarm.behaviour().gossip;
        self.bans
            .list(Instant::now())
            .into_iter()
            .map(|(p, left)| BannedPeer {
                peer_id: p.to_string(),
                score: g.peer_score(&p),
                remaining_s: left.as_secs(),
            })
            .collect()
    }

    /// Bans connected peers whose score fell below the graylist threshold (the ban list
    /// closes their connections) and lifts bans that ended.
    pub(super) fn enforce_bans(&mut self) {
        let now = Instant::now();
        let g = &self.swarm.behaviour().gossip;
        let scored: Vec<(PeerId, f64)> = self
            .connected
            .keys()
            .filter_map(|p| g.peer_score(p).map(|s| (*p, s)))
            .collect();
        for (peer, score) in self.bans.select(scored, now) {
            tracing::warn!(
                %peer,
                score,
                "peer below the graylist threshold: disconnected and banned for {} s",
                BAN_DURATION.as_secs()
            );
            self.swarm.behaviour_mut().ban.block_peer(peer);
        }
        for peer in self.bans.expired(now) {
            tracing::info!(%peer, "ban ended");
            self.swarm.behaviour_mut().ban.unblock_peer(peer);
        }
    }

    /// Re-dials bootstrap peers that are not connected, and remembered peers while few
    /// are connected, once per sync interval.
    pub(super) fn redial(&mut self) {
        if self.last_redial.elapsed() < self.config.sync_interval() {
            return;
        }
        self.last_redial = Instant::now();
        for addr in self.config.bootstrap().to_vec() {
            let up = self.bootstrap_peers.get(&addr).is_some_and(|p| {
                self.connected.contains_key(p) || self.blocked.contains(p) || self.bans.contains(p)
            });
            if !up {
                let _ = self.swarm.dial(addr);
            }
        }
        if self.connected.len() < 4 {
            let idle: Vec<(PeerId, Vec<Multiaddr>)> = self
                .known
                .iter()
                .filter(|(p, _)| {
                    !self.connected.contains_key(p)
                        && !self.blocked.contains(p)
                        && !self.bans.contains(p)
                })
                .map(|(p, a)| (*p, a.clone()))
                .take(8)
                .collect();
            for (p, addrs) in idle {
                let _ = self
                    .swarm
                    .dial(DialOpts::peer_id(p).addresses(addrs).build());
            }
        }
    }
}
