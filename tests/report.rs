//! The round report from real nodes: a scheme owner and three labs run two tests of the
//! digits suite over two rounds; the report of round 2 is fetched as PDF from two nodes
//! (byte-identical), read back with `pdftotext`, rendered with `pdftoppm` (several
//! non-blank pages), and its HTML is loaded in headless Chromium (every section in the
//! rendered DOM) and printed by it to PDF with "Page i of n" on every page.
//!
//! Needs `pdftotext`/`pdftoppm` (Debian `poppler-utils`) and `/usr/bin/chromium`; `.ci/run`
//! installs both.

use std::{path::Path, process::Command, time::Duration};

use interlab_tests::{Network, Node, binary};

const CONVERGE: Duration = Duration::from_secs(90);

/// Headings every report prints (ISO/IEC 17043 clause 7.4).
pub(crate) const SECTIONS: [&str; 10] = [
    "1. Scheme, provider and report",
    "2. Test items, homogeneity and stability",
    "3. Design of the round",
    "4. Participants' results",
    "5. Assigned values, σ_pt and scores",
    "6. Charts",
    "7. Verdict agreement and implied thresholds",
    "8. Disputes and exclusions",
    "9. Interpreting the scores; comments on performance",
    "10. How to verify this report",
];

/// The `id` of each section of the HTML report, in the order of `SECTIONS`.
const SECTION_IDS: [&str; 10] = [
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

/// Headless Chromium with `extra` arguments on `url`; returns stdout.
fn chromium(profile: &Path, extra: &[&str], url: &str) -> String {
    let out = Command::new(tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn tool(name: &str) -> &'static str {
    let path: &'static str = match name {
        "pdftotext" => "/usr/bin/pdftotext",
        "pdftoppm" => "/usr/bin/pdftoppm",
        _ => "/usr/bin/chromium",
    };
    assert!(
        Path::new(path).exists(),
        "{path} is needed for the report test; install it with `apt-get install -y \
         --no-install-recommends poppler-utils chromium` (.ci/run does)"
    );
    path
}

fn run(lab: &Node, suite: &str, round: u32, seed: &str) {
    let round = round.to_string();
    let out = lab.cli(&[
        "run",
        "--suite",
        suite,
        "--round",
        &round,
        "--only",
        "fgsm-eps0.1",
        "--only",
        "pgd-rs-eps0.1",
        "--seed",
        seed,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["id"].is_string(), "run gave no record id: {out}");
}

/// `interlab report` against `node`; returns (file bytes, stdout).
fn report(node: &Node, suite: &str, format: &str, out: &Path) -> (Vec<u8>, String) {
    let stdout = node.cli(&[
        "report",
        "--suite",
        suite,
        "--round",
        "2",
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ]);
    (std::fs::read(out).unwrap(), stdout)
}

/// Renders `pdf` with `pdftoppm` (grey, plus `args`) into a directory of its own and
/// checks that more than one page came out and that none is blank.
pub(crate) fn assert_pages_render(pdf: &Path, args: &[&str]) {
    let stem = pdf.file_stem().unwrap().to_string_lossy();
    let dir = pdf.with_file_name(format!("{stem}-pages"));
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new(tool("pdftoppm"))
        .arg("-gray")
        .args(args)
        .arg(pdf)
        .arg(dir.join("page"))
        .status()
        .unwrap();
    assert!(st.success(), "pdftoppm failed on {}", pdf.display());
    let mut images: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pgm"))
        .collect();
    images.sort();
    assert!(images.len() > 1, "only {} page(s) rendered", images.len());
    for img in &images {
        let v = pgm_variance(&std::fs::read(img).unwrap());
        assert!(
            v > 50.0,
            "{} looks blank (grey variance {v:.1})",
            img.display()
        );
    }
}

/// Variance of the grey levels of a binary PGM (`P5`) image.
fn pgm_variance(bytes: &[u8]) -> f64 {
    // Header: P5, width, height, maxval, each separated by whitespace, then one byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5", "not a binary PGM");
    let pixels = &bytes[i + 1..];
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|p| f64::from(*p)).sum::<f64>() / n;
    pixels
        .iter()
        .map(|p| (f64::from(*p) - mean).powi(2))
        .sum::<f64>()
        / n
}

#[test]
fn the_round_report_is_a_complete_identical_pdf_on_two_nodes_and_renders_in_chromium() {
    for t in ["pdftotext", "pdftoppm", "chromium"] {
        tool(t);
    }
    let net = Network::start(3);
    let suite = net.publish_digits_suite();
    for round in 1..=2u32 {
        net.owner.cli(&[
            "round",
            "open",
            "--suite",
            &suite,
            "--round",
            &round.to_string(),
        ]);
        for (i, lab) in net.labs.iter().enumerate() {
            run(
                lab,
                &suite,
                round,
                &(2000 + 10 * round as usize + i).to_string(),
            );
        }
        run(&net.owner, &suite, round, "7");
    }
    let nodes: Vec<&Node> = net.nodes().collect();
    let (root, _) = Network::converge(&nodes, 15, CONVERGE);

    let tmp = tempfile::tempdir().unwrap();
    let (pdf_owner, said) = report(&net.owner, &suite, "pdf", &tmp.path().join("owner.pdf"));
    let (pdf_lab, _) = report(&net.labs[1], &suite, "pdf", &tmp.path().join("lab.pdf"));
    assert!(pdf_owner.starts_with(b"%PDF-"), "not a PDF");
    assert!(
        pdf_owner == pdf_lab,
        "two nodes with root {root} gave different PDFs"
    );
    assert!(
        said.contains(&root),
        "the CLI does not name the root: {said}"
    );
    let digest = said
        .lines()
        .find_map(|l| l.strip_prefix("report digest "))
        .expect("the CLI prints the report digest")
        .trim()
        .to_owned();

    let pdf_path = tmp.path().join("owner.pdf");
    let text = Command::new(tool("pdftotext"))
        .args(["-layout", pdf_path.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    assert!(text.status.success(), "pdftotext failed");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for s in SECTIONS {
        assert!(text.contains(s), "the PDF lacks section {s:?}");
    }
    assert!(
        text.contains(&root),
        "the PDF does not print the evidence root"
    );
    assert!(
        text.contains(&digest),
        "the PDF does not print the report digest"
    );
    for lab in ["lab0", "lab1", "lab2"] {
        assert!(text.contains(lab), "the PDF lacks {lab}'s results");
    }
    assert!(
        text.contains(interlab_tests::CONTACT),
        "the PDF does not print the provider's contact from the scheme genesis"
    );
    for word in ["σ_pt", "ζ", "u(x_pt)", "page 1 of", "Confidentiality"] {
        assert!(
            text.to_lowercase().contains(&word.to_lowercase()),
            "the PDF text lacks {word:?}"
        );
    }

    assert_pages_render(&pdf_path, &["-r", "40"]);

    let (html, _) = report(&net.labs[0], &suite, "html", &tmp.path().join("r.html"));
    let html_path = tmp.path().join("r.html");
    assert!(String::from_utf8_lossy(&html).contains(&digest));
    let url = format!("file://{}", html_path.display());
    let dom = chromium(&tmp.path().join("profile"), &["--dump-dom"], &url);
    // Every section, in order, with its heading and some content.
    let mut at = 0;
    for (id, title) in SECTION_IDS.iter().zip(SECTIONS) {
        let open = format!("<section id=\"{id}\"><h2>{title}</h2>");
        let start = dom[at..]
            .find(&open)
            .map(|i| at + i)
            .unwrap_or_else(|| panic!("the DOM lacks section {id} ({title:?}) after byte {at}"));
        let end = start + dom[start..].find("</section>").expect("section closed");
        assert!(
            end - start > open.len() + 40,
            "section {id} is empty: {}",
            &dom[start..end]
        );
        at = end;
    }
    let section = |id: &str| {
        let start = dom.find(&format!("<section id=\"{id}\">")).unwrap();
        &dom[start..start + dom[start..].find("</section>").unwrap()]
    };
    for lab in ["lab0", "lab1", "lab2"] {
        assert!(
            section("results").contains(&format!("<td>{lab}</td>")),
            "the rendered results table lacks {lab}"
        );
    }
    let charts = section("charts");
    assert!(
        charts.matches("<figure><svg").count() >= 4 && charts.matches("<rect").count() >= 12,
        "the charts section draws too few charts"
    );
    assert!(
        dom.contains(&root),
        "the DOM does not name the evidence root"
    );
    assert!(
        section("verification").contains(&format!(
            "<p id=\"report-digest\">Report digest: <span class=\"digest\">{digest}</span></p>"
        )),
        "the DOM does not print the report digest"
    );

    // Printed by Chromium (its own header and footer off), every page carries the
    // report's footer "… · page i of n" from the CSS @page margin box, as the krilla
    // PDF does.
    let printed = tmp.path().join("printed.pdf");
    chromium(
        &tmp.path().join("profile-print"),
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", printed.display()),
        ],
        &url,
    );
    let printed_text = Command::new(tool("pdftotext"))
        .arg(&printed)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        printed_text.status.success(),
        "pdftotext failed on Chromium's PDF"
    );
    let printed_text = String::from_utf8_lossy(&printed_text.stdout);
    let pages = printed_text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .count();
    assert!(pages > 1, "Chromium printed {pages} page(s)");
    for i in 1..=pages {
        let footer = format!("page {i} of {pages}");
        assert!(
            printed_text.contains(&footer),
            "Chromium's print lacks {footer:?}"
        );
    }
    for s in SECTIONS {
        assert!(printed_text.contains(s), "Chromium's print lacks {s:?}");
    }

    // The commands the report prints to verify it work as printed.
    let verification = section("verification");
    for (what, args) in [
        ("Export the evidence", None),
        ("Check it offline", None),
        (
            "Re-render the report",
            Some(["--dir", net.owner.dir.to_str().unwrap()]),
        ),
    ] {
        let dt = format!("<dt>{what}</dt><dd>");
        let at = verification
            .find(&dt)
            .unwrap_or_else(|| panic!("no {what:?}"))
            + dt.len();
        let line = &verification[at..at + verification[at..].find("</dd>").unwrap()];
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"interlab"), "{what}: {line}");
        let mut cmd = Command::new(binary());
        cmd.args(&words[1..]).current_dir(tmp.path());
        match args {
            Some(extra) => cmd.args(extra),
            // `export` reads the node from INTERLAB_DIR, as an operator's shell would.
            None => cmd.env("INTERLAB_DIR", &net.owner.dir),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{what} as printed (`{line}`) fails: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // An unknown round is a 404 naming it.
    let out = Command::new(binary())
        .args(["report", "--suite", &suite, "--round", "9", "--out"])
        .arg(tmp.path().join("none.pdf"))
        .args(["--dir", net.owner.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("no round 9"), "{err}");
}
