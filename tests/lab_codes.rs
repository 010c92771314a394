//! A scheme that shows labs by code: the owner accredits three labs by name, the records
//! carry codes, and no API answer, dashboard page, export or round report of any node
//! names a lab. The owner's mapping file holds the names.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::Command,
    time::Duration,
};

use interlab_tests::{Network, Node, interlab};

const NAMES: [&str; 3] = ["Acme Security Lab", "Borealis Testing", "Cobalt Assurance"];

/// Raw `GET path` against a node's API: the whole body as text.
fn get(node: &Node, path: &str) -> String {
    let base = node.client().base().to_owned();
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        &text[..text.len().min(300)]
    );
    text
}

fn assert_no_name(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for name in NAMES {
        // The whole name and its distinctive first word ("Lab" alone is a JSON key).
        for part in [name, name.split(' ').next().unwrap_or(name)] {
            assert!(
                !lower.contains(&part.to_lowercase()),
                "{what} names {part:?}"
            );
        }
    }
}

fn coded_network() -> Network {
    let root = tempfile::tempdir().unwrap();
    let mut owner = Node::init(root.path(), "owner");
    let out = interlab(&[
        "scheme",
        "create",
        "--dir",
        owner.dir.to_str().unwrap(),
        "--name",
        "coded scheme",
        "--lab-codes",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let scheme = v["scheme"].as_str().unwrap().to_owned();
    owner.start();
    let mut net = Network {
        root,
        owner,
        labs: Vec::new(),
        scheme,
    };
    for (i, name) in NAMES.iter().enumerate() {
        let mut lab = Node::init(net.root.path(), &format!("node-{i}"));
        lab.with_bootstrap(vec![net.owner.p2p()])
            .with_scheme(&net.scheme.clone());
        lab.start();
        net.owner
            .cli(&["lab", "accredit", "--lab", &lab.key.clone(), "--name", name]);
        net.labs.push(lab);
    }
    net
}

#[test]
fn in_a_coded_scheme_no_lab_name_appears_in_any_answer_report_export_or_page() {
    let net = coded_network();
    // A name cannot be published even by mistake with an explicit code that is a name.
    let bad = Command::new(interlab_tests::binary())
        .args(["lab", "accredit", "--lab", &net.labs[0].key, "--name", "X"])
        .args(["--code", "Acme", "--dir", net.owner.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let suite = net.publish_digits_suite();
    net.owner
        .cli(&["round", "open", "--suite", &suite, "--round", "1"]);
    for (i, lab) in net.labs.iter().enumerate() {
        let seed = (3000 + i).to_string();
        lab.cli(&[
            "run",
            "--suite",
            &suite,
            "--round",
            "1",
            "--only",
            "fgsm-eps0.1",
            "--seed",
            &seed,
            "--json",
        ]);
    }
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, 9, Duration::from_secs(90));

    // The mapping stays with the owner.
    let mapping = std::fs::read_to_string(net.owner.dir.join("lab-codes.json")).unwrap();
    for name in NAMES {
        assert!(mapping.contains(name), "the owner's mapping lacks {name}");
    }
    let labs = get(&net.owner, "/v1/labs");
    for code in ["L01", "L02", "L03"] {
        assert!(labs.contains(code), "/v1/labs lacks code {code}");
    }

    let tmp = tempfile::tempdir().unwrap();
    for node in &nodes {
        for path in [
            "/v1/status".to_owned(),
            "/v1/labs".to_owned(),
            "/v1/records?limit=500".to_owned(),
            "/v1/forks".to_owned(),
            "/v1/disputes".to_owned(),
            format!("/v1/comparability?suite={suite}&round=1"),
            format!("/v1/drift?suite={suite}"),
            format!("/?suite={suite}&round=1"),
            format!("/v1/report?suite={suite}&round=1"),
            format!("/v1/report?suite={suite}&round=1&mine=true"),
        ] {
            assert_no_name(&format!("{} {path}", node.name), &get(node, &path));
        }
        let bundle = tmp.path().join(format!("{}.bundle", node.name));
        node.cli(&[
            "export",
            "--suite",
            &suite,
            "--round",
            "1",
            bundle.to_str().unwrap(),
        ]);
        let bytes = std::fs::read(&bundle).unwrap();
        assert_no_name("the export", &String::from_utf8_lossy(&bytes));
        let pdf = tmp.path().join(format!("{}.pdf", node.name));
        node.cli(&[
            "report",
            "--suite",
            &suite,
            "--round",
            "1",
            "--mine",
            "--out",
            pdf.to_str().unwrap(),
        ]);
        assert_no_name("the PDF text", &pdf_text(&pdf));
    }
    // Each lab's dashboard marks its own code and no other; the owner's marks none.
    let page = format!("/?suite={suite}&round=1");
    crate::dashboard::assert_marks_only(&get(&net.owner, &page), None, "the owner's node");
    for (i, lab) in net.labs.iter().enumerate() {
        let code = format!("L{:02}", i + 1);
        crate::dashboard::assert_marks_only(&get(lab, &page), Some(&code), &lab.name);
    }
    // A lab's own copy marks its rows.
    let own = get(
        &net.labs[1],
        &format!("/v1/report?suite={suite}&round=1&mine=true"),
    );
    assert!(
        own.contains("<tr class=\"yours\"><td>▶ L02</td>"),
        "no own mark"
    );
}

fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("/usr/bin/pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}
