//! Human-readable text of the regulator's answers (the JSON is the contract; this is
//! for people at a terminal).

use std::fmt::Write;

use serde_json::Value;

fn num(v: &Value, digits: usize) -> String {
    v.as_f64().map_or_else(
        || "—".to_owned(),
        |x| {
            if x != 0.0 && x.abs() < 0.5 * 10f64.powi(-(digits as i32)) {
                format!("{x:.2e}")
            } else {
                format!("{x:.digits$}")
            }
        },
    )
}

/// A basis object (`{"kind": …, …}`) in words.
fn basis(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("?");
    match kind {
        "consensus" => format!(
            "consensus, {}",
            v["method"].as_str().unwrap_or("?").replace('_', " ")
        ),
        "value" => format!("{} value", v["source"].as_str().unwrap_or("?")),
        "pending" => format!("{} value, pending", v["source"].as_str().unwrap_or("?")),
        "binomial" => format!("binomial, n = {}", v["n"]),
        "previous_round" => format!("round {}", v["round"]),
        "participants" => "participants' robust SD".to_owned(),
        other => other.replace('_', " "),
    }
}

/// Renders a `GET /v1/comparability` answer.
pub(crate) fn comparability(answer: &Value) -> String {
    let c = &answer["comparability"];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Suite {} {} ({}), round {}{}",
        c["suite_name"].as_str().unwrap_or("?"),
        c["suite_version"].as_str().unwrap_or("?"),
        short(&c["suite"]),
        c["round"],
        if c["include_disputed"].as_bool() == Some(true) {
            ", including disputed results"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "Evidence root {} over {} records",
        answer["evidence_root"].as_str().unwrap_or("?"),
        answer["evidence"]["records"]
    );
    let results = c["results"].as_array().cloned().unwrap_or_default();
    let counted = results.iter().filter(|r| r["counted"] == true).count();
    let _ = writeln!(out, "Results: {} ({} counted)", results.len(), counted);
    for r in results.iter().filter(|r| r["counted"] != true) {
        let _ = writeln!(
            out,
            "  not counted: {} round {} ({})",
            r["lab_name"].as_str().unwrap_or("?"),
            r["round"],
            r["reason"].as_str().unwrap_or("?")
        );
    }
    let items = c["items"].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        let list: Vec<String> = items
            .iter()
            .map(|i| {
                let id = i["id"].as_str().unwrap_or("?");
                match (i["known_answer"].is_string(), i["revealed_by"].is_string()) {
                    (true, true) => format!("{id} (known answer, revealed)"),
                    (true, false) => format!("{id} (known answer, sealed)"),
                    _ => id.to_owned(),
                }
            })
            .collect();
        let _ = writeln!(out, "Test items: {}", list.join(", "));
    }
    if let Some(note) = c["report_note"].as_str() {
        let _ = writeln!(out, "No statistics: {note}");
    }
    let measurands = c["report"]["measurands"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Measurands with a declared σ_pt are the round's performance evaluation; the others
    // (secondary metrics) are summarised, their numbers are in the JSON.
    let (scored, other): (Vec<Value>, Vec<Value>) = measurands.into_iter().partition(|m| {
        m["assessment"]["sigma_pt"].is_number()
            || m["assessment"]["x_pt_basis"]["kind"] == "pending"
    });
    // Notes that several scored measurands share are printed once, after them.
    let note_list = |m: &Value| -> Vec<String> {
        m["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut common: Vec<(String, usize)> = Vec::new();
    for m in &scored {
        for n in note_list(m) {
            match common.iter_mut().find(|(c, _)| *c == n) {
                Some((_, k)) => *k += 1,
                None => common.push((n, 1)),
            }
        }
    }
    common.retain(|(_, k)| *k > 1);
    let shared = |n: &String| common.iter().any(|(c, _)| c == n);
    for m in &scored {
        let a = &m["assessment"];
        let score = match a["score"].as_str() {
            Some("z") => "z",
            Some("z_prime") => "z′",
            _ => "—",
        };
        let _ = writeln!(
            out,
            "\n{}  (p = {}, x_pt = {} ± {} [{}], σ_pt = {} [{}], score {score})",
            m["measurand"].as_str().unwrap_or("?"),
            m["p"],
            num(&a["x_pt"], 4),
            num(&a["u_x_pt"], 4),
            basis(&a["x_pt_basis"]),
            num(&a["sigma_pt"], 4),
            basis(&a["sigma_pt_basis"]),
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7}  {:<14} method",
            "lab", "n", "mean", "sd", score, "zeta", "h", "band"
        );
        for l in m["labs"].as_array().cloned().unwrap_or_default() {
            let _ = writeln!(
                out,
                "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7}  {:<14} {}{}",
                l["lab"].as_str().unwrap_or("?"),
                l["n"],
                num(&l["mean"], 4),
                num(&l["sd"], 4),
                num(&l["score"]["value"], 2),
                num(&l["zeta"], 2),
                num(&l["h"], 2),
                l["score"]["band"].as_str().unwrap_or("—"),
                l["method"].as_str().unwrap_or("—"),
                if l["conforming"] == false {
                    " (deviates: not pooled)"
                } else {
                    ""
                }
            );
        }
        for n in note_list(m).iter().filter(|n| !shared(n)) {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    if !common.is_empty() {
        let _ = writeln!(out, "\nNotes shared by several measurands above:");
        for (n, k) in &common {
            let _ = writeln!(out, "  - ({k} of {}) {n}", scored.len());
        }
    }
    if !other.is_empty() {
        let _ = writeln!(
            out,
            "\n{} further measurand(s) have no declared σ_pt and are not scored (secondary \
             metrics; every number is in the JSON answer).",
            other.len()
        );
    }
    if let Some(f) = c["fleiss"].as_object() {
        let _ = writeln!(
            out,
            "\nVerdict agreement across labs: Fleiss κ = {} (se₀ {})",
            num(&f["kappa"], 3),
            num(&f["se0"], 3)
        );
    } else if let Some(n) = c["fleiss_note"].as_str() {
        let _ = writeln!(out, "\nVerdict agreement across labs: {n}");
    }
    let flags = c["flags"].as_array().cloned().unwrap_or_default();
    if flags.is_empty() {
        let _ = writeln!(out, "\nNo lab is flagged.");
    } else {
        let _ = writeln!(out, "\nFlagged labs:");
        for f in flags {
            let _ = writeln!(out, "  {}:", f["lab"].as_str().unwrap_or("?"));
            for r in f["reasons"].as_array().cloned().unwrap_or_default() {
                let _ = writeln!(out, "    - {}", r.as_str().unwrap_or("?"));
            }
        }
    }
    let disputes = c["disputes"].as_array().cloned().unwrap_or_default();
    if !disputes.is_empty() {
        let _ = writeln!(out, "\nDisputes:");
        for d in disputes {
            let res = &d["resolution"];
            let _ = writeln!(
                out,
                "  {} {} on {}: {}{}",
                short(&d["id"]),
                d["grounds"].as_str().unwrap_or("?"),
                short(&d["target"]),
                d["state"].as_str().unwrap_or("?"),
                if res.is_object() {
                    format!(
                        " ({}, action {})",
                        res["outcome"].as_str().unwrap_or("?"),
                        res["action"].as_str().unwrap_or("?")
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    out
}

fn short(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| "?".to_owned(), |s| s.chars().take(8).collect())
}
