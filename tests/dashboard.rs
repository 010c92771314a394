//! The dashboard in a real browser: a scheme owner and three labs run two tests of the
//! digits suite over two rounds, then headless Chromium loads `GET /` of a lab node,
//! takes a screenshot and dumps the rendered DOM, which must hold every chart non-empty
//! and mark that lab's own results (and the owner's page none).
//!
//! Needs `/usr/bin/chromium` (Debian `chromium`); `.ci/run` installs it. Set
//! `INTERLAB_DASHBOARD_SCREENSHOT=/path.png` to keep the screenshot.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use interlab_tests::{Network, Node};

const CHROMIUM: &str = "/usr/bin/chromium";
const CONVERGE: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    let p = std::env::var("CHROMIUM").map_or_else(|_| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        p.exists(),
        "headless Chromium is needed at {} for the dashboard test; install it with \
         `apt-get install -y --no-install-recommends chromium chromium-driver` (.ci/run does) \
         or point $CHROMIUM at a Chromium binary",
        p.display()
    );
    p
}

/// Runs Chromium headless with `extra` arguments on `url`; returns stdout.
fn browse(profile: &Path, extra: &[&str], url: &str) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {extra:?} {url} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The counts (`data-bars` / `data-points`) of every `<svg class="chart CLASS…">`.
fn chart_counts(dom: &str, class: &str, attr: &str) -> Vec<usize> {
    let needle = format!("class=\"chart {class}");
    dom.match_indices(&needle)
        .filter_map(|(i, _)| {
            let tag_end = dom[i..].find('>')? + i;
            let tag = &dom[i..tag_end];
            let at = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            let rest = &tag[at..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

/// Every `data-yours` value on a page (what it marks as the reading lab's results),
/// with the tag that carries it.
pub(crate) fn marked(page: &str) -> Vec<(String, String)> {
    page.match_indices(" data-yours=\"")
        .filter_map(|(i, m)| {
            let tag = page[..i].rfind('<').map(|t| &page[t + 1..i])?;
            let tag = tag.split([' ', '>']).next()?.to_owned();
            let rest = &page[i + m.len()..];
            Some((tag, rest[..rest.find('"')?].to_owned()))
        })
        .collect()
}

/// Checks that `page` marks `lab`'s results (table rows and chart bars) and nothing
/// else; with `None`, that it marks nothing.
pub(crate) fn assert_marks_only(page: &str, lab: Option<&str>, node: &str) {
    let marks = marked(page);
    match lab {
        None => assert!(marks.is_empty(), "{node} marks {marks:?} as its own"),
        Some(lab) => {
            let others: Vec<_> = marks.iter().filter(|(_, l)| l != lab).collect();
            assert!(others.is_empty(), "{node} marks another lab: {others:?}");
            // A marked bar's tooltip names the lab it belongs to.
            let needle = format!(" yours\" data-yours=\"{lab}\"");
            for (i, _) in page.match_indices(&needle) {
                let tip = page[i..].find("<title>").map(|t| &page[i + t + 7..]);
                if page[..i]
                    .rfind('<')
                    .is_some_and(|t| page[t..].starts_with("<rect"))
                {
                    assert!(
                        tip.is_some_and(|t| t.starts_with(lab)),
                        "{node} marks a bar of another lab as {lab}'s: {}",
                        &page[i..(i + 200).min(page.len())]
                    );
                }
            }
            for tag in ["tr", "rect"] {
                assert!(
                    marks.iter().any(|(t, _)| t == tag),
                    "{node} marks no <{tag}> of {lab}: {marks:?}"
                );
            }
            assert!(
                page.contains("id=\"your-results\""),
                "{node} does not say how its results are marked"
            );
        }
    }
}

fn run(lab: &Node, suite: &str, round: u32, extra: &[&str]) {
    let round = round.to_string();
    let mut args = vec![
        "run",
        "--suite",
        suite,
        "--round",
        &round,
        "--only",
        "fgsm-eps0.1",
        "--only",
        "pgd-rs-eps0.1",
        "--json",
    ];
    args.extend(extra);
    let out = lab.cli(&args);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["id"].is_string(), "run gave no record id: {out}");
}

#[test]
fn the_dashboard_renders_every_chart_non_empty_in_headless_chromium() {
    // Fail before starting a network when the browser is missing.
    chromium();
    let net = Network::start(3);
    let suite = net.publish_digits_suite();
    // Two rounds; labs differ by seed (random starts), one uses f64 gradients; after
    // them the owner's reference run sets the assigned values.
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
            let seed = (1000 + 10 * round as usize + i).to_string();
            let mut extra = vec!["--seed", seed.as_str()];
            if i == 2 {
                extra.extend(["--precision", "f64"]);
            }
            run(lab, &suite, round, &extra);
        }
        run(&net.owner, &suite, round, &[]);
    }
    // genesis + 3 accreditations + suite + 2 rounds + 6 results + 2 reference runs
    let nodes: Vec<&Node> = net.nodes().collect();
    let (root, records) = Network::converge(&nodes, 15, CONVERGE);

    let lab = &net.labs[0];
    let api = lab.client().base().to_owned();
    let url = format!("{api}/?suite={suite}&round=2");
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("dashboard.png");
    browse(
        &tmp.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,3000",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    assert!(
        png.len() > 50_000,
        "the screenshot is only {} bytes: the page looks blank",
        png.len()
    );
    if let Ok(keep) = std::env::var("INTERLAB_DASHBOARD_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let dom = browse(&tmp.path().join("profile-dom"), &["--dump-dom"], &url);
    assert!(
        dom.contains(&root),
        "the page does not name the evidence root {root}"
    );
    assert!(dom.contains(&format!("<dd id=\"record-count\">{records}</dd>")));
    let z = chart_counts(&dom, "z-scores", "data-bars");
    assert!(z.contains(&3), "no z-score chart with a bar per lab: {z:?}");
    let h = chart_counts(&dom, "mandel-h", "data-bars");
    assert!(h.contains(&3), "Mandel h bars: {h:?}");
    // Across items: three labs × the items random-start PGD runs on (three).
    let hi = chart_counts(&dom, "mandel-h-items", "data-bars");
    assert!(hi.contains(&9), "Mandel h across items bars: {hi:?}");
    // pgd-rs has three repetitions per lab, so k exists there.
    let k = chart_counts(&dom, "mandel-k", "data-bars");
    assert!(k.contains(&3), "Mandel k bars: {k:?}");
    let youden = chart_counts(&dom, "youden", "data-points");
    assert_eq!(youden, vec![3], "Youden plot points");
    let cusum = chart_counts(&dom, "control cusum", "data-points");
    let ewma = chart_counts(&dom, "control ewma", "data-points");
    // Two rounds × three labs per chart (CUSUM draws C⁺ and C⁻).
    assert!(ewma.contains(&6), "EWMA points: {ewma:?}");
    assert!(cusum.contains(&12), "CUSUM points: {cusum:?}");
    for section in [
        "id=\"agreement\"",
        "id=\"flags\"",
        "id=\"disputes\"",
        "id=\"labs\"",
        "id=\"forks\"",
    ] {
        assert!(dom.contains(section), "the page lacks {section}");
    }
    assert!(
        dom.contains("class=\"round current\""),
        "the selected round is not marked"
    );

    // "Your results": lab0's node marks lab0's rows and bars (in the z-score chart
    // too), and the owner's node marks nothing.
    assert_marks_only(&dom, Some("lab0"), "lab0's node");
    let z_at = dom.find("class=\"chart z-scores").expect("a z-score chart");
    let z_end = z_at + dom[z_at..].find("</svg>").unwrap();
    assert!(
        dom[z_at..z_end].contains(" yours\" data-yours=\"lab0\""),
        "the z-score chart does not mark lab0's bar"
    );
    let owner_url = format!("{}/?suite={suite}&round=2", net.owner.client().base());
    let owner = browse(
        &tmp.path().join("profile-owner"),
        &["--dump-dom"],
        &owner_url,
    );
    assert!(owner.contains(&root), "the owner's page shows another root");
    assert_marks_only(&owner, None, "the owner's node");
}
