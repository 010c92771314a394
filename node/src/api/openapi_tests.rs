//! The document against its checked-in copy and against the router's routes.

use std::collections::BTreeSet;

use super::*;

/// Where the checked-in copy lives.
fn checked_in_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let generated = document_json();
    let path = checked_in_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/openapi.json differs from the document the code generates; if the change of \
         contract is intended, regenerate it with\n  \
         cargo run -p interlab-node -- debug openapi > docs/openapi.json\nor\n  \
         UPDATE_OPENAPI=1 cargo test -p interlab-node --lib openapi"
    );
}

/// `(METHOD, PATH)` of every `.route("PATH", METHOD(handler)…)` in the router's source.
fn routed() -> BTreeSet<(String, String)> {
    let source = include_str!("mod.rs");
    let mut out = BTreeSet::new();
    for part in source.split(".route(\"").skip(1) {
        let Some((path, rest)) = part.split_once('"') else {
            continue;
        };
        let line = rest.lines().next().unwrap_or_default();
        for method in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!(" {method}(")) || line.contains(&format!(".{method}(")) {
                out.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    out
}

/// `(METHOD, PATH)` of every operation in the document.
fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(document()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[test]
fn the_document_lists_every_route_the_router_serves_and_no_other() {
    let routed = routed();
    assert!(routed.len() >= 18, "the route scan found only {routed:?}");
    let documented = documented();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes without a #[utoipa::path] in api::openapi: {undocumented:?}; documented \
         but not routed: {unrouted:?}"
    );
}

#[test]
fn the_calls_that_sign_or_change_the_node_say_they_need_the_token() {
    let doc = serde_json::to_value(document()).unwrap();
    for (method, path) in documented() {
        let op = &doc["paths"][&path][&method];
        let guarded = method == "post";
        assert_eq!(
            op.get("security").is_some(),
            guarded,
            "{method} {path}: security {}",
            op["security"]
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
}
