//! [`FailingStorage`]: the redb storage with chosen commits failing, through the public
//! [`Storage`] trait, as a test of your own would wrap it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::error::{OpenError, StorageError};
use crate::storage::{MessageRow, RedbOptions, RedbStorage, ScheduleRow, Storage, Write};

/// The error a [`FailingStorage`] commit fails with (the source of the
/// [`StorageError::Backend`] the actor's caller sees).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InjectedFailure {
    /// The commit was chosen to fail ([`FailingStorage::fail_commit`],
    /// [`FailingStorage::fail_next`]); nothing of it was written.
    #[error("commit {commit} failed: a failure injected by the test")]
    Commit {
        /// The commit's number (the first commit of the storage is 1).
        commit: u64,
    },
    /// The crash harness stopped the run after an earlier commit; nothing after it is
    /// written.
    #[error("commit {commit} failed: the run crashed after commit {crashed_after}")]
    Crashed {
        /// The commit's number.
        commit: u64,
        /// The last commit that was made durable.
        crashed_after: u64,
    },
}

/// The redb storage, with chosen commits failing: the Nth
/// ([`fail_commit`](FailingStorage::fail_commit)) or the next k
/// ([`fail_next`](FailingStorage::fail_next)). Every call of `commit` is counted
/// ([`attempts`](FailingStorage::attempts)), as are those that reached the file
/// ([`commits`](FailingStorage::commits)).
///
/// A failed commit writes nothing and fails with [`InjectedFailure`] inside a
/// [`StorageError`]: the callers whose replies waited on it get
/// [`AskError::Commit`](crate::AskError::Commit) and their actors go back to their last
/// durable state, as with a real disk failure. Reads are never failed.
///
/// ```
/// use std::sync::Arc;
/// use actor_core::testing::{FailingStorage, TempDb};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = TempDb::new()?;
/// let storage = Arc::new(FailingStorage::open(db.path())?);
/// let system = actor_core::System::builder().storage(storage.clone()).open().await?;
/// storage.fail_next(1); // the next commit fails
/// // ... an action that changes its state fails with `AskError::Commit` ...
/// system.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Shut a system on this storage down before opening its file again: unlike a system
/// opened by path, one dropped without a shutdown keeps the file until its last handle goes.
#[derive(Debug)]
pub struct FailingStorage {
    inner: RedbStorage,
    /// Which commits fail and where the run stops. A std mutex: the writer thread holds it
    /// for a few comparisons (and waits on `thawed` with it, frozen at a crash point).
    plan: Mutex<Plan>,
    /// Lets a commit frozen at the crash point go, when the harness has abandoned the run.
    thawed: Condvar,
    /// Tells the harness (an async task) that the crash point was reached.
    reached: Notify,
    attempts: AtomicU64,
    commits: AtomicU64,
    failures: AtomicU64,
}

/// What the next commits do.
#[derive(Debug, Default)]
struct Plan {
    /// Commit numbers that fail.
    fail_at: BTreeSet<u64>,
    /// How many of the next commits fail.
    fail_next: u64,
    /// The number of durable commits after which the run stops.
    crash_after: Option<u64>,
    /// The crash point was reached: every later commit fails.
    crashed: bool,
    /// The commit at the crash point waits, durable, until the harness lets it go.
    frozen: bool,
}

impl FailingStorage {
    /// Opens (or creates) the redb file at `path` with default options. Blocks, like
    /// [`RedbStorage::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Ok(Self::new(RedbStorage::open(path, &RedbOptions::default())?))
    }

    /// Wraps an open redb storage.
    pub fn new(inner: RedbStorage) -> Self {
        Self {
            inner,
            plan: Mutex::new(Plan::default()),
            thawed: Condvar::new(),
            reached: Notify::new(),
            attempts: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Commit number `n` fails (counting every call of `commit` since this storage was
    /// made, failed ones included; the first is 1). May be called for several numbers.
    pub fn fail_commit(&self, n: u64) {
        self.plan().fail_at.insert(n);
    }

    /// The next `k` commits fail (replacing an earlier count still running).
    pub fn fail_next(&self, k: u64) {
        self.plan().fail_next = k;
    }

    /// No more chosen failures (a crash point stays).
    pub fn heal(&self) {
        let mut plan = self.plan();
        plan.fail_at.clear();
        plan.fail_next = 0;
    }

    /// Calls of `commit` so far, failed ones included: the number of the last commit.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::SeqCst)
    }

    /// Commits that reached the file.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    /// Commits that failed (chosen, after a crash point, or failed by redb itself).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &RedbStorage {
        &self.inner
    }

    /// Stops the run right after durable commit `n`: that commit waits, on the file, until
    /// [`thaw`](Self::thaw); every commit after it fails.
    pub(crate) fn crash_after(&self, n: u64) {
        self.plan().crash_after = Some(n);
    }

    /// Waits until the crash point is reached.
    pub(crate) async fn crashed(&self) {
        self.reached.notified().await;
    }

    /// Lets the commit frozen at the crash point return (it is durable); later commits fail.
    pub(crate) fn thaw(&self) {
        self.plan().frozen = false;
        self.thawed.notify_all();
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn failed(&self, error: InjectedFailure) -> StorageError {
        self.failures.fetch_add(1, Ordering::SeqCst);
        StorageError::backend(error)
    }
}

impl Storage for FailingStorage {
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.load(kind, key)
    }

    fn commit(&self, batch: &mut [Write<'_>]) -> Result<(), StorageError> {
        let commit = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut plan = self.plan();
            if plan.crashed {
                let crashed_after = plan.crash_after.unwrap_or(0);
                drop(plan);
                return Err(self.failed(InjectedFailure::Crashed {
                    commit,
                    crashed_after,
                }));
            }
            let chosen = plan.fail_at.remove(&commit);
            let counted = plan.fail_next > 0;
            if counted {
                plan.fail_next -= 1;
            }
            if chosen || counted {
                drop(plan);
                return Err(self.failed(InjectedFailure::Commit { commit }));
            }
        }
        if let Err(error) = self.inner.commit(batch) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(error);
        }
        let durable = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        let mut plan = self.plan();
        if plan.crash_after == Some(durable) {
            // The process image stops here: the commit is on disk, and nobody learns of it.
            plan.crashed = true;
            plan.frozen = true;
            self.reached.notify_one();
            while plan.frozen {
                plan = self
                    .thawed
                    .wait(plan)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        Ok(())
    }

    fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, StorageError> {
        self.inner.kv_get(store, key)
    }

    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError> {
        self.inner.kv_list(store, prefix, after, limit)
    }

    fn schedules(
        &self,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ScheduleRow>, StorageError> {
        self.inner.schedules(after, limit)
    }

    fn messages(&self, after: Option<u64>, limit: usize) -> Result<Vec<MessageRow>, StorageError> {
        self.inner.messages(after, limit)
    }

    fn next_epoch(&self) -> Result<u32, StorageError> {
        self.inner.next_epoch()
    }
}
