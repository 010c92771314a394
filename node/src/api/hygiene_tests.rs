//! Every route's malformed input answers 4xx with a JSON error body; the round and
//! dispute rules; a real node on loopback, spoken to over raw HTTP/1.1.

use std::net::SocketAddr;

use interlab_protocol::{Digest, testkit::Workload};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::hygiene::MAX_BODY;
use crate::runtime::{self, Overrides, RunningNode};

async fn start(root: &std::path::Path) -> (RunningNode, String) {
    let (dir, token) = super::test_node_dir(root, "probe");
    (
        // A lone node that may sign, so that the dispute-target rule is what answers.
        runtime::start(
            &dir,
            Overrides {
                sign_without_peers: true,
                ..Overrides::default()
            },
        )
        .await
        .unwrap(),
        token,
    )
}

/// One request on its own connection; the status and the body as JSON (`Null` when
/// the body is not JSON).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before it has read the whole body.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_on_every_route_answer_4xx_with_a_json_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, token) = start(tmp.path()).await;
    let mut work = Workload::new(5, 3);
    node.store.ingest(&work.take(40), work.now_ms()).unwrap();
    let suite = work.suite();
    let addr = node.api_addr;
    let auth = || ("Authorization", format!("Bearer {token}"));
    let json = || ("Content-Type", "application/json".to_owned());
    let unknown = Digest::of("interlab test", b"nothing").to_string();
    let dispute = serde_json::to_vec(&serde_json::json!({ "body": {
        "dispute": { "target": unknown, "grounds": "outlier",
                     "statement": "x", "evidence": [] } } }))
    .unwrap();
    let big = vec![0u8; MAX_BODY + 1];

    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, String)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/v1/records/zz".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/proof/not-hex".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            format!("/v1/proof/{unknown}"),
            vec![],
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/artefacts/xyz".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/records?limit=many".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/records?kind=nope".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/records?after=zz".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/comparability?suite=zz".into(),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            format!("/v1/comparability?suite={suite}&round=x"),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            format!("/v1/comparability?suite={unknown}"),
            vec![],
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            format!("/v1/comparability?suite={suite}&round=99999"),
            vec![],
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            format!("/v1/drift?suite={suite}&round=99999"),
            vec![],
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            format!("/v1/drift?suite={suite}&include_disputed=maybe"),
            vec![],
            vec![],
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/no-such-route".into(),
            vec![],
            vec![],
            404,
            "not_found",
        ),
        (
            "POST",
            "/v1/status".into(),
            vec![],
            vec![],
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/v1/publish".into(),
            vec![json()],
            b"{}".to_vec(),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/v1/publish".into(),
            vec![auth()],
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/publish".into(),
            vec![auth(), json()],
            b"{not json".to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/v1/publish".into(),
            vec![auth(), json()],
            b"{\"body\":1}".to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/v1/publish".into(),
            vec![auth(), json()],
            dispute,
            404,
            "not_found",
        ),
        (
            "POST",
            "/v1/envelopes".into(),
            vec![auth()],
            b"junk".to_vec(),
            422,
            "*",
        ),
        (
            "POST",
            "/v1/artefacts".into(),
            vec![auth()],
            big,
            413,
            "too_large",
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, headers, body, status, code) in cases {
        let (got, v) = call(addr, method, &path, &headers, &body).await;
        let code_ok = v["error"] == code || (code == "*" && v["error"].is_string());
        let ok = got == status && code_ok && v["message"].is_string();
        if !ok {
            wrong.push(format!(
                "{method} {path}: expected {status} {code}, got {got} {v}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A round the log mentions is not refused as never opened.
    let round = work.round();
    let (got, v) = call(
        addr,
        "GET",
        &format!("/v1/comparability?suite={suite}&round={round}"),
        &[],
        &[],
    )
    .await;
    assert_ne!(got, 404, "round {round}: {v}");
    node.shutdown().await;
}
