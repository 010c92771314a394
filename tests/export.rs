//! Export a bundle from a live node, verify it offline, and show that tampering with any
//! byte makes verification fail with a reason.

use std::process::Command;

use interlab_tests::{Network, Node, binary};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn an_exported_bundle_verifies_offline_and_any_tampered_byte_is_caught() {
    let net = Network::start(3);
    let suite = net.publish_digits_suite();
    for lab in &net.labs {
        lab.cli(&["run", "--suite", &suite, "--only", "fgsm-eps0.1", "--json"]);
    }
    let nodes: Vec<&Node> = net.nodes().collect();
    let (root, _) = Network::converge(&nodes, 8, std::time::Duration::from_secs(60));
    let out = net.root.path().join("round1.bundle");
    let exported = json(&net.labs[1].cli(&[
        "export",
        "--suite",
        &suite,
        "--round",
        "1",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(exported["evidence_root"].as_str().unwrap(), root);

    let verify = |path: &std::path::Path| {
        Command::new(binary())
            .args(["verify", path.to_str().unwrap(), "--json"])
            .output()
            .unwrap()
    };
    let ok = verify(&out);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["evidence_root"].as_str().unwrap(), root);

    // Flip one bit at many positions across the file: every copy must be refused.
    let bytes = std::fs::read(&out).unwrap();
    let bad = net.root.path().join("tampered.bundle");
    let step = (bytes.len() / 60).max(1);
    let mut reasons = std::collections::BTreeSet::new();
    for pos in (0..bytes.len()).step_by(step) {
        let mut t = bytes.clone();
        t[pos] ^= 0x01;
        std::fs::write(&bad, &t).unwrap();
        let r = verify(&bad);
        assert_eq!(
            r.status.code(),
            Some(1),
            "tampering at byte {pos} went unnoticed"
        );
        let v: Value = serde_json::from_slice(&r.stdout)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.stdout).into()));
        let reason = v["reason"].as_str().unwrap_or("").to_owned();
        assert!(!reason.is_empty(), "no reason for byte {pos}: {v}");
        reasons.insert(reason.split(':').next().unwrap_or("").to_owned());
    }
    assert!(reasons.len() > 1, "{reasons:?}");
}

/// A file of envelopes whose owner accreditation is damaged: `verify` names the owner's
/// record as the root cause, lists every other failure as following from it, and prints
/// no Rust debug output.
#[test]
fn verify_names_a_damaged_owner_record_as_the_root_cause_of_the_labs_failures() {
    use interlab_protocol::{
        Body, Digest, domain,
        testkit::{T0_MS, TestScheme, sample_run_result},
    };
    let mut s = TestScheme::new("verify", 1, 41);
    let suite = Digest::of(domain::SUITE, b"verify");
    let result = s.labs[0].next(Body::RunResult(sample_run_result(suite, 1, 0.5)));
    let mut acc = s.envelopes[1].clone();
    acc.sig.0[3] ^= 0x10;
    // The lab's record first, as an export orders by author key.
    let mut file = result.to_bytes();
    file.extend(s.envelopes[0].to_bytes());
    file.extend(acc.to_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("envelopes.cbor");
    std::fs::write(&path, &file).unwrap();
    let as_of = (T0_MS + 60_000).to_string();
    let run = |json: bool| {
        let mut args = vec!["verify", path.to_str().unwrap(), "--as-of-ms", &as_of];
        if json {
            args.push("--json");
        }
        Command::new(binary()).args(&args).output().unwrap()
    };

    let human = run(false);
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("REJECTED envelope 2 [bad_signature] the scheme owner's record"),
        "{text}"
    );
    assert!(lines[0].contains("at seq 1"), "{text}");
    assert_eq!(
        lines[1], "1 more failures follow from the ones above:",
        "{text}"
    );
    assert!(
        lines[2].starts_with("REJECTED envelope 0 [unknown_author] record"),
        "{text}"
    );
    assert!(lines[2].ends_with("(follows from envelope 2)"), "{text}");
    for debug in ["Some(", "None", "Semantic("] {
        assert!(!text.contains(debug), "{text}");
    }

    let v = json(&String::from_utf8_lossy(&run(true).stdout));
    assert_eq!(v["ok"], false);
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{v}");
    assert_eq!(failures[0]["code"], "bad_signature");
    assert_eq!(failures[0]["record"]["owner"], true);
    assert_eq!(failures[0]["record"]["seq"], 1);
    assert_eq!(failures[0]["record"]["id"], acc.id().to_hex());
    assert_eq!(failures[1]["code"], "unknown_author");
    assert_eq!(failures[1]["record"]["author"], s.labs[0].public().to_hex());
    assert_eq!(failures[1]["follows_from"], serde_json::json!([2]));
}

/// A record more than five minutes ahead of the verifier's clock is refused offline too.
#[test]
fn verify_applies_the_five_minute_future_rule_against_its_clock() {
    use interlab_protocol::testkit::{T0_MS, TestScheme};
    let s = TestScheme::new("future", 1, 42);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("envelopes.cbor");
    std::fs::write(&path, s.bytes().concat()).unwrap();
    let verify = |as_of: u64| {
        Command::new(binary())
            .args(["verify", path.to_str().unwrap(), "--json", "--as-of-ms"])
            .arg(as_of.to_string())
            .output()
            .unwrap()
    };
    assert_eq!(verify(T0_MS).status.code(), Some(0));
    let early = verify(T0_MS - 5 * 60 * 1000 - 1);
    assert_eq!(early.status.code(), Some(1));
    let v = json(&String::from_utf8_lossy(&early.stdout));
    assert_eq!(v["failures"][0]["code"], "from_the_future", "{v}");
}
