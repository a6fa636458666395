//! A test kit for your own actors (the `testing` cargo feature; enable it in
//! `[dev-dependencies]`). The guide's page `docs/testing.md` shows each piece at work.
//!
//! - [`TempDb`]: a database file in a fresh temp directory, removed with the directory when
//!   dropped, that a test can open, shut down (or drop) and open again.
//! - [`advance`]: moves tokio's paused clock and waits until every schedule due by then has
//!   fired and its turn is durable.
//! - [`FailingStorage`]: the redb storage, with chosen commits failing (the Nth, or the next
//!   k), and every commit counted.
//! - [`CrashTest`]: runs a scenario once to count its commits, then once per commit `k`,
//!   stopping it right after commit `k` is durable; after each stop it opens the file again
//!   in a fresh system and runs your invariant check.
//! - [`KillTest`] (unix): runs a scenario in a child process (the test binary, run again)
//!   and kills it with `SIGKILL` after a random, seeded delay; after each kill it opens the
//!   file and runs your invariant check, with the lines the scenario printed.
//!
//! # What "a crash at a commit boundary" models
//!
//! The process dies right after commit `k` is on disk: commit `k` is durable, nothing after
//! it is (no later commit, no reply, no message delivery, no schedule fired after it). The
//! file the check opens holds exactly the state of commit `k`, which is what a `kill -9`
//! landing anywhere between commit `k` and commit `k + 1` leaves behind, since actors write
//! nothing but commits.
//!
//! What it does not model:
//!
//! - **A crash in the middle of a commit.** A commit is one redb transaction, atomic on
//!   disk: after a crash during commit `k + 1` redb recovers the state of commit `k`, which
//!   is the same crash point. That atomicity is redb's promise (and this crate's own crash
//!   and fault tests check it); the harness does not replay torn writes.
//! - **Interleavings the run did not take.** Each crash run replays the same scenario; when
//!   its actors run in parallel, commit `k` of one run may hold other writes than commit
//!   `k` of another. A scenario that awaits each step is deterministic, so every crash point
//!   is reached. A point a run did not reach (it made fewer commits) is listed in
//!   [`CrashReport::not_reached`] and checked anyway, after a clean shutdown.
//! - **Other processes and the outside world.** Only the database file survives a crash;
//!   whatever the scenario sent elsewhere (a socket, another file) is not rolled back.

mod clock;
mod crash;
mod failing;
#[cfg(unix)]
mod kill;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use self::clock::{Unsettled, advance};
pub use self::crash::{CrashError, CrashPoint, CrashReport, CrashTest};
pub use self::failing::{FailingStorage, InjectedFailure};
#[cfg(unix)]
pub use self::kill::{KILL_SEED_VAR, KILL_TEST_VAR, KillError, KillReport, KillTest};

use crate::error::OpenError;
use crate::system::{System, SystemBuilder};

/// A database file in a fresh directory under the system's temp directory. Dropping it
/// removes the directory and everything in it (also when a test fails).
///
/// Unlike [`System::temporary`], whose file goes when the system closes, the file stays for
/// the life of the `TempDb`, so a test can open it again: after
/// [`System::shutdown`], or after dropping the system without a shutdown, as a crashed
/// process would (the new open waits for the dropped system's actors to let go of the file).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = actor_core::testing::TempDb::new()?;
/// let system = db.open().await?;
/// system.shutdown().await;
/// let again = db.open().await?; // the same file
/// assert_eq!(again.path(), Some(db.path()));
/// again.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TempDb {
    dir: PathBuf,
    file: PathBuf,
}

impl TempDb {
    /// Creates the directory; the file is created by the first open.
    pub fn new() -> std::io::Result<Self> {
        let dir = scratch_dir("db")?;
        let file = dir.join("actors.redb");
        Ok(Self { dir, file })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The directory that holds the file (removed on drop), for other files of a test.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A builder on the file, for options and declared actor types.
    pub fn builder(&self) -> SystemBuilder {
        System::builder().path(&self.file)
    }

    /// Opens a system on the file with default options.
    pub async fn open(&self) -> Result<System, OpenError> {
        self.builder().open().await
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new directory under the temp directory, named after `what`, this process and a counter.
fn scratch_dir(what: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "actor-core-{what}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple()
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
