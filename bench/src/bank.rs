//! `outbox_bank`: transfers per second of the bank in `examples/bank.rs` (a transfer is one
//! debit turn that `ctx.send`s one credit through the outbox) against the saga it replaced
//! (`git show 962f769:examples/bank.rs`: debit and `ctx.save_state`, then a spawned delivery
//! task that asks the payee to `deposit`, idempotently, and the payer that it is `settled`).
//!
//! Both `Account`s are copied from the examples with three changes: the opening balance is
//! raised, so that no transfer fails for want of money; a process-wide counter of applied
//! credits (and of the saga's settles) tells the round when delivery is done; the new bank's
//! `audit` returns the balance and duplicates only. Each round runs on a fresh file:
//! the accounts are created (not timed), `callers` tasks make transfers between random
//! accounts for the round's duration, and the round ends when every credit of every
//! acknowledged transfer is applied. The figure is acknowledged transfers / that time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::{Actor, System};
use tokio::runtime::Runtime;

use crate::report::Row;
use crate::stats::{XorShift, median};
use crate::{Result, Settings};

/// Every account starts with this much (the examples: 1,000).
const OPENING_BALANCE: u64 = 1 << 40;

/// The key of the `i`-th account.
fn key(i: usize) -> String {
    format!("acct-{i}")
}

/// The bank of `examples/bank.rs` now: the credit goes through the outbox.
pub mod outbox {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use actor_core::{Ctx, actions};
    use serde::{Deserialize, Serialize};

    use super::OPENING_BALANCE;

    /// Credits applied in this process (not counting a duplicate, which must not happen).
    pub static APPLIED: AtomicU64 = AtomicU64::new(0);

    /// Why a transfer did not happen.
    #[derive(Debug, Serialize, Deserialize)]
    pub enum TransferError {
        /// Not enough money; nothing changed.
        Insufficient,
        /// The credit could not be sent (the system is shutting down); nothing changed.
        NotSent(String),
    }

    impl std::fmt::Display for TransferError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl std::error::Error for TransferError {}

    /// Transfers between two accounts, counted: how many, and the sum of their numbers.
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Tally {
        count: u64,
        sum: u64,
    }

    impl Tally {
        fn add(&mut self, n: u64) {
            self.count += 1;
            self.sum += n;
        }
    }

    /// An account.
    #[derive(actor_core::Actor, Serialize, Deserialize)]
    #[actor(create_state = Account::open)]
    pub struct Account {
        balance: u64,
        /// Transfers this account has made (the next one's number).
        made: u64,
        /// Per payee, the transfers sent to it.
        sent: BTreeMap<String, Tally>,
        /// Per payer, the transfers received from it, and the number of the last one.
        received: BTreeMap<String, (Tally, u64)>,
        /// Transfers received a second time: must stay 0.
        duplicates: u64,
    }

    impl Account {
        fn open() -> Self {
            Self {
                balance: OPENING_BALANCE,
                made: 0,
                sent: BTreeMap::new(),
                received: BTreeMap::new(),
                duplicates: 0,
            }
        }
    }

    #[actions]
    impl Account {
        /// Moves `amount` to the account `to`: the debit and the credit message commit
        /// together.
        pub async fn transfer(
            &mut self,
            ctx: &mut Ctx<Self>,
            to: String,
            amount: u64,
        ) -> Result<u64, TransferError> {
            self.balance = self
                .balance
                .checked_sub(amount)
                .ok_or(TransferError::Insufficient)?;
            self.made += 1;
            let n = self.made;
            self.sent.entry(to.clone()).or_default().add(n);
            let from = ctx.key().to_string();
            ctx.send::<Account>(to.as_str(), AccountAction::Credit { from, n, amount })
                .map_err(|e| TransferError::NotSent(e.to_string()))?;
            Ok(n)
        }

        /// Receives transfer `n` of `from` (sent by `transfer`; applied once by the outbox).
        pub async fn credit(&mut self, from: String, n: u64, amount: u64) {
            let (tally, last) = self.received.entry(from).or_default();
            if n <= *last {
                self.duplicates += 1;
                return;
            }
            *last = n;
            tally.add(n);
            self.balance += amount;
            APPLIED.fetch_add(1, Ordering::SeqCst);
        }

        /// The balance and the duplicates seen.
        pub async fn audit(&self) -> (u64, u64) {
            (self.balance, self.duplicates)
        }
    }
}

/// The bank of `examples/bank.rs` at 962f769: a saga with a spawned delivery task.
pub mod saga {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicU64, Ordering};

    use actor_core::{Actor, Ctx, actions};
    use serde::{Deserialize, Serialize};

    use super::OPENING_BALANCE;

    /// Deposits applied in this process (not counting a retried one).
    pub static APPLIED: AtomicU64 = AtomicU64::new(0);
    /// Transfers settled in this process.
    pub static SETTLED: AtomicU64 = AtomicU64::new(0);

    /// Why a transfer did not happen.
    #[derive(Debug, Serialize, Deserialize)]
    pub enum TransferError {
        /// Not enough money; nothing changed.
        Insufficient,
        /// The transfer could not be recorded; the action was rolled back.
        NotSaved(String),
    }

    impl std::fmt::Display for TransferError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl std::error::Error for TransferError {}

    /// An account.
    #[derive(Actor, Serialize, Deserialize)]
    #[actor(create_state = Account::open)]
    pub struct Account {
        balance: u64,
        /// Transfers this account paid out that the payee may not have received yet.
        pending: BTreeMap<u64, (String, u64)>,
        /// Transfers this account received (so a retried deposit is not counted twice).
        received: BTreeSet<(String, u64)>,
        next_transfer: u64,
    }

    impl Account {
        fn open() -> Self {
            Self {
                balance: OPENING_BALANCE,
                pending: BTreeMap::new(),
                received: BTreeSet::new(),
                next_transfer: 0,
            }
        }

        /// Starts delivering transfer `id` in the background.
        fn deliver(ctx: &Ctx<Self>, id: u64, to_key: String, amount: u64) {
            let Some(system) = ctx.system() else { return };
            let payer = ctx.key().to_string();
            tokio::spawn(async move {
                let delivered = async {
                    let to = system.get_or_create::<Account>(to_key.as_str()).await?;
                    to.deposit(payer.clone(), id, amount).await?;
                    let from = system.get_or_create::<Account>(payer.as_str()).await?;
                    from.settled(id).await?;
                    Ok::<_, actor_core::Error>(())
                };
                if let Err(e) = delivered.await {
                    eprintln!("transfer {payer}#{id} waits for the next wake: {e}");
                }
            });
        }
    }

    #[actions]
    impl Account {
        /// Finish what a crash interrupted.
        async fn on_wake(&mut self, ctx: &mut Ctx<Self>) {
            for (&id, (payee, amount)) in &self.pending {
                Self::deliver(ctx, id, payee.clone(), *amount);
            }
        }

        /// Moves `amount` to the account `to`.
        pub async fn transfer(
            &mut self,
            ctx: &mut Ctx<Self>,
            to: String,
            amount: u64,
        ) -> Result<u64, TransferError> {
            self.balance = self
                .balance
                .checked_sub(amount)
                .ok_or(TransferError::Insufficient)?;
            let id = self.next_transfer;
            self.next_transfer += 1;
            self.pending.insert(id, (to.clone(), amount));
            // The money is out of this account and recorded as in flight, on disk, before
            // the payee hears of it.
            ctx.save_state(self)
                .await
                .map_err(|e| TransferError::NotSaved(e.to_string()))?;
            Self::deliver(ctx, id, to, amount);
            Ok(self.balance)
        }

        /// The payee has the money: forget the pending transfer.
        pub async fn settled(&mut self, id: u64) {
            if self.pending.remove(&id).is_some() {
                SETTLED.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// Receives transfer `id` from `from`, once.
        pub async fn deposit(&mut self, from: String, id: u64, amount: u64) -> u64 {
            if self.received.insert((from, id)) {
                self.balance += amount;
                APPLIED.fetch_add(1, Ordering::SeqCst);
            }
            self.balance
        }

        /// The balance and the money still in flight from this account.
        pub async fn audit(&self) -> (u64, u64) {
            (self.balance, self.pending.values().map(|(_, a)| a).sum())
        }
    }
}

/// One of the two banks, as a round drives it.
trait Bank: Actor<Input = ()> {
    /// Its counter of applied credits.
    fn applied() -> &'static AtomicU64;
    /// Its counter of transfers whose bookkeeping is finished once the credit is applied
    /// (the saga's `settled`; the same as [`applied`](Bank::applied) for the outbox).
    fn finished() -> &'static AtomicU64;
    /// A transfer action.
    fn transfer(to: String, amount: u64) -> Self::Action;
    /// Opens a system on `path` as the bank's example does.
    async fn open(path: &std::path::Path) -> Result<System>;
}

impl Bank for outbox::Account {
    fn applied() -> &'static AtomicU64 {
        &outbox::APPLIED
    }
    fn finished() -> &'static AtomicU64 {
        &outbox::APPLIED
    }
    fn transfer(to: String, amount: u64) -> Self::Action {
        outbox::AccountAction::Transfer { to, amount }
    }
    async fn open(path: &std::path::Path) -> Result<System> {
        // Declared, as in the example, so that credits left in the outbox go at once.
        Ok(System::builder().path(path).actor::<Self>().open().await?)
    }
}

impl Bank for saga::Account {
    fn applied() -> &'static AtomicU64 {
        &saga::APPLIED
    }
    fn finished() -> &'static AtomicU64 {
        &saga::SETTLED
    }
    fn transfer(to: String, amount: u64) -> Self::Action {
        saga::AccountAction::Transfer { to, amount }
    }
    async fn open(path: &std::path::Path) -> Result<System> {
        Ok(System::open(path).await?)
    }
}

/// One round on a fresh file: returns acknowledged transfers per second, counted until
/// every credit is applied, and the time the drain after the callers stopped took.
fn round<B: Bank>(
    rt: &Runtime,
    s: &Settings,
    name: &str,
    accounts: usize,
    callers: usize,
    duration: Duration,
) -> Result<(f64, Duration)> {
    let path = s.file(name);
    let keys: Vec<String> = (0..accounts).map(key).collect();
    let result = rt.block_on(async {
        let system = B::open(&path).await?;
        let handles = Arc::new(crate::throughput::create_handles::<B>(&system, &keys).await?);
        B::applied().store(0, Ordering::SeqCst);
        B::finished().store(0, Ordering::SeqCst);
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = Vec::with_capacity(callers);
        for c in 0..callers {
            let handles = Arc::clone(&handles);
            tasks.push(tokio::spawn(async move {
                let mut rng = XorShift::new(c as u64 + 1);
                let mut acked = 0u64;
                while Instant::now() < deadline {
                    let from = rng.below(accounts);
                    let to = (from + 1 + rng.below(accounts - 1)) % accounts;
                    let amount = 1 + rng.next_u64() % 50;
                    handles[from]
                        .ask(B::transfer(key(to), amount))
                        .await
                        .map_err(|e| e.to_string())?;
                    acked += 1;
                }
                Ok::<_, String>(acked)
            }));
        }
        let mut acked = 0u64;
        for task in tasks {
            acked += task.await??;
        }
        let stopped = Instant::now();
        let limit = stopped + Duration::from_secs(120);
        while B::applied().load(Ordering::SeqCst) < acked {
            if Instant::now() > limit {
                return Err(format!(
                    "{name}: {} of {acked} credits applied",
                    B::applied().load(Ordering::SeqCst)
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let done = Instant::now();
        let applied = B::applied().load(Ordering::SeqCst);
        // Not timed: the saga's `settled` calls finish before the shutdown.
        while B::finished().load(Ordering::SeqCst) < acked && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        system.shutdown().await;
        if applied != acked {
            return Err(format!("{name}: {applied} credits for {acked} transfers").into());
        }
        Ok::<_, crate::Error>((
            acked as f64 / done.duration_since(started).as_secs_f64(),
            done.duration_since(stopped),
        ))
    });
    let _ = std::fs::remove_file(&path);
    result
}

/// `outbox_bank`: 1,000 accounts, 64 callers, rounds of the two banks alternating.
pub fn outbox_bank(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let (accounts, callers) = (1000, 64);
    let (mut new, mut old, mut new_drain, mut old_drain) = (vec![], vec![], vec![], vec![]);
    for r in 0..s.rounds {
        eprintln!("  round {}/{}", r + 1, s.rounds);
        let (rate, drain) = round::<outbox::Account>(
            rt,
            s,
            &format!("bank-outbox-{r}"),
            accounts,
            callers,
            s.secondary,
        )?;
        new.push(rate);
        new_drain.push(drain.as_secs_f64() * 1e3);
        let (rate, drain) = round::<saga::Account>(
            rt,
            s,
            &format!("bank-saga-{r}"),
            accounts,
            callers,
            s.secondary,
        )?;
        old.push(rate);
        old_drain.push(drain.as_secs_f64() * 1e3);
    }
    Ok(vec![
        Row::new(
            "outbox_bank",
            format!("transfers, {accounts} accounts, {callers} callers"),
            "transfers/s",
            median(&new),
            "saga bank (962f769), same load",
            Some(median(&old)),
        )
        .reference(format!(
            "counted until every credit is applied; drain after the callers stop: {:.0} ms (saga: {:.0} ms)",
            median(&new_drain),
            median(&old_drain)
        ))
        .rounds(&new, &old),
    ])
}
