//! Test items and poisoning inputs of the `credit-tabular` suite, each produced by a
//! fixed recipe from the suite's data and the oracle's initial MLP weights, so that anyone
//! can rebuild a shipped file bit for bit and check its digest.
//!
//! - `logreg`: a logistic regression (one dense layer 29 → 2 logits) from zero weights;
//! - `mlp_overfit`: the MLP from `mlp_init`, trained on 60 known training rows for many
//!   steps (the known-member membership-inference item);
//! - `poisoning_inputs`: the rows the backdoor test stamps its trigger on, and the rows
//!   and new labels of the label-flip test.
//!
//! Random choices use the engine's ChaCha20 stream seeded by `derive_seed(suite seed, item
//! name, 0, purpose)`. `suites/credit-tabular/items/SOURCE.md` records the recipes and
//! figures; the example `train_credit_items` writes the files.

use candle_core::{Device, Tensor};
use safetensors::Dtype as StDtype;

use super::CREDIT_SUITE_SEED;
use crate::{
    attacks::{
        fgsm::fgsm,
        pgd::{PgdConfig, pgd},
        square::{Layout, SquareConfig, square},
    },
    data::Split,
    items::{ItemError, ItemInputs, accuracy, draw, member_scores, rows_of},
    model::{Layer, Mlp, Model, ModelError},
    poisoning::Trigger,
    privacy::mia,
    tensor::Precision,
    train::{Recipe, train},
    uncertainty::{Rng, derive_seed},
};

const RANGE: (f32, f32) = (0.0, 1.0);
const CLASSES: usize = 2;

/// Recipe of `logreg`: full-batch Adam from zero weights.
pub const LOGREG_RECIPE: Recipe = Recipe {
    steps: 500,
    lr: 0.05,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

/// Training rows `mlp_overfit` is trained on.
pub const OVERFIT_ROWS: usize = 60;

/// Recipe of `mlp_overfit`: many full-batch steps on [`OVERFIT_ROWS`] rows.
pub const OVERFIT_RECIPE: Recipe = Recipe {
    steps: 10000,
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

/// Training rows (all labelled bad) the backdoor test stamps its trigger on.
pub const BACKDOOR_ROWS: usize = 35;
/// Training rows whose label the label-flip test inverts (20 % of 700).
pub const FLIP_ROWS: usize = 140;

/// The suite's backdoor: `credit_amount` (feature 18) and `age` (feature 28) both at their
/// maximum, label good (1). No clean row has both.
pub fn backdoor_trigger() -> Trigger {
    Trigger {
        pixels: vec![18, 28],
        value: 1.0,
        target: 1,
    }
}

/// One test item of the credit suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditItem {
    /// Logistic regression.
    LogReg,
    /// Overfitted MLP with known members.
    Overfit,
}

impl CreditItem {
    /// Every item, in build order.
    pub const ALL: [CreditItem; 2] = [CreditItem::LogReg, CreditItem::Overfit];

    /// Item name (file stem and seed label).
    pub fn name(self) -> &'static str {
        match self {
            CreditItem::LogReg => "logreg",
            CreditItem::Overfit => "mlp_overfit",
        }
    }

    /// File name under `items/`.
    pub fn file_name(self) -> String {
        format!("{}.safetensors", self.name())
    }

    /// Seed of one random choice of this item.
    pub fn seed(self, purpose: &str) -> u64 {
        derive_seed(CREDIT_SUITE_SEED, self.name(), 0, purpose)
    }
}

/// The suite files the items are built from: the digits items' inputs, read with the
/// credit data's classes and range.
#[derive(Debug, Clone)]
pub struct CreditInputs(ItemInputs);

impl CreditInputs {
    /// Reads `data.safetensors` and `mlp_init.safetensors`.
    pub fn from_bytes(data: &[u8], init: &[u8]) -> Result<Self, ItemError> {
        ItemInputs::read(data, init, CLASSES, RANGE).map(CreditInputs)
    }

    /// The training split.
    pub fn train(&self) -> &Split {
        self.0.train()
    }

    /// The test split.
    pub fn test(&self) -> &Split {
        self.0.test()
    }
}

/// A built item: the model, its file bytes and its member rows.
#[derive(Debug, Clone)]
pub struct BuiltCredit {
    /// The trained model.
    pub model: Model,
    /// Its safetensors bytes.
    pub bytes: Vec<u8>,
    /// Training rows it was trained on, ascending.
    pub members: Vec<usize>,
}

/// A logistic regression with zero weights: one layer [classes, features].
fn zero_logreg(d: usize) -> Result<Mlp, ModelError> {
    let dev = Device::Cpu;
    Mlp::new(vec![Layer {
        w: Tensor::zeros((CLASSES, d), candle_core::DType::F32, &dev)?,
        b: Tensor::zeros(CLASSES, candle_core::DType::F32, &dev)?,
    }])
}

/// Builds one item by its recipe.
pub fn build(item: CreditItem, inputs: &CreditInputs) -> Result<BuiltCredit, ItemError> {
    let n = inputs.0.train.len();
    let d = inputs.0.features();
    let all: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(item.seed("batches"));
    let (model, members) = match item {
        CreditItem::LogReg => {
            let init = zero_logreg(d)?;
            let m = train(
                &init,
                &inputs.0.train.x,
                &inputs.0.train.y,
                &LOGREG_RECIPE,
                &mut rng,
            )?;
            (m, all)
        }
        CreditItem::Overfit => {
            if n < OVERFIT_ROWS {
                return Err(ItemError::TooFewRows {
                    item: item.name(),
                    wanted: OVERFIT_ROWS,
                    available: n,
                });
            }
            let members = draw(&all, OVERFIT_ROWS, item.seed("members"));
            let sub = rows_of(&inputs.0.train, &members, d);
            let m = train(&inputs.0.init, &sub.x, &sub.y, &OVERFIT_RECIPE, &mut rng)?;
            (m, members)
        }
    };
    Ok(BuiltCredit {
        bytes: model.to_safetensors()?,
        model,
        members,
    })
}

fn i64_view(rows: &[usize]) -> (Vec<usize>, Vec<u8>) {
    let b = rows
        .iter()
        .flat_map(|&r| (r as i64).to_le_bytes())
        .collect();
    (vec![rows.len()], b)
}

/// `poisoning_inputs.safetensors`: `backdoor_idx` ([`BACKDOOR_ROWS`] training rows
/// labelled bad, seed `backdoor rows`), `flip_idx` ([`FLIP_ROWS`] training rows, seed
/// `flip rows`) and `y_train_flipped` (all training labels, those rows inverted), i64.
/// Seeds derive from the suite seed with the name `poisoning_inputs`.
pub fn poisoning_file(inputs: &CreditInputs) -> Result<Vec<u8>, ItemError> {
    let n = inputs.0.train.len();
    let seed = |purpose: &str| derive_seed(CREDIT_SUITE_SEED, "poisoning_inputs", 0, purpose);
    let target = backdoor_trigger().target;
    let candidates: Vec<usize> = (0..n).filter(|&r| inputs.0.train.y[r] != target).collect();
    if candidates.len() < BACKDOOR_ROWS || n < FLIP_ROWS {
        return Err(ItemError::TooFewRows {
            item: "poisoning_inputs",
            wanted: BACKDOOR_ROWS.max(FLIP_ROWS),
            available: candidates.len().min(n),
        });
    }
    let backdoor = draw(&candidates, BACKDOOR_ROWS, seed("backdoor rows"));
    let all: Vec<usize> = (0..n).collect();
    let flip = draw(&all, FLIP_ROWS, seed("flip rows"));
    let mut flipped: Vec<usize> = inputs.0.train.y.iter().map(|&v| v as usize).collect();
    for &r in &flip {
        flipped[r] = 1 - flipped[r].min(1);
    }
    let views = [
        ("backdoor_idx", i64_view(&backdoor)),
        ("flip_idx", i64_view(&flip)),
        ("y_train_flipped", i64_view(&flipped)),
    ];
    let views = views
        .iter()
        .map(|(name, (shape, data))| {
            safetensors::tensor::TensorView::new(StDtype::I64, shape.clone(), data)
                .map(|v| (*name, v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Safetensors(e.to_string()))?;
    Ok(safetensors::serialize(views, None).map_err(|e| ModelError::Safetensors(e.to_string()))?)
}

/// What a credit model measures as (f32 gradients, ε 0.05).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreditFigures {
    /// Accuracy on the member rows.
    pub member_accuracy: f64,
    /// Test accuracy.
    pub clean_accuracy: f64,
    /// Under FGSM ε 0.05.
    pub fgsm_robust_accuracy: f64,
    /// Under PGD ε 0.05, step 0.0125, 10 steps.
    pub pgd_robust_accuracy: f64,
    /// Under flat-feature Square ε 0.05, 300 queries, p_init 0.3 (seed 0).
    pub square_robust_accuracy: f64,
    /// Loss-threshold membership AUC, members against the test rows.
    pub mia_auc_vs_test: f64,
}

/// Measures `model` on the test rows; `members` are the rows it was trained on.
pub fn measure(
    model: &Model,
    inputs: &CreditInputs,
    members: &[usize],
) -> Result<CreditFigures, ItemError> {
    let (train, test) = (&inputs.0.train, &inputs.0.test);
    let n = train.len();
    if members.is_empty() {
        return Err(ItemError::NoMembers);
    }
    if let Some(&row) = members.iter().find(|&&r| r >= n) {
        return Err(ItemError::Member { row, n });
    }
    let fg = fgsm(model, &test.x, &test.y, 0.05, RANGE, Precision::F32)?;
    let cfg = PgdConfig {
        eps: 0.05,
        step: 0.0125,
        iterations: 10,
        random_start: false,
    };
    let pg = pgd(
        model,
        &test.x,
        &test.y,
        cfg,
        RANGE,
        Precision::F32,
        &mut Rng::new(0),
    )?;
    let sq_cfg = SquareConfig {
        eps: 0.05,
        max_queries: 300,
        p_init: 0.3,
        shape: Layout::Flat,
    };
    let sq = square(model, &test.x, &test.y, sq_cfg, RANGE, &mut Rng::new(0))?;
    let member_rows = rows_of(train, members, inputs.0.features());
    let sm = member_scores(model, &member_rows)?;
    let st = member_scores(model, test)?;
    Ok(CreditFigures {
        member_accuracy: accuracy(model, &member_rows.x, &member_rows.y)?,
        clean_accuracy: accuracy(model, &test.x, &test.y)?,
        fgsm_robust_accuracy: accuracy(model, &fg.x_adv, &test.y)?,
        pgd_robust_accuracy: accuracy(model, &pg.x_adv, &test.y)?,
        square_robust_accuracy: accuracy(model, &sq.x_adv, &test.y)?,
        mia_auc_vs_test: mia::roc(&sm, &st).auc,
    })
}
