//! Disputes and their state, derived from dispute, response and resolution records.

use std::{borrow::Borrow, collections::BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Action, Body, Grounds, Opened, Outcome, PublicKey, RecordId, authority::Authority};

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    /// Nobody has answered yet.
    Open,
    /// At least one response, no resolution.
    Answered,
    /// The scheme owner resolved it.
    Resolved,
    /// The disputed record is not in the log (yet): the dispute is kept, as signed
    /// evidence, but has no effect until its target arrives. Every node with the same
    /// records derives the same state.
    AwaitingTarget,
}

impl DisputeState {
    /// The wire name (`open`, `answered`, `resolved`, `awaiting_target`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            DisputeState::Open => "open",
            DisputeState::Answered => "answered",
            DisputeState::Resolved => "resolved",
            DisputeState::AwaitingTarget => "awaiting_target",
        }
    }
}

/// An answer to a dispute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Response {
    /// Response record.
    pub id: RecordId,
    /// Who answered.
    pub author: PublicKey,
    /// What they said.
    pub statement: String,
    /// Supporting records (e.g. a re-run).
    pub evidence: Vec<RecordId>,
    /// When.
    pub time_ms: u64,
}

/// The owner's resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    /// Resolution record.
    pub id: RecordId,
    /// Upheld or dismissed.
    pub outcome: Outcome,
    /// What follows.
    pub action: Action,
    /// The owner's statement.
    pub statement: String,
    /// When.
    pub time_ms: u64,
}

/// One dispute with everything said about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeView {
    /// Dispute record.
    pub id: RecordId,
    /// Who opened it.
    pub author: PublicKey,
    /// The disputed record.
    pub target: RecordId,
    /// The disputed record's author, when that record is known.
    pub target_author: Option<PublicKey>,
    /// Why.
    pub grounds: Grounds,
    /// Statement.
    pub statement: String,
    /// Supporting records.
    pub evidence: Vec<RecordId>,
    /// When it was opened.
    pub time_ms: u64,
    /// Answers, in log order.
    pub responses: Vec<Response>,
    /// The owner's resolution (the first, if the owner wrote several).
    pub resolution: Option<Resolution>,
    /// Derived state.
    pub state: DisputeState,
}

/// Every dispute in the log, in (author, seq) order of the dispute records. `records`
/// are the accepted records in (author, seq) order, owned or shared (`Arc<Opened>`).
pub fn disputes<O: Borrow<Opened>>(records: &[O], authority: &Authority) -> Vec<DisputeView> {
    let records: Vec<&Opened> = records.iter().map(Borrow::borrow).collect();
    disputes_of(&records, authority)
}

pub(crate) fn disputes_of(records: &[&Opened], authority: &Authority) -> Vec<DisputeView> {
    let owner = authority.owner();
    let author_of = |id: &RecordId| {
        records
            .iter()
            .find(|o| o.id == *id)
            .map(|o| o.record.author)
    };
    let mut out: Vec<DisputeView> = records
        .iter()
        .filter_map(|o| match &o.record.body {
            Body::Dispute {
                target,
                grounds,
                statement,
                evidence,
            } => Some(DisputeView {
                id: o.id,
                author: o.record.author,
                target: *target,
                target_author: author_of(target),
                grounds: *grounds,
                statement: statement.clone(),
                evidence: evidence.clone(),
                time_ms: o.record.time_ms,
                responses: Vec::new(),
                resolution: None,
                state: DisputeState::Open,
            }),
            _ => None,
        })
        .collect();
    for o in records {
        match &o.record.body {
            Body::DisputeResponse {
                dispute,
                statement,
                evidence,
            } => {
                if let Some(d) = out.iter_mut().find(|d| d.id == *dispute) {
                    d.responses.push(Response {
                        id: o.id,
                        author: o.record.author,
                        statement: statement.clone(),
                        evidence: evidence.clone(),
                        time_ms: o.record.time_ms,
                    });
                }
            }
            Body::DisputeResolution {
                dispute,
                outcome,
                action,
                statement,
            } if Some(o.record.author) == owner => {
                if let Some(d) = out.iter_mut().find(|d| d.id == *dispute) {
                    // Records arrive in the owner's chain order: keep the first.
                    if d.resolution.is_none() {
                        d.resolution = Some(Resolution {
                            id: o.id,
                            outcome: *outcome,
                            action: *action,
                            statement: statement.clone(),
                            time_ms: o.record.time_ms,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    for d in &mut out {
        d.state = if d.target_author.is_none() {
            DisputeState::AwaitingTarget
        } else if d.resolution.is_some() {
            DisputeState::Resolved
        } else if d.responses.is_empty() {
            DisputeState::Open
        } else {
            DisputeState::Answered
        };
    }
    out
}

/// Records excluded from statistics by an upheld dispute with action `exclude`.
pub fn excluded_results(disputes: &[DisputeView]) -> BTreeSet<RecordId> {
    disputes
        .iter()
        .filter(|d| {
            d.resolution
                .as_ref()
                .is_some_and(|r| r.outcome == Outcome::Upheld && r.action == Action::Exclude)
        })
        .map(|d| d.target)
        .collect()
}
