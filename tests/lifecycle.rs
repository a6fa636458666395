//! Creation, restart and shutdown as a user sees them.

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use actor_core::{Actor, AskError, Ctx, StopReason, System};
use serde::{Deserialize, Serialize};
use storage::temp_path;

static CREATED: AtomicUsize = AtomicUsize::new(0);

/// The initial total, and a counter of `create_state` calls to bump.
type Start = (u64, Option<&'static AtomicUsize>);

/// `Some(by)` adds, `None` panics.
#[derive(Serialize, Deserialize)]
struct Tally {
    total: u64,
}

impl Actor for Tally {
    const NAME: &'static str = "Tally";
    type Input = Start;
    type Action = Option<u64>;
    type Reply = u64;
    type Error = Infallible;
    type Event = ();

    fn create_state((start, calls): Start) -> Self {
        if let Some(calls) = calls {
            calls.fetch_add(1, Ordering::SeqCst);
        }
        Self { total: start }
    }

    async fn handle(&mut self, by: Option<u64>, _ctx: &mut Ctx<Self>) -> Result<u64, Infallible> {
        let Some(by) = by else {
            panic!("asked to panic");
        };
        self.total += by;
        Ok(self.total)
    }
}

/// Each phase runs in its own process (see `phase`); the parent counts `create_state` calls
/// across all of them.
#[tokio::test]
async fn create_state_runs_once_not_on_reload_restart_or_crash() {
    const TEST: &str = "create_state_runs_once_not_on_reload_restart_or_crash";
    if let Some((name, path)) = process::phase() {
        phase(&name, &path).await;
        return;
    }
    let path = temp_path("create-once");
    let first = process::run(TEST, "first", &path, false);
    let crashed = process::run(TEST, "crash", &path, true);
    let after = process::run(TEST, "after", &path, false);
    let count = |out: &str| process::value(out, "created").expect("the phase's count");
    let total = |out: &str| process::value(out, "total").expect("the phase's total");
    assert_eq!(count(&first), "1", "created once, in the first process");
    assert_eq!(total(&first), "13");
    assert_eq!(
        (count(&crashed).as_str(), total(&crashed).as_str()),
        ("0", "14"),
        "a new process loads, it does not create"
    );
    assert_eq!(
        (count(&after).as_str(), total(&after).as_str()),
        ("0", "15"),
        "nor after the one before it died without shutting down"
    );
    std::fs::remove_file(path).unwrap();
}

async fn phase(name: &str, path: &std::path::Path) {
    let system = System::open(path).await.unwrap();
    let start = || system.get_or_create_with::<Tally>("t", (10, Some(&CREATED)));
    let total = match name {
        "first" => {
            for _ in 0..3 {
                start().await.unwrap().ask(Some(1)).await.unwrap();
            }
            let t = system.get::<Tally>("t").await.unwrap();
            assert!(matches!(t.ask(None).await, Err(AskError::Panicked { .. })));
            t.ask(Some(0)).await.unwrap()
        }
        _ => start().await.unwrap().ask(Some(1)).await.unwrap(),
    };
    println!("created={}", CREATED.load(Ordering::SeqCst));
    println!("total={total}");
    if name == "crash" {
        // Acknowledged, then gone without a shutdown.
        std::process::abort();
    }
    system.shutdown().await;
}

#[tokio::test]
async fn shutdown_runs_what_is_queued_and_makes_it_durable() {
    let path = temp_path("drain");
    let system = System::open(&path).await.unwrap();
    let t = system
        .get_or_create_with::<Tally>("t", (0, None))
        .await
        .unwrap();
    for _ in 0..50 {
        t.tell(Some(1)).await.unwrap();
    }
    system.shutdown().await;
    match t.ask(Some(1)).await {
        Err(AskError::Stopped {
            reason: StopReason::Shutdown,
            ..
        }) => {}
        other => panic!("expected a stopped actor, got {other:?}"),
    }

    let system = System::open(&path).await.unwrap();
    let t = system.get::<Tally>("t").await.unwrap();
    assert_eq!(t.ask(Some(0)).await.unwrap(), 50);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}
