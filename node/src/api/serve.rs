//! Serving the API's router over HTTP/1 with connection hygiene that `axum::serve`
//! does not give: a client that sends no complete request header within
//! [`ServeConfig::header_timeout`] — a fresh connection, a half-sent header, or a
//! keep-alive connection left idle after its last answer — is disconnected, so idle
//! sockets cannot pile up. Shutdown is graceful: requests in flight finish.

use std::{future::Future, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};

/// Connection limits of the API server.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    header_timeout: Duration,
    drain_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            // Time to send a whole request header, on a new or an idle kept-alive
            // connection.
            header_timeout: Duration::from_secs(10),
            // How long shutdown waits for requests in flight.
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// Sets the header-read (and idle) timeout.
    pub fn with_header_timeout(mut self, t: Duration) -> ServeConfig {
        self.header_timeout = t;
        self
    }

    /// The header-read (and idle) timeout.
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (up to the drain timeout).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: back off, keep serving.
                        tracing::warn!("API: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = TowerToHyperService::new(app.clone());
                let mut stop = stop_rx.clone();
                conns.spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(config.header_timeout)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => {
                            if let Err(e) = r {
                                tracing::debug!("API connection closed: {e}");
                            }
                        }
                        () = async { let _ = stop.wait_for(|s| *s).await; } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(config.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!("API: connections still open after shutdown; closing them");
        conns.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::{Router, routing::get};
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::{ServeConfig, serve};

    /// Reads until the server closes the connection; what it sent.
    async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        // A bound so that a broken server fails the test instead of hanging it.
        let closed = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the server kept the connection open");
        got
    }

    #[tokio::test]
    async fn idle_half_sent_and_kept_alive_connections_are_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let config = ServeConfig::default().with_header_timeout(Duration::from_millis(300));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, config, async move {
            let _ = stopped.await;
        }));

        // Connected, never says a word.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        // Half of a request header.
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        // A whole request, answered, then the connection is left open.
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();

        assert!(read_until_closed(&mut idle).await.is_empty());
        let half_answer = String::from_utf8_lossy(&read_until_closed(&mut half).await).into_owned();
        assert!(!half_answer.contains("200 OK"), "{half_answer}");
        let kept_answer = String::from_utf8_lossy(&read_until_closed(&mut kept).await).into_owned();
        assert!(kept_answer.starts_with("HTTP/1.1 200 OK"), "{kept_answer}");

        let _ = stop.send(());
        server.await.unwrap();
    }
}
