//! The HTTP load of `bench-api`: concurrent clients, each on its own kept-alive
//! connection, driven by one event loop on one thread.
//!
//! The clients run on the machine they measure. Fifty blocking clients would be fifty
//! more threads for the scheduler to share the cores with, and each answer a fresh
//! allocation; their own cost would show up as the node's latency. An event-driven
//! generator (as wrk and oha are) costs a few microseconds per request, so what it
//! measures is the node.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use axum::http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// One request: route index, milliseconds, status (none: no HTTP answer).
pub(super) type Sample = (usize, f64, Option<u16>);

/// The longest a request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `clients` clients against `addr` until `stop` is set; client `i` asks
/// `paths[(i + k) % paths.len()]` as its k-th request, where each path is given with
/// its route index. Blocks the calling thread.
pub(super) fn run(
    addr: SocketAddr,
    clients: usize,
    paths: Arc<Vec<(usize, String)>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Vec<Sample>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|i| tokio::spawn(client(i, addr, paths.clone(), stop.clone())))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(samples) = t.await {
                all.extend(samples);
            }
        }
        Ok(all)
    })
}

/// One client: a connection, requests one after another, a new connection when the
/// node closes one.
async fn client(
    i: usize,
    addr: SocketAddr,
    paths: Arc<Vec<(usize, String)>>,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut k = i;
    let host = addr.to_string();
    while !stop.load(Ordering::Relaxed) && !paths.is_empty() {
        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
            samples.push((paths[k % paths.len()].0, 0.0, None));
            k += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            continue;
        };
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            let (route, path) = &paths[k % paths.len()];
            k += 1;
            let Ok(req) = Request::get(path.as_str())
                .header(header::HOST, &host)
                // Clients ask for gzip, as browsers and HTTP libraries do, and read the
                // answer as sent: decompressing is the client's work after it arrived.
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Empty::<Bytes>::new())
            else {
                break;
            };
            let t = Instant::now();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                let resp = sender.send_request(req).await.ok()?;
                let status = resp.status().as_u16();
                let mut body = resp.into_body();
                while let Some(frame) = body.frame().await {
                    frame.ok()?;
                }
                Some(status)
            })
            .await
            .ok()
            .flatten();
            samples.push((*route, t.elapsed().as_secs_f64() * 1000.0, answer));
            if answer.is_none() {
                break;
            }
        }
    }
    samples
}
