//! Rendering tests on reports computed by the real statistics from chosen observations.

use std::collections::BTreeMap;

use interlab_protocol::{
    Criterion, Digest, Direction, EvidenceState, FrontierEntry, domain,
    governance::Comparability,
    stats::{self, Observation, Report, ReportConfig},
    testkit::Author,
};

use super::*;

/// `(lab, measurand, round, values)`; a `None` value is an empty cell.
type Cells<'a> = &'a [(&'a str, &'a str, u64, &'a [Option<f64>])];

/// The report with σ_pt declared as the participants' robust SD (the charts need scores).
fn report(cells: Cells<'_>) -> Report {
    let cfg = ReportConfig {
        default_assessment: stats::Assessment {
            sigma_pt: stats::SigmaPt::Participants,
            ..stats::Assessment::default()
        },
        ..ReportConfig::default()
    };
    report_with(cells, &cfg)
}

fn report_with(cells: Cells<'_>, cfg: &ReportConfig) -> Report {
    let mut obs = Vec::new();
    for (lab, measurand, round, values) in cells {
        for v in *values {
            obs.push(Observation {
                lab: (*lab).to_owned(),
                measurand: (*measurand).to_owned(),
                value: *v,
                u: Some(0.01),
                expanded: None,
                verdict: None,
                round: Some(*round),
                method: None,
                conforming: true,
            });
        }
    }
    stats::comparability_report(&obs, cfg).unwrap()
}

fn comparability(round: u32, report: Option<Report>) -> Comparability {
    Comparability {
        suite: Digest::of(domain::SUITE, b"suite"),
        suite_name: "digits-mlp".into(),
        suite_version: "1.0.0".into(),
        round,
        deadline_ms: None,
        include_disputed: false,
        criteria: vec![(
            "fgsm".into(),
            Criterion {
                metric: "robust_accuracy".into(),
                threshold: 0.25,
                direction: Direction::AtLeast,
            },
        )],
        items: vec![],
        reference_run: None,
        criteria_changes: vec![],
        results: vec![],
        report_note: report
            .is_none()
            .then(|| "no counted results for this suite and round".to_owned()),
        report,
        agreement: vec![],
        fleiss: None,
        fleiss_note: Some("κ needs at least two labs".into()),
        flags: vec![],
        disputes: vec![],
    }
}

fn page(view: View) -> String {
    page_as(view, None)
}

/// The page as the node of lab `own` (or of no lab) renders it.
fn page_as(view: View, own: Option<yours::Own>) -> String {
    let author = Author::new(7).public();
    render(&PageData {
        node: "lab0".into(),
        evidence: EvidenceState {
            root: Digest::of(domain::REPORT, b"root"),
            records: 12,
            frontier: vec![FrontierEntry {
                author,
                seq: 3,
                head: Digest::of(domain::RECORD_ID, b"head"),
            }],
        },
        suites: vec![SuiteEntry {
            id: Digest::of(domain::SUITE, b"suite"),
            name: "digits-mlp".into(),
            version: "1.0.0".into(),
            rounds: vec![1, 2],
        }],
        view,
        disputes: vec![],
        labs: vec![],
        forks: vec![],
        names: BTreeMap::from([(author, "<i>owner</i>".to_owned())]),
        drift: DriftConfig::default(),
        own,
    })
}

/// The counts of every `<svg class="chart CLASS…" ATTR="N"`.
fn counts(html: &str, class: &str, attr: &str) -> Vec<usize> {
    let needle = format!("class=\"chart {class}\" {attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

const A: &str = "fgsm/robust_accuracy";
const B: &str = "pgd/robust_accuracy";

fn three_labs_two_rounds() -> Report {
    report(&[
        ("alpha", A, 1, &[Some(0.30), Some(0.31)]),
        ("beta", A, 1, &[Some(0.28), Some(0.27)]),
        ("gamma", A, 1, &[Some(0.35), Some(0.33)]),
        ("alpha", B, 1, &[Some(0.20), Some(0.22)]),
        ("beta", B, 1, &[Some(0.18), Some(0.19)]),
        ("gamma", B, 1, &[Some(0.25), Some(0.24)]),
        ("alpha", A, 2, &[Some(0.29), Some(0.30)]),
        ("beta", A, 2, &[Some(0.27), Some(0.28)]),
        ("gamma", A, 2, &[Some(0.36), Some(0.37)]),
        ("alpha", B, 2, &[Some(0.21), Some(0.20)]),
        ("beta", B, 2, &[Some(0.17), Some(0.18)]),
        ("gamma", B, 2, &[Some(0.26), Some(0.27)]),
    ])
}

#[test]
fn a_full_round_draws_one_bar_per_lab_in_every_chart() {
    let html = page(View::Report(Box::new(comparability(
        2,
        Some(three_labs_two_rounds()),
    ))));
    assert_eq!(counts(&html, "z-scores", "data-bars"), vec![3, 3]);
    assert_eq!(counts(&html, "mandel-h", "data-bars"), vec![3, 3]);
    assert_eq!(counts(&html, "mandel-k", "data-bars"), vec![3, 3]);
    assert_eq!(counts(&html, "youden", "data-points"), vec![3]);
    // Two rounds × three labs; CUSUM draws C⁺ and C⁻.
    assert_eq!(counts(&html, "control ewma", "data-points"), vec![6, 6]);
    assert_eq!(counts(&html, "control cusum", "data-points"), vec![12, 12]);
    assert_eq!(html.matches("<rect class=\"bar ").count(), 18);
    assert!(html.contains("class=\"round current\" href=\"/?suite="));
    assert!(
        !html.contains("class=\"chart-empty"),
        "a chart fell back to a message: {}",
        &html[html.find("class=\"chart-empty").unwrap_or(0)..][..400]
    );
}

#[test]
fn lab_names_statements_and_node_names_are_escaped_everywhere() {
    let evil = "<script>alert('x')</script>";
    let r = report(&[
        (evil, A, 1, &[Some(0.30)]),
        ("beta", A, 1, &[Some(0.28)]),
        ("gamma", A, 1, &[Some(0.35)]),
    ]);
    let mut c = comparability(1, Some(r));
    c.report_note = Some("<img src=x onerror=alert(1)>".into());
    let html = page(View::Report(Box::new(c)));
    assert!(!html.contains("<script>"), "raw script tag in the page");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!html.contains("<i>owner</i>"));
    assert!(html.contains("&lt;i&gt;owner&lt;/i&gt;"));
    let problem = page(View::Problem("suite \"<b>\" is unknown".into()));
    assert!(problem.contains("suite &quot;&lt;b&gt;&quot; is unknown"));
}

#[test]
fn the_page_links_the_round_report_of_the_round_shown() {
    let c = comparability(2, Some(three_labs_two_rounds()));
    let link = format!(
        "<a href=\"/v1/report?suite={}&amp;round=2&amp;format=pdf\">PDF</a>",
        c.suite
    );
    let html = page(View::Report(Box::new(c)));
    assert!(html.contains(&link), "no link to the round report");
    assert!(!page(View::NoSuite).contains("id=\"round-report\""));
}

#[test]
fn a_node_without_a_suite_says_so_instead_of_drawing_charts() {
    let html = page(View::NoSuite);
    assert!(html.contains("No suite has been published"));
    assert!(!html.contains("<svg"));
    assert!(html.contains("id=\"evidence-root\""));
}

#[test]
fn a_round_without_counted_results_names_the_reason() {
    let html = page(View::Report(Box::new(comparability(1, None))));
    assert!(html.contains("No statistics for round 1: no counted results"));
    assert!(!html.contains("<svg"));
}

#[test]
fn a_round_with_only_earlier_results_shows_no_stale_charts() {
    // The report holds round 1 only; round 2 is selected.
    let r = report(&[("alpha", A, 1, &[Some(0.3)]), ("beta", A, 1, &[Some(0.2)])]);
    let html = page(View::Report(Box::new(comparability(2, Some(r)))));
    assert!(html.contains("No statistics for round 2"));
    assert!(!html.contains("<svg"));
}

#[test]
fn identical_results_explain_why_z_is_undefined() {
    let r = report(&[
        ("alpha", A, 1, &[Some(0.75)]),
        ("beta", A, 1, &[Some(0.75)]),
        ("gamma", A, 1, &[Some(0.75)]),
    ]);
    let html = page(View::Report(Box::new(comparability(1, Some(r)))));
    assert!(
        html.contains("chart-empty z-scores"),
        "{}",
        &html[html.find("Assigned").unwrap()..]
    );
    assert!(
        html.contains("No σ_pt is available (see the notes), so there are no scores."),
        "{html}"
    );
    assert!(html.contains("the data have no scale"));
    assert!(html.contains("chart-empty mandel-k"));
    assert!(html.contains("needs replicates"));
    assert!(html.contains("chart-empty youden"));
}

#[test]
fn a_measurand_without_a_declared_sigma_is_shown_for_information_and_not_scored() {
    let r = report_with(
        &[
            ("alpha", A, 1, &[Some(0.30)]),
            ("beta", A, 1, &[Some(0.28)]),
            ("gamma", A, 1, &[Some(0.45)]),
        ],
        &ReportConfig::default(),
    );
    let html = page(View::Report(Box::new(comparability(1, Some(r)))));
    assert!(
        html.contains("undeclared (for information, not scored)"),
        "{html}"
    );
    assert!(
        html.contains("no σ_pt is declared for this measurand"),
        "{html}"
    );
    assert!(
        html.contains("No σ_pt is declared: the measurand is for information and is not scored."),
        "{html}"
    );
    assert!(html.contains("chart-empty z-scores"));
}

#[test]
fn a_single_lab_renders_readable_messages_not_broken_charts() {
    let r = report(&[("alpha", A, 1, &[Some(0.3), Some(0.31)])]);
    let html = page(View::Report(Box::new(comparability(1, Some(r)))));
    assert!(html.contains("chart-empty z-scores"), "{html}");
    assert!(html.contains("chart-empty mandel-h"));
    assert!(html.contains("chart-empty control"));
    assert!(!html.contains("NaN") && !html.contains("inf"));
}

#[test]
fn a_lab_without_values_is_listed_as_not_available() {
    let r = report(&[
        ("alpha", A, 1, &[Some(0.30)]),
        ("beta", A, 1, &[Some(0.28)]),
        ("gamma", A, 1, &[Some(0.35)]),
        ("delta", A, 1, &[None]),
    ]);
    let html = page(View::Report(Box::new(comparability(1, Some(r)))));
    assert_eq!(counts(&html, "z-scores", "data-bars"), vec![3]);
    assert!(html.contains(">n/a</text>"));
}

#[test]
fn the_youden_pair_prefers_two_different_tests() {
    let r = report(&[
        ("alpha", "fgsm/a", 1, &[Some(1.0)]),
        ("alpha", "fgsm/b", 1, &[Some(2.0)]),
        ("alpha", "pgd/a", 1, &[Some(3.0)]),
    ]);
    let ms: Vec<&MeasurandReport> = r.measurands.iter().collect();
    assert_eq!(charts::youden_pair(&ms), Some((0, 2)));
    assert_eq!(charts::youden_pair(&ms[..1]), None);
}

/// Every `data-yours` value on the page, with the tag name that carries it.
fn marked(html: &str) -> Vec<(String, String)> {
    html.match_indices(" data-yours=\"")
        .map(|(i, m)| {
            let tag_start = html[..i].rfind('<').unwrap();
            let tag = html[tag_start + 1..].split([' ', '>']).next().unwrap();
            let rest = &html[i + m.len()..];
            (tag.to_owned(), rest[..rest.find('"').unwrap()].to_owned())
        })
        .collect()
}

fn result_line(lab: u64, name: &str) -> interlab_protocol::governance::ResultLine {
    interlab_protocol::governance::ResultLine {
        id: Digest::of(domain::RECORD_ID, name.as_bytes()),
        lab: Author::new(lab).public(),
        lab_name: name.into(),
        round: 2,
        time_ms: 1_700_000_000_000,
        late: false,
        counted: true,
        reason: None,
        threads: 2,
        executor: "cpu".into(),
        method: interlab_protocol::Method::Reference,
        conforming: true,
        rerun_of: None,
    }
}

#[test]
fn a_labs_own_node_marks_its_rows_bars_and_points_and_nothing_of_other_labs() {
    let mut c = comparability(2, Some(three_labs_two_rounds()));
    c.results = vec![
        result_line(1, "alpha"),
        result_line(2, "beta"),
        result_line(3, "gamma"),
    ];
    let beta = yours::Own {
        key: Author::new(2).public(),
        name: "beta".into(),
    };
    let html = page_as(View::Report(Box::new(c.clone())), Some(beta));
    let marks = marked(&html);
    assert!(
        marks.iter().all(|(_, lab)| lab == "beta"),
        "another lab is marked: {marks:?}"
    );
    let count = |tag: &str| marks.iter().filter(|(t, _)| t == tag).count();
    // z, Mandel h and Mandel k of two measurands: one bar each.
    assert_eq!(count("rect"), 6, "{marks:?}");
    // The Youden point, and per measurand C⁺, −C⁻ and EWMA lines.
    assert_eq!(count("circle"), 1);
    assert_eq!(count("polyline"), 6);
    // The results row, and the lab in the Youden and two control-chart legends.
    assert_eq!(count("tr"), 1);
    assert_eq!(count("span"), 3);
    assert!(html.contains("<tr class=\"yours\" data-yours=\"beta\"><td><span class=\"badge yours\">your results</span> beta</td>"));
    assert!(html.contains("<text class=\"cat yours\""));
    assert!(html.contains("id=\"your-results\""));

    // The owner's (or a regulator's) node marks nothing.
    let neutral = page_as(View::Report(Box::new(c)), None);
    assert!(marked(&neutral).is_empty());
    for mark in ["id=\"your-results\"", "class=\"badge yours\"", " yours\""] {
        assert!(!neutral.contains(mark), "an unmarked page has {mark}");
    }
}
