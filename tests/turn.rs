//! The durable turn: schedules, outbox messages, events and key-value writes commit with the
//! state, or not at all. (Across SIGKILL: `tests/crash.rs`, `tests/bank.rs`, `tests/torture.rs`.)

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;
#[path = "support/wait.rs"]
mod wait;

use std::time::Duration;

use actor_core::{Actor, Ctx, EventLag, ScheduleId, StartError, System, actions};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt as _;
use wait::eventually;

/// A reminder list: schedules its own `fire`, cancels, counts what fired.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = Note)]
struct Reminders {
    fired: Vec<String>,
    pending: Vec<(ScheduleId, String)>,
    changes: u64,
}

/// What `Reminders` emits.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Note {
    Set(String),
    Fired(String),
}

#[actions]
impl Reminders {
    pub async fn remind(
        &mut self,
        ctx: &mut Ctx<Self>,
        text: String,
        after_ms: u64,
    ) -> Result<ScheduleId, String> {
        let id = ctx
            .schedule_after(
                Duration::from_millis(after_ms),
                RemindersAction::Fire { text: text.clone() },
            )
            .map_err(|e| e.to_string())?;
        self.pending.push((id, text.clone()));
        ctx.emit(Note::Set(text));
        Ok(id)
    }

    /// Schedules, emits, then fails: nothing of it may survive.
    pub async fn remind_then_fail(
        &mut self,
        ctx: &mut Ctx<Self>,
        text: String,
    ) -> Result<(), String> {
        ctx.schedule_after(
            Duration::from_millis(10),
            RemindersAction::Fire { text: text.clone() },
        )
        .map_err(|e| e.to_string())?;
        ctx.emit(Note::Set(text));
        ctx.kv_set("turns", "failed", "written")
            .map_err(|e| e.to_string())?;
        Err("planned".into())
    }

    /// Schedules, emits, then panics.
    pub async fn remind_then_panic(&mut self, ctx: &mut Ctx<Self>, text: String) {
        let _ = ctx.schedule_after(
            Duration::from_millis(10),
            RemindersAction::Fire { text: text.clone() },
        );
        ctx.emit(Note::Set(text));
        panic!("planned");
    }

    pub async fn cancel(&mut self, ctx: &mut Ctx<Self>, id: ScheduleId) {
        ctx.cancel_schedule(id);
        self.pending.retain(|(p, _)| *p != id);
    }

    pub async fn fire(&mut self, ctx: &mut Ctx<Self>, text: String) {
        self.pending.retain(|(_, t)| *t != text);
        self.fired.push(text.clone());
        ctx.emit(Note::Fired(text));
    }

    pub async fn bump(&mut self, ctx: &mut Ctx<Self>, store_too: bool) -> u64 {
        self.changes += 1;
        if store_too {
            let _ = ctx.kv_set("turns", "changes", self.changes.to_string());
        }
        self.changes
    }

    /// Emits `n` events in one turn.
    pub async fn burst(&mut self, ctx: &mut Ctx<Self>, n: u32) {
        for i in 0..n {
            ctx.emit(Note::Fired(format!("b{i}")));
        }
    }

    pub async fn fired(&self) -> Vec<String> {
        self.fired.clone()
    }

    pub async fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[tokio::test]
async fn a_schedule_fires_once_and_a_cancelled_one_never() {
    let system = System::temporary().await.unwrap();
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    r.remind("soon".into(), 20).await.unwrap();
    let later = r.remind("cancelled".into(), 60).await.unwrap();
    r.cancel(later).await.unwrap();
    eventually(|| async { r.fired().await.unwrap() == ["soon"] }).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        r.fired().await.unwrap(),
        ["soon"],
        "once, and never the cancelled one"
    );
    assert_eq!(r.pending().await.unwrap(), 0);
    system.shutdown().await;
}

#[tokio::test]
async fn a_failed_or_panicking_turn_leaves_no_schedule_no_event_no_write() {
    let system = System::temporary().await.unwrap();
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    let mut events = r.subscribe();
    assert!(r.remind_then_fail("never".into()).await.is_err());
    assert!(r.remind_then_panic("never".into()).await.is_err());
    r.remind("real".into(), 10).await.unwrap();
    // The first event is the real one: the failed turns emitted nothing.
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(*first, Note::Set("real".into()));
    eventually(|| async { r.fired().await.unwrap() == ["real"] }).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        r.fired().await.unwrap(),
        ["real"],
        "no schedule of a failed turn fired"
    );
    let kv = system.kv("turns").unwrap();
    assert_eq!(kv.get("failed").await.unwrap(), None);
    system.shutdown().await;
}

#[tokio::test]
async fn events_arrive_after_commit_in_order_and_a_slow_subscriber_lags() {
    let (system, storage, path) = storage::recorded_system("events").await;
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    let mut events = r.subscribe();
    // Held in flight: the turn cannot be durable, so its event cannot be out.
    storage.hold();
    let pending = tokio::spawn({
        let r = r.clone();
        async move { r.remind("held".into(), 60_000).await }
    });
    storage.wait_started(storage.started() + 1).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), events.next())
            .await
            .is_err(),
        "no event before the commit"
    );
    storage.release();
    pending.await.unwrap().unwrap();
    let event = events.next().await.unwrap().unwrap();
    assert_eq!(*event, Note::Set("held".into()));
    for i in 0..10 {
        r.remind(format!("n{i}"), 60_000).await.unwrap();
    }
    for i in 0..10 {
        let event = events.next().await.unwrap().unwrap();
        assert_eq!(*event, Note::Set(format!("n{i}")), "commit order");
    }
    // A subscriber that never reads: the actor goes on, and the subscriber learns it lagged.
    let mut slow = r.subscribe();
    let started = std::time::Instant::now();
    for i in 0..300 {
        r.remind(format!("m{i}"), 60_000).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    match slow.next().await.unwrap() {
        Err(EventLag(missed)) => assert!(missed >= 300 - 256, "missed {missed}"),
        Ok(event) => panic!("expected a lag first, got {event:?}"),
    }
    system.shutdown().await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn the_system_tap_carries_durable_events_as_json_and_a_slow_receiver_lags() {
    let (system, storage, path) = storage::recorded_system("tap").await;
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    let mut tap = system.events_tap();
    // Failed and panicking turns emit nothing, on the tap as on the actor's own channel.
    assert!(r.remind_then_fail("never".into()).await.is_err());
    assert!(r.remind_then_panic("never".into()).await.is_err());
    // Held in flight: the turn cannot be durable, so its event cannot be out.
    storage.hold();
    let pending = tokio::spawn({
        let r = r.clone();
        async move { r.remind("held".into(), 60_000).await }
    });
    storage.wait_started(storage.started() + 1).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), tap.next())
            .await
            .is_err(),
        "no event before the commit"
    );
    storage.release();
    pending.await.unwrap().unwrap();
    let tapped = tap.next().await.unwrap().unwrap();
    assert_eq!(tapped.actor.kind, "Reminders");
    assert_eq!(tapped.actor.key.as_str(), "r");
    assert_eq!(
        tapped.event.as_ref().unwrap(),
        &serde_json::json!({"Set": "held"}),
        "the first event is the durable one"
    );
    // Another actor's events come through the same tap.
    let other = system.get_or_create::<Reminders>("other").await.unwrap();
    other.remind("elsewhere".into(), 60_000).await.unwrap();
    let tapped = tap.next().await.unwrap().unwrap();
    assert_eq!(tapped.actor.key.as_str(), "other");
    // A receiver that never reads: the actor goes on, and the receiver learns it lagged.
    let mut slow = system.events_tap();
    let extra = 10;
    let burst = u32::try_from(actor_core::TAP_CAPACITY).unwrap() + extra;
    r.burst(burst).await.unwrap();
    match slow.next().await.unwrap() {
        Err(EventLag(missed)) => assert_eq!(missed, u64::from(extra)),
        Ok(event) => panic!("expected a lag first, got {event:?}"),
    }
    // Shutdown ends every receiver (after what was sent), and a tap taken later at once.
    drop(slow);
    system.shutdown().await;
    let (mut received, mut missed) = (0, 0);
    while let Some(item) = tokio::time::timeout(Duration::from_secs(5), tap.next())
        .await
        .expect("the tap ends at shutdown")
    {
        match item {
            Ok(_) => received += 1,
            Err(EventLag(n)) => missed += n,
        }
    }
    // Every event of the burst was received or counted as missed (the end takes a place in
    // the channel too), then the stream ended.
    assert_eq!(
        received + missed,
        u64::from(burst),
        "the burst, then the end"
    );
    assert!(received > 0);
    assert!(system.events_tap().next().await.is_none());
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn kv_writes_join_the_turn() {
    let system = System::temporary().await.unwrap();
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    assert_eq!(r.bump(true).await.unwrap(), 1);
    let kv = system.kv("turns").unwrap();
    assert_eq!(kv.get("changes").await.unwrap().as_deref(), Some("1"));
    system.shutdown().await;
}

#[tokio::test]
async fn schedules_fire_after_a_restart_and_missed_ones_in_due_order() {
    let path = storage::temp_path("schedules-restart");
    {
        let system = System::builder().path(&path).open().await.unwrap();
        let r = system.get_or_create::<Reminders>("r").await.unwrap();
        r.remind("b".into(), 300).await.unwrap();
        r.remind("a".into(), 200).await.unwrap();
        r.remind("c".into(), 400).await.unwrap();
        system.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Nothing uses `Reminders` in this run: declared, its missed schedules fire at once.
    let system = System::builder()
        .path(&path)
        .actor::<Reminders>()
        .open()
        .await
        .unwrap();
    let r = loop {
        match system.get::<Reminders>("r").await {
            Ok(r) if r.pending().await.unwrap() == 0 => break r,
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    assert_eq!(r.fired().await.unwrap(), ["a", "b", "c"]);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

/// An account that moves money with messages.
#[derive(Actor, Serialize, Deserialize)]
#[actor(create_state = Account::open, input = u64)]
struct Account {
    balance: u64,
    received: Vec<u64>,
}

impl Account {
    fn open(balance: u64) -> Self {
        Self {
            balance,
            received: Vec::new(),
        }
    }
}

#[actions]
impl Account {
    pub async fn transfer(
        &mut self,
        ctx: &mut Ctx<Self>,
        to: String,
        amount: u64,
    ) -> Result<u64, String> {
        self.balance = self.balance.checked_sub(amount).ok_or("insufficient")?;
        ctx.send::<Account>(to.as_str(), AccountAction::Credit { amount })
            .map_err(|e| e.to_string())?;
        Ok(self.balance)
    }

    pub async fn transfer_then_fail(
        &mut self,
        ctx: &mut Ctx<Self>,
        to: String,
    ) -> Result<(), String> {
        self.balance -= 1;
        ctx.send::<Account>(to.as_str(), AccountAction::Credit { amount: 1 })
            .map_err(|e| e.to_string())?;
        Err("planned".into())
    }

    pub async fn pay_ledger(&mut self, ctx: &mut Ctx<Self>, amount: u64) -> Result<(), String> {
        self.balance -= amount;
        ctx.send::<Ledger>("main", LedgerAction::Record { amount })
            .map_err(|e| e.to_string())
    }

    pub async fn credit(&mut self, amount: u64) {
        self.balance += amount;
        self.received.push(amount);
    }

    pub async fn balance(&self) -> (u64, Vec<u64>) {
        (self.balance, self.received.clone())
    }
}

#[tokio::test]
async fn messages_are_applied_once_in_order_and_a_failed_turn_sends_none() {
    let system = System::temporary().await.unwrap();
    let a = system
        .get_or_create_with::<Account>("a", 100)
        .await
        .unwrap();
    let b = system.get_or_create_with::<Account>("b", 0).await.unwrap();
    for amount in 1..=10 {
        a.transfer("b".into(), amount).await.unwrap();
    }
    assert!(a.transfer_then_fail("b".into()).await.is_err());
    eventually(|| async { b.balance().await.unwrap().0 == 55 }).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (balance, received) = b.balance().await.unwrap();
    assert_eq!(balance, 55, "each applied once, the failed turn's never");
    assert_eq!(received, (1..=10).collect::<Vec<_>>(), "in the order sent");
    assert_eq!(a.balance().await.unwrap().0, 45);
    // To an actor that does not exist: dropped, with a warning; the sender is unaffected.
    a.transfer("nobody".into(), 5).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        system.get::<Account>("nobody").await,
        Err(StartError::NotFound(_))
    ));
    system.shutdown().await;
}

/// Where `Account::pay_ledger` sends: a type the sending run never uses, so the message
/// waits for a run that knows it.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Ledger {
    entries: Vec<u64>,
}

#[actions]
impl Ledger {
    pub async fn record(&mut self, amount: u64) {
        self.entries.push(amount);
    }

    pub async fn entries(&self) -> Vec<u64> {
        self.entries.clone()
    }
}

#[tokio::test]
async fn messages_left_by_a_run_are_delivered_by_the_next() {
    const TEST: &str = "messages_left_by_a_run_are_delivered_by_the_next";
    if let Some((_, path)) = process::phase() {
        // Commit a transfer and a payment to the ledger, then die. The ledger's type is not
        // known to this run, so that message cannot have been delivered yet.
        let system = System::open(&path).await.unwrap();
        let a = system.get::<Account>("a").await.unwrap();
        a.transfer("b".into(), 7).await.unwrap();
        a.pay_ledger(3).await.unwrap();
        println!("acked");
        std::process::abort();
    }
    let path = storage::temp_path("outbox-restart");
    {
        let system = System::open(&path).await.unwrap();
        system
            .get_or_create_with::<Account>("a", 100)
            .await
            .unwrap();
        system.get_or_create_with::<Account>("b", 0).await.unwrap();
        system.get_or_create::<Ledger>("main").await.unwrap();
        system.shutdown().await;
    }
    let out = process::run(TEST, "send", &path, true);
    assert!(out.contains("acked"), "{out}");
    let system = System::builder()
        .path(&path)
        .actor::<Account>()
        .actor::<Ledger>()
        .open()
        .await
        .unwrap();
    let b = system.get::<Account>("b").await.unwrap();
    let ledger = system.get::<Ledger>("main").await.unwrap();
    eventually(|| async { ledger.entries().await.unwrap() == [3] }).await;
    eventually(|| async { b.balance().await.unwrap().0 == 7 }).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(b.balance().await.unwrap(), (7, vec![7]), "applied once");
    assert_eq!(ledger.entries().await.unwrap(), [3], "applied once");
    let a = system.get::<Account>("a").await.unwrap();
    assert_eq!(a.balance().await.unwrap().0, 90);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn destroying_an_actor_removes_its_schedules() {
    let system = System::temporary().await.unwrap();
    let r = system.get_or_create::<Reminders>("r").await.unwrap();
    r.remind("from the old actor".into(), 50).await.unwrap();
    r.destroy().await.unwrap();
    // A new actor under the same key must not receive the old one's schedule.
    let fresh = system.get_or_create::<Reminders>("r").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fresh.fired().await.unwrap().is_empty());
    system.shutdown().await;
}

/// Sleeps soon after each action.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(sleep_after_ms = 20)]
struct Drowsy {
    rang: u32,
}

#[actions]
impl Drowsy {
    pub async fn wake_me(&mut self, ctx: &mut Ctx<Self>, after_ms: u64) -> Result<(), String> {
        ctx.schedule_after(Duration::from_millis(after_ms), DrowsyAction::Ring {})
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Also written to the key-value store (with the turn), to be seen without waking it.
    pub async fn ring(&mut self, ctx: &mut Ctx<Self>) {
        self.rang += 1;
        let _ = ctx.kv_set("drowsy", "rang", self.rang.to_string());
    }

    pub async fn rang(&self) -> u32 {
        self.rang
    }
}

#[tokio::test]
async fn a_schedule_wakes_a_sleeping_actor() {
    let system = System::temporary().await.unwrap();
    let d = system.get_or_create::<Drowsy>("d").await.unwrap();
    d.wake_me(400).await.unwrap();
    eventually(|| async { d.is_asleep() }).await;
    let kv = system.kv("drowsy").unwrap();
    assert_eq!(
        kv.get("rang").await.unwrap(),
        None,
        "asleep before the schedule fired"
    );
    eventually(|| async { kv.get("rang").await.unwrap().as_deref() == Some("1") }).await;
    assert_eq!(
        d.rang().await.unwrap(),
        1,
        "woken by its schedule, which fired once"
    );
    system.shutdown().await;
}
