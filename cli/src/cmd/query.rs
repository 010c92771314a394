//! `interlab query …`: what a regulator asks any node.

use std::process::ExitCode;

use clap::Subcommand;
use interlab_node::{
    api::types::{LabsAnswer, SigningState, StatusAnswer, WithoutPeers},
    client::ReportQuery,
};
use interlab_protocol::Digest;
use serde::Serialize;

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
    let text = match args.command {
        QueryCommand::Comparability {
            suite,
            round,
            include_disputed,
        } => {
            let a = client.comparability(ReportQuery {
                suite,
                round,
                include_disputed,
            })?;
            render(json, &a, crate::report_text::comparability)?
        }
        QueryCommand::Drift { suite } => {
            let a = client.drift(ReportQuery {
                suite,
                ..ReportQuery::default()
            })?;
            render(json, &a, |a| {
                serde_json::to_string_pretty(a).unwrap_or_default() + "\n"
            })?
        }
        QueryCommand::Disputes => {
            let a = client.disputes()?;
            render(json, &a, |a| {
                serde_json::to_string_pretty(a).unwrap_or_default() + "\n"
            })?
        }
        QueryCommand::Labs => render(json, &client.labs()?, labs_text)?,
        QueryCommand::Status => render(json, &client.status()?, status_text)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The answer as one line of JSON (`--json`), or as `text` renders it for people.
fn render<T: Serialize>(
    json: bool,
    answer: &T,
    text: impl Fn(&T) -> String,
) -> anyhow::Result<String> {
    Ok(if json {
        serde_json::to_string(answer)? + "\n"
    } else {
        text(answer)
    })
}

/// `query labs` for people: one line per lab.
fn labs_text(a: &LabsAnswer) -> String {
    let mut out = String::new();
    for l in &a.labs {
        out.push_str(&format!(
            "{}  {:<16} {}{}\n",
            l.lab,
            l.name,
            l.status.as_str(),
            if l.equivocated { "  (equivocated)" } else { "" }
        ));
    }
    out.push_str(&format!("evidence root {}\n", a.evidence_root));
    out
}

/// `query status` for people: one line per fact, and the signing state in words.
fn status_text(v: &StatusAnswer) -> String {
    let sign = &v.signing;
    let held = sign.own_records;
    let signing = match &sign.state {
        SigningState::Ready => match sign.without_peers {
            Some(WithoutPeers::Override) => "ready (sign_without_peers is on)".to_owned(),
            _ => "ready".to_owned(),
        },
        SigningState::CatchingUp { known, .. } => {
            format!("catching up: {held} of {known} own records known to peers")
        }
        SigningState::Checking { .. } => {
            format!("checking a peer's claim that our chain goes beyond our {held} records")
        }
        SigningState::NoPeer => "waiting: no peer has answered since start".to_owned(),
    };
    format!(
        "node {} ({})\nevidence root {}\nrecords {} (own {held})\npeers {}\nfork proofs {}\nsigning: {signing}\n",
        v.name, v.node, v.evidence_root, v.records, v.peers, v.forks,
    )
}
