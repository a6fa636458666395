//! `GET /metrics` through a real client: the Prometheus text format, the runtime's metrics and
//! the server's own, and the admin route group's token. The servers here install the
//! process's Prometheus recorder (the first one to start) and share it, so this binary holds
//! no other recorder.

#[path = "support/http.rs"]
mod http;

use actor_core::http::{Auth, RouteGroup, Server};
use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Gauged {
    count: i64,
}

#[actions]
impl Gauged {
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

async fn start(auth: Option<Auth>) -> (Server, String) {
    let mut builder = Server::builder(System::temporary().await.unwrap())
        .actor::<Gauged>()
        .listen(([127, 0, 0, 1], 0));
    if let Some(auth) = auth {
        builder = builder.auth(auth);
    }
    let server = builder.start().await.unwrap();
    let base = format!("http://{}", server.local_addr());
    (server, base)
}

#[tokio::test]
async fn metrics_answer_in_prometheus_text_format() {
    let (server, base) = start(None).await;
    let client = http::client();
    let called = http::post(&client, &base, "/actors/Gauged/g/increment", r#"{"by":2}"#).await;
    assert_eq!(called.status, 200, "{}", called.text);
    let scraped = http::get(&client, &base, "/metrics").await;
    assert_eq!(scraped.status, 200, "{}", scraped.text);
    let content_type = scraped.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for expected in [
        "# TYPE actor_commit_seconds histogram",
        "actor_commit_seconds_bucket{le=\"0.001\"}",
        "actor_commit_actions_count",
        "actor_commit_records_sum",
        "actor_writer_queue_depth",
        "actor_awake{type=\"Gauged\"} 1",
        "http_requests_total{route=\"/actors/{type}/{key}/{action}\",status=\"200\"}",
        "http_request_duration_seconds_bucket{route=\"/actors/{type}/{key}/{action}\"",
        "# HELP actor_commit_seconds How long the writer's commits took",
    ] {
        assert!(
            scraped.text.contains(expected),
            "{expected} is missing from:\n{}",
            scraped.text
        );
    }
    // The scrape itself is counted once answered.
    let again = http::get(&client, &base, "/metrics").await;
    assert!(
        again
            .text
            .contains("http_requests_total{route=\"/metrics\",status=\"200\"}"),
        "{}",
        again.text
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_bearer_token_guards_the_metrics() {
    let (server, base) = start(Some(Auth::bearer("operator-token"))).await;
    let client = http::client();
    let refused = http::get(&client, &base, "/metrics").await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.kind(), "unauthorized");
    let admitted = client
        .get(format!("{base}/metrics"))
        .bearer_auth("operator-token")
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 200);
    let text = admitted.text().await.unwrap();
    assert!(
        text.contains("http_requests_total{route=\"/metrics\",status=\"401\"}"),
        "the refusal is counted: {text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_for_other_groups_leaves_the_metrics_open() {
    let actors_only = Auth::bearer("actors-token").only([RouteGroup::Actors]);
    let (server, base) = start(Some(actors_only)).await;
    let client = http::client();
    assert_eq!(http::get(&client, &base, "/metrics").await.status, 200);
    let refused = http::post(&client, &base, "/actors/Gauged/g/increment", r#"{"by":1}"#).await;
    assert_eq!(refused.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn without_metrics_there_is_no_route() {
    let server = Server::builder(System::temporary().await.unwrap())
        .without_metrics()
        .listen(([127, 0, 0, 1], 0))
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let answer = http::get(&http::client(), &base, "/metrics").await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    server.shutdown().await;
}
