//! `interlab bench-api`: HTTP clients on one node's read API while it relays a round's
//! gossip; p50/p99 per route, errors by code, and the node's gossip p99 with and without
//! the load, as a ratio measured in the same run.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use interlab_node::api::bench::{self, ApiBenchSpec};

/// Arguments of `interlab bench-api`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds of each phase (without, then with API load).
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Concurrent HTTP clients in the loaded phase.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Records in the log before the run.
    #[arg(long, default_value_t = 5000)]
    initial: usize,
    /// Records published per second, in both phases.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seed of the log.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for the temporary stores (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run the nodes' network workers (A, B and C; the harness's watchers share A and C's
    /// runtime) in the real-time class, as `interlab node --net-realtime` does. Needs
    /// CAP_SYS_NICE or a real-time priority limit of at least 1; without, the run says
    /// why and goes on in the normal class.
    #[arg(long)]
    net_realtime: bool,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let spec = ApiBenchSpec {
        duration: Duration::from_secs(args.duration.max(1)),
        clients: args.clients.max(1),
        initial: args.initial,
        rate: args.rate,
        seed: args.seed,
        dir: args.dir.unwrap_or_else(std::env::temp_dir),
        net_realtime: args.net_realtime,
    };
    let r = bench::run(&spec)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "bench-api: {} clients, {} s per phase, {} records/s gossiped; network workers in the {} class{}",
        spec.clients,
        spec.duration.as_secs(),
        spec.rate,
        if r.net_realtime {
            "real-time"
        } else {
            "normal"
        },
        r.net_realtime_refused
            .as_deref()
            .map(|why| format!(" (--net-realtime: {why})"))
            .unwrap_or_default()
    );
    for (route, s) in &r.routes {
        let errors: Vec<String> = s
            .errors_5xx
            .iter()
            .chain(&s.errors_4xx)
            .map(|(code, n)| format!("{n}×{code}"))
            .collect();
        println!(
            "  {route:<20} {:>7} requests  p50 {:>8.2} ms  p99 {:>8.2} ms  errors: {}  no answer: {}",
            s.requests,
            s.p50_ms,
            s.p99_ms,
            if errors.is_empty() {
                "none".to_owned()
            } else {
                errors.join(", ")
            },
            s.failed
        );
    }
    for (label, g) in [
        ("unloaded", &r.gossip_unloaded),
        ("loaded", &r.gossip_loaded),
    ] {
        println!(
            "  gossip A→B→C {label:<9} {}/{} arrived  p50 {:.1} ms  p99 {:.1} ms  (A→B p50 {:.1} ms  p99 {:.1} ms)",
            g.arrived, g.published, g.p50_ms, g.p99_ms, g.into_b_p50_ms, g.into_b_p99_ms
        );
    }
    let interval = r
        .gossip_p99_ratio_ci95
        .map(|[lo, hi]| format!(" (95 % bootstrap interval ×{lo:.2} to ×{hi:.2})"))
        .unwrap_or_default();
    println!(
        "  gossip through the loaded node: p50 ×{:.2}, p99 ×{:.2}{interval} of unloaded",
        r.gossip_p50_ratio, r.gossip_p99_ratio
    );
    Ok(ExitCode::SUCCESS)
}
