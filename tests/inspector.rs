//! The web inspector (`ServerBuilder::inspector`): its JSON API through a real client on
//! loopback (types and counts, paging keys, an actor's state as JSON, the key-value stores,
//! the live feed, the live events feed, tokens, errors and limits), and its page in a real headless browser
//! (Chromium, found or installed by `scripts/chromium.sh`), checked for what a person would
//! see once the data has loaded.

#[path = "support/http.rs"]
mod http;
#[path = "support/scratch.rs"]
mod scratch;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use actor_core::http::{Auth, RouteGroup, Server};
use actor_core::{Actor, ActorKey, Ctx, InspectError, System, actions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use http::{Answer, answer, client, get};

const TOKEN: &str = "inspector-test-token";

/// A chat room: state with a string, a number and a list, to see as a JSON tree.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = RoomEvent)]
struct Room {
    topic: String,
    visits: i64,
    members: Vec<String>,
}

#[actions]
impl Room {
    pub async fn visit(&mut self, who: String) -> i64 {
        self.visits += 1;
        if !self.members.contains(&who) {
            self.members.push(who);
        }
        self.visits
    }

    pub async fn set_topic(&mut self, topic: String) {
        self.topic = topic;
    }

    /// Emits an announcement (the live events feed).
    pub async fn announce(&mut self, ctx: &mut Ctx<Self>, text: String) {
        self.visits += 1;
        ctx.emit(RoomEvent::Announced { text });
    }

    /// Emits, then fails: the turn rolls back and its event is never published.
    pub async fn announce_then_fail(
        &mut self,
        ctx: &mut Ctx<Self>,
        text: String,
    ) -> Result<(), String> {
        self.visits += 1;
        ctx.emit(RoomEvent::Announced { text });
        Err("planned".to_owned())
    }

    /// Emits `n` events in one turn.
    pub async fn chatter(&mut self, ctx: &mut Ctx<Self>, n: u32) {
        for i in 0..n {
            ctx.emit(RoomEvent::Announced {
                text: format!("c{i}"),
            });
        }
    }
}

/// What a room emits.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum RoomEvent {
    Announced { text: String },
}

/// A second type, to see two rows of counts; it emits its balance.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = i64)]
struct Ledger {
    balance: i64,
}

#[actions]
impl Ledger {
    pub async fn deposit(&mut self, ctx: &mut Ctx<Self>, amount: i64) -> i64 {
        self.balance += amount;
        ctx.emit(self.balance);
        self.balance
    }
}

/// A system on a file in `dir` with 3 rooms, 12 ledgers and two key-value stores.
async fn populated(dir: &Path) -> System {
    let system = System::open(dir.join("inspector.redb"))
        .await
        .expect("open the system");
    for (key, topic) in [
        ("lobby", "Welcome"),
        ("rust", "Borrowing"),
        ("tea", "Oolong"),
    ] {
        let room = system.get_or_create::<Room>(key).await.expect("a room");
        room.set_topic(topic.to_owned())
            .await
            .expect("set the topic");
        room.visit("ada".to_owned()).await.expect("visit");
    }
    system
        .get_or_create::<Room>("lobby")
        .await
        .expect("the lobby")
        .visit("grace".to_owned())
        .await
        .expect("visit");
    for i in 0..12 {
        system
            .get_or_create::<Ledger>(format!("acct-{i:02}").as_str())
            .await
            .expect("a ledger")
            .deposit(100 + i)
            .await
            .expect("deposit");
    }
    let config = system.kv("config").expect("the config store");
    config.set("mode", "dark").await.expect("set");
    config.set("limits", r#"{"rooms":10}"#).await.expect("set");
    system
        .kv("sessions")
        .expect("the sessions store")
        .set("s-1", "ada")
        .await
        .expect("set");
    system
}

/// A server with the inspector on, every group behind `TOKEN`.
async fn serve(system: System) -> (Server, String) {
    let server = Server::builder(system)
        .actor::<Room>()
        .actor::<Ledger>()
        .listen(([127, 0, 0, 1], 0))
        .auth(Auth::bearer(TOKEN))
        .inspector()
        .start()
        .await
        .expect("start the server");
    let base = format!("http://{}", server.local_addr());
    (server, base)
}

/// `GET base + path` with the token.
async fn admin(client: &reqwest::Client, base: &str, path: &str) -> Answer {
    answer(
        client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send the request"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_types_keys_state_and_kv() {
    let dir = scratch::TempDir::new("inspector-api");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();

    let types = admin(&client, &base, "/admin/api/types").await;
    assert_eq!(types.status, 200, "{}", types.text);
    assert_eq!(
        types.body,
        json!({"types": [{"name": "Ledger", "count": 12}, {"name": "Room", "count": 3}]})
    );

    // Keys in pages of 5: 5, 5, 2, each page starting after the last.
    let mut seen = Vec::new();
    let mut path = "/admin/api/actors/Ledger?limit=5".to_owned();
    loop {
        let page = admin(&client, &base, &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let keys: Vec<String> = serde_json::from_value(page.body["keys"].clone()).unwrap();
        assert!(keys.len() <= 5);
        seen.extend(keys);
        match page.body["next"].as_str() {
            Some(next) => path = format!("/admin/api/actors/Ledger?limit=5&after={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("acct-{i:02}")).collect();
    assert_eq!(seen, expected);
    let prefixed = admin(&client, &base, "/admin/api/actors/Ledger?prefix=acct-1").await;
    assert_eq!(
        prefixed.body,
        json!({"keys": ["acct-10", "acct-11"], "next": null})
    );

    let lobby = admin(&client, &base, "/admin/api/actors/Room/lobby").await;
    assert_eq!(lobby.status, 200, "{}", lobby.text);
    assert_eq!(lobby.body["type"], "Room");
    assert_eq!(lobby.body["key"], "lobby");
    assert_eq!(
        lobby.body["state"],
        json!({"topic": "Welcome", "visits": 2, "members": ["ada", "grace"]})
    );
    assert!(lobby.body["id"].as_str().is_some_and(|id| id.len() == 36));

    let stores = admin(&client, &base, "/admin/api/kv").await;
    assert_eq!(
        stores.body,
        json!({"stores": [{"name": "config", "count": 2}, {"name": "sessions", "count": 1}]})
    );
    let keys = admin(&client, &base, "/admin/api/kv/config").await;
    assert_eq!(keys.body, json!({"keys": ["limits", "mode"], "next": null}));
    let value = admin(&client, &base, "/admin/api/kv/config/mode").await;
    assert_eq!(
        value.body,
        json!({"store": "config", "key": "mode", "value": "dark"})
    );

    // What is written now is what the next read sees: the system's own file, live.
    server
        .system()
        .get_or_create::<Room>("new")
        .await
        .expect("a room")
        .visit("linus".to_owned())
        .await
        .expect("visit");
    let types = admin(&client, &base, "/admin/api/types").await;
    assert_eq!(types.body["types"][1], json!({"name": "Room", "count": 4}));
    let stats = admin(&client, &base, "/admin/api/stats").await;
    assert!(
        stats.body["commits"].as_u64().is_some_and(|n| n >= 20),
        "{}",
        stats.text
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_inspect_reads_the_live_file_until_shutdown() {
    let dir = scratch::TempDir::new("inspector-system");
    let system = populated(dir.path()).await;
    let before = system.stats().commits;
    let inspector = system.inspect().expect("inspect the running system");
    assert_eq!(inspector.path(), dir.path().join("inspector.redb"));
    assert_eq!(inspector.counts().expect("counts").actors, 15);
    system
        .kv("config")
        .expect("store")
        .set("theme", "light")
        .await
        .expect("set");
    // Acknowledged, so read: the same inspector sees the newest commit.
    assert_eq!(
        inspector
            .kv_get("config", "theme")
            .expect("read")
            .as_deref(),
        Some("light")
    );
    assert!(system.stats().commits > before);
    system.shutdown().await;
    assert!(matches!(inspector.types(), Err(InspectError::Shutdown)));
    assert!(matches!(system.inspect(), Err(InspectError::Shutdown)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_paths_with_reserved_characters_round_trip() {
    let dir = scratch::TempDir::new("inspector-escapes");
    let system = populated(dir.path()).await;
    // Stored as `shop/a b?#%` and `x\/y`: the API takes keys as it lists them, the stored
    // form, percent-encoded in paths and queries.
    for key in [
        ActorKey::from_parts(["shop", "a b?#%"]),
        ActorKey::from("x/y"),
    ] {
        system
            .get_or_create::<Room>(key)
            .await
            .expect("a room")
            .visit("x".to_owned())
            .await
            .expect("visit");
    }
    system
        .kv("config")
        .expect("store")
        .set("path/with spaces&amp", "v")
        .await
        .expect("set");
    let (server, base) = serve(system).await;
    let client = client();
    let room = admin(
        &client,
        &base,
        "/admin/api/actors/Room/shop%2Fa%20b%3F%23%25",
    )
    .await;
    assert_eq!(room.status, 200, "{}", room.text);
    assert_eq!(room.body["key"], "shop/a b?#%");
    let room = admin(&client, &base, "/admin/api/actors/Room/x%5C%2Fy").await;
    assert_eq!(room.body["key"], "x\\/y", "{}", room.text);
    let page = admin(&client, &base, "/admin/api/actors/Room?prefix=shop%2F").await;
    assert_eq!(page.body["keys"], json!(["shop/a b?#%"]));
    let value = admin(
        &client,
        &base,
        "/admin/api/kv/config/path%2Fwith%20spaces%26amp",
    )
    .await;
    assert_eq!(value.body["value"], "v", "{}", value.text);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_types_keys_and_stores_are_404_with_a_json_error() {
    let dir = scratch::TempDir::new("inspector-404");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();
    let cases = [
        ("/admin/api/actors/Nope", 404, "unknown_actor_type"),
        ("/admin/api/actors/Nope/lobby", 404, "not_found"),
        ("/admin/api/actors/Room/nobody", 404, "not_found"),
        ("/admin/api/kv/nope", 404, "not_found"),
        ("/admin/api/kv/config/nope", 404, "not_found"),
        ("/admin/api/nothing-here", 404, "not_found"),
        ("/admin/elsewhere", 404, "not_found"),
    ];
    for (path, status, kind) in cases {
        let answer = admin(&client, &base, path).await;
        assert_eq!(
            (answer.status, answer.kind()),
            (status, kind),
            "{path}: {}",
            answer.text
        );
    }
    // An empty page of a type that exists is not an error.
    let empty = admin(&client, &base, "/admin/api/actors/Room?prefix=zzz").await;
    assert_eq!(empty.body, json!({"keys": [], "next": null}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_client_controls_is_bounded() {
    let dir = scratch::TempDir::new("inspector-limits");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();
    let long = "k".repeat(1025);
    let cases = [
        (
            "/admin/api/actors/Room?limit=1001".to_owned(),
            "bad_arguments",
        ),
        ("/admin/api/actors/Room?limit=0".to_owned(), "bad_arguments"),
        (
            "/admin/api/actors/Room?limit=many".to_owned(),
            "bad_arguments",
        ),
        (
            "/admin/api/actors/Room?colour=red".to_owned(),
            "bad_arguments",
        ),
        (
            format!("/admin/api/actors/Room?prefix={long}"),
            "bad_arguments",
        ),
        (
            format!("/admin/api/kv/config?after={long}"),
            "bad_arguments",
        ),
        (format!("/admin/api/actors/Room/{long}"), "bad_key"),
        (format!("/admin/api/kv/config/{long}"), "bad_key"),
        (format!("/admin/api/kv/{}", "s".repeat(300)), "bad_path"),
    ];
    for (path, kind) in cases {
        let answer = admin(&client, &base, &path).await;
        assert_eq!(
            (answer.status, answer.kind()),
            (400, kind),
            "{}: {}",
            &path[..path.len().min(60)],
            answer.text
        );
    }
    let most = admin(&client, &base, "/admin/api/actors/Ledger?limit=1000").await;
    assert_eq!(most.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_the_token_and_the_page_does_not() {
    let dir = scratch::TempDir::new("inspector-auth");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();
    for path in [
        "/admin/api/types",
        "/admin/api/actors/Room",
        "/admin/api/actors/Room/lobby",
        "/admin/api/kv",
        "/admin/api/kv/config/mode",
        "/admin/api/stats",
        "/admin/api/live",
        "/admin/api/events",
        "/admin/api/events?type=Room",
        "/admin/api/nothing-here",
    ] {
        let answer = get(&client, &base, path).await;
        assert_eq!(
            (answer.status, answer.kind()),
            (401, "unauthorized"),
            "{path}"
        );
        let wrong = answer_with(&client, &base, path, "wrong-token").await;
        assert_eq!(wrong.status, 401, "{path}");
    }
    // The page holds no data: it loads without a token, and asks for one.
    let page = get(&client, &base, "/admin/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("Actor inspector"));
    assert!(page.text.contains("Authorization"));
    assert!(!page.text.contains("lobby"));
    // Nothing on the page is fetched from elsewhere: no source, link or import.
    for outside in [" src=", "<link", "@import", "url("] {
        assert!(!page.text.contains(outside), "the page loads {outside}");
    }
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self'")
    );
    let redirect = client
        .get(format!("{base}/admin"))
        .send()
        .await
        .expect("send");
    assert_eq!(redirect.status(), 200);
    assert_eq!(redirect.url().path(), "/admin/");
    server.shutdown().await;
}

async fn answer_with(client: &reqwest::Client, base: &str, path: &str, token: &str) -> Answer {
    answer(
        client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send the request"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_token_covers_only_the_admin_routes() {
    let dir = scratch::TempDir::new("inspector-groups");
    let server = Server::builder(populated(dir.path()).await)
        .actor::<Room>()
        .listen(([127, 0, 0, 1], 0))
        .auth(Auth::bearer(TOKEN).only([RouteGroup::Admin]))
        .inspector()
        .start()
        .await
        .expect("start");
    let base = format!("http://{}", server.local_addr());
    let client = client();
    assert_eq!(get(&client, &base, "/admin/api/types").await.status, 401);
    assert_eq!(admin(&client, &base, "/admin/api/types").await.status, 200);
    assert_eq!(get(&client, &base, "/actors").await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_inspector_admin_paths_are_not_served() {
    let dir = scratch::TempDir::new("inspector-off");
    let server = Server::builder(populated(dir.path()).await)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .await
        .expect("start");
    let base = format!("http://{}", server.local_addr());
    let client = client();
    for path in ["/admin/", "/admin/api/types"] {
        let answer = get(&client, &base, path).await;
        assert_eq!((answer.status, answer.kind()), (404, "not_found"), "{path}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_reports_commits_each_second_and_ends_at_shutdown() {
    let dir = scratch::TempDir::new("inspector-live");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();
    let mut feed = client
        .get(format!("{base}/admin/api/live"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("open the feed");
    assert_eq!(feed.status(), 200);
    assert_eq!(feed.headers()["content-type"], "text/event-stream");

    let room = server
        .system()
        .get_or_create::<Room>("busy")
        .await
        .expect("a room");
    let writer = tokio::spawn(async move {
        for i in 0..40 {
            room.visit(format!("v{i}")).await.expect("visit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // The first event comes at once, with the rates of the last minute (none yet); then one
    // about every second; within 6 s one has counted commits.
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while events.len() < 3 {
        let chunk = tokio::time::timeout_at(deadline, feed.chunk())
            .await
            .expect("an event within the deadline")
            .expect("read the feed")
            .expect("the feed goes on");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let data = event.trim().strip_prefix("data: ").expect("a data line");
            events.push(serde_json::from_str::<serde_json::Value>(data).expect("JSON"));
        }
    }
    writer.await.expect("the writer");
    assert!(events[0]["history"].is_array(), "{events:?}");
    assert!(events[1..].iter().all(|e| e.get("history").is_none()));
    // A feed opened now starts with the rates sampled so far, the busy seconds among them.
    let mut late = client
        .get(format!("{base}/admin/api/live"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("open a second feed");
    let first = tokio::time::timeout(Duration::from_secs(2), late.chunk())
        .await
        .expect("the first event at once")
        .expect("read")
        .expect("an event");
    let first: serde_json::Value = serde_json::from_str(
        std::str::from_utf8(&first)
            .expect("UTF-8")
            .trim()
            .strip_prefix("data: ")
            .expect("a data line"),
    )
    .expect("JSON");
    let history: Vec<f64> = serde_json::from_value(first["history"].clone()).expect("rates");
    assert!(
        history.len() >= 2 && history.iter().any(|&r| r > 0.0),
        "{first}"
    );
    drop(late);
    assert!(
        events
            .iter()
            .any(|e| e["commits_per_second"].as_f64().is_some_and(|r| r > 0.0)),
        "{events:?}"
    );
    let totals: Vec<u64> = events
        .iter()
        .map(|e| e["commits"].as_u64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    assert!(events.iter().all(|e| e["registered"].is_u64()));

    // The feed ends when the server shuts down, so it does not hold the shutdown up.
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    while let Ok(Some(_)) = feed.chunk().await {}
    shutdown.await.expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Reads server-sent events from `feed` until `done` says enough, within `within`: the
/// parsed `data:` items (comment lines are skipped).
async fn read_feed(
    feed: &mut reqwest::Response,
    within: Duration,
    mut done: impl FnMut(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + within;
    let (mut text, mut items) = (String::new(), Vec::new());
    while !done(&items) {
        let chunk = tokio::time::timeout_at(deadline, feed.chunk())
            .await
            .unwrap_or_else(|_| panic!("no more items within {within:?}; so far {items:?}"))
            .expect("read the feed")
            .expect("the feed goes on");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    items.push(serde_json::from_str(data).expect("JSON"));
                } else {
                    assert!(
                        line.is_empty() || line.starts_with(':'),
                        "not a comment or data: {line}"
                    );
                }
            }
        }
    }
    items
}

/// Opens `GET base + path` with the token, as a stream.
async fn open_feed(client: &reqwest::Client, base: &str, path: &str) -> reqwest::Response {
    let feed = client
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("open the feed");
    assert_eq!(feed.status(), 200, "{path}");
    assert_eq!(feed.headers()["content-type"], "text/event-stream");
    feed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_feed_shows_committed_events_only_filtered_and_ends_at_shutdown() {
    let dir = scratch::TempDir::new("inspector-events");
    let (server, base) = serve(populated(dir.path()).await).await;
    let client = client();
    // Both are listening once their answers have come: the handler subscribes first.
    let mut every = open_feed(&client, &base, "/admin/api/events").await;
    let mut rooms = open_feed(&client, &base, "/admin/api/events?type=Room").await;

    let system = server.system().clone();
    let lobby = system.get_or_create::<Room>("lobby").await.expect("a room");
    let ledger = system
        .get_or_create::<Ledger>("acct-00")
        .await
        .expect("a ledger");
    // A turn that fails rolls back: its event never appears.
    assert!(lobby.announce_then_fail("never".to_owned()).await.is_err());
    assert_eq!(ledger.deposit(5).await.expect("deposit"), 105);
    lobby.announce("hello".to_owned()).await.expect("announce");

    let items = read_feed(&mut every, Duration::from_secs(5), |items| items.len() >= 2).await;
    assert_eq!(
        items,
        [
            json!({"actor": "Ledger/acct-00", "type": "Ledger", "key": "acct-00", "event": 105}),
            json!({"actor": "Room/lobby", "type": "Room", "key": "lobby",
                   "event": {"Announced": {"text": "hello"}}}),
        ],
        "the committed events in order, and nothing of the failed turn"
    );
    let items = read_feed(&mut rooms, Duration::from_secs(5), |items| {
        !items.is_empty()
    })
    .await;
    assert_eq!(
        items,
        [
            json!({"actor": "Room/lobby", "type": "Room", "key": "lobby",
                "event": {"Announced": {"text": "hello"}}})
        ],
        "only rooms, and nothing of the failed turn"
    );

    // A burst bigger than the tap holds: every event is either delivered or counted as
    // missed in a `lagged` item; none is lost silently.
    let burst = 3000;
    lobby.chatter(burst).await.expect("chatter");
    let mut delivered = 0;
    let mut missed = 0;
    read_feed(&mut every, Duration::from_secs(20), |items| {
        (delivered, missed) = (0, 0);
        for item in items {
            match item.get("lagged").and_then(serde_json::Value::as_u64) {
                Some(n) => missed += n,
                None => delivered += 1,
            }
        }
        delivered + missed >= u64::from(burst)
    })
    .await;
    assert_eq!(
        delivered + missed,
        u64::from(burst),
        "{delivered} + {missed}"
    );

    // Unknown parameters and an oversized filter are refused.
    let bad = admin(&client, &base, "/admin/api/events?colour=red").await;
    assert_eq!((bad.status, bad.kind()), (400, "bad_arguments"));
    let long = format!("/admin/api/events?type={}", "T".repeat(300));
    assert_eq!(admin(&client, &base, &long).await.status, 400);

    // The feeds end when the server shuts down, so they do not hold the shutdown up.
    drop(rooms);
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    while let Ok(Some(_)) = every.chunk().await {}
    shutdown.await.expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---- the page in a real browser -------------------------------------------------------------

/// The path of a Chromium binary from `scripts/chromium.sh` (which installs Debian's package
/// when none is found), or `None` with a notice when there is none, except under `CI=true`,
/// where a missing browser fails the test.
fn chromium() -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/chromium.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/chromium.sh");
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !path.is_empty() {
        return Some(path);
    }
    let why =
        "no Chromium could be found or installed by scripts/chromium.sh (see its message above)";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the inspector's browser test needs Chromium: {why}"
    );
    eprintln!("SKIPPED: the inspector's browser test: {why}");
    None
}

/// Runs headless Chromium on `url` with `args`, within a minute; returns its stdout.
async fn run_chromium(chromium: &str, profile: &Path, args: &[String], url: &str) -> String {
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-proxy-server",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("chromium finished within a minute")
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The text of the element with `id` in a dumped DOM: from its opening tag to the next
/// `</section>` (the page's panels are sections).
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in the DOM:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Announces `tea-time-{i}` in room `key` every 100 ms until aborted.
async fn announce_every_100ms(system: &System, key: &str) -> tokio::task::JoinHandle<()> {
    let room = system.get_or_create::<Room>(key).await.expect("a room");
    tokio::spawn(async move {
        for i in 0u64.. {
            room.announce(format!("tea-time-{i}"))
                .await
                .expect("announce");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_types_an_actor_and_kv_keys_in_a_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = scratch::TempDir::new("inspector-browser");
    let (server, base) = serve(populated(dir.path()).await).await;
    let profile = dir.path().join("profile");
    let url = format!("{base}/admin/#token={TOKEN}&type=Room&key=lobby&store=config");
    // Events emitted while the page loads, for its live events panel (its stream opens at
    // some moment during the load).
    let announcer = announce_every_100ms(server.system(), "tea").await;
    let dom = run_chromium(
        &chromium,
        &profile,
        &[
            "--virtual-time-budget=5000".to_owned(),
            "--dump-dom".to_owned(),
        ],
        &url,
    )
    .await;

    assert!(
        dom.contains("data-loaded=\"yes\""),
        "the page did not finish loading:\n{dom}"
    );
    // The types with their counts.
    let types = section(&dom, "types");
    assert!(
        types.contains(r#"data-type="Ledger"><td>Ledger</td><td class="num">12</td>"#),
        "{types}"
    );
    assert!(
        types.contains(r#"data-type="Room"><td>Room</td><td class="num">3</td>"#),
        "{types}"
    );
    // The actor asked for in the URL, found, with its state as a tree.
    let actors = section(&dom, "actors");
    assert!(actors.contains(r#"data-actor="Room/lobby""#), "{actors}");
    for shown in [
        r#"<span class="k">"topic"</span>: <span class="s">"Welcome"</span>"#,
        r#"<span class="k">"visits"</span>: <span class="n">2</span>"#,
        r#"<span class="s">"grace"</span>"#,
    ] {
        assert!(actors.contains(shown), "missing {shown} in:\n{actors}");
    }
    for key in ["lobby", "rust", "tea"] {
        assert!(actors.contains(&format!(r#"data-key="{key}""#)), "{actors}");
    }
    // The stores, the keys of the one asked for, and the value of its first key.
    let stores = section(&dom, "stores");
    assert!(
        stores.contains(r#"data-store="config"><td>config</td><td class="num">2</td>"#),
        "{stores}"
    );
    let kv = section(&dom, "kv");
    assert!(
        kv.contains(r#"data-key="limits""#) && kv.contains(r#"data-key="mode""#),
        "{kv}"
    );
    assert!(
        kv.contains("&quot;rooms&quot;: 10") || kv.contains("\"rooms\": 10"),
        "{kv}"
    );
    // The live figures were filled in.
    let live = section(&dom, "live");
    assert!(!live.contains(r#"<b id="commits">–</b>"#), "{live}");
    // The live events panel shows announcements made while the page was open.
    announcer.abort();
    let events = section(&dom, "events");
    assert!(events.contains(r#"data-actor="Room/tea""#), "{events}");
    assert!(
        events.contains("{&quot;Announced&quot;:{&quot;text&quot;:&quot;tea-time-")
            || events.contains(r#"{"Announced":{"text":"tea-time-"#),
        "{events}"
    );
    assert!(events.contains("received, newest first"), "{events}");
    // And the token is not left in the address the page shows.
    assert!(!dom.contains(TOKEN), "the token is in the DOM");

    if let Ok(out) = std::env::var("INSPECTOR_SCREENSHOT") {
        // `INSPECTOR_SCREENSHOT=docs/inspector.png` renders the picture in docs/operating.md:
        // the same page after some seconds of a varying load, which its chart shows from the
        // live feed's first event (the last minute of rates).
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join(out);
        let room = server
            .system()
            .get_or_create::<Room>("lobby")
            .await
            .expect("the lobby");
        let load = tokio::spawn(async move {
            for i in 0u64.. {
                room.visit(format!("guest-{}", i % 7)).await.expect("visit");
                let pause = 5 + (i / 60) % 4 * 10;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(20)).await;
        run_chromium(
            &chromium,
            &profile,
            &[
                "--virtual-time-budget=5000".to_owned(),
                "--window-size=1200,1000".to_owned(),
                format!("--screenshot={}", out.display()),
            ],
            &url,
        )
        .await;
        load.abort();
    }
    server.shutdown().await;
}
