//! `interlab demo`: the whole product in one command.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use crate::demo::{self, DemoOptions};
use anyhow::Context;
use interlab_node::client::{ApiClient, ReportFormat};

/// Arguments of `interlab demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Number of labs (the last two deviate on purpose).
    #[arg(long, default_value_t = 6)]
    labs: usize,
    /// Seed of the labs' runs (0: the suite's own seed).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep running and serve the dashboard (the owner's API) at this address.
    #[arg(long, value_name = "ADDR")]
    serve: Option<String>,
    /// Keep node directories here instead of a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the round report (PDF), as the owner's node renders it, to this file.
    #[arg(long, value_name = "FILE")]
    report_out: Option<PathBuf>,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let opts = DemoOptions {
        labs: args.labs,
        seed: args.seed,
        dir,
        serve: args.serve.clone(),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let mut progress = |m: &str| match &bar {
        Some(b) => {
            b.println(format!("• {m}"));
            b.set_message(m.to_owned());
        }
        None => eprintln!("• {m}"),
    };
    let demo = demo::run(&opts, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string(&demo.summary)?);
    } else {
        println!("{}", crate::report_text::comparability(&demo.answer));
        println!("Evidence roots:");
        for (name, root) in &demo.summary.evidence_roots {
            println!("  {name:<8} {root}");
        }
        println!(
            "{} records, {:.1} s",
            demo.summary.records, demo.summary.seconds
        );
    }
    if let Some(path) = &args.report_out {
        let owner = demo.nodes.first().context("the demo has no owner node")?;
        let c = &demo.answer.comparability;
        let doc = ApiClient::new(owner.info.api.clone(), None)
            .report(&c.suite, c.round, ReportFormat::Pdf, false)
            .context("the round report from the owner's node")?;
        std::fs::write(path, &doc.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "round report: {} (evidence root {}, report digest {})",
            path.display(),
            doc.evidence_root,
            doc.report_digest
        );
    }
    if args.serve.is_some() {
        eprintln!("dashboard: {}  (Ctrl-C to stop)", demo.summary.dashboard);
        demo.runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
    }
    demo.shutdown();
    Ok(ExitCode::SUCCESS)
}
