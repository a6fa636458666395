//! Hostile bytes over the wire, sent raw where a client library would refuse to: malformed
//! JSON, wrong content types, huge bodies (with and without a length), slow headers, 10k-deep
//! JSON, invalid UTF-8 in paths and keys, oversized heads, unknown routes. Each gets a clear
//! status (and a JSON body wherever the request got as far as the routes), within a bound; the
//! server keeps serving; nothing stored changes.

#[path = "support/http.rs"]
mod http;
#[path = "support/storage.rs"]
mod storage;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use actor_core::http::{Limits, Server};
use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use http::{client, post, raw};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    pub async fn get(&self) -> i64 {
        self.count
    }
}

/// How long a raw exchange may take before it counts as hung.
const PATIENCE: Duration = Duration::from_secs(5);

/// A server on a file with `Counter/k` at 7, small limits, and a short header timeout.
async fn start(name: &str) -> (Server, String, std::path::PathBuf) {
    let path = storage::temp_path(name);
    let limits = Limits::default()
        .max_body_bytes(64 * 1024)
        .max_header_bytes(4096)
        .max_headers(16)
        .header_read_timeout(Duration::from_millis(300));
    let server = Server::builder(System::open(&path).await.unwrap())
        .actor::<Counter>()
        .listen(([127, 0, 0, 1], 0))
        .limits(limits)
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let a = post(
        &client(),
        &base,
        "/actors/Counter/k/increment",
        r#"{"by":7}"#,
    )
    .await;
    assert_eq!(a.body, json!(7));
    (server, base, path)
}

/// The server still serves, and `Counter/k` is still 7 in memory and, after shutdown, on disk.
async fn still_serving_and_unchanged(server: Server, base: &str, path: &std::path::Path) {
    let a = post(&client(), base, "/actors/Counter/k/get", "").await;
    assert_eq!((a.status, &a.body), (200, &json!(7)), "{a:?}");
    server.shutdown().await;
    let system = System::open(path).await.unwrap();
    let stored = system
        .get::<Counter>("k")
        .await
        .unwrap()
        .get()
        .await
        .unwrap();
    assert_eq!(stored, 7);
    let others = system.get::<Counter>("\u{fffd}").await;
    assert!(others.is_err(), "no actor was created by a bad key");
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

/// A raw POST with a body.
fn request(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    if !content_type.is_empty() {
        out.extend_from_slice(format!("content-type: {content_type}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn kind(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).map_or_else(
        |_| format!("(not JSON: {body:.80})"),
        |v| {
            v["error"]["kind"]
                .as_str()
                .unwrap_or("(no kind)")
                .to_owned()
        },
    )
}

#[tokio::test]
async fn malformed_bodies_get_a_400_or_415_that_says_why() {
    let (server, base, path) = start("wire-bodies").await;
    let addr = base.trim_start_matches("http://").to_owned();
    let deep = format!("{{\"by\": {}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&[u8], &str, u16, &str)> = vec![
        (b"{\"by\": 1,}", "application/json", 400, "bad_json"),
        (b"{\"by\": 1", "application/json", 400, "bad_json"),
        (b"\xff\xfe{}", "application/json", 400, "bad_json"),
        (b"{\"by\": \"\xff\"}", "application/json", 400, "bad_json"),
        (deep.as_bytes(), "application/json", 400, "bad_json"),
        (
            b"by=1",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (b"{\"by\": 1}", "", 415, "unsupported_media_type"),
        (b"{\"by\": 1}", "text/json", 415, "unsupported_media_type"),
        (b"\"by\"", "application/json", 400, "bad_arguments"),
        (b"{\"by\": 1e400}", "application/json", 400, "bad_json"),
        (
            b"{\"by\": 99999999999999999999}",
            "application/json",
            400,
            "bad_arguments",
        ),
    ];
    for (body, content_type, status, expected) in cases {
        let sent = request("/actors/Counter/k/increment", content_type, body);
        let (got, answer) = raw(&addr, &sent, PATIENCE).await;
        let case = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        assert_eq!(
            (got, kind(&answer).as_str()),
            (status, expected),
            "{case}: {answer:.200}"
        );
    }
    // The 10k-deep body is refused for its depth, by name.
    let (_, answer) = raw(
        &addr,
        &request(
            "/actors/Counter/k/increment",
            "application/json",
            deep.as_bytes(),
        ),
        PATIENCE,
    )
    .await;
    assert!(answer.contains("recursion limit"), "{answer:.200}");
    still_serving_and_unchanged(server, &base, &path).await;
}

#[tokio::test]
async fn bad_paths_and_unknown_routes_get_a_clear_status() {
    let (server, base, path) = start("wire-paths").await;
    let addr = base.trim_start_matches("http://").to_owned();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        // Percent-encoded bytes that are not UTF-8, in the key and in the type.
        (
            request("/actors/Counter/%FF%FE/increment", "", b""),
            400,
            "bad_path",
        ),
        (request("/actors/%C0%AF/k/get", "", b""), 400, "bad_path"),
        (request("/actors/Counter/%5Cx/get", "", b""), 400, "bad_key"),
        (request("/actors/Counter/k/%FF", "", b""), 400, "bad_path"),
        (request("/actors/Counter/k/get/", "", b""), 404, "not_found"),
        (request("/actors/Counter/k", "", b""), 404, "not_found"),
        (request("/nowhere", "", b""), 404, "not_found"),
        (
            b"DELETE /actors/Counter/k/get HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
                .to_vec(),
            405,
            "method_not_allowed",
        ),
    ];
    for (sent, status, expected) in cases {
        let (got, answer) = raw(&addr, &sent, PATIENCE).await;
        let case = String::from_utf8_lossy(&sent[..sent.len().min(50)]).into_owned();
        assert_eq!(got, status, "{case}: {answer:.200}");
        if !expected.is_empty() {
            assert_eq!(kind(&answer), expected, "{case}: {answer:.200}");
        }
    }
    // Raw bytes that are not UTF-8 (or not a request at all) never reach the routes: the
    // HTTP parser answers a bare 400 and closes.
    for sent in [
        &b"POST /actors/Counter/\xff\xfe/get HTTP/1.1\r\nhost: t\r\n\r\n"[..],
        b"GET /\x00 HTTP/1.1\r\nhost: t\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        let (got, answer) = raw(&addr, sent, PATIENCE).await;
        assert_eq!(
            got,
            400,
            "{:?}: {answer:.200}",
            String::from_utf8_lossy(sent)
        );
    }
    still_serving_and_unchanged(server, &base, &path).await;
}

#[tokio::test]
async fn huge_bodies_and_heads_are_refused_without_being_read() {
    let (server, base, path) = start("wire-huge").await;
    let addr = base.trim_start_matches("http://").to_owned();
    // A length over the limit: refused from the head alone (the body is never sent).
    let head = b"POST /actors/Counter/k/increment HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n{";
    let (got, answer) = raw(&addr, head, PATIENCE).await;
    assert_eq!(
        (got, kind(&answer).as_str()),
        (413, "body_too_large"),
        "{answer:.200}"
    );
    // No length (chunked): refused once the limit is crossed.
    let mut chunked = b"POST /actors/Counter/k/increment HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", " ".repeat(0x1000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (got, answer) = raw(&addr, &chunked, PATIENCE).await;
    assert_eq!(
        (got, kind(&answer).as_str()),
        (413, "body_too_large"),
        "{answer:.200}"
    );
    // A head over 4 KiB, or with more than 16 headers: a bare 431.
    let big_header = format!(
        "GET /actors HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(8 * 1024)
    );
    let (got, _) = raw(&addr, big_header.as_bytes(), PATIENCE).await;
    assert_eq!(got, 431);
    let many = (0..20).fold(String::new(), |mut out, i| {
        let _ = write!(out, "x-h{i}: v\r\n");
        out
    });
    let many = format!("GET /actors HTTP/1.1\r\nhost: t\r\n{many}\r\n");
    let (got, _) = raw(&addr, many.as_bytes(), PATIENCE).await;
    assert_eq!(got, 431);
    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: t\r\n\r\n", "u".repeat(8 * 1024));
    let (got, _) = raw(&addr, long_uri.as_bytes(), PATIENCE).await;
    assert!(got == 431 || got == 414, "{got}");
    still_serving_and_unchanged(server, &base, &path).await;
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_while_others_are_served() {
    let (server, base, path) = start("wire-slow").await;
    let addr = base.trim_start_matches("http://").to_owned();
    // Slow loris: a head trickled one byte at a time, far slower than the 300 ms allowed.
    let loris = tokio::spawn({
        let addr = addr.clone();
        async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let started = Instant::now();
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            stream
                .write_all(b"POST /actors/Counter/k/get HTTP/1.1\r\nhost: t\r\n")
                .await
                .unwrap();
            for byte in b"x-slow: 1234567890\r\n".iter().cycle().take(200) {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                let mut probe = [0u8; 64];
                let read =
                    tokio::time::timeout(Duration::from_millis(100), stream.read(&mut probe)).await;
                if let Ok(Ok(0) | Err(_)) = read {
                    break; // closed by the server
                }
                assert!(
                    !matches!(read, Ok(Ok(_))),
                    "the server answered a half-sent head"
                );
            }
            started.elapsed()
        }
    });
    // An idle connection that never sends a byte.
    let idle = tokio::spawn({
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            let (got, _) = raw(&addr, b"", PATIENCE).await;
            (got, started.elapsed())
        }
    });
    // Meanwhile, other clients are served at once.
    for _ in 0..5 {
        let started = Instant::now();
        let a = post(&client(), &base, "/actors/Counter/k/get", "").await;
        assert_eq!(a.body, json!(7));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not held up by the slow ones"
        );
    }
    let loris = loris.await.unwrap();
    assert!(
        loris >= Duration::from_millis(250) && loris < Duration::from_secs(3),
        "the slow client was cut off after about 300 ms, not {loris:?}"
    );
    let (got, idle) = idle.await.unwrap();
    assert_eq!(got, 0, "an idle connection is closed without an answer");
    assert!(
        idle < Duration::from_secs(3),
        "closed after about 300 ms, not {idle:?}"
    );
    still_serving_and_unchanged(server, &base, &path).await;
}
