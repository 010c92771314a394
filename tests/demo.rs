//! `interlab demo` end to end: a real network, a real round, the right labs flagged.

use std::process::Command;

use interlab_tests::binary;
use serde_json::Value;

#[test]
fn demo_flags_exactly_the_misapplied_criterion_and_different_eps_labs() {
    let out = Command::new(binary())
        .args(["demo", "--labs", "5", "--json"])
        .output()
        .expect("run interlab demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("demo --json prints one object");
    // All six nodes hold the same evidence and give byte-identical reports.
    let roots: Vec<&Value> = v["evidence_roots"].as_object().unwrap().values().collect();
    assert_eq!(roots.len(), 6);
    assert!(roots.iter().all(|r| *r == roots[0]), "{roots:?}");
    let digests: Vec<&Value> = v["report_digests"].as_object().unwrap().values().collect();
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    assert!(v["records"].as_u64().unwrap() >= 15);

    // lab-4 misapplies the criterion, lab-5 ran another ε (and lost the dispute).
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
    assert_eq!(names, ["lab-4", "lab-5"], "{flagged:?}");
    assert!(flagged[0].1.contains(&"criterion".to_owned()));
    assert!(flagged[1].1.contains(&"dispute_upheld".to_owned()));

    // With the disputed result included, the ε lab's scores are unsatisfactory and the
    // statistics differ from the default report.
    let with = &v["report_including_disputed"];
    let counted = |r: &Value| {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["counted"] == true)
            .count()
    };
    assert_eq!(counted(&v["report"]), 4);
    assert_eq!(counted(with), 5);
    let eps_flag = with["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["lab"] == "lab-5")
        .unwrap();
    assert!(
        eps_flag["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "z_score"),
        "{eps_flag}"
    );
    assert_ne!(v["report"]["report"], with["report"]);
}
