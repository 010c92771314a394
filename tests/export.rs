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
