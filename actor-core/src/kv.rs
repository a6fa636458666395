//! Durable key-value stores: named maps from string keys to string values, in the same file
//! as the actors and written by the same group-committing writer.
//!
//! A [`KvStore`] is a cheap handle on one store. `set`, `delete` and `update` return once
//! durable; concurrent writers share commits. `update` runs its closure on the writer thread,
//! inside the transaction, so read-modify-write never loses an update.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::error::{BindingError, ConfigError, KvError, StorageError};
use crate::limits::{MAX_KEY_BYTES, MAX_STORE_NAME_BYTES, MAX_VALUE_BYTES, quote};
use crate::panic::catch;
use crate::storage::Write;
use crate::store::Store;
use crate::writer::Job;

/// One page of [`KvStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPage {
    /// Keys and values in key order.
    pub entries: Vec<(String, String)>,
    /// Where the next page starts (pass it as `after`), or `None` at the end.
    pub next: Option<String>,
}

/// A handle on one named store. Cloning is cheap.
#[derive(Clone)]
pub struct KvStore {
    name: Arc<str>,
    store: Arc<Store>,
}

impl fmt::Debug for KvStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvStore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KvStore {
    pub(crate) fn new(name: &str, store: Arc<Store>) -> Self {
        Self {
            name: name.into(),
            store,
        }
    }

    /// The store's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn check_key(&self, key: &str) -> Result<(), KvError> {
        check_write(&self.name, key, None)
    }

    fn check_value(&self, key: &str, value: &str) -> Result<(), KvError> {
        check_write(&self.name, key, Some(value))
    }

    fn storage_error(&self, source: Arc<StorageError>) -> KvError {
        KvError::Storage {
            store: self.name.to_string(),
            source,
        }
    }

    /// The value at `key`, or `None`.
    // Async although redb reads are fast and local: a networked backend must be able to
    // serve the same call.
    #[allow(clippy::unused_async)]
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.check_key(key)?;
        let storage = self.store.storage().ok_or(KvError::Shutdown)?;
        storage
            .kv_get(&self.name, key)
            .map_err(|e| self.storage_error(Arc::new(e)))
    }

    /// Stores `value` at `key` (overwriting), and returns once it is durable.
    pub async fn set(&self, key: &str, value: impl Into<String>) -> Result<(), KvError> {
        self.check_key(key)?;
        let value = value.into();
        self.check_value(key, &value)?;
        self.write(KvOp::Set {
            key: key.to_owned(),
            value,
        })
        .await
        .map(drop)
    }

    /// Removes `key`, and returns once that is durable. Removing a missing key is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.check_key(key)?;
        self.write(KvOp::Delete {
            key: key.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Atomically replaces the value at `key` with `f(current)` (`None`: delete it) and
    /// returns the new value once durable. `f` runs on the writer thread inside the commit,
    /// so concurrent updates never lose each other's effect; keep it short, and note that it
    /// runs once per call.
    pub async fn update<F>(&self, key: &str, f: F) -> Result<Option<String>, KvError>
    where
        F: FnOnce(Option<&str>) -> Option<String> + Send + 'static,
    {
        self.check_key(key)?;
        self.write(KvOp::Update {
            key: key.to_owned(),
            f: Box::new(f),
        })
        .await
    }

    /// Sets `key` to `new` (`None`: delete) only if its current value is `expected`.
    /// Returns whether it did.
    pub async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<String>,
    ) -> Result<bool, KvError> {
        if let Some(new) = &new {
            self.check_value(key, new)?;
        }
        let expected = expected.map(str::to_owned);
        let swapped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&swapped);
        self.update(key, move |current| {
            if current == expected.as_deref() {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                new
            } else {
                current.map(str::to_owned)
            }
        })
        .await?;
        Ok(swapped.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Adds `by` to the integer at `key` (a missing key counts as 0) and returns the new
    /// value: the seed's counter pattern, without lost increments. A result beyond the range
    /// of an `i64` is refused with [`KvError::Overflow`] and nothing is written.
    pub async fn increment(&self, key: &str, by: i64) -> Result<i64, KvError> {
        /// What the update function found, for the error after the commit.
        enum Found {
            Sum,
            NotANumber,
            Overflow(i64),
        }
        let found = Arc::new(std::sync::Mutex::new(Found::Sum));
        let report = Arc::clone(&found);
        let new = self
            .update(key, move |current| {
                let mut report = report
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Ok(n) = current.map_or(Ok(0), str::parse::<i64>) else {
                    *report = Found::NotANumber;
                    return current.map(str::to_owned);
                };
                if let Some(sum) = n.checked_add(by) {
                    Some(sum.to_string())
                } else {
                    *report = Found::Overflow(n);
                    current.map(str::to_owned)
                }
            })
            .await?;
        let not_a_number = || KvError::BadValue {
            store: self.name.to_string(),
            key: key.to_owned(),
            expected: "an integer",
        };
        match *found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Found::Sum => new.and_then(|v| v.parse().ok()).ok_or_else(not_a_number),
            Found::NotANumber => Err(not_a_number()),
            Found::Overflow(value) => Err(KvError::Overflow {
                store: self.name.to_string(),
                key: key.to_owned(),
                value,
                by,
            }),
        }
    }

    /// Keys starting with `prefix`, in order, at most `limit` per page (at least 1; any
    /// number, up to `usize::MAX`, works), starting after the key `after` (the previous
    /// page's `next`). [`list_all`](KvStore::list_all) reads every page.
    #[allow(clippy::unused_async)] // see `get`
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KvPage, KvError> {
        let storage = self.store.storage().ok_or(KvError::Shutdown)?;
        let limit = limit.max(1);
        let mut entries = storage
            .kv_list(&self.name, prefix, after, limit.saturating_add(1))
            .map_err(|e| self.storage_error(Arc::new(e)))?;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(KvPage { entries, next })
    }

    /// Every entry whose key starts with `prefix`, in key order (no limit: mind the size of
    /// the store).
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<(String, String)>, KvError> {
        Ok(self.list(prefix, None, usize::MAX).await?.entries)
    }

    /// The value at `key`, parsed from JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        self.get(key)
            .await?
            .map(|raw| {
                serde_json::from_str(&raw).map_err(|_| KvError::BadValue {
                    store: self.name.to_string(),
                    key: key.to_owned(),
                    expected: "JSON of the requested type",
                })
            })
            .transpose()
    }

    /// Stores `value` at `key` as JSON text (values stay strings on disk).
    pub async fn set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), KvError> {
        let raw = serde_json::to_string(value).map_err(|source| KvError::Json {
            store: self.name.to_string(),
            key: key.to_owned(),
            source,
        })?;
        self.set(key, raw).await
    }

    async fn write(&self, op: KvOp) -> Result<Option<String>, KvError> {
        let (done, wait) = oneshot::channel();
        let key = op.key().to_owned();
        if self.store.storage().is_none() {
            return Err(KvError::Shutdown);
        }
        self.store
            .writer()
            .submit(Box::new(KvJob::new(Arc::clone(&self.name), op, done)));
        match wait.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(KvWriteError::Storage(source))) => Err(self.storage_error(source)),
            Ok(Err(KvWriteError::Panicked)) => Err(KvError::UpdatePanicked {
                store: self.name.to_string(),
                key,
            }),
            Ok(Err(KvWriteError::TooLarge(len))) => Err(KvError::ValueTooLarge {
                store: self.name.to_string(),
                key,
                len,
            }),
            Err(_) => Err(KvError::Shutdown),
        }
    }
}

/// An update function, run once on the writer thread inside the transaction.
type UpdateFn = Box<dyn FnOnce(Option<&str>) -> Option<String> + Send>;

/// An update function wrapped for the commit: it records what it did.
type Updater = Box<dyn FnMut(Option<&str>) -> Option<String> + Send>;

/// One key-value write.
enum KvOp {
    Set { key: String, value: String },
    Delete { key: String },
    Update { key: String, f: UpdateFn },
}

impl KvOp {
    fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Delete { key } | Self::Update { key, .. } => key,
        }
    }
}

/// What an update function did inside the commit.
enum Updated {
    Value(Option<String>),
    Panicked,
    TooLarge(usize),
}

/// A key-value write as a writer job. An update's function runs inside the transaction (so
/// concurrent updates never lose each other); the value rules (size, panics) are applied
/// there too, keeping the current value when the function's result is refused.
struct KvJob {
    store: Arc<str>,
    key: String,
    write: KvWrite,
    done: oneshot::Sender<Result<Option<String>, KvWriteError>>,
}

enum KvWrite {
    Set(String),
    Delete,
    /// The function, wrapped to record what it did in `updated`.
    Update {
        run: Updater,
        updated: Arc<std::sync::Mutex<Updated>>,
    },
}

impl KvJob {
    fn new(
        store: Arc<str>,
        op: KvOp,
        done: oneshot::Sender<Result<Option<String>, KvWriteError>>,
    ) -> Self {
        let (key, write) = match op {
            KvOp::Set { key, value } => (key, KvWrite::Set(value)),
            KvOp::Delete { key } => (key, KvWrite::Delete),
            KvOp::Update { key, f } => {
                let updated = Arc::new(std::sync::Mutex::new(Updated::Value(None)));
                let record = Arc::clone(&updated);
                let mut f = Some(f);
                let run = Box::new(move |current: Option<&str>| {
                    let keep = current.map(str::to_owned);
                    let Some(f) = f.take() else { return keep };
                    let (outcome, value) = match catch(|| f(current)) {
                        Ok(Some(new)) if new.len() > MAX_VALUE_BYTES => {
                            (Updated::TooLarge(new.len()), keep)
                        }
                        Ok(new) => (Updated::Value(new.clone()), new),
                        Err(_) => (Updated::Panicked, keep),
                    };
                    *record
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
                    value
                });
                (key, KvWrite::Update { run, updated })
            }
        };
        Self {
            store,
            key,
            write,
            done,
        }
    }
}

impl Job for KvJob {
    fn writes<'a>(&'a mut self, out: &mut Vec<Write<'a>>) {
        let (store, key) = (&*self.store, self.key.as_str());
        out.push(match &mut self.write {
            KvWrite::Set(value) => Write::KvSet { store, key, value },
            KvWrite::Delete => Write::KvDelete { store, key },
            KvWrite::Update { run, .. } => Write::KvUpdate {
                store,
                key,
                update: &mut **run,
            },
        });
    }

    fn done(self: Box<Self>, outcome: Result<(), Arc<StorageError>>) {
        let result = match (outcome, self.write) {
            (Err(error), _) => Err(KvWriteError::Storage(error)),
            (Ok(()), KvWrite::Set(value)) => Ok(Some(value)),
            (Ok(()), KvWrite::Delete) => Ok(None),
            (Ok(()), KvWrite::Update { updated, .. }) => {
                let updated = std::mem::replace(
                    &mut *updated
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Updated::Value(None),
                );
                match updated {
                    Updated::Value(value) => Ok(value),
                    Updated::Panicked => Err(KvWriteError::Panicked),
                    Updated::TooLarge(len) => Err(KvWriteError::TooLarge(len)),
                }
            }
        };
        let _ = self.done.send(result);
    }
}

/// Checks a write's store id, key and value (`None`: a delete) against the limits.
pub(crate) fn check_write(store: &str, key: &str, value: Option<&str>) -> Result<(), KvError> {
    check_store_name(store)?;
    if key.is_empty() {
        return Err(KvError::EmptyKey {
            store: store.to_owned(),
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::KeyTooLarge {
            store: store.to_owned(),
            len: key.len(),
        });
    }
    if let Some(value) = value
        && value.len() > MAX_VALUE_BYTES
    {
        return Err(KvError::ValueTooLarge {
            store: store.to_owned(),
            key: key.to_owned(),
            len: value.len(),
        });
    }
    Ok(())
}

/// Checks a store id: 1 to [`MAX_STORE_NAME_BYTES`] bytes.
pub(crate) fn check_store_name(store: &str) -> Result<(), KvError> {
    if store.is_empty() || store.len() > MAX_STORE_NAME_BYTES {
        return Err(KvError::BadStoreName {
            store: quote(store),
            len: store.len(),
        });
    }
    Ok(())
}

/// Why a key-value write was not applied.
#[derive(Debug)]
enum KvWriteError {
    Storage(Arc<StorageError>),
    Panicked,
    TooLarge(usize),
}

/// Binding names (what code uses, like `STATE`) mapped to store ids (like `"default"`).
///
/// Read from the `[state]` table of a TOML file:
///
/// ```toml
/// [state]
/// STATE = "default"
/// USER_STATE = "users"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings {
    map: BTreeMap<String, String>,
}

impl Bindings {
    /// No bindings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a binding, in code.
    #[must_use]
    pub fn bind(mut self, name: impl Into<String>, store: impl Into<String>) -> Self {
        self.map.insert(name.into(), store.into());
        self
    }

    /// Parses the `[state]` table of a TOML document (other tables are ignored).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            state: BTreeMap<String, String>,
        }
        let file: File = toml::from_str(text).map_err(ConfigError::Parse)?;
        if let Some((name, _)) = file
            .state
            .iter()
            .find(|(n, s)| n.is_empty() || s.is_empty())
        {
            return Err(ConfigError::Empty(name.clone()));
        }
        for (binding, store) in &file.state {
            check_store_name(store).map_err(|source| ConfigError::Store {
                binding: quote(binding),
                source,
            })?;
        }
        Ok(Self { map: file.state })
    }

    /// Reads a TOML config file (e.g. `actors.toml`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// The store id bound to `name`.
    pub fn store(&self, name: &str) -> Result<&str, BindingError> {
        self.map
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| BindingError::Missing {
                name: name.to_owned(),
                declared: self.names().map(str::to_owned).collect(),
            })
    }

    /// Every binding name, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// A typed environment: a struct whose fields are store bindings, checked against the config
/// at startup. Derive it with `#[derive(Env)]`: each field of type [`KvStore`] is the binding
/// of its name in upper case (`user_state` → `USER_STATE`), or `#[binding = "NAME"]`.
pub trait Env: Sized {
    /// The binding names the type needs, in field order.
    const BINDINGS: &'static [&'static str];

    /// Builds the environment, asking `store` for the store of each binding.
    fn from_bindings(
        store: &mut dyn FnMut(&str) -> Result<KvStore, BindingError>,
    ) -> Result<Self, BindingError>;
}
