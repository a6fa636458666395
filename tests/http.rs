//! Serving actors over HTTP, through a real client on loopback: every route, every error
//! status with its JSON body, bearer tokens on and off, the limits, the worker, and graceful
//! shutdown. Hostile bytes on the wire are in `http_wire.rs`, the SIGKILL loop in
//! `http_kill.rs`.

#[path = "support/http.rs"]
mod http;
#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;
#[path = "support/wait.rs"]
mod wait;

use std::convert::Infallible;
use std::time::Duration;

use actor_core::http::{
    Auth, Bytes, IntoResponse, Limits, Listing, Request, Response, RouteGroup, ServeError, Server,
    ServerBuilder, StatusCode, WorkerError,
};
use actor_core::{Actor, ActorKey, Bindings, Ctx, Env, KvStore, System, actions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use http::{client, get, post};

/// The keys of the `Probe`s whose `slow` action has started: a test waits for its own before
/// it shuts the server down under it.
static SLOW_STARTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Waits until `slow` has started on the `Probe` at `key`.
async fn slow_started(key: &str) {
    wait::eventually(|| async { SLOW_STARTED.lock().unwrap().iter().any(|k| k == key) }).await;
}

/// The actor the routes call: an action for each way a call can end.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(max_state_bytes = 512)]
struct Probe {
    count: i64,
    notes: Vec<String>,
}

/// The error `withdraw` returns: what a client sees in `value`.
#[derive(Debug, Serialize)]
enum Refusal {
    Insufficient { balance: i64 },
}

#[actions]
impl Probe {
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    pub async fn get(&self) -> i64 {
        self.count
    }

    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, Refusal> {
        if amount > self.count {
            return Err(Refusal::Insufficient {
                balance: self.count,
            });
        }
        self.count -= amount;
        Ok(self.count)
    }

    /// Grows the state: past 512 bytes it is refused.
    pub async fn note(&mut self, text: String) -> usize {
        self.notes.push(text);
        self.notes.len()
    }

    pub async fn boom(&mut self) -> i64 {
        self.count += 1000;
        panic!("boom with a secret inside");
    }

    /// A reply JSON cannot carry: the action is rolled back.
    pub async fn huge(&mut self) -> u128 {
        self.count += 1;
        u128::MAX
    }

    pub async fn slow(&mut self, ctx: &Ctx<Self>, ms: u64) -> i64 {
        SLOW_STARTED.lock().unwrap().push(ctx.key().to_string());
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.count += 1;
        self.count
    }
}

/// A hand-written actor: it lists its actions but not their arguments.
#[derive(Serialize, Deserialize, Default)]
struct Echo;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EchoAction {
    Say { text: String },
}

impl Actor for Echo {
    const NAME: &'static str = "Echo";
    const ACTIONS: &'static [&'static str] = &["say"];
    type Input = ();
    type Action = EchoAction;
    type Reply = String;
    type Error = String;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self
    }

    async fn handle(&mut self, action: EchoAction, _: &mut Ctx<Self>) -> Result<String, String> {
        match action {
            EchoAction::Say { text } => Ok(text),
        }
    }
}

/// Starts a server for `Probe` and `Echo` on a free loopback port; `configure` adds the rest.
async fn serve(
    system: System,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, String) {
    let builder = Server::builder(system)
        .actor::<Probe>()
        .actor::<Echo>()
        .listen(([127, 0, 0, 1], 0));
    let server = configure(builder).start().await.expect("start the server");
    let base = format!("http://{}", server.local_addr());
    (server, base)
}

/// The count stored for `key`, read from the file after the server has shut down.
async fn stored_count(path: &std::path::Path, key: impl Into<ActorKey>) -> i64 {
    let system = System::open(path).await.expect("reopen the file");
    let count = system
        .get::<Probe>(key)
        .await
        .expect("the actor exists")
        .get()
        .await
        .expect("get");
    system.shutdown().await;
    count
}

#[tokio::test]
async fn actions_answer_their_reply_as_json_and_it_is_on_disk() {
    let path = storage::temp_path("http-actions");
    let (server, base) = serve(System::open(&path).await.unwrap(), |b| b).await;
    let c = client();

    let a = post(&c, &base, "/actors/Probe/room-1/increment", r#"{"by": 5}"#).await;
    assert_eq!((a.status, &a.body), (200, &json!(5)), "{a:?}");
    assert_eq!(a.headers["content-type"], "application/json");
    let a = post(&c, &base, "/actors/Probe/room-1/increment", r#"{"by": 2}"#).await;
    assert_eq!(a.body, json!(7));
    // No body, `{}` and `null` are all "no arguments".
    for body in ["", "{}", "null"] {
        let a = post(&c, &base, "/actors/Probe/room-1/get", body).await;
        assert_eq!((a.status, &a.body), (200, &json!(7)), "{body}: {a:?}");
    }
    let a = post(
        &c,
        &base,
        "/actors/Probe/room-1/withdraw",
        r#"{"amount": 3}"#,
    )
    .await;
    assert_eq!((a.status, &a.body), (200, &json!(4)));
    // The key is the printed form of an `ActorKey`, percent-encoded: `shop/berlin` is a key
    // of two parts, `shop\/berlin` one part with a slash.
    let a = post(
        &c,
        &base,
        "/actors/Probe/shop%2Fberlin/increment",
        r#"{"by":1}"#,
    )
    .await;
    assert_eq!(a.body, json!(1));
    let a = post(
        &c,
        &base,
        "/actors/Probe/shop%5C%2Fberlin/increment",
        r#"{"by":10}"#,
    )
    .await;
    assert_eq!(a.body, json!(10));
    let a = post(&c, &base, "/actors/Echo/e/say", r#"{"text": "hi"}"#).await;
    assert_eq!((a.status, &a.body), (200, &json!("hi")));

    server.shutdown().await;
    assert_eq!(stored_count(&path, "room-1").await, 4);
    assert_eq!(stored_count(&path, ["shop", "berlin"]).await, 1);
    assert_eq!(stored_count(&path, "shop/berlin").await, 10);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn the_listing_names_each_type_its_actions_and_their_arguments() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let a = get(&client(), &base, "/actors").await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.headers["content-type"], "application/json");
    let listing: Listing = serde_json::from_value(a.body.clone()).unwrap();
    assert!(!listing.worker);
    let types: Vec<&str> = listing.actors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(types, ["Echo", "Probe"]);
    // A hand-written actor that does not list its arguments says so with `null`.
    assert_eq!(
        a.body["actors"][0],
        json!({
            "type": "Echo",
            "actions": [{"name": "say", "arguments": null}],
            "fetch": false,
            "websocket": false,
        })
    );
    let probe: Vec<(&str, Option<Vec<String>>)> = listing.actors[1]
        .actions
        .iter()
        .map(|a| (a.name.as_str(), a.arguments.clone()))
        .collect();
    let args = |names: &[&str]| Some(names.iter().map(|&n| n.to_owned()).collect());
    assert_eq!(
        probe,
        [
            ("increment", args(&["by"])),
            ("get", args(&[])),
            ("withdraw", args(&["amount"])),
            ("note", args(&["text"])),
            ("boom", args(&[])),
            ("huge", args(&[])),
            ("slow", args(&["ms"])),
        ]
    );
    server.shutdown().await;
}

const JSON: &str = "application/json";

/// A request that fails: (method, path, content type, body), and its answer: (status, kind,
/// part of the message).
type Case<'a> = (&'a str, &'a str, &'a str, &'a str, u16, &'a str, &'a str);

#[rustfmt::skip]
fn error_cases() -> Vec<Case<'static>> {
    vec![
        ("POST", "/actors/Nope/k/get", "", "", 404, "unknown_actor_type", "Nope"),
        ("POST", "/actors/Probe/k/nope", "", "", 404, "unknown_action", "nope"),
        ("POST", "/actors/Probe/a%5C/get", "", "", 400, "bad_key", "lone"),
        ("POST", "/actors/Probe/%FF/get", "", "", 400, "bad_path", "UTF-8"),
        ("POST", "/actors/Probe/k/increment", JSON, r#"{"by":"#, 400, "bad_json", "JSON"),
        ("POST", "/actors/Probe/k/increment", JSON, "[1, 2]", 400, "bad_arguments", "object"),
        ("POST", "/actors/Probe/k/increment", JSON, "{}", 400, "bad_arguments", "missing field `by`"),
        ("POST", "/actors/Probe/k/increment", JSON, r#"{"by":"x"}"#, 400, "bad_arguments", "`by`"),
        ("POST", "/actors/Probe/k/increment", JSON, r#"{"by":1,"bx":2}"#, 400, "bad_arguments", "`bx`"),
        ("POST", "/actors/Probe/k/increment", "text/plain", r#"{"by":1}"#, 415, "unsupported_media_type", "application/json"),
        ("POST", "/actors/Probe/k/withdraw", JSON, r#"{"amount":100}"#, 422, "action_error", "rolled back"),
        ("POST", "/actors/Probe/k/huge", "", "", 500, "reply_not_encodable", "rolled back"),
        ("POST", "/actors/Probe/k/boom", "", "", 500, "panicked", "last durable state"),
        ("GET", "/actors/Probe/k/get", "", "", 405, "method_not_allowed", "Allow"),
        ("POST", "/actors", "", "", 405, "method_not_allowed", "Allow"),
        ("GET", "/actors/Probe", "", "", 404, "not_found", "POST /actors/{type}/{key}/{action}"),
        ("POST", "/actors/Probe/k/get/more", "", "", 404, "not_found", "no such route"),
        ("GET", "/anything", "", "", 404, "not_found", "no route"),
    ]
}

#[tokio::test]
async fn every_error_answers_its_status_and_kind_and_changes_nothing() {
    actor_core::quiet_caught_panics();
    let path = storage::temp_path("http-errors");
    let (server, base) = serve(System::open(&path).await.unwrap(), |b| b).await;
    let c = client();
    assert_eq!(
        post(&c, &base, "/actors/Probe/k/increment", r#"{"by":5}"#)
            .await
            .body,
        json!(5)
    );
    let long_key_path = format!("/actors/Probe/{}/get", "k".repeat(1100));
    let note = format!(r#"{{"text": "{}"}}"#, "n".repeat(600));
    let mut cases = error_cases();
    cases.push((
        "POST",
        &long_key_path,
        "",
        "",
        400,
        "bad_key",
        "over the limit",
    ));
    cases.push((
        "POST",
        "/actors/Probe/k/note",
        JSON,
        &note,
        413,
        "state_too_large",
        "over its limit of 512",
    ));
    for (method, path, content_type, body, status, kind, says) in cases {
        let mut request = c.request(method.parse().unwrap(), format!("{base}{path}"));
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let a = http::answer(request.body(body.to_owned()).send().await.unwrap()).await;
        let case = format!("{method} {} {body:.40}", &path[..path.len().min(60)]);
        assert_eq!((a.status, a.kind()), (status, kind), "{case}: {a:?}");
        assert!(a.message().contains(says), "{case}: {a:?}");
        assert_eq!(a.headers["content-type"], "application/json", "{case}");
        assert!(!a.text.contains("secret"), "{case}: a panic message leaked");
    }
    // The extras some kinds carry.
    let a = post(&c, &base, "/actors/Nope/k/get", "").await;
    assert_eq!(a.body["error"]["types"], json!(["Echo", "Probe"]));
    let a = post(&c, &base, "/actors/Probe/k/nope", "").await;
    assert_eq!(a.body["error"]["actions"][0], "increment");
    let a = post(&c, &base, "/actors/Probe/k/withdraw", r#"{"amount":100}"#).await;
    assert_eq!(
        a.body["error"]["value"],
        json!({"Insufficient": {"balance": 5}})
    );
    let a = http::answer(
        c.get(format!("{base}/actors/Probe/k/get"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.headers["allow"], "POST");

    // Nothing that failed changed anything, and the server still serves.
    let a = post(&c, &base, "/actors/Probe/k/get", "").await;
    assert_eq!((a.status, &a.body), (200, &json!(5)));
    server.shutdown().await;
    assert_eq!(stored_count(&path, "k").await, 5);
    let system = System::open(&path).await.unwrap();
    assert!(
        system.get::<Probe>("a\\").await.is_err(),
        "no actor was made"
    );
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_failed_commit_answers_500_without_internals() {
    let (system, storage, path) = storage::recorded_system("http-commit").await;
    let (server, base) = serve(system, |b| b).await;
    let c = client();
    assert_eq!(
        post(&c, &base, "/actors/Probe/k/increment", r#"{"by":1}"#)
            .await
            .body,
        json!(1)
    );
    storage.fail_next(1);
    let a = post(&c, &base, "/actors/Probe/k/increment", r#"{"by":1}"#).await;
    assert_eq!((a.status, a.kind()), (500, "storage"), "{a:?}");
    assert!(!a.text.contains("injected"), "{a:?}");
    let a = post(&c, &base, "/actors/Probe/k/increment", r#"{"by":1}"#).await;
    assert_eq!(
        (a.status, &a.body),
        (200, &json!(2)),
        "the failed one was not applied"
    );
    server.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_system_that_shut_down_answers_503() {
    let system = System::temporary().await.unwrap();
    let (server, base) = serve(system.clone(), |b| b).await;
    let c = client();
    post(&c, &base, "/actors/Probe/k/increment", r#"{"by":1}"#).await;
    system.shutdown().await;
    for path in ["/actors/Probe/k/increment", "/actors/Probe/new/increment"] {
        let a = post(&c, &base, path, r#"{"by":1}"#).await;
        assert_eq!(
            (a.status, a.kind()),
            (503, "shutting_down"),
            "{path}: {a:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_over_the_time_limit_answers_504_and_its_action_still_completes() {
    let limits = Limits::default().request_timeout(Duration::from_millis(150));
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b.limits(limits)).await;
    let c = client();
    let a = post(&c, &base, "/actors/Probe/k/slow", r#"{"ms": 500}"#).await;
    assert_eq!((a.status, a.kind()), (504, "timeout"), "{a:?}");
    wait::eventually(|| async {
        post(&client(), &base, "/actors/Probe/k/get", "").await.body == json!(1)
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413_before_anything_runs() {
    let limits = Limits::default().max_body_bytes(1024);
    let (server, base) = serve(System::temporary().await.unwrap(), |b| {
        b.limits(limits)
            .worker(|_: Request<Bytes>, _: NoEnv| async { "worker" })
    })
    .await;
    let c = client();
    let big = format!(r#"{{"by": 1, "pad": "{}"}}"#, "x".repeat(2000));
    for path in ["/actors/Probe/k/increment", "/worker/path"] {
        let a = post(&c, &base, path, &big).await;
        assert_eq!(
            (a.status, a.kind()),
            (413, "body_too_large"),
            "{path}: {a:?}"
        );
        assert_eq!(a.headers["content-type"], "application/json");
    }
    let a = post(&c, &base, "/actors/Probe/k/get", "").await;
    assert_eq!((a.status, &a.body), (200, &json!(0)));
    server.shutdown().await;
}

/// An environment with no bindings, for workers that need none.
#[derive(Env, Clone)]
struct NoEnv {}

#[tokio::test]
async fn bearer_tokens_guard_their_route_groups_and_say_nothing_more() {
    // On every route.
    let (server, base) = serve(System::temporary().await.unwrap(), |b| {
        b.auth(Auth::bearer("tok-all"))
    })
    .await;
    let c = client();
    let call = |auth: Option<&'static str>, path: &'static str| {
        let c = c.clone();
        let url = format!("{base}{path}");
        async move {
            let mut request = c.post(url);
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            http::answer(request.send().await.unwrap()).await
        }
    };
    let refused = call(None, "/actors/Probe/k/get").await;
    assert_eq!((refused.status, refused.kind()), (401, "unauthorized"));
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    for auth in [
        "Basic dG9rLWFsbA==",
        "Bearer wrong",
        "Bearer tok-al",
        "Bearer tok-all2",
        "Bearer",
    ] {
        let a = call(Some(auth), "/actors/Probe/k/get").await;
        assert_eq!(
            (a.status, &a.text),
            (401, &refused.text),
            "{auth}: the same answer"
        );
    }
    // Even a route that does not exist says 401, not 404.
    let a = call(None, "/actors/Nope/k/get").await;
    assert_eq!(a.status, 401);
    let a = call(Some("bearer tok-all"), "/actors/Probe/k/get").await;
    assert_eq!((a.status, &a.body), (200, &json!(0)));
    let a = http::answer(
        c.get(format!("{base}/actors"))
            .bearer_auth("tok-all")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    server.shutdown().await;

    // On the actor routes only: the listing and the worker stay open.
    let (server, base) = serve(System::temporary().await.unwrap(), |b| {
        b.auth(Auth::bearer("tok-actors").only([RouteGroup::Actors]))
            .worker(|_: Request<Bytes>, _: NoEnv| async { "worker" })
    })
    .await;
    assert_eq!(get(&c, &base, "/actors").await.status, 200);
    assert_eq!(get(&c, &base, "/hello").await.text, "worker");
    assert_eq!(post(&c, &base, "/actors/Probe/k/get", "").await.status, 401);
    let a = http::answer(
        c.post(format!("{base}/actors/Probe/k/get"))
            .bearer_auth("tok-actors")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    server.shutdown().await;

    // A token no request could present is refused at start.
    for token in ["", "has space", "new\nline"] {
        let started = Server::builder(System::temporary().await.unwrap())
            .listen(([127, 0, 0, 1], 0))
            .auth(Auth::bearer(token))
            .start()
            .await;
        assert!(
            matches!(started, Err(ServeError::BadToken { .. })),
            "{token:?}"
        );
    }
}

/// The worker's bindings in the worker test.
#[derive(Env, Clone)]
struct TestEnv {
    state: KvStore,
}

async fn test_worker(request: Request<Bytes>, env: TestEnv) -> Result<Response, WorkerError> {
    let path = request.uri().path().to_owned();
    match path.as_str() {
        "/echo" => Ok(format!(
            "{} {} {}",
            request.method(),
            request.uri().query().unwrap_or(""),
            String::from_utf8_lossy(request.body())
        )
        .into_response()),
        "/teapot" => Ok((StatusCode::IM_A_TEAPOT, "short and stout").into_response()),
        "/missing" => Ok(StatusCode::NOT_FOUND.into_response()),
        "/kv" => {
            env.state.set("k", "v").await?;
            Ok(env
                .state
                .get("k")
                .await?
                .unwrap_or_default()
                .into_response())
        }
        "/fail" => Err(WorkerError::new(std::io::Error::other(
            "a secret from the worker",
        ))),
        "/panic" => panic!("a secret in a panic"),
        _ => Ok("State Worker".into_response()),
    }
}

#[tokio::test]
async fn the_worker_answers_every_other_path_as_it_likes() {
    actor_core::quiet_caught_panics();
    let bindings = Bindings::from_toml("[state]\nSTATE = \"default\"").unwrap();
    let system = System::builder()
        .temporary()
        .bindings(bindings)
        .open()
        .await
        .unwrap();
    let (server, base) = serve(system, |b| b.worker(test_worker)).await;
    let c = client();
    let a = http::answer(
        c.put(format!("{base}/echo?x=1"))
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (200, "PUT x=1 hello"));
    // The worker's own statuses and bodies go out as they are, bare ones too.
    let a = get(&c, &base, "/teapot").await;
    assert_eq!((a.status, a.text.as_str()), (418, "short and stout"));
    let a = get(&c, &base, "/missing").await;
    assert_eq!((a.status, a.text.as_str()), (404, ""));
    assert_eq!(get(&c, &base, "/kv").await.text, "v");
    assert_eq!(get(&c, &base, "/").await.text, "State Worker");
    // A failing or panicking worker is a 500 that says nothing of the cause.
    let a = get(&c, &base, "/fail").await;
    assert_eq!((a.status, a.kind()), (500, "worker_error"), "{a:?}");
    let a = get(&c, &base, "/panic").await;
    assert_eq!((a.status, a.kind()), (500, "panicked"), "{a:?}");
    for path in ["/fail", "/panic"] {
        assert!(!get(&c, &base, path).await.text.contains("secret"));
    }
    assert!(get(&c, &base, "/actors").await.body["worker"] == json!(true));
    assert_eq!(
        get(&c, &base, "/").await.text,
        "State Worker",
        "still serving"
    );
    server.shutdown().await;

    // An environment the bindings do not fit is refused at start.
    let started = Server::builder(System::temporary().await.unwrap())
        .listen(([127, 0, 0, 1], 0))
        .worker(test_worker)
        .start()
        .await;
    assert!(matches!(started, Err(ServeError::Env(_))), "{started:?}");
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_loses_no_durable_work() {
    let path = storage::temp_path("http-shutdown");
    let (server, base) = serve(System::open(&path).await.unwrap(), |b| b).await;
    let addr = server.local_addr();
    let in_flight = tokio::spawn({
        let base = base.clone();
        async move {
            let path = "/actors/Probe/shutdown-a/slow";
            post(&client(), &base, path, r#"{"ms": 300}"#).await
        }
    });
    slow_started("shutdown-a").await;
    server.shutdown().await;
    let a = in_flight.await.unwrap();
    assert_eq!(
        (a.status, &a.body),
        (200, &json!(1)),
        "finished, not cut off"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    assert_eq!(stored_count(&path, "shutdown-a").await, 1);

    // Past the deadline the request is cut off, but its action still runs and commits.
    let (server, base) = serve(System::open(&path).await.unwrap(), |b| {
        b.shutdown_timeout(Duration::from_millis(100))
    })
    .await;
    let cut = tokio::spawn({
        let c = client();
        let url = format!("{base}/actors/Probe/shutdown-b/slow");
        async move {
            c.post(url)
                .header("content-type", "application/json")
                .body(r#"{"ms": 600}"#)
                .send()
                .await
        }
    });
    slow_started("shutdown-b").await;
    server.shutdown().await;
    assert!(cut.await.unwrap().is_err(), "the connection was closed");
    assert_eq!(
        stored_count(&path, "shutdown-b").await,
        1,
        "the action was not lost"
    );
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let limits = Limits::default().max_connections(2);
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b.limits(limits)).await;
    let addr = server.local_addr();
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let waited = quick
        .post(format!("{base}/actors/Probe/k/get"))
        .send()
        .await;
    assert!(
        waited.is_err(),
        "a third connection is not served: {waited:?}"
    );
    drop(first);
    let a = post(&client(), &base, "/actors/Probe/k/get", "").await;
    assert_eq!((a.status, &a.body), (200, &json!(0)));
    server.shutdown().await;
}

/// Another type under `Probe`'s name.
#[derive(Serialize, Deserialize, Default)]
struct Impostor;
#[derive(Deserialize)]
enum Never {}
impl Actor for Impostor {
    const NAME: &'static str = "Probe";
    type Input = ();
    type Action = Never;
    type Reply = ();
    type Error = Infallible;
    type Event = ();
    fn create_state((): ()) -> Self {
        Self
    }
    async fn handle(&mut self, never: Never, _: &mut Ctx<Self>) -> Result<(), Infallible> {
        match never {}
    }
}

#[tokio::test]
async fn registering_a_type_declares_it_to_the_system() {
    let system = System::temporary().await.unwrap();
    let (server, _) = serve(system.clone(), |b| b).await;
    assert!(
        system.register::<Impostor>().is_err(),
        "Probe owns the name"
    );
    server.shutdown().await;
}

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_has_a_span_and_its_action_runs_inside_it() {
    // In a process of its own: tracing caches, per call site, whether any subscriber listens,
    // and a call site first reached by another test's thread while this one's subscriber is
    // being installed can stay cached as "no one".
    if process::phase().is_none() {
        let test = "each_request_has_a_span_and_its_action_runs_inside_it";
        let out = process::run(test, "alone", &storage::temp_path("unused"), false);
        assert!(out.contains("spans checked"), "{out}");
        return;
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    // This thread only: the runtime is single-threaded, so the server's and the actor's
    // tasks run here too.
    let _default = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let a = post(
        &client(),
        &base,
        "/actors/Probe/k/increment",
        r#"{"by": 1}"#,
    )
    .await;
    assert_eq!(a.status, 200);
    server.shutdown().await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let closed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("http.request{") && l.contains("close"))
        .collect();
    let request = closed
        .iter()
        .find(|l| !l.contains(":action{"))
        .unwrap_or_else(|| panic!("the request's span closed:\n{text}"));
    for field in [
        "method=POST",
        "/actors/{type}/{key}/{action}",
        "actor=Probe/k",
        "status=200",
        "duration_ms=",
    ] {
        assert!(request.contains(field), "{field} in {request}");
    }
    assert!(
        closed
            .iter()
            .any(|l| l.contains("actor=Probe/k") && l.contains(":action{")),
        "the action's span is a child of the request's:\n{text}"
    );
    println!("spans checked");
}
