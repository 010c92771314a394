//! Results from any tool and sealed known answers, on real nodes: `interlab submit` of
//! real IBM ART 1.20.1 results (attributed to ART in the report), malformed results files
//! refused with nothing stored, and known-answer reveals checked against the manifest.

use std::{path::Path, process::Command, time::Duration};

use interlab_node::client::ReportQuery;
use interlab_protocol::Method;
use interlab_tests::{Network, Node, binary, digits_suite, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn art_results() -> Value {
    let path = digits_suite()
        .parent()
        .unwrap()
        .join("art/base-art-1.20.1.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `interlab ARGS --dir DIR` and returns (exit code, stdout, stderr).
fn run(node: &Node, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .args(["--dir", node.dir.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p.to_str().unwrap().to_owned()
}

fn run_results(node: &Node) -> usize {
    node.client()
        .records_page("kind=run_result")
        .unwrap()
        .records
        .len()
}

#[test]
fn art_results_are_submitted_and_attributed_and_malformed_files_store_nothing() {
    let net = Network::start(1);
    let suite = net.publish_digits_suite();
    let lab = &net.labs[0];
    let dir = tempfile::tempdir().unwrap();
    let good = art_results();

    // Each malformed file exits 1 with the field and the reason; nothing is published.
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    let mut missing = good.clone();
    missing["results"][0]["metrics"][0]
        .as_object_mut()
        .unwrap()
        .remove("u");
    cases.push(("missing u", missing, "results[0].metrics[0].u"));
    let mut negative = good.clone();
    negative["results"][1]["metrics"][0]["u"] = (-0.01).into();
    cases.push(("negative u", negative, "results[1].metrics[0].u"));
    let mut not_number = good.clone();
    not_number["results"][0]["metrics"][0]["values"][0] = "NaN".into();
    cases.push(("NaN", not_number, "not valid"));
    let mut item = good.clone();
    item["results"][0]["item"] = "no-such-item".into();
    cases.push(("unknown item", item, "results[0].item"));
    let mut test = good.clone();
    test["results"][0]["test"] = "no-such-test".into();
    cases.push(("unknown test", test, "results[0].test"));
    let mut field = good.clone();
    field.as_object_mut().unwrap().remove("tool");
    cases.push(("missing tool", field, "tool"));
    for (i, (what, v, needle)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.json"), v);
        let (code, _, err) = run(lab, &["submit", "--suite", &suite, "--results", &file]);
        assert_eq!(code, 1, "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(err.contains("nothing was published"), "{what}: {err}");
    }
    assert_eq!(run_results(lab), 0);

    // A dry run validates and publishes nothing.
    let file = write(dir.path(), "art.json", &good);
    let (code, out, err) = run(
        lab,
        &["submit", "--suite", &suite, "--results", &file, "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(run_results(lab), 0);

    // The real submission lands, attributed to ART, on every node.
    let (code, out, err) = run(lab, &["submit", "--suite", &suite, "--results", &file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("adversarial-robustness-toolbox 1.20.1"),
        "{out}"
    );
    for n in net.nodes() {
        let query = ReportQuery {
            suite: Some(suite.parse().unwrap()),
            round: Some(1),
            include_disputed: false,
        };
        let c = wait_for(WAIT, || {
            let v = n.client().comparability(query).ok()?;
            (!v.comparability.results.is_empty()).then_some(v.comparability)
        })
        .unwrap_or_else(|| panic!("{} never saw the result", n.name));
        assert!(
            matches!(
                &c.results[0].method,
                Method::Tool { name, .. } if name == "adversarial-robustness-toolbox"
            ),
            "{:?}",
            c.results[0].method
        );
        let m = c
            .report
            .iter()
            .flat_map(|r| &r.measurands)
            .find(|m| m.measurand == "base/pgd-eps0.1/robust_accuracy")
            .unwrap();
        assert_eq!(
            m.labs[0].method.as_deref(),
            Some("adversarial-robustness-toolbox 1.20.1")
        );
        assert_eq!(m.labs[0].mean, Some(0.228));
        assert!(m.labs[0].conforming);
    }
}

#[test]
fn a_reveal_is_checked_against_the_commitment_on_every_node() {
    let net = Network::start(1);
    let suite = net.publish_digits_suite();
    let sealed_path = digits_suite()
        .parent()
        .unwrap()
        .join("owner/sample-d.sealed.json");
    let sealed: Value =
        serde_json::from_str(&std::fs::read_to_string(&sealed_path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // A sealed file whose answers were changed (its own commitment no longer matches) is
    // refused by the command before anything is sent.
    let mut changed = sealed.clone();
    changed["answers"][0]["value"] = 0.5.into();
    let file = write(dir.path(), "changed.json", &changed);
    let (code, _, err) = run(
        &net.owner,
        &["suite", "reveal", "--suite", &suite, "--sealed", &file],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not to the recorded commitment"), "{err}");

    // A self-consistent sealed file for other answers (sealed anew) reaches the node,
    // which refuses it: it does not match the commitment in the published manifest.
    let answers = write(dir.path(), "answers.json", &changed["answers"]);
    let resealed = dir.path().join("resealed.json");
    interlab_tests::interlab(&[
        "suite",
        "seal",
        "--item",
        "sample-d",
        "--answers",
        &answers,
        "--out",
        resealed.to_str().unwrap(),
    ]);
    let (code, _, err) = run(
        &net.owner,
        &[
            "suite",
            "reveal",
            "--suite",
            &suite,
            "--sealed",
            resealed.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad_reveal"), "{err}");

    // The true reveal is accepted and reaches the lab's node, which checked it itself.
    let (code, out, err) = run(
        &net.owner,
        &[
            "suite",
            "reveal",
            "--suite",
            &suite,
            "--sealed",
            sealed_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revealed"), "{out}");
    for n in net.nodes() {
        let got = wait_for(WAIT, || {
            let v = n.client().records_page("kind=known_answer_reveal").ok()?;
            (v.records.len() == 1).then_some(())
        });
        assert!(got.is_some(), "{} does not hold the reveal", n.name);
    }
}
