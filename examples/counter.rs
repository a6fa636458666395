//! A counter whose count survives across runs of this program.
//!
//! ```text
//! cargo run --example counter            # run it twice: the count goes on
//! cargo run --example counter -- my.redb # another file
//! ```

use std::convert::Infallible;

use actor_core::{Actor, Ctx, ReadOutcome, System};
use serde::{Deserialize, Serialize};

/// The persisted state: serde fields are saved, `#[serde(skip)]` ones are not.
#[derive(Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
    /// Ephemeral: how many actions this process has seen; starts at 0 on every run.
    #[serde(skip)]
    seen_this_run: u64,
}

enum CounterAction {
    Increment(i64),
    Get,
}

impl Actor for Counter {
    const NAME: &'static str = "Counter";
    type Input = ();
    type Action = CounterAction;
    type Reply = (i64, u64);
    type Error = Infallible;

    fn create_state((): ()) -> Self {
        Self::default()
    }

    async fn handle(
        &mut self,
        action: CounterAction,
        _ctx: &mut Ctx<Self>,
    ) -> Result<(i64, u64), Infallible> {
        self.seen_this_run += 1;
        if let CounterAction::Increment(by) = action {
            self.count += by;
        }
        Ok((self.count, self.seen_this_run))
    }

    async fn handle_read(&self, action: CounterAction, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match action {
            CounterAction::Get => ReadOutcome::Done(Ok((self.count, self.seen_this_run))),
            other @ CounterAction::Increment(_) => ReadOutcome::NeedsWrite(other),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "counter.redb".to_owned());
    let system = System::open(&path).await?;
    let counter = system.get_or_create::<Counter>("visits").await?;

    let (before, _) = counter.ask(CounterAction::Get).await?;
    println!("{path}: the count was {before} when this run started");
    for _ in 0..3 {
        let (count, seen) = counter.ask(CounterAction::Increment(1)).await?;
        println!("increment -> count = {count} (durable), actions seen by this process = {seen}");
    }
    println!(
        "actor {} (id {}) keeps its count; run me again and it goes on from here",
        counter.path(),
        counter.id()
    );
    system.shutdown().await;
    Ok(())
}
