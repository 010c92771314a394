#![allow(clippy::unwrap_used)]

use interlab_protocol::{
    Body, Digest, MemoryLog, TestResult,
    governance::{AssignedDecl, MetricAssessment},
    stats::{ConsensusMethod, SigmaPt},
    testkit::{TestScheme, sample_criterion, sample_run_result},
    to_canonical_vec,
};

use super::{ReportError, build};
use crate::api::reports::Snapshot;

const NOW: u64 = u64::MAX / 2;
const SECTIONS: [&str; 10] = [
    "scheme",
    "items",
    "design",
    "results",
    "assigned",
    "charts",
    "verdicts",
    "disputes",
    "interpretation",
    "verification",
];

#[derive(serde::Serialize)]
struct ManifestTest {
    id: String,
    criterion: interlab_protocol::Criterion,
    assessment: Vec<MetricAssessment>,
}

#[derive(serde::Serialize)]
struct Manifest {
    tests: Vec<ManifestTest>,
}

/// Five labs, two tests, two rounds; lab-4 far off in round 2. `close`: the owner signs
/// a record after round 2's deadline.
fn log(close: bool) -> (Snapshot, Digest, TestScheme) {
    let mut s = TestScheme::new("Interlab PT scheme", 5, 31);
    let manifest = to_canonical_vec(&Manifest {
        tests: ["pgd", "fgsm"]
            .iter()
            .map(|t| ManifestTest {
                id: (*t).into(),
                criterion: sample_criterion(),
                // Robust accuracy is scored, with σ_pt declared explicitly as the
                // participants' robust SD; clean accuracy is left undeclared.
                assessment: vec![MetricAssessment {
                    metric: "robust_accuracy".into(),
                    assigned: AssignedDecl::Consensus {
                        method: ConsensusMethod::AlgorithmA,
                    },
                    sigma_pt: SigmaPt::Participants,
                }],
            })
            .collect(),
    });
    let suite = Digest::of(interlab_protocol::domain::SUITE, &manifest);
    let mut all = s.bytes();
    all.push(
        s.owner
            .next(Body::SuitePublished {
                suite,
                name: "evasion".into(),
                version: "1.0".into(),
                manifest,
                artefacts: vec![],
                supersedes: None,
            })
            .to_bytes(),
    );
    for round in 1..=2u32 {
        let now = s
            .owner
            .record(Body::LabReinstated {
                lab: s.labs[0].public(),
            })
            .time_ms;
        let deadline = now + 2000;
        all.push(
            s.owner
                .next(Body::RoundOpened {
                    suite,
                    round,
                    deadline_ms: Some(deadline),
                })
                .to_bytes(),
        );
        for (i, lab) in s.labs.iter_mut().enumerate() {
            let off = [-0.01, -0.004, 0.0, 0.005, 0.011][i];
            let v = if round == 2 && i == 4 { 0.9 } else { 0.5 + off };
            let mut r = sample_run_result(suite, round, v);
            let mut fgsm: TestResult = r.tests[0].clone();
            fgsm.test = "fgsm".into();
            fgsm.measurements[0].values = vec![v - 0.1, v - 0.1 + 0.002];
            fgsm.measurements[0].mean = v - 0.099;
            // A secondary metric every lab measures alike: no σ_pt, not scored.
            let mut clean = fgsm.measurements[0].clone();
            clean.metric = "clean_accuracy".into();
            clean.values = vec![0.95, 0.95];
            clean.mean = 0.95;
            fgsm.measurements.push(clean.clone());
            // A secondary metric whose labs differ (one far off), but that all ran one
            // engine: no σ_pt is declared, so it is for information and never scored.
            let mut queries = clean;
            queries.metric = "median_queries".into();
            let q = [800.0, 805.0, 810.0, 812.0, 990.0][i];
            queries.values = vec![q, q + 2.0];
            queries.mean = q + 1.0;
            fgsm.measurements.push(queries);
            r.tests.push(fgsm);
            all.push(lab.next(Body::RunResult(r)).to_bytes());
        }
        if round == 2 && close {
            // The owner's third record after the opening is timed after the deadline.
            for _ in 0..3 {
                let body = Body::LabReinstated {
                    lab: s.labs[0].public(),
                };
                all.push(s.owner.next(body).to_bytes());
            }
        }
    }
    let mut log = MemoryLog::new();
    let rejected = log.ingest_all(&all, NOW);
    assert!(rejected.is_empty(), "{rejected:?}");
    let snap = Snapshot::new(
        log.evidence(),
        log.records().cloned().map(std::sync::Arc::new).collect(),
        Vec::new(),
        log.authority().clone(),
    );
    (snap, suite, s)
}

#[test]
fn the_report_names_every_section_and_every_lab_in_html_and_pdf() {
    let (snap, suite, _) = log(false);
    let r = build(&snap, suite, 2, None).unwrap();
    let html = r.html();
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    for i in 0..5 {
        assert!(html.contains(&format!("lab-{i}")), "lab-{i}");
    }
    assert!(html.contains(&snap.evidence.root.to_hex()));
    assert!(html.contains(&r.digest().to_hex()));
    assert!(html.contains("<svg"), "charts are drawn");
    assert!(
        html.contains("action signal (|score| ≥ 3) for lab-4"),
        "{html}"
    );
    let pdf = r.pdf().unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn the_same_evidence_renders_to_byte_identical_pdf_and_digest() {
    let (a, suite, _) = log(true);
    let (b, _, _) = log(true);
    let ra = build(&a, suite, 2, None).unwrap();
    let rb = build(&b, suite, 2, None).unwrap();
    assert_eq!(ra.digest(), rb.digest());
    assert_eq!(ra.pdf().unwrap(), rb.pdf().unwrap());
    assert_eq!(ra.html(), rb.html());
    // Another round is another report.
    let r1 = build(&a, suite, 1, None).unwrap();
    assert_ne!(r1.digest(), ra.digest());
}

#[test]
fn a_round_is_interim_until_the_owner_signs_after_its_deadline() {
    let (open, suite, _) = log(false);
    let (closed, _, _) = log(true);
    let r = build(&open, suite, 2, None).unwrap();
    assert!(
        r.html()
            .contains("interim: the scheme owner has signed no record after the deadline")
    );
    let r = build(&closed, suite, 2, None).unwrap();
    assert!(r.html().contains("final: the deadline"), "{}", r.html());
}

#[test]
fn unknown_suites_and_rounds_are_named_in_the_error() {
    let (snap, suite, _) = log(false);
    let other = Digest::of(interlab_protocol::domain::SUITE, b"nope");
    assert_eq!(
        build(&snap, other, 1, None).unwrap_err(),
        ReportError::UnknownSuite(other)
    );
    assert_eq!(
        build(&snap, suite, 9, None).unwrap_err(),
        ReportError::UnknownRound { suite, round: 9 }
    );
}

#[test]
fn a_labs_own_node_marks_its_rows_as_your_results() {
    let (snap, suite, s) = log(false);
    let r = build(&snap, suite, 2, Some(s.labs[2].public())).unwrap();
    let html = r.html();
    assert!(
        html.contains("<tr class=\"yours\"><td>▶ lab-2</td>"),
        "{html}"
    );
    assert!(html.contains("are your results"));
    let plain = build(&snap, suite, 2, None).unwrap();
    assert!(!plain.html().contains("class=\"yours\""));
}

#[test]
fn measurands_without_sigma_pt_are_listed_for_information_and_not_scored() {
    let (snap, suite, _) = log(false);
    let html = build(&snap, suite, 2, None).unwrap().html();
    let section = |id: &str| {
        let at = html.find(&format!("<section id=\"{id}\">")).unwrap();
        &html[at..at + html[at..].find("</section>").unwrap()]
    };
    let assigned = section("assigned");
    let info = assigned
        .find("Measurands reported for information (not scored)")
        .expect("no table of measurands for information");
    assert!(
        assigned[info..].contains("<td>fgsm/clean_accuracy</td><td>5</td><td>0.95</td>"),
        "{assigned}"
    );
    assert!(
        assigned[info..]
            .contains("<td>all 0.95</td><td>no σ_pt is declared: reported for information</td>")
    );
    // A secondary metric with spread is for information too: its participants' SD is
    // not σ_pt, so lab-4's query count (far off) is not scored.
    assert!(
        assigned[info..].contains(
            "<td>fgsm/median_queries</td><td>5</td><td>813.7</td><td>consensus (Algorithm A)</td>\
             <td>801 to 991</td><td>no σ_pt is declared: reported for information</td>"
        ),
        "{assigned}"
    );
    assert!(!assigned.contains("<h3>fgsm/median_queries</h3>"));
    assert!(!section("charts").contains("median_queries"));
    assert!(!section("interpretation").contains("median_queries"));
    // No scoring block, chart or comment for it; the scored measurands keep theirs.
    assert!(!assigned.contains("<h3>fgsm/clean_accuracy</h3>"));
    assert!(assigned.contains("<h3>fgsm/robust_accuracy</h3>"));
    assert!(!section("charts").contains("clean_accuracy"));
    assert!(!section("interpretation").contains("clean_accuracy"));
    // Its lab values stay in the participants' results.
    assert!(section("results").contains("Results for fgsm/clean_accuracy"));
}

#[test]
fn the_html_prints_the_pdf_footer_with_page_numbers() {
    let (snap, suite, _) = log(false);
    let r = build(&snap, suite, 2, None).unwrap();
    let footer = format!(
        "@bottom-right{{font-size:8pt;color:#555;content:\"Report {} · interim · page \" \
         counter(page) \" of \" counter(pages)}}",
        r.number()
    );
    assert!(r.html().contains(&footer), "{}", r.html());
}
