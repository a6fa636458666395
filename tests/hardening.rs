//! What a hostile user found, each now a test: state too deep to read back, two types under
//! one name, a panic in `on_create` or in a state's `Serialize`, a failed read on wake, a new
//! file on a full disk, a shutdown behind a stuck action, a by-name reply that cannot be
//! encoded, `list` without a limit, unbounded names, `increment` past `i64::MAX`; and the
//! traps a new user fell into: keys printed and passed back, a dropped system holding its
//! file, calls by name that guess, call cycles, handles after a crash loop, caught panics on
//! stderr, reading records from a tool.

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use actor_core::{
    Actor, ActorKey, AskError, ByNameError, Ctx, DecodeError, EncodeError, KvError,
    MAX_ACTOR_KEY_BYTES, MAX_DEPTH, MAX_STORE_NAME_BYTES, Record, StartError, StopReason, Storage,
    System, TellError, actions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// 1. Acknowledged state that can never load again

/// A tree as deep as asked: each level is one enum variant.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
enum Tree {
    #[default]
    Leaf,
    Node(Box<Tree>),
}

impl Tree {
    fn deep(depth: usize) -> Self {
        let mut tree = Tree::Leaf;
        for _ in 0..depth {
            tree = Tree::Node(Box::new(tree));
        }
        tree
    }

    fn depth(&self) -> usize {
        let (mut node, mut depth) = (self, 0);
        while let Tree::Node(inner) = node {
            node = inner;
            depth += 1;
        }
        depth
    }
}

/// Nested JSON arrays, `depth` deep, built without recursion.
fn nested_json(depth: usize) -> serde_json::Value {
    let mut value = serde_json::Value::Null;
    for _ in 0..depth {
        value = serde_json::Value::Array(vec![value]);
    }
    value
}

#[derive(Actor, Serialize, Deserialize, Default)]
struct Deep {
    tree: Tree,
    value: Option<serde_json::Value>,
    n: u64,
}

#[actions]
impl Deep {
    pub async fn grow(&mut self, depth: usize) -> u64 {
        self.tree = Tree::deep(depth);
        self.n += 1;
        self.n
    }

    pub async fn keep(&mut self, value: serde_json::Value) -> u64 {
        self.value = Some(value);
        self.n += 1;
        self.n
    }

    pub async fn panic(&mut self) -> u64 {
        self.n += 100;
        panic!("planned");
    }

    pub async fn n(&self) -> u64 {
        self.n
    }

    pub async fn depth(&self) -> usize {
        self.tree.depth()
    }
}

fn too_deep<E: std::fmt::Debug>(result: &Result<u64, AskError<E>>) -> bool {
    matches!(
        result,
        Err(AskError::Encode {
            source: EncodeError::TooDeep { limit: MAX_DEPTH },
            ..
        })
    )
}

#[tokio::test]
async fn a_state_too_deep_to_read_back_is_refused_and_the_actor_keeps_serving() {
    let path = storage::temp_path("deep");
    let system = System::open(&path).await.unwrap();
    let d = system.get_or_create::<Deep>("d").await.unwrap();
    // At the limit: accepted, and it reads back (below, after a restart).
    assert_eq!(d.grow(MAX_DEPTH - 4).await.unwrap(), 1);
    // Past it: refused, rolled back.
    let refused = d.grow(300).await;
    assert!(too_deep(&refused), "{refused:?}");
    assert_eq!(d.n().await.unwrap(), 1, "the refused action left nothing");
    // A panic reloads the last snapshot: it must decode.
    assert!(matches!(d.panic().await, Err(AskError::Panicked { .. })));
    assert_eq!(d.n().await.unwrap(), 1);
    assert_eq!(d.depth().await.unwrap(), MAX_DEPTH - 4);
    system.shutdown().await;

    let system = System::open(&path).await.unwrap();
    let d = system.get::<Deep>("d").await.unwrap();
    assert_eq!(d.n().await.unwrap(), 1);
    assert_eq!(d.depth().await.unwrap(), MAX_DEPTH - 4);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

/// Values deep enough to overflow the encoder's stack, typed and by name, in a child process
/// (a regression aborts the child, not the test run). The child must end normally.
#[tokio::test]
async fn no_value_however_deep_aborts_the_process() {
    const TEST: &str = "no_value_however_deep_aborts_the_process";
    if let Some((phase, path)) = process::phase() {
        let system = System::open(&path).await.unwrap();
        let d = system.get_or_create::<Deep>("d").await.unwrap();
        if phase == "typed" {
            let refused = d.keep(nested_json(5_000)).await;
            assert!(too_deep(&refused), "{refused:?}");
        } else {
            // Built by hand: `json!` would copy the value through `Serialize`, recursively.
            let mut args = serde_json::Map::new();
            args.insert("value".to_owned(), nested_json(20_000));
            let args = serde_json::Value::Object(args);
            match d.ask_json("keep", args).await {
                Err(ByNameError::Arguments { source, .. }) => {
                    assert!(source.message().contains("deeper than"), "{source}");
                }
                other => panic!("expected bad arguments, got {other:?}"),
            }
            // Deep but within the limit: taken.
            assert_eq!(
                d.ask_json("keep", json!({ "value": nested_json(MAX_DEPTH - 10) }))
                    .await
                    .unwrap(),
                json!(1)
            );
        }
        assert_eq!(d.n().await.unwrap(), u64::from(phase != "typed"));
        system.shutdown().await;
        return;
    }
    for phase in ["typed", "json"] {
        let path = storage::temp_path("deeper");
        process::run(TEST, phase, &path, false);
        let _ = std::fs::remove_file(&path);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Two actor types with the same struct name

mod billing {
    use actor_core::{Actor, actions};
    use serde::{Deserialize, Serialize};

    #[derive(Actor, Serialize, Deserialize, Default)]
    pub struct Counter {
        pub count: i64,
    }

    #[actions]
    impl Counter {
        pub async fn add(&mut self, by: i64) -> i64 {
            self.count += by;
            self.count
        }
    }
}

mod stats {
    use actor_core::{Actor, actions};
    use serde::{Deserialize, Serialize};

    /// The same struct name, and the same shape, as `billing::Counter`.
    #[derive(Actor, Serialize, Deserialize, Default)]
    pub struct Counter {
        pub count: i64,
    }

    #[actions]
    impl Counter {
        pub async fn add(&mut self, by: i64) -> i64 {
            self.count += by * 1000;
            self.count
        }
    }

    /// The fix the error suggests: a name of its own.
    #[derive(Actor, Serialize, Deserialize, Default)]
    #[actor(name = "StatsCounter")]
    pub struct Renamed {
        pub count: i64,
    }

    #[actions]
    impl Renamed {
        pub async fn add(&mut self, by: i64) -> i64 {
            self.count += by;
            self.count
        }
    }
}

#[tokio::test]
async fn a_second_type_under_a_taken_name_is_refused_whatever_the_key() {
    use billing::CounterHandle as _;
    let system = System::temporary().await.unwrap();
    let b = system.get_or_create::<billing::Counter>("k").await.unwrap();
    assert_eq!(b.add(5).await.unwrap(), 5);
    for key in ["k", "j"] {
        match system.get_or_create::<stats::Counter>(key).await {
            Err(StartError::NameClash {
                name: "Counter",
                registered,
                requested,
            }) => {
                assert!(registered.ends_with("billing::Counter"), "{registered}");
                assert!(requested.ends_with("stats::Counter"), "{requested}");
            }
            other => panic!("expected a name clash, got {other:?}"),
        }
    }
    assert_eq!(
        b.add(1).await.unwrap(),
        6,
        "the first type's record untouched"
    );
    let renamed = system.get_or_create::<stats::Renamed>("k").await.unwrap();
    assert_eq!(stats::RenamedHandle::add(&renamed, 2).await.unwrap(), 2);
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 3. A panic in `on_create`

#[derive(Actor, Serialize, Deserialize)]
#[actor(create_state = Fragile::new, input = u8)]
struct Fragile {
    /// 0: fine; 1: `on_create` panics; 2: `create_state` panics.
    mode: u8,
    created: u32,
    half: u32,
}

impl Fragile {
    fn new(mode: u8) -> Self {
        assert!(mode != 2, "planned panic in create_state");
        Self {
            mode,
            created: 0,
            half: 0,
        }
    }
}

#[actions]
impl Fragile {
    async fn on_create(&mut self) {
        self.half = 1;
        assert!(self.mode != 1, "planned panic in on_create");
        self.created += 1;
    }

    pub async fn created(&self) -> (u32, u32) {
        (self.created, self.half)
    }
}

#[tokio::test]
async fn a_panic_while_creating_stores_nothing_and_a_later_call_creates_again() {
    let system = System::temporary().await.unwrap();
    for mode in [1, 2] {
        match system.get_or_create_with::<Fragile>("f", mode).await {
            Err(StartError::CreatePanicked { message, .. }) => {
                assert!(message.contains("planned panic"), "{message}");
            }
            other => panic!("expected a failed creation, got {other:?}"),
        }
        assert!(
            matches!(
                system.get::<Fragile>("f").await,
                Err(StartError::NotFound(_))
            ),
            "nothing stored"
        );
    }
    let f = system.get_or_create_with::<Fragile>("f", 0).await.unwrap();
    assert_eq!(f.created().await.unwrap(), (1, 1), "on_create ran, once");
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. A panic inside the state's `Serialize`

/// A state whose `Serialize` panics on demand.
#[derive(Deserialize, Default)]
struct Touchy {
    n: u64,
    #[serde(skip)]
    poisoned: bool,
}

impl Serialize for Touchy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        assert!(!self.poisoned, "planned panic in Serialize");
        let mut st = s.serialize_struct("Touchy", 1)?;
        st.serialize_field("n", &self.n)?;
        st.end()
    }
}

impl Actor for Touchy {
    const NAME: &'static str = "Touchy";
    type Input = ();
    type Action = bool;
    type Reply = u64;
    type Error = std::convert::Infallible;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self::default()
    }

    async fn handle(&mut self, poison: bool, _ctx: &mut Ctx<Self>) -> Result<u64, Self::Error> {
        self.n += 1;
        self.poisoned = poison;
        Ok(self.n)
    }
}

#[tokio::test]
async fn a_panic_in_the_states_serialize_fails_that_call_and_the_actor_keeps_serving() {
    let system = System::temporary().await.unwrap();
    let t = system.get_or_create::<Touchy>("t").await.unwrap();
    assert_eq!(t.ask(false).await.unwrap(), 1);
    match t.ask(true).await {
        Err(AskError::Panicked { message, .. }) => {
            assert!(message.contains("Serialize"), "{message}");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(t.ask(false).await.unwrap(), 2, "rolled back, then served");
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. A transient read error while waking an actor

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(sleep_after_ms = 100)]
struct Sleepy {
    n: u64,
}

#[actions]
impl Sleepy {
    pub async fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }
}

/// Waits (real time, bounded) until the actor sleeps.
async fn wait_until_asleep<A: Actor>(handle: &actor_core::Handle<A>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !handle.is_asleep() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(handle.is_asleep(), "the actor fell asleep");
}

#[tokio::test]
async fn a_failed_read_on_wake_fails_that_call_and_the_next_call_wakes_the_actor() {
    let (system, storage, path) = storage::recorded_system("wake").await;
    let s = system.get_or_create::<Sleepy>("s").await.unwrap();
    assert_eq!(s.bump().await.unwrap(), 1);
    wait_until_asleep(&s).await;
    storage.fail_next_loads(2);
    match s.bump().await {
        Err(AskError::Unavailable { source, .. }) => {
            assert!(format!("{source:?}").contains("injected"), "{source:?}");
        }
        other => panic!("expected the read failure, got {other:?}"),
    }
    assert!(matches!(
        s.tell(SleepyAction::Bump {}).await,
        Err(TellError::Unavailable { .. })
    ));
    assert!(s.is_asleep(), "still asleep, not stopped");
    assert_eq!(s.bump().await.unwrap(), 2, "the next call wakes it");
    system.shutdown().await;
    let _ = std::fs::remove_file(path);
}

// ---------------------------------------------------------------------------------------------
// 6. Opening a new database on a full disk

/// Runs this test binary's `test` in a child whose files may not grow past `kib` KiB (the
/// shell's `ulimit -f`, with SIGXFSZ ignored so a write past it fails with EFBIG, as on a
/// full disk), as `phase` on `file`.
fn run_with_file_limit(test: &str, phase: &str, file: &std::path::Path, kib: u32) {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
            kib * 2
        ))
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("ACTOR_SUITE_PHASE", phase)
        .env("ACTOR_SUITE_FILE", file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "phase {phase} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_new_file_that_cannot_be_set_up_is_removed_and_an_old_one_is_never_touched() {
    const TEST: &str =
        "a_new_file_that_cannot_be_set_up_is_removed_and_an_old_one_is_never_touched";
    if let Some((phase, path)) = process::phase() {
        let before = std::fs::read(&path).ok();
        let opened = System::open(&path).await;
        assert!(opened.is_err(), "{phase}: the disk is full");
        match phase.as_str() {
            "new" => assert!(!path.exists(), "the half-made file is gone"),
            _ => assert_eq!(std::fs::read(&path).ok(), before, "left as it was"),
        }
        return;
    }
    let path = storage::temp_path("full-disk");
    run_with_file_limit(TEST, "new", &path, 4);
    // Space again: the same path opens as a new database.
    let system = System::open(&path).await.unwrap();
    system.kv("s").unwrap().set("k", "v").await.unwrap();
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
    // A file that was there before (even an empty one) is never removed.
    std::fs::write(&path, b"").unwrap();
    run_with_file_limit(TEST, "old", &path, 4);
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 7. A shutdown behind an action that never returns

#[derive(Actor, Serialize, Deserialize, Default)]
struct Stuck {
    n: u64,
}

#[actions]
impl Stuck {
    pub async fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    pub async fn hang(&mut self) -> u64 {
        self.n += 1000;
        std::future::pending::<()>().await;
        self.n
    }
}

#[tokio::test]
async fn shutdown_cancels_a_stuck_action_after_its_deadline_and_releases_the_file() {
    let path = storage::temp_path("stuck");
    let system = System::builder()
        .path(&path)
        .shutdown_timeout(Duration::from_millis(200))
        .open()
        .await
        .unwrap();
    let s = system.get_or_create::<Stuck>("s").await.unwrap();
    assert_eq!(s.bump().await.unwrap(), 1);
    let stuck = tokio::spawn({
        let s = s.clone();
        async move { s.hang().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued = tokio::spawn({
        let s = s.clone();
        async move { s.bump().await }
    });
    // A caller may bound its own wait.
    assert!(matches!(
        s.ask_timeout(StuckAction::Bump {}, Duration::from_millis(20))
            .await,
        Err(AskError::Timeout { .. })
    ));
    tokio::time::timeout(Duration::from_secs(10), system.shutdown())
        .await
        .expect("shutdown returns after its deadline");
    for caller in [stuck.await.unwrap(), queued.await.unwrap()] {
        assert!(
            matches!(
                caller,
                Err(AskError::Stopped {
                    reason: StopReason::Aborted { .. },
                    ..
                })
            ),
            "{caller:?}"
        );
    }
    // The file is released, and holds exactly what was acknowledged.
    let system = System::open(&path).await.unwrap();
    let s = system.get::<Stuck>("s").await.unwrap();
    assert_eq!(s.bump().await.unwrap(), 2);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 8. A by-name reply that cannot be encoded

#[derive(Actor, Serialize, Deserialize, Default)]
struct Wide {
    n: u64,
}

#[actions]
impl Wide {
    pub async fn huge(&mut self) -> u128 {
        self.n += 1;
        u128::MAX
    }

    pub async fn keyed(&mut self) -> HashMap<(u8, u8), u8> {
        self.n += 1;
        HashMap::from([((1, 2), 3)])
    }

    pub async fn n(&self) -> u64 {
        self.n
    }

    pub async fn echo(&self, text: String, times: u32) -> String {
        text.repeat(times as usize)
    }
}

#[tokio::test]
async fn a_reply_that_cannot_be_encoded_rolls_the_action_back() {
    let system = System::temporary().await.unwrap();
    let w = system.get_or_create::<Wide>("w").await.unwrap();
    for action in ["huge", "keyed"] {
        match w.ask_json(action, serde_json::Value::Null).await {
            Err(ByNameError::Reply { action: name, .. }) => assert_eq!(name, action),
            other => panic!("expected an unencodable reply, got {other:?}"),
        }
        assert_eq!(w.n().await.unwrap(), 0, "{action} was not applied");
    }
    // CBOR carries both: applied and answered.
    let reply = w.ask_cbor("huge", &[]).await.unwrap();
    let value: u128 = ciborium::from_reader(&reply[..]).unwrap();
    assert_eq!(value, u128::MAX);
    assert_eq!(w.n().await.unwrap(), 1);
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 9. `list` with any limit

#[tokio::test]
async fn list_takes_any_limit_and_list_all_has_none() {
    let system = System::temporary().await.unwrap();
    let kv = system.kv("s").unwrap();
    for i in 0..10 {
        kv.set(&format!("k{i}"), "v").await.unwrap();
    }
    let page = kv.list("", None, usize::MAX).await.unwrap();
    assert_eq!((page.entries.len(), page.next), (10, None));
    assert_eq!(kv.list_all("k").await.unwrap().len(), 10);
    let first = kv.list("", None, 4).await.unwrap();
    assert_eq!(first.entries.len(), 4);
    let rest = kv
        .list("", first.next.as_deref(), usize::MAX - 1)
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 6);
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 10. Unbounded names

#[tokio::test]
async fn keys_and_names_have_limits_and_errors_quote_a_short_prefix() {
    let system = System::temporary().await.unwrap();
    let at_limit = "k".repeat(MAX_ACTOR_KEY_BYTES);
    system
        .get_or_create::<Wide>(at_limit.as_str())
        .await
        .unwrap();
    let over = "k".repeat(64 << 20);
    match system.get_or_create::<Wide>(over.as_str()).await {
        Err(error @ StartError::KeyTooLong { .. }) => assert!(error.to_string().len() < 300),
        other => panic!("expected a key too long, got {other:?}"),
    }
    for bad in [
        String::new(),
        "s".repeat(MAX_STORE_NAME_BYTES + 1),
        "s".repeat(1 << 20),
    ] {
        match system.kv(&bad) {
            Err(error @ KvError::BadStoreName { .. }) => assert!(error.to_string().len() < 300),
            other => panic!("expected a bad store name, got {other:?}"),
        }
    }
    system.kv(&"s".repeat(MAX_STORE_NAME_BYTES)).unwrap();

    let w = system.get_or_create::<Wide>("w").await.unwrap();
    let name = "x".repeat(10 << 20);
    let error = w.ask_json(&name, json!({})).await.unwrap_err();
    assert!(
        matches!(error, ByNameError::UnknownAction { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().len() < 1024,
        "{} bytes",
        error.to_string().len()
    );
    // A decoder's message that quotes a huge argument is cut too.
    let error = w
        .ask_json("echo", json!({ "text": 5, "times": "y".repeat(1 << 20) }))
        .await
        .unwrap_err();
    assert!(matches!(error, ByNameError::Arguments { .. }), "{error:?}");
    assert!(
        error.to_string().len() < 1024,
        "{} bytes",
        error.to_string().len()
    );
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 11. `increment` past `i64::MAX`

#[tokio::test]
async fn increment_past_the_range_is_an_overflow_error_and_writes_nothing() {
    let system = System::temporary().await.unwrap();
    let kv = system.kv("s").unwrap();
    kv.set("max", i64::MAX.to_string()).await.unwrap();
    kv.set("min", i64::MIN.to_string()).await.unwrap();
    assert!(matches!(
        kv.increment("max", 1).await,
        Err(KvError::Overflow {
            value: i64::MAX,
            by: 1,
            ..
        })
    ));
    assert!(matches!(
        kv.increment("min", -1).await,
        Err(KvError::Overflow { .. })
    ));
    assert_eq!(kv.get("max").await.unwrap(), Some(i64::MAX.to_string()));
    assert_eq!(kv.increment("max", -1).await.unwrap(), i64::MAX - 1);
    system.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Traps

#[derive(Actor, Serialize, Deserialize, Default)]
struct Shop {
    printed_key: String,
}

#[actions]
impl Shop {
    pub async fn remember_key(&mut self, ctx: &Ctx<Self>) -> String {
        self.printed_key = ctx.key().to_string();
        self.printed_key.clone()
    }
}

#[tokio::test]
async fn a_printed_key_parses_back_to_the_same_actor() {
    let system = System::temporary().await.unwrap();
    let shop = system
        .get_or_create::<Shop>(["shop", "berlin"])
        .await
        .unwrap();
    let printed = shop.remember_key().await.unwrap();
    assert_eq!(printed, "shop/berlin");
    let again = system
        .get::<Shop>(printed.parse::<ActorKey>().unwrap())
        .await
        .unwrap();
    assert_eq!(again.id(), shop.id(), "parsed back: the same actor");
    let by_key = system.get::<Shop>(shop.key()).await.unwrap();
    assert_eq!(by_key.id(), shop.id(), "the key itself: the same actor");
    // The plain string is a one-part key: another actor, which does not exist.
    assert!(matches!(
        system.get::<Shop>(printed.as_str()).await,
        Err(StartError::NotFound(_))
    ));
    system.shutdown().await;
}

#[tokio::test]
async fn a_dropped_system_releases_its_file_for_the_next_open() {
    let path = storage::temp_path("drop");
    for round in 0..20_u64 {
        // No shutdown, no sleep between rounds: each open must succeed at once (waiting, if
        // need be, for the dropped system's actors to finish).
        let system = System::open(&path).await.unwrap();
        let w = system.get_or_create::<Wide>("w").await.unwrap();
        assert!(w.ask_json("huge", json!({})).await.is_err());
        assert!(w.ask_cbor("huge", &[]).await.is_ok());
        assert_eq!(w.n().await.unwrap(), round + 1);
        drop(w);
        drop(system);
    }
    // A live system's file is still refused at once.
    let system = System::open(&path).await.unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        System::open(&path).await,
        Err(actor_core::OpenError::AlreadyOpen { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn calls_by_name_tell_an_unknown_action_from_bad_arguments() {
    let system = System::temporary().await.unwrap();
    let w = system.get_or_create::<Wide>("w").await.unwrap();
    match w.ask_json("ehco", json!({})).await {
        Err(ByNameError::UnknownAction { action, valid }) => {
            assert_eq!(action, "ehco");
            assert_eq!(valid, ["huge", "keyed", "n", "echo"]);
        }
        other => panic!("expected an unknown action, got {other:?}"),
    }
    for (args, field) in [
        (json!({ "text": "a", "times": 2, "tiems": 3 }), "tiems"),
        (json!({ "text": "a" }), "times"),
        // A mistyped argument is named too, not only described.
        (json!({ "text": 5, "times": 2 }), "`text`"),
    ] {
        match w.ask_json("echo", args).await {
            Err(ByNameError::Arguments { source, .. }) => {
                assert!(source.message().contains(field), "{source}");
            }
            other => panic!("expected bad arguments, got {other:?}"),
        }
    }
    assert_eq!(
        w.ask_json("echo", json!({ "text": "ab", "times": 2 }))
            .await
            .unwrap(),
        json!("abab")
    );
    system.shutdown().await;
}

#[derive(Actor, Serialize, Deserialize, Default)]
struct Ping {
    n: u64,
}

#[actions]
impl Ping {
    /// Asks the next actor of `route` to go on, or answers at the end of it.
    pub async fn ping(&mut self, ctx: &mut Ctx<Self>, route: Vec<String>) -> Result<u64, String> {
        self.n += 1;
        let Some((next, rest)) = route.split_first() else {
            return Ok(self.n);
        };
        let system = ctx.system().ok_or("no system")?;
        let next = system
            .get_or_create::<Ping>(next.as_str())
            .await
            .map_err(|e| e.to_string())?;
        match next.ping(rest.to_vec()).await {
            Ok(n) => Ok(n),
            Err(AskError::Action(message)) => Err(message),
            Err(error) => Err(error.to_string()),
        }
    }
}

#[tokio::test]
async fn a_call_cycle_is_a_typed_error_not_a_deadlock() {
    let system = System::temporary().await.unwrap();
    let a = system.get_or_create::<Ping>("a").await.unwrap();
    let route = |keys: &[&str]| keys.iter().map(ToString::to_string).collect::<Vec<_>>();
    // No cycle: a -> b -> c.
    let done = tokio::time::timeout(Duration::from_secs(5), a.ping(route(&["b", "c"])))
        .await
        .unwrap();
    assert_eq!(done.unwrap(), 1);
    // a -> b -> a and a -> b -> c -> a.
    for keys in [&["b", "a"][..], &["b", "c", "a"]] {
        let result = tokio::time::timeout(Duration::from_secs(5), a.ping(route(keys)))
            .await
            .expect("no deadlock");
        let Err(AskError::Action(message)) = result else {
            panic!("expected the cycle, reported by b's action, got {result:?}");
        };
        assert!(message.contains("call cycle"), "{message}");
        assert!(message.contains("Ping(\"a\") -> Ping(\"b\")"), "{message}");
    }
    // The same actor again, once the first call is over, is no cycle.
    let b = system.get::<Ping>("b").await.unwrap();
    b.ping(route(&["a"])).await.unwrap();
    system.shutdown().await;
}

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(restart(max_restarts = 1, window_ms = 60_000, max_backoff_ms = 100))]
struct Brittle {
    n: u64,
}

#[actions]
impl Brittle {
    pub async fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    pub async fn crash(&mut self) -> u64 {
        panic!("planned");
    }
}

#[tokio::test(start_paused = true)]
async fn an_old_handle_starts_a_crash_looped_actor_again_after_the_back_off() {
    let system = System::temporary().await.unwrap();
    let b = system.get_or_create::<Brittle>("b").await.unwrap();
    assert_eq!(b.bump().await.unwrap(), 1);
    assert!(b.crash().await.is_err());
    assert!(b.crash().await.is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.is_stopped() && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    match b.bump().await {
        Err(AskError::Stopped {
            reason: StopReason::CrashLoop { .. },
            ..
        }) => {}
        other => panic!("within the back-off: stopped, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        b.bump().await.unwrap(),
        2,
        "the same old handle, a new activation"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn caught_panics_stay_off_stderr_when_asked() {
    const TEST: &str = "caught_panics_stay_off_stderr_when_asked";
    if let Some((phase, _)) = process::phase() {
        if phase == "quiet" {
            actor_core::quiet_caught_panics();
        }
        let system = System::temporary().await.unwrap();
        let d = system.get_or_create::<Deep>("d").await.unwrap();
        assert!(matches!(d.panic().await, Err(AskError::Panicked { .. })));
        system.shutdown().await;
        return;
    }
    for (phase, printed) in [("quiet", false), ("default", true)] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env("ACTOR_SUITE_PHASE", phase)
            .env("ACTOR_SUITE_FILE", "unused")
            .output()
            .unwrap();
        assert!(output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.contains("planned"), printed, "{phase}: {stderr}");
    }
}

#[tokio::test]
async fn a_tool_reads_records_without_the_actors_type() {
    let (system, storage, path) = storage::recorded_system("record").await;
    let w = system.get_or_create::<Wide>("w").await.unwrap();
    w.ask_cbor("huge", &[]).await.unwrap();
    let id = w.id();
    system.shutdown().await;
    let bytes = storage.load("Wide", "w").unwrap().unwrap();
    let record = Record::parse(&bytes).unwrap();
    assert_eq!((record.id(), record.state_version()), (id, 1));
    assert_eq!(
        record.payload().len(),
        bytes.len() - actor_core::RECORD_HEADER_LEN
    );
    let state: ciborium::Value = record.decode().unwrap();
    assert_eq!(state, ciborium::Value::Map(vec![("n".into(), 1.into())]));
    assert!(matches!(
        Record::parse(&bytes[..10]),
        Err(DecodeError::Truncated { len: 10 })
    ));
    drop(storage);
    let _ = std::fs::remove_file(path);
}
