//! Comparability of labs for one suite version and round, from the signed results that
//! count: accredited (and not suspended) when recorded, not retracted, not superseded by
//! the lab's own re-run, and — unless asked — not excluded by an upheld dispute.

use std::{
    borrow::Borrow,
    collections::{BTreeMap, BTreeSet},
};

use serde::{Deserialize, Serialize};

use super::{
    assessments::declared_assessments,
    disputes::{DisputeView, disputes_of, excluded_results},
    flags::flag_labs,
    suite::SuiteView,
};
use crate::{
    Body, Criterion, Digest, Method, Opened, PublicKey, RecordId, RunResult, SealedAnswers,
    Verdict,
    authority::Authority,
    stats::{
        self, Observation, Report, ReportConfig,
        criteria::{self, Agreement, ImpliedThreshold, Judged},
        kappa::{self, Fleiss},
    },
};

/// Why no comparability could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GovernanceError {
    /// No suite with this id was published.
    #[error("no suite {0} has been published in this scheme")]
    UnknownSuite(Digest),
    /// The published manifest does not carry readable criteria.
    #[error("suite {suite}: cannot read the acceptance criteria from its manifest: {reason}")]
    Manifest {
        /// The suite.
        suite: Digest,
        /// What went wrong.
        reason: String,
    },
}

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparabilityQuery {
    /// Suite id (one suite version).
    pub suite: Digest,
    /// Round; `None`: the latest round with results or opened.
    pub round: Option<u32>,
    /// Also count results under an upheld `exclude` resolution.
    pub include_disputed: bool,
}

/// One run result and whether it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResultLine {
    /// Record id.
    pub id: RecordId,
    /// The lab's key.
    pub lab: PublicKey,
    /// The lab's name.
    pub lab_name: String,
    /// Round.
    pub round: u32,
    /// Claimed time.
    pub time_ms: u64,
    /// After the round's deadline (kept, marked).
    pub late: bool,
    /// Whether it enters the statistics.
    pub counted: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// Engine threads the lab declared.
    pub threads: u32,
    /// Executor the lab declared.
    pub executor: String,
    /// The reference engine or the declared tool.
    pub method: Method,
    /// Whether every test followed the harmonized method (no declared deviation).
    pub conforming: bool,
    /// A re-run of this earlier result.
    pub rerun_of: Option<RecordId>,
}

/// One lab's verdicts on one test against the harmonized criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabAgreement {
    /// Lab name.
    pub lab: String,
    /// Test id.
    pub test: String,
    /// Whether every verdict named the suite's criterion (by id).
    pub named_suite_criterion: bool,
    /// Reported vs harmonized verdicts on the lab's own means, rounds up to this one.
    pub agreement: Agreement,
    /// Threshold implied by the lab's verdicts.
    pub implied_threshold: ImpliedThreshold,
}

/// A lab the network flags, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flag {
    /// Lab name.
    pub lab: String,
    /// Lab key.
    pub key: PublicKey,
    /// Kinds of finding (`z_score`, `criterion`, `drift`, `outlier`, `equivocation`).
    pub kinds: Vec<String>,
    /// One sentence per finding.
    pub reasons: Vec<String>,
}

/// A criterion that differs from the superseded suite version's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CriteriaChange {
    /// Test id.
    pub test: String,
    /// In the superseded version.
    pub before: Option<Criterion>,
    /// In this version.
    pub after: Option<Criterion>,
}

/// A test item of the suite and the state of its known answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemLine {
    /// Item id.
    pub id: String,
    /// Commitment to sealed known answers, when the item has them.
    pub known_answer: Option<Digest>,
    /// The owner's reveal record, once accepted (it matched the commitment).
    pub revealed_by: Option<RecordId>,
}

/// The answer for one suite version and round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparability {
    /// Suite id.
    pub suite: Digest,
    /// Suite name.
    pub suite_name: String,
    /// Suite version.
    pub suite_version: String,
    /// Round.
    pub round: u32,
    /// The round's deadline, if the owner set one.
    pub deadline_ms: Option<u64>,
    /// Whether disputed (excluded) results were included on request.
    pub include_disputed: bool,
    /// The harmonized criteria, by test.
    pub criteria: Vec<(String, Criterion)>,
    /// The suite's test items.
    pub items: Vec<ItemLine>,
    /// The scheme owner's reference run of this round (it sets reference values).
    pub reference_run: Option<RecordId>,
    /// Where criteria changed against the superseded version.
    pub criteria_changes: Vec<CriteriaChange>,
    /// Every result for this suite up to this round.
    pub results: Vec<ResultLine>,
    /// Proficiency statistics per measurand (`test/metric`), rounds up to this one.
    pub report: Option<Report>,
    /// Why there is no report.
    pub report_note: Option<String>,
    /// Verdict agreement per lab and test.
    pub agreement: Vec<LabAgreement>,
    /// Fleiss κ of the labs' verdicts on this round's tests.
    pub fleiss: Option<Fleiss>,
    /// Why κ is missing.
    pub fleiss_note: Option<String>,
    /// Labs flagged, with reasons.
    pub flags: Vec<Flag>,
    /// Disputes about this suite's results.
    pub disputes: Vec<DisputeView>,
}

/// The acceptance criteria a suite manifest (its canonical CBOR) sets, by test.
pub fn suite_criteria(manifest: &[u8]) -> Result<Vec<(String, Criterion)>, String> {
    Ok(SuiteView::from_manifest(manifest)?.criteria())
}

struct SuiteInfo {
    name: String,
    version: String,
    manifest: Vec<u8>,
    supersedes: Option<Digest>,
}

fn find_suite(records: &[&Opened], suite: &Digest) -> Option<SuiteInfo> {
    records.iter().find_map(|o| match &o.record.body {
        Body::SuitePublished {
            suite: s,
            name,
            version,
            manifest,
            supersedes,
            ..
        } if s == suite => Some(SuiteInfo {
            name: name.clone(),
            version: version.clone(),
            manifest: manifest.clone(),
            supersedes: *supersedes,
        }),
        _ => None,
    })
}

/// Computes comparability. `records` must be the accepted records in (author, seq)
/// order, owned or shared (`Arc<Opened>`, as a node's snapshots hold them);
/// `equivocators` the authors with a verified fork proof.
pub fn comparability<O: Borrow<Opened>>(
    records: &[O],
    authority: &Authority,
    equivocators: &BTreeSet<PublicKey>,
    query: &ComparabilityQuery,
    config: &ReportConfig,
) -> Result<Comparability, GovernanceError> {
    let records: Vec<&Opened> = records.iter().map(Borrow::borrow).collect();
    comparability_of(&records, authority, equivocators, query, config)
}

fn comparability_of(
    records: &[&Opened],
    authority: &Authority,
    equivocators: &BTreeSet<PublicKey>,
    query: &ComparabilityQuery,
    config: &ReportConfig,
) -> Result<Comparability, GovernanceError> {
    let suite =
        find_suite(records, &query.suite).ok_or(GovernanceError::UnknownSuite(query.suite))?;
    let view =
        SuiteView::from_manifest(&suite.manifest).map_err(|reason| GovernanceError::Manifest {
            suite: query.suite,
            reason,
        })?;
    let criteria = view.criteria();
    let criteria_changes = match suite.supersedes.and_then(|old| find_suite(records, &old)) {
        Some(old) => {
            let before = suite_criteria(&old.manifest).unwrap_or_default();
            criteria_diff(&before, &criteria)
        }
        None => Vec::new(),
    };
    let all_disputes = disputes_of(records, authority);
    let excluded = excluded_results(&all_disputes);
    let retracted: BTreeSet<RecordId> = records
        .iter()
        .filter_map(|o| match &o.record.body {
            Body::Retraction { target, .. } => Some(*target),
            _ => None,
        })
        .collect();
    let opened_rounds: BTreeMap<u32, Option<u64>> = records
        .iter()
        .filter_map(|o| match &o.record.body {
            Body::RoundOpened {
                suite,
                round,
                deadline_ms,
            } if *suite == query.suite && Some(o.record.author) == authority.owner() => {
                Some((*round, *deadline_ms))
            }
            _ => None,
        })
        .collect();
    let runs: Vec<(&Opened, &RunResult)> = records
        .iter()
        .filter_map(|o| match &o.record.body {
            Body::RunResult(r) if r.suite == query.suite => Some((*o, r)),
            _ => None,
        })
        .collect();
    let round = query.round.unwrap_or_else(|| {
        runs.iter()
            .map(|(_, r)| r.round)
            .chain(opened_rounds.keys().copied())
            .max()
            .unwrap_or(1)
    });
    let deadline_ms = opened_rounds.get(&round).copied().flatten();
    let name_of = |k: &PublicKey| lab_name(authority, k);
    let owner = authority.owner();
    // The owner's latest run of this round is the reference run (not a participant).
    let reference = runs
        .iter()
        .rev()
        .filter(|(o, r)| Some(o.record.author) == owner && r.round == round)
        .find(|(o, _)| !retracted.contains(&o.id))
        .copied();
    let reveals: BTreeMap<&str, (RecordId, &SealedAnswers)> = records
        .iter()
        .filter_map(|o| match &o.record.body {
            Body::KnownAnswerReveal { suite, sealed, .. }
                if *suite == query.suite && Some(o.record.author) == owner =>
            {
                Some((sealed.item.as_str(), (o.id, sealed)))
            }
            _ => None,
        })
        .collect();

    // Which results count; a lab's latest counting result per round supersedes earlier ones.
    let mut results = Vec::new();
    let mut latest: BTreeMap<(PublicKey, u32), usize> = BTreeMap::new();
    for (o, r) in runs.iter().filter(|(_, r)| r.round <= round) {
        let author = o.record.author;
        let late = opened_rounds
            .get(&r.round)
            .copied()
            .flatten()
            .is_some_and(|d| o.record.time_ms > d);
        let reason = if Some(author) == owner {
            Some(
                "the scheme owner's reference run: it sets reference values and is not a \
                 participant"
                    .to_owned(),
            )
        } else if !authority.counts_at(&author, o.record.time_ms) {
            Some("the lab was not accredited (or was suspended) when it recorded this".to_owned())
        } else if retracted.contains(&o.id) {
            Some("retracted by the lab".to_owned())
        } else if !query.include_disputed && excluded.contains(&o.id) {
            Some("excluded by an upheld dispute".to_owned())
        } else {
            None
        };
        let idx = results.len();
        if reason.is_none()
            && let Some(prev) = latest.insert((author, r.round), idx)
        {
            let p: &mut ResultLine = &mut results[prev];
            p.counted = false;
            p.reason = Some(format!("superseded by the lab's later result {}", o.id));
        }
        results.push(ResultLine {
            id: o.id,
            lab: author,
            lab_name: name_of(&author),
            round: r.round,
            time_ms: o.record.time_ms,
            late,
            counted: reason.is_none(),
            reason,
            threads: r.environment.threads,
            executor: r.environment.executor.clone(),
            method: r.method.clone(),
            conforming: r.tests.iter().all(|t| t.deviations.is_empty()),
            rerun_of: r.rerun_of,
        });
    }
    let counted_ids: BTreeSet<RecordId> =
        results.iter().filter(|l| l.counted).map(|l| l.id).collect();
    let counted: Vec<(&Opened, &RunResult)> = runs
        .iter()
        .filter(|(o, _)| counted_ids.contains(&o.id))
        .copied()
        .collect();

    // Replicate values per lab and measurand; verdicts are judged on the reported means.
    let mut obs = Vec::new();
    let mut judged: BTreeMap<(String, String), (bool, Vec<Judged>)> = BTreeMap::new();
    for (o, r) in &counted {
        let lab = name_of(&o.record.author);
        let method = r.method.to_string();
        for t in &r.tests {
            let crit = criteria
                .iter()
                .find(|(id, _)| *id == t.test)
                .map(|(_, c)| c);
            let conforming = t.deviations.is_empty();
            for m in &t.measurements {
                let measurand = t.measurand(&m.metric);
                for v in &m.values {
                    obs.push(Observation {
                        lab: lab.clone(),
                        measurand: measurand.clone(),
                        value: Some(*v),
                        u: Some(m.u),
                        expanded: Some(m.expanded),
                        verdict: None,
                        round: Some(u64::from(r.round)),
                        method: Some(method.clone()),
                        conforming,
                    });
                }
                if let Some(c) = crit.filter(|c| c.metric == m.metric) {
                    let e = judged
                        .entry((lab.clone(), t.test.clone()))
                        .or_insert((true, Vec::new()));
                    e.0 &= t.criterion == c.id();
                    e.1.push(Judged {
                        value: m.mean,
                        verdict: t.verdict,
                        round: Some(u64::from(r.round)),
                    });
                }
            }
        }
    }
    let mut config = config.clone();
    config.assessments =
        declared_assessments(&view, &counted, reference.map(|(_, r)| r), &reveals, round);
    let (report, report_note) = if obs.is_empty() {
        (
            None,
            Some("no counted results for this suite and round".to_owned()),
        )
    } else {
        match stats::comparability_report(&obs, &config) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let agreement: Vec<LabAgreement> = judged
        .iter()
        .filter_map(|((lab, test), (named, js))| {
            let (_, c) = criteria.iter().find(|(id, _)| id == test)?;
            Some(LabAgreement {
                lab: lab.clone(),
                test: test.clone(),
                named_suite_criterion: *named,
                agreement: criteria::agreement(js, c),
                implied_threshold: criteria::implied_threshold(js),
            })
        })
        .collect();
    let (fleiss, fleiss_note) = fleiss_this_round(&counted, round, &criteria);
    let ids: BTreeSet<RecordId> = runs.iter().map(|(o, _)| o.id).collect();
    let disputes_here: Vec<DisputeView> = all_disputes
        .into_iter()
        .filter(|d| ids.contains(&d.target))
        .collect();
    let flags = flag_labs(
        authority,
        equivocators,
        &counted,
        report.as_ref(),
        round,
        &agreement,
        &disputes_here,
    );
    Ok(Comparability {
        suite: query.suite,
        suite_name: suite.name,
        suite_version: suite.version,
        round,
        deadline_ms,
        include_disputed: query.include_disputed,
        criteria,
        items: view
            .items
            .iter()
            .map(|i| ItemLine {
                id: i.id.clone(),
                known_answer: i.known_answer,
                revealed_by: reveals.get(i.id.as_str()).map(|(id, _)| *id),
            })
            .collect(),
        reference_run: reference.map(|(o, _)| o.id),
        criteria_changes,
        results,
        report,
        report_note,
        agreement,
        fleiss,
        fleiss_note,
        flags,
        disputes: disputes_here,
    })
}

pub(super) fn lab_name(authority: &Authority, key: &PublicKey) -> String {
    let name = match authority.lab(key) {
        Some(l) => l.name.clone(),
        None if authority.owner() == Some(*key) => "scheme owner".to_owned(),
        None => format!("unknown-{}", key.short()),
    };
    let clash = authority.labs().filter(|l| l.name == name).count() > 1;
    if clash {
        format!("{name} ({})", key.short())
    } else {
        name
    }
}

fn criteria_diff(
    before: &[(String, Criterion)],
    after: &[(String, Criterion)],
) -> Vec<CriteriaChange> {
    let tests: BTreeSet<&String> = before.iter().chain(after).map(|(t, _)| t).collect();
    tests
        .into_iter()
        .filter_map(|t| {
            let b = before.iter().find(|(x, _)| x == t).map(|(_, c)| c.clone());
            let a = after.iter().find(|(x, _)| x == t).map(|(_, c)| c.clone());
            (b != a).then(|| CriteriaChange {
                test: t.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

fn fleiss_this_round(
    counted: &[(&Opened, &RunResult)],
    round: u32,
    criteria: &[(String, Criterion)],
) -> (Option<Fleiss>, Option<String>) {
    let this: Vec<&RunResult> = counted
        .iter()
        .filter(|(_, r)| r.round == round)
        .map(|(_, r)| *r)
        .collect();
    // Items are the (test item, test) pairs that every lab of the round judged.
    let mut pairs: Vec<(Option<&str>, &str)> = Vec::new();
    for r in &this {
        for t in &r.tests {
            let key = (t.item.as_deref(), t.test.as_str());
            if criteria.iter().any(|(id, _)| id == key.1) && !pairs.contains(&key) {
                pairs.push(key);
            }
        }
    }
    let rows: Vec<Vec<f64>> = pairs
        .iter()
        .filter_map(|(item, test)| {
            let verdicts: Vec<Verdict> = this
                .iter()
                .filter_map(|r| {
                    r.tests
                        .iter()
                        .find(|t| t.test == *test && t.item.as_deref() == *item)
                        .map(|t| t.verdict)
                })
                .collect();
            (verdicts.len() == this.len() && !verdicts.is_empty()).then(|| {
                let pass = verdicts.iter().filter(|v| **v == Verdict::Pass).count() as f64;
                vec![pass, verdicts.len() as f64 - pass]
            })
        })
        .collect();
    if this.len() < 2 || rows.is_empty() {
        return (
            None,
            Some(format!(
                "κ needs at least two labs judging the same tests; round {round} has {} result(s)",
                this.len()
            )),
        );
    }
    match kappa::fleiss(&rows) {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e.to_string())),
    }
}
