//! The actor under test: a counter implementing [`actor_core::Actor`] by hand.
//!
//! Its state `{ count: u64 }` is what every baseline stores or holds too; the raw redb
//! baselines serialize this very struct.

use std::convert::Infallible;

use actor_core::{Actor, Ctx, ReadOutcome};
use serde::{Deserialize, Serialize};

/// The persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    /// The count.
    pub count: u64,
}

/// The counter's actions.
#[derive(Debug)]
pub enum Action {
    /// Adds to the count (mutating: goes to [`Actor::handle`], written before the reply).
    Add(u64),
    /// Reads the count (read-only: answered by [`Actor::handle_read`], writes nothing).
    Get,
}

impl Actor for Counter {
    const NAME: &'static str = "Counter";
    type Input = ();
    type Action = Action;
    type Reply = u64;
    type Error = Infallible;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self::default()
    }

    async fn handle(&mut self, action: Action, _ctx: &mut Ctx<Self>) -> Result<u64, Infallible> {
        if let Action::Add(by) = action {
            self.count += by;
        }
        Ok(self.count)
    }

    async fn handle_read(&self, action: Action, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match action {
            Action::Get => ReadOutcome::Done(Ok(self.count)),
            other => ReadOutcome::NeedsWrite(other),
        }
    }
}
