//! `GET /metrics`: the runtime's metrics (and the server's own) in Prometheus text format,
//! rendered from a [`PrometheusHandle`]; and the middleware that counts every request.
//!
//! A recorder is process-wide (the `metrics` facade has one global recorder, set once). The
//! first server that needs one installs it, with the buckets below, and every later server
//! of the process serves the same handle. A program that installed a recorder of its own
//! passes its handle ([`ServerBuilder::metrics`](crate::http::ServerBuilder::metrics)), or
//! has no `/metrics` route (another kind of recorder: its own exporter serves it).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use super::auth::RouteGroup;

/// The path of the metrics route (in [`RouteGroup::Admin`]).
pub(crate) const PATH: &str = "/metrics";

/// The content type of Prometheus's text exposition format.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the histograms recorded since the last look are folded into their buckets, so
/// that an unscraped server's memory stays flat (the exporter leaves this to its user).
const UPKEEP: Duration = Duration::from_secs(5);

/// Commit latencies, fsync included: 100 µs (a page-cache commit) to 1 s (a stalled disk).
const COMMIT_SECONDS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Actions and records per commit: one to the thousands a group commit gathers.
const PER_COMMIT: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// Request latencies: 500 µs to the default request time limit (30 s).
const REQUEST_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// The handle of the recorder this crate installed, or `None` if another was installed first.
static INSTALLED: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle: installs the recorder on first use (and describes the
/// runtime's metrics to it). `None` if another recorder was installed first.
pub(crate) fn installed() -> Option<PrometheusHandle> {
    INSTALLED
        .get_or_init(|| match install() {
            Ok(handle) => {
                crate::metrics::describe_metrics();
                Some(handle)
            }
            Err(error) => {
                tracing::info!(%error, "another metrics recorder is installed: /metrics is served only with its handle (ServerBuilder::metrics)");
                None
            }
        })
        .clone()
}

fn install() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("actor_commit_seconds".into()),
            &COMMIT_SECONDS,
        )?
        .set_buckets_for_metric(Matcher::Full("actor_commit_actions".into()), &PER_COMMIT)?
        .set_buckets_for_metric(Matcher::Full("actor_commit_records".into()), &PER_COMMIT)?
        .set_buckets_for_metric(
            Matcher::Full(crate::metrics::HTTP_REQUEST_SECONDS.into()),
            &REQUEST_SECONDS,
        )?
        .install_recorder()
}

/// The metrics route's answer.
pub(crate) fn render(handle: &PrometheusHandle) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT))],
        handle.render(),
    )
        .into_response()
}

/// Runs the handle's upkeep until the server stops.
pub(crate) async fn upkeep(handle: PrometheusHandle, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(UPKEEP) => handle.run_upkeep(),
        }
    }
}

/// The middleware that counts every request by route pattern (never the raw path: the
/// label's values stay bounded) and status, and records its latency.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(route) => route.as_str().to_owned(),
        None if RouteGroup::of(request.uri().path()) == RouteGroup::Worker => "(worker)".into(),
        None => "(no route)".into(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    crate::metrics::http_request(route, response.status().as_u16(), started.elapsed());
    response
}
