//! Creation, restart and shutdown as a user sees them.

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

#[tokio::test]
async fn create_state_runs_once_not_on_reload_restart_or_crash() {
    let path = temp_path("create-once");
    let system = System::open(&path).await.unwrap();
    for _ in 0..3 {
        let t = system
            .get_or_create_with::<Tally>("t", (10, Some(&CREATED)))
            .await
            .unwrap();
        t.ask(Some(1)).await.unwrap();
    }
    assert_eq!(CREATED.load(Ordering::SeqCst), 1);
    let t = system.get::<Tally>("t").await.unwrap();
    assert!(matches!(t.ask(None).await, Err(AskError::Panicked { .. })));
    assert_eq!(
        t.ask(Some(0)).await.unwrap(),
        13,
        "reloaded, not re-created"
    );
    system.shutdown().await;

    let system = System::open(&path).await.unwrap();
    let t = system
        .get_or_create_with::<Tally>("t", (10, Some(&CREATED)))
        .await
        .unwrap();
    assert_eq!(t.ask(Some(1)).await.unwrap(), 14);
    assert_eq!(
        CREATED.load(Ordering::SeqCst),
        1,
        "a restart does not re-create"
    );
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
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
