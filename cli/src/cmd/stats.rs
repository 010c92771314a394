//! `interlab stats --input FILE.csv`: offline comparability statistics of a CSV of
//! results (long format, one value per row), as a table or as JSON.

use std::{collections::HashMap, fmt::Write as _, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use interlab_protocol::{
    Criterion, Direction, Verdict,
    stats::{
        AlgorithmAConfig, Assessment, Assigned, ConsensusMethod, MeasurandReport, Observation,
        Report, ReportConfig, SigmaPt, ValueSource, comparability_report,
    },
};

/// Arguments of `interlab stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// CSV with a header: required columns `lab`, `value`; optional `measurand`, `u`
    /// (standard uncertainty), `U` and `k` (expanded uncertainty and its coverage factor;
    /// u = U/k), `verdict` (pass/fail), `round`, and a harmonized criterion per measurand
    /// as `threshold` + `direction` (at_least/at_most).
    #[arg(long)]
    input: PathBuf,
    /// Assigned value x_pt for every measurand (instead of the consensus); needs
    /// `--u-x-pt`.
    #[arg(long, allow_hyphen_values = true)]
    x_pt: Option<f64>,
    /// Standard uncertainty u(x_pt) of `--x-pt`.
    #[arg(long, allow_hyphen_values = true)]
    u_x_pt: Option<f64>,
    /// σ_pt, the standard deviation for proficiency assessment, for every measurand: a
    /// number (fitness for purpose) or `participants` (their robust SD, ISO 13528 §8.5).
    /// Without a declaration a measurand is for information: no σ_pt and no scores.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_sigma)]
    sigma_pt: Option<SigmaArg>,
    /// CSV of declarations per measurand: `measurand` and any of `x_pt` + `u_x_pt`,
    /// `sigma_pt` (a number or `participants`); a measurand's row overrides the flags
    /// above.
    #[arg(long)]
    assessment: Option<PathBuf>,
    /// Consensus estimator when x_pt is not given.
    #[arg(long, value_enum, default_value_t = Consensus::AlgorithmA)]
    consensus: Consensus,
    /// Algorithm A variant: `iso` (factor 1.134, stop when the third significant figure
    /// is stable) or `converge` (factor 1.133393, relative tolerance 1e-13).
    #[arg(long, value_enum, default_value_t = AlgA::Iso)]
    algorithm_a: AlgA,
    /// |En| at or below this is satisfactory.
    #[arg(long, default_value_t = 1.0)]
    en_limit: f64,
}

/// A declared σ_pt, as the flag or the assessment file gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SigmaArg {
    /// A fitness-for-purpose value.
    Value(f64),
    /// The participants' robust SD, declared explicitly.
    Participants,
}

/// `participants` or a number (checked later with the rest of the declaration).
fn parse_sigma(s: &str) -> Result<SigmaArg, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("participants") {
        return Ok(SigmaArg::Participants);
    }
    s.parse()
        .map(SigmaArg::Value)
        .map_err(|_| format!("expected a number or `participants` but got {s:?}"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AlgA {
    Iso,
    Converge,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Consensus {
    AlgorithmA,
    QHampel,
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
    let bytes = read_limited(&args.input)?;
    let (obs, criteria) = parse(&bytes).with_context(|| format!("in {}", args.input.display()))?;
    let method = match args.consensus {
        Consensus::AlgorithmA => ConsensusMethod::AlgorithmA,
        Consensus::QHampel => ConsensusMethod::QHampel,
    };
    let default_assessment = declaration(args.x_pt, args.u_x_pt, args.sigma_pt, method)
        .context("in the command-line flags")?;
    let assessments = match &args.assessment {
        Some(path) => parse_assessments(&read_limited(path)?, &default_assessment, method)
            .with_context(|| format!("in {}", path.display()))?,
        None => HashMap::new(),
    };
    let cfg = ReportConfig {
        algorithm_a: match args.algorithm_a {
            AlgA::Iso => AlgorithmAConfig::iso(),
            AlgA::Converge => AlgorithmAConfig::converge(),
        },
        en_limit: args.en_limit,
        criteria,
        default_assessment,
        assessments,
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

fn read_limited(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_FILE,
        "{} is {} bytes, over the limit of {MAX_FILE}",
        path.display(),
        meta.len()
    );
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The declaration that the flags (or one row of the assessment file) make.
fn declaration(
    x_pt: Option<f64>,
    u_x_pt: Option<f64>,
    sigma_pt: Option<SigmaArg>,
    method: ConsensusMethod,
) -> anyhow::Result<Assessment> {
    let assigned = match (x_pt, u_x_pt) {
        (Some(value), Some(u)) => Assigned::Value {
            source: ValueSource::Given,
            value,
            u,
        },
        (Some(_), None) => bail!("x_pt needs its standard uncertainty u_x_pt (0 if exact)"),
        (None, Some(_)) => bail!("u_x_pt is given without x_pt"),
        (None, None) => Assigned::Consensus { method },
    };
    let sigma_pt = match sigma_pt {
        Some(SigmaArg::Value(value)) => SigmaPt::Prescribed { value },
        Some(SigmaArg::Participants) => SigmaPt::Participants,
        None => SigmaPt::Undeclared,
    };
    let a = Assessment { assigned, sigma_pt };
    a.check()?;
    Ok(a)
}

/// Per-measurand declarations: `measurand` and any of `x_pt`, `u_x_pt`, `sigma_pt`;
/// an empty cell falls back to the flags.
fn parse_assessments(
    bytes: &[u8],
    flags: &Assessment,
    method: ConsensusMethod,
) -> anyhow::Result<HashMap<String, Assessment>> {
    let (headers, records) = read_csv(bytes)?;
    let find = |name: &str| headers.iter().position(|h| header_is(h, name));
    let measurand = find("measurand").with_context(|| {
        format!(
            "line 1: the header has no `measurand` column (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })?;
    let (x, u, s) = (find("x_pt"), find("u_x_pt"), find("sigma_pt"));
    anyhow::ensure!(
        x.is_some() || s.is_some(),
        "line 1: the header has neither an `x_pt` nor a `sigma_pt` column"
    );
    let mut out = HashMap::new();
    for (line, rec) in records {
        let field = |i: Option<usize>| cell(&rec, i);
        let name =
            field(Some(measurand)).with_context(|| format!("line {line}: empty `measurand`"))?;
        let x_pt = number(field(x), "x_pt", line)?;
        let u_x_pt = number(field(u), "u_x_pt", line)?;
        let sigma = sigma_cell(field(s), line)?;
        let mut a = declaration(x_pt, u_x_pt, sigma, method)
            .with_context(|| format!("line {line} ({name})"))?;
        if x_pt.is_none() {
            a.assigned = flags.assigned.clone();
        }
        if sigma.is_none() {
            a.sigma_pt = flags.sigma_pt.clone();
        }
        anyhow::ensure!(
            out.insert(name.to_string(), a).is_none(),
            "line {line}: measurand {name:?} is declared twice"
        );
    }
    Ok(out)
}

/// The header and every row with its line number; a malformed row is an error naming
/// its line.
fn read_csv(bytes: &[u8]) -> anyhow::Result<(csv::StringRecord, Vec<(u64, csv::StringRecord)>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .context("line 1: cannot read the header")?
        .clone();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            anyhow::anyhow!("line {line}: {e}")
        })?;
        rows.push((rec.position().map_or(0, |p| p.line()), rec));
    }
    Ok((headers, rows))
}

/// A trimmed, non-empty cell of column `i`.
fn cell(rec: &csv::StringRecord, i: Option<usize>) -> Option<&str> {
    i.and_then(|i| rec.get(i))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Header match: `u` and `U` differ (standard vs expanded uncertainty); other names are
/// case-insensitive.
fn header_is(header: &str, name: &str) -> bool {
    let h = header.trim().trim_start_matches('\u{feff}');
    if name.eq_ignore_ascii_case("u") {
        h == name
    } else {
        h.eq_ignore_ascii_case(name)
    }
}

struct Columns {
    lab: usize,
    value: usize,
    measurand: Option<usize>,
    u: Option<usize>,
    big_u: Option<usize>,
    k: Option<usize>,
    verdict: Option<usize>,
    round: Option<usize>,
    threshold: Option<usize>,
    direction: Option<usize>,
}

fn columns(headers: &csv::StringRecord) -> anyhow::Result<Columns> {
    let find = |name: &str| headers.iter().position(|h| header_is(h, name));
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
        big_u: find("U"),
        k: find("k"),
        verdict: find("verdict"),
        round: find("round"),
        threshold: find("threshold"),
        direction: find("direction"),
    })
}

type Parsed = (Vec<Observation>, HashMap<String, Criterion>);

/// Parses the long-format CSV; every error names its line.
fn parse(bytes: &[u8]) -> anyhow::Result<Parsed> {
    let (headers, records) = read_csv(bytes)?;
    let c = columns(&headers)?;
    let mut obs = Vec::new();
    let mut criteria: HashMap<String, Criterion> = HashMap::new();
    for (line, rec) in records {
        let field = |i: Option<usize>| cell(&rec, i);
        let lab = field(Some(c.lab)).with_context(|| format!("line {line}: empty `lab`"))?;
        let measurand = field(c.measurand).unwrap_or(DEFAULT_MEASURAND);
        let value = number(field(Some(c.value)), "value", line)?;
        let mut u = number(field(c.u), "u", line)?;
        if let Some(u) = u.filter(|u| *u < 0.0) {
            bail!("line {line}: `u` must not be negative but is {u}");
        }
        let expanded = number(field(c.big_u), "U", line)?;
        let k = number(field(c.k), "k", line)?;
        match (expanded, k) {
            (Some(big), _) if big < 0.0 => {
                bail!("line {line}: `U` must not be negative but is {big}")
            }
            (_, Some(k)) if k <= 0.0 => {
                bail!("line {line}: `k` must be above zero but is {k}")
            }
            (Some(big), Some(k)) => {
                let from_big = big / k;
                if let Some(given) = u
                    && (given - from_big).abs() > 1e-9 * given.abs().max(from_big.abs())
                {
                    bail!(
                        "line {line}: `u` = {given} contradicts `U`/`k` = {big}/{k} = {from_big}"
                    );
                }
                u = Some(from_big);
            }
            (Some(_), None) => bail!("line {line}: `U` is given without its coverage factor `k`"),
            (None, Some(_)) if u.is_none() => {
                bail!("line {line}: `k` is given without an expanded uncertainty `U`")
            }
            _ => {}
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
            expanded,
            verdict,
            round,
            method: None,
            conforming: true,
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

/// A `sigma_pt` cell: `participants` or a number.
fn sigma_cell(s: Option<&str>, line: u64) -> anyhow::Result<Option<SigmaArg>> {
    match s {
        Some(p) if p.eq_ignore_ascii_case("participants") => Ok(Some(SigmaArg::Participants)),
        Some(p) if p.parse::<f64>().is_err() => {
            bail!("line {line}: `sigma_pt` is neither a number nor `participants`: {p:?}")
        }
        other => Ok(number(other, "sigma_pt", line)?.map(SigmaArg::Value)),
    }
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
    let a = &m.assessment;
    let _ = writeln!(
        s,
        "  x_pt = {}  u(x_pt) = {}  [{}]",
        num6(a.x_pt),
        num6(a.u_x_pt),
        a.x_pt_basis
    );
    let _ = writeln!(
        s,
        "  σ_pt = {}  [{}]  score: {}",
        num6(a.sigma_pt),
        a.sigma_pt_basis,
        a.score.map_or_else(
            || "none".to_string(),
            |k| match a.u_negligible {
                Some(true) => format!("{k} (u(x_pt) ≤ 0.3 σ_pt)"),
                Some(false) => format!("{k} (u(x_pt) > 0.3 σ_pt)"),
                None => format!("{k}"),
            }
        )
    );
    if let Some(alg) = &m.algorithm_a {
        let _ = writeln!(
            s,
            "  algorithm A: x* = {:.6}  s* = {:.6}  u = {:.6}  iterations = {}",
            alg.x, alg.s, alg.u_x_pt, alg.iterations
        );
    }
    if let Some(r) = &m.robust {
        let qh = r
            .q_hampel
            .map_or_else(|| "-".into(), |q| format!("{:.6} / {:.6}", q.x, q.s));
        let _ = writeln!(
            s,
            "  median = {:.6}  MADe = {:.6}  nIQR = {:.6}  Q/Hampel = {qh}",
            r.median, r.made, r.niqr
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
        "  {:<16} {:>3} {:>12} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  band",
        "lab", "n", "mean", "sd", "h", "D%", "z", "z′", "zeta", "En", "score"
    );
    for l in &m.labs {
        let (score, band) = l.score.map_or_else(
            || ("-".to_string(), "-".to_string()),
            |sc| {
                (
                    format!("{:.2}", sc.value),
                    format!("{} ({})", super::wire_name(&sc.band), sc.kind),
                )
            },
        );
        let flag = if l.outlier { " (outlier)" } else { "" };
        let _ = writeln!(
            s,
            "  {:<16} {:>3} {:>12} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {band}{flag}",
            l.lab,
            l.n,
            num(l.mean),
            num(l.sd),
            num(l.h),
            num2(l.d_percent),
            num2(l.z),
            num2(l.z_prime),
            num2(l.zeta),
            num2(l.en),
            score
        );
    }
    for n in &m.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s.push('\n');
}

fn num2(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn num6(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.6}"))
}
