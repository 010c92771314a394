//! The OpenAPI 3.1 document of the HTTP API, generated from [`super::types`] and the
//! handlers' `#[utoipa::path]` attributes. `docs/openapi.json` is this document checked
//! in; a test fails when they differ (`interlab debug openapi > docs/openapi.json`
//! regenerates it).

use std::sync::OnceLock;

use axum::http::header;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{admin, dashboard, records, reports, types};

/// The bearer token that `interlab init` wrote, needed by the calls that sign or
/// change the node.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The node's API token (the file `api.token` that `interlab init` \
                         wrote in the node's directory).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Interlab node API",
        description = "Read a node's signed evidence and the comparability statistics \
                       computed from it; publish through the node. Reads are open; calls \
                       that sign with the node's key need its bearer token. Every answer \
                       names the evidence root it was computed from. Digests, record ids \
                       and keys are lowercase hex strings.",
        license(name = "Apache-2.0"),
    ),
    paths(
        dashboard::page,
        records::status,
        records::signing,
        records::list,
        records::one,
        records::proof,
        records::artefact,
        records::labs,
        records::forks,
        reports::comparability,
        reports::drift,
        reports::disputes,
        crate::report::http::report,
        records::publish,
        records::upload,
        records::submit,
        admin::block,
        admin::sync,
        openapi_json,
    ),
    components(schemas(types::ErrorBody)),
    modifiers(&BearerToken),
    tags(
        (name = "node", description = "The node and whether it may sign"),
        (name = "records", description = "The signed log: records, inclusion proofs, publishing"),
        (name = "artefacts", description = "Content-addressed suite artefacts"),
        (name = "governance", description = "Labs, their standing and equivocations"),
        (name = "reports", description = "What a regulator asks: comparability, drift, disputes"),
        (name = "admin", description = "Operator controls of the node's connections"),
        (name = "dashboard", description = "The HTML dashboard"),
        (name = "contract", description = "This document"),
    )
)]
struct ApiDoc;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // The crate's version would change the document on every release bump without a
    // change of contract; the API is versioned by its `/v1` prefix.
    doc.info.version = "v1".to_owned();
    doc
}

/// The document as pretty JSON with a final newline, exactly as `docs/openapi.json`
/// holds it (object keys in the document's own stable order).
pub fn document_json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut s = document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot render the document: {e}\"}}"));
        s.push('\n');
        s
    })
    .clone()
}

/// `GET /v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "contract",
    description = "This document: the OpenAPI 3.1 description of every route and answer.",
    responses((status = 200, description = "The document", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
