//! The narrow interface between the runtime and the bytes on disk.
//!
//! The runtime needs only two things from storage: read one actor's record, and commit a
//! batch of writes atomically and durably. [`RedbStorage`] is the embedded default; a test
//! can wrap it to inject faults, and a networked backend can implement the same trait
//! without touching actors.

mod redb;

pub use self::redb::{RedbOptions, RedbStorage};

use crate::error::StorageError;

/// One write in a batch. The batch is applied all-or-nothing.
#[derive(Debug, Clone, Copy)]
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
}

/// Where actor records live.
///
/// Implementations must make [`commit`](Storage::commit) atomic (all writes of a batch or
/// none) and durable when it returns `Ok` (the runtime releases replies on that promise).
/// Both methods block; the runtime calls `commit` from its own writer thread.
pub trait Storage: Send + Sync + 'static {
    /// The record of actor `(kind, key)`, or `None` if there is none.
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// Applies every write in `batch` atomically and durably.
    fn commit(&self, batch: &[Write<'_>]) -> Result<(), StorageError>;
}
