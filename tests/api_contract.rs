//! The HTTP contract on a real node: every answer it gives deserializes into the type of
//! `interlab_node::api::types` that the OpenAPI document names, reads back to the same
//! JSON (no field lost or renamed), and matches its schema in the document; the node
//! serves the document that is checked in as `docs/openapi.json`.

use std::path::Path;

use interlab_node::api::types::{
    ComparabilityAnswer, DisputesAnswer, DriftAnswer, ErrorBody, ForksAnswer, LabsAnswer,
    ProofAnswer, RecordAnswer, RecordsPage, SigningAnswer, StatusAnswer,
};
use interlab_protocol::RecordId;
use interlab_tests::{Network, binary, digits_suite};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Problems of `v` against `schema` (resolving `$ref` in `doc`), each with its JSON path.
/// `closed`: keys the schema does not name are problems (off inside `allOf`, where the
/// keys are split between the parts).
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, closed: bool, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{at}: dangling reference {r}");
        return check(doc, target, v, at, closed, out);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, v, at, false, out);
        }
        if closed && let (Some(obj), Some(keys)) = (v.as_object(), all_keys(doc, schema)) {
            for k in obj.keys().filter(|k| !keys.contains(*k)) {
                out.push(format!("{at}.{k}: not in the schema"));
            }
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let fits = alts.iter().any(|s| {
                let mut errs = Vec::new();
                check(doc, s, v, at, closed, &mut errs);
                errs.is_empty()
            });
            if !fits {
                out.push(format!("{at}: {v} fits none of the {key} alternatives"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !fits {
            out.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {e:?}"));
    }
    if let (Some(s), Some(n)) = (v.as_str(), schema.get("minLength").and_then(Value::as_u64))
        && (s.len() as u64) < n
    {
        out.push(format!("{at}: {s:?} is shorter than {n}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(k) = r.as_str()
                && !obj.contains_key(k)
            {
                out.push(format!("{at}: required `{k}` is missing"));
            }
        }
        if let Some(props) = props {
            for (k, x) in obj {
                match props.get(k) {
                    Some(s) => check(doc, s, x, &format!("{at}.{k}"), true, out),
                    None if closed && schema.get("additionalProperties").is_none() => {
                        out.push(format!("{at}.{k}: not in the schema"))
                    }
                    None => {}
                }
            }
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            for (k, x) in obj {
                if props.is_none_or(|p| !p.contains_key(k)) {
                    check(doc, extra, x, &format!("{at}.{k}"), true, out);
                }
            }
        }
    }
    if let Some(items) = v.as_array() {
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (i, x) in items.iter().enumerate() {
            let s = prefix
                .and_then(|p| p.get(i))
                .or_else(|| schema.get("items").filter(|s| s.is_object()));
            if let Some(s) = s {
                check(doc, s, x, &format!("{at}[{i}]"), true, out);
            }
        }
    }
}

/// Every property name an `allOf` (and its referenced parts) names.
fn all_keys(doc: &Value, schema: &Value) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut stack = vec![schema.clone()];
    while let Some(s) = stack.pop() {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/components/schemas/");
            stack.push(doc["components"]["schemas"][name].clone());
            continue;
        }
        if let Some(p) = s.get("properties").and_then(Value::as_object) {
            keys.extend(p.keys().cloned());
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            stack.extend(s[key].as_array().into_iter().flatten().cloned());
        }
    }
    Some(keys)
}

/// `GET base+path`: status and body.
fn get(base: &str, path: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(&format!("{base}{path}")).call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_vec().unwrap())
}

/// The schema the document gives for `status` answers of `GET path`.
fn schema_of<'a>(doc: &'a Value, route: &str, status: u16) -> &'a Value {
    let s = &doc["paths"][route]["get"]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        !s.is_null(),
        "the document has no JSON schema for GET {route} {status}"
    );
    s
}

/// Checks one real answer: typed round trip and schema.
fn answer<T: Serialize + DeserializeOwned>(
    doc: &Value,
    base: &str,
    path: &str,
    route: &str,
    status: u16,
) -> T {
    let (got, body) = get(base, path);
    let raw: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got, status, "GET {path}: {raw}");
    let typed: T = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("GET {path} does not read as its type: {e}\n{raw}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        raw,
        "GET {path}: the type loses or changes fields"
    );
    let mut problems = Vec::new();
    check(
        doc,
        schema_of(doc, route, status),
        &raw,
        "$",
        true,
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "GET {path} against the document:\n{}",
        problems.join("\n")
    );
    typed
}

#[test]
fn a_real_nodes_answers_read_as_their_types_and_match_the_served_document() {
    let net = Network::start(1);
    let suite = net.publish_digits_suite();
    let lab = &net.labs[0];
    // Real results in the report: the shipped IBM ART results of the digits suite.
    let art = digits_suite()
        .parent()
        .unwrap()
        .join("art/base-art-1.20.1.json");
    let out = std::process::Command::new(binary())
        .args(["submit", "--suite", &suite, "--results"])
        .arg(&art)
        .args(["--dir", lab.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = lab.client().base().to_owned();

    // The node serves the checked-in document.
    let (status, served) = get(&base, "/v1/openapi.json");
    assert_eq!(status, 200);
    let checked_in =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")).unwrap();
    assert!(
        served == checked_in,
        "the node serves another document than docs/openapi.json; regenerate it with \
         `cargo run -p interlab-node -- debug openapi > docs/openapi.json`"
    );
    let doc: Value = serde_json::from_slice(&served).unwrap();

    let status: StatusAnswer = answer(&doc, &base, "/v1/status", "/v1/status", 200);
    assert!(status.records >= 3, "{status:?}");
    let _: SigningAnswer = answer(&doc, &base, "/v1/signing", "/v1/signing", 200);
    let page: RecordsPage = answer(&doc, &base, "/v1/records?limit=50", "/v1/records", 200);
    let result = page
        .records
        .iter()
        .find(|r| r.kind == "run_result")
        .expect("the submitted result is listed");
    let id: RecordId = result.id;
    let one: RecordAnswer = answer(
        &doc,
        &base,
        &format!("/v1/records/{id}"),
        "/v1/records/{id}",
        200,
    );
    assert_eq!(one.record.id, id);
    let proof: ProofAnswer = answer(
        &doc,
        &base,
        &format!("/v1/proof/{id}"),
        "/v1/proof/{id}",
        200,
    );
    assert!(proof.valid);
    let _: LabsAnswer = answer(&doc, &base, "/v1/labs", "/v1/labs", 200);
    let _: ForksAnswer = answer(&doc, &base, "/v1/forks", "/v1/forks", 200);
    let c: ComparabilityAnswer = answer(
        &doc,
        &base,
        &format!("/v1/comparability?suite={suite}&round=1"),
        "/v1/comparability",
        200,
    );
    assert_eq!(c.comparability.results.len(), 1);
    assert!(
        c.comparability.report.is_some(),
        "{:?}",
        c.comparability.report_note
    );
    let _: DriftAnswer = answer(
        &doc,
        &base,
        &format!("/v1/drift?suite={suite}"),
        "/v1/drift",
        200,
    );
    let _: DisputesAnswer = answer(&doc, &base, "/v1/disputes", "/v1/disputes", 200);
    // Errors are typed too.
    let e: ErrorBody = answer(&doc, &base, "/v1/records/zz", "/v1/records/{id}", 400);
    assert_eq!(e.error, "bad_request");
    let e: ErrorBody = answer(
        &doc,
        &base,
        &format!("/v1/proof/{}", "0".repeat(64)),
        "/v1/proof/{id}",
        404,
    );
    assert_eq!(e.error, "not_found");
}
