//! `net_realtime`: a node asked for it runs its network workers in the real-time class
//! when the kernel allows it, says whether it did, and otherwise runs as usual; a node
//! not asked for it has no real-time thread. Read from the kernel (`/proc`), not from
//! the node's own word.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use interlab_node::{
    config::{Config, NodeDir},
    runtime::{self, Overrides},
};

const SCHED_FIFO: i32 = 1;

/// The scheduling policy of each of this process's threads named `name`.
fn policies(name: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if comm.trim() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Field 41 (policy), counted after the parenthesised command name.
        let after = stat.rsplit_once(')').unwrap().1;
        out.push(after.split_whitespace().nth(38).unwrap().parse().unwrap());
    }
    out
}

fn node_dir(root: &std::path::Path, name: &str) -> NodeDir {
    let dir = NodeDir::new(root.join(name));
    dir.init(&Config::default().with_name(name).build().unwrap())
        .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_workers_are_real_time_only_when_asked_and_allowed() {
    let root = tempfile::tempdir().unwrap();

    let plain = runtime::start(&node_dir(root.path(), "plain"), Overrides::default())
        .await
        .unwrap();
    // A command makes a worker of the network's runtime run.
    plain.net.listen_addrs().await.unwrap();
    assert!(!plain.net_realtime);
    let seen = policies("interlab-net");
    assert!(!seen.is_empty(), "no network thread found");
    assert!(!seen.contains(&SCHED_FIFO), "not asked for: {seen:?}");
    plain.shutdown().await;

    let asked = runtime::start(
        &node_dir(root.path(), "asked"),
        Overrides {
            net_realtime: true,
            ..Overrides::default()
        },
    )
    .await
    .unwrap();
    asked.net.listen_addrs().await.unwrap();
    let seen = policies("interlab-net");
    if asked.net_realtime {
        assert!(
            seen.contains(&SCHED_FIFO),
            "allowed, yet none raised: {seen:?}"
        );
    } else {
        // The kernel refused (no CAP_SYS_NICE, no real-time limit): the node runs as usual.
        assert!(!seen.contains(&SCHED_FIFO), "refused, yet raised: {seen:?}");
    }
    asked.shutdown().await;
}
