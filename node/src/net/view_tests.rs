//! The peer view readers see is pushed by the network task: it follows connections
//! without any reader asking the task.

use std::time::{Duration, Instant};

use interlab_protocol::{SecretKey, testkit::Workload};

use super::{NetClient, NetConfig, spawn};
use crate::store::Store;

async fn node(dir: &tempfile::TempDir, name: &str, key: u8, log: &[Vec<u8>]) -> NetClient {
    let store = Store::open(&dir.path().join(format!("{name}.redb"))).unwrap();
    store.ingest(log, 0).unwrap();
    let cfg = NetConfig::default().build().unwrap();
    let secret = SecretKey::from_bytes(&[key; 32]).to_bytes();
    spawn(cfg, secret, store).await.unwrap().0
}

/// Polls `f` until it holds, for at most 10 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_peer_view_follows_connections_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = Workload::new(5, 2).take(5);
    let a = node(&dir, "a", 1, &log).await;
    let b = node(&dir, "b", 2, &log).await;
    assert!(a.peer_view().unwrap().peers.is_empty(), "no peer yet");
    let b_addr = b.listen_addrs().await.unwrap().remove(0);
    a.dial(b_addr).await.unwrap();
    let b_id = b.peer_id().to_string();
    eventually("A's view lists B", || {
        a.peer_view()
            .unwrap()
            .peers
            .iter()
            .any(|p| p.peer_id == b_id)
    })
    .await;
    b.shutdown().await;
    eventually("A's view drops B after B stopped", || {
        a.peer_view().unwrap().peers.is_empty()
    })
    .await;
    a.shutdown().await;
    eventually("a stopped network answers that it stopped", || {
        a.peer_view().is_err()
    })
    .await;
}
