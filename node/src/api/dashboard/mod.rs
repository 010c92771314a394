//! The regulator's dashboard at `GET /`: one server-rendered HTML page with inline SVG
//! charts and CSS (no script, no other request) showing, per suite version and round,
//! what the node's evidence says about the comparability of labs. Every number comes
//! from the same governance computation as `/v1/comparability`, and the page names the
//! evidence root so two nodes can be compared at a glance.

mod charts;
mod sections;
mod style;
mod svg;
mod xy;
pub(crate) mod yours;

use std::{collections::BTreeSet, fmt::Write, sync::Arc};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Html,
};
use interlab_protocol::{
    Digest, EvidenceState, Fork, Lab,
    governance::{self, Comparability, ComparabilityQuery, DisputeView, GovernanceError},
    stats::{MeasurandReport, ReportConfig, drift::DriftConfig},
};

use super::{
    ApiError, ApiState,
    reports::{self, ComparabilityParams, Snapshot},
};
use sections::Names;
use svg::esc;

/// A published suite version and the rounds it has (opened or with results).
#[derive(Debug, Clone)]
pub(crate) struct SuiteEntry {
    /// Suite id.
    pub(crate) id: Digest,
    /// Name.
    pub(crate) name: String,
    /// Version.
    pub(crate) version: String,
    /// Rounds, ascending.
    pub(crate) rounds: Vec<u32>,
}

/// What the page shows for the selected suite and round.
#[derive(Debug)]
pub(crate) enum View {
    /// No suite is published yet.
    NoSuite,
    /// The request or the computation failed; the sentence says why.
    Problem(String),
    /// The comparability of the selected suite and round.
    Report(Box<Comparability>),
}

/// Everything the page renders; built from one snapshot, rendered without I/O.
#[derive(Debug)]
pub(crate) struct PageData {
    /// The node's name.
    pub(crate) node: String,
    /// Root, count and frontier of the snapshot.
    pub(crate) evidence: EvidenceState,
    /// Published suites.
    pub(crate) suites: Vec<SuiteEntry>,
    /// The selected view.
    pub(crate) view: View,
    /// Every dispute in the scheme.
    pub(crate) disputes: Vec<DisputeView>,
    /// Accredited labs.
    pub(crate) labs: Vec<Lab>,
    /// Verified fork proofs.
    pub(crate) forks: Vec<Fork>,
    /// Key → display name.
    pub(crate) names: Names,
    /// Drift chart settings the report used.
    pub(crate) drift: DriftConfig,
    /// The node's own lab, whose results the page marks; `None` on a node whose key is
    /// not a lab (the scheme owner's, a regulator's).
    pub(crate) own: Option<yours::Own>,
}

/// `GET /[?suite=ID&round=R&include_disputed=true]`.
#[utoipa::path(
    get,
    path = "/",
    tag = "dashboard",
    description = "The dashboard: an HTML page with the report's charts (z-scores, Mandel h/k, Youden, control charts); an unknown suite or round still renders, with status 404 and the reason on the page.",
    params(ComparabilityParams),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 404, description = "The page, saying which suite or round is unknown", body = String, content_type = "text/html"),
        (status = 500, description = "Internal error (detail in the node's log)", body = super::types::ErrorBody)
    )
)]
pub async fn page(
    State(s): State<Arc<ApiState>>,
    Query(p): Query<ComparabilityParams>,
) -> Result<(StatusCode, Html<String>), ApiError> {
    let snap = super::compute::snapshot(&s).await?;
    let forks = snap.forks.clone();
    let (status, view) = select(&snap, &p);
    let data = PageData {
        node: s.name.clone(),
        evidence: snap.evidence.clone(),
        suites: suite_entries(&snap),
        view,
        disputes: reports::all_disputes(&snap),
        labs: snap.authority.labs().cloned().collect(),
        forks,
        names: names(&snap),
        drift: ReportConfig::default().drift,
        own: yours::own(&snap.authority, &s.publisher.public()),
    };
    Ok((status, Html(render(&data))))
}

fn names(snap: &Snapshot) -> Names {
    let mut n: Names = snap
        .authority
        .labs()
        .map(|l| (l.key, l.name.clone()))
        .collect();
    if let Some(o) = snap.authority.owner() {
        n.insert(o, "scheme owner".to_owned());
    }
    n
}

fn suite_entries(snap: &Snapshot) -> Vec<SuiteEntry> {
    snap.published
        .suites
        .iter()
        .map(|s| SuiteEntry {
            id: s.id,
            name: s.name.clone(),
            version: s.version.clone(),
            rounds: snap.published.rounds_of(&s.id),
        })
        .collect()
}

fn select(snap: &Snapshot, p: &ComparabilityParams) -> (StatusCode, View) {
    let suite = match p.suite.as_deref() {
        Some(s) => match s.parse::<Digest>() {
            Ok(d) => d,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    View::Problem(format!("parameter `suite` {s:?}: {e}")),
                );
            }
        },
        None => match snap.published.latest() {
            Some(s) => s.id,
            None => return (StatusCode::OK, View::NoSuite),
        },
    };
    let round = match p.round.as_deref().map(str::parse::<u32>).transpose() {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                View::Problem(format!("parameter `round`: {e}")),
            );
        }
    };
    let include_disputed = match p.include_disputed.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                View::Problem(format!(
                    "parameter `include_disputed`: expected true or false, got {other:?}"
                )),
            );
        }
    };
    let q = ComparabilityQuery {
        suite,
        round,
        include_disputed,
    };
    // The same computation as `reports::compute`, with the reason kept for the page.
    match governance::comparability(
        &snap.records,
        &snap.authority,
        &snap.equivocators,
        &q,
        &ReportConfig::default(),
    ) {
        Ok(c) => (StatusCode::OK, View::Report(Box::new(c))),
        Err(e @ GovernanceError::UnknownSuite(_)) => {
            (StatusCode::NOT_FOUND, View::Problem(e.to_string()))
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            View::Problem(e.to_string()),
        ),
    }
}

/// The whole page.
pub(crate) fn render(d: &PageData) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let (title, current, include) = match &d.view {
        View::Report(c) => (
            format!("{} {} · round {}", c.suite_name, c.suite_version, c.round),
            Some((c.suite.to_string(), c.round)),
            c.include_disputed,
        ),
        View::NoSuite => ("no suite published yet".to_owned(), None, false),
        View::Problem(_) => ("cannot show this selection".to_owned(), None, false),
    };
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Interlab — {}</title><style>{}</style></head><body>\
         <header class=\"top\"><h1>Interlab comparability dashboard</h1>\
         <div class=\"sub\">{} · node {} · root <span class=\"mono\">{}</span></div></header><main>",
        esc(&title),
        style::CSS,
        esc(&title),
        esc(&d.node),
        esc(&d.evidence.root.short())
    );
    s.push_str(&sections::selector(
        &d.suites,
        current.as_ref().map(|(a, b)| (a.as_str(), *b)),
        include,
    ));
    let own = d.own.as_ref();
    s.push_str(&yours::banner(own));
    s.push_str(&sections::evidence(&d.node, &d.evidence, &d.names));
    if let Some((suite, round)) = &current {
        let _ = write!(
            s,
            "<p id=\"round-report\" class=\"card\">Round report (ISO/IEC 17043): \
             <a href=\"/v1/report?suite={suite}&amp;round={round}&amp;format=pdf\">PDF</a> · \
             <a href=\"/v1/report?suite={suite}&amp;round={round}\">HTML</a></p>"
        );
    }
    match &d.view {
        View::NoSuite => s.push_str(
            "<section id=\"report\" class=\"card\"><h2>Comparability</h2><p class=\"note\">\
             No suite has been published in this scheme yet: there is nothing to compare. \
             The scheme owner publishes one with <code>interlab suite publish</code>.</p></section>",
        ),
        View::Problem(why) => {
            let _ = write!(
                s,
                "<section id=\"report\" class=\"card problem\"><h2>Comparability</h2>\
                 <p class=\"alarm\">{}</p></section>",
                esc(why)
            );
        }
        View::Report(c) => report(&mut s, c, &d.drift, own),
    }
    s.push_str(&sections::disputes(&d.disputes, &d.names));
    s.push_str("<div class=\"grid2\">");
    s.push_str(&sections::labs(&d.labs, own));
    s.push_str(&sections::forks(&d.forks, &d.names));
    s.push_str("</div>");
    let _ = write!(
        s,
        "</main><footer>Computed by node {} from {} accepted records at evidence root \
         <span class=\"mono\">{}</span>. Statistics: ISO 13528 (x_pt and σ_pt as the suite declares them, z/z′, ζ, En), \
         ISO 5725-2 (Mandel h, k), CUSUM/EWMA drift charts.</footer></body></html>",
        esc(&d.node),
        d.evidence.records,
        esc(&d.evidence.root.to_string())
    );
    s
}

fn summary(s: &mut String, c: &Comparability) {
    let counted = c.results.iter().filter(|r| r.counted && r.round == c.round);
    let labs: BTreeSet<&str> = counted.map(|r| r.lab_name.as_str()).collect();
    let kappa = c
        .fleiss
        .as_ref()
        .map_or("—".to_owned(), |f| svg::num(f.kappa));
    let open = c.disputes.iter().filter(|d| d.resolution.is_none()).count();
    let _ = write!(
        s,
        "<div class=\"summary\" id=\"summary\">\
         <div class=\"tile\"><div class=\"lbl\">Labs counted (round {})</div><div class=\"big\">{}</div></div>\
         <div class=\"tile\"><div class=\"lbl\">Results (all rounds)</div><div class=\"big\">{}</div></div>\
         <div class=\"tile\"><div class=\"lbl\">Flagged labs</div><div class=\"big\">{}</div></div>\
         <div class=\"tile\"><div class=\"lbl\">Fleiss κ</div><div class=\"big\">{}</div></div>\
         <div class=\"tile\"><div class=\"lbl\">Open disputes (suite)</div><div class=\"big\">{}</div></div></div>",
        c.round,
        labs.len(),
        c.results.len(),
        c.flags.len(),
        kappa,
        open
    );
}

fn report(s: &mut String, c: &Comparability, drift: &DriftConfig, own: Option<&yours::Own>) {
    let name = own.map(|o| o.name.as_str());
    summary(s, c);
    s.push_str(&sections::flags(c, own));
    let ms: Vec<&MeasurandReport> = c
        .report
        .iter()
        .flat_map(|r| &r.measurands)
        .filter(|m| m.round == u64::from(c.round))
        .collect();
    s.push_str("<section id=\"report\" class=\"card\"><h2>Assigned values and scores</h2>");
    if ms.is_empty() {
        let why = c
            .report_note
            .clone()
            .unwrap_or_else(|| format!("no measurand has results in round {}", c.round));
        let _ = write!(
            s,
            "<p class=\"note\">No statistics for round {}: {}.</p></section>",
            c.round,
            esc(&why)
        );
    } else {
        s.push_str(&sections::assigned(&ms));
        // Charts for the measurands the round scores (a declared σ_pt, or an assigned
        // value still pending); secondary metrics stay in the table above.
        let scored: Vec<&MeasurandReport> = ms
            .iter()
            .copied()
            .filter(|m| {
                m.assessment.sigma_pt.is_some()
                    || matches!(
                        m.assessment.x_pt_basis,
                        interlab_protocol::stats::assessment::XptBasis::Pending { .. }
                    )
            })
            .collect();
        let ms = if scored.is_empty() { ms } else { scored };
        for m in &ms {
            let _ = write!(
                s,
                "<div class=\"measurand\"><h3>{}</h3><div class=\"grid2\">{}{}{}</div></div>",
                esc(&m.measurand),
                charts::z_scores(m, name),
                charts::mandel_h(m, name),
                charts::mandel_k(m, name)
            );
        }
        s.push_str("</section>");
        // Mandel h across the test items of each test and metric.
        let mut groups: Vec<(String, Vec<&MeasurandReport>)> = Vec::new();
        for m in &ms {
            let parts: Vec<&str> = m.measurand.splitn(2, '/').collect();
            if parts.len() == 2 && parts[1].contains('/') {
                match groups.iter_mut().find(|(k, _)| k == parts[1]) {
                    Some((_, v)) => v.push(m),
                    None => groups.push((parts[1].to_owned(), vec![m])),
                }
            }
        }
        groups.retain(|(_, v)| v.len() > 1);
        if !groups.is_empty() {
            s.push_str(
                "<section id=\"mandel-items\" class=\"card\"><h2>Mandel h across test items</h2>",
            );
            for (k, v) in &groups {
                let _ = write!(
                    s,
                    "<div class=\"measurand\">{}</div>",
                    charts::mandel_h_across_items(k, v, name)
                );
            }
            s.push_str("</section>");
        }
        s.push_str("<section id=\"youden\" class=\"card\"><h2>Youden plot</h2>");
        match charts::youden_pair(&ms) {
            Some((i, j)) => {
                let _ = write!(
                    s,
                    "<div class=\"grid2 youden-box\">{}</div>",
                    charts::youden(ms[i], ms[j], name)
                );
            }
            None => s.push_str(&svg::empty(
                "youden",
                "Youden plot",
                "A Youden plot needs two measurands reported by the same labs; this round has fewer.",
            )),
        }
        s.push_str("</section><section id=\"control\" class=\"card\"><h2>Drift across rounds</h2>");
        for m in &ms {
            let _ = write!(
                s,
                "<div class=\"measurand\">{}</div>",
                charts::control(m, drift, name)
            );
        }
        s.push_str("</section>");
    }
    s.push_str(&sections::agreement(c, own));
    s.push_str(&sections::results(c, own));
}

#[cfg(test)]
mod tests;
