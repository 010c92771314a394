//! `interlab query …`: what a regulator asks any node.

use std::process::ExitCode;

use clap::Subcommand;
use interlab_protocol::Digest;

use super::api_args::ApiArgs;

/// Arguments of `interlab query`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: QueryCommand,
}

#[derive(Debug, Subcommand)]
enum QueryCommand {
    /// Comparability of labs for a suite version and round.
    Comparability {
        /// Suite id (default: the latest published).
        #[arg(long)]
        suite: Option<Digest>,
        /// Round (default: the latest).
        #[arg(long)]
        round: Option<u32>,
        /// Include results excluded by an upheld dispute.
        #[arg(long)]
        include_disputed: bool,
    },
    /// Drift of each lab's z-scores across rounds (CUSUM, EWMA, Westgard).
    Drift {
        /// Suite id (default: the latest published).
        #[arg(long)]
        suite: Option<Digest>,
    },
    /// Disputes and their state.
    Disputes,
    /// Labs and their accreditation status.
    Labs,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let (path, kind) = match &args.command {
        QueryCommand::Comparability {
            suite,
            round,
            include_disputed,
        } => {
            let mut q = vec![format!("include_disputed={include_disputed}")];
            if let Some(s) = suite {
                q.push(format!("suite={s}"));
            }
            if let Some(r) = round {
                q.push(format!("round={r}"));
            }
            (
                format!("/v1/comparability?{}", q.join("&")),
                "comparability",
            )
        }
        QueryCommand::Drift { suite } => (
            match suite {
                Some(s) => format!("/v1/drift?suite={s}"),
                None => "/v1/drift".to_owned(),
            },
            "drift",
        ),
        QueryCommand::Disputes => ("/v1/disputes".to_owned(), "disputes"),
        QueryCommand::Labs => ("/v1/labs".to_owned(), "labs"),
    };
    let v = client.get(&path)?;
    if json {
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    match kind {
        "comparability" => print!("{}", interlab_node::report_text::comparability(&v)),
        "labs" => {
            for l in v["labs"].as_array().cloned().unwrap_or_default() {
                println!(
                    "{}  {:<16} {}{}",
                    l["lab"].as_str().unwrap_or("?"),
                    l["name"].as_str().unwrap_or("?"),
                    l["status"].as_str().unwrap_or("?"),
                    if l["equivocated"] == true {
                        "  (equivocated)"
                    } else {
                        ""
                    }
                );
            }
            println!(
                "evidence root {}",
                v["evidence_root"].as_str().unwrap_or("?")
            );
        }
        _ => println!("{}", serde_json::to_string_pretty(&v)?),
    }
    Ok(ExitCode::SUCCESS)
}
