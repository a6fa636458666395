//! The living actor: hooks, ephemeral vars, sleep and wake, destroy, the state size limit.
//! Each through real saves and reloads from the file; the hooks across process restarts.

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actor_core::{Actor, AskError, Ctx, StartError, StopReason, System, actions};
use serde::{Deserialize, Serialize};

static STATE_CHANGES: AtomicUsize = AtomicUsize::new(0);
static DESTROYED: AtomicUsize = AtomicUsize::new(0);

/// Records its own lifecycle in its persisted state.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(sleep_after_ms = 1000)]
struct Diary {
    created: u32,
    wakes: u32,
    sleeps: u32,
    entries: Vec<String>,
    /// Ephemeral "connection", rebuilt by `on_wake`.
    #[serde(skip)]
    connection: Option<String>,
}

#[actions]
impl Diary {
    async fn on_create(&mut self) {
        self.created += 1;
    }

    async fn on_wake(&mut self, ctx: &mut Ctx<Self>) {
        self.wakes += 1;
        self.connection = Some(format!("conn-for-{}", ctx.key()));
    }

    async fn on_state_change(&self) {
        STATE_CHANGES.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_sleep(&mut self) {
        self.sleeps += 1;
        self.connection = None;
    }

    async fn on_destroy(&mut self) {
        DESTROYED.fetch_add(1, Ordering::SeqCst);
    }

    pub async fn write(&mut self, entry: String) -> usize {
        self.entries.push(entry);
        self.entries.len()
    }

    pub async fn grow(&mut self, bytes: usize) -> usize {
        self.entries.push("x".repeat(bytes));
        self.entries.len()
    }

    pub async fn stats(&self) -> (u32, u32, u32, usize, Option<String>) {
        (
            self.created,
            self.wakes,
            self.sleeps,
            self.entries.len(),
            self.connection.clone(),
        )
    }
}

/// Each run is a new process (see `hooks_phase`), so every wake after the first is a load from
/// the file.
#[tokio::test]
async fn hooks_run_once_on_create_and_on_every_wake() {
    const TEST: &str = "hooks_run_once_on_create_and_on_every_wake";
    if let Some((name, path)) = process::phase() {
        hooks_phase(&name, &path).await;
        return;
    }
    let path = storage::temp_path("hooks");
    for phase in ["create", "reload", "reload-again"] {
        process::run(TEST, phase, &path, false);
    }
    std::fs::remove_file(path).unwrap();
}

async fn hooks_phase(name: &str, path: &std::path::Path) {
    let system = System::open(path).await.unwrap();
    match name {
        "create" => {
            let d = system.get_or_create::<Diary>("d").await.unwrap();
            let before = STATE_CHANGES.load(Ordering::SeqCst);
            assert_eq!(d.write("one".into()).await.unwrap(), 1);
            assert!(
                STATE_CHANGES.load(Ordering::SeqCst) > before,
                "on_state_change ran"
            );
            let (created, wakes, _, _, connection) = d.stats().await.unwrap();
            assert_eq!((created, wakes), (1, 1));
            assert_eq!(
                connection.as_deref(),
                Some("conn-for-d"),
                "vars built by on_wake"
            );
        }
        "reload" => {
            // No on_create, one more on_wake; its change (wakes + 1) was persisted.
            let d = system.get::<Diary>("d").await.unwrap();
            let (created, wakes, _, entries, connection) = d.stats().await.unwrap();
            assert_eq!((created, wakes, entries), (1, 2, 1));
            assert_eq!(connection.as_deref(), Some("conn-for-d"));
        }
        _ => {
            let d = system.get::<Diary>("d").await.unwrap();
            assert_eq!(
                d.stats().await.unwrap().1,
                3,
                "the wake count from on_wake is durable"
            );
        }
    }
    system.shutdown().await;
}

/// With the clock paused, going to sleep still waits for a real commit (of `on_sleep`'s
/// change) on the writer thread: spin on the scheduler, bounded by real time.
async fn wait_until_asleep(d: &actor_core::Handle<Diary>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.is_asleep() && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_actor_sleeps_and_wakes_transparently() {
    let system = System::temporary().await.unwrap();
    let d = system.get_or_create::<Diary>("sleepy").await.unwrap();
    d.write("before".into()).await.unwrap();
    assert!(!d.is_asleep());
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_until_asleep(&d).await;
    assert!(d.is_asleep(), "idle for 3 s with a 1 s timeout");
    // The next call wakes it, with its state and freshly built vars.
    let (created, wakes, sleeps, entries, connection) = d.stats().await.unwrap();
    assert!(!d.is_asleep());
    assert_eq!((created, wakes, sleeps, entries), (1, 2, 1, 1));
    assert_eq!(connection.as_deref(), Some("conn-for-sleepy"));
    assert_eq!(d.write("after".into()).await.unwrap(), 2);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_sleeping_actor_without_handles_leaves_the_registry() {
    let system = System::temporary().await.unwrap();
    let d = system.get_or_create::<Diary>("gone").await.unwrap();
    d.write("x".into()).await.unwrap();
    let id = d.id();
    let (awake, registered) = (system.stats().awake, system.stats().registered);
    assert_eq!((awake, registered), (1, 1));
    drop(d);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while system.stats().registered > 0 && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(system.stats().awake, 0, "asleep: no task");
    assert_eq!(system.stats().registered, 0, "nothing of it left in memory");
    // A fresh handle finds it on disk, same id and state.
    let d = system.get::<Diary>("gone").await.unwrap();
    assert_eq!(d.id(), id);
    let (_, wakes, sleeps, entries, _) = d.stats().await.unwrap();
    assert_eq!((wakes, sleeps, entries), (2, 1, 1));
    system.shutdown().await;
}

/// Found by fuzzing: every failed start and every destroyed actor used to leave an entry in
/// the registry, so memory grew with each call for a missing key.
#[tokio::test]
async fn failed_starts_and_ended_actors_leave_nothing_in_memory() {
    let system = System::temporary().await.unwrap();
    for i in 0..100 {
        assert!(matches!(
            system.get::<Diary>(format!("missing-{i}")).await,
            Err(StartError::NotFound(_))
        ));
    }
    assert_eq!(
        system.stats().registered,
        0,
        "after 100 calls for missing keys"
    );
    let mut handles = Vec::new();
    for i in 0..100 {
        let d = system
            .get_or_create::<Diary>(format!("d{i}"))
            .await
            .unwrap();
        d.write("x".into()).await.unwrap();
        d.destroy().await.unwrap();
        // Handles kept by the caller report why, but hold nothing in the registry.
        handles.push(d);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while system.stats().registered > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(system.stats().registered, 0, "after 100 destroyed actors");
    assert!(handles.iter().all(actor_core::Handle::is_stopped));
    system.shutdown().await;
}

#[tokio::test]
async fn destroy_deletes_the_state_and_a_later_call_starts_fresh() {
    const TEST: &str = "destroy_deletes_the_state_and_a_later_call_starts_fresh";
    if let Some((_, path)) = process::phase() {
        // A new process: the deletion is durable.
        let system = System::open(&path).await.unwrap();
        assert!(
            matches!(
                system.get::<Diary>("doomed").await,
                Err(StartError::NotFound(_))
            ),
            "the deletion is durable"
        );
        let fresh = system.get_or_create::<Diary>("doomed").await.unwrap();
        let (created, wakes, _, entries, _) = fresh.stats().await.unwrap();
        assert_eq!((created, wakes, entries), (1, 1, 0));
        println!("id={}", fresh.id());
        system.shutdown().await;
        return;
    }
    let path = storage::temp_path("destroy");
    let system = System::open(&path).await.unwrap();
    let d = system.get_or_create::<Diary>("doomed").await.unwrap();
    d.write("secret".into()).await.unwrap();
    let old_id = d.id();
    let destroyed = DESTROYED.load(Ordering::SeqCst);
    d.destroy().await.unwrap();
    assert_eq!(
        DESTROYED.load(Ordering::SeqCst),
        destroyed + 1,
        "on_destroy ran"
    );
    assert!(d.is_stopped());
    match d.write("too late".into()).await {
        Err(AskError::Stopped {
            reason: StopReason::Destroyed,
            ..
        }) => {}
        other => panic!("expected a destroyed actor, got {other:?}"),
    }
    assert!(matches!(
        system.get::<Diary>("doomed").await,
        Err(StartError::NotFound(_))
    ));
    system.shutdown().await;

    let out = process::run(TEST, "after", &path, false);
    let fresh_id = process::value(&out, "id").expect("the fresh actor's id");
    assert_ne!(fresh_id, old_id.to_string(), "a new actor, not the old one");
    std::fs::remove_file(path).unwrap();
}

/// A small limit for the size test.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(max_state_bytes = 200)]
struct Small {
    items: Vec<String>,
}

#[actions]
impl Small {
    pub async fn push(&mut self, item: String) -> usize {
        self.items.push(item);
        self.items.len()
    }
}

#[tokio::test]
async fn a_too_large_state_fails_only_that_action() {
    let system = System::temporary().await.unwrap();
    let small = system.get_or_create::<Small>("s").await.unwrap();
    let other = system.get_or_create::<Small>("t").await.unwrap();
    assert_eq!(small.push("ok".into()).await.unwrap(), 1);
    let (big, fine) = tokio::join!(small.push("x".repeat(500)), other.push("fine".into()));
    match big {
        Err(AskError::StateTooLarge {
            size, limit: 200, ..
        }) => assert!(size > 500),
        other => panic!("expected StateTooLarge, got {other:?}"),
    }
    assert_eq!(
        fine.unwrap(),
        1,
        "a neighbour in the same commit window is unaffected"
    );
    assert_eq!(
        small.push("next".into()).await.unwrap(),
        2,
        "rolled back, then works"
    );
    system.shutdown().await;
}
