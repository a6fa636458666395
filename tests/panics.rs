//! Thousands of panics across many actors while other actors keep serving: every panic fails
//! only its own call, no panicking action's change is ever kept, and afterwards every actor's
//! state, in memory and on disk, equals the model built from the acknowledged replies.

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/storage.rs"]
mod storage;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use actor_core::{Actor, ActorConfig, AskError, Ctx, ReadOutcome, RestartPolicy, System};
use scratch::XorShift;
use serde::{Deserialize, Serialize};

/// Actors `p0..` take panics; actors `s0..` never do.
const PANICKY: usize = 16;
const STEADY: usize = 16;
/// Clients per group, and calls per client.
const CLIENTS: usize = 8;
const CALLS: usize = 600;

#[derive(Serialize, Deserialize, Default)]
struct Tally {
    total: i64,
}

#[derive(Debug)]
enum Call {
    Add(i64),
    /// Adds, then panics: the addition must never be seen or stored.
    AddThenPanic(i64),
    Get,
}

impl Actor for Tally {
    const NAME: &'static str = "Tally";
    type Input = ();
    type Action = Call;
    type Reply = i64;
    type Error = std::convert::Infallible;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self::default()
    }

    fn config() -> ActorConfig {
        // Panics are the workload, not a crash loop: never stop, barely back off.
        ActorConfig::default().restart(
            RestartPolicy::new(u32::MAX, Duration::from_secs(1))
                .backoff(Duration::from_micros(10), Duration::from_micros(10)),
        )
    }

    async fn handle_read(&self, call: Call, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match call {
            Call::Get => ReadOutcome::Done(Ok(self.total)),
            other => ReadOutcome::NeedsWrite(other),
        }
    }

    async fn handle(&mut self, call: Call, _ctx: &mut Ctx<Self>) -> Result<i64, Self::Error> {
        match call {
            Call::Add(n) => self.total += n,
            Call::AddThenPanic(n) => {
                self.total += n;
                panic!("planned panic at {}", self.total);
            }
            Call::Get => {}
        }
        Ok(self.total)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_panics_leave_every_state_equal_to_the_model() {
    // Planned panics would flood the output; any other panic still prints.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let planned = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("planned panic"));
        if !planned {
            default_hook(info);
        }
    }));

    let path = storage::temp_path("panics");
    let system = System::open(&path).await.unwrap();
    let names: Vec<String> = (0..PANICKY)
        .map(|i| format!("p{i}"))
        .chain((0..STEADY).map(|i| format!("s{i}")))
        .collect();
    // The model: the sum of every acknowledged addition, per actor.
    let model: Arc<Vec<AtomicI64>> = Arc::new(names.iter().map(|_| AtomicI64::new(0)).collect());
    let panics = Arc::new(AtomicUsize::new(0));

    let mut clients = Vec::new();
    for c in 0..2 * CLIENTS {
        let system = system.clone();
        let names = names.clone();
        let model = Arc::clone(&model);
        let panics = Arc::clone(&panics);
        let steady = c >= CLIENTS;
        clients.push(tokio::spawn(async move {
            let mut rng = XorShift::new(c as u64);
            for _ in 0..CALLS {
                let offset = if steady { PANICKY } else { 0 };
                let a = offset + rng.below(16);
                let n = i64::try_from(rng.between(1, 10)).unwrap();
                let actor = system
                    .get_or_create::<Tally>(names[a].as_str())
                    .await
                    .unwrap();
                if !steady && rng.below(2) == 0 {
                    let result = actor.ask(Call::AddThenPanic(n)).await;
                    assert!(
                        matches!(result, Err(AskError::Panicked { .. })),
                        "a panic fails its own call: {result:?}"
                    );
                    panics.fetch_add(1, Ordering::Relaxed);
                } else {
                    let total = actor.ask(Call::Add(n)).await.unwrap_or_else(|e| {
                        panic!("{}: an addition failed beside the panics: {e:?}", names[a])
                    });
                    assert!(total >= n, "{}: {total} after +{n}", names[a]);
                    model[a].fetch_add(n, Ordering::Relaxed);
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let panics = panics.load(Ordering::Relaxed);
    assert!(panics >= 2000, "thousands of panics: {panics}");

    let check = |system: System, when: &'static str| {
        let names = names.clone();
        let model = Arc::clone(&model);
        async move {
            for (a, name) in names.iter().enumerate() {
                let actor = system.get::<Tally>(name.as_str()).await.unwrap();
                assert_eq!(
                    actor.ask(Call::Get).await.unwrap(),
                    model[a].load(Ordering::Relaxed),
                    "{name} {when}"
                );
            }
            system.shutdown().await;
        }
    };
    check(system, "in memory").await;
    check(System::open(&path).await.unwrap(), "on disk").await;
    std::fs::remove_file(path).unwrap();
    let _ = std::panic::take_hook();
    eprintln!(
        "{panics} panics across {PANICKY} actors; {} calls in all",
        2 * CLIENTS * CALLS
    );
}
