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
pub fn comparability(answer: &Value) -> String {
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
    if let Some(note) = c["report_note"].as_str() {
        let _ = writeln!(out, "No statistics: {note}");
    }
    for m in c["report"]["measurands"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
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
            "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7}  band",
            "lab", "n", "mean", "sd", score, "zeta", "h", "k"
        );
        for l in m["labs"].as_array().cloned().unwrap_or_default() {
            let _ = writeln!(
                out,
                "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7}  {}",
                l["lab"].as_str().unwrap_or("?"),
                l["n"],
                num(&l["mean"], 4),
                num(&l["sd"], 4),
                num(&l["score"]["value"], 2),
                num(&l["zeta"], 2),
                num(&l["h"], 2),
                num(&l["k"], 2),
                l["score"]["band"].as_str().unwrap_or("—")
            );
        }
        for n in m["notes"].as_array().cloned().unwrap_or_default() {
            let _ = writeln!(out, "  note: {}", n.as_str().unwrap_or("?"));
        }
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
