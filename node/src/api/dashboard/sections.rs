//! The tables of the dashboard: evidence and frontier, suite selector, assigned values,
//! criteria and verdict agreement, flags, disputes, results, labs and forks. All text
//! that came from the log (names, statements, reasons) is escaped here.

use std::{
    collections::BTreeMap,
    fmt::Write,
    time::{Duration, UNIX_EPOCH},
};

use interlab_protocol::{
    Direction, EvidenceState, Fork, Lab, PublicKey,
    governance::{Comparability, DisputeState, DisputeView},
    stats::{MeasurandReport, criteria::ImpliedThreshold},
};
use serde::Serialize;

use super::{
    SuiteEntry,
    svg::{esc, num, opt},
    yours::{self, Own},
};

/// A serde enum's wire word (`criterion-misapplied`), for display.
pub(crate) fn word(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// A record time as RFC 3339 (UTC, seconds, space for `T`), as HTML.
pub(crate) fn time(ms: u64) -> String {
    let t = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string();
    format!("<span class=\"time\">{}</span>", t.replace('T', " "))
}

/// Names for keys: lab names from the authority, "scheme owner" for the owner.
pub(crate) type Names = BTreeMap<PublicKey, String>;

fn who(names: &Names, k: &PublicKey) -> String {
    match names.get(k) {
        Some(n) => format!(
            "{} <span class=\"mono dim\">{}</span>",
            esc(n),
            esc(&k.short())
        ),
        None => format!("<span class=\"mono\">{}</span>", esc(&k.short())),
    }
}

/// Evidence root, record count and frontier: what a regulator compares across nodes.
pub(crate) fn evidence(node: &str, e: &EvidenceState, names: &Names) -> String {
    let mut s = format!(
        "<section id=\"evidence\" class=\"card\"><h2>Evidence</h2>\
         <p class=\"lead\">Everything on this page is computed from the accepted records below. \
         Two nodes showing the same root and count hold the same evidence and show the same \
         numbers.</p><dl class=\"kv\"><dt>Node</dt><dd>{}</dd><dt>Evidence root</dt>\
         <dd class=\"mono root\" id=\"evidence-root\">{}</dd><dt>Accepted records</dt>\
         <dd id=\"record-count\">{}</dd></dl>",
        esc(node),
        esc(&e.root.to_string()),
        e.records
    );
    if e.frontier.is_empty() {
        s.push_str(
            "<p class=\"note\">The log is empty: this node has not joined a scheme yet.</p>",
        );
    } else {
        let _ = write!(
            s,
            "<details><summary>Frontier ({} authors)</summary><table class=\"frontier\">\
             <thead><tr><th>Author</th><th>Last seq</th><th>Head record</th></tr></thead><tbody>",
            e.frontier.len()
        );
        for f in &e.frontier {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
                who(names, &f.author),
                f.seq,
                esc(&f.head.to_string())
            );
        }
        s.push_str("</tbody></table></details>");
    }
    s.push_str("</section>");
    s
}

/// Links to every published suite and its rounds; the current one is marked.
pub(crate) fn selector(
    suites: &[SuiteEntry],
    current: Option<(&str, u32)>,
    include: bool,
) -> String {
    let mut s = String::from("<nav id=\"suites\" class=\"card\"><h2>Suites and rounds</h2>");
    if suites.is_empty() {
        s.push_str("<p class=\"note\">No suite has been published in this scheme yet.</p></nav>");
        return s;
    }
    s.push_str("<ul class=\"suites\">");
    for su in suites {
        let id = su.id.to_string();
        let _ = write!(
            s,
            "<li><span class=\"suite-name\">{} {}</span> <span class=\"mono dim\">{}</span> ",
            esc(&su.name),
            esc(&su.version),
            esc(&su.id.short())
        );
        if su.rounds.is_empty() {
            s.push_str("<span class=\"dim\">no rounds yet</span>");
        }
        for r in &su.rounds {
            let on = current == Some((id.as_str(), *r));
            let _ = write!(
                s,
                "<a class=\"round{}\" href=\"/?suite={}&amp;round={r}{}\">round {r}</a>",
                if on { " current" } else { "" },
                esc(&id),
                if include {
                    "&amp;include_disputed=true"
                } else {
                    ""
                }
            );
        }
        s.push_str("</li>");
    }
    s.push_str("</ul>");
    if let Some((id, r)) = current {
        let _ = write!(
            s,
            "<p class=\"toggle\">{} <a href=\"/?suite={}&amp;round={r}{}\">{}</a></p>",
            if include {
                "Showing all results, including those excluded by upheld disputes."
            } else {
                "Results excluded by upheld disputes are left out."
            },
            esc(id),
            if include {
                ""
            } else {
                "&amp;include_disputed=true"
            },
            if include {
                "Leave them out"
            } else {
                "Include them"
            }
        );
    }
    s.push_str("</nav>");
    s
}

/// Assigned value, σ_pt, u(x_pt), their bases and the score used, per measurand.
pub(crate) fn assigned(ms: &[&MeasurandReport]) -> String {
    let mut s = String::from(
        "<table class=\"assigned\"><thead><tr><th>Measurand</th><th>Round</th><th>Labs</th>\
         <th>x<sub>pt</sub></th><th>u(x<sub>pt</sub>)</th><th>x<sub>pt</sub> basis</th>\
         <th>σ<sub>pt</sub></th><th>σ<sub>pt</sub> basis</th><th>Score</th>\
         <th>Notes</th></tr></thead><tbody>",
    );
    for m in ms {
        let a = &m.assessment;
        let score = match (a.score, a.u_negligible) {
            (Some(k), Some(true)) => format!("{k} (u(x<sub>pt</sub>) ≤ 0.3 σ<sub>pt</sub>)"),
            (Some(k), Some(false)) => format!("{k} (u(x<sub>pt</sub>) &gt; 0.3 σ<sub>pt</sub>)"),
            (Some(k), None) => k.to_string(),
            (None, _) => "none".to_owned(),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num strong\">{}</td><td class=\"num\">{}</td><td class=\"small\">{}</td>\
             <td class=\"num\">{}</td><td class=\"small\">{}</td><td>{score}</td>\
             <td class=\"small\">{}</td></tr>",
            esc(&m.measurand),
            m.round,
            m.p,
            opt(a.x_pt),
            opt(a.u_x_pt),
            esc(&a.x_pt_basis.to_string()),
            opt(a.sigma_pt),
            esc(&a.sigma_pt_basis.to_string()),
            notes(&m.notes)
        );
    }
    s.push_str("</tbody></table>");
    s
}

fn notes(notes: &[String]) -> String {
    if notes.is_empty() {
        return "—".to_owned();
    }
    let body: String = notes
        .iter()
        .map(|n| format!("<div>{}</div>", esc(n)))
        .collect();
    format!(
        "<details><summary>{} note{}</summary>{body}</details>",
        notes.len(),
        if notes.len() == 1 { "" } else { "s" }
    )
}

/// The harmonized criteria, verdict agreement per lab and test, implied thresholds and κ.
pub(crate) fn agreement(c: &Comparability, own: Option<&Own>) -> String {
    let mut s =
        String::from("<section id=\"agreement\" class=\"card\"><h2>Verdicts and criteria</h2>");
    if c.criteria.is_empty() {
        s.push_str("<p class=\"note\">The suite sets no acceptance criteria.</p>");
    } else {
        s.push_str(
            "<table class=\"criteria\"><thead><tr><th>Test</th><th>Harmonized criterion</th>\
             </tr></thead><tbody>",
        );
        for (test, cr) in &c.criteria {
            let dir = match cr.direction {
                Direction::AtLeast => "≥",
                Direction::AtMost => "≤",
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>pass when {} {dir} {}</td></tr>",
                esc(test),
                esc(&cr.metric),
                num(cr.threshold)
            );
        }
        s.push_str("</tbody></table>");
    }
    for ch in &c.criteria_changes {
        let _ = write!(
            s,
            "<p class=\"note alarm\">Criterion of {} changed against the superseded suite version.</p>",
            esc(&ch.test)
        );
    }
    if c.agreement.is_empty() {
        s.push_str("<p class=\"note\">No counted verdicts to compare with the criteria.</p>");
    } else {
        s.push_str(
            "<table class=\"agreement\"><thead><tr><th>Lab</th><th>Test</th>\
             <th>Names suite criterion</th><th>Verdicts</th><th>Agreement</th>\
             <th>Disagreements</th><th>Implied threshold</th></tr></thead><tbody>",
        );
        for a in &c.agreement {
            let bad = !a.named_suite_criterion || !a.agreement.disagreements.is_empty();
            let mine = own.filter(|o| o.is(&a.lab));
            let _ = write!(
                s,
                "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                yours::row(mine, if bad { "flagged" } else { "" }),
                yours::badge(mine),
                esc(&a.lab),
                esc(&a.test),
                if a.named_suite_criterion {
                    "yes"
                } else {
                    "<b>no</b>"
                },
                a.agreement.n,
                a.agreement
                    .rate
                    .map_or_else(|| "—".to_owned(), |r| format!("{:.0} %", r * 100.0)),
                a.agreement.disagreements.len(),
                implied(&a.implied_threshold)
            );
        }
        s.push_str("</tbody></table>");
    }
    match (&c.fleiss, &c.fleiss_note) {
        (Some(f), _) => {
            let _ = write!(
                s,
                "<p>Fleiss κ of the labs' verdicts in round {}: <b>{}</b> (se₀ {}, {} tests, {} labs).</p>",
                c.round,
                num(f.kappa),
                num(f.se0),
                f.items,
                num(f.raters)
            );
        }
        (None, Some(n)) => {
            let _ = write!(s, "<p class=\"note\">Fleiss κ: {}</p>", esc(n));
        }
        (None, None) => {}
    }
    s.push_str("</section>");
    s
}

fn implied(t: &ImpliedThreshold) -> String {
    match t {
        ImpliedThreshold::Logistic { x50, se, .. } => format!("{} ± {}", num(*x50), num(*se)),
        ImpliedThreshold::Separated { lower, upper, .. } => {
            format!("in ({}, {})", num(*lower), num(*upper))
        }
        ImpliedThreshold::Undetermined { reason } => {
            format!("<span class=\"dim\">{}</span>", esc(reason))
        }
    }
}

/// Labs the network flags, with every reason.
pub(crate) fn flags(c: &Comparability, own: Option<&Own>) -> String {
    let mut s = String::from("<section id=\"flags\" class=\"card\"><h2>Flagged labs</h2>");
    if c.flags.is_empty() {
        s.push_str("<p class=\"ok-note\">No lab is flagged in this round.</p></section>");
        return s;
    }
    s.push_str("<ul class=\"flags\">");
    for f in &c.flags {
        let kinds: String = f
            .kinds
            .iter()
            .map(|k| format!("<span class=\"badge bad\">{}</span>", esc(k)))
            .collect();
        let reasons: String = f
            .reasons
            .iter()
            .map(|r| format!("<li>{}</li>", esc(r)))
            .collect();
        let mine = own.filter(|o| o.key == f.key);
        let _ = write!(
            s,
            "<li{}>{}<b>{}</b> <span class=\"mono dim\">{}</span> {kinds}<ul>{reasons}</ul></li>",
            yours::row(mine, "flag"),
            yours::badge(mine),
            esc(&f.lab),
            esc(&f.key.short())
        );
    }
    s.push_str("</ul></section>");
    s
}

/// Open (and answered) and resolved disputes of the whole scheme.
pub(crate) fn disputes(all: &[DisputeView], names: &Names) -> String {
    let mut s = String::from("<section id=\"disputes\" class=\"card\"><h2>Disputes</h2>");
    let (open, resolved): (Vec<&DisputeView>, Vec<&DisputeView>) =
        all.iter().partition(|d| d.state != DisputeState::Resolved);
    for (title, list, class) in [
        ("Open", &open, "disputes-open"),
        ("Resolved", &resolved, "disputes-resolved"),
    ] {
        let _ = write!(s, "<h3>{title} ({})</h3>", list.len());
        if list.is_empty() {
            let _ = write!(s, "<p class=\"note {class}\">None.</p>");
            continue;
        }
        let _ = write!(
            s,
            "<table class=\"{class}\"><thead><tr><th>Opened</th><th>By</th><th>Against</th>\
             <th>Grounds</th><th>Statement</th><th>Responses</th><th>State / resolution</th>\
             </tr></thead><tbody>"
        );
        for d in list.iter() {
            let against = d
                .target_author
                .as_ref()
                .map_or_else(|| "unknown record".to_owned(), |k| who(names, k));
            let responses: String = d
                .responses
                .iter()
                .map(|r| {
                    format!(
                        "<div>{}: “{}”</div>",
                        who(names, &r.author),
                        esc(&r.statement)
                    )
                })
                .collect();
            let state = match &d.resolution {
                Some(r) => format!(
                    "<span class=\"badge {}\">{}</span> action {}<div class=\"small\">“{}”</div>",
                    if word(&r.outcome) == "upheld" {
                        "bad"
                    } else {
                        "ok"
                    },
                    esc(&word(&r.outcome)),
                    esc(&word(&r.action)),
                    esc(&r.statement)
                ),
                None => format!("<span class=\"badge warn\">{}</span>", esc(&word(&d.state))),
            };
            let _ = write!(
                s,
                "<tr><td class=\"small\">{}</td><td>{}</td><td>{}<div class=\"mono dim\">{}</div></td>\
                 <td>{}</td><td>{}</td><td class=\"small\">{}</td><td>{state}</td></tr>",
                time(d.time_ms),
                who(names, &d.author),
                against,
                esc(&d.target.short()),
                esc(&word(&d.grounds)),
                esc(&d.statement),
                if responses.is_empty() {
                    "—".to_owned()
                } else {
                    responses
                }
            );
        }
        s.push_str("</tbody></table>");
    }
    s.push_str("</section>");
    s
}

/// Every result of the suite up to this round and whether it counts.
pub(crate) fn results(c: &Comparability, own: Option<&Own>) -> String {
    let mut s = String::from("<section id=\"results\" class=\"card\"><h2>Results</h2>");
    if c.results.is_empty() {
        s.push_str(
            "<p class=\"note\">No lab has submitted a result for this suite yet.</p></section>",
        );
        return s;
    }
    s.push_str(
        "<table class=\"results\"><thead><tr><th>Lab</th><th>Round</th><th>Recorded</th>\
         <th>Counted</th><th>Environment</th><th>Record</th></tr></thead><tbody>",
    );
    let mut rows: Vec<_> = c.results.iter().collect();
    rows.sort_by(|a, b| (a.round, &a.lab_name, a.time_ms).cmp(&(b.round, &b.lab_name, b.time_ms)));
    for r in rows {
        let counted = if r.counted {
            "<span class=\"badge ok\">counted</span>".to_owned()
        } else {
            format!(
                "<span class=\"badge warn\">not counted</span> <span class=\"small\">{}</span>",
                esc(r.reason.as_deref().unwrap_or(""))
            )
        };
        let mine = own.filter(|o| o.key == r.lab);
        let _ = write!(
            s,
            "<tr{}><td>{}{}</td><td class=\"num\">{}</td><td class=\"small\">{}{}</td><td>{counted}</td>\
             <td class=\"small\">{} · {} thread(s){}</td><td class=\"mono dim\">{}</td></tr>",
            yours::row(mine, ""),
            yours::badge(mine),
            esc(&r.lab_name),
            r.round,
            time(r.time_ms),
            if r.late {
                " <span class=\"badge warn\">late</span>"
            } else {
                ""
            },
            esc(&r.executor),
            r.threads,
            if r.rerun_of.is_some() {
                " · re-run"
            } else {
                ""
            },
            esc(&r.id.short())
        );
    }
    s.push_str("</tbody></table></section>");
    s
}

/// The labs the owner accredited and where they stand.
pub(crate) fn labs(labs: &[Lab], own: Option<&Own>) -> String {
    let mut s = String::from("<section id=\"labs\" class=\"card\"><h2>Labs</h2>");
    if labs.is_empty() {
        s.push_str("<p class=\"note\">No lab has been accredited yet.</p></section>");
        return s;
    }
    s.push_str(
        "<table class=\"labs\"><thead><tr><th>Lab</th><th>Key</th><th>Status</th>\
         <th>Accredited</th><th>Notes</th></tr></thead><tbody>",
    );
    for l in labs {
        let status = l.status();
        let class = match status {
            "accredited" => "ok",
            "suspended" => "warn",
            _ => "bad",
        };
        let notes: Vec<String> = l
            .suspension_reasons
            .iter()
            .map(|r| format!("suspended: {}", esc(r)))
            .chain(
                l.revoked_reason
                    .iter()
                    .map(|r| format!("revoked: {}", esc(r))),
            )
            .collect();
        let mine = own.filter(|o| o.key == l.key);
        let _ = write!(
            s,
            "<tr{}><td>{}{}</td><td class=\"mono dim\">{}</td><td><span class=\"badge {class}\">{status}</span></td>\
             <td class=\"small\">{}</td><td class=\"small\">{}</td></tr>",
            yours::row(mine, ""),
            yours::badge(mine),
            esc(&l.name),
            esc(&l.key.short()),
            time(l.accredited_ms),
            notes.join("<br>")
        );
    }
    s.push_str("</tbody></table></section>");
    s
}

/// Verified fork proofs (equivocations).
pub(crate) fn forks(forks: &[Fork], names: &Names) -> String {
    let mut s = String::from("<section id=\"forks\" class=\"card\"><h2>Forks</h2>");
    if forks.is_empty() {
        s.push_str("<p class=\"ok-note\">No equivocation seen: no author signed two records at one position.</p></section>");
        return s;
    }
    s.push_str(
        "<table class=\"forks\"><thead><tr><th>Author</th><th>Seq</th><th>Record A</th>\
         <th>Record B</th></tr></thead><tbody>",
    );
    for f in forks {
        let _ = write!(
            s,
            "<tr class=\"flagged\"><td>{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            who(names, &f.author),
            f.seq,
            esc(&f.ids.0.short()),
            esc(&f.ids.1.short())
        );
    }
    s.push_str("</tbody></table></section>");
    s
}
