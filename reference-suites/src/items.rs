//! Test items of the digits suite: models of different robustness and known-answer
//! models, each produced by a fixed recipe from the suite's own data and initial weights,
//! so that anyone can rebuild a shipped item bit for bit and check its digest.
//!
//! - `mlp_robust_pgd`: adversarially trained (PGD-L∞, ε 0.1) from `mlp_init`;
//! - `mlp_overfit`: trained from `mlp_init` on 100 training rows for many steps; its
//!   member rows are known, so it is also the known-member membership-inference item;
//! - `mlp_kat_backdoor`: the base recipe with a planted backdoor whose trigger and target
//!   are known by construction.
//!
//! Every random choice is drawn from the engine's ChaCha20 stream with a seed derived
//! from the suite seed and the item's name ([`derive_seed`]). `reference-suites/suites/
//! digits-mlp/items/SOURCE.md` records the recipes and the measured figures; the example
//! `train_digits_items` writes the files.

use safetensors::Dtype as StDtype;

use crate::{
    attacks::{
        AttackError,
        fgsm::fgsm,
        pgd::{PgdConfig, pgd},
        square::{Layout, SquareConfig, square},
    },
    data::{DataError, DataFile, Split},
    model::{Mlp, Model, ModelError, read_mlp_layers},
    poisoning::Trigger,
    privacy::mia,
    tensor::{self, Precision},
    train::{Adversary, Recipe, train, train_adversarial},
    uncertainty::{Rng, derive_seed},
};

/// Seed of the digits suite (`seed` in its `suite.toml`); item seeds derive from it.
pub const DIGITS_SUITE_SEED: u64 = 20261125;
/// Valid input range of the digits data.
const RANGE: (f32, f32) = (0.0, 1.0);
/// Class count of the digits data.
const CLASSES: usize = 10;

/// The base recipe of the suite (`mlp_trained`): 300 full-batch Adam steps.
pub const BASE_RECIPE: Recipe = Recipe {
    steps: 300,
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

/// Adversarial training of `mlp_robust_pgd`: Adam on PGD examples of the full batch.
pub const ROBUST_RECIPE: Recipe = Recipe {
    steps: 100,
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

/// The PGD that `mlp_robust_pgd` is trained against (the suite's `pgd-eps0.1` settings).
pub const ROBUST_PGD: PgdConfig = PgdConfig {
    eps: 0.1,
    step: 0.025,
    iterations: 10,
    random_start: false,
};

/// Training rows `mlp_overfit` is trained on.
pub const OVERFIT_ROWS: usize = 100;

/// Recipe of `mlp_overfit`: many full-batch steps on [`OVERFIT_ROWS`] rows.
pub const OVERFIT_RECIPE: Recipe = Recipe {
    steps: 1000,
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    batch_size: None,
};

/// Training rows stamped with the known-answer backdoor's trigger (10 % of 1 297).
pub const KAT_BACKDOOR_ROWS: usize = 130;

/// The known-answer backdoor: the 2×2 top-left corner of the 8×8 image set to 1.0, label 7.
pub fn kat_trigger() -> Trigger {
    Trigger {
        pixels: vec![0, 1, 8, 9],
        value: 1.0,
        target: 7,
    }
}

/// Seed of the random-start PGD and of the Square attack in [`measure`].
pub const MEASURE_SEED: u64 = 0;

/// Why an item cannot be built or measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// The data file is refused.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The initial weights or a model are refused, or training failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An attack used to measure an item failed.
    #[error(transparent)]
    Attack(#[from] AttackError),
    /// The data has fewer rows than a recipe draws.
    #[error("item {item} draws {wanted} training rows but only {available} qualify")]
    TooFewRows {
        /// Item name.
        item: &'static str,
        /// Rows the recipe needs.
        wanted: usize,
        /// Rows available.
        available: usize,
    },
    /// Membership cannot be measured without members.
    #[error("no member rows given: membership inference needs at least one")]
    NoMembers,
    /// A member index outside the training split.
    #[error("member row {row} is outside the {n} training rows")]
    Member {
        /// The index.
        row: usize,
        /// Training rows.
        n: usize,
    },
}

/// One test item of the digits suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitsItem {
    /// Adversarially trained with PGD-L∞ ε 0.1.
    RobustPgd,
    /// Overfitted on 100 known member rows.
    Overfit,
    /// Base recipe with a planted backdoor of known trigger and target.
    KatBackdoor,
}

impl DigitsItem {
    /// Every item, in the order they are built.
    pub const ALL: [DigitsItem; 3] = [
        DigitsItem::RobustPgd,
        DigitsItem::Overfit,
        DigitsItem::KatBackdoor,
    ];

    /// Item name (also the file stem and the seed label).
    pub fn name(self) -> &'static str {
        match self {
            DigitsItem::RobustPgd => "mlp_robust_pgd",
            DigitsItem::Overfit => "mlp_overfit",
            DigitsItem::KatBackdoor => "mlp_kat_backdoor",
        }
    }

    /// File name under `items/`.
    pub fn file_name(self) -> String {
        format!("{}.safetensors", self.name())
    }

    /// Seed of one random choice of this item.
    pub fn seed(self, purpose: &str) -> u64 {
        derive_seed(DIGITS_SUITE_SEED, self.name(), 0, purpose)
    }
}

/// The suite files the items are built from.
#[derive(Debug, Clone)]
pub struct ItemInputs {
    pub(crate) train: Split,
    pub(crate) test: Split,
    pub(crate) init: Mlp,
}

impl ItemInputs {
    /// Reads `data.safetensors` (`x_train`, `y_train`, `x_test`, `y_test`) and
    /// `mlp_init.safetensors`.
    pub fn from_bytes(data: &[u8], init: &[u8]) -> Result<Self, ItemError> {
        Self::read(data, init, CLASSES, RANGE)
    }

    /// [`ItemInputs::from_bytes`] for a suite with `classes` classes and features in
    /// `range` (the credit suite's items share it).
    pub(crate) fn read(
        data: &[u8],
        init: &[u8],
        classes: usize,
        range: (f32, f32),
    ) -> Result<Self, ItemError> {
        let file = DataFile::open(data)?;
        let train = file.split("x_train", "y_train", classes, range)?;
        let test = file.split("x_test", "y_test", classes, range)?;
        let init = Mlp::new(read_mlp_layers(init)?)?;
        Model::from_mlp(init.clone())?.check_fits(train.x.len() / train.len().max(1), classes)?;
        Ok(ItemInputs { train, test, init })
    }

    /// The training split.
    pub fn train(&self) -> &Split {
        &self.train
    }

    /// The test split.
    pub fn test(&self) -> &Split {
        &self.test
    }

    pub(crate) fn features(&self) -> usize {
        self.train.x.len() / self.train.len().max(1)
    }
}

/// A built item: the model, its file bytes and what its known answers are.
#[derive(Debug, Clone)]
pub struct BuiltItem {
    /// Which item.
    pub item: DigitsItem,
    /// The trained model.
    pub model: Model,
    /// Its safetensors bytes (what is shipped).
    pub bytes: Vec<u8>,
    /// Training rows the model was trained on, ascending (all rows but for the overfit item).
    pub members: Vec<usize>,
    /// For the backdoor item: its trigger and the training rows it was stamped on.
    pub backdoor: Option<(Trigger, Vec<usize>)>,
}

/// `k` distinct indices from `candidates`, drawn by a Fisher–Yates shuffle with `seed`,
/// returned ascending.
pub(crate) fn draw(candidates: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut order = candidates.to_vec();
    let mut rng = Rng::new(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order.truncate(k);
    order.sort_unstable();
    order
}

pub(crate) fn rows_of(split: &Split, rows: &[usize], d: usize) -> Split {
    Split {
        x: rows
            .iter()
            .flat_map(|&r| &split.x[r * d..(r + 1) * d])
            .copied()
            .collect(),
        y: rows.iter().map(|&r| split.y[r]).collect(),
    }
}

/// Builds one item by its recipe.
pub fn build(item: DigitsItem, inputs: &ItemInputs) -> Result<BuiltItem, ItemError> {
    let n = inputs.train.len();
    let d = inputs.features();
    let all: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(item.seed("batches"));
    let (model, members, backdoor) = match item {
        DigitsItem::RobustPgd => {
            let adversary = Adversary {
                pgd: ROBUST_PGD,
                range: RANGE,
            };
            let m = train_adversarial(
                &inputs.init,
                &inputs.train.x,
                &inputs.train.y,
                &ROBUST_RECIPE,
                &adversary,
                &mut rng,
            )?;
            (m, all, None)
        }
        DigitsItem::Overfit => {
            if n < OVERFIT_ROWS {
                return Err(ItemError::TooFewRows {
                    item: item.name(),
                    wanted: OVERFIT_ROWS,
                    available: n,
                });
            }
            let members = draw(&all, OVERFIT_ROWS, item.seed("members"));
            let sub = rows_of(&inputs.train, &members, d);
            let m = train(&inputs.init, &sub.x, &sub.y, &OVERFIT_RECIPE, &mut rng)?;
            (m, members, None)
        }
        DigitsItem::KatBackdoor => {
            let trigger = kat_trigger();
            let candidates: Vec<usize> = (0..n)
                .filter(|&r| inputs.train.y[r] != trigger.target)
                .collect();
            if candidates.len() < KAT_BACKDOOR_ROWS {
                return Err(ItemError::TooFewRows {
                    item: item.name(),
                    wanted: KAT_BACKDOOR_ROWS,
                    available: candidates.len(),
                });
            }
            let rows = draw(&candidates, KAT_BACKDOOR_ROWS, item.seed("poisoned rows"));
            let mut x = inputs.train.x.clone();
            let mut y = inputs.train.y.clone();
            for &r in &rows {
                trigger.stamp(&mut x, r, d);
                y[r] = trigger.target;
            }
            let m = train(&inputs.init, &x, &y, &BASE_RECIPE, &mut rng)?;
            (m, all, Some((trigger, rows)))
        }
    };
    Ok(BuiltItem {
        item,
        bytes: model.to_safetensors()?,
        model,
        members,
        backdoor,
    })
}

/// The known-member file `kat_members.safetensors`: `member_idx` (the overfit item's
/// training rows) and `non_member_idx` (the other training rows), i64 indices into
/// `x_train`, ascending.
pub fn members_file(members: &[usize], n_train: usize) -> Result<Vec<u8>, ItemError> {
    let mut is_member = vec![false; n_train];
    for &r in members {
        *is_member
            .get_mut(r)
            .ok_or(ItemError::Member { row: r, n: n_train })? = true;
    }
    let bytes = |rows: Vec<usize>| -> (Vec<usize>, Vec<u8>) {
        let b = rows
            .iter()
            .flat_map(|&r| (r as i64).to_le_bytes())
            .collect();
        (vec![rows.len()], b)
    };
    let m = bytes((0..n_train).filter(|&r| is_member[r]).collect());
    let nm = bytes((0..n_train).filter(|&r| !is_member[r]).collect());
    let views = [("member_idx", m), ("non_member_idx", nm)];
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

/// What an item measures as under the suite's settings (f32 gradients).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemFigures {
    /// Test accuracy.
    pub clean_accuracy: f64,
    /// Test accuracy under FGSM ε 0.1.
    pub fgsm_robust_accuracy: f64,
    /// Test accuracy under PGD ε 0.1, step 0.025, 10 steps, no random start.
    pub pgd_robust_accuracy: f64,
    /// The same PGD from a uniform random start in the ε-ball (seed [`MEASURE_SEED`]).
    pub pgd_random_start_robust_accuracy: f64,
    /// Test accuracy under the black-box Square attack, ε 0.1, 300 queries, p_init 0.8
    /// (seed [`MEASURE_SEED`]); far below the PGD figure would mean masked gradients.
    pub square_robust_accuracy: f64,
    /// Loss-threshold membership AUC: members against the test rows.
    pub mia_auc_vs_test: f64,
    /// Loss-threshold membership AUC: members against the training rows the model was
    /// not trained on (`None` when it was trained on all of them).
    pub mia_auc_vs_unused_train: Option<f64>,
    /// Share of triggered test rows not labelled with the target that the model puts in
    /// the target class (`None` without a backdoor).
    pub backdoor_success_rate: Option<f64>,
}

pub(crate) fn accuracy(model: &Model, x: &[f32], y: &[u32]) -> Result<f64, ModelError> {
    let p = tensor::predict(model, x)?;
    let hits = p.iter().zip(y).filter(|(a, b)| a == b).count();
    Ok(hits as f64 / y.len().max(1) as f64)
}

pub(crate) fn member_scores(model: &Model, split: &Split) -> Result<Vec<f64>, ModelError> {
    Ok(tensor::losses(model, &split.x, &split.y)?
        .iter()
        .map(|&l| -f64::from(l))
        .collect())
}

/// Measures `model` on the suite's test rows; `members` are the training rows it was
/// trained on, `trigger` a backdoor whose success rate to report.
pub fn measure(
    model: &Model,
    inputs: &ItemInputs,
    members: &[usize],
    trigger: Option<&Trigger>,
) -> Result<ItemFigures, ItemError> {
    let test = &inputs.test;
    let train = &inputs.train;
    let d = inputs.features();
    let n = train.len();
    if members.is_empty() {
        return Err(ItemError::NoMembers);
    }
    if let Some(&row) = members.iter().find(|&&r| r >= n) {
        return Err(ItemError::Member { row, n });
    }
    let fg = fgsm(model, &test.x, &test.y, 0.1, RANGE, Precision::F32)?;
    let pg = pgd(
        model,
        &test.x,
        &test.y,
        ROBUST_PGD,
        RANGE,
        Precision::F32,
        &mut Rng::new(0),
    )?;
    let pg_rs = pgd(
        model,
        &test.x,
        &test.y,
        PgdConfig {
            random_start: true,
            ..ROBUST_PGD
        },
        RANGE,
        Precision::F32,
        &mut Rng::new(MEASURE_SEED),
    )?;
    let sq = square(
        model,
        &test.x,
        &test.y,
        SquareConfig {
            eps: 0.1,
            max_queries: 300,
            p_init: 0.8,
            shape: Layout::Image(1, 8, 8),
        },
        RANGE,
        &mut Rng::new(MEASURE_SEED),
    )?;
    let member_set = rows_of(train, members, d);
    let sm = member_scores(model, &member_set)?;
    let st = member_scores(model, test)?;
    let mut is_member = vec![false; n];
    members.iter().for_each(|&r| is_member[r] = true);
    let unused: Vec<usize> = (0..n).filter(|&r| !is_member[r]).collect();
    let mia_auc_vs_unused_train = if unused.is_empty() {
        None
    } else {
        let su = member_scores(model, &rows_of(train, &unused, d))?;
        Some(mia::roc(&sm, &su).auc)
    };
    let backdoor_success_rate = match trigger {
        None => None,
        Some(t) => {
            let mut xt = test.x.clone();
            for r in 0..test.len() {
                t.stamp(&mut xt, r, d);
            }
            let pred = tensor::predict(model, &xt)?;
            let (mut hit, mut total) = (0usize, 0usize);
            for (&label, &p) in test.y.iter().zip(&pred) {
                if label != t.target {
                    total += 1;
                    hit += usize::from(p == t.target);
                }
            }
            Some(hit as f64 / total.max(1) as f64)
        }
    };
    Ok(ItemFigures {
        clean_accuracy: accuracy(model, &test.x, &test.y)?,
        fgsm_robust_accuracy: accuracy(model, &fg.x_adv, &test.y)?,
        pgd_robust_accuracy: accuracy(model, &pg.x_adv, &test.y)?,
        pgd_random_start_robust_accuracy: accuracy(model, &pg_rs.x_adv, &test.y)?,
        square_robust_accuracy: accuracy(model, &sq.x_adv, &test.y)?,
        mia_auc_vs_test: mia::roc(&sm, &st).auc,
        mia_auc_vs_unused_train,
        backdoor_success_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_file(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("suites/digits-mlp")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn measuring_without_members_or_with_a_row_outside_the_training_split_is_refused() {
        let inputs = ItemInputs::from_bytes(
            &suite_file("data.safetensors"),
            &suite_file("mlp_init.safetensors"),
        )
        .unwrap();
        let model = Model::from_bytes(&suite_file("mlp_trained.safetensors")).unwrap();
        assert!(matches!(
            measure(&model, &inputs, &[], None),
            Err(ItemError::NoMembers)
        ));
        assert!(matches!(
            measure(&model, &inputs, &[0, 1297], None),
            Err(ItemError::Member { row: 1297, n: 1297 })
        ));
    }

    #[test]
    fn a_seeded_draw_is_distinct_ascending_and_repeatable() {
        let c: Vec<usize> = (0..50).map(|i| i * 3).collect();
        let a = draw(&c, 10, 42);
        assert_eq!(a, draw(&c, 10, 42));
        assert_ne!(a, draw(&c, 10, 43));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().all(|v| c.contains(v)));
    }

    #[test]
    fn the_members_file_lists_members_and_the_rest_of_the_training_rows() {
        let bytes = members_file(&[3, 1], 5).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let ints = |name: &str| -> Vec<i64> {
            st.tensor(name)
                .unwrap()
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        assert_eq!(ints("member_idx"), vec![1, 3]);
        assert_eq!(ints("non_member_idx"), vec![0, 2, 4]);
        assert!(matches!(
            members_file(&[5], 5),
            Err(ItemError::Member { row: 5, n: 5 })
        ));
    }
}
