//! Sharing and joining state: money moves between account actors only through their
//! actions, and no crash can create, destroy or duplicate it.
//!
//! A transfer is one turn of the payer: it takes the money and sends the payee a `credit`
//! through the outbox (`ctx.send`). The message commits with the debit, in the same
//! transaction, is delivered after that commit, survives crashes, and is applied by the payee
//! exactly once (its removal from the outbox commits with the credit). No saga, no pending
//! list, no idempotency keys by hand. Each payee still checks, for the audit, that it never
//! sees a transfer twice.
//!
//! ```text
//! cargo run --example bank -- run --db bank.redb --accounts 8 [--seconds 5]
//! cargo run --example bank -- audit --db bank.redb --accounts 8
//! ```
//! `run` moves money at random until killed (or for `--seconds`), printing `ack FROM N TO
//! AMOUNT` for each acknowledged transfer; `audit` waits until every message is delivered,
//! then prints each balance, what each account sent and received, and the total.

use std::collections::BTreeMap;
use std::time::Duration;

use actor_core::{AskError, Ctx, System, actions};
use serde::{Deserialize, Serialize};

/// Every account starts with this much.
const OPENING_BALANCE: u64 = 1_000;

/// Why a transfer did not happen.
#[derive(Debug, Serialize, Deserialize)]
enum TransferError {
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

/// Transfers between two accounts, counted: how many, and the sum of their numbers (the
/// audit compares both sides).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Tally {
    count: u64,
    sum: u64,
}

impl Tally {
    fn add(&mut self, n: u64) {
        self.count += 1;
        self.sum += n;
    }
}

#[derive(actor_core::Actor, Serialize, Deserialize)]
#[actor(create_state = Account::open)]
struct Account {
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
    /// Moves `amount` to the account `to`: the debit and the credit message commit together.
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
        // Messages of one payer arrive in the order sent: a number not above the last one
        // would be a transfer seen twice.
        if n <= *last {
            self.duplicates += 1;
            return;
        }
        *last = n;
        tally.add(n);
        self.balance += amount;
    }

    /// The balance, what this account sent and received, and the duplicates it saw.
    pub async fn audit(&self) -> Audit {
        Audit {
            balance: self.balance,
            sent: self.sent.clone(),
            received: self
                .received
                .iter()
                .map(|(from, (tally, _))| (from.clone(), *tally))
                .collect(),
            duplicates: self.duplicates,
        }
    }
}

/// One account, as `audit` reports it.
#[derive(Debug, Clone, Serialize)]
struct Audit {
    balance: u64,
    sent: BTreeMap<String, Tally>,
    received: BTreeMap<String, Tally>,
    duplicates: u64,
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

fn key(i: usize) -> String {
    format!("acct-{i}")
}

/// Moves money at random, from 4 tasks, printing each acknowledged transfer.
async fn run(system: &System, accounts: usize, seconds: Option<u64>) {
    // Every account exists before money moves: a message to an actor that does not exist
    // is dropped.
    for i in 0..accounts {
        if let Err(e) = system.get_or_create::<Account>(key(i)).await {
            eprintln!("cannot open {}: {e}", key(i));
            return;
        }
    }
    let mut workers = Vec::new();
    for worker in 0..4u64 {
        let system = system.clone();
        workers.push(tokio::spawn(async move {
            let mut x = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let from = usize::try_from(x % accounts as u64).unwrap_or(0);
                let to =
                    (from + 1 + usize::try_from((x >> 20) % (accounts as u64 - 1)).unwrap_or(0))
                        % accounts;
                let Ok(payer) = system.get_or_create::<Account>(key(from)).await else {
                    return;
                };
                let amount = x % 50;
                match payer.transfer(key(to), amount).await {
                    Ok(n) => println!("ack {} {n} {} {amount}", key(from), key(to)),
                    Err(AskError::Action(TransferError::Insufficient)) => {}
                    Err(e) => eprintln!("transfer failed: {e}"),
                }
            }
        }));
    }
    if let Some(seconds) = seconds {
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

/// Waits (up to 10 s) until every transfer sent is received, then prints the accounts.
async fn audit(system: &System, accounts: usize) -> Result<(), actor_core::Error> {
    let mut handles = Vec::new();
    for i in 0..accounts {
        handles.push(system.get_or_create::<Account>(key(i)).await?);
    }
    let mut audits = Vec::new();
    for _ in 0..1000 {
        audits.clear();
        for account in &handles {
            audits.push(account.audit().await?);
        }
        let sent: u64 = audits
            .iter()
            .flat_map(|a| a.sent.values())
            .map(|t| t.count)
            .sum();
        let received: u64 = audits
            .iter()
            .flat_map(|a| a.received.values())
            .map(|t| t.count)
            .sum();
        if sent == received {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut total = 0;
    for (i, audit) in audits.iter().enumerate() {
        println!("balance {} {}", key(i), audit.balance);
        for (to, tally) in &audit.sent {
            println!("sent {} {to} {} {}", key(i), tally.count, tally.sum);
        }
        for (from, tally) in &audit.received {
            println!("received {from} {} {} {}", key(i), tally.count, tally.sum);
        }
        println!("duplicates {} {}", key(i), audit.duplicates);
        total += audit.balance;
    }
    println!("total {total}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let Some((command, args)) = parse(std::env::args().skip(1)) else {
        eprintln!("usage: bank run|audit --db FILE [--accounts N] [--seconds S]");
        std::process::exit(2);
    };
    // Declared, so that the credits a crash left in the outbox are delivered at once.
    let system = System::builder()
        .path(&args.db)
        .actor::<Account>()
        .open()
        .await?;
    match command.as_str() {
        "run" => run(&system, args.accounts, args.seconds).await,
        "audit" => audit(&system, args.accounts).await?,
        _ => {
            eprintln!("unknown command {command}");
            std::process::exit(2);
        }
    }
    system.shutdown().await;
    Ok(())
}
