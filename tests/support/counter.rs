//! The actor most tests use: a counter with ephemeral fields, and actions that panic, fail,
//! save mid-action and call other actors.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use actor_core::{Actor, AskError, Ctx, Handle, ReadOutcome};
use serde::{Deserialize, Serialize};

/// Counts `create_state` calls across the whole test binary, per test via unique keys.
pub(crate) static CREATED: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize, Deserialize, Debug, Default)]
pub(crate) struct Counter {
    pub(crate) count: i64,
    /// Ephemeral: never persisted, back to 0 after a reload.
    #[serde(skip)]
    pub(crate) ephemeral: u64,
}

#[derive(Debug)]
pub(crate) enum Op {
    Add(i64),
    /// Read-only.
    Get,
    /// Read-only: the ephemeral field.
    Ephemeral,
    /// Mutating action that writes the same value back (no byte change).
    Touch,
    /// Bumps only the ephemeral field.
    BumpEphemeral,
    /// Adds, then panics.
    AddThenPanic(i64),
    /// Adds, then returns an error.
    AddThenFail(i64),
    /// Adds, saves mid-action, reports via the atomic, then panics.
    AddSaveThenPanic(i64),
    /// Adds to another counter (through the output gate), then adds to itself.
    Transfer(Handle<Counter>, i64),
    /// Asks itself (must fail, not deadlock).
    AskSelf(Handle<Counter>),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

impl Actor for Counter {
    const NAME: &'static str = "Counter";
    type Input = i64;
    type Action = Op;
    type Reply = i64;
    type Error = Refused;
    type Event = ();

    fn create_state(start: i64) -> Self {
        CREATED.fetch_add(1, Ordering::SeqCst);
        Self {
            count: start,
            ephemeral: 0,
        }
    }

    async fn handle(&mut self, action: Op, ctx: &mut Ctx<Self>) -> Result<i64, Refused> {
        match action {
            Op::Add(by) => self.count += by,
            Op::Get | Op::Ephemeral => {}
            Op::Touch => self.count = self.count + 1 - 1,
            Op::BumpEphemeral => {
                self.ephemeral += 1;
                return Ok(i64::try_from(self.ephemeral).unwrap());
            }
            Op::AddThenPanic(by) => {
                self.count += by;
                panic!("boom at {}", self.count);
            }
            Op::AddThenFail(by) => {
                self.count += by;
                return Err(Refused);
            }
            Op::AddSaveThenPanic(by) => {
                self.count += by;
                ctx.save_state(self).await.expect("save");
                panic!("after save");
            }
            Op::Transfer(to, amount) => {
                to.ask(Op::Add(amount)).await.map_err(|_| Refused)?;
                self.count -= amount;
            }
            Op::AskSelf(me) => {
                return match me.ask(Op::Get).await {
                    Err(AskError::Reentrant { .. }) => Ok(-1),
                    _ => Err(Refused),
                };
            }
        }
        Ok(self.count)
    }

    async fn handle_read(&self, action: Op, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match action {
            Op::Get => ReadOutcome::Done(Ok(self.count)),
            Op::Ephemeral => ReadOutcome::Done(Ok(i64::try_from(self.ephemeral).unwrap())),
            other => ReadOutcome::NeedsWrite(other),
        }
    }
}
