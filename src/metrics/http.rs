//! The HTTP endpoint of the metrics: `GET /metrics` answers the text exposition, anything else
//! 404. HTTP/1 only, on hyper's server with hyper-util's tokio glue (both already built for
//! reqwest's client, so only their server features are added). A slow or idle client holds
//! only its own connection, for at most [`CONNECTION_LIMIT`]; it never blocks a mailbox.

use super::{Metrics, CONTENT_TYPE};
use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest a client may take to send its request headers.
const HEADER_LIMIT: Duration = Duration::from_secs(10);
/// The longest one connection is served (a scrape takes milliseconds; keep-alive reuses it).
const CONNECTION_LIMIT: Duration = Duration::from_secs(300);

/// The running endpoint; [`Endpoint::stop`] ends it.
pub struct Endpoint {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Listens on `addr` (the `metrics_listen` key) and serves `metrics` until stopped. An address
/// that cannot be bound is an error naming the key, for `tend run` to fail with.
pub async fn serve(addr: SocketAddr, metrics: Metrics) -> Result<Endpoint> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("metrics_listen = \"{addr}\" in tend.toml: cannot listen there for Prometheus")
    })?;
    let addr = listener
        .local_addr()
        .context("the metrics listener's address")?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the metrics endpoint listens beyond this machine: anyone who can reach it reads \
             your mailbox names and counts (set metrics_listen to 127.0.0.1 to keep it local)"
        );
    }
    tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    let stop = CancellationToken::new();
    let task = tokio::spawn(accept(listener, metrics, stop.clone()));
    Ok(Endpoint { addr, stop, task })
}

impl Endpoint {
    /// Where it listens (the port the system chose, when the key said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and drops the connections still open.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(err) = self.task.await {
            tracing::warn!("the metrics endpoint ended badly: {err}");
        }
    }
}

async fn accept(listener: TcpListener, metrics: Metrics, stop: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(err) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!("metrics endpoint: accepting a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let metrics = metrics.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_LIMIT)
                .serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(move |req| answer(req, metrics.clone())),
                );
            tokio::select! {
                r = tokio::time::timeout(CONNECTION_LIMIT, conn) => {
                    if let Ok(Err(err)) = r {
                        tracing::debug!(%peer, "metrics endpoint: {err}");
                    }
                }
                _ = stop.cancelled() => {}
            }
        });
    }
}

/// One request: the exposition for `GET /metrics`, 404 for anything else.
async fn answer(
    req: Request<Incoming>,
    metrics: Metrics,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(respond(req.method(), req.uri().path(), &metrics))
}

pub(super) fn respond(method: &Method, path: &str, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if method == Method::GET && path == "/metrics" {
        (StatusCode::OK, CONTENT_TYPE, metrics.encode())
    } else {
        let text = "not found: tend serves its metrics on GET /metrics\n".to_string();
        (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", text)
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
