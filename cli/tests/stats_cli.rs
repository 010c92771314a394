//! `interlab stats` run as a real process on CSV files.

#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Command};

const BIN: &str = env!("CARGO_BIN_EXE_interlab");

fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `interlab <args> --json`, which must succeed; its JSON answer.
/// The entry of measurand `name` in a `stats --json` answer.
fn measurand(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["measurands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measurand"] == name)
        .unwrap_or_else(|| panic!("no measurand {name:?} in {v}"))
        .clone()
}

fn stats_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The apricot data (Li & Cardozo 1994, as in metRology) with quoted headers and fields,
/// renamed to the CLI's columns.
const APRICOT: &str = "\"lab\",\"value\"
\"Lab 1\",25.05
\"Lab 2\",26.29
\"Lab 3\",27.64
\"Lab 4\",29.01
\"Lab 5\",26.99
\"Lab 6\",24.45
\"Lab 7\",26.85
\"Lab 8\",27.21
\"Lab 9\",25.31
\"Lab 1\",25.58
\"Lab 2\",27.16
\"Lab 3\",28.14
\"Lab 4\",26.39
\"Lab 5\",27.85
\"Lab 6\",24.15
\"Lab 7\",27.37
\"Lab 8\",27.34
\"Lab 9\",25.43
";

fn close(got: &serde_json::Value, want: f64) {
    let g = got
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {got}"));
    assert!(
        (g - want).abs() <= 1e-9 * want.abs(),
        "got {g}, want {want}"
    );
}

#[test]
fn apricot_json_has_the_documented_shape_and_the_reference_numbers() {
    let (_d, path) = write("apricot.csv", APRICOT);
    let v = stats_json(&[
        "stats",
        "--input",
        path.to_str().unwrap(),
        "--algorithm-a",
        "converge",
        "--sigma-pt",
        "participants",
    ]);
    let m = &v["measurands"][0];
    assert_eq!(m["measurand"], "value");
    assert_eq!(m["p"], 9);
    let lab4 = &m["labs"][3];
    assert_eq!(lab4["lab"], "Lab 4");
    assert_eq!(lab4["n"], 2);
    close(&lab4["mean"], 27.7);
    close(&lab4["sd"], 1.85261976670876);
    close(&lab4["h"], 0.898269808958417);
    close(&lab4["k"], 2.57968498078679);
    // σ_pt declared as the participants' robust SD: z = (mean − x*)/s*.
    assert_eq!(m["assessment"]["sigma_pt_basis"]["kind"], "participants");
    close(&lab4["z"], (27.7 - 26.5937210466047) / 1.37015441810862);
    close(&m["algorithm_a"]["x"], 26.5937210466047);
    close(&m["algorithm_a"]["s"], 1.37015441810862);
    assert!(m["algorithm_a"]["iterations"].as_u64().unwrap() > 3);
    close(&m["precision"]["s_r"], 0.718157364370791);
    close(&m["precision"]["s_L"], 1.15430203778926);
    close(&m["precision"]["s_R"], 1.35947166003725);
    close(&m["precision"]["r"], 2.01084062023821);
    close(&m["precision"]["R"], 3.80652064810431);
    close(&m["cochran"]["C"], 0.739419400010772);
    assert_eq!(m["cochran"]["lab"], "Lab 4");
    close(&m["cochran"]["crit_5"], 0.638450245732584);
    close(&m["cochran"]["crit_1"], 0.754387111723817);
    assert_eq!(m["cochran"]["class"], "straggler");
    close(&m["grubbs"]["single_low"]["G"], 1.79786125078925);
    close(&m["grubbs"]["single_low"]["crit_5"], 2.21500422332553);
    assert_eq!(m["grubbs"]["single_low"]["class"], "correct");
    close(&m["grubbs"]["double_low"]["G"], 0.33362270552813);
    close(&m["grubbs"]["double_low"]["crit_5"], 0.1492);
    assert_eq!(m["grubbs"]["double_low"]["class"], "correct");
    assert!(m.get("kappa").is_none());
}

#[test]
fn iso_and_converge_variants_differ_as_documented() {
    let (_d, path) = write("apricot.csv", APRICOT);
    let p = path.to_str().unwrap();
    let (_, iso, _) = run(&["stats", "--input", p, "--json"]);
    let (_, conv, _) = run(&["stats", "--input", p, "--algorithm-a", "converge", "--json"]);
    let s = |t: &str| {
        serde_json::from_str::<serde_json::Value>(t).unwrap()["measurands"][0]["algorithm_a"]["s"]
            .as_f64()
            .unwrap()
    };
    assert!((s(&iso) - s(&conv)).abs() > 1e-6);
    assert!((s(&iso) - s(&conv)).abs() < 0.01 * s(&conv));
}

#[test]
fn human_output_is_a_table_with_every_lab() {
    let (_d, path) = write("apricot.csv", APRICOT);
    let (code, out, _) = run(&["stats", "--input", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("algorithm A: x* ="), "{out}");
    assert!(out.contains("cochran: C = 0.7394 (Lab 4)"), "{out}");
    for i in 1..=9 {
        assert!(out.contains(&format!("Lab {i}")), "{out}");
    }
}

#[test]
fn a_non_numeric_value_is_refused_naming_its_line() {
    let (_d, path) = write("bad.csv", "lab,value\nA,1\nB,2\nC,abc\n");
    let (code, _, err) = run(&["stats", "--input", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 4: `value` is not a number: \"abc\""),
        "{err}"
    );
}

#[test]
fn an_infinite_value_is_refused_naming_its_line() {
    let (_d, path) = write("inf.csv", "lab,value\nA,1\nB,inf\n");
    let (code, _, err) = run(&["stats", "--input", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 3: `value` is not finite: \"inf\""),
        "{err}"
    );
}

#[test]
fn a_missing_value_column_is_named() {
    let (_d, path) = write("nocol.csv", "lab,result\nA,1\n");
    let (code, _, err) = run(&["stats", "--input", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 1: the header has no `value` column"),
        "{err}"
    );
}

#[test]
fn degenerate_input_gives_nulls_and_notes_never_nan() {
    let csv = "lab,measurand,value\n\
               A,two_labs,1\nB,two_labs,2\n\
               A,equal,5\nB,equal,5\nC,equal,5\nD,equal,5\n\
               A,single,1\nB,single,2\nC,single,4\nD,single,3\nE,empty,\nA,empty,1\nB,empty,2\nC,empty,3\n";
    let (_d, path) = write("degenerate.csv", csv);
    let (code, out, err) = run(&["stats", "--input", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    // ("information" is a word of the notes, not a number.)
    let numbers = out.replace("information", "");
    assert!(
        !numbers.contains("NaN") && !numbers.contains("inf"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let by = |name: &str| measurand(&v, name);
    let two = by("two_labs");
    assert!(two["algorithm_a"].is_null());
    assert!(two["notes"].to_string().contains("only 2 lab(s)"));
    let eq = by("equal");
    assert!(eq["algorithm_a"].is_null());
    assert_eq!(eq["assessment"]["x_pt"], 5.0);
    assert!(eq["assessment"]["sigma_pt"].is_null());
    assert!(eq["labs"][0]["z"].is_null());
    assert!(
        eq["notes"].to_string().contains("no scale"),
        "{}",
        eq["notes"]
    );
    let single = by("single");
    assert!(single["precision"]["s_r"].is_null());
    assert!(single["labs"][0]["k"].is_null());
    assert!(single["cochran"].is_null());
    let empty = by("empty");
    assert_eq!(empty["p"], 3);
    assert_eq!(empty["labs"][0]["n"], 0);
    assert!(empty["notes"].to_string().contains("reported no values"));
}

#[test]
fn verdicts_give_kappa_agreement_and_implied_thresholds() {
    let mut csv = String::from("lab,measurand,value,verdict,round,threshold,direction\n");
    let vals = [
        [0.91, 0.52, 0.71, 0.65],
        [0.88, 0.55, 0.69, 0.62],
        [0.93, 0.50, 0.73, 0.66],
    ];
    for (l, row) in vals.iter().enumerate() {
        for (r, v) in row.iter().enumerate() {
            // Lab C passes everything at or above 0.6 instead of the harmonized 0.7.
            let cut = if l == 2 { 0.6 } else { 0.7 };
            let verdict = if *v >= cut { "pass" } else { "fail" };
            csv.push_str(&format!(
                "{},acc,{v},{verdict},{r},0.7,at_least\n",
                ["A", "B", "C"][l]
            ));
        }
    }
    let (_d, path) = write("verdicts.csv", &csv);
    let (code, out, err) = run(&["stats", "--input", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &v["measurands"][0];
    assert_eq!(m["round"], 3);
    assert_eq!(m["kappa"]["items"], 4);
    assert_eq!(m["kappa"]["labs"], 3);
    assert!(m["kappa"]["fleiss"]["kappa"].is_f64());
    let c = &m["labs"][2];
    assert_eq!(c["lab"], "C");
    assert_eq!(c["agreement"]["n"], 4);
    assert_eq!(c["agreement"]["disagreements"].as_array().unwrap().len(), 1);
    assert_eq!(c["implied_threshold"]["kind"], "separated");
    assert_eq!(c["implied_threshold"]["lower"], 0.5);
    assert_eq!(c["implied_threshold"]["upper"], 0.66);
    assert_eq!(m["labs"][0]["agreement"]["rate"], 1.0);
}

/// ISO 13528:2022 Annex E, example E4 (mercury; Table E.4 as transcribed by pt13528
/// 0.1.8, copied into `protocol/tests/data/stats/`): x_pt = 0.044, u(x_pt) = 0.0041,
/// σ_pt = 0.0066, labs with U and k. D%, z, z′, ζ (u = U/k) and En must match the printed
/// digits.
#[test]
fn annex_e_example_e4_scores_match_the_printed_values() {
    let data: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../protocol/tests/data/stats/iso13528_2022_annexE_printed.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let e4 = &data["E4_mercury_scores"];
    let rows = e4["rows"].as_array().unwrap();
    let mut csv = String::from("lab,value,U,k\n");
    for r in rows {
        csv += &format!("{},{},{},{}\n", r[0].as_str().unwrap(), r[1], r[2], r[3]);
    }
    let (_d, path) = write("e4.csv", &csv);
    let v = stats_json(&[
        "stats",
        "--input",
        path.to_str().unwrap(),
        "--x-pt",
        "0.044",
        "--u-x-pt",
        "0.0041",
        "--sigma-pt",
        "0.0066",
    ]);
    let m = &v["measurands"][0];
    // u(x_pt) = 0.0041 > 0.3 σ_pt = 0.00198: z′ is the score.
    assert_eq!(m["assessment"]["score"], "z_prime");
    assert_eq!(m["assessment"]["u_negligible"], false);
    assert_eq!(m["assessment"]["x_pt_basis"]["kind"], "value");
    assert_eq!(m["assessment"]["sigma_pt_basis"]["kind"], "prescribed");
    let labs = m["labs"].as_array().unwrap();
    let printed = |x: f64, digits: i32| {
        let half = 0.5 * 10f64.powi(-digits);
        move |got: f64| (got - x).abs() <= half + 1e-12
    };
    for r in rows {
        let code = r[0].as_str().unwrap();
        let l = labs.iter().find(|l| l["lab"] == code).unwrap();
        let get = |k: &str| l[k].as_f64().unwrap();
        for (name, col, digits) in [
            ("d_percent", 5, 1),
            ("z", 7, 2),
            ("z_prime", 8, 2),
            ("zeta", 9, 2),
            ("en", 10, 2),
        ] {
            let want = r[col].as_f64().unwrap();
            assert!(
                printed(want, digits)(get(name)),
                "{code} {name}: got {}, printed {want}",
                get(name)
            );
        }
        assert_eq!(l["score"]["kind"], "z_prime");
        assert_eq!(l["score"]["value"], l["z_prime"]);
    }
    let l04 = labs.iter().find(|l| l["lab"] == "L04").unwrap();
    assert_eq!(l04["score"]["band"], "unsatisfactory");
    let l03 = labs.iter().find(|l| l["lab"] == "L03").unwrap();
    assert_eq!(l03["score"]["band"], "satisfactory");
}

/// Four labs with a PGD robust accuracy of 0.228 and one with 0.226 (one test row in
/// 500): the data have no scale. Without a declared σ_pt there are no scores (and no
/// σ_pt from an iteration cap); with `--sigma-pt 0.019` they are as computed by hand.
#[test]
fn data_without_scale_get_no_fabricated_sigma_and_declared_sigma_gives_hand_scores() {
    let csv = "lab,value,u\nlab-1,0.228,0.019\nlab-2,0.228,0.019\nlab-3,0.226,0.019\n\
               lab-4,0.228,0.019\nlab-5,0.228,0.019\n";
    let (_d, path) = write("pgd.csv", csv);
    let (code, out, err) = run(&["stats", "--input", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &v["measurands"][0];
    assert_eq!(m["assessment"]["no_scale"], true);
    assert!(m["assessment"]["sigma_pt"].is_null(), "{m}");
    assert!(m["algorithm_a"].is_null());
    assert!(m["grubbs"].is_null() && m["cochran"].is_null());
    assert!(
        m["labs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["z"].is_null())
    );
    assert!(m["notes"].to_string().contains("no scale"));

    // Declaring the participants' SD does not help: their data have no scale.
    let v = stats_json(&[
        "stats",
        "--input",
        path.to_str().unwrap(),
        "--sigma-pt",
        "participants",
    ]);
    let m = &v["measurands"][0];
    assert_eq!(m["assessment"]["sigma_pt_basis"]["kind"], "participants");
    assert!(m["assessment"]["sigma_pt"].is_null(), "{m}");
    assert!(m["labs"][2]["z"].is_null(), "{m}");
    assert!(
        m["notes"]
            .to_string()
            .contains("declared as the participants' robust SD, but their data have no scale"),
        "{}",
        m["notes"]
    );

    let v = stats_json(&[
        "stats",
        "--input",
        path.to_str().unwrap(),
        "--sigma-pt",
        "0.019",
    ]);
    let m = &v["measurands"][0];
    assert_eq!(m["assessment"]["x_pt"], 0.228);
    assert_eq!(m["assessment"]["sigma_pt"], 0.019);
    let lab3 = &m["labs"][2];
    let z = lab3["z"].as_f64().unwrap();
    assert!((z - (0.226 - 0.228) / 0.019).abs() < 1e-12, "z = {z}");
    assert_eq!(lab3["score"]["kind"], "z");
    assert_eq!(lab3["score"]["band"], "satisfactory");
    assert_eq!(m["labs"][0]["z"], 0.0);
}

/// 0.98 and 0.9800000000000001 are one value: no s* of 1e-16, no Mandel h of ±1/0.
#[test]
fn values_equal_but_for_the_last_bit_are_one_value() {
    let csv = "lab,value\nA,0.98\nB,0.9800000000000001\nC,0.98\nD,0.9799999999999999\n";
    let (_d, path) = write("bits.csv", csv);
    let v = stats_json(&[
        "stats",
        "--input",
        path.to_str().unwrap(),
        "--sigma-pt",
        "0.01",
    ]);
    let m = &v["measurands"][0];
    assert_eq!(m["assessment"]["no_scale"], true);
    for l in m["labs"].as_array().unwrap() {
        assert_eq!(l["z"], 0.0, "{l}");
        assert!(
            l["h"].is_null() || l["h"].as_f64().unwrap().abs() < 1e-6,
            "{l}"
        );
    }
}

#[test]
fn bad_declarations_and_uncertainties_are_refused_naming_line_and_column() {
    let (_d, path) = write("u.csv", "lab,value,U,k\nA,1,0.1,2\nB,2,-0.1,2\nC,3,0.1,2\n");
    let (code, _, err) = run(&["stats", "--input", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 3") && err.contains("`U`"), "{err}");
    let (_d2, path2) = write("k.csv", "lab,value,U\nA,1,0.1\n");
    let (code, _, err) = run(&["stats", "--input", path2.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2") && err.contains("`k`"), "{err}");
    let (_d3, ok) = write("ok.csv", "lab,measurand,value\nA,m,1\nB,m,2\nC,m,3\n");
    let (code, _, err) = run(&["stats", "--input", ok.to_str().unwrap(), "--sigma-pt", "-1"]);
    assert_eq!(code, 1);
    assert!(err.contains("σ_pt") && err.contains("-1"), "{err}");
    let (code, _, err) = run(&["stats", "--input", ok.to_str().unwrap(), "--x-pt", "2"]);
    assert_eq!(code, 1);
    assert!(err.contains("u_x_pt"), "{err}");
    let (_d4, decl) = write("decl.csv", "measurand,x_pt,u_x_pt,sigma_pt\nm,2,0.1,abc\n");
    let (code, _, err) = run(&[
        "stats",
        "--input",
        ok.to_str().unwrap(),
        "--assessment",
        decl.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2") && err.contains("`sigma_pt`"),
        "{err}"
    );
    let (_d5, decl) = write("decl.csv", "measurand,x_pt,u_x_pt,sigma_pt\nm,2,0.1,0.5\n");
    let v = stats_json(&[
        "stats",
        "--input",
        ok.to_str().unwrap(),
        "--assessment",
        decl.to_str().unwrap(),
    ]);
    let m = &v["measurands"][0];
    assert_eq!(m["assessment"]["x_pt"], 2.0);
    assert_eq!(m["labs"][2]["z"], 2.0);
    // u(x_pt) = 0.1 ≤ 0.3 · 0.5: z is the score.
    assert_eq!(m["labs"][2]["score"]["kind"], "z");
}

#[test]
fn without_a_declared_sigma_no_lab_is_scored_and_the_note_says_how_to_declare_one() {
    let (_d, path) = write("apricot.csv", APRICOT);
    let p = path.to_str().unwrap();
    let (code, out, err) = run(&["stats", "--input", p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &v["measurands"][0];
    // The participants' statistics are there, as information ...
    let s_star = m["algorithm_a"]["s"].as_f64().unwrap();
    assert!((s_star - 1.37015441810862).abs() < 0.01, "s* = {s_star}");
    assert!(m["labs"][3]["h"].is_f64());
    // ... but their SD is not σ_pt and nothing is scored.
    assert_eq!(m["assessment"]["sigma_pt_basis"]["kind"], "undeclared");
    assert!(m["assessment"]["sigma_pt"].is_null(), "{m}");
    assert!(m["assessment"]["score"].is_null(), "{m}");
    for l in m["labs"].as_array().unwrap() {
        for key in ["score", "z", "z_prime", "zeta", "en"] {
            assert!(l[key].is_null(), "{key} of {l}");
        }
    }
    let notes = m["notes"].to_string();
    assert!(
        notes.contains("no σ_pt is declared for this measurand: its results are for information"),
        "{notes}"
    );
    assert!(notes.contains("participants' robust SD"), "{notes}");
    let (code, table, err) = run(&["stats", "--input", p]);
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains("[undeclared (for information, not scored)]  score: none"),
        "{table}"
    );
}

#[test]
fn participants_in_the_assessment_file_scores_that_measurand_and_leaves_the_other_unscored() {
    let mut csv = String::from("lab,measurand,value\n");
    for (lab, a, b) in [
        ("A", 1.0, 10.0),
        ("B", 1.2, 11.0),
        ("C", 0.9, 9.5),
        ("D", 1.1, 10.4),
    ] {
        csv.push_str(&format!("{lab},declared,{a}\n{lab},secondary,{b}\n"));
    }
    let (_d, input) = write("two.csv", &csv);
    let (_e, decl) = write("decl.csv", "measurand,sigma_pt\ndeclared,Participants\n");
    let v = stats_json(&[
        "stats",
        "--input",
        input.to_str().unwrap(),
        "--assessment",
        decl.to_str().unwrap(),
    ]);
    let by = |name: &str| measurand(&v, name);
    let declared = by("declared");
    assert_eq!(
        declared["assessment"]["sigma_pt_basis"]["kind"],
        "participants"
    );
    assert_eq!(
        declared["assessment"]["sigma_pt"],
        declared["algorithm_a"]["s"]
    );
    assert!(declared["labs"][0]["z"].is_f64(), "{declared}");
    let secondary = by("secondary");
    assert_eq!(
        secondary["assessment"]["sigma_pt_basis"]["kind"],
        "undeclared"
    );
    assert!(secondary["labs"][0]["z"].is_null(), "{secondary}");
    assert!(secondary["labs"][0]["zeta"].is_null(), "{secondary}");
}

#[test]
fn a_sigma_pt_that_is_neither_a_number_nor_participants_is_refused() {
    let (_d, ok) = write("ok.csv", "lab,measurand,value\nA,m,1\nB,m,2\nC,m,3\n");
    let (code, _, err) = run(&[
        "stats",
        "--input",
        ok.to_str().unwrap(),
        "--sigma-pt",
        "robust",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("expected a number or `participants` but got \"robust\""),
        "{err}"
    );
    let (_e, decl) = write("decl.csv", "measurand,sigma_pt\nm,robust\n");
    let (code, _, err) = run(&[
        "stats",
        "--input",
        ok.to_str().unwrap(),
        "--assessment",
        decl.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2: `sigma_pt` is neither a number nor `participants`: \"robust\""),
        "{err}"
    );
}
