//! Builds the per-measurand report: groups observations, runs each statistic and turns
//! every degenerate case into an absent number plus a note.

use std::collections::HashMap;

use super::report::*;
use super::{
    assessment::{self, Assigned, ScoreKind},
    criteria::{self, Judged},
    outliers::{self},
    precision::{self, Cell},
    qhampel,
    robust::{self},
    rounds, scores,
};

/// Largest accepted magnitude: sums of squares of such values stay finite.
const MAX_MAGNITUDE: f64 = 1e150;

/// Turns measurements into a comparability report per measurand (see `docs/statistics.md`).
///
/// The cross-sectional statistics use each measurand's latest round; drift uses all
/// rounds. Fails only on non-finite values or negative uncertainties (naming the
/// observation); everything else degenerate yields `None` fields and notes.
pub fn comparability_report(
    obs: &[Observation],
    cfg: &ReportConfig,
) -> Result<Report, ReportError> {
    if obs.is_empty() {
        return Err(ReportError::Empty);
    }
    for (index, o) in obs.iter().enumerate() {
        for (field, v) in [("value", o.value), ("u", o.u)] {
            if let Some(value) = v.filter(|v| v.is_finite() && v.abs() > MAX_MAGNITUDE) {
                return Err(ReportError::OutOfRange {
                    index,
                    lab: o.lab.clone(),
                    field,
                    value,
                });
            }
            if let Some(value) = v.filter(|v| !v.is_finite()) {
                return Err(ReportError::NonFinite {
                    index,
                    lab: o.lab.clone(),
                    field,
                    value,
                });
            }
        }
        if let Some(value) = o.u.filter(|u| *u < 0.0) {
            return Err(ReportError::NegativeUncertainty {
                index,
                lab: o.lab.clone(),
                value,
            });
        }
    }
    let measurands = group(obs.iter(), |o| o.measurand.as_str())
        .into_iter()
        .map(|(name, rows)| measurand_report(name, &rows, cfg))
        .collect();
    Ok(Report { measurands })
}

/// Groups items by key, keeping first-appearance order (fast path for runs of one key).
pub(super) fn group<'a, T, I: Iterator<Item = T>>(
    items: I,
    key: impl Fn(&T) -> &'a str,
) -> Vec<(&'a str, Vec<T>)> {
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut out: Vec<(&'a str, Vec<T>)> = Vec::new();
    let mut last: Option<(&'a str, usize)> = None;
    for item in items {
        let k = key(&item);
        let slot = match last {
            Some((lk, i)) if lk == k => i,
            _ => *index.entry(k).or_insert_with(|| {
                out.push((k, Vec::new()));
                out.len() - 1
            }),
        };
        last = Some((k, slot));
        out[slot].1.push(item);
    }
    out
}

pub(super) fn round_of(o: &Observation) -> u64 {
    o.round.unwrap_or(0)
}

/// The distinct rounds, ascending (rounds are few, rows many: no sort of the rows).
fn distinct_rounds(rows: &[&Observation]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    let mut last = None;
    for o in rows {
        let r = round_of(o);
        if last != Some(r) && !out.contains(&r) {
            out.push(r);
        }
        last = Some(r);
    }
    out.sort_unstable();
    out
}

/// Per lab (first-appearance order): its rows.
fn by_lab<'a>(rows: &[&'a Observation]) -> Vec<(&'a str, Vec<&'a Observation>)> {
    group(rows.iter().copied(), |o| o.lab.as_str())
}

fn measurand_report(name: &str, rows: &[&Observation], cfg: &ReportConfig) -> MeasurandReport {
    let mut notes = Vec::new();
    // Values equal within the tolerance are one value for every statistic below.
    let mut values: Vec<f64> = rows.iter().filter_map(|o| o.value).collect();
    assessment::snap(&mut values, cfg.equal_tolerance);
    let mut snapped = values.into_iter();
    let owned: Vec<Observation> = rows
        .iter()
        .map(|o| Observation {
            value: o.value.and_then(|_| snapped.next()),
            ..(*o).clone()
        })
        .collect();
    let rows: Vec<&Observation> = owned.iter().collect();
    let rows = rows.as_slice();
    let latest = rows.iter().map(|o| round_of(o)).max().unwrap_or(0);
    let rounds_seen = distinct_rounds(rows);
    let current: Vec<&Observation> = if rounds_seen.len() == 1 {
        rows.to_vec()
    } else {
        rows.iter()
            .copied()
            .filter(|o| round_of(o) == latest)
            .collect()
    };
    if rounds_seen.len() > 1 {
        let list: Vec<String> = rounds_seen.iter().map(|r| r.to_string()).collect();
        notes.push(format!(
            "rounds {} present: cross-sectional statistics use round {latest}",
            list.join(", ")
        ));
    }
    let labs: Vec<LabRows> = by_lab(&current)
        .into_iter()
        .map(|(lab, rs)| {
            let mean_of = |f: fn(&Observation) -> Option<f64>| {
                let v: Vec<f64> = rs.iter().filter_map(|o| f(o)).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            LabRows {
                lab: lab.to_string(),
                values: rs.iter().filter_map(|o| o.value).collect(),
                u: mean_of(|o| o.u),
                expanded: mean_of(|o| o.expanded),
                method: rs.iter().find_map(|o| o.method.clone()),
                conforming: rs.iter().all(|o| o.conforming),
            }
        })
        .collect();
    let all_cells: Vec<Cell> = labs.iter().map(|l| Cell::of(&l.values)).collect();
    // The statistics of the participants pool only results of the harmonized method.
    let pooled: Vec<usize> = (0..labs.len()).filter(|i| labs[*i].conforming).collect();
    let cells: Vec<Cell> = pooled.iter().map(|i| all_cells[*i]).collect();
    let deviating: Vec<&str> = labs
        .iter()
        .filter(|l| !l.conforming)
        .map(|l| l.lab.as_str())
        .collect();
    if !deviating.is_empty() {
        notes.push(format!(
            "results that deviate from the harmonized method are scored but not pooled: {}",
            deviating.join(", ")
        ));
    }
    for l in &labs {
        if l.values.is_empty() {
            notes.push(format!(
                "lab {:?} reported no values: it is listed but takes no part in the statistics",
                l.lab
            ));
        }
    }
    let means: Vec<f64> = cells.iter().filter_map(|c| c.mean).collect();
    let p = means.len();
    let no_scale = p >= 2 && assessment::has_no_scale(&means);
    let decl = cfg.assessments.get(name).unwrap_or(&cfg.default_assessment);
    // Without a declared σ_pt the measurand is for information: no score of any kind.
    let scored = decl.is_declared();
    let (alg_a, robust_summary) = robust_summaries(&means, no_scale, cfg, &mut notes);
    let consensus = match &decl.assigned {
        Assigned::Consensus { method } if p >= 3 && !no_scale => {
            assessment::consensus(&means, *method, &cfg.algorithm_a)
        }
        _ => None,
    };
    let median = robust::median(&means).ok();
    let line = assessment::resolve(decl, consensus.as_ref(), median, p, no_scale, &mut notes);
    let (x_pt, sigma_pt, u_x_pt) = (line.x_pt, line.sigma_pt, line.u_x_pt);
    let h = precision::mandel_h(&cells);
    let k = precision::mandel_k(&cells);
    let prec = precision::precision(&cells);
    let (steps, excluded) = if no_scale {
        notes.push(
            "outlier tests (Cochran, Grubbs) are not run: the lab means have no scale".into(),
        );
        (Vec::new(), Vec::new())
    } else {
        outliers::screen(&cells)
    };
    let name_of = |i: &usize| labs[pooled[*i]].lab.clone();
    let precision_without_outliers = (!excluded.is_empty()).then(|| {
        let kept: Vec<Cell> = cells
            .iter()
            .enumerate()
            .filter(|(i, _)| !excluded.contains(i))
            .map(|(_, c)| *c)
            .collect();
        precision::precision(&kept)
    });
    let cochran = if no_scale {
        None
    } else {
        outliers::cochran(&cells).map(|c| CochranLine {
            c: c.c,
            lab: name_of(&c.cell),
            n: c.n,
            crit_5: c.crit_5,
            crit_1: c.crit_1,
            class: c.class,
        })
    };
    let (ids, vals): (Vec<usize>, Vec<f64>) = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.mean.map(|m| (i, m)))
        .unzip();
    let line_of = |t: &outliers::GrubbsTest| GrubbsLine {
        g: t.g,
        labs: t.cells.iter().map(name_of).collect(),
        crit_5: t.crit_5,
        crit_1: t.crit_1,
        class: t.class,
    };
    let grubbs = if no_scale {
        None
    } else {
        let g = outliers::grubbs(&vals, &ids).map(|g| GrubbsLines {
            single_high: line_of(&g.single_high),
            single_low: line_of(&g.single_low),
            double_high: g.double_high.as_ref().map(line_of),
            double_low: g.double_low.as_ref().map(line_of),
        });
        if g.is_none() {
            notes.push(format!(
                "grubbs needs at least 3 labs with distinct means (have {p})"
            ));
        }
        g
    };
    let screening = steps
        .iter()
        .map(|s| ScreeningLine {
            test: s.test.to_owned(),
            labs: s.cells.iter().map(name_of).collect(),
            statistic: s.statistic,
            class: s.class,
            excluded: s.excluded,
        })
        .collect();
    let criterion = cfg.criteria.get(name);
    let any_verdict = rows.iter().any(|o| o.verdict.is_some());
    let all_labs: HashMap<&str, Vec<&Observation>> = if any_verdict {
        by_lab(rows).into_iter().collect()
    } else {
        HashMap::new()
    };
    let drift_by_lab = if scored && rounds_seen.len() > 1 {
        rounds::drift_series(rows, &rounds_seen, decl, cfg)
    } else {
        HashMap::new()
    };
    let mut lines = Vec::with_capacity(labs.len());
    for (li, (l, cell)) in labs.iter().zip(&all_cells).enumerate() {
        let i = pooled.iter().position(|p| *p == li);
        let (u, expanded) = (l.u, l.expanded);
        let diff = cell.mean.zip(x_pt);
        let scorable = diff.filter(|_| scored);
        let z = scorable
            .zip(sigma_pt)
            .and_then(|((m, x), s)| scores::z(m, x, s));
        let z_prime = scorable
            .zip(sigma_pt.zip(u_x_pt))
            .and_then(|((m, x), (s, ux))| scores::z_prime(m, x, s, ux));
        let zeta = scorable
            .zip(u.zip(u_x_pt))
            .and_then(|((m, x), (ul, ux))| scores::zeta(m, ul, x, ux));
        let en = scorable
            .zip(expanded.or(u.map(|u| 2.0 * u)).zip(u_x_pt))
            .and_then(|((m, x), (ul, ux))| scores::en(m, ul, x, 2.0 * ux));
        let score = match line.score {
            Some(ScoreKind::Z) => z.map(|v| (ScoreKind::Z, v)),
            Some(ScoreKind::ZPrime) => z_prime.map(|v| (ScoreKind::ZPrime, v)),
            None => None,
        }
        .map(|(kind, value)| LabScore {
            kind,
            value,
            band: scores::band(value),
        });
        let judged: Vec<Judged> = all_labs
            .get(l.lab.as_str())
            .map(|rs| {
                rs.iter()
                    .filter_map(|o| {
                        Some(Judged {
                            value: o.value?,
                            verdict: o.verdict?,
                            round: o.round,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let agreement = criterion
            .filter(|_| !judged.is_empty())
            .map(|c| criteria::agreement(&judged, c));
        let implied_threshold = (!judged.is_empty()).then(|| criteria::implied_threshold(&judged));
        lines.push(LabLine {
            lab: l.lab.clone(),
            n: cell.n,
            mean: cell.mean,
            sd: cell.sd,
            h: i.and_then(|i| h[i]),
            k: i.and_then(|i| k[i]),
            score,
            z,
            z_band: z.map(scores::band),
            z_prime,
            d_percent: diff.and_then(|(m, x)| scores::d_percent(m, x)),
            u,
            expanded,
            zeta,
            zeta_band: zeta.map(scores::band),
            en,
            en_band: en.map(|e| scores::en_band(e, cfg.en_limit)),
            outlier: i.is_some_and(|i| excluded.contains(&i)),
            method: l.method.clone(),
            conforming: l.conforming,
            agreement,
            implied_threshold,
            drift: drift_by_lab.get(l.lab.as_str()).cloned(),
        });
    }
    let by_method = method_groups(&labs, &all_cells);
    if cells.iter().all(|c| c.n <= 1) && p > 0 {
        notes.push("one value per lab: no repeatability, no Mandel k, no Cochran test".into());
    }
    notes.extend(prec.notes.iter().cloned());
    let kappa = rounds::kappa_line(rows, &mut notes);
    MeasurandReport {
        measurand: name.to_string(),
        round: latest,
        p,
        assessment: line,
        labs: lines,
        by_method,
        algorithm_a: alg_a,
        robust: robust_summary,
        precision: prec,
        precision_without_outliers,
        mandel_critical: precision::mandel_critical(&cells),
        cochran,
        grubbs,
        screening,
        kappa,
        notes,
    }
}

/// One lab's values and stated uncertainties in the current round.
struct LabRows {
    lab: String,
    values: Vec<f64>,
    u: Option<f64>,
    expanded: Option<f64>,
    method: Option<String>,
    conforming: bool,
}

/// The lab means grouped by stated method, in order of first appearance; empty when at
/// most one method is stated.
fn method_groups(labs: &[LabRows], cells: &[Cell]) -> Vec<MethodGroup> {
    let mut groups: Vec<(Option<String>, Vec<f64>)> = Vec::new();
    for (l, c) in labs.iter().zip(cells) {
        let Some(m) = c.mean else { continue };
        match groups.iter_mut().find(|(k, _)| *k == l.method) {
            Some((_, v)) => v.push(m),
            None => groups.push((l.method.clone(), vec![m])),
        }
    }
    if groups.len() < 2 {
        return Vec::new();
    }
    groups
        .into_iter()
        .filter_map(|(method, v)| {
            let (mean, sd) = robust::mean_sd(&v)?;
            Some(MethodGroup {
                method,
                labs: v.len(),
                mean,
                sd,
            })
        })
        .collect()
}

/// Algorithm A and the other robust summaries of the lab means (p ≥ 3, data with scale).
fn robust_summaries(
    means: &[f64],
    no_scale: bool,
    cfg: &ReportConfig,
    notes: &mut Vec<String>,
) -> (Option<robust::AlgorithmA>, Option<RobustSummary>) {
    let p = means.len();
    if p < 3 {
        notes.push(format!(
            "only {p} lab(s) with values: no consensus or robust statistics (at least 3 are needed)"
        ));
        return (None, None);
    }
    let summary = |q_hampel| {
        robust::median_made_niqr(means)
            .ok()
            .map(|(median, made, niqr)| RobustSummary {
                median,
                made,
                niqr,
                q_hampel,
            })
    };
    if no_scale {
        return (None, summary(None));
    }
    let Ok(a) = robust::algorithm_a(means, &cfg.algorithm_a) else {
        return (None, None);
    };
    if !a.converged && a.s > 0.0 {
        notes.push(format!(
            "algorithm A stopped after {} iterations without meeting its stopping rule",
            a.iterations
        ));
    }
    let q_hampel = if p <= cfg.q_hampel_max_labs {
        qhampel::q_hampel(means).ok()
    } else {
        notes.push(format!(
            "Q/Hampel skipped: {p} labs exceed the limit of {} (cost grows as p²)",
            cfg.q_hampel_max_labs
        ));
        None
    };
    (Some(a), summary(q_hampel))
}
