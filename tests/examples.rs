//! The examples are real programs: run them and check what they print.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/http.rs"]
mod http;
#[path = "support/storage.rs"]
mod storage;

use std::process::Command;

fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(bin::example(name))
        .args(args)
        .output()
        .expect("run example");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn counter_keeps_its_count_across_runs() {
    let path = storage::temp_path("counter-example");
    let file = path.to_str().expect("utf-8 path");
    let first = run("counter", &[file]);
    assert!(
        first.contains("the count was 0 when this run started"),
        "{first}"
    );
    assert!(first.contains("count = 3 (durable)"), "{first}");
    let second = run("counter", &[file]);
    assert!(
        second.contains("the count was 3 when this run started"),
        "{second}"
    );
    assert!(
        second.contains("count = 6 (durable), increments by this process = 3"),
        "{second}"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn sql_vars_rebuilds_its_pool_and_keeps_its_rows() {
    let out = run("sql_vars", &[]);
    assert!(
        out.contains("first run: 2 orders, 1075 cents; SQL has 2 rows"),
        "{out}"
    );
    assert!(
        out.contains("after a restart: 3 orders, 1375 cents; SQL has 3 rows"),
        "{out}"
    );
}

#[test]
fn sleep_memory_lets_every_actor_sleep() {
    let out = run("sleep_memory", &["2000", "--cache-mb", "1"]);
    assert!(out.contains("touched 2000 actors"), "{out}");
    assert!(out.contains("after sleep: awake 0, registered 0"), "{out}");
}

#[test]
fn the_key_value_examples_do_what_the_seed_shows() {
    let flags = run("kv_feature_flags", &[]);
    assert!(
        flags.contains("dark-mode enabled: false\nenabled dark-mode\ndark-mode enabled: true"),
        "{flags}"
    );
    let counters = run("kv_counters", &[]);
    assert!(
        counters.contains("8 x 100 concurrent increments: 800"),
        "{counters}"
    );
    assert!(
        counters.contains("after a restart and one more: 801"),
        "{counters}"
    );
    let prefs = run("kv_preferences", &[]);
    assert!(
        prefs.contains(r#"stored as:        {"language":"en","theme":"dark"}"#),
        "{prefs}"
    );
    let json = run("kv_json", &[]);
    assert!(
        json.contains(r#"stored:  {"name":"Alice","role":"admin"}"#),
        "{json}"
    );
    let stores = run("kv_multiple_stores", &[]);
    assert!(stores.contains("STATE has user:abc? None"), "{stores}");
}

#[test]
fn reminders_fire_once_and_the_next_run_delivers_what_came_due() {
    let path = storage::temp_path("reminders-example");
    let file = path.to_str().expect("utf-8 path");
    let first = run("reminders", &[file]);
    assert!(first.contains("set 4 reminders, cancelled 1"), "{first}");
    assert!(
        first.contains("delivered: stand up, drink water\n"),
        "{first}"
    );
    assert!(
        first.contains("still pending: renew the passport"),
        "{first}"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    let second = run("reminders", &[file]);
    assert!(
        second.contains("ada: reminder: renew the passport"),
        "{second}"
    );
    assert!(
        second.contains("delivered: stand up, drink water, renew the passport\n"),
        "{second}"
    );
    assert!(
        !second.contains("call back"),
        "the cancelled one never fires: {second}"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn chat_room_events_reach_a_listener_in_order_and_a_sleepy_one_lags() {
    let out = run("chat_room", &[]);
    assert!(out.contains("listener: Joined { name: \"ada\" }"), "{out}");
    assert!(out.contains("listener heard 304 events, in order"), "{out}");
    assert!(out.contains("sleepy listener fell behind: missed"), "{out}");
}

/// Starts a server example on a free port with the database `file`.
#[test]
fn counter_client_calls_the_served_counter_with_the_typed_methods() {
    let path = storage::temp_path("counter-client-example");
    let file = path.to_str().expect("utf-8 path");
    let server = serve("counter_server", &[file]);
    let base = server.base.clone();
    let first = run(
        "counter_client",
        &["--server", &base, "--by", "2", "shop/berlin"],
    );
    assert!(first.contains("local: shop/berlin = 2\n"), "{first}");
    assert!(
        first.contains("remote: shop/berlin = 2 (durable on the server)"),
        "{first}"
    );
    let second = run(
        "counter_client",
        &["--server", &base, "--by", "2", "shop/berlin"],
    );
    assert!(second.contains("local: shop/berlin = 2\n"), "{second}");
    assert!(second.contains("remote: shop/berlin = 4"), "{second}");
    assert!(second.contains("remote get: 4"), "{second}");
    let (exit, _) = server.terminate();
    assert!(exit.success());
    // With the server gone, the client says so and fails.
    let out = Command::new(bin::example("counter_client"))
        .args(["--server", &base])
        .output()
        .expect("run example");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to the server"), "{stderr}");
    std::fs::remove_file(path).unwrap();
}

fn serve(name: &str, args: &[&str]) -> http::ServerProcess {
    let mut command = Command::new(bin::example(name));
    command.args(["--listen", "127.0.0.1:0"]).args(args);
    http::ServerProcess::start(command)
}

#[tokio::test]
async fn ploy_worker_answers_as_the_seeds_basic_example_does() {
    let path = storage::temp_path("ploy-worker-example");
    let file = path.to_str().expect("utf-8 path");
    let c = http::client();
    let worker = serve("ploy_worker", &["--db", file]);
    let base = worker.base.clone();
    let exchange = |path: &'static str| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let a = http::get(&c, &base, path).await;
            let content_type = a.headers["content-type"].to_str().unwrap().to_owned();
            (a.status, a.text, content_type)
        }
    };
    let json = "application/json";
    assert_eq!(
        exchange("/get").await,
        (200, r#"{"value":null}"#.into(), json.into())
    );
    assert_eq!(
        exchange("/set").await,
        (200, r#"{"success":true}"#.into(), json.into())
    );
    assert_eq!(
        exchange("/get").await,
        (200, r#"{"value":"hello world"}"#.into(), json.into())
    );
    let (status, text, content_type) = exchange("/anything/else").await;
    assert_eq!((status, text.as_str()), (200, "State Worker"));
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let (exit, said) = worker.terminate();
    assert!(
        exit.success() && said.contains("shut down"),
        "{exit}: {said}"
    );

    // The value is durable: a new process reads it, then deletes it.
    let worker = serve("ploy_worker", &["--db", file]);
    let base = worker.base.clone();
    let exchange = |path: &'static str| {
        let (c, base) = (c.clone(), base.clone());
        async move { http::get(&c, &base, path).await.text }
    };
    assert_eq!(exchange("/get").await, r#"{"value":"hello world"}"#);
    assert_eq!(exchange("/delete").await, r#"{"success":true}"#);
    assert_eq!(exchange("/get").await, r#"{"value":null}"#);
    drop(worker);
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn counter_server_serves_the_counter_and_keeps_its_count() {
    let path = storage::temp_path("counter-server-example");
    let file = path.to_str().expect("utf-8 path");
    let c = http::client();
    let server = serve("counter_server", &[file]);
    let increment = "/actors/Counter/visits/increment";
    assert_eq!(
        http::post(&c, &server.base, increment, r#"{"by": 1}"#)
            .await
            .text,
        "1"
    );
    assert_eq!(
        http::post(&c, &server.base, increment, r#"{"by": 2}"#)
            .await
            .text,
        "3"
    );
    let listing = http::get(&c, &server.base, "/actors").await.body;
    assert_eq!(listing["actors"][0]["actions"][0]["arguments"][0], "by");
    let (exit, _) = server.terminate();
    assert!(exit.success());
    // The `counter` example reads the same file.
    let out = run("counter", &[file]);
    assert!(
        out.contains("the count was 3 when this run started"),
        "{out}"
    );
    std::fs::remove_file(path).unwrap();
}
