//! Durable key-value stores (the Ploy seed): get/set/delete, several stores, limits,
//! atomic updates, listing, JSON helpers, bindings and typed environments.

#[path = "support/storage.rs"]
mod storage;

use actor_core::{
    Actor, BindingError, Bindings, Ctx, Env, KvError, KvStore, MAX_KEY_BYTES, MAX_VALUE_BYTES,
    System, actions,
};
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn set_get_delete_and_values_outlive_restarts() {
    let path = storage::temp_path("kv-basic");
    let system = System::open(&path).await.unwrap();
    let state = system.kv("default").unwrap();
    assert_eq!(state.get("greeting").await.unwrap(), None);
    state.set("greeting", "hello world").await.unwrap();
    assert_eq!(
        state.get("greeting").await.unwrap().as_deref(),
        Some("hello world")
    );
    state.set("greeting", "hello again").await.unwrap();
    state.set("doomed", "x").await.unwrap();
    state.delete("doomed").await.unwrap();
    state.delete("never-there").await.unwrap();
    system.shutdown().await;

    let system = System::open(&path).await.unwrap();
    let state = system.kv("default").unwrap();
    assert_eq!(
        state.get("greeting").await.unwrap().as_deref(),
        Some("hello again")
    );
    assert_eq!(state.get("doomed").await.unwrap(), None);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn stores_are_separate() {
    let system = System::temporary().await.unwrap();
    let (a, b) = (system.kv("default").unwrap(), system.kv("users").unwrap());
    a.set("config", "from-default").await.unwrap();
    b.set("config", "from-users").await.unwrap();
    assert_eq!(
        a.get("config").await.unwrap().as_deref(),
        Some("from-default")
    );
    assert_eq!(
        b.get("config").await.unwrap().as_deref(),
        Some("from-users")
    );
    b.delete("config").await.unwrap();
    assert_eq!(
        a.get("config").await.unwrap().as_deref(),
        Some("from-default")
    );
    system.shutdown().await;
}

#[tokio::test]
async fn bad_keys_and_values_are_typed_errors_and_store_nothing() {
    let system = System::temporary().await.unwrap();
    let state = system.kv("default").unwrap();
    assert!(matches!(
        state.set("", "v").await,
        Err(KvError::EmptyKey { .. })
    ));
    assert!(matches!(state.get("").await, Err(KvError::EmptyKey { .. })));
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(matches!(
        state.set(&long_key, "v").await,
        Err(KvError::KeyTooLarge { len, .. }) if len == MAX_KEY_BYTES + 1
    ));
    let big = "v".repeat(MAX_VALUE_BYTES + 1);
    let err = state.set("big", big).await.unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("`big`"), "{err}");
    assert_eq!(state.get("big").await.unwrap(), None);
    let err = state
        .update("big", |_| Some("v".repeat(MAX_VALUE_BYTES + 1)))
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { .. }), "{err:?}");
    assert_eq!(state.get("big").await.unwrap(), None);
    system.shutdown().await;
}

async fn hammer(store: &KvStore, tasks: usize, each: usize) {
    let mut joins = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        joins.push(tokio::spawn(async move {
            for _ in 0..each {
                store.increment("counter:hits", 1).await.unwrap();
            }
        }));
    }
    for j in joins {
        j.await.unwrap();
    }
}

#[tokio::test]
async fn concurrent_increments_lose_nothing_across_a_restart() {
    let path = storage::temp_path("kv-counter");
    let system = System::open(&path).await.unwrap();
    hammer(&system.kv("default").unwrap(), 16, 500).await;
    assert_eq!(
        system
            .kv("default")
            .unwrap()
            .get("counter:hits")
            .await
            .unwrap()
            .as_deref(),
        Some("8000")
    );
    system.shutdown().await;
    let system = System::open(&path).await.unwrap();
    hammer(&system.kv("default").unwrap(), 16, 500).await;
    assert_eq!(
        system
            .kv("default")
            .unwrap()
            .get("counter:hits")
            .await
            .unwrap()
            .as_deref(),
        Some("16000"),
        "16 tasks x 1000 increments, half before and half after a restart"
    );
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn update_and_compare_and_set_are_atomic() {
    let system = System::temporary().await.unwrap();
    let s = system.kv("default").unwrap();
    assert!(
        s.compare_and_set("lock", None, Some("me".into()))
            .await
            .unwrap()
    );
    assert!(
        !s.compare_and_set("lock", None, Some("you".into()))
            .await
            .unwrap()
    );
    assert!(s.compare_and_set("lock", Some("me"), None).await.unwrap());
    assert_eq!(s.get("lock").await.unwrap(), None);
    let new = s
        .update("list", |old| Some(format!("{}+x", old.unwrap_or(""))))
        .await
        .unwrap();
    assert_eq!(new.as_deref(), Some("+x"));
    s.set("word", "not a number").await.unwrap();
    assert!(matches!(
        s.increment("word", 1).await,
        Err(KvError::BadValue { .. })
    ));
    assert_eq!(
        s.get("word").await.unwrap().as_deref(),
        Some("not a number")
    );
    // A panicking update fails alone; the store and other writes are unharmed.
    let (boom, fine) = tokio::join!(
        s.update("word", |_| panic!("bad update")),
        s.set("other", "ok")
    );
    assert!(
        matches!(boom, Err(KvError::UpdatePanicked { .. })),
        "{boom:?}"
    );
    fine.unwrap();
    assert_eq!(
        s.get("word").await.unwrap().as_deref(),
        Some("not a number")
    );
    system.shutdown().await;
}

#[tokio::test]
async fn list_by_prefix_in_pages() {
    let system = System::temporary().await.unwrap();
    let s = system.kv("default").unwrap();
    for i in 0..25 {
        s.set(&format!("user:{i:02}"), format!("u{i}"))
            .await
            .unwrap();
    }
    s.set("feature:dark-mode", "true").await.unwrap();
    system
        .kv("other")
        .unwrap()
        .set("user:99", "elsewhere")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list("user:", after.as_deref(), 10).await.unwrap();
        assert!(page.entries.len() <= 10);
        seen.extend(page.entries.iter().map(|(k, _)| k.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(seen, expected);
    let features = s.list("feature:", None, 10).await.unwrap();
    assert_eq!(
        features.entries,
        [("feature:dark-mode".to_owned(), "true".to_owned())]
    );
    system.shutdown().await;
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    role: String,
}

#[tokio::test]
async fn json_helpers_store_strings() {
    let system = System::temporary().await.unwrap();
    let s = system.kv("default").unwrap();
    let user = User {
        name: "Alice".into(),
        role: "admin".into(),
    };
    s.set_json("user:123", &user).await.unwrap();
    assert_eq!(s.get_json::<User>("user:123").await.unwrap(), Some(user));
    assert_eq!(
        s.get("user:123").await.unwrap().as_deref(),
        Some(r#"{"name":"Alice","role":"admin"}"#),
        "on disk it is a plain JSON string"
    );
    s.set("broken", "{not json").await.unwrap();
    assert!(matches!(
        s.get_json::<User>("broken").await,
        Err(KvError::BadValue { .. })
    ));
    system.shutdown().await;
}

#[tokio::test]
async fn a_failed_commit_writes_nothing_and_says_so() {
    let (system, storage, _) = storage::recorded_system("kv-fail").await;
    let s = system.kv("default").unwrap();
    s.set("k", "before").await.unwrap();
    storage.fail_next(1);
    assert!(matches!(
        s.set("k", "after").await,
        Err(KvError::Storage { .. })
    ));
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("before"));
    s.set("k", "later").await.unwrap();
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("later"));
    system.shutdown().await;
}

/// The typed environment of the seed's example.
#[derive(Env)]
struct AppEnv {
    state: KvStore,
    user_state: KvStore,
}

#[tokio::test]
async fn bindings_from_a_config_file_and_a_typed_env() {
    let config = "[state]\nSTATE = \"default\"\nUSER_STATE = \"users\"\n";
    let bindings = Bindings::from_toml(config).unwrap();
    let system = System::builder()
        .temporary()
        .bindings(bindings)
        .open()
        .await
        .unwrap();
    let env: AppEnv = system.env().unwrap();
    env.state.set("config", "v1").await.unwrap();
    env.user_state.set("user:abc", "data").await.unwrap();
    assert_eq!(env.state.name(), "default");
    assert_eq!(env.user_state.name(), "users");
    assert_eq!(
        system
            .kv("users")
            .unwrap()
            .get("user:abc")
            .await
            .unwrap()
            .as_deref(),
        Some("data")
    );
    assert_eq!(
        system
            .binding("STATE")
            .unwrap()
            .get("config")
            .await
            .unwrap()
            .as_deref(),
        Some("v1")
    );
    system.shutdown().await;

    // A binding the type needs but the config lacks, and one the config has but the type
    // does not use, are both startup errors that name the binding.
    let system = System::builder()
        .temporary()
        .bindings(Bindings::new().bind("STATE", "default"))
        .open()
        .await
        .unwrap();
    match system.env::<AppEnv>() {
        Err(BindingError::Missing { name, declared }) => {
            assert_eq!(name, "USER_STATE");
            assert_eq!(declared, ["STATE"]);
        }
        other => panic!("expected a missing binding, got {:?}", other.err()),
    }
    system.shutdown().await;
    let system = System::builder()
        .temporary()
        .bindings(
            Bindings::new()
                .bind("STATE", "default")
                .bind("USER_STATE", "users")
                .bind("EXTRA", "x"),
        )
        .open()
        .await
        .unwrap();
    let err = system.env::<AppEnv>().err().unwrap();
    assert_eq!(
        err,
        BindingError::Unknown {
            name: "EXTRA".into()
        }
    );
    assert!(err.to_string().contains("EXTRA"));
    system.shutdown().await;
    assert!(Bindings::from_toml("[state]\nSTATE = 3\n").is_err());
}

/// Stores are reachable from inside actions, through the context.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Greeter {
    greeted: u32,
}

#[actions]
impl Greeter {
    pub async fn greet(&mut self, ctx: &mut Ctx<Self>, name: String) -> Result<String, KvError> {
        let system = ctx.system().ok_or(KvError::Shutdown)?;
        let prefs = system.kv("prefs").unwrap();
        let greeting = prefs
            .get(&format!("greeting:{name}"))
            .await?
            .unwrap_or_else(|| "hello".into());
        self.greeted += 1;
        system
            .kv("stats")
            .unwrap()
            .increment("greetings", 1)
            .await?;
        Ok(format!("{greeting}, {name}"))
    }
}

#[tokio::test]
async fn stores_are_reachable_from_actions() {
    let system = System::temporary().await.unwrap();
    system
        .kv("prefs")
        .unwrap()
        .set("greeting:ada", "bonjour")
        .await
        .unwrap();
    let g = system.get_or_create::<Greeter>("g").await.unwrap();
    assert_eq!(g.greet("ada".into()).await.unwrap(), "bonjour, ada");
    assert_eq!(g.greet("bob".into()).await.unwrap(), "hello, bob");
    assert_eq!(
        system
            .kv("stats")
            .unwrap()
            .get("greetings")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    system.shutdown().await;
}
