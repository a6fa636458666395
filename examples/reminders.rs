//! A reminder service: durable timers that fire exactly once, even across restarts.
//!
//! Each user is an actor that schedules its own `remind` action (`ctx.schedule_after`). A
//! schedule commits with the turn that set it, fires as a turn of its own that removes it in
//! the same commit, and fires after a restart if its time came while the program was down.
//!
//! ```text
//! cargo run --example reminders              # sets four reminders, cancels one, runs 1 s
//! cargo run --example reminders              # again, a second later: it delivers the one
//!                                            # that came due while nothing ran
//! cargo run --example reminders -- my.redb   # another file
//! ```

use std::time::Duration;

use actor_core::{Actor, Ctx, ScheduleError, ScheduleId, System, actions};
use serde::{Deserialize, Serialize};

/// One user's reminders.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Reminders {
    /// Set and not yet delivered, with the id that cancels each.
    pending: Vec<(ScheduleId, String)>,
    /// Delivered, in the order they fired.
    delivered: Vec<String>,
}

#[actions]
impl Reminders {
    /// Reminds of `text` in `after_ms` milliseconds.
    pub async fn set(
        &mut self,
        ctx: &mut Ctx<Self>,
        text: String,
        after_ms: u64,
    ) -> Result<ScheduleId, ScheduleError> {
        let id = ctx.schedule_after(
            Duration::from_millis(after_ms),
            RemindersAction::Remind { text: text.clone() },
        )?;
        self.pending.push((id, text));
        Ok(id)
    }

    /// Cancels the reminder `text` (with this turn).
    pub async fn cancel(&mut self, ctx: &mut Ctx<Self>, text: String) -> bool {
        let Some(at) = self.pending.iter().position(|(_, t)| *t == text) else {
            return false;
        };
        let (id, _) = self.pending.remove(at);
        ctx.cancel_schedule(id);
        true
    }

    /// Run by the schedule when its time comes.
    pub async fn remind(&mut self, ctx: &Ctx<Self>, text: String) {
        println!("{}: reminder: {text}", ctx.key());
        self.pending.retain(|(_, t)| *t != text);
        self.delivered.push(text);
    }

    /// What is still pending, and what was delivered.
    pub async fn status(&self) -> (Vec<String>, Vec<String>) {
        (
            self.pending.iter().map(|(_, t)| t.clone()).collect(),
            self.delivered.clone(),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "reminders.redb".to_owned());
    // Declared, so that reminders due while the program was down fire as soon as it opens.
    let system = System::builder()
        .path(&path)
        .actor::<Reminders>()
        .open()
        .await?;
    let ada = system.get_or_create::<Reminders>("ada").await?;
    let (pending, delivered) = ada.status().await?;
    println!(
        "ada at start: {} pending, {} delivered before",
        pending.len(),
        delivered.len()
    );
    // The first run sets them (a later run only delivers: the overdue one may already have
    // fired when it looks).
    if pending.is_empty() && delivered.is_empty() {
        ada.set("stand up".into(), 100).await?;
        ada.set("drink water".into(), 300).await?;
        ada.set("call back".into(), 200).await?;
        // Committed with the turn: the cancelled reminder never fires.
        ada.cancel("call back".into()).await?;
        // Due after this run ends: the next run delivers it as soon as it opens.
        ada.set("renew the passport".into(), 1_500).await?;
        println!("set 4 reminders, cancelled 1");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (pending, delivered) = ada.status().await?;
    println!("delivered: {}", delivered.join(", "));
    println!("still pending: {}", pending.join(", "));
    system.shutdown().await;
    Ok(())
}
