//! `interlab bench-net`: network benchmarks on loopback (propagation, catch-up).

use std::{path::PathBuf, process::ExitCode};

use interlab_node::net::bench::{self, CatchUpSpec, PropagationSpec};

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

#[derive(Debug, clap::Subcommand)]
enum Which {
    /// Many nodes on loopback; records published at a steady rate; p50/p99 time until
    /// every node has a record.
    Propagation {
        /// Nodes in the network.
        #[arg(long, default_value_t = 50)]
        nodes: usize,
        /// Labs that publish.
        #[arg(long, default_value_t = 10)]
        publishers: usize,
        /// Records to publish.
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
        Which::Propagation {
            nodes,
            publishers,
            records,
            rate,
            degree,
            heartbeat_ms,
        } => {
            let spec = PropagationSpec {
                nodes,
                publishers,
                records,
                rate,
                degree,
                heartbeat: std::time::Duration::from_millis(heartbeat_ms),
                seed: args.seed,
                dir,
            };
            let r = rt.block_on(bench::propagation(&spec))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "propagation: {} nodes, {} records ({} reached every node): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; one root: {}",
                    r.nodes, r.records, r.complete, r.p50_ms, r.p99_ms, r.max_ms, r.converged
                );
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
