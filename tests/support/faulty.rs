//! A redb storage backend that injects I/O faults on a countdown, as redb's own fuzz target
//! does: after `n` more mutating operations (`write`, `set_len`, `sync_data`) one fails, as a plain I/O
//! error, as "disk full", as a torn write (half the bytes reach the file, then the error), or
//! as a failed sync. A sticky fault keeps failing every mutating operation until cleared, like
//! a disk that stays full.

#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use actor_core::{RedbOptions, RedbStorage};
use redb::StorageBackend;
use redb::backends::FileBackend;

/// How the armed operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// `write` fails with an I/O error; nothing is written.
    Io,
    /// `write` or `set_len` fails with `StorageFull`; nothing is written.
    DiskFull,
    /// `write` writes the first half of its bytes, then fails.
    Torn,
    /// `sync_data` fails (the writes before it may or may not be on disk).
    Sync,
}

#[derive(Debug, Default)]
struct Armed {
    /// Mutating operations left before the fault; `None`: disarmed.
    countdown: Option<u64>,
    kind: Option<FaultKind>,
    /// After tripping, keep failing until cleared.
    sticky: bool,
    tripped: bool,
    /// Faults delivered so far.
    delivered: u64,
}

/// The switchboard shared by every backend instance opened on one file.
#[derive(Debug, Default)]
pub(crate) struct Faults(Mutex<Armed>);

impl Faults {
    /// The `after + 1`-th mutating operation from now fails as `kind`.
    pub(crate) fn arm(&self, kind: FaultKind, after: u64, sticky: bool) {
        let mut armed = self.0.lock().unwrap();
        armed.countdown = Some(after);
        armed.kind = Some(kind);
        armed.sticky = sticky;
        armed.tripped = false;
    }

    /// No more faults.
    pub(crate) fn clear(&self) {
        let delivered = self.0.lock().unwrap().delivered;
        *self.0.lock().unwrap() = Armed {
            delivered,
            ..Armed::default()
        };
    }

    pub(crate) fn delivered(&self) -> u64 {
        self.0.lock().unwrap().delivered
    }

    /// Whether this operation (of the given sort) fails, and how.
    fn check(&self, sync: bool) -> Option<FaultKind> {
        let mut armed = self.0.lock().unwrap();
        let kind = armed.kind?;
        if armed.tripped {
            return armed.sticky.then_some(kind).filter(|k| applies(*k, sync));
        }
        let left = armed.countdown?;
        if !applies(kind, sync) {
            return None;
        }
        if left > 0 {
            armed.countdown = Some(left - 1);
            return None;
        }
        armed.tripped = true;
        armed.delivered += 1;
        Some(kind)
    }
}

/// A sync fault trips on syncs only; the others on writes and resizes only.
fn applies(kind: FaultKind, sync: bool) -> bool {
    (kind == FaultKind::Sync) == sync
}

fn injected(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::DiskFull => io::Error::new(io::ErrorKind::StorageFull, "injected: disk full"),
        FaultKind::Io => io::Error::other("injected: I/O error"),
        FaultKind::Torn => io::Error::other("injected: torn write"),
        FaultKind::Sync => io::Error::other("injected: fsync failed"),
    }
}

#[derive(Debug)]
struct FaultyBackend {
    inner: FileBackend,
    faults: Arc<Faults>,
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        if let Some(kind) = self.faults.check(false) {
            return Err(injected(kind));
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        if let Some(kind) = self.faults.check(true) {
            return Err(injected(kind));
        }
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        match self.faults.check(false) {
            None => self.inner.write(offset, data),
            Some(FaultKind::Torn) => {
                self.inner.write(offset, &data[..data.len() / 2])?;
                Err(injected(FaultKind::Torn))
            }
            Some(kind) => Err(injected(kind)),
        }
    }

    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }

    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// A [`RedbStorage`] on `path` whose every backend (the first, and each reopen after a fault)
/// answers to `faults`.
pub(crate) fn open(path: &Path, faults: &Arc<Faults>) -> RedbStorage {
    let file = path.to_path_buf();
    let faults = Arc::clone(faults);
    RedbStorage::open_backend(path, &RedbOptions::default(), move || {
        let handle = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&file)?;
        Ok(FaultyBackend {
            inner: FileBackend::new(handle).map_err(io::Error::other)?,
            faults: Arc::clone(&faults),
        })
    })
    .expect("open redb on the faulty backend")
}
