//! The test kit (`actor_core::testing`) on actors a user would write: the crash harness
//! finds the crash point where a two-turn transfer loses money and passes the one-turn
//! transfer at every point; the failing storage fails exactly the commit asked for, and the
//! caller sees it while the actor rolls back; a paused clock fires a schedule exactly when
//! moved to its due time; a temporary database opens again after a drop.

use std::sync::Arc;
use std::time::Duration;

use actor_core::testing::{
    CrashError, CrashPoint, CrashTest, FailingStorage, InjectedFailure, TempDb, advance,
};
use actor_core::{AskError, Ctx, Handle, StartError, StorageError, System, actions};
use serde::{Deserialize, Serialize};

/// Why a transfer or a withdrawal did not happen.
#[derive(Debug, Serialize, Deserialize)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// An account whose money moves two ways: in one turn (`transfer`: the debit and the credit
/// message commit together) or in two (`withdraw` here, `deposit` there).
#[derive(actor_core::Actor, Serialize, Deserialize)]
#[actor(create_state = Account::open, input = u64)]
struct Account {
    /// What it was opened with.
    opened: u64,
    balance: u64,
    /// Sent by `transfer`, and received by `credit`: the difference is in flight.
    sent: u64,
    received: u64,
}

impl Account {
    fn open(opened: u64) -> Self {
        Self {
            opened,
            balance: opened,
            sent: 0,
            received: 0,
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
    ) -> Result<(), Refused> {
        self.withdraw(amount).await?;
        self.sent += amount;
        ctx.send::<Account>(to.as_str(), AccountAction::Credit { amount })
            .map_err(|e| Refused(e.to_string()))
    }

    pub async fn credit(&mut self, amount: u64) {
        self.balance += amount;
        self.received += amount;
    }

    pub async fn withdraw(&mut self, amount: u64) -> Result<(), Refused> {
        self.balance = self
            .balance
            .checked_sub(amount)
            .ok_or_else(|| Refused("insufficient".into()))?;
        Ok(())
    }

    pub async fn deposit(&mut self, amount: u64) {
        self.balance += amount;
    }

    /// `(opened, balance, sent, received)`.
    pub async fn audit(&self) -> (u64, u64, u64, u64) {
        (self.opened, self.balance, self.sent, self.received)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Waits (up to 5 s) until `account` has received `amount`.
async fn received(account: &Handle<Account>, amount: u64) -> Result<(), BoxError> {
    for _ in 0..1000 {
        if account.audit().await?.3 >= amount {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("{amount} never arrived").into())
}

/// The invariant: the money of the accounts that exist, plus the money in flight between
/// them, is what they were opened with; and once every message is delivered, the balances
/// alone are.
async fn money_is_conserved(system: System) -> Result<(), BoxError> {
    let mut accounts = Vec::new();
    for key in ["alice", "bob"] {
        match system.get::<Account>(key).await {
            Ok(account) => accounts.push(account),
            Err(StartError::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    for attempt in 0.. {
        let (mut opened, mut balances, mut in_flight) = (0, 0, 0i128);
        for account in &accounts {
            let (o, b, s, r) = account.audit().await?;
            opened += o;
            balances += b;
            in_flight += i128::from(s) - i128::from(r);
        }
        if i128::from(balances) + in_flight != i128::from(opened) {
            return Err(format!(
                "opened with {opened}, now {balances} in accounts and {in_flight} in flight"
            )
            .into());
        }
        if in_flight == 0 {
            return if balances == opened {
                Ok(())
            } else {
                Err(format!("opened with {opened}, now {balances}").into())
            };
        }
        if attempt == 1000 {
            return Err(format!("{in_flight} stayed in flight").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    unreachable!("the loop returns")
}

fn bank() -> CrashTest {
    CrashTest::new().configure(actor_core::SystemBuilder::actor::<Account>)
}

#[tokio::test]
async fn the_harness_passes_a_transfer_made_in_one_turn() {
    let report = bank()
        .run(
            |system: System| async move {
                let alice = system.get_or_create_with::<Account>("alice", 100).await?;
                let bob = system.get_or_create_with::<Account>("bob", 0).await?;
                alice.transfer("bob".into(), 30).await?;
                received(&bob, 30).await?;
                bob.transfer("alice".into(), 10).await?;
                received(&alice, 10).await?;
                Ok::<_, BoxError>(())
            },
            money_is_conserved,
        )
        .await
        .unwrap();
    // Two creations, two transfers, two credits: each awaited before the next.
    assert_eq!(report.commits, 6, "{report:?}");
    assert!(report.not_reached.is_empty(), "{report:?}");
}

#[tokio::test]
async fn the_harness_finds_the_crash_point_of_a_transfer_split_in_two_turns() {
    let error = bank()
        .run(
            |system: System| async move {
                let alice = system.get_or_create_with::<Account>("alice", 100).await?;
                let bob = system.get_or_create_with::<Account>("bob", 0).await?;
                alice.withdraw(30).await?; // commit 3 ...
                bob.deposit(30).await?; // ... and commit 4: a crash between loses 30
                Ok::<_, BoxError>(())
            },
            money_is_conserved,
        )
        .await
        .unwrap_err();
    match &error {
        CrashError::Invariant {
            point: CrashPoint::AfterCommit { commit: 3, of: 4 },
            source,
        } => assert_eq!(
            source.to_string(),
            "opened with 100, now 70 in accounts and 0 in flight"
        ),
        other => panic!("expected the invariant to fail after commit 3 of 4, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the invariant does not hold after a crash right after commit 3 of 4"
    );
}

#[tokio::test]
async fn the_harness_reports_a_failing_scenario_and_a_panicking_check() {
    let error = bank()
        .run(
            |system: System| async move {
                let alice = system.get_or_create_with::<Account>("alice", 10).await?;
                alice.withdraw(20).await?;
                Ok::<_, BoxError>(())
            },
            money_is_conserved,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            CrashError::Scenario { point: CrashPoint::Clean, source }
                if matches!(
                    source.downcast_ref::<AskError<Refused>>(),
                    Some(AskError::Action(Refused(why))) if why == "insufficient"
                )
        ),
        "{error:?}"
    );

    let error = bank()
        .run(
            |system: System| async move {
                system.get_or_create_with::<Account>("alice", 10).await?;
                Ok::<_, BoxError>(())
            },
            |_: System| async move {
                assert_eq!(1, 2, "a check that panics");
                Ok::<_, BoxError>(())
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            CrashError::CheckPanicked { point: CrashPoint::Clean, message }
                if message.contains("a check that panics")
        ),
        "{error:?}"
    );
}

/// The injected failure behind an `AskError::Commit`, if that is what it is.
fn injected<E>(error: &AskError<E>) -> Option<&InjectedFailure> {
    match error {
        AskError::Commit { source, .. } => match &**source {
            StorageError::Backend(cause) => cause.downcast_ref(),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test]
async fn the_failing_storage_fails_exactly_the_chosen_commit_and_the_actor_rolls_back() {
    let db = TempDb::new().unwrap();
    let storage = Arc::new(FailingStorage::open(db.path()).unwrap());
    let system = System::builder()
        .storage(storage.clone())
        .open()
        .await
        .unwrap();
    let alice = system
        .get_or_create_with::<Account>("alice", 100)
        .await
        .unwrap(); // commit 1
    alice.deposit(1).await.unwrap(); // commit 2
    storage.fail_commit(4);
    alice.deposit(2).await.unwrap(); // commit 3
    let error = alice.deposit(4).await.unwrap_err(); // commit 4
    assert_eq!(
        injected(&error),
        Some(&InjectedFailure::Commit { commit: 4 }),
        "{error:?}"
    );
    assert_eq!(alice.audit().await.unwrap().1, 103, "rolled back");
    alice.deposit(8).await.unwrap(); // commit 5
    assert_eq!(alice.audit().await.unwrap().1, 111);
    assert_eq!(
        (storage.attempts(), storage.commits(), storage.failures()),
        (5, 4, 1)
    );

    storage.fail_next(2);
    for commit in [6, 7] {
        let error = alice.deposit(16).await.unwrap_err();
        assert_eq!(injected(&error), Some(&InjectedFailure::Commit { commit }));
    }
    alice.deposit(32).await.unwrap();
    assert_eq!(alice.audit().await.unwrap().1, 143);
    system.shutdown().await;
    drop(system);
    drop(storage);

    // What is on the file is what was acknowledged.
    let system = db.open().await.unwrap();
    let alice = system.get::<Account>("alice").await.unwrap();
    assert_eq!(alice.audit().await.unwrap().1, 143);
    system.shutdown().await;
}

/// Rings once per schedule it set.
#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
// No idle timer: tokio could move the paused clock to it while a commit runs.
#[actor(never_sleep)]
struct Alarm {
    rung: u32,
}

#[actions]
impl Alarm {
    pub async fn set(&mut self, ctx: &mut Ctx<Self>, after_ms: u64) -> Result<(), String> {
        ctx.schedule_after(Duration::from_millis(after_ms), AlarmAction::Ring {})
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    pub async fn ring(&mut self) {
        self.rung += 1;
    }

    pub async fn rung(&self) -> u32 {
        self.rung
    }
}

#[tokio::test(start_paused = true)]
async fn a_paused_clock_fires_a_schedule_exactly_when_moved_to_its_due_time() {
    let db = TempDb::new().unwrap();
    let system = db.builder().actor::<Alarm>().open().await.unwrap();
    let alarm = system.get_or_create::<Alarm>("a").await.unwrap();
    alarm.set(60_000).await.unwrap();
    advance(&system, Duration::from_millis(59_999))
        .await
        .unwrap();
    assert_eq!(alarm.rung().await.unwrap(), 0, "1 ms early");
    advance(&system, Duration::from_millis(1)).await.unwrap();
    assert_eq!(alarm.rung().await.unwrap(), 1, "due now: fired and durable");
    advance(&system, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(alarm.rung().await.unwrap(), 1, "once");
    system.shutdown().await;
}

#[tokio::test]
async fn a_temporary_database_opens_again_after_a_drop_without_shutdown() {
    let db = TempDb::new().unwrap();
    let system = db.builder().actor::<Account>().open().await.unwrap();
    let alice = system
        .get_or_create_with::<Account>("alice", 5)
        .await
        .unwrap();
    alice.deposit(1).await.unwrap();
    drop(alice);
    drop(system); // as a crashed process would: no shutdown
    let system = db.open().await.unwrap();
    let alice = system.get::<Account>("alice").await.unwrap();
    assert_eq!(alice.audit().await.unwrap().1, 6);
    system.shutdown().await;
    let dir = db.dir().to_path_buf();
    drop(db);
    assert!(!dir.exists(), "removed on drop");
}
