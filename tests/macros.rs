//! `#[derive(Actor)]` and `#[actions]` as a user writes them. The file denies every warning,
//! the library lints and clippy's pedantic group, so generated code must be lint-clean.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::pedantic
)]

#[path = "support/storage.rs"]
mod storage;

use actor_core::{Actor, AskError, ByNameError, Ctx, System, actions};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A bank account.
#[derive(Actor, Serialize, Deserialize, Debug)]
#[actor(
    name = "Account",
    create_state = Account::open,
    input = String,
    state_version = 3,
    mailbox_capacity = 16,
    restart(max_restarts = 2, window_ms = 60_000)
)]
pub struct Account {
    owner: String,
    balance: u64,
    history: Vec<i64>,
    /// Ephemeral: calls served since the last wake.
    #[serde(skip)]
    served: u32,
}

/// Why a withdrawal was refused.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BankError {
    /// Not enough money.
    Insufficient {
        /// What there was.
        balance: u64,
    },
}

impl Account {
    fn open(owner: String) -> Self {
        Self {
            owner,
            balance: 0,
            history: Vec::new(),
            served: 0,
        }
    }

    fn record(&mut self, change: i64) {
        self.history.push(change);
        self.served += 1;
    }
}

#[actions]
impl Account {
    /// Puts money in; returns the new balance.
    pub async fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.record(i64::try_from(amount).unwrap_or(i64::MAX));
        self.balance
    }

    /// Takes money out, or refuses (and changes nothing).
    ///
    /// # Errors
    ///
    /// `BankError::Insufficient` when the balance is too small.
    pub async fn withdraw(&mut self, amount: u64) -> Result<u64, BankError> {
        self.record(-i64::try_from(amount).unwrap_or(i64::MAX));
        self.balance = self
            .balance
            .checked_sub(amount)
            .ok_or(BankError::Insufficient {
                balance: self.balance,
            })?;
        Ok(self.balance)
    }

    /// The balance (read-only).
    pub async fn balance(&self) -> u64 {
        self.balance
    }

    /// Owner and key, through the context.
    pub async fn describe(&self, ctx: &Ctx<Self>) -> String {
        format!("{} owns {}", self.owner, ctx.key())
    }

    /// Renames the owner and saves at once.
    ///
    /// # Errors
    ///
    /// The save's error, as text.
    pub async fn rename(&mut self, ctx: &mut Ctx<Self>, owner: String) -> Result<(), String> {
        self.owner = owner;
        ctx.save_state(self).await.map_err(|e| e.to_string())
    }

    /// How many entries the history has.
    pub async fn history_len(&self) -> usize {
        self.history.len()
    }
}

/// An actor with the defaults: `Default` initial state, no options.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub(crate) async fn add(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    pub(crate) async fn get(&self) -> i64 {
        self.count
    }

    /// A raw identifier: called by name as `type`.
    pub(crate) async fn r#type(&self) -> String {
        "counter".to_owned()
    }

    /// A raw identifier as an argument: its field is `type`.
    pub(crate) async fn label(&self, r#type: String) -> String {
        r#type
    }
}

/// A single action, which can fail: in its typed method the arms for another action's reply
/// and error are patterns rustc knows cannot match, and must not warn.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Latch {
    set: bool,
}

#[actions]
impl Latch {
    pub(crate) async fn set(&mut self) -> Result<(), String> {
        if self.set {
            return Err("already set".to_owned());
        }
        self.set = true;
        Ok(())
    }
}

#[test]
fn derive_options_reach_the_actor_trait() {
    assert_eq!(<Account as Actor>::NAME, "Account");
    assert_eq!(<Account as Actor>::STATE_VERSION, 3);
    assert_eq!(Account::config().mailbox_capacity, 16);
    assert_eq!(Account::config().restart.max_restarts, 2);
    assert_eq!(<Counter as Actor>::NAME, "Counter");
    assert_eq!(<Counter as Actor>::STATE_VERSION, 1);
}

#[test]
fn actions_lists_the_names_in_declaration_order() {
    assert_eq!(
        <Account as Actor>::ACTIONS,
        [
            "deposit",
            "withdraw",
            "balance",
            "describe",
            "rename",
            "history_len"
        ]
    );
    assert_eq!(<Counter as Actor>::ACTIONS, ["add", "get", "type", "label"]);
}

#[test]
fn actions_lists_each_actions_argument_names() {
    let expected: [&[&str]; 6] = [&["amount"], &["amount"], &[], &[], &["owner"], &[]];
    assert_eq!(<Account as Actor>::ARGUMENTS, expected);
    // The context is not an argument; a raw identifier is named as serde names its field.
    let expected: [&[&str]; 4] = [&["by"], &[], &[], &["type"]];
    assert_eq!(<Counter as Actor>::ARGUMENTS, expected);
}

#[tokio::test]
async fn typed_handle_methods_call_the_actions() {
    let system = System::temporary().await.unwrap();
    let acct = system
        .get_or_create_with::<Account>("acct-1", "Ada".to_owned())
        .await
        .unwrap();
    assert_eq!(acct.deposit(100).await.unwrap(), 100);
    assert_eq!(acct.withdraw(30).await.unwrap(), 70);
    assert_eq!(acct.balance().await.unwrap(), 70);
    assert_eq!(acct.describe().await.unwrap(), "Ada owns acct-1");

    // A returned error reaches the caller typed, and rolls the state back.
    let err = acct.withdraw(1_000).await.unwrap_err();
    assert!(matches!(
        err,
        AskError::Action(BankError::Insufficient { balance: 70 })
    ));
    assert_eq!(
        acct.history_len().await.unwrap(),
        2,
        "the failed entry was rolled back"
    );

    acct.rename("Grace".to_owned()).await.unwrap();
    assert_eq!(acct.describe().await.unwrap(), "Grace owns acct-1");

    let c = system.get_or_create::<Counter>("c").await.unwrap();
    assert_eq!(c.add(2).await.unwrap(), 2);
    assert_eq!(c.get().await.unwrap(), 2);
    assert_eq!(c.r#type().await.unwrap(), "counter");

    let latch = system.get_or_create::<Latch>("l").await.unwrap();
    latch.set().await.unwrap();
    assert!(matches!(
        latch.set().await,
        Err(AskError::Action(e)) if e == "already set"
    ));
    assert_eq!(
        c.ask_json("type", json!(null)).await.unwrap(),
        json!("counter")
    );
    // The argument is called by the name `ARGUMENTS` lists.
    assert_eq!(
        c.ask_json("label", json!({"type": "blue"})).await.unwrap(),
        json!("blue")
    );
    system.shutdown().await;
}

#[tokio::test]
async fn actions_survive_a_restart_in_macro_form() {
    let path = storage::temp_path("macros-restart");
    let system = System::open(&path).await.unwrap();
    let acct = system
        .get_or_create_with::<Account>("a", "Ada".to_owned())
        .await
        .unwrap();
    acct.deposit(5).await.unwrap();
    system.shutdown().await;
    let system = System::open(&path).await.unwrap();
    let acct = system.get::<Account>("a").await.unwrap();
    assert_eq!(acct.balance().await.unwrap(), 5);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn actions_can_be_called_by_name_with_json_or_cbor() {
    let system = System::temporary().await.unwrap();
    let acct = system
        .get_or_create_with::<Account>("by-name", "Ada".to_owned())
        .await
        .unwrap();
    assert_eq!(
        acct.ask_json("deposit", json!({ "amount": 40 }))
            .await
            .unwrap(),
        json!(40)
    );
    assert_eq!(
        acct.ask_json("balance", json!(null)).await.unwrap(),
        json!(40)
    );
    match acct.ask_json("withdraw", json!({ "amount": 100 })).await {
        Err(ByNameError::Action(error)) => {
            assert_eq!(error, json!({ "Insufficient": { "balance": 40 } }));
        }
        other => panic!("expected the action's error, got {other:?}"),
    }
    assert!(matches!(
        acct.ask_json("no_such_action", json!({})).await,
        Err(ByNameError::UnknownAction { .. })
    ));
    assert!(matches!(
        acct.ask_json("deposit", json!({ "amount": "lots" })).await,
        Err(ByNameError::Arguments { .. })
    ));
    assert!(matches!(
        acct.ask_json("deposit", json!({ "amount": 1, "amuont": 1 }))
            .await,
        Err(ByNameError::Arguments { .. })
    ));

    let mut args = Vec::new();
    ciborium::into_writer(&json!({ "amount": 2 }), &mut args).unwrap();
    let reply = acct.ask_cbor("deposit", &args).await.unwrap();
    let value: u64 = ciborium::from_reader(&reply[..]).unwrap();
    assert_eq!(value, 42);
    system.shutdown().await;
}

#[test]
fn the_action_enum_round_trips_through_serde() {
    let action: AccountAction =
        serde_json::from_value(json!({ "deposit": { "amount": 7 } })).unwrap();
    assert_eq!(
        serde_json::to_value(&action).unwrap(),
        json!({ "deposit": { "amount": 7 } })
    );
}

#[test]
fn the_action_enum_refuses_unknown_argument_names() {
    let typo =
        serde_json::from_value::<AccountAction>(json!({ "deposit": { "amount": 5, "amuont": 1 } }))
            .err()
            .expect("an unknown argument name is an error, not a silent default");
    assert!(typo.to_string().contains("amuont"), "{typo}");
    assert!(serde_json::from_value::<AccountAction>(json!({ "deposit": { "amount": 5 } })).is_ok());
}
