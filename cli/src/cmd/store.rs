//! `interlab store …`: the node's evidence store, offline (the node must be stopped).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Subcommand;
use interlab_node::{
    config::NodeDir,
    store::{OpenProgress, Store},
};

use crate::EXIT_FAILURE;

/// Arguments of `interlab store`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: StoreCommand,
}

/// Store commands.
#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Check every stored record: ids re-hashed from the stored bytes, records against
    /// their summaries and positions, chain links; with --full every signature too.
    /// Lists each damaged record by author and seq; exit code 1 when any is found.
    Check(CheckArgs),
}

/// Arguments of `interlab store check`.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The node directory (its node must be stopped).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Also verify every signature (about 40 µs a record on one core).
    #[arg(long)]
    full: bool,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        StoreCommand::Check(a) => check(a, json),
    }
}

fn check(args: CheckArgs, json: bool) -> anyhow::Result<ExitCode> {
    let path = NodeDir::new(&args.dir).store();
    anyhow::ensure!(
        path.exists(),
        "no store at {} (is {} a node directory?)",
        path.display(),
        args.dir.display()
    );
    let progress = if json {
        OpenProgress::Quiet
    } else {
        OpenProgress::Terminal
    };
    let store = Store::open_with_progress(&path, progress).with_context(|| {
        format!(
            "cannot open {} (a running node holds it open: stop the node first)",
            path.display()
        )
    })?;
    let report = if args.full {
        store.check_with(true, progress)?
    } else {
        // Opening ran the same check; run it again for the report.
        store.check_with(false, OpenProgress::Quiet)?
    };
    if json {
        // CLI output of an offline command, not an HTTP answer: assembled as JSON values.
        let damaged: Vec<serde_json::Value> = report
            .damaged
            .iter()
            .map(|d| {
                serde_json::json!({
                    "author": d.author.to_hex(),
                    "seq": d.seq,
                    "damage": d.damage.to_string(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "store": path.display().to_string(),
                "records": report.records,
                "backed": report.backed,
                "authors": report.authors,
                "held": report.held,
                "damaged": damaged,
                "signatures_checked": report.signatures,
                "forks": report.forks,
                "revoked": report.revoked,
                "evidence_root": report.root.to_hex(),
            })
        );
    } else {
        println!(
            "{} records checked{}: {} backed in {} chains, {} damaged, {} held behind damage",
            report.records,
            if report.signatures {
                ", signatures included"
            } else {
                " (signatures not checked; --full checks them)"
            },
            report.backed,
            report.authors,
            report.damaged.len(),
            report.held,
        );
        for d in &report.damaged {
            println!(
                "damaged: author {} seq {}: {}",
                d.author.to_hex(),
                d.seq,
                d.damage
            );
        }
        println!(
            "evidence root of the backed records: {}",
            report.root.to_hex()
        );
        if !report.is_sound() {
            println!(
                "the node quarantines damaged records and fetches them again from its peers when it runs"
            );
        }
    }
    Ok(if report.is_sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}
