//! Retraining for the poisoning tests: mean cross-entropy, gradients from candle's
//! autograd, and Adam written out with PyTorch's update order (lerp of the first moment,
//! bias corrections as scalars, ε added to √v̂), so that a lab reproduces the recipe
//! rather than an optimizer that merely resembles it.
//!
//! Adversarial training (Madry et al. 2018) is the same loop with one change: before each
//! Adam step, the mini-batch is replaced by its PGD-L∞ examples generated against the
//! current weights, and the step descends the loss on those.

use candle_core::{Device, Tensor, Var};

use crate::{
    attacks::{
        AttackError,
        pgd::{PgdConfig, pgd},
    },
    data::Split,
    model::{Layer, Mlp, Model, ModelError, forward_layers, vars_of},
    tensor::{self, Precision},
    uncertainty::Rng,
};

/// A training recipe, fixed by the suite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Optimizer steps.
    pub steps: u32,
    /// Learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Mini-batch size; `None` means full batch (no shuffling).
    pub batch_size: Option<usize>,
}

impl Recipe {
    /// Checks every field.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::Unsupported(format!("training recipe: {what}")));
        if self.steps == 0 || self.steps > 1_000_000 {
            return bad(format!("steps = {} must be in 1..=1000000", self.steps));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("lr = {} must be positive", self.lr));
        }
        for (n, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(format!("{n} = {b} must be in [0, 1)"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(format!("eps = {} must be positive", self.eps));
        }
        if self.batch_size == Some(0) {
            return bad("batch_size = 0".into());
        }
        Ok(())
    }
}

/// Adam state for one flat parameter.
struct AdamSlot {
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The attack that adversarial training trains against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Adversary {
    /// PGD settings; a random start draws from the training stream after the batch order.
    pub(crate) pgd: PgdConfig,
    /// Valid input range the adversarial rows are clipped to.
    pub(crate) range: (f32, f32),
}

/// Trains the MLP `init` on (x, y) with `recipe`; `rng` orders mini-batches.
pub(crate) fn train(
    init: &Mlp,
    x: &[f32],
    y: &[u32],
    recipe: &Recipe,
    rng: &mut Rng,
) -> Result<Model, ModelError> {
    fit(init, x, y, recipe, None, rng)
}

impl Model {
    /// Retrains this model's weights on `data` with `recipe`; `rng` orders mini-batches.
    /// An MLP trains as [`train`] does; a graph model (a CNN from ONNX or a state dict)
    /// with the same batch order and Adam update through its hand-written gradients
    /// (batch-norm statistics stay fixed). Bit-identical for the same seed and thread
    /// count (graph models: for any thread count).
    pub fn train(&self, data: &Split, recipe: &Recipe, rng: &mut Rng) -> Result<Model, ModelError> {
        if let Some(mlp) = self.mlp() {
            return train(mlp, &data.x, &data.y, recipe, rng);
        }
        match self.graph() {
            Some(g) => Ok(Model::from_graph(
                crate::graph::fit::fit(g, &data.x, &data.y, recipe, rng)?.0,
            )),
            None => Err(ModelError::Unsupported(
                "this model cannot be trained".into(),
            )),
        }
    }
}

/// Adversarial training: like [`train`], but every Adam step descends the mean
/// cross-entropy on the PGD examples of its batch, generated (in f32) against the weights
/// of that step. Deterministic for a fixed seed (and, as every engine computation, the
/// same thread count).
pub(crate) fn train_adversarial(
    init: &Mlp,
    x: &[f32],
    y: &[u32],
    recipe: &Recipe,
    adversary: &Adversary,
    rng: &mut Rng,
) -> Result<Model, ModelError> {
    fit(init, x, y, recipe, Some(adversary), rng)
}

/// The model the weights of `vars` give now (detached: no gradient flows to them).
fn current_model(vars: &[(Var, Var)]) -> Result<Model, ModelError> {
    let layers = vars
        .iter()
        .map(|(w, b)| Layer {
            w: w.as_tensor().detach(),
            b: b.as_tensor().detach(),
        })
        .collect();
    Model::from_mlp(Mlp::new(layers)?)
}

fn attack_err(e: AttackError) -> ModelError {
    match e {
        AttackError::Model(m) => m,
        other => ModelError::Unsupported(format!("adversarial training: {other}")),
    }
}

fn fit(
    init: &Mlp,
    x: &[f32],
    y: &[u32],
    recipe: &Recipe,
    adversary: Option<&Adversary>,
    rng: &mut Rng,
) -> Result<Model, ModelError> {
    recipe.check()?;
    let layers = init.layers();
    let d = layers.first().map_or(0, |l| l.w.dims()[1]);
    let n = y.len();
    let vars = vars_of(layers)?;
    let mut slots: Vec<AdamSlot> = vars
        .iter()
        .flat_map(|(w, b)| [w.elem_count(), b.elem_count()])
        .map(|len| AdamSlot {
            m: vec![0.0; len],
            v: vec![0.0; len],
        })
        .collect();
    let full_x = Tensor::from_slice(x, (n, d), &Device::Cpu)?;
    let full_y = Tensor::from_slice(y, n, &Device::Cpu)?;
    let mut order: Vec<usize> = (0..n).collect();
    let mut cursor = n;
    for step in 1..=recipe.steps {
        let (mut bx, by, rows) = match recipe.batch_size {
            None => (full_x.clone(), full_y.clone(), None),
            Some(bs) => {
                let bs = bs.min(n);
                if cursor + bs > n {
                    // New epoch: Fisher–Yates shuffle with the suite's stream.
                    for i in (1..n).rev() {
                        order.swap(i, rng.below(i + 1));
                    }
                    cursor = 0;
                }
                let rows: Vec<u32> = order[cursor..cursor + bs]
                    .iter()
                    .map(|&r| r as u32)
                    .collect();
                cursor += bs;
                let idx = Tensor::from_slice(&rows, bs, &Device::Cpu)?;
                let (bx, by) = (full_x.index_select(&idx, 0)?, full_y.index_select(&idx, 0)?);
                (bx, by, Some(rows))
            }
        };
        if let Some(adv) = adversary {
            let (cx, cy) = match &rows {
                None => (x.to_vec(), y.to_vec()),
                Some(rows) => (
                    rows.iter()
                        .flat_map(|&r| &x[r as usize * d..(r as usize + 1) * d])
                        .copied()
                        .collect(),
                    rows.iter().map(|&r| y[r as usize]).collect(),
                ),
            };
            let model = current_model(&vars)?;
            let out = pgd(&model, &cx, &cy, adv.pgd, adv.range, Precision::F32, rng)
                .map_err(attack_err)?;
            bx = Tensor::from_vec(out.x_adv, (cy.len(), d), &Device::Cpu)?;
        }
        let refs: Vec<_> = vars
            .iter()
            .map(|(w, b)| (w.as_tensor(), b.as_tensor()))
            .collect();
        let logits = forward_layers(&bx, &refs)?;
        let loss = tensor::ce_rows(&logits, &by)?.mean_all()?;
        let grads = loss.backward()?;
        let bc1 = 1.0 - recipe.beta1.powi(step as i32);
        let bc2 = 1.0 - recipe.beta2.powi(step as i32);
        let step_size = (recipe.lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (w1, w2, e) = (
            (1.0 - recipe.beta1) as f32,
            recipe.beta2 as f32,
            recipe.eps as f32,
        );
        let b2c = (1.0 - recipe.beta2) as f32;
        let params = vars.iter().flat_map(|(w, b)| [w, b]);
        for (var, slot) in params.zip(slots.iter_mut()) {
            let g = match grads.get(var.as_tensor()) {
                Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
                None => vec![0.0; var.elem_count()],
            };
            let mut p = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            for i in 0..p.len() {
                let m = slot.m[i] + w1 * (g[i] - slot.m[i]);
                let v = slot.v[i] * w2 + b2c * g[i] * g[i];
                slot.m[i] = m;
                slot.v[i] = v;
                let denom = v.sqrt() / bc2_sqrt + e;
                p[i] += -step_size * (m / denom);
            }
            var.set(&Tensor::from_vec(p, var.shape(), &Device::Cpu)?)?;
        }
    }
    let trained = vars
        .iter()
        .map(|(w, b)| Layer {
            w: w.as_tensor().detach(),
            b: b.as_tensor().detach(),
        })
        .collect();
    Model::from_mlp(Mlp::new(trained)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{data::DataFile, model::read_mlp_layers};

    fn suite_file(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("suites/digits-mlp")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn retraining_mlp_init_with_the_recipe_lands_on_pytorchs_trained_weights() {
        let init = Mlp::new(read_mlp_layers(&suite_file("mlp_init.safetensors")).unwrap()).unwrap();
        let want = read_mlp_layers(&suite_file("mlp_trained.safetensors")).unwrap();
        let data = suite_file("data.safetensors");
        let train_split = DataFile::open(&data)
            .unwrap()
            .split("x_train", "y_train", 10, (0.0, 1.0))
            .unwrap();
        let recipe = Recipe {
            steps: 300,
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            batch_size: None,
        };
        let got = train(
            &init,
            &train_split.x,
            &train_split.y,
            &recipe,
            &mut Rng::new(0),
        )
        .unwrap();
        let got = got.mlp().unwrap().layers();
        let mut worst = 0f32;
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in [(&g.w, &w.w), (&g.b, &w.b)] {
                let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for (x, y) in a.iter().zip(&b) {
                    worst = worst.max((x - y).abs());
                }
            }
        }
        eprintln!("largest weight difference to PyTorch: {worst}");
        assert!(
            worst < 1e-3,
            "largest weight difference to PyTorch: {worst}"
        );
    }

    fn digits() -> (Mlp, crate::data::Split, crate::data::Split) {
        let init = Mlp::new(read_mlp_layers(&suite_file("mlp_init.safetensors")).unwrap()).unwrap();
        let data = suite_file("data.safetensors");
        let file = DataFile::open(&data).unwrap();
        let train = file.split("x_train", "y_train", 10, (0.0, 1.0)).unwrap();
        let test = file.split("x_test", "y_test", 10, (0.0, 1.0)).unwrap();
        (init, train, test)
    }

    fn pgd_accuracy(model: &Model, test: &crate::data::Split, cfg: PgdConfig) -> f64 {
        let adv = pgd(
            model,
            &test.x,
            &test.y,
            cfg,
            (0.0, 1.0),
            Precision::F32,
            &mut Rng::new(0),
        )
        .unwrap();
        let p = tensor::predict(model, &adv.x_adv).unwrap();
        p.iter().zip(&test.y).filter(|(a, b)| a == b).count() as f64 / test.y.len() as f64
    }

    fn weights(model: &Model) -> Vec<f32> {
        model
            .mlp()
            .unwrap()
            .layers()
            .iter()
            .flat_map(|l| {
                let w = l.w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let b = l.b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                w.into_iter().chain(b)
            })
            .collect()
    }

    const SHORT: Recipe = Recipe {
        steps: 60,
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        batch_size: Some(256),
    };

    const PGD_01: PgdConfig = PgdConfig {
        eps: 0.1,
        step: 0.025,
        iterations: 10,
        random_start: true,
    };

    #[test]
    fn adversarial_training_is_repeatable_and_resists_pgd_better_than_plain_training() {
        let (init, train_split, test) = digits();
        let adversary = Adversary {
            pgd: PGD_01,
            range: (0.0, 1.0),
        };
        let run = |seed| {
            train_adversarial(
                &init,
                &train_split.x,
                &train_split.y,
                &SHORT,
                &adversary,
                &mut Rng::new(seed),
            )
            .unwrap()
        };
        let robust = run(1);
        assert_eq!(weights(&robust), weights(&run(1)));
        // The seed orders batches and draws the random starts.
        assert_ne!(weights(&robust), weights(&run(2)));
        let plain = train(
            &init,
            &train_split.x,
            &train_split.y,
            &SHORT,
            &mut Rng::new(1),
        )
        .unwrap();
        let eval = PgdConfig {
            random_start: false,
            ..PGD_01
        };
        let (r, p) = (
            pgd_accuracy(&robust, &test, eval),
            pgd_accuracy(&plain, &test, eval),
        );
        eprintln!(
            "PGD robust accuracy after {} steps: adversarial {r}, plain {p}",
            SHORT.steps
        );
        assert!(r > p + 0.1, "adversarial {r} vs plain {p}");
    }

    #[test]
    fn adversarial_training_refuses_an_attack_eps_outside_the_range() {
        let (init, train_split, _) = digits();
        let adversary = Adversary {
            pgd: PgdConfig { eps: 1.5, ..PGD_01 },
            range: (0.0, 1.0),
        };
        let err = train_adversarial(
            &init,
            &train_split.x,
            &train_split.y,
            &SHORT,
            &adversary,
            &mut Rng::new(1),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ModelError::Unsupported(m) if m == "adversarial training: eps 1.5 is outside the valid range (0, 1]"),
            "{err}"
        );
    }
}
