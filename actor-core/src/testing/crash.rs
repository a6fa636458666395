//! [`CrashTest`]: a scenario stopped after each of its commits in turn, and an invariant
//! checked on what the file holds after each stop.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::failing::FailingStorage;
use crate::error::OpenError;
use crate::system::{System, SystemBuilder};

/// A boxed error from a scenario or a check (anything that converts: an error type of the
/// crate, your own, a `String`).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How each system of a crash test is set up.
type Configure = dyn Fn(SystemBuilder) -> SystemBuilder + Send + Sync;

/// How long, in real time, the harness waits for an abandoned run to let go of its file.
const RELEASE_LIMIT: Duration = Duration::from_secs(5);

/// Where a run of a [`CrashTest`] stopped before the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrashPoint {
    /// The uninterrupted run, shut down cleanly.
    Clean,
    /// Right after commit `commit` (of `of` in the uninterrupted run) was durable.
    AfterCommit {
        /// The last durable commit (the first is 1).
        commit: u64,
        /// How many commits the uninterrupted run made.
        of: u64,
    },
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Clean => f.write_str("the uninterrupted run"),
            Self::AfterCommit { commit, of } => {
                write!(f, "a crash right after commit {commit} of {of}")
            }
        }
    }
}

/// What a passing [`CrashTest::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrashReport {
    /// Commits of the uninterrupted run: the crash points, each checked.
    pub commits: u64,
    /// Crash points a run did not reach (it made fewer commits than the uninterrupted run,
    /// its actors running in another order); the check ran after a clean shutdown instead.
    pub not_reached: Vec<u64>,
}

/// A [`CrashTest::run`] that failed: an invariant that does not hold, or a run that could not
/// be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrashError {
    /// The check returned an error after this crash point.
    #[error("the invariant does not hold after {point}")]
    Invariant {
        /// Where the run stopped.
        point: CrashPoint,
        /// What the check returned.
        #[source]
        source: BoxError,
    },
    /// The check panicked after this crash point.
    #[error("the invariant check panicked after {point}: {message}")]
    CheckPanicked {
        /// Where the run stopped.
        point: CrashPoint,
        /// The panic's message.
        message: String,
    },
    /// The scenario returned an error before its crash point (in the uninterrupted run, or
    /// in one that had not reached its crash point yet).
    #[error("the scenario failed in the run for {point}")]
    Scenario {
        /// The run.
        point: CrashPoint,
        /// What the scenario returned.
        #[source]
        source: BoxError,
    },
    /// The scenario panicked before its crash point.
    #[error("the scenario panicked in the run for {point}: {message}")]
    ScenarioPanicked {
        /// The run.
        point: CrashPoint,
        /// The panic's message.
        message: String,
    },
    /// A system of the test could not be opened.
    #[error("cannot open a system for {point}")]
    Open {
        /// The run.
        point: CrashPoint,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// The temp directory for the test's files could not be made.
    #[error("cannot make the crash test's temp directory")]
    TempDir(#[source] std::io::Error),
}

/// Runs a scenario against a fresh database once uninterrupted, counting its commits, then
/// once per commit `k`, stopping the run right after commit `k` is durable; after each run it
/// opens the file in a fresh system and calls an invariant check on it.
///
/// "Stopping the run" stands for the process dying: commit `k` reaches the file and returns
/// to nobody (the writer thread waits inside it); the scenario's task is aborted; every later
/// commit fails, so the shutdown that lets go of the file writes nothing more. The file then
/// holds what a crash anywhere between commit `k` and commit `k + 1` would leave (see the
/// [module docs](super) for what that models and what it does not). Each run starts from an
/// empty file of its own.
///
/// The scenario and the check are closures called with a [`System`] and returning a future
/// (each run on a task of its own, so they must be `Send + 'static`); their errors are
/// anything that converts into a boxed error. The check opens on the crashed file: messages
/// and schedules left in flight are delivered again there (declare the actor types with
/// [`configure`](CrashTest::configure)), so it may wait for them.
///
/// ```
/// use actor_core::testing::CrashTest;
/// use actor_core::System;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let report = CrashTest::new()
///     .run(
///         |system: System| async move {
///             let store = system.kv("notes")?;
///             store.set("a", "1").await?;
///             store.set("b", "2").await?;
///             Ok::<_, actor_core::Error>(())
///         },
///         |system: System| async move {
///             let store = system.kv("notes")?;
///             // "b" is written after "a": never "b" without "a".
///             if store.get("b").await?.is_some() && store.get("a").await?.is_none() {
///                 return Err("b without a".into());
///             }
///             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///         },
///     )
///     .await?;
/// assert_eq!(report.commits, 2);
/// # Ok(()) }
/// ```
pub struct CrashTest {
    configure: Arc<Configure>,
}

impl fmt::Debug for CrashTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrashTest").finish_non_exhaustive()
    }
}

impl Default for CrashTest {
    fn default() -> Self {
        Self::new()
    }
}

impl CrashTest {
    /// A crash test whose systems open with default options.
    pub fn new() -> Self {
        Self {
            configure: Arc::new(|builder| builder),
        }
    }

    /// Sets up every system the test opens (the scenario's and the check's): declare the
    /// actor types here (`|b| b.actor::<Account>()`) so that messages and schedules left
    /// in flight by a crash go on at once. The harness chooses the storage itself.
    #[must_use]
    pub fn configure(
        mut self,
        configure: impl Fn(SystemBuilder) -> SystemBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Arc::new(configure);
        self
    }

    /// Runs the scenario uninterrupted, then stopped after each of its commits, and calls
    /// `check` on the file after each run; stops at the first check that fails.
    pub async fn run<S, SF, SE, C, CF, CE>(
        &self,
        scenario: S,
        check: C,
    ) -> Result<CrashReport, CrashError>
    where
        S: Fn(System) -> SF,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError> + Send + 'static,
        C: Fn(System) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Into<BoxError> + Send + 'static,
    {
        let dir = TempDir::new()?;
        let clean = dir.0.join("clean.redb");
        let commits = self.run_once(&clean, CrashPoint::Clean, &scenario).await?;
        self.check(&clean, CrashPoint::Clean, &check).await?;
        let mut not_reached = Vec::new();
        for commit in 1..=commits {
            let point = CrashPoint::AfterCommit {
                commit,
                of: commits,
            };
            let file = dir.0.join(format!("crash-{commit}.redb"));
            let made = self.run_once(&file, point, &scenario).await?;
            if made < commit {
                not_reached.push(commit);
            }
            self.check(&file, point, &check).await?;
            let _ = std::fs::remove_file(&file);
        }
        Ok(CrashReport {
            commits,
            not_reached,
        })
    }

    /// One run of the scenario on a new file, stopped at `point`; returns the commits that
    /// reached the file.
    async fn run_once<S, SF, SE>(
        &self,
        file: &Path,
        point: CrashPoint,
        scenario: &S,
    ) -> Result<u64, CrashError>
    where
        S: Fn(System) -> SF,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError> + Send + 'static,
    {
        let storage = Arc::new(
            FailingStorage::open(file).map_err(|source| CrashError::Open { point, source })?,
        );
        if let CrashPoint::AfterCommit { commit, .. } = point {
            storage.crash_after(commit);
        }
        // If this future is dropped midway, the writer thread must not stay frozen.
        let thaw = Thaw(Arc::clone(&storage));
        let system = (self.configure)(System::builder())
            .storage(Arc::clone(&storage) as Arc<dyn crate::Storage>)
            .open()
            .await
            .map_err(|source| CrashError::Open { point, source })?;
        let mut task = tokio::spawn(scenario(system.clone()));
        let crashed = tokio::select! {
            joined = &mut task => {
                match joined {
                    Ok(Ok(())) => false,
                    Ok(Err(error)) => {
                        storage.thaw();
                        system.shutdown().await;
                        return Err(CrashError::Scenario { point, source: error.into() });
                    }
                    Err(error) => {
                        storage.thaw();
                        system.shutdown().await;
                        let message = error
                            .try_into_panic()
                            .map_or_else(|_| "cancelled".to_owned(), |p| crate::panic::message(&*p));
                        return Err(CrashError::ScenarioPanicked { point, message });
                    }
                }
            }
            () = storage.crashed() => {
                task.abort();
                true
            }
        };
        if crashed {
            storage.thaw();
            let _ = task.await;
            system.shutdown().await;
        } else {
            // The scenario is done; what it left running (messages, schedules, hooks) may
            // still commit, and reach the crash point, while the system shuts down.
            let shutdown = system.shutdown();
            tokio::pin!(shutdown);
            tokio::select! {
                () = &mut shutdown => {}
                () = storage.crashed() => {
                    storage.thaw();
                    shutdown.await;
                }
            }
        }
        drop(system);
        drop(thaw);
        let commits = storage.commits();
        release(storage).await;
        Ok(commits)
    }

    /// Opens `file` in a fresh system and runs the check on it.
    async fn check<C, CF, CE>(
        &self,
        file: &Path,
        point: CrashPoint,
        check: &C,
    ) -> Result<(), CrashError>
    where
        C: Fn(System) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Into<BoxError> + Send + 'static,
    {
        let system = (self.configure)(System::builder())
            .path(file)
            .open()
            .await
            .map_err(|source| CrashError::Open { point, source })?;
        let outcome = tokio::spawn(check(system.clone())).await;
        system.shutdown().await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(CrashError::Invariant {
                point,
                source: error.into(),
            }),
            Err(error) => Err(CrashError::CheckPanicked {
                point,
                message: error
                    .try_into_panic()
                    .map_or_else(|_| "cancelled".to_owned(), |p| crate::panic::message(&*p)),
            }),
        }
    }
}

/// Lets a frozen commit go when dropped.
struct Thaw(Arc<FailingStorage>);

impl Drop for Thaw {
    fn drop(&mut self) {
        self.0.thaw();
    }
}

/// Drops the last reference to the storage, closing its file, once the shut-down system's
/// tasks have dropped theirs (they do right after the shutdown; bounded by real time, not
/// by tokio's clock, which may be paused).
async fn release(storage: Arc<FailingStorage>) {
    let started = std::time::Instant::now();
    while Arc::strong_count(&storage) > 1 && started.elapsed() < RELEASE_LIMIT {
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The crash test's files, removed with the directory on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, CrashError> {
        super::scratch_dir("crash")
            .map(Self)
            .map_err(CrashError::TempDir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
