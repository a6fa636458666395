//! Sharing and joining state: money moves between account actors only through their
//! actions, and no crash can create or destroy it.
//!
//! A transfer is a small saga. The payer takes the money and records the transfer as
//! pending, durably (`ctx.save_state`), before anyone else hears of it. A delivery task then
//! asks the payee to `deposit` (idempotent: the payee remembers transfer ids) and the payer
//! to forget the transfer (`settled`). If the process dies anywhere in between, the payer
//! finds the pending transfer when it wakes and delivers it again, so the total is the same
//! after every crash. Delivery runs outside the payer's action, so two accounts paying each
//! other never wait on each other's mailbox.
//!
//! ```text
//! cargo run --example bank -- run --db bank.redb --accounts 8 [--seconds 5]
//! cargo run --example bank -- audit --db bank.redb --accounts 8
//! ```
//! `run` moves money at random until killed (or for `--seconds`); `audit` wakes every account
//! (finishing transfers a crash interrupted) and prints each balance and the total.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actor_core::{Actor, AskError, Ctx, System, actions};
use serde::{Deserialize, Serialize};

/// Every account starts with this much.
const OPENING_BALANCE: u64 = 1_000;

/// Why a transfer did not happen.
#[derive(Debug, Serialize, Deserialize)]
enum TransferError {
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

#[derive(Actor, Serialize, Deserialize)]
#[actor(create_state = Account::open)]
struct Account {
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
        // The money is out of this account and recorded as in flight, on disk, before the
        // payee hears of it.
        ctx.save_state(self)
            .await
            .map_err(|e| TransferError::NotSaved(e.to_string()))?;
        Self::deliver(ctx, id, to, amount);
        Ok(self.balance)
    }

    /// The payee has the money: forget the pending transfer.
    pub async fn settled(&mut self, id: u64) {
        self.pending.remove(&id);
    }

    /// Receives transfer `id` from `from`, once.
    pub async fn deposit(&mut self, from: String, id: u64, amount: u64) -> u64 {
        if self.received.insert((from, id)) {
            self.balance += amount;
        }
        self.balance
    }

    /// The balance and the money still in flight from this account.
    pub async fn audit(&self) -> (u64, u64) {
        (self.balance, self.pending.values().map(|(_, a)| a).sum())
    }
}

struct Args {
    db: String,
    accounts: usize,
    seconds: Option<u64>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Option<(String, Args)> {
    let command = args.next()?;
    let mut parsed = Args {
        db: String::new(),
        accounts: 8,
        seconds: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next()?;
        match flag.as_str() {
            "--db" => parsed.db = value,
            "--accounts" => parsed.accounts = value.parse().ok()?,
            "--seconds" => parsed.seconds = Some(value.parse().ok()?),
            _ => return None,
        }
    }
    (!parsed.db.is_empty() && parsed.accounts >= 2).then_some((command, parsed))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some((command, args)) = parse(std::env::args().skip(1)) else {
        eprintln!("usage: bank run|audit --db FILE [--accounts N] [--seconds S]");
        std::process::exit(2);
    };
    let system = System::open(&args.db).await?;
    let key = |i: usize| format!("acct-{i}");
    match command.as_str() {
        "run" => {
            let mut workers = Vec::new();
            for worker in 0..4u64 {
                let system = system.clone();
                let accounts = args.accounts;
                workers.push(tokio::spawn(async move {
                    let mut x = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    loop {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let from = usize::try_from(x % accounts as u64).unwrap_or(0);
                        let to = (from
                            + 1
                            + usize::try_from((x >> 20) % (accounts as u64 - 1)).unwrap_or(0))
                            % accounts;
                        let Ok(payer) = system.get_or_create::<Account>(key(from)).await else {
                            return;
                        };
                        match payer.transfer(key(to), x % 50).await {
                            Ok(_) | Err(AskError::Action(TransferError::Insufficient)) => {}
                            Err(e) => eprintln!("transfer failed: {e}"),
                        }
                    }
                }));
            }
            if let Some(seconds) = args.seconds {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                for w in &workers {
                    w.abort();
                }
            } else {
                for w in workers {
                    let _ = w.await;
                }
            }
        }
        "audit" => {
            // Waking every account restarts the deliveries a crash interrupted; wait (up to
            // 10 s) until none is in flight, then count.
            let mut accounts = Vec::new();
            for i in 0..args.accounts {
                accounts.push(system.get_or_create::<Account>(key(i)).await?);
            }
            for _ in 0..1000 {
                let mut in_flight = 0;
                for account in &accounts {
                    in_flight += account.audit().await?.1;
                }
                if in_flight == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut total = 0;
            for (i, account) in accounts.iter().enumerate() {
                let (balance, in_flight) = account.audit().await?;
                println!("{} {balance} {in_flight}", key(i));
                total += balance + in_flight;
            }
            println!("total {total}");
        }
        _ => {
            eprintln!("unknown command {command}");
            std::process::exit(2);
        }
    }
    system.shutdown().await;
    Ok(())
}
