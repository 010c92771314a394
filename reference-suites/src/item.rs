//! Test items of a suite: the models a round measures every model test on (the ISO 5725
//! "levels", a PT provider's "samples"), and the x_pt/σ_pt each test declares.
//!
//! Several items of different robustness let a lab give several verdicts per test, so
//! that its implied acceptance threshold can be located; an item with sealed known
//! answers checks labs against a value known by construction.

use interlab_protocol::{
    Digest,
    governance::{AssignedDecl, MetricAssessment},
    stats::{Assessment, Assigned, SigmaPt},
};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, ManifestError, TestParams};

/// Most test items in one suite.
const MAX_ITEMS: usize = 64;

/// One test item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// Unique id (letters, digits, `.`, `_`, `-`).
    pub id: String,
    /// Artefact holding the item's model.
    pub model: String,
    /// What the item is (shown in reports; a known-answer item should not give its
    /// answer away).
    #[serde(default)]
    pub description: String,
    /// The model tests run on this item (empty: every model test of the suite).
    #[serde(default)]
    pub tests: Vec<String>,
    /// Commitment to the item's sealed known answers (`interlab_protocol::SealedAnswers`).
    #[serde(default)]
    pub known_answer: Option<Digest>,
    /// The training rows the item's model was trained on (i64 indices into `x_train`),
    /// when not all of them: membership inference on this item then takes these rows as
    /// members and the other training rows as non-members, so that membership is known
    /// by construction.
    #[serde(default)]
    pub members: Option<crate::manifest::TensorRef>,
    /// Artefact holding a PyTorch `nn.Sequential` architecture (JSON, the engine's
    /// `SequentialSpec`): the item's `model` artefact is then that model's state dict
    /// (safetensors). Absent: the model artefact is a safetensors MLP or ONNX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

impl TestParams {
    /// Whether the test measures the model under test (evasion, privacy) rather than
    /// retraining the suite's initial weights (poisoning).
    pub fn uses_model(&self) -> bool {
        !matches!(
            self,
            TestParams::Backdoor { .. } | TestParams::LabelFlip { .. }
        )
    }
}

impl Manifest {
    /// The model tests run on `item`, in manifest order.
    pub fn item_tests<'a>(&'a self, item: &'a ItemSpec) -> impl Iterator<Item = &'a str> + 'a {
        self.tests
            .iter()
            .filter(|t| t.params.uses_model())
            .filter(|t| item.tests.is_empty() || item.tests.contains(&t.id))
            .map(|t| t.id.as_str())
    }

    /// Checks the items and the declared assessments.
    pub(crate) fn check_items(&self) -> Result<(), ManifestError> {
        let bad = |field: String, problem: String| Err(ManifestError::Invalid { field, problem });
        if self.items.len() > MAX_ITEMS {
            return bad(
                "items".into(),
                format!("{} items; at most {MAX_ITEMS}", self.items.len()),
            );
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let at = |f: &str| format!("items[{i}].{f}");
            crate::fields::check_id(&at("id"), &item.id)?;
            if !ids.insert(item.id.as_str()) {
                return bad(at("id"), format!("{:?} appears more than once", item.id));
            }
            if !self.artefacts.contains_key(&item.model) {
                return bad(
                    at("model"),
                    format!(
                        "names artefact {:?}, which the manifest does not list",
                        item.model
                    ),
                );
            }
            if let Some(m) = &item.members
                && !self.artefacts.contains_key(&m.artefact)
            {
                return bad(
                    at("members.artefact"),
                    format!(
                        "names artefact {:?}, which the manifest does not list",
                        m.artefact
                    ),
                );
            }
            if let Some(a) = &item.architecture
                && !self.artefacts.contains_key(a)
            {
                return bad(
                    at("architecture"),
                    format!("names artefact {a:?}, which the manifest does not list"),
                );
            }
            if item.description.len() > 1024 {
                return bad(at("description"), "longer than 1024 bytes".into());
            }
            for t in &item.tests {
                match self.tests.iter().find(|x| &x.id == t) {
                    None => return bad(at("tests"), format!("the suite has no test {t:?}")),
                    Some(x) if !x.params.uses_model() => {
                        return bad(
                            at("tests"),
                            format!("{t:?} is a poisoning test; it does not run on an item"),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        for (i, t) in self.tests.iter().enumerate() {
            let mut metrics = std::collections::BTreeSet::new();
            for (j, a) in t.assessment.iter().enumerate() {
                let at = format!("tests[{i}].assessment[{j}]");
                if !t.params.metrics().contains(&a.metric.as_str()) {
                    return bad(
                        format!("{at}.metric"),
                        format!(
                            "{:?} is not a metric of a {} test (one of {:?})",
                            a.metric,
                            t.params.kind(),
                            t.params.metrics()
                        ),
                    );
                }
                if !metrics.insert(a.metric.as_str()) {
                    return bad(
                        format!("{at}.metric"),
                        format!("{:?} is declared more than once", a.metric),
                    );
                }
                check_assessment(&at, a)?;
            }
        }
        Ok(())
    }
}

fn check_assessment(at: &str, a: &MetricAssessment) -> Result<(), ManifestError> {
    // Check the σ_pt numbers with a stand-in assigned value (the real one comes later).
    let probe = Assessment {
        assigned: match a.assigned {
            AssignedDecl::Consensus { method } => Assigned::Consensus { method },
            AssignedDecl::Reference => Assigned::Consensus {
                method: interlab_protocol::stats::ConsensusMethod::AlgorithmA,
            },
        },
        sigma_pt: a.sigma_pt.clone(),
    };
    probe.check().map_err(|e| ManifestError::Invalid {
        field: format!("{at}.sigma_pt"),
        problem: e.to_string(),
    })?;
    if a.sigma_pt == SigmaPt::Undeclared {
        return Err(ManifestError::Invalid {
            field: format!("{at}.sigma_pt"),
            problem: "`undeclared` declares nothing: leave the metric out of `assessment` to \
                      report it for information, or declare σ_pt (prescribed, binomial, \
                      previous_round or participants)"
                .into(),
        });
    }
    if let SigmaPt::PreviousRound { round: 0, .. } = a.sigma_pt {
        return Err(ManifestError::Invalid {
            field: format!("{at}.sigma_pt.round"),
            problem: "rounds are numbered from 1".into(),
        });
    }
    Ok(())
}

/// An item with declared member rows: (its members, the other training rows); `None`s
/// for the suite's default (every training row a member, the test rows non-members).
pub(crate) fn membership(
    ctx: &crate::evaluate::Context<'_>,
    t: &crate::manifest::TestSpec,
) -> Result<(Option<crate::data::Split>, Option<crate::data::Split>), crate::EngineError> {
    let Some(r) = ctx.members else {
        return Ok((None, None));
    };
    let train = &ctx.suite.data().train;
    let n = train.len();
    let rows = crate::evaluate::indices(ctx, t, r, n)?;
    let mut is_member = vec![false; n];
    for &i in &rows {
        is_member[i] = true;
    }
    let d = train.x.len() / n.max(1);
    let pick = |want: bool| crate::data::Split {
        x: (0..n)
            .filter(|&i| is_member[i] == want)
            .flat_map(|i| train.x[i * d..(i + 1) * d].iter().copied())
            .collect(),
        y: (0..n)
            .filter(|&i| is_member[i] == want)
            .map(|i| train.y[i])
            .collect(),
    };
    let (members, others) = (pick(true), pick(false));
    if members.y.is_empty() || others.y.is_empty() {
        return Err(crate::EngineError::Config(format!(
            "test {}: the item's member rows leave no members or no non-members",
            t.id
        )));
    }
    Ok((Some(members), Some(others)))
}
