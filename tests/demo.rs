//! `interlab demo` end to end: a real network, a realistic round over several test items,
//! and the right labs flagged for the right reasons.

use std::{path::Path, process::Command};

use interlab_tests::binary;

use crate::report::{SECTIONS, assert_pages_render, tool};
use serde_json::Value;

fn measurands(report: &Value) -> Vec<Value> {
    report["report"]["measurands"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The evasion measurands: robust accuracy of every evasion test on every item.
fn evasion(m: &Value) -> bool {
    let name = m["measurand"].as_str().unwrap();
    name.ends_with("/robust_accuracy")
        && ["fgsm", "pgd", "square"]
            .iter()
            .any(|t| name.split('/').nth(1).unwrap().starts_with(t))
}

fn score(m: &Value, lab: &str) -> Option<f64> {
    m["labs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == lab)
        .and_then(|l| l["score"]["value"].as_f64())
}

#[test]
fn demo_scores_honest_labs_satisfactory_and_flags_the_lax_and_different_eps_labs() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("round-1.pdf");
    let out = Command::new(binary())
        .args(["demo", "--json", "--report-out"])
        .arg(&pdf)
        .output()
        .expect("run interlab demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("demo --json prints one object");
    // All seven nodes hold the same evidence and give byte-identical reports.
    let roots: Vec<&Value> = v["evidence_roots"].as_object().unwrap().values().collect();
    assert_eq!(roots.len(), 7);
    assert!(roots.iter().all(|r| *r == roots[0]), "{roots:?}");
    let digests: Vec<&Value> = v["report_digests"].as_object().unwrap().values().collect();
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    let labs: Vec<&str> = v["evidence_roots"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|n| *n != "owner")
        .collect();
    // `--report-out` names the report digest the owner's node gave on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let digest = stderr
        .lines()
        .find_map(|l| l.strip_prefix("round report: "))
        .and_then(|l| l.split("report digest ").nth(1))
        .map(|d| d.trim_end_matches(')'))
        .expect("demo --report-out names the report digest");
    check_demo_report(&pdf, roots[0].as_str().unwrap(), digest, &labs);

    let report = &v["report"];
    let with = &v["report_including_disputed"];
    // Several items; the blind item's answers were revealed and checked on every node.
    let items: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["base", "robust", "overfit", "sample-d"]);
    assert!(
        report["items"][3]["revealed_by"].is_string(),
        "{}",
        report["items"]
    );
    assert!(report["reference_run"].is_string());

    // Every evasion measurand is scored against the reference run with a declared σ_pt,
    // and the honest labs (lab-1 … lab-4, lab-4 with IBM ART) are within |score| ≤ 2.
    let ev: Vec<Value> = measurands(report).into_iter().filter(evasion).collect();
    assert!(ev.len() >= 12, "{} evasion measurands", ev.len());
    for m in &ev {
        let a = &m["assessment"];
        assert_eq!(
            a["sigma_pt_basis"]["kind"], "binomial",
            "{}",
            m["measurand"]
        );
        let basis = a["x_pt_basis"]["source"].as_str().unwrap();
        if m["measurand"].as_str().unwrap().starts_with("sample-d/") {
            assert_eq!(basis, "known");
        } else {
            assert_eq!(basis, "reference");
        }
        for lab in ["lab-1", "lab-2", "lab-3", "lab-4", "lab-5"] {
            if let Some(z) = score(m, lab) {
                assert!(z.abs() <= 2.0, "{lab} on {}: {z}", m["measurand"]);
            }
        }
    }
    // The secondary metrics (attack success rate, query counts) have no declared σ_pt:
    // they are for information, never scored, and no flag names them, with or without the
    // disputed results. All labs ran the same engine, so their spread is no σ_pt.
    for r in [report, with] {
        let info: Vec<Value> = measurands(r)
            .into_iter()
            .filter(|m| m["assessment"]["sigma_pt_basis"]["kind"] == "undeclared")
            .collect();
        assert!(!info.is_empty(), "no measurand for information");
        for m in &info {
            assert!(m["assessment"]["sigma_pt"].is_null(), "{m}");
            for l in m["labs"].as_array().unwrap() {
                for key in ["score", "z", "z_prime", "zeta", "en"] {
                    assert!(
                        l[key].is_null(),
                        "{key} of {} on {}",
                        l["lab"],
                        m["measurand"]
                    );
                }
            }
            let name = m["measurand"].as_str().unwrap();
            for f in r["flags"].as_array().unwrap() {
                assert!(
                    !f["reasons"].to_string().contains(&format!("\"{name}:")),
                    "{} is flagged on {name}: {f}",
                    f["lab"]
                );
            }
        }
    }
    // The ART lab's results are in, attributed to ART.
    let art = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["lab_name"] == "lab-4")
        .unwrap();
    assert_eq!(
        art["method"]["tool"]["name"],
        "adversarial-robustness-toolbox"
    );

    // The different-ε lab is unsatisfactory on the evasion items when its excluded
    // result is shown (it ran ε = 0.15 and declared it).
    let ev_with: Vec<Value> = measurands(with).into_iter().filter(evasion).collect();
    let off: Vec<f64> = ev_with.iter().filter_map(|m| score(m, "lab-6")).collect();
    assert!(!off.is_empty());
    assert!(
        off.iter().filter(|z| z.abs() >= 3.0).count() * 2 > off.len(),
        "lab-6 scores {off:?}"
    );
    for m in ev_with.iter().filter(|m| {
        ["base/pgd-eps0.1", "base/fgsm-eps0.1"]
            .iter()
            .any(|p| m["measurand"].as_str().unwrap().starts_with(p))
    }) {
        assert!(
            score(m, "lab-6").unwrap().abs() >= 3.0,
            "{}",
            m["measurand"]
        );
    }

    // Exactly the lax lab (criterion, with its threshold located) and the ε lab (its
    // dispute was upheld) are flagged.
    let flagged: Vec<(String, Vec<String>)> = v["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["lab"].as_str().unwrap().to_owned(),
                f["kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let names: Vec<&str> = flagged.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(names, ["lab-5", "lab-6"], "{flagged:?}");
    assert!(flagged[0].1.contains(&"criterion".to_owned()));
    assert!(flagged[1].1.contains(&"dispute_upheld".to_owned()));
    let lax = report["agreement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["lab"] == "lab-5" && a["test"] == "pgd-eps0.1")
        .unwrap();
    let t = &lax["implied_threshold"];
    assert!(
        t["kind"] == "separated" || t["kind"] == "logistic",
        "not located: {t}"
    );
    let eps_flag = with["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["lab"] == "lab-6")
        .unwrap();
    assert!(
        eps_flag["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "z_score"),
        "{eps_flag}"
    );
}

/// The demo's own round report, as the owner's node rendered it: every section of
/// ISO/IEC 17043 clause 7.4 as the report names them, the evidence root every node
/// named, its report digest, the provider's contact, every lab, and more than one
/// non-blank page.
fn check_demo_report(pdf: &Path, root: &str, digest: &str, labs: &[&str]) {
    let text = Command::new(tool("pdftotext"))
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        text.status.success(),
        "pdftotext failed on the demo's report"
    );
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for s in SECTIONS {
        assert!(text.contains(s), "the demo's report lacks section {s:?}");
    }
    assert!(
        text.contains(root),
        "the demo's report does not print its evidence root"
    );
    assert!(
        text.contains(digest),
        "the demo's report does not print its report digest"
    );
    assert!(
        text.contains("a real scheme gives an address here"),
        "the demo's report does not print the provider's contact"
    );
    for lab in labs {
        assert!(text.contains(lab), "the demo's report lacks {lab}");
    }
    assert_pages_render(pdf, &["-r", "20", "-f", "1", "-l", "3"]);
}
