//! The proficiency charts of one measurand (z-scores, Mandel h and k), the Youden plot of
//! two measurands and the drift control charts (CUSUM, EWMA) over rounds. Each returns
//! an SVG figure or, when the numbers do not exist, a sentence saying why.

use std::fmt::Write;

use interlab_protocol::stats::{
    MeasurandReport,
    assessment::SigmaBasis,
    drift::{Drift, DriftConfig},
    report::LabLine,
    scores::Band as ZBand,
};

use super::{
    svg::{self, Band, Bar, Rule, esc, num},
    xy,
};

/// Legend of the critical lines of the Mandel charts.
const CRIT_NOTE: &str = "<i class=\"key crit5\"></i> 5 % critical value \
     <i class=\"key crit1\"></i> 1 % critical value (ISO 5725-2)";

fn z_class(b: Option<ZBand>) -> &'static str {
    match b {
        Some(ZBand::Questionable) => "warn",
        Some(ZBand::Unsatisfactory) => "bad",
        _ => "ok",
    }
}

/// The score per lab (z or z′, as the measurand's assessment chose) with the ±2
/// (questionable) and ±3 (unsatisfactory) bands.
pub(crate) fn z_scores(m: &MeasurandReport, own: Option<&str>) -> String {
    let kind = m
        .assessment
        .score
        .map_or_else(|| "z".to_owned(), |k| k.to_string());
    let title = format!(
        "{kind}-scores — {} (σ_pt: {})",
        m.measurand, m.assessment.sigma_pt_basis
    );
    if m.labs.iter().all(|l| l.score.is_none()) {
        let undeclared = m.assessment.sigma_pt_basis == SigmaBasis::Undeclared;
        let why = match (m.assessment.x_pt, m.assessment.sigma_pt) {
            _ if undeclared => "No σ_pt is declared: the measurand is for information and is \
                                not scored."
                .to_owned(),
            (None, _) => "No assigned value is available, so there are no scores.".to_owned(),
            (Some(_), None) => {
                "No σ_pt is available (see the notes), so there are no scores.".to_owned()
            }
            (Some(_), Some(_)) => "No lab has a score in this round.".to_owned(),
        };
        return svg::empty("z-scores", &title, &why);
    }
    let bars: Vec<Bar> = by_name(m)
        .map(|l| Bar {
            label: l.lab.clone(),
            value: l.score.map(|s| s.value),
            class: z_class(l.score.map(|s| s.band)),
            yours: yours(own, &l.lab),
        })
        .collect();
    let bands = [
        Band {
            lo: -3.0,
            hi: -2.0,
            class: "warn",
        },
        Band {
            lo: 2.0,
            hi: 3.0,
            class: "warn",
        },
        Band {
            lo: -1e9,
            hi: -3.0,
            class: "bad",
        },
        Band {
            lo: 3.0,
            hi: 1e9,
            class: "bad",
        },
    ];
    let rules: Vec<Rule> = [-3.0, -2.0, 2.0, 3.0]
        .iter()
        .map(|v: &f64| Rule {
            value: *v,
            label: format!("{}{}", if *v > 0.0 { "+" } else { "−" }, num(v.abs())),
            class: if v.abs() == 3.0 { "crit1" } else { "crit5" },
        })
        .collect();
    svg::hbars(
        "z-scores",
        &title,
        &bars,
        &bands,
        &rules,
        (-3.5, 3.5),
        "z = (lab mean − x_pt) / σ_pt, or z′ = (lab mean − x_pt) / √(σ_pt² + u²(x_pt)) when \
         u(x_pt) > 0.3 σ_pt (the title says which). |score| ≤ 2 satisfactory, 2 < |score| < 3 \
         questionable (amber band), ≥ 3 unsatisfactory (red band).",
    )
}

/// Mandel's h per lab with the 5 % and 1 % critical lines (two-sided).
pub(crate) fn mandel_h(m: &MeasurandReport, own: Option<&str>) -> String {
    let title = format!("Mandel h — {}", m.measurand);
    if m.labs.iter().all(|l| l.h.is_none()) {
        return svg::empty(
            "mandel-h",
            &title,
            "Mandel h needs at least two labs whose means differ.",
        );
    }
    let crit = &m.mandel_critical;
    let bars: Vec<Bar> = by_name(m)
        .map(|l| Bar {
            label: l.lab.clone(),
            value: l.h,
            class: exceed(l.h.map(f64::abs), crit.h_5, crit.h_1),
            yours: yours(own, &l.lab),
        })
        .collect();
    let rules = h_rules(crit.h_5, crit.h_1);
    svg::hbars(
        "mandel-h",
        &title,
        &bars,
        &[],
        &rules,
        (-1.0, 1.0),
        CRIT_NOTE,
    )
}

/// Mandel h of one test and metric across its test items (ISO 5725-2 plots h per lab,
/// grouped by level): one bar per lab and item, so that a lab that sits on one side on
/// every item shows a bias rather than noise. `ms` are the item measurands
/// (`item/test/metric`) of one test and metric; the lines are the largest critical
/// values among them.
pub(crate) fn mandel_h_across_items(
    test_metric: &str,
    ms: &[&MeasurandReport],
    own: Option<&str>,
) -> String {
    let title = format!("Mandel h across items — {test_metric}");
    let mut labs: Vec<&str> = ms
        .iter()
        .flat_map(|m| m.labs.iter().map(|l| l.lab.as_str()))
        .collect();
    labs.sort_unstable();
    labs.dedup();
    let item = |m: &MeasurandReport| m.measurand.split('/').next().unwrap_or("").to_owned();
    let h5 = ms
        .iter()
        .filter_map(|m| m.mandel_critical.h_5)
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    let h1 = ms
        .iter()
        .filter_map(|m| m.mandel_critical.h_1)
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    let bars: Vec<Bar> = labs
        .iter()
        .flat_map(|lab| {
            ms.iter().map(move |m| {
                let h = m.labs.iter().find(|l| l.lab == *lab).and_then(|l| l.h);
                Bar {
                    label: format!("{lab} · {}", item(m)),
                    value: h,
                    class: exceed(h.map(f64::abs), h5, h1),
                    yours: yours(own, lab),
                }
            })
        })
        .collect();
    if bars.iter().all(|b| b.value.is_none()) {
        return svg::empty(
            "mandel-h-items",
            &title,
            "Mandel h needs at least two labs whose means differ on some item.",
        );
    }
    let rules = h_rules(h5, h1);
    svg::hbars(
        "mandel-h-items",
        &title,
        &bars,
        &[],
        &rules,
        (-1.0, 1.0),
        CRIT_NOTE,
    )
}

/// The ±5 % and ±1 % critical lines of Mandel h.
fn h_rules(h5: Option<f64>, h1: Option<f64>) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (v, label, class) in [(h5, "5 %", "crit5"), (h1, "1 %", "crit1")] {
        if let Some(v) = v {
            for value in [v, -v] {
                rules.push(Rule {
                    value,
                    label: label.to_owned(),
                    class,
                });
            }
        }
    }
    rules
}

/// Mandel's k per lab with the 5 % and 1 % critical lines (upper).
pub(crate) fn mandel_k(m: &MeasurandReport, own: Option<&str>) -> String {
    let title = format!("Mandel k — {}", m.measurand);
    if m.labs.iter().all(|l| l.k.is_none()) {
        let why = if m.labs.iter().all(|l| l.n < 2) {
            "Mandel k compares within-lab spread: it needs replicates (n ≥ 2 per lab); \
             this test has one value per lab."
        } else {
            "Mandel k is undefined: every lab's replicates are identical (pooled SD = 0)."
        };
        return svg::empty("mandel-k", &title, why);
    }
    let crit = &m.mandel_critical;
    let bars: Vec<Bar> = by_name(m)
        .map(|l| Bar {
            label: l.lab.clone(),
            value: l.k,
            class: exceed(l.k, crit.k_5, crit.k_1),
            yours: yours(own, &l.lab),
        })
        .collect();
    let rules: Vec<Rule> = [(crit.k_5, "5 %", "crit5"), (crit.k_1, "1 %", "crit1")]
        .into_iter()
        .filter_map(|(v, label, class)| {
            v.map(|value| Rule {
                value,
                label: label.to_owned(),
                class,
            })
        })
        .collect();
    svg::hbars(
        "mandel-k",
        &title,
        &bars,
        &[],
        &rules,
        (0.0, 1.0),
        CRIT_NOTE,
    )
}

/// The bar mark of the reading lab: its name when `lab` is it.
fn yours(own: Option<&str>, lab: &str) -> Option<String> {
    own.filter(|o| *o == lab).map(str::to_owned)
}

/// Lab lines in name order, so every chart lists the labs alike.
fn by_name(m: &MeasurandReport) -> impl Iterator<Item = &LabLine> {
    let mut v: Vec<&LabLine> = m.labs.iter().collect();
    v.sort_by(|a, b| a.lab.cmp(&b.lab));
    v.into_iter()
}

fn exceed(v: Option<f64>, c5: Option<f64>, c1: Option<f64>) -> &'static str {
    match v {
        Some(v) if c1.is_some_and(|c| v > c) => "bad",
        Some(v) if c5.is_some_and(|c| v > c) => "warn",
        _ => "ok",
    }
}

/// The two measurands a Youden plot shows: the first pair from different tests that
/// share at least one lab with a mean, else the first pair at all.
pub(crate) fn youden_pair(ms: &[&MeasurandReport]) -> Option<(usize, usize)> {
    // Best: one test and metric on two test items (`item/test/metric`), as a PT
    // provider pairs two samples; else two different tests.
    let parts = |m: &MeasurandReport| {
        let p: Vec<&str> = m.measurand.split('/').collect();
        (p.len() == 3).then(|| (p[0].to_owned(), format!("{}/{}", p[1], p[2])))
    };
    let test = |m: &MeasurandReport| m.measurand.split('/').next().unwrap_or("").to_owned();
    let shared = |a: &MeasurandReport, b: &MeasurandReport| {
        a.labs
            .iter()
            .filter(|l| l.mean.is_some())
            .any(|l| b.labs.iter().any(|k| k.lab == l.lab && k.mean.is_some()))
    };
    let pairs = || (0..ms.len()).flat_map(|i| (i + 1..ms.len()).map(move |j| (i, j)));
    let items = |i: usize, j: usize| match (parts(ms[i]), parts(ms[j])) {
        (Some((ia, ta)), Some((ib, tb))) => ia != ib && ta == tb,
        _ => false,
    };
    pairs()
        .find(|&(i, j)| items(i, j) && shared(ms[i], ms[j]))
        .or_else(|| pairs().find(|&(i, j)| test(ms[i]) != test(ms[j]) && shared(ms[i], ms[j])))
        .or_else(|| pairs().find(|&(i, j)| shared(ms[i], ms[j])))
}

/// Youden plot: each lab's mean of measurand `a` against its mean of `b`, with the
/// assigned values as lines. Points off the diagonal through (x*_a, x*_b) show a lab's
/// systematic error.
pub(crate) fn youden(a: &MeasurandReport, b: &MeasurandReport, own: Option<&str>) -> String {
    let title = format!("Youden plot — {} vs {}", a.measurand, b.measurand);
    let pts: Vec<(String, f64, f64, usize)> = by_name(a)
        .enumerate()
        .filter_map(|(i, la)| {
            let lb = b.labs.iter().find(|l| l.lab == la.lab)?;
            Some((la.lab.clone(), la.mean?, lb.mean?, i))
        })
        .collect();
    if pts.is_empty() {
        return svg::empty("youden", &title, "No lab reported both measurands.");
    }
    let xa = a.assessment.x_pt;
    let xb = b.assessment.x_pt;
    let xdom = svg::extent(pts.iter().map(|p| p.1).chain(xa), 0.12);
    let ydom = svg::extent(pts.iter().map(|p| p.2).chain(xb), 0.12);
    let (mut s, f) = xy::open_xy(
        "youden",
        &title,
        ("data-points", pts.len()),
        xdom,
        ydom,
        (&a.measurand, &b.measurand),
        380.0,
    );
    if let Some(v) = xa {
        f.vline(
            &mut s,
            &Rule {
                value: v,
                label: format!("x_pt = {}", num(v)),
                class: "assigned",
            },
        );
    }
    if let Some(v) = xb {
        f.hline(
            &mut s,
            &Rule {
                value: v,
                label: format!("x_pt = {}", num(v)),
                class: "assigned",
            },
        );
    }
    let mut taken = Vec::new();
    for (lab, x, y, i) in &pts {
        f.point(
            &mut s,
            (*x, *y),
            lab,
            *i,
            own == Some(lab.as_str()),
            &mut taken,
        );
    }
    s.push_str("</svg></figure>");
    let names: Vec<(String, usize)> = pts.iter().map(|p| (p.0.clone(), p.3)).collect();
    let _ = write!(
        s,
        "<div>{}<p class=\"note\">Each point is one lab: its mean of {} (across) against \
         its mean of {} (up). Dashed lines: the assigned values x_pt. Points spread along the \
         diagonal through (x_pt, x_pt) suggest a lab-specific systematic effect common to both \
         tests; points off it suggest a random or test-specific error.</p></div>",
        xy::legend(&names, own),
        esc(&a.measurand),
        esc(&b.measurand)
    );
    s
}

/// CUSUM (C⁺ up, −C⁻ down) and EWMA of each lab's z-scores over rounds, with the
/// decision interval ±h and the EWMA control limits.
pub(crate) fn control(m: &MeasurandReport, cfg: &DriftConfig, own: Option<&str>) -> String {
    let series: Vec<(usize, &str, &Drift)> = by_name(m)
        .enumerate()
        .filter_map(|(i, l)| l.drift.as_ref().map(|d| (i, l.lab.as_str(), d)))
        .filter(|(_, _, d)| !d.rounds.is_empty())
        .collect();
    if series.is_empty() {
        let title = format!("Control charts — {}", m.measurand);
        return svg::empty(
            "control",
            &title,
            "Drift charts need z-scores; no lab has one for this measurand.",
        );
    }
    let rounds = || {
        series
            .iter()
            .flat_map(|(_, _, d)| d.rounds.iter().map(|r| *r as f64))
    };
    let xdom = svg::extent(rounds(), 0.0);
    let xdom = if xdom.1 - xdom.0 < 1.0 {
        (xdom.0 - 0.5, xdom.1 + 0.5)
    } else {
        (xdom.0 - 0.2, xdom.1 + 0.2)
    };
    let points: usize = series.iter().map(|(_, _, d)| d.rounds.len()).sum();
    let mut out = String::from("<div class=\"pair\">");

    // CUSUM.
    let h = cfg.cusum_h;
    let cvals = series.iter().flat_map(|(_, _, d)| {
        d.cusum_high
            .iter()
            .copied()
            .chain(d.cusum_low.iter().map(|v| -v))
    });
    let ydom = svg::extent(cvals.chain([h * 1.15, -h * 1.15]), 0.02);
    let (mut s, f) = xy::open_xy(
        "control cusum",
        &format!("CUSUM of z — {}", m.measurand),
        ("data-points", points * 2),
        xdom,
        ydom,
        ("round", "C⁺ (solid) / −C⁻ (dashed)"),
        300.0,
    );
    for v in [h, -h] {
        f.hline(
            &mut s,
            &Rule {
                value: v,
                label: format!("{}h = {}", if v < 0.0 { "−" } else { "" }, num(h)),
                class: "crit1",
            },
        );
    }
    for (i, lab, d) in &series {
        let mine = own.filter(|o| o == lab);
        let hi: Vec<(f64, f64)> = d
            .rounds
            .iter()
            .map(|r| *r as f64)
            .zip(d.cusum_high.iter().copied())
            .collect();
        let lo: Vec<(f64, f64)> = d
            .rounds
            .iter()
            .map(|r| *r as f64)
            .zip(d.cusum_low.iter().map(|v| -v))
            .collect();
        f.series(&mut s, &hi, *i, false, mine);
        f.series(&mut s, &lo, *i, true, mine);
    }
    s.push_str("</svg></figure>");
    out.push_str(&s);

    // EWMA with its time-varying limits L·√(λ/(2−λ)·(1−(1−λ)^{2t})).
    let (lam, l) = (cfg.ewma_lambda, cfg.ewma_l);
    let longest = series
        .iter()
        .max_by_key(|(_, _, d)| d.rounds.len())
        .map(|(_, _, d)| d.rounds.clone())
        .unwrap_or_default();
    let limits: Vec<(f64, f64)> = longest
        .iter()
        .enumerate()
        .map(|(t, r)| {
            let w = (lam / (2.0 - lam) * (1.0 - (1.0 - lam).powi(2 * (t as i32 + 1)))).sqrt();
            (*r as f64, l * w)
        })
        .collect();
    let evals = series.iter().flat_map(|(_, _, d)| d.ewma.iter().copied());
    let lim_max = limits.iter().map(|p| p.1).fold(0.0, f64::max);
    let ydom = svg::extent(evals.chain([lim_max * 1.2, -lim_max * 1.2]), 0.02);
    let (mut s, f) = xy::open_xy(
        "control ewma",
        &format!("EWMA of z (λ = {}) — {}", num(lam), m.measurand),
        ("data-points", points),
        xdom,
        ydom,
        ("round", "EWMA"),
        300.0,
    );
    let neg: Vec<(f64, f64)> = limits.iter().map(|(x, y)| (*x, -y)).collect();
    f.limit_path(&mut s, &limits, "crit1");
    f.limit_path(&mut s, &neg, "crit1");
    for (i, lab, d) in &series {
        let mine = own.filter(|o| o == lab);
        let pts: Vec<(f64, f64)> = d
            .rounds
            .iter()
            .map(|r| *r as f64)
            .zip(d.ewma.iter().copied())
            .collect();
        f.series(&mut s, &pts, *i, false, mine);
    }
    let _ = write!(
        s,
        "<text class=\"rule-label crit1\" x=\"540\" y=\"22\" text-anchor=\"end\">±{}σ limits</text>",
        num(l)
    );
    s.push_str("</svg></figure></div>");
    out.push_str(&s);
    let names: Vec<(String, usize)> = series
        .iter()
        .map(|(i, n, _)| ((*n).to_owned(), *i))
        .collect();
    out.push_str(&xy::legend(&names, own));
    let alarms: Vec<String> = series
        .iter()
        .flat_map(|(_, lab, d)| {
            d.alarms.iter().map(move |a| {
                format!(
                    "{}: {} at round {} (value {})",
                    esc(lab),
                    esc(&a.rule),
                    a.round,
                    num(a.value)
                )
            })
        })
        .collect();
    if alarms.is_empty() {
        out.push_str("<p class=\"note\">No drift alarm (CUSUM, EWMA or Westgard rules).</p>");
    } else {
        let _ = write!(
            out,
            "<p class=\"note alarm\">Alarms: {}</p>",
            alarms.join("; ")
        );
    }
    out
}
