//! The typed client: the methods `#[actions]` generates, called through
//! `actor_core::http::Client` on a real server on loopback, end as the same calls on a local
//! `Handle` would (replies, the action's own error, panics, the state limit, timeouts), and
//! every other failure is a typed `RemoteError`: an unknown type, a refused token, a server
//! that is gone, an answer that does not decode or is too large.

#[path = "support/storage.rs"]
mod storage;

use std::time::Duration;

use actor_core::http::{
    Auth, Bytes, Client, ClientError, IntoResponse, Request, Response, Server, ServerBuilder,
    StatusCode,
};
use actor_core::{
    Actor, ActorKey, AskError, ByNameError, Ctx, Env, ErrorKind, Remote, RemoteError, StopReason,
    System, actions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The actor served: an action for each way a call can end.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(max_state_bytes = 512)]
struct Wallet {
    balance: i64,
    notes: Vec<String>,
}

/// The error `withdraw` returns, decoded on the client from its serde form.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Refusal {
    Insufficient { balance: i64 },
    Negative,
}

#[actions]
impl Wallet {
    pub async fn deposit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.balance
    }

    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, Refusal> {
        if amount < 0 {
            return Err(Refusal::Negative);
        }
        if amount > self.balance {
            return Err(Refusal::Insufficient {
                balance: self.balance,
            });
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    pub async fn balance(&self) -> i64 {
        self.balance
    }

    /// Who the actor is, as its context says: the key as the server parsed it.
    pub async fn key_parts(&self, ctx: &Ctx<Self>) -> Vec<String> {
        ctx.key().parts()
    }

    /// Grows the state: past 512 bytes it is refused and rolled back.
    pub async fn note(&mut self, text: String) -> usize {
        self.notes.push(text);
        self.notes.len()
    }

    pub async fn boom(&mut self) -> i64 {
        self.balance += 1000;
        panic!("boom");
    }

    pub async fn slow(&mut self, ms: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.balance
    }
}

/// The client's idea of `Wallet` from another version: the same name, but `balance` returns
/// text. Its replies do not decode.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "Wallet")]
struct WalletV2 {
    balance: String,
}

#[actions]
impl WalletV2 {
    pub async fn balance(&self) -> String {
        self.balance.clone()
    }
}

/// An actor the server does not serve.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Unserved;

#[actions]
impl Unserved {
    pub async fn ping(&self) -> bool {
        true
    }
}

/// An actor whose reply type is `Serialize` only: it has a `Handle`'s typed methods but no
/// `Remote`'s, and still compiles (the bounds are checked only where a `Remote` is called).
#[derive(Actor, Serialize, Deserialize, Default)]
struct Greeter;

#[actions]
impl Greeter {
    pub async fn hello(&self) -> &'static str {
        "hello"
    }
}

/// A hand-written actor: called by name.
#[derive(Serialize, Deserialize, Default)]
struct Echo;

#[derive(Serialize, Deserialize)]
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
            EchoAction::Say { text } if text.is_empty() => Err("nothing to say".to_owned()),
            EchoAction::Say { text } => Ok(text),
        }
    }
}

/// An environment with no bindings, for the worker.
#[derive(Env, Clone)]
struct NoEnv {}

/// Starts a server for `Wallet`, `Greeter` and `Echo` on a free loopback port.
async fn serve(
    system: System,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, String) {
    let builder = Server::builder(system)
        .actor::<Wallet>()
        .actor::<Greeter>()
        .actor::<Echo>()
        .listen(([127, 0, 0, 1], 0));
    let server = configure(builder).start().await.expect("start the server");
    let base = format!("http://{}", server.local_addr());
    (server, base)
}

/// The `RemoteError` of a failed call, or a panic naming what came instead.
fn remote<E: std::fmt::Debug>(error: AskError<E>) -> RemoteError {
    match error {
        AskError::Remote { source, .. } => source,
        other => panic!("expected AskError::Remote, got {other:?}"),
    }
}

/// The status and error kind of a `RemoteError::Status`.
fn status(error: &RemoteError) -> (u16, ErrorKind) {
    match error {
        RemoteError::Status { status, detail } => (*status, detail.kind),
        other => panic!("expected RemoteError::Status, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_calls_are_answered_and_durable_on_the_server() {
    let path = storage::temp_path("http-client-durable");
    let (server, base) = serve(System::open(&path).await.unwrap(), |b| b).await;
    let client = Client::new(&base).unwrap();
    let wallet: Remote<Wallet> = client.actor("alice");
    assert_eq!(wallet.deposit(50).await.unwrap(), 50);
    assert_eq!(wallet.deposit(25).await.unwrap(), 75);
    assert_eq!(wallet.withdraw(5).await.unwrap(), 70);
    assert_eq!(wallet.balance().await.unwrap(), 70);
    // Another key is another actor.
    assert_eq!(client.actor::<Wallet>("bob").balance().await.unwrap(), 0);
    server.shutdown().await;

    // Every answered call is on disk.
    let system = System::open(&path).await.unwrap();
    let local = system.get::<Wallet>("alice").await.unwrap();
    assert_eq!(local.balance().await.unwrap(), 70);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn the_actions_own_error_decodes_and_the_state_is_rolled_back() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let wallet = Client::new(&base).unwrap().actor::<Wallet>("carol");
    wallet.deposit(10).await.unwrap();
    match wallet.withdraw(11).await {
        Err(AskError::Action(refusal)) => {
            assert_eq!(refusal, Refusal::Insufficient { balance: 10 });
        }
        other => panic!("expected the action's error, got {other:?}"),
    }
    assert!(matches!(
        wallet.withdraw(-1).await,
        Err(AskError::Action(Refusal::Negative))
    ));
    assert_eq!(wallet.balance().await.unwrap(), 10);
    server.shutdown().await;
}

#[tokio::test]
async fn calls_by_name_reach_any_actor() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let client = Client::new(&base).unwrap();
    let wallet = client.actor::<Wallet>("dave");
    assert_eq!(
        wallet
            .ask_json("deposit", json!({"amount": 3}))
            .await
            .unwrap(),
        json!(3)
    );
    // The same errors as `Handle::ask_json`.
    match wallet.ask_json("withdraw", json!({"amount": 4})).await {
        Err(ByNameError::Action(value)) => {
            assert_eq!(value, json!({"Insufficient": {"balance": 3}}));
        }
        other => panic!("expected the action's error as JSON, got {other:?}"),
    }
    let unknown = match wallet.ask_json("steal", json!({})).await {
        Err(ByNameError::Call(error)) => remote(error),
        other => panic!("expected a failed call, got {other:?}"),
    };
    assert_eq!(status(&unknown), (404, ErrorKind::UnknownAction));
    let RemoteError::Status { detail, .. } = &unknown else {
        unreachable!()
    };
    assert!(
        detail
            .actions
            .as_ref()
            .unwrap()
            .contains(&"deposit".to_owned())
    );
    match wallet.ask_json("deposit", json!({"amount": "many"})).await {
        Err(ByNameError::Arguments { action, source }) => {
            assert_eq!(action, "deposit");
            assert!(source.message().contains("`amount`"), "{source}");
        }
        other => panic!("expected bad arguments, got {other:?}"),
    }
    // Arguments that are not an object are refused before anything is sent.
    let not_object = remote(
        wallet
            .ask_by_name::<i64, Refusal>("deposit", &[1, 2])
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(not_object, RemoteError::Arguments(_)),
        "{not_object:?}"
    );

    // A hand-written actor, typed by the caller.
    let echo = client.actor::<Echo>("e");
    let said: String = echo
        .ask_by_name::<String, String>("say", &json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(said, "hi");
    match echo
        .ask_by_name::<String, String>("say", &json!({"text": ""}))
        .await
    {
        Err(AskError::Action(message)) => assert_eq!(message, "nothing to say"),
        other => panic!("expected the action's error, got {other:?}"),
    }
    // An actor without remote typed methods (its reply is not `Deserialize`) by name.
    let greeter = client.actor::<Greeter>("g");
    assert_eq!(
        greeter.ask_json("hello", json!(null)).await.unwrap(),
        json!("hello")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn keys_arrive_as_they_were_sent() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let client = Client::new(&base).unwrap();
    let keys = [
        ActorKey::from(["shop", "berlin"]),
        ActorKey::from("shop/berlin"),
        ActorKey::from(r"back\slash"),
        ActorKey::from("zürich 🎉"),
        ActorKey::from("100%?#&+ =;"),
        ActorKey::from(["", "x"]),
        ActorKey::from("..."),
    ];
    for (i, key) in keys.iter().enumerate() {
        let wallet = client.actor::<Wallet>(key);
        assert_eq!(wallet.key_parts().await.unwrap(), key.parts(), "{key:?}");
        let amount = i64::try_from(i).unwrap() + 1;
        assert_eq!(wallet.deposit(amount).await.unwrap(), amount, "{key:?}");
    }
    // Each key is its own actor, as the server's system sees it.
    let system = server.system().clone();
    for (i, key) in keys.iter().enumerate() {
        let local = system.get::<Wallet>(key).await.unwrap();
        assert_eq!(
            local.balance().await.unwrap(),
            i64::try_from(i).unwrap() + 1,
            "{key:?}"
        );
    }
    // Keys that no URL path can carry are refused before anything is sent.
    for key in ["", ".", ".."] {
        let error = remote(client.actor::<Wallet>(key).balance().await.unwrap_err());
        assert!(
            matches!(&error, RemoteError::Unaddressable { key: k } if k == key),
            "{error:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_unserved_actor_type_is_a_404_that_lists_the_served_ones() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let client = Client::new(&base).unwrap();
    let error = remote(client.actor::<Unserved>("x").ping().await.unwrap_err());
    assert_eq!(status(&error), (404, ErrorKind::UnknownActorType));
    let RemoteError::Status { detail, .. } = &error else {
        unreachable!()
    };
    assert_eq!(
        detail.types.as_deref(),
        Some(&["Echo".to_owned(), "Greeter".to_owned(), "Wallet".to_owned()][..])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_bearer_token_is_sent_and_a_wrong_one_is_a_401() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| {
        b.auth(Auth::bearer("s3cret-token"))
    })
    .await;
    let without = Client::new(&base).unwrap().actor::<Wallet>("w");
    let error = remote(without.balance().await.unwrap_err());
    assert_eq!(status(&error), (401, ErrorKind::Unauthorized));
    let wrong = Client::new(&base)
        .unwrap()
        .bearer_token("wrong")
        .unwrap()
        .actor::<Wallet>("w");
    assert_eq!(
        status(&remote(wrong.balance().await.unwrap_err())),
        (401, ErrorKind::Unauthorized)
    );
    let right = Client::new(&base)
        .unwrap()
        .bearer_token("s3cret-token")
        .unwrap()
        .actor::<Wallet>("w");
    assert_eq!(right.deposit(1).await.unwrap(), 1);
    // A token the server could never accept is refused when it is set.
    for token in ["", "with space", "ünïcode"] {
        assert!(matches!(
            Client::new(&base).unwrap().bearer_token(token),
            Err(ClientError::BadToken { max: 4096 })
        ));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_is_gone_is_a_connect_error() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let wallet = Client::new(&base).unwrap().actor::<Wallet>("w");
    assert_eq!(wallet.deposit(1).await.unwrap(), 1);
    server.shutdown().await;
    let error = remote(wallet.balance().await.unwrap_err());
    assert!(matches!(error, RemoteError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn a_panicking_action_is_reported_as_a_panic_and_rolled_back() {
    actor_core::quiet_caught_panics();
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let wallet = Client::new(&base).unwrap().actor::<Wallet>("p");
    wallet.deposit(7).await.unwrap();
    match wallet.boom().await {
        Err(AskError::Panicked { actor, .. }) => {
            assert_eq!(actor.kind, "Wallet");
            assert_eq!(actor.key, ActorKey::from("p"));
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(wallet.balance().await.unwrap(), 7);
    server.shutdown().await;
}

#[tokio::test]
async fn a_state_over_its_limit_is_reported_with_its_size() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let wallet = Client::new(&base).unwrap().actor::<Wallet>("big");
    match wallet.note("x".repeat(600)).await {
        Err(AskError::StateTooLarge { size, limit, .. }) => {
            assert_eq!(limit, 512);
            assert!(size > 600, "{size}");
        }
        other => panic!("expected StateTooLarge, got {other:?}"),
    }
    assert_eq!(wallet.note("small".to_owned()).await.unwrap(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_call_past_the_clients_time_limit_is_a_timeout() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b).await;
    let wallet = Client::new(&base)
        .unwrap()
        .timeout(Duration::from_millis(200))
        .actor::<Wallet>("slow");
    match wallet.slow(1_000).await {
        Err(AskError::Timeout { after, actor }) => {
            assert_eq!(after, Duration::from_millis(200));
            assert_eq!(actor.kind, "Wallet");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_shutting_down_server_is_a_stopped_actor() {
    let system = System::temporary().await.unwrap();
    let (server, base) = serve(system.clone(), |b| b).await;
    let wallet = Client::new(&base).unwrap().actor::<Wallet>("s");
    assert_eq!(wallet.deposit(1).await.unwrap(), 1);
    // The system shuts down under a server that still answers.
    system.shutdown().await;
    match wallet.deposit(1).await {
        Err(AskError::Stopped {
            reason: StopReason::Shutdown,
            ..
        }) => {}
        other => panic!("expected a stopped actor, got {other:?}"),
    }
    server.shutdown().await;
}

/// A worker standing in for what a misconfigured proxy answers.
async fn impostor(request: Request<Bytes>, _: NoEnv) -> Response {
    if request.uri().path().starts_with("/big/") {
        return "1".repeat(4096).into_response();
    }
    (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response()
}

#[tokio::test]
async fn answers_that_do_not_decode_are_typed_errors() {
    let (server, base) = serve(System::temporary().await.unwrap(), |b| b.worker(impostor)).await;
    // A reply of another type (an older client's idea of the actor).
    let client = Client::new(&base).unwrap();
    client.actor::<Wallet>("v").deposit(5).await.unwrap();
    let error = remote(client.actor::<WalletV2>("v").balance().await.unwrap_err());
    match &error {
        RemoteError::Decode { status, prefix, .. } => {
            assert_eq!((*status, prefix.as_str()), (200, "5"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // An error answer that is not an error body: quoted, not trusted.
    let proxied = Client::new(&format!("{base}/proxy/")).unwrap();
    let error = remote(proxied.actor::<Wallet>("v").balance().await.unwrap_err());
    match &error {
        RemoteError::Decode { status, prefix, .. } => {
            assert_eq!(
                (*status, prefix.as_str()),
                (502, "<html>bad gateway</html>")
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // An answer over the client's limit is not read to the end.
    let small = Client::new(&format!("{base}/big"))
        .unwrap()
        .max_answer_bytes(1024);
    let error = remote(small.actor::<Wallet>("v").balance().await.unwrap_err());
    assert!(
        matches!(error, RemoteError::TooLarge { limit: 1024 }),
        "{error:?}"
    );
    server.shutdown().await;
}

#[test]
fn only_plain_http_urls_make_a_client() {
    for url in [
        "not a url",
        "https://example.com",
        "ftp://example.com",
        "http://example.com/?q=1",
        "http://example.com/#top",
    ] {
        assert!(
            matches!(Client::new(url), Err(ClientError::BadUrl { .. })),
            "{url}"
        );
    }
    assert!(Client::new("http://127.0.0.1:8080/api/").is_ok());
}
