//! Calls a derived actor's actions by name with arbitrary arguments.
//!
//! The first input byte picks the action name: below 0x80 one of the known names, otherwise
//! the bytes up to the first NUL are the name (as UTF-8, lossily). The remaining bytes go to
//! `Handle::ask_cbor` as the argument map, and, when they parse as JSON, to
//! `Handle::ask_json` as well.
//!
//! Every outcome must be `Ok` or a typed `ByNameError` (an unknown action, bad arguments, an
//! action's own error); a panic, a hang, an abort or a stopped actor is a finding.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actor_core::{Actor, ByNameError, Ctx, Handle, System, actions};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Bounds that keep the one long-lived actor's state small.
const MAX_ITEMS: usize = 16;
const MAX_TEXT: usize = 64;

/// A struct argument.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Point {
    x: i32,
    y: i32,
    label: Option<String>,
}

/// An enum argument with every kind of variant.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Op {
    Clear,
    Push(i64),
    Set { index: u32, value: i64 },
    Many(Vec<u8>),
    Pair(i8, Option<Box<Op>>),
}

/// The error of the fallible actions.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum MathError {
    Empty,
    OutOfRange { index: u32, len: usize },
    DivideByZero,
    Overflow(i64, i64),
}

#[derive(Actor, Serialize, Deserialize, Default, Debug)]
#[actor(name = "Dispatch")]
pub struct Dispatch {
    count: i64,
    name: String,
    items: Vec<i64>,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    points: Vec<Point>,
    last_op: Option<Op>,
    tags: BTreeMap<String, u32>,
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

fn keep_last<T>(list: &mut Vec<T>) {
    if list.len() > MAX_ITEMS {
        list.drain(..list.len() - MAX_ITEMS);
    }
}

#[actions]
impl Dispatch {
    /// An `i64` argument.
    pub async fn add(&mut self, by: i64) -> i64 {
        self.count = self.count.wrapping_add(by);
        self.count
    }

    /// Several small integer types.
    pub async fn add_small(&mut self, a: u8, b: i16, c: u32) -> i64 {
        self.count = self
            .count
            .wrapping_add(i64::from(a))
            .wrapping_add(i64::from(b))
            .wrapping_add(i64::from(c));
        self.count
    }

    /// No arguments, read-only.
    pub async fn get(&self) -> i64 {
        self.count
    }

    /// A string.
    pub async fn rename(&mut self, name: String) -> usize {
        self.name = clip(&name);
        self.name.len()
    }

    /// A `Vec`.
    pub async fn push_all(&mut self, values: Vec<i64>) -> usize {
        self.items.extend(values);
        keep_last(&mut self.items);
        self.items.len()
    }

    /// A byte string.
    pub async fn set_bytes(&mut self, data: ByteBuf) -> usize {
        self.bytes = data.into_vec();
        self.bytes.truncate(MAX_TEXT);
        self.bytes.len()
    }

    /// `Option`s.
    pub async fn maybe(&mut self, value: Option<u64>, text: Option<String>) -> Option<u64> {
        if let Some(text) = text {
            self.name = clip(&text);
        }
        value.map(|v| v.wrapping_mul(2))
    }

    /// A struct.
    pub async fn place(&mut self, point: Point) -> usize {
        self.points.push(Point {
            label: point.label.as_deref().map(clip),
            ..point
        });
        keep_last(&mut self.points);
        self.points.len()
    }

    /// An enum, and a `Result`: an error rolls the state back.
    pub async fn apply(&mut self, op: Op) -> Result<i64, MathError> {
        let result = match &op {
            Op::Clear => {
                self.items.clear();
                Ok(0)
            }
            Op::Push(v) => {
                self.items.push(*v);
                keep_last(&mut self.items);
                Ok(*v)
            }
            Op::Set { index, value } => {
                let len = self.items.len();
                let slot = usize::try_from(*index)
                    .ok()
                    .and_then(|i| self.items.get_mut(i))
                    .ok_or(MathError::OutOfRange { index: *index, len })?;
                *slot = *value;
                Ok(*value)
            }
            Op::Many(bytes) if bytes.is_empty() => Err(MathError::Empty),
            Op::Many(bytes) => Ok(bytes.iter().map(|&b| i64::from(b)).sum()),
            Op::Pair(a, inner) => Ok(i64::from(*a) + i64::from(inner.is_some())),
        };
        self.last_op = Some(match op {
            Op::Many(mut bytes) => {
                bytes.truncate(MAX_TEXT);
                Op::Many(bytes)
            }
            // Nested ops are not kept: their depth is up to the input.
            Op::Pair(a, _) => Op::Pair(a, None),
            op => op,
        });
        result
    }

    /// A read-only `Result`.
    pub async fn divide(&self, num: i64, den: i64) -> Result<i64, MathError> {
        if den == 0 {
            return Err(MathError::DivideByZero);
        }
        num.checked_div(den).ok_or(MathError::Overflow(num, den))
    }

    /// A map update with a string key.
    pub async fn tag(&mut self, key: String, value: u32) -> Option<u32> {
        if self.tags.len() >= MAX_ITEMS {
            self.tags.clear();
        }
        self.tags.insert(clip(&key), value)
    }

    /// Wide and unusual scalar types.
    pub async fn wide(&self, a: i128, b: u128, f: f64, flag: bool, c: char) -> String {
        format!("{a} {b} {f} {flag} {c}")
    }

    /// A tuple in and a tuple out.
    pub async fn swap(&self, pair: (u16, String)) -> (String, u16) {
        (clip(&pair.1), pair.0)
    }

    /// No arguments, no reply, a write.
    pub async fn reset(&mut self) {
        *self = Self::default();
    }

    /// The context as an argument the caller does not pass.
    pub async fn describe(&self, ctx: &Ctx<Self>) -> String {
        format!(
            "{} at {} ({} items)",
            self.name,
            ctx.key(),
            self.items.len()
        )
    }
}

const NAMES: &[&str] = &[
    "add",
    "add_small",
    "get",
    "rename",
    "push_all",
    "set_bytes",
    "maybe",
    "place",
    "apply",
    "divide",
    "tag",
    "wide",
    "swap",
    "reset",
    "describe",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    _system: System,
    handle: Handle<Dispatch>,
    /// `FUZZ_DEBUG=1` prints each outcome (to check what the seeds reach).
    debug: bool,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        assert_eq!(<Dispatch as Actor>::NAME, "Dispatch");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (system, handle) = runtime.block_on(async {
            let system = System::temporary().await.expect("open a temporary system");
            let handle = system
                .get_or_create::<Dispatch>("fuzz")
                .await
                .expect("create the actor");
            (system, handle)
        });
        Harness {
            runtime,
            _system: system,
            handle,
            debug: std::env::var_os("FUZZ_DEBUG").is_some(),
        }
    })
}

/// Splits the input into an action name and the argument bytes.
fn split(data: &[u8]) -> (String, &[u8]) {
    match data.split_first() {
        None => (String::new(), data),
        Some((&first, rest)) if first < 0x80 => {
            (NAMES[usize::from(first) % NAMES.len()].to_owned(), rest)
        }
        Some((_, rest)) => {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let args = rest.get(end + 1..).unwrap_or_default();
            (String::from_utf8_lossy(&rest[..end]).into_owned(), args)
        }
    }
}

/// Only the caller's mistakes and the action's own error are expected.
fn check<T: std::fmt::Debug, P: std::fmt::Debug>(
    debug: bool,
    name: &str,
    result: Result<T, ByNameError<P>>,
) {
    if debug {
        eprintln!("{name}: {result:?}");
    }
    match result {
        Ok(_)
        | Err(
            ByNameError::UnknownAction { .. }
            | ByNameError::Arguments { .. }
            | ByNameError::Action(_),
        ) => {}
        Err(other) => panic!("{name}: unexpected {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let (name, args) = split(data);
    h.runtime.block_on(async {
        let reply = h.handle.ask_cbor(&name, args).await.map(|reply| {
            ciborium::from_reader::<ciborium::Value, _>(&reply[..]).expect("a reply is valid CBOR")
        });
        check(h.debug, &name, reply);
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(args) {
            check(h.debug, &name, h.handle.ask_json(&name, json).await);
        }
    });
});
