//! The model-family reference suites over the network: the owner publishes
//! `credit-tabular` and `fmnist-cnn`, two labs run them from the artefacts they fetch,
//! and every node's comparability report covers every measurand both labs measured.
//!
//! `fmnist-cnn` runs here in its reduced form (`--only`, the tests listed in
//! [`FMNIST_QUICK`]), to keep the default test command short; its full run is the
//! documented command in docs/suites.md.

use std::{collections::BTreeSet, time::Duration};

use interlab_node::client::ReportQuery;
use interlab_tests::{Network, Node, reference_suite, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

/// Runs the suite on `lab` (all tests, or `only`) and returns the measurands it published.
fn run(lab: &Node, suite: &str, only: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["run", "--suite", suite, "--threads", "2", "--json"];
    for t in only {
        args.extend(["--only", t]);
    }
    let v: Value = serde_json::from_str(lab.cli(&args).trim()).unwrap();
    let mut out = BTreeSet::new();
    for t in v["result"]["tests"].as_array().unwrap() {
        let test = t["test"].as_str().unwrap();
        for m in t["measurements"].as_array().unwrap() {
            let metric = m["metric"].as_str().unwrap();
            out.insert(match t["item"].as_str() {
                Some(item) => format!("{item}/{test}/{metric}"),
                None => format!("{test}/{metric}"),
            });
        }
    }
    out
}

/// Waits until `node`'s comparability report of round 1 of `suite` holds both labs'
/// values of every measurand in `want`.
fn covers(node: &Node, suite: &str, want: &BTreeSet<String>) -> Result<(), String> {
    let suite_id = suite.parse().ok();
    let got = wait_for(WAIT, || {
        let answer = node
            .client()
            .comparability(ReportQuery {
                suite: suite_id,
                round: Some(1),
                include_disputed: false,
            })
            .ok()?;
        let full: BTreeSet<String> = answer
            .comparability
            .report
            .as_ref()?
            .measurands
            .iter()
            .filter(|m| m.labs.len() == 2)
            .map(|m| m.measurand.clone())
            .collect();
        want.is_subset(&full).then_some(())
    });
    got.ok_or_else(|| format!("{}: report of {suite} never covered {want:?}", node.name))
}

fn check_suite(net: &Network, name: &str, only: &[&str]) {
    let suite = net.publish_suite(&reference_suite(name));
    let a = run(&net.labs[0], &suite, only);
    let b = run(&net.labs[1], &suite, only);
    assert_eq!(a, b, "{name}: both labs measure the same measurands");
    assert!(a.len() >= 6, "{name}: only {} measurands", a.len());
    for n in net.nodes() {
        covers(n, &suite, &a).unwrap();
    }
}

/// The fmnist-cnn tests the default run keeps (a few minutes less per lab than all).
const FMNIST_QUICK: [&str; 3] = ["fgsm-eps0.1", "pgd-eps0.1", "mia-loss-threshold"];

#[test]
fn both_family_suites_run_on_two_labs_and_every_node_compares_all_their_measurands() {
    let net = Network::start(2);
    check_suite(&net, "credit-tabular", &[]);
    let full = std::env::var_os("INTERLAB_FULL_FAMILIES").is_some();
    check_suite(&net, "fmnist-cnn", if full { &[] } else { &FMNIST_QUICK });
}
