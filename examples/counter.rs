//! A counter whose count survives across runs of this program.
//!
//! ```text
//! cargo run --example counter            # run it twice: the count goes on
//! cargo run --example counter -- my.redb # another file
//! ```

use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};

/// The persisted state: serde fields are saved, `#[serde(skip)]` ones are not.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
    /// Ephemeral: how many increments this process has made; starts at 0 on every run.
    #[serde(skip)]
    increments_this_run: u64,
}

#[actions]
impl Counter {
    /// Adds `by`; returns the new count and this run's number of increments.
    pub async fn increment(&mut self, by: i64) -> (i64, u64) {
        self.count += by;
        self.increments_this_run += 1;
        (self.count, self.increments_this_run)
    }

    /// The count (read-only: never writes).
    pub async fn get(&self) -> i64 {
        self.count
    }
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "counter.redb".to_owned());
    let system = System::open(&path).await?;
    let counter = system.get_or_create::<Counter>("visits").await?;

    println!(
        "{path}: the count was {} when this run started",
        counter.get().await?
    );
    for _ in 0..3 {
        let (count, this_run) = counter.increment(1).await?;
        println!("increment -> count = {count} (durable), increments by this process = {this_run}");
    }
    println!(
        "actor {} (id {}) keeps its count; run me again and it goes on from here",
        counter.path(),
        counter.id()
    );
    system.shutdown().await;
    Ok(())
}
