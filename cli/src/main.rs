//! The `interlab` command: thin glue over the node, engine and protocol libraries.

use std::{io::Write, process::ExitCode};

use clap::{Parser, Subcommand};

mod cmd;
mod demo;
mod ops;
mod report_text;

/// Interlab: comparable AI security test results across accredited labs.
#[derive(Debug, Parser)]
#[command(name = "interlab", version, about, propagate_version = true)]
struct Cli {
    /// Print machine-readable JSON instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a file of envelopes or an evidence bundle offline: signatures, canonical
    /// form, chains, evidence root, and (bundles) the recomputed report.
    Verify(cmd::verify::Args),
    /// Comparability statistics of a CSV of results (ISO 13528, ISO 5725-2, kappa, drift).
    Stats(cmd::stats::Args),
    /// Create a node directory: lab key (mode 0600), API token and configuration.
    Init(cmd::init::Args),
    /// Scheme-owner commands (create a scheme).
    Scheme(cmd::scheme::Args),
    /// Throughput benchmarks (ingest against bare signature verification, store open).
    #[cfg(feature = "test-utils")]
    Bench(cmd::bench::Args),
    /// Tools for tests that need a real process.
    #[cfg(feature = "test-utils")]
    #[command(hide = true)]
    Debug(cmd::debug::Args),
    /// Run this lab's node: store, peer network and HTTP API.
    Node(cmd::node::Args),
    /// Scheme-owner commands on labs: accredit, suspend, reinstate, revoke.
    Lab(cmd::lab::Args),
    /// Run a published suite on this lab's hardware and publish the signed result.
    Run(cmd::run::Args),
    /// Publish results computed with another tool (IBM ART, Foolbox, your own code) from a
    /// results file, checked against the suite first.
    Submit(cmd::submit::Args),
    /// Scheme-owner commands on rounds: open a comparison round.
    Round(cmd::round::Args),
    /// Open, answer, resolve and list disputes.
    Dispute(cmd::dispute::Args),
    /// Ask a node: comparability, drift, disputes, labs.
    Query(cmd::query::Args),
    /// The round report (ISO/IEC 17043) of a suite round, as PDF or HTML.
    Report(cmd::report::Args),
    /// Start a whole network on loopback, run a real round, show the report.
    Demo(cmd::demo::Args),
    /// Write an evidence bundle (envelopes, report, root) for offline verification.
    Export(cmd::export::Args),
    /// Run a reference suite locally, or show its id.
    Suite(cmd::suite::Args),
    /// One ad-hoc evasion attack on a model and a data file.
    Attack(cmd::attack::Args),
    /// The node's evidence store, offline: check every record (`store check --full`).
    Store(cmd::store::Args),
    /// Network benchmarks on loopback (propagation, catch-up).
    #[cfg(feature = "test-utils")]
    #[command(hide = true)]
    BenchNet(cmd::bench_net::Args),
    /// HTTP clients on one node's read API while it relays gossip (p50/p99 per route,
    /// gossip p99 with and without the load).
    #[cfg(feature = "test-utils")]
    #[command(hide = true)]
    BenchApi(cmd::bench_api::Args),
}

/// Exit code 1: the command ran and found a failure (bad evidence, refused input).
pub(crate) const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing();
    let out = match cli.command {
        Command::Verify(args) => cmd::verify::run(args, cli.json),
        Command::Stats(args) => cmd::stats::run(args, cli.json),
        Command::Init(args) => cmd::init::run(args, cli.json),
        Command::Scheme(args) => cmd::scheme::run(args, cli.json),
        #[cfg(feature = "test-utils")]
        Command::Bench(args) => cmd::bench::run(args, cli.json),
        #[cfg(feature = "test-utils")]
        Command::Debug(args) => cmd::debug::run(args, cli.json),
        Command::Node(args) => cmd::node::run(args, cli.json),
        Command::Lab(args) => cmd::lab::run(args, cli.json),
        Command::Run(args) => cmd::run::run(args, cli.json),
        Command::Submit(args) => cmd::submit::run(args, cli.json),
        Command::Round(args) => cmd::round::run(args, cli.json),
        Command::Dispute(args) => cmd::dispute::run(args, cli.json),
        Command::Query(args) => cmd::query::run(args, cli.json),
        Command::Report(args) => cmd::report::run(args, cli.json),
        Command::Demo(args) => cmd::demo::run(args, cli.json),
        Command::Export(args) => cmd::export::run(args, cli.json),
        Command::Suite(args) => cmd::suite::run(args, cli.json),
        Command::Attack(args) => cmd::attack::run(args, cli.json),
        #[cfg(feature = "test-utils")]
        Command::BenchNet(args) => cmd::bench_net::run(args, cli.json),
        #[cfg(feature = "test-utils")]
        Command::BenchApi(args) => cmd::bench_api::run(args, cli.json),
        Command::Store(args) => cmd::store::run(args, cli.json),
    };
    match out {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
