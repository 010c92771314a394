//! `interlab bench-api` runs end to end from a clean checkout: a short run on loopback
//! answers every route, delivers every gossiped record in both phases, and reports the
//! p99 ratio with an interval. (The numbers themselves are for the benchmark
//! command, on a quiet machine; this only checks that it measures.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use interlab_node::api::bench::{ApiBenchSpec, run};

#[test]
fn a_short_bench_api_run_answers_every_route_and_delivers_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&ApiBenchSpec {
        duration: Duration::from_secs(2),
        clients: 4,
        initial: 300,
        rate: 20.0,
        seed: 3,
        dir: dir.path().to_path_buf(),
        net_realtime: false,
    })
    .unwrap();
    assert_eq!(r.routes.len(), 3, "{:?}", r.routes.keys());
    for (route, s) in &r.routes {
        assert!(s.requests > 0, "{route}: no request answered");
        assert!(s.errors_5xx.is_empty(), "{route}: {:?}", s.errors_5xx);
        assert!(s.errors_4xx.is_empty(), "{route}: {:?}", s.errors_4xx);
        assert_eq!(s.failed, 0, "{route}");
        assert!(s.p50_ms <= s.p99_ms, "{route}: {} > {}", s.p50_ms, s.p99_ms);
    }
    for g in [&r.gossip_unloaded, &r.gossip_loaded] {
        assert!(g.published >= 30, "{} published", g.published);
        assert_eq!(g.arrived, g.published, "every record reaches C");
    }
    assert!(!r.net_realtime, "not asked for");
    let [lo, hi] = r.gossip_p99_ratio_ci95.unwrap();
    assert!(
        lo.is_finite() && lo > 0.0 && lo <= hi && hi.is_finite(),
        "interval [{lo}, {hi}]"
    );
}
