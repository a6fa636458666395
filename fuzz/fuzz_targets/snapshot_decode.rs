//! Feeds arbitrary bytes to the real load path as an actor's stored record.
//!
//! A custom `Storage` returns the current input from `load`; the target then starts the actor
//! with `System::get`, which decodes the record (header, state version, CBOR) exactly as it
//! does for a redb file. When the state decodes, the target also calls a read action (the
//! reply is encoded to CBOR and decoded back), a write action (the state is encoded again
//! and committed) and `destroy`.
//!
//! Every outcome must be `Ok` or a typed error: a panic anywhere (libFuzzer's panic hook
//! aborts even on panics the runtime would catch), a hang or an abort is a finding.

#![no_main]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use actor_core::{
    Actor, FORMAT_VERSION, StartError, Storage, StorageError, System, Write, actions,
};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

/// Every iteration uses a fresh key; the registry must not grow past this many entries (a
/// failed start leaves nothing, and a destroyed actor leaves as its task ends).
const MAX_REGISTERED: usize = 64;

/// The state version the header prefix carries.
const STATE_VERSION: u32 = 7;

/// A nested enum with every kind of variant, recursive through `Box`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub enum Kind {
    #[default]
    Unit,
    Newtype(i64),
    Tuple(u8, String),
    Struct {
        id: u32,
        tag: Option<String>,
    },
    Nested(Box<Kind>),
}

/// A nested struct.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Inner {
    name: String,
    kind: Kind,
    more: Option<Vec<Kind>>,
    flag: bool,
}

/// The actor whose record the fuzzer writes.
#[derive(Actor, Serialize, Deserialize, Debug, Clone, Default)]
#[actor(name = "FuzzState", state_version = 7)]
pub struct State {
    inner: Inner,
    kinds: Vec<Kind>,
    maybe: Option<Inner>,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    map: BTreeMap<u64, String>,
    text: String,
    big: i128,
    float: f64,
    tuple: (u8, String, Option<bool>),
    set: HashSet<u32>,
    small: Option<u16>,
    touched: u64,
}

#[actions]
impl State {
    /// The whole state (read-only: the reply is the decoded state, encoded again).
    pub async fn dump(&self) -> State {
        self.clone()
    }

    /// Changes the state, so the runtime encodes and commits it.
    pub async fn touch(&mut self) -> u64 {
        self.touched = self.touched.wrapping_add(1);
        self.touched
    }
}

/// Storage whose every record is the current fuzz input. Writes are dropped.
#[derive(Default)]
struct FuzzStorage {
    record: Mutex<Vec<u8>>,
}

impl Storage for FuzzStorage {
    fn load(&self, _kind: &str, _key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(Some(
            self.record
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        ))
    }

    fn commit(&self, _batch: &mut [Write<'_>]) -> Result<(), StorageError> {
        Ok(())
    }

    fn kv_get(&self, _store: &str, _key: &str) -> Result<Option<String>, StorageError> {
        Ok(None)
    }

    fn kv_list(
        &self,
        _store: &str,
        _prefix: &str,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError> {
        Ok(Vec::new())
    }

    fn schedules(
        &self,
        _after: Option<(u64, u64)>,
        _limit: usize,
    ) -> Result<Vec<actor_core::ScheduleRow>, StorageError> {
        Ok(Vec::new())
    }

    fn messages(
        &self,
        _after: Option<u64>,
        _limit: usize,
    ) -> Result<Vec<actor_core::MessageRow>, StorageError> {
        Ok(Vec::new())
    }

    fn next_epoch(&self) -> Result<u32, StorageError> {
        Ok(1)
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    system: System,
    storage: Arc<FuzzStorage>,
    next: AtomicU64,
    /// `FUZZ_DEBUG=1` prints each outcome (to check what the seeds reach).
    debug: bool,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        assert_eq!(<State as Actor>::STATE_VERSION, STATE_VERSION);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let storage = Arc::new(FuzzStorage::default());
        let system = runtime
            .block_on(
                System::builder()
                    .storage(Arc::clone(&storage) as Arc<dyn Storage>)
                    .open(),
            )
            .expect("open the system");
        Harness {
            runtime,
            system,
            storage,
            next: AtomicU64::new(0),
            debug: std::env::var_os("FUZZ_DEBUG").is_some(),
        }
    })
}

/// The record for `data`: an even first byte puts a valid header before the rest (so the
/// fuzzer reaches the CBOR decoder at once), an odd one uses the rest as the whole record.
fn record(data: &[u8]) -> Vec<u8> {
    let Some((&first, rest)) = data.split_first() else {
        return Vec::new();
    };
    if first % 2 == 1 {
        return rest.to_vec();
    }
    let mut record = Vec::with_capacity(21 + rest.len());
    record.push(FORMAT_VERSION);
    record.extend_from_slice(&0x0123_4567_89ab_cdef_0123_4567_89ab_cdef_u128.to_be_bytes());
    record.extend_from_slice(&STATE_VERSION.to_le_bytes());
    record.extend_from_slice(rest);
    record
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    *h.storage
        .record
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = record(data);
    let n = h.next.fetch_add(1, Ordering::Relaxed);
    let key = format!("k{n}");
    h.runtime.block_on(async {
        match h.system.get::<State>(key).await {
            Ok(handle) => {
                let reply = handle
                    .ask_cbor("dump", &[])
                    .await
                    .expect("a decoded state can be read back");
                let Ok(state) = ciborium::from_reader::<State, _>(&reply[..]) else {
                    panic!("the reply of dump does not decode: {reply:02x?}");
                };
                let reply = handle
                    .ask_cbor("touch", &[])
                    .await
                    .expect("a decoded state can be changed and saved");
                let Ok(touched) = ciborium::from_reader::<u64, _>(&reply[..]) else {
                    panic!("the reply of touch does not decode: {reply:02x?}");
                };
                assert_eq!(touched, state.touched.wrapping_add(1));
                if h.debug {
                    eprintln!("loaded: {state:?}");
                }
                handle.destroy().await.expect("destroy");
            }
            Err(StartError::Decode { source, .. }) => {
                if h.debug {
                    eprintln!("decode error: {source}");
                }
            }
            Err(other) => panic!("start failed with something else than a decode error: {other}"),
        }
    });
    let registered = h.system.stats().registered;
    assert!(
        registered <= MAX_REGISTERED,
        "{registered} actors registered"
    );
});
