//! `interlab dispute …`: open, answer, resolve and list disputes — all signed records.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use interlab_protocol::{Action, Body, Grounds, Outcome, RecordId};

use super::api_args::ApiArgs;

/// Arguments of `interlab dispute`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: DisputeCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GroundsArg {
    Outlier,
    NotReproducible,
    CriterionMisapplied,
    EnvironmentMisreported,
    Equivocation,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutcomeArg {
    Upheld,
    Dismissed,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ActionArg {
    None,
    Exclude,
    RerunRequired,
    SuspendLab,
}

#[derive(Debug, Subcommand)]
enum DisputeCommand {
    /// Dispute a record (any accredited lab).
    Open {
        /// The disputed record.
        #[arg(long)]
        target: RecordId,
        /// Why.
        #[arg(long, value_enum)]
        grounds: GroundsArg,
        /// Statement.
        #[arg(long)]
        statement: String,
        /// Supporting records, e.g. your re-run (repeatable).
        #[arg(long)]
        evidence: Vec<RecordId>,
    },
    /// Answer a dispute.
    Respond {
        /// The dispute record.
        #[arg(long)]
        dispute: RecordId,
        /// Statement.
        #[arg(long)]
        statement: String,
        /// Supporting records (repeatable).
        #[arg(long)]
        evidence: Vec<RecordId>,
    },
    /// Resolve a dispute (scheme owner only).
    Resolve {
        /// The dispute record.
        #[arg(long)]
        dispute: RecordId,
        /// Upheld or dismissed.
        #[arg(long, value_enum)]
        outcome: OutcomeArg,
        /// What follows.
        #[arg(long, value_enum, default_value = "none")]
        action: ActionArg,
        /// Statement.
        #[arg(long, default_value = "")]
        statement: String,
    },
    /// List disputes and their state.
    List,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let body = match args.command {
        DisputeCommand::List => {
            let v = client.disputes()?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                if v.disputes.is_empty() {
                    println!("no disputes");
                }
                for d in v.disputes.iter() {
                    let author = d.author.to_hex();
                    println!(
                        "{}  {:<9} {:<24} target {}  by {}",
                        d.id,
                        d.state.name(),
                        d.grounds.name(),
                        d.target,
                        &author[..8],
                    );
                }
                println!("evidence root {}", v.evidence_root);
            }
            return Ok(ExitCode::SUCCESS);
        }
        DisputeCommand::Open {
            target,
            grounds,
            statement,
            evidence,
        } => Body::Dispute {
            target,
            grounds: match grounds {
                GroundsArg::Outlier => Grounds::Outlier,
                GroundsArg::NotReproducible => Grounds::NotReproducible,
                GroundsArg::CriterionMisapplied => Grounds::CriterionMisapplied,
                GroundsArg::EnvironmentMisreported => Grounds::EnvironmentMisreported,
                GroundsArg::Equivocation => Grounds::Equivocation,
            },
            statement,
            evidence,
        },
        DisputeCommand::Respond {
            dispute,
            statement,
            evidence,
        } => Body::DisputeResponse {
            dispute,
            statement,
            evidence,
        },
        DisputeCommand::Resolve {
            dispute,
            outcome,
            action,
            statement,
        } => Body::DisputeResolution {
            dispute,
            outcome: match outcome {
                OutcomeArg::Upheld => Outcome::Upheld,
                OutcomeArg::Dismissed => Outcome::Dismissed,
            },
            action: match action {
                ActionArg::None => Action::None,
                ActionArg::Exclude => Action::Exclude,
                ActionArg::RerunRequired => Action::RerunRequired,
                ActionArg::SuspendLab => Action::SuspendLab,
            },
            statement,
        },
    };
    let kind = body.kind();
    let v = client.publish(&body)?;
    if json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("published {kind} {}", v.id);
    }
    Ok(ExitCode::SUCCESS)
}
