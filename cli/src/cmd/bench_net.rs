//! `interlab bench-net`: network benchmarks on loopback (propagation, byzantine flood,
//! catch-up).

use std::{path::PathBuf, process::ExitCode};

use interlab_node::net::bench::{self, ByzantineSpec, CatchUpSpec, PropagationSpec};

/// Arguments of `interlab bench-net`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    which: Which,
    /// Directory for the temporary stores (default: the system temp dir).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Seed of keys, topology and workload.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
}

/// The honest network and its load.
#[derive(Debug, clap::Args)]
struct NetArgs {
    /// Nodes in the network (honest ones, for `byzantine`).
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Labs that publish.
    #[arg(long, default_value_t = 10)]
    publishers: usize,
    /// Records to publish (per phase, for `byzantine`).
    #[arg(long, default_value_t = 200)]
    records: usize,
    /// Records per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Random earlier nodes each node dials.
    #[arg(long, default_value_t = 4)]
    degree: usize,
    /// Gossipsub heartbeat in milliseconds.
    #[arg(long, default_value_t = 700)]
    heartbeat_ms: u64,
}

impl NetArgs {
    fn spec(self, seed: u64, dir: PathBuf) -> PropagationSpec {
        PropagationSpec {
            nodes: self.nodes,
            publishers: self.publishers,
            records: self.records,
            rate: self.rate,
            degree: self.degree,
            heartbeat: std::time::Duration::from_millis(self.heartbeat_ms),
            seed,
            dir,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Which {
    /// Many nodes on loopback; records published at a steady rate; p50/p99 time until
    /// every node has a record.
    Propagation {
        #[command(flatten)]
        net: NetArgs,
    },
    /// Propagation among honest nodes, first without, then with an accredited lab that
    /// equivocates and floods invalid, non-canonical, oversized, replayed, unauthorised
    /// and garbage messages; prints both p99s and what the honest nodes did about it.
    Byzantine {
        #[command(flatten)]
        net: NetArgs,
        /// Hostile messages per second.
        #[arg(long, default_value_t = 500.0)]
        flood_rate: f64,
        /// Honest nodes the attacker dials.
        #[arg(long, default_value_t = 6)]
        attacker_degree: usize,
    },
    /// A node that missed a long log joins and catches up.
    CatchUp {
        /// Records it missed.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Labs that wrote them.
        #[arg(long, default_value_t = 8)]
        labs: usize,
    },
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.which {
        Which::Propagation { net } => {
            let spec = net.spec(args.seed, dir);
            let r = rt.block_on(bench::propagation(&spec))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "propagation: {} nodes, {} records ({} reached every node): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; one root: {}",
                    r.nodes,
                    r.latencies.records,
                    r.latencies.complete,
                    r.latencies.p50_ms,
                    r.latencies.p99_ms,
                    r.latencies.max_ms,
                    r.converged
                );
            }
        }
        Which::Byzantine {
            net,
            flood_rate,
            attacker_degree,
        } => {
            let spec = ByzantineSpec {
                net: net.spec(args.seed, dir),
                flood_rate,
                attacker_degree,
            };
            let r = rt.block_on(bench::byzantine(&spec))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let sent: u64 = r.sent.sent.values().sum();
                println!(
                    "baseline: {} honest nodes, {} records ({} everywhere): p50 {:.1} ms, p99 {:.1} ms",
                    r.nodes,
                    r.baseline.records,
                    r.baseline.complete,
                    r.baseline.p50_ms,
                    r.baseline.p99_ms
                );
                println!(
                    "attack:   {} hostile messages + one equivocation; {} records ({} everywhere): p50 {:.1} ms, p99 {:.1} ms",
                    sent, r.attack.records, r.attack.complete, r.attack.p50_ms, r.attack.p99_ms
                );
                println!(
                    "p99 under attack / baseline: {:.2} (target <= 2)",
                    r.p99_ratio
                );
                println!(
                    "hostile records stored: {}; fork proof on {}/{} honest nodes; one root: {}",
                    r.hostile_stored, r.nodes_with_fork_proof, r.nodes, r.converged
                );
                for (when, s) in [
                    ("as the attack ended", &r.scores_at_end_of_attack),
                    ("after settling", &r.scores_after_settling),
                ] {
                    println!(
                        "attacker below the gossip threshold {when}: on {}/{} honest nodes it reached, {} of which banned it (scores {:.1} .. {:.1})",
                        s.below_gossip_threshold,
                        s.reached,
                        s.banned,
                        s.min.unwrap_or(f64::NAN),
                        s.max.unwrap_or(f64::NAN)
                    );
                }
            }
        }
        Which::CatchUp { records, labs } => {
            let spec = CatchUpSpec {
                records,
                labs,
                seed: args.seed,
                dir,
            };
            let r = rt.block_on(bench::catch_up(&spec))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "catch-up: {} records in {:.2} s ({:.0} records/s)",
                    r.records, r.seconds, r.records_per_s
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
