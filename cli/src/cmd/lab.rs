//! `interlab lab …`: the scheme owner's accreditation lifecycle, signed by the owner's node.

use std::process::ExitCode;

use clap::Subcommand;
use interlab_protocol::{Body, PublicKey};

use super::api_args::ApiArgs;

/// Arguments of `interlab lab`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Accredit a lab (scheme owner).
    Accredit {
        /// The lab's public key (hex, as `interlab init` printed it).
        #[arg(long)]
        lab: PublicKey,
        /// The lab's name. In a scheme that shows labs by code, the name stays in the
        /// owner's `lab-codes.json` and the record carries the code.
        #[arg(long)]
        name: String,
        /// The lab's code in a coded scheme (default: the next free `Lnn`).
        #[arg(long)]
        code: Option<String>,
    },
    /// Suspend a lab from now (or from --from-ms): its results stop counting.
    Suspend {
        /// The lab's public key.
        #[arg(long)]
        lab: PublicKey,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Start of the suspension (ms since the epoch; default now).
        #[arg(long)]
        from_ms: Option<u64>,
    },
    /// End a lab's suspension.
    Reinstate {
        /// The lab's public key.
        #[arg(long)]
        lab: PublicKey,
    },
    /// Revoke a lab: its records after --last-seq are rejected everywhere.
    Revoke {
        /// The lab's public key.
        #[arg(long)]
        lab: PublicKey,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The lab's last record that stays valid (default: its current head on this node).
        #[arg(long)]
        last_seq: Option<u64>,
    },
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let body = match args.command {
        LabCommand::Accredit { lab, name, code } => {
            if super::lab_codes::scheme_is_coded(&client)? {
                let dir = args.api.dir().ok_or_else(|| {
                    anyhow::anyhow!(
                        "this scheme shows labs by code: give --dir of the owner's node, \
                         where {} keeps the codes' names",
                        super::lab_codes::FILE
                    )
                })?;
                let code = super::lab_codes::assign(dir, &name, lab, code)?;
                Body::LabAccredited { lab, name: code }
            } else {
                anyhow::ensure!(
                    code.is_none(),
                    "--code is for schemes that show labs by code; this one shows names"
                );
                Body::LabAccredited { lab, name }
            }
        }
        LabCommand::Suspend {
            lab,
            reason,
            from_ms,
        } => Body::LabSuspended {
            lab,
            reason,
            from_ms: from_ms.unwrap_or_else(interlab_node::publisher::now_ms),
        },
        LabCommand::Reinstate { lab } => Body::LabReinstated { lab },
        LabCommand::Revoke {
            lab,
            reason,
            last_seq,
        } => {
            let last_seq = match last_seq {
                Some(s) => Some(s),
                None => {
                    let status = client.status()?;
                    status
                        .frontier
                        .iter()
                        .find(|e| e.author == lab)
                        .map(|e| e.seq)
                }
            };
            Body::LabRevoked {
                lab,
                reason,
                last_seq,
            }
        }
    };
    let kind = body.kind();
    let v = client.publish(&body)?;
    if json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "published {kind} {} (seq {}); evidence root {}",
            v.id, v.seq, v.evidence_root
        );
    }
    Ok(ExitCode::SUCCESS)
}
