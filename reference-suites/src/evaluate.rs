//! One test of a suite: run its repetitions, compute its metrics with their bootstrap
//! uncertainty, collect sanity findings and per-sample evidence.
//!
//! Tests without randomness (FGSM, PGD without random start, full-batch poisoning,
//! membership inference, inversion) are computed once; their repetition values are then
//! identical by construction, and their uncertainty is the bootstrap over rows alone.

mod evasion;

use evasion::evasion_measurements;
use interlab_protocol::Measurement;

use crate::{
    attacks::{
        AttackError, EvasionOutcome,
        fgsm::fgsm,
        pgd::{PgdConfig, pgd_restarts},
        square::{Layout, SquareConfig, square, suite_layout},
    },
    data::{DataError, DataFile},
    manifest::{RecipeSpec, TensorRef, TestParams, TestSpec},
    model::{Model, ModelError},
    poisoning::{self, PoisonOutcome, Trigger},
    privacy::{inversion, mia},
    runner::EngineError,
    sanity,
    suite::Suite,
    tensor::{self, Precision},
    train::Recipe,
    uncertainty::{
        BOOTSTRAP_RESAMPLES, Rng, bootstrap_sd, bootstrap_sd_strata, derive_seed, measurement,
    },
};

/// Everything a test reads.
pub(crate) struct Context<'a> {
    pub(crate) suite: &'a Suite,
    pub(crate) model: &'a Model,
    pub(crate) seed: u64,
    pub(crate) precision: Precision,
    pub(crate) eps_override: Option<f64>,
    /// The test item's own member rows (indices into `x_train`), when it declares them.
    pub(crate) members: Option<&'a crate::manifest::TensorRef>,
}

/// Clean-trained reference models, by (init artefact, recipe).
#[derive(Default)]
pub(crate) struct Cache {
    clean: Vec<(String, RecipeSpec, Model)>,
}

/// What one test produced.
pub(crate) struct Evaluated {
    pub(crate) measurements: Vec<Measurement>,
    pub(crate) evidence: Vec<(String, Vec<u8>)>,
    pub(crate) warnings: Vec<String>,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Runs test `t`; `tick` is called once per repetition.
pub(crate) fn test(
    ctx: &Context<'_>,
    t: &TestSpec,
    cache: &mut Cache,
    tick: &mut dyn FnMut(u32),
) -> Result<Evaluated, EngineError> {
    let attack_err = |error: AttackError| EngineError::Attack {
        test: t.id.clone(),
        error,
    };
    let model_err = |e: ModelError| attack_err(AttackError::Model(e));
    let data = ctx.suite.data();
    let reps = t.repetitions;
    let boot = derive_seed(ctx.seed, &t.id, 0, "bootstrap");
    let eps = |e: f64| ctx.eps_override.unwrap_or(e) as f32;
    match &t.params {
        TestParams::Fgsm { .. } | TestParams::Pgd { .. } | TestParams::Square { .. } => {
            let random = match &t.params {
                TestParams::Fgsm { .. } => false,
                TestParams::Pgd { random_start, .. } => *random_start,
                _ => true,
            };
            let shape = match &t.params {
                TestParams::Square { .. } => Some(
                    suite_layout(data.features, data.input_shape.as_deref()).map_err(attack_err)?,
                ),
                _ => None,
            };
            let (x, y) = (&data.test.x, &data.test.y);
            let mut outs: Vec<EvasionOutcome> = Vec::new();
            let mut warnings: Vec<String> = Vec::new();
            if let (Some(o), Some(e)) = (ctx.eps_override, t.params.eps()) {
                warnings.push(format!(
                    "eps override: ran with eps {o} instead of the suite's {e} (an experiment, not the published test)"
                ));
            }
            let mut used_eps = 0.0;
            for r in 0..reps {
                if r > 0 && !random {
                    outs.push(outs[0].clone());
                    tick(r);
                    continue;
                }
                let mut rng = Rng::new(derive_seed(ctx.seed, &t.id, r, "attack"));
                let adv = match &t.params {
                    TestParams::Fgsm { eps: e } => {
                        used_eps = eps(*e);
                        fgsm(ctx.model, x, y, used_eps, data.range, ctx.precision)
                    }
                    TestParams::Pgd {
                        eps: e,
                        step,
                        iterations,
                        random_start,
                        restarts,
                    } => {
                        used_eps = eps(*e);
                        let cfg = PgdConfig {
                            eps: used_eps,
                            step: *step as f32,
                            iterations: *iterations,
                            random_start: *random_start,
                        };
                        // Restart 0 uses the repetition's stream, so one restart is plain PGD.
                        let mut rng_of = |k: u32| {
                            if k == 0 {
                                rng.clone()
                            } else {
                                Rng::new(derive_seed(
                                    ctx.seed,
                                    &t.id,
                                    r,
                                    &format!("attack restart {k}"),
                                ))
                            }
                        };
                        pgd_restarts(
                            ctx.model,
                            x,
                            y,
                            cfg,
                            restarts.unwrap_or(1),
                            data.range,
                            ctx.precision,
                            &mut rng_of,
                        )
                    }
                    TestParams::Square {
                        eps: e,
                        max_queries,
                        p_init,
                    } => {
                        used_eps = eps(*e);
                        let cfg = SquareConfig {
                            eps: used_eps,
                            max_queries: *max_queries,
                            p_init: *p_init,
                            shape: shape.unwrap_or(Layout::Flat),
                        };
                        square(ctx.model, x, y, cfg, data.range, &mut rng)
                    }
                    _ => unreachable_kind(),
                }
                .map_err(attack_err)?;
                for w in sanity::check_evasion(x, &adv, used_eps, data.range) {
                    if !warnings.contains(&w) {
                        warnings.push(w);
                    }
                }
                outs.push(EvasionOutcome::score(ctx.model, x, y, adv).map_err(model_err)?);
                tick(r);
            }
            let budget = match &t.params {
                TestParams::Square { max_queries, .. } => Some(f64::from(*max_queries)),
                _ => None,
            };
            let first = &outs[0];
            let evidence = vec![
                (
                    "adversarial_rows".to_string(),
                    f32_bytes(&first.adversarial.x_adv),
                ),
                (
                    "adversarial_predictions".to_string(),
                    u32_bytes(&first.adv_pred),
                ),
            ];
            Ok(Evaluated {
                measurements: evasion_measurements(&outs, boot, budget),
                evidence,
                warnings,
            })
        }
        TestParams::Backdoor {
            rows,
            trigger_pixels,
            trigger_value,
            target,
            recipe,
        } => {
            let idx = indices(ctx, t, rows, data.train.len())?;
            let d = data.features;
            if let Some(&p) = trigger_pixels.iter().find(|&&p| p as usize >= d) {
                return Err(attack_err(AttackError::Param {
                    name: "trigger_pixels",
                    value: p.to_string(),
                    why: "is not a feature index of the data",
                }));
            }
            let trigger = Trigger {
                pixels: trigger_pixels.iter().map(|&p| p as usize).collect(),
                value: *trigger_value as f32,
                target: *target,
            };
            poison_test(ctx, t, cache, recipe, tick, |init, reference, rcp, rng| {
                poisoning::backdoor(
                    init,
                    reference,
                    &data.train,
                    &data.test,
                    &idx,
                    &trigger,
                    rcp,
                    rng,
                )
            })
        }
        TestParams::LabelFlip {
            rows,
            labels,
            recipe,
        } => {
            let idx = indices(ctx, t, rows, data.train.len())?;
            let file = open(ctx, t, &labels.artefact)?;
            let all =
                file.labels(&labels.tensor, data.classes)
                    .map_err(|error| EngineError::Data {
                        test: t.id.clone(),
                        error,
                    })?;
            let new: Vec<u32> = if all.len() == data.train.len() {
                idx.iter().map(|&r| all[r]).collect()
            } else if all.len() == idx.len() {
                all
            } else {
                return Err(EngineError::Data {
                    test: t.id.clone(),
                    error: DataError::Shape {
                        name: labels.tensor.clone(),
                        shape: vec![all.len()],
                        expected: format!(
                            "[{}] (one per training row) or [{}] (one per flipped row)",
                            data.train.len(),
                            idx.len()
                        ),
                    },
                });
            };
            poison_test(ctx, t, cache, recipe, tick, |init, reference, rcp, rng| {
                poisoning::label_flip(
                    init,
                    reference,
                    &data.train,
                    &data.test,
                    &idx,
                    &new,
                    rcp,
                    rng,
                )
            })
        }
        TestParams::MiaLoss {} => {
            let (members, non_members) = crate::item::membership(ctx, t)?;
            let (members, non_members) = (
                members.as_ref().unwrap_or(&data.train),
                non_members.as_ref().unwrap_or(&data.test),
            );
            let lm = tensor::losses(ctx.model, &members.x, &members.y).map_err(model_err)?;
            let ln =
                tensor::losses(ctx.model, &non_members.x, &non_members.y).map_err(model_err)?;
            let sm: Vec<f64> = lm.iter().map(|&l| -f64::from(l)).collect();
            let sn: Vec<f64> = ln.iter().map(|&l| -f64::from(l)).collect();
            let r = mia::roc(&sm, &sn);
            let stat = |f: fn(&mia::RocSummary) -> f64| {
                bootstrap_sd_strata(&[sm.len(), sn.len()], BOOTSTRAP_RESAMPLES, boot, |ix| {
                    let a: Vec<f64> = ix[0].iter().map(|&i| sm[i]).collect();
                    let b: Vec<f64> = ix[1].iter().map(|&i| sn[i]).collect();
                    f(&mia::roc(&a, &b))
                })
            };
            let rep = |v: f64| vec![v; reps as usize];
            let measurements = vec![
                measurement("auc", rep(r.auc), stat(|s| s.auc)),
                measurement(
                    "tpr_at_fpr_1pct",
                    rep(r.tpr_at_fpr_1pct),
                    stat(|s| s.tpr_at_fpr_1pct),
                ),
                measurement(
                    "tpr_at_fpr_0_1pct",
                    rep(r.tpr_at_fpr_01pct),
                    stat(|s| s.tpr_at_fpr_01pct),
                ),
                measurement(
                    "max_advantage",
                    rep(r.max_advantage),
                    stat(|s| s.max_advantage),
                ),
            ];
            (0..reps).for_each(&mut *tick);
            let mut scores = lm.clone();
            scores.extend_from_slice(&ln);
            Ok(Evaluated {
                measurements,
                evidence: vec![("losses_members_then_non_members".into(), f32_bytes(&scores))],
                warnings: Vec::new(),
            })
        }
        TestParams::MiaRule {} => {
            let (members, non_members) = crate::item::membership(ctx, t)?;
            let (members, non_members) = (
                members.as_ref().unwrap_or(&data.train),
                non_members.as_ref().unwrap_or(&data.test),
            );
            let pm = tensor::predict(ctx.model, &members.x).map_err(model_err)?;
            let pn = tensor::predict(ctx.model, &non_members.x).map_err(model_err)?;
            let cm: Vec<bool> = pm.iter().zip(&members.y).map(|(p, t)| p == t).collect();
            let cn: Vec<bool> = pn.iter().zip(&non_members.y).map(|(p, t)| p == t).collect();
            let r = mia::rule_based(&cm, &cn);
            let stat = |f: fn(&mia::RuleSummary) -> f64| {
                bootstrap_sd_strata(&[cm.len(), cn.len()], BOOTSTRAP_RESAMPLES, boot, |ix| {
                    let a: Vec<bool> = ix[0].iter().map(|&i| cm[i]).collect();
                    let b: Vec<bool> = ix[1].iter().map(|&i| cn[i]).collect();
                    f(&mia::rule_based(&a, &b))
                })
            };
            let rep = |v: f64| vec![v; reps as usize];
            (0..reps).for_each(&mut *tick);
            let mut preds = pm;
            preds.extend_from_slice(&pn);
            Ok(Evaluated {
                measurements: vec![
                    measurement("accuracy", rep(r.accuracy), stat(|s| s.accuracy)),
                    measurement(
                        "balanced_accuracy",
                        rep(r.balanced_accuracy),
                        stat(|s| s.balanced_accuracy),
                    ),
                    measurement("advantage", rep(r.advantage), stat(|s| s.advantage)),
                ],
                evidence: vec![(
                    "predictions_members_then_non_members".into(),
                    u32_bytes(&preds),
                )],
                warnings: Vec::new(),
            })
        }
        TestParams::Inversion {
            iterations,
            step,
            start,
        } => {
            let cfg = inversion::InversionConfig {
                iterations: *iterations,
                step: *step as f32,
                start: *start as f32,
            };
            let o = inversion::invert(ctx.model, &data.train, cfg, data.range, ctx.precision)
                .map_err(model_err)?;
            let k = o.similarity.len();
            let mean_of = |v: &[f64], idx: &[usize]| {
                if idx.is_empty() {
                    0.0
                } else {
                    idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64
                }
            };
            let all: Vec<usize> = (0..k).collect();
            let ident: Vec<f64> = o
                .identified
                .iter()
                .map(|&b| if b { 1.0 } else { 0.0 })
                .collect();
            let rep = |v: f64| vec![v; reps as usize];
            let sd = |v: &[f64]| bootstrap_sd(k, BOOTSTRAP_RESAMPLES, boot, |idx| mean_of(v, idx));
            (0..reps).for_each(&mut *tick);
            Ok(Evaluated {
                measurements: vec![
                    measurement(
                        "mean_similarity",
                        rep(mean_of(&o.similarity, &all)),
                        sd(&o.similarity),
                    ),
                    measurement(
                        "identification_rate",
                        rep(mean_of(&ident, &all)),
                        sd(&ident),
                    ),
                    measurement(
                        "mean_confidence",
                        rep(mean_of(&o.confidence, &all)),
                        sd(&o.confidence),
                    ),
                ],
                evidence: vec![("reconstructions".into(), f32_bytes(&o.reconstructions))],
                warnings: Vec::new(),
            })
        }
    }
}

fn unreachable_kind() -> Result<crate::attacks::Adversarial, AttackError> {
    Err(AttackError::Param {
        name: "kind",
        value: "?".into(),
        why: "is not an evasion attack",
    })
}

fn open<'a>(ctx: &Context<'a>, t: &TestSpec, artefact: &str) -> Result<DataFile<'a>, EngineError> {
    let bytes = ctx.suite.artefact(artefact).unwrap_or(&[]);
    DataFile::open(bytes).map_err(|error| EngineError::Data {
        test: t.id.clone(),
        error,
    })
}

pub(crate) fn indices(
    ctx: &Context<'_>,
    t: &TestSpec,
    r: &TensorRef,
    n: usize,
) -> Result<Vec<usize>, EngineError> {
    open(ctx, t, &r.artefact)?
        .indices(&r.tensor, n)
        .map_err(|error| EngineError::Data {
            test: t.id.clone(),
            error,
        })
}

fn recipe_of(r: &RecipeSpec) -> Recipe {
    Recipe {
        steps: r.steps,
        lr: r.lr,
        beta1: r.betas[0],
        beta2: r.betas[1],
        eps: r.eps,
        batch_size: r.batch_size.map(|b| b as usize),
    }
}

/// Shared flow of the poisoning tests: load the initial weights, train (or reuse) the
/// clean reference, run `poison` per repetition, and summarise.
fn poison_test(
    ctx: &Context<'_>,
    t: &TestSpec,
    cache: &mut Cache,
    spec: &RecipeSpec,
    tick: &mut dyn FnMut(u32),
    poison: impl Fn(&Model, &Model, &Recipe, &mut Rng) -> Result<PoisonOutcome, ModelError>,
) -> Result<Evaluated, EngineError> {
    let model_err = |e: ModelError| EngineError::Attack {
        test: t.id.clone(),
        error: AttackError::Model(e),
    };
    let data = ctx.suite.data();
    let init_model =
        Model::from_bytes(ctx.suite.artefact(&spec.init).unwrap_or(&[])).map_err(model_err)?;
    init_model
        .check_fits(data.features, data.classes)
        .map_err(model_err)?;
    let init = &init_model;
    let recipe = recipe_of(spec);
    let pos = cache
        .clean
        .iter()
        .position(|(a, r, _)| a == &spec.init && r == spec);
    let pos = match pos {
        Some(p) => p,
        None => {
            let mut rng = Rng::new(derive_seed(
                ctx.seed,
                &format!("clean-reference/{}", spec.init),
                0,
                "batches",
            ));
            let m =
                poisoning::train_clean(init, &data.train, &recipe, &mut rng).map_err(model_err)?;
            cache.clean.push((spec.init.clone(), spec.clone(), m));
            cache.clean.len() - 1
        }
    };
    let reference = &cache.clean[pos].2;
    let random = spec.batch_size.is_some();
    let mut outs: Vec<PoisonOutcome> = Vec::new();
    for r in 0..t.repetitions {
        if r > 0 && !random {
            outs.push(outs[0].clone());
        } else {
            let mut rng = Rng::new(derive_seed(ctx.seed, &t.id, r, "batches"));
            outs.push(poison(init, reference, &recipe, &mut rng).map_err(model_err)?);
        }
        tick(r);
    }
    let n = data.test.len();
    let all: Vec<usize> = (0..n).collect();
    let boot = derive_seed(ctx.seed, &t.id, 0, "bootstrap");
    let first = &outs[0];
    let mut ms = Vec::new();
    if first.backdoor_hit.is_some() {
        ms.push(measurement(
            "attack_success_rate",
            outs.iter()
                .map(|o| o.attack_success_rate(&all).unwrap_or(0.0))
                .collect(),
            bootstrap_sd(n, BOOTSTRAP_RESAMPLES, boot, |idx| {
                first.attack_success_rate(idx).unwrap_or(0.0)
            }),
        ));
    }
    ms.push(measurement(
        "clean_accuracy",
        outs.iter().map(|o| o.clean_accuracy(&all)).collect(),
        bootstrap_sd(n, BOOTSTRAP_RESAMPLES, boot, |idx| {
            first.clean_accuracy(idx)
        }),
    ));
    ms.push(measurement(
        "clean_accuracy_drop",
        outs.iter().map(|o| o.accuracy_drop(&all)).collect(),
        bootstrap_sd(n, BOOTSTRAP_RESAMPLES, boot, |idx| first.accuracy_drop(idx)),
    ));
    let flags: Vec<u8> = first
        .poisoned_correct
        .iter()
        .map(|&b| u8::from(b))
        .collect();
    Ok(Evaluated {
        measurements: ms,
        evidence: vec![("poisoned_model_test_correct".into(), flags)],
        warnings: Vec::new(),
    })
}
