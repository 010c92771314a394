//! What the suite declares for each measurand of a round, made concrete: the assigned
//! value from the owner's reference run or from an accepted known-answer reveal (pending
//! until there is one), and the declared σ_pt rule.

use std::collections::{BTreeMap, HashMap};

use super::suite::{AssignedDecl, SuiteView};
use crate::{
    Opened, RecordId, RunResult, SealedAnswers,
    stats::{self, Assessment, Assigned, ValueSource},
};

/// The declared x_pt/σ_pt of every measurand of the round: the test's declaration per
/// metric, with the assigned value taken from the owner's reference run or, for an item
/// with sealed known answers, from the accepted reveal (pending until then).
pub(super) fn declared_assessments(
    view: &SuiteView,
    counted: &[(&Opened, &RunResult)],
    reference: Option<&RunResult>,
    reveals: &BTreeMap<&str, (RecordId, &SealedAnswers)>,
    round: u32,
) -> HashMap<String, Assessment> {
    let mut out = HashMap::new();
    for (_, r) in counted.iter().filter(|(_, r)| r.round == round) {
        for t in &r.tests {
            let Some(test) = view.tests.iter().find(|x| x.id == t.test) else {
                continue;
            };
            let sealed_item = t
                .item
                .as_deref()
                .and_then(|i| view.items.iter().find(|x| x.id == i))
                .filter(|i| i.known_answer.is_some());
            for m in &t.measurements {
                let measurand = t.measurand(&m.metric);
                if out.contains_key(&measurand) {
                    continue;
                }
                let Some(decl) = test.assessment.iter().find(|a| a.metric == m.metric) else {
                    continue;
                };
                let assigned = if let Some(item) = sealed_item {
                    let answer = reveals.get(item.id.as_str()).and_then(|(_, s)| {
                        s.answers
                            .iter()
                            .find(|a| a.test == t.test && a.metric == m.metric)
                    });
                    match (answer, reveals.contains_key(item.id.as_str())) {
                        (Some(a), _) => Assigned::Value {
                            source: ValueSource::Known,
                            value: a.value,
                            u: a.u,
                        },
                        (None, true) => Assigned::Pending {
                            source: ValueSource::Known,
                            reason: format!(
                                "the reveal of item {} holds no answer for {}/{}",
                                item.id, t.test, m.metric
                            ),
                        },
                        (None, false) => Assigned::Pending {
                            source: ValueSource::Known,
                            reason: format!(
                                "item {} is a known-answer item; its answers stay sealed until \
                                 the scheme owner reveals them after the round",
                                item.id
                            ),
                        },
                    }
                } else {
                    match &decl.assigned {
                        AssignedDecl::Consensus { method } => {
                            Assigned::Consensus { method: *method }
                        }
                        AssignedDecl::Reference => {
                            let found = reference.and_then(|r| {
                                r.tests
                                    .iter()
                                    .find(|x| x.test == t.test && x.item == t.item)?
                                    .measurements
                                    .iter()
                                    .find(|x| x.metric == m.metric)
                            });
                            match found {
                                Some(x) => Assigned::Value {
                                    source: ValueSource::Reference,
                                    value: x.mean,
                                    u: reference_u(&x.values),
                                },
                                None => Assigned::Pending {
                                    source: ValueSource::Reference,
                                    reason: format!(
                                        "the scheme owner has published no reference run of \
                                         round {round} with {measurand}"
                                    ),
                                },
                            }
                        }
                    }
                };
                let a = Assessment {
                    assigned,
                    sigma_pt: decl.sigma_pt.clone(),
                };
                if a.check().is_ok() {
                    out.insert(measurand, a);
                }
            }
        }
    }
    out
}

/// u(x_pt) of a reference value: the reference implementation's own spread, SD/√n of its
/// repetitions (0 for a single deterministic run). The test set is the same for every
/// lab, so its sampling uncertainty (what a lab's bootstrap u mostly holds) is common to
/// all results and does not enter the comparison.
fn reference_u(values: &[f64]) -> f64 {
    match stats::robust::mean_sd(values) {
        Some((_, Some(sd))) => sd / (values.len() as f64).sqrt(),
        _ => 0.0,
    }
}
