//! Poisoning tests: the suite fixes which training rows are poisoned and how, every lab
//! retrains from the same initial weights with the same recipe, and the metrics read the
//! retrained model on the clean test rows.

use crate::{
    data::Split,
    model::{Model, ModelError},
    tensor,
    train::Recipe,
    uncertainty::Rng,
};

/// A backdoor: these flat pixel indices set to `value`, and the label set to `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Flat feature indices the trigger sets.
    pub pixels: Vec<usize>,
    /// Value written into them.
    pub value: f32,
    /// Label the backdoor should produce.
    pub target: u32,
}

impl Trigger {
    /// Applies the trigger to row `r` of `x` (features `d`).
    pub(crate) fn stamp(&self, x: &mut [f32], r: usize, d: usize) {
        for &p in &self.pixels {
            x[r * d + p] = self.value;
        }
    }
}

/// Per-row results of a poisoning test on the test split.
#[derive(Debug, Clone, PartialEq)]
pub struct PoisonOutcome {
    /// Clean test row classified correctly by the model trained on clean data.
    pub reference_correct: Vec<bool>,
    /// Clean test row classified correctly by the poisoned model.
    pub poisoned_correct: Vec<bool>,
    /// For a backdoor: per test row whose label is not the target, whether the triggered
    /// row is classified as the target (`None` for label flipping).
    pub backdoor_hit: Option<Vec<Option<bool>>>,
}

impl PoisonOutcome {
    /// Test accuracy of the poisoned model over rows `idx`.
    pub fn clean_accuracy(&self, idx: &[usize]) -> f64 {
        crate::uncertainty::share(&self.poisoned_correct, idx)
    }

    /// Accuracy of the clean-trained model minus that of the poisoned one, over `idx`.
    pub fn accuracy_drop(&self, idx: &[usize]) -> f64 {
        crate::uncertainty::share(&self.reference_correct, idx) - self.clean_accuracy(idx)
    }

    /// Share of triggered non-target rows classified as the target, over `idx`.
    pub fn attack_success_rate(&self, idx: &[usize]) -> Option<f64> {
        let hits = self.backdoor_hit.as_ref()?;
        let sel: Vec<bool> = idx.iter().filter_map(|&i| hits[i]).collect();
        Some(if sel.is_empty() {
            0.0
        } else {
            sel.iter().filter(|&&b| b).count() as f64 / sel.len() as f64
        })
    }
}

/// Trains on clean data (the reference for the accuracy drop). Any trainable model (an
/// MLP or a graph model such as a CNN) serves as the initial weights.
pub(crate) fn train_clean(
    init: &Model,
    train_split: &Split,
    recipe: &Recipe,
    rng: &mut Rng,
) -> Result<Model, ModelError> {
    init.train(train_split, recipe, rng)
}

/// Backdoor: stamps the trigger on `rows`, relabels them, retrains and scores.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backdoor(
    init: &Model,
    reference: &Model,
    train_split: &Split,
    test: &Split,
    rows: &[usize],
    trigger: &Trigger,
    recipe: &Recipe,
    rng: &mut Rng,
) -> Result<PoisonOutcome, ModelError> {
    let d = reference.input_dim();
    let mut x = train_split.x.clone();
    let mut y = train_split.y.clone();
    for &r in rows {
        trigger.stamp(&mut x, r, d);
        y[r] = trigger.target;
    }
    let poisoned = init.train(&Split { x, y }, recipe, rng)?;
    let mut xt = test.x.clone();
    for r in 0..test.len() {
        trigger.stamp(&mut xt, r, d);
    }
    let trig_pred = tensor::predict(&poisoned, &xt)?;
    let hits = test
        .y
        .iter()
        .zip(&trig_pred)
        .map(|(&t, &p)| (t != trigger.target).then_some(p == trigger.target))
        .collect();
    Ok(PoisonOutcome {
        reference_correct: correct(reference, test)?,
        poisoned_correct: correct(&poisoned, test)?,
        backdoor_hit: Some(hits),
    })
}

/// Label flipping: gives `rows` the labels `labels`, retrains and scores.
#[allow(clippy::too_many_arguments)]
pub(crate) fn label_flip(
    init: &Model,
    reference: &Model,
    train_split: &Split,
    test: &Split,
    rows: &[usize],
    labels: &[u32],
    recipe: &Recipe,
    rng: &mut Rng,
) -> Result<PoisonOutcome, ModelError> {
    let mut y = train_split.y.clone();
    for (&r, &l) in rows.iter().zip(labels) {
        y[r] = l;
    }
    let split = Split {
        x: train_split.x.clone(),
        y,
    };
    let poisoned = init.train(&split, recipe, rng)?;
    Ok(PoisonOutcome {
        reference_correct: correct(reference, test)?,
        poisoned_correct: correct(&poisoned, test)?,
        backdoor_hit: None,
    })
}

fn correct(model: &Model, split: &Split) -> Result<Vec<bool>, ModelError> {
    Ok(tensor::predict(model, &split.x)?
        .iter()
        .zip(&split.y)
        .map(|(p, t)| p == t)
        .collect())
}
