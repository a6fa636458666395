//! The narrow interface between the runtime and the bytes on disk.
//!
//! The runtime needs four things from storage: read one actor's record, commit a batch of
//! writes atomically and durably, and read one key-value entry or a range of them.
//! [`RedbStorage`] is the embedded default; a test can wrap it to inject faults, and a
//! networked backend can implement the same trait without touching actors.

mod redb;

pub(crate) use self::redb::FileClaim;
pub use self::redb::{RedbOptions, RedbStorage};

use crate::error::StorageError;

/// The function of a [`Write::KvUpdate`]: the current value in, the new one out (`None`:
/// delete the key).
pub type KvUpdateFn<'a> = &'a mut (dyn FnMut(Option<&str>) -> Option<String> + Send);

/// One write in a batch. The batch is applied all-or-nothing, in order.
#[non_exhaustive]
pub enum Write<'a> {
    /// Insert or replace the record of the actor `(kind, key)`.
    PutActor {
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
        /// The full record: header and CBOR state.
        record: &'a [u8],
    },
    /// Delete the record of the actor `(kind, key)`, if there is one.
    DeleteActor {
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
    },
    /// Set `key` in the key-value store `store`.
    KvSet {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a str,
    },
    /// Delete `key` from the key-value store `store`.
    KvDelete {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
    },
    /// Read `key` (seeing earlier writes of the same batch), call `update` with it, and
    /// write what it returns.
    KvUpdate {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
        /// The new value from the current one.
        update: KvUpdateFn<'a>,
    },
}

impl std::fmt::Debug for Write<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PutActor { kind, key, record } => f
                .debug_struct("PutActor")
                .field("kind", kind)
                .field("key", key)
                .field("bytes", &record.len())
                .finish(),
            Self::DeleteActor { kind, key } => f
                .debug_struct("DeleteActor")
                .field("kind", kind)
                .field("key", key)
                .finish(),
            Self::KvSet { store, key, value } => f
                .debug_struct("KvSet")
                .field("store", store)
                .field("key", key)
                .field("bytes", &value.len())
                .finish(),
            Self::KvDelete { store, key } => f
                .debug_struct("KvDelete")
                .field("store", store)
                .field("key", key)
                .finish(),
            Self::KvUpdate { store, key, .. } => f
                .debug_struct("KvUpdate")
                .field("store", store)
                .field("key", key)
                .finish_non_exhaustive(),
        }
    }
}

/// Where actor records live.
///
/// Implementations must make [`commit`](Storage::commit) atomic (all writes of a batch or
/// none) and durable when it returns `Ok` (the runtime releases replies on that promise).
/// Every method blocks; the runtime calls `commit` from its own writer thread, and the
/// reads from the actors' tasks (they are expected to be fast local reads).
pub trait Storage: Send + Sync + 'static {
    /// The record of actor `(kind, key)`, or `None` if there is none.
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// Applies every write in `batch`, in order, atomically and durably.
    fn commit(&self, batch: &mut [Write<'_>]) -> Result<(), StorageError>;

    /// The value of `key` in the key-value store `store`.
    fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, StorageError>;

    /// Up to `limit` entries of `store` whose keys start with `prefix`, in key order, after
    /// the key `after` if given.
    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError>;
}
