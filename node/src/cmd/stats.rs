//! `interlab stats --input FILE.csv`: offline comparability statistics of a CSV of
//! results (long format, one value per row), as a table or as JSON.

use std::{collections::HashMap, fmt::Write as _, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use interlab_protocol::{
    Criterion, Direction, Verdict,
    stats::{
        AlgorithmAConfig, MeasurandReport, Observation, Report, ReportConfig, comparability_report,
    },
};

/// Arguments of `interlab stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// CSV with a header: required columns `lab`, `value`; optional `measurand`, `u`
    /// (standard uncertainty), `verdict` (pass/fail), `round`, and a harmonized criterion
    /// per measurand as `threshold` + `direction` (at_least/at_most).
    #[arg(long)]
    input: PathBuf,
    /// Algorithm A variant: `iso` (factor 1.134, stop when the third significant figure
    /// is stable) or `converge` (factor 1.133393, relative tolerance 1e-13).
    #[arg(long, value_enum, default_value_t = AlgA::Iso)]
    algorithm_a: AlgA,
    /// |En| at or below this is satisfactory.
    #[arg(long, default_value_t = 1.0)]
    en_limit: f64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AlgA {
    Iso,
    Converge,
}

/// Largest input file read.
const MAX_FILE: u64 = 512 << 20;
/// Name of the measurand when the file has no `measurand` column.
const DEFAULT_MEASURAND: &str = "value";

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.en_limit.is_finite() && args.en_limit > 0.0,
        "--en-limit must be a positive number but got {}",
        args.en_limit
    );
    let meta = std::fs::metadata(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_FILE,
        "{} is {} bytes, over the limit of {MAX_FILE}",
        args.input.display(),
        meta.len()
    );
    let bytes = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let (obs, criteria) = parse(&bytes).with_context(|| format!("in {}", args.input.display()))?;
    let cfg = ReportConfig {
        algorithm_a: match args.algorithm_a {
            AlgA::Iso => AlgorithmAConfig::iso(),
            AlgA::Converge => AlgorithmAConfig::converge(),
        },
        en_limit: args.en_limit,
        criteria,
        ..ReportConfig::default()
    };
    let report = comparability_report(&obs, &cfg)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &report)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else {
        std::io::Write::write_all(&mut out, table(&report).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

struct Columns {
    lab: usize,
    value: usize,
    measurand: Option<usize>,
    u: Option<usize>,
    verdict: Option<usize>,
    round: Option<usize>,
    threshold: Option<usize>,
    direction: Option<usize>,
}

fn columns(headers: &csv::StringRecord) -> anyhow::Result<Columns> {
    let find = |name: &str| {
        headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let need = |name: &str| {
        find(name).with_context(|| {
            format!(
                "line 1: the header has no `{name}` column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            )
        })
    };
    Ok(Columns {
        lab: need("lab")?,
        value: need("value")?,
        measurand: find("measurand"),
        u: find("u"),
        verdict: find("verdict"),
        round: find("round"),
        threshold: find("threshold"),
        direction: find("direction"),
    })
}

type Parsed = (Vec<Observation>, HashMap<String, Criterion>);

/// Parses the long-format CSV; every error names its line.
fn parse(bytes: &[u8]) -> anyhow::Result<Parsed> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .context("line 1: cannot read the header")?
        .clone();
    let c = columns(&headers)?;
    let mut obs = Vec::new();
    let mut criteria: HashMap<String, Criterion> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            anyhow::anyhow!("line {line}: {e}")
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let lab = field(Some(c.lab)).with_context(|| format!("line {line}: empty `lab`"))?;
        let measurand = field(c.measurand).unwrap_or(DEFAULT_MEASURAND);
        let value = number(field(Some(c.value)), "value", line)?;
        let u = number(field(c.u), "u", line)?;
        if let Some(u) = u.filter(|u| *u < 0.0) {
            bail!("line {line}: `u` must not be negative but is {u}");
        }
        let verdict = match field(c.verdict).map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("pass") => Some(Verdict::Pass),
            Some("fail") => Some(Verdict::Fail),
            Some(other) => bail!("line {line}: `verdict` must be pass or fail but is {other:?}"),
        };
        let round = match field(c.round) {
            None => None,
            Some(r) => Some(r.parse::<u64>().map_err(|_| {
                anyhow::anyhow!("line {line}: `round` must be a non-negative integer but is {r:?}")
            })?),
        };
        if let Some(threshold) = number(field(c.threshold), "threshold", line)? {
            let direction = match field(c.direction).map(str::to_ascii_lowercase).as_deref() {
                Some("at_least" | "at-least" | ">=") => Direction::AtLeast,
                Some("at_most" | "at-most" | "<=") => Direction::AtMost,
                other => {
                    bail!("line {line}: `direction` must be at_least or at_most but is {other:?}")
                }
            };
            let crit = Criterion {
                metric: measurand.to_string(),
                threshold,
                direction,
            };
            match criteria.get(measurand) {
                Some(prev) if *prev != crit => bail!(
                    "line {line}: criterion {threshold} {} for {measurand:?} contradicts the earlier {} {}",
                    super::wire_name(&direction),
                    prev.threshold,
                    super::wire_name(&prev.direction)
                ),
                Some(_) => {}
                None => {
                    criteria.insert(measurand.to_string(), crit);
                }
            }
        }
        obs.push(Observation {
            lab: lab.to_string(),
            measurand: measurand.to_string(),
            value,
            u,
            verdict,
            round,
        });
    }
    anyhow::ensure!(!obs.is_empty(), "no data rows after the header");
    Ok((obs, criteria))
}

fn number(s: Option<&str>, name: &str, line: u64) -> anyhow::Result<Option<f64>> {
    let Some(s) = s else { return Ok(None) };
    let v: f64 = s
        .parse()
        .map_err(|_| anyhow::anyhow!("line {line}: `{name}` is not a number: {s:?}"))?;
    anyhow::ensure!(v.is_finite(), "line {line}: `{name}` is not finite: {s:?}");
    anyhow::ensure!(
        v.abs() <= 1e150,
        "line {line}: `{name}` is out of range (beyond ±1e150): {s:?}"
    );
    Ok(Some(v))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

fn table(report: &Report) -> String {
    let mut s = String::new();
    for m in &report.measurands {
        measurand_table(&mut s, m);
    }
    s
}

fn measurand_table(s: &mut String, m: &MeasurandReport) {
    let _ = writeln!(
        s,
        "measurand {} (round {}): {} labs with values",
        m.measurand, m.round, m.p
    );
    match &m.algorithm_a {
        Some(a) => {
            let _ = writeln!(
                s,
                "  algorithm A: x* = {:.6}  s* = {:.6}  u(x_pt) = {:.6}  iterations = {}",
                a.x, a.s, a.u_x_pt, a.iterations
            );
        }
        None => {
            let _ = writeln!(s, "  algorithm A: -");
        }
    }
    if let Some(r) = &m.robust {
        let qh = r
            .q_hampel
            .map_or_else(|| "-".into(), |q| format!("{:.6} / {:.6}", q.x, q.s));
        let _ = writeln!(
            s,
            "  median = {:.6}  MADe = {:.6}  nIQR = {:.6}  Q/Hampel = {qh}  u(x_pt) negligible: {}",
            r.median, r.made, r.niqr, r.u_negligible
        );
    }
    let p = &m.precision;
    let _ = writeln!(
        s,
        "  precision: s_r = {}  s_L = {}  s_R = {}  r = {}  R = {}",
        num(p.s_r),
        num(p.s_l),
        num(p.s_big_r),
        num(p.r),
        num(p.big_r)
    );
    if let Some(c) = &m.cochran {
        let _ = writeln!(
            s,
            "  cochran: C = {:.4} ({})  crit 5% {:.4}  1% {:.4}  -> {}",
            c.c,
            c.lab,
            c.crit_5,
            c.crit_1,
            super::wire_name(&c.class)
        );
    }
    if let Some(g) = &m.grubbs {
        for (name, t) in [
            ("single high", Some(&g.single_high)),
            ("single low", Some(&g.single_low)),
            ("double high", g.double_high.as_ref()),
            ("double low", g.double_low.as_ref()),
        ] {
            if let Some(t) = t {
                let class = t
                    .class
                    .map_or_else(|| "unclassified".into(), |c| super::wire_name(&c));
                let _ = writeln!(
                    s,
                    "  grubbs {name}: G = {:.4} ({})  crit 5% {}  1% {}  -> {class}",
                    t.g,
                    t.labs.join(", "),
                    num(t.crit_5),
                    num(t.crit_1)
                );
            }
        }
    }
    if let Some(k) = &m.kappa {
        let _ = writeln!(
            s,
            "  kappa over {} item(s), {} labs: fleiss {}  se0 {}",
            k.items,
            k.labs,
            num(k.fleiss.as_ref().map(|f| f.kappa)),
            num(k.fleiss.as_ref().map(|f| f.se0))
        );
    }
    let _ = writeln!(
        s,
        "  {:<16} {:>3} {:>12} {:>10} {:>8} {:>8} {:>8} {:>8}  band",
        "lab", "n", "mean", "sd", "h", "k", "z", "zeta"
    );
    for l in &m.labs {
        let band = l
            .z_band
            .map_or_else(|| "-".into(), |b| super::wire_name(&b));
        let flag = if l.outlier { " (outlier)" } else { "" };
        let _ = writeln!(
            s,
            "  {:<16} {:>3} {:>12} {:>10} {:>8} {:>8} {:>8} {:>8}  {band}{flag}",
            l.lab,
            l.n,
            num(l.mean),
            num(l.sd),
            num(l.h),
            num(l.k),
            num(l.z),
            num(l.zeta)
        );
    }
    for n in &m.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s.push('\n');
}
