//! Peers whose gossipsub score falls below the graylist threshold are disconnected and
//! refused for a while. Graylisting alone makes a node ignore a flooder's messages, but it
//! still receives, decrypts and frames every one of them; closing the connection stops
//! that cost. Honest relays do not get here: they validate before forwarding, so their
//! score never carries the three invalid deliveries it takes.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::PeerId;

use super::GRAYLIST_THRESHOLD;

/// How long a peer stays banned. gossipsub keeps a disconnected peer's score for an hour
/// without decaying it, so a peer that returns within the hour is still graylisted and is
/// banned again at the next check.
pub const BAN_DURATION: Duration = Duration::from_secs(600);

/// The peers banned now, and until when.
#[derive(Debug, Default)]
pub(crate) struct Bans {
    until: HashMap<PeerId, Instant>,
}

impl Bans {
    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.until.contains_key(peer)
    }

    /// Of `scored` (peer, score) pairs, those below the graylist threshold and not yet
    /// banned; they are banned from `now` on.
    pub(crate) fn select(
        &mut self,
        scored: impl IntoIterator<Item = (PeerId, f64)>,
        now: Instant,
    ) -> Vec<(PeerId, f64)> {
        let mut newly: Vec<(PeerId, f64)> = scored
            .into_iter()
            .filter(|(p, s)| *s < GRAYLIST_THRESHOLD && !self.until.contains_key(p))
            .collect();
        newly.sort_by_key(|(p, _)| *p);
        for (p, _) in &newly {
            self.until.insert(*p, now + BAN_DURATION);
        }
        newly
    }

    /// Bans that ended by `now`, removed.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<PeerId> {
        let mut done: Vec<PeerId> = self
            .until
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(p, _)| *p)
            .collect();
        done.sort();
        for p in &done {
            self.until.remove(p);
        }
        done
    }

    /// Banned peers with the time their ban has left, sorted by peer.
    pub(crate) fn list(&self, now: Instant) -> Vec<(PeerId, Duration)> {
        let mut out: Vec<(PeerId, Duration)> = self
            .until
            .iter()
            .map(|(p, t)| (*p, t.saturating_duration_since(now)))
            .collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_peers_below_the_graylist_threshold_are_banned_once_until_it_ends() {
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        let mut bans = Bans::default();
        let scored = [
            (a, GRAYLIST_THRESHOLD - 1.0),
            (b, GRAYLIST_THRESHOLD),
            (c, -5.0),
        ];
        assert_eq!(bans.select(scored, t0), vec![(a, GRAYLIST_THRESHOLD - 1.0)]);
        assert!(bans.contains(&a) && !bans.contains(&b) && !bans.contains(&c));
        // Still below a second later: already banned, not banned again.
        assert!(
            bans.select([(a, -500.0)], t0 + Duration::from_secs(1))
                .is_empty()
        );
        assert_eq!(bans.list(t0), vec![(a, BAN_DURATION)]);
        assert!(
            bans.expired(t0 + BAN_DURATION - Duration::from_secs(1))
                .is_empty()
        );
        assert_eq!(bans.expired(t0 + BAN_DURATION), vec![a]);
        assert!(!bans.contains(&a));
        assert!(bans.list(t0).is_empty());
    }
}
