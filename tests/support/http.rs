//! Talking to servers in tests: a real HTTP client (reqwest) and raw TCP for what a client
//! library will not send, a server program started as a child process, and the error body
//! every error answer has. Every server listens on loopback.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A client for loopback servers: no proxies, a bound on every request.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build the HTTP client")
}

/// An answer: status and body as JSON (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: serde_json::Value,
    pub(crate) text: String,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The `kind` of an error body.
    pub(crate) fn kind(&self) -> &str {
        self.body["error"]["kind"].as_str().unwrap_or("(no kind)")
    }

    /// The `message` of an error body.
    pub(crate) fn message(&self) -> &str {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or("(no message)")
    }
}

pub(crate) async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        body,
        text,
        headers,
    }
}

/// `POST base + path` with a JSON body (`""`: no body).
pub(crate) async fn post(client: &reqwest::Client, base: &str, path: &str, json: &str) -> Answer {
    let mut request = client.post(format!("{base}{path}"));
    if !json.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(json.to_owned());
    }
    answer(request.send().await.expect("send the request")).await
}

/// `GET base + path`.
pub(crate) async fn get(client: &reqwest::Client, base: &str, path: &str) -> Answer {
    answer(
        client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send the request"),
    )
    .await
}

/// Sends `request` as raw bytes on a new connection and reads until the server closes it or
/// `within` passes. Returns the status (0 if none came) and everything after the head.
pub(crate) async fn raw(addr: &str, request: &[u8], within: Duration) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A server program running as a child process, killed when dropped.
pub(crate) struct ServerProcess {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`, from its first line.
    pub(crate) base: String,
    /// The rest of its output.
    pub(crate) stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    /// Starts `command` and waits for its first line, `listening on http://ADDR`.
    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server program");
        let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read its first line");
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the first line names the address: {first:?}"))
            .to_owned();
        Self {
            child,
            base,
            stdout,
        }
    }

    /// `host:port`, for raw connections.
    pub(crate) fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends SIGTERM (a graceful shutdown) and waits for the exit; returns what it printed
    /// after its first line.
    pub(crate) fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = self.child.wait().expect("wait for the server");
        let mut rest = String::new();
        while self.stdout.read_line(&mut rest).unwrap_or(0) > 0 {}
        (exit, rest)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
