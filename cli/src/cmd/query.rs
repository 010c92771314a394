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
    /// The node: evidence root, records, peers, fork proofs, and whether it may sign.
    Status,
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
        QueryCommand::Status => ("/v1/status".to_owned(), "status"),
    };
    let v = client.get(&path)?;
    if json {
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    match kind {
        "comparability" => print!("{}", crate::report_text::comparability(&v)),
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
        "status" => print!("{}", status_text(&v)),
        _ => println!("{}", serde_json::to_string_pretty(&v)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `query status` for people: one line per fact, and the signing state in words.
fn status_text(v: &serde_json::Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("?").to_owned();
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let sign = &v["signing"];
    let held = sign["own_records"].as_u64().unwrap_or(0);
    let signing = match sign["state"].as_str() {
        Some("ready") => match sign["without_peers"].as_str() {
            Some("override") => "ready (sign_without_peers is on)".to_owned(),
            _ => "ready".to_owned(),
        },
        Some("catching_up") => format!(
            "catching up: {held} of {} own records known to peers",
            sign["known"].as_u64().unwrap_or(0)
        ),
        Some("checking") => {
            format!("checking a peer's claim that our chain goes beyond our {held} records")
        }
        Some("no_peer") => "waiting: no peer has answered since start".to_owned(),
        _ => "?".to_owned(),
    };
    format!(
        "node {} ({})\nevidence root {}\nrecords {} (own {held})\npeers {}\nfork proofs {}\nsigning: {signing}\n",
        s("name"),
        s("node"),
        s("evidence_root"),
        n("records"),
        n("peers"),
        n("forks"),
    )
}
