//! [`KillTest`]: a scenario run in a child process (the test binary, run again) and killed
//! with `SIGKILL` at random moments, and an invariant checked on the file after each kill.

use std::fmt;
use std::future::Future;
use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::OpenError;
use crate::system::{System, SystemBuilder};

/// A boxed error from a scenario or a check.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How each system of a kill test is set up.
type Configure = dyn Fn(SystemBuilder) -> SystemBuilder + Send + Sync;

/// Names the kill test a child process runs (set by the parent; its presence marks a child).
pub const KILL_TEST_VAR: &str = "ACTOR_CORE_KILL_TEST";
/// The database file of a child process.
const FILE_VAR: &str = "ACTOR_CORE_KILL_TEST_FILE";
/// Sets the seed of the kill delays, to replay a run (it wins over [`KillTest::seed`]).
pub const KILL_SEED_VAR: &str = "ACTOR_CORE_KILL_SEED";

/// The line a child prints once its system is open, right before the scenario starts: the
/// kill delay counts from it, and only the lines after it are the scenario's.
const STARTED: &str = "actor-core kill test: scenario started";

/// How much of a child's stderr an error keeps (its end).
const STDERR_KEPT: usize = 8 * 1024;

/// The signal `Child::kill` sends on unix.
const SIGKILL: i32 = 9;

/// What a passing [`KillTest::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KillReport {
    /// Children killed, each followed by a check that held (0 in a child process of another
    /// kill test).
    pub rounds: u32,
    /// The seed of the kill delays (set [`KILL_SEED_VAR`] to it to replay them).
    pub seed: u64,
    /// Every complete line the scenario printed on stdout, across the rounds, in order.
    pub lines: Vec<String>,
}

/// A [`KillTest::run`] that failed: an invariant that does not hold, a child that did not
/// run until killed, or a run that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillError {
    /// The check returned an error after kill `round`.
    #[error("the invariant does not hold after kill {round} (seed {seed})")]
    Invariant {
        /// The round (the first is 1).
        round: u32,
        /// The seed of the run.
        seed: u64,
        /// What the check returned.
        #[source]
        source: BoxError,
    },
    /// The check panicked after kill `round`.
    #[error("the invariant check panicked after kill {round} (seed {seed}): {message}")]
    CheckPanicked {
        /// The round (the first is 1).
        round: u32,
        /// The seed of the run.
        seed: u64,
        /// The panic's message.
        message: String,
    },
    /// The child of `round` ended by itself (its scenario returned or failed, it panicked,
    /// or it could not open the file) instead of running until killed.
    #[error(
        "the child of round {round} exited by itself ({status}) {when} (seed {seed}); its stderr:\n{stderr}",
        when = if *started { "before it was killed" } else { "before its scenario started" }
    )]
    ChildExited {
        /// The round (the first is 1).
        round: u32,
        /// The seed of the run.
        seed: u64,
        /// How it ended.
        status: ExitStatus,
        /// Whether its scenario had started.
        started: bool,
        /// The end of what it wrote on stderr.
        stderr: String,
    },
    /// The child ran no test: the name given to [`KillTest::new`] is not the path of the
    /// test that runs the kill test (as `cargo test -- --exact` takes it).
    #[error("the child ran no test named {name:?}: give KillTest::new the test's full path")]
    NoSuchTest {
        /// The name given.
        name: String,
    },
    /// The child of `round` did not start its scenario in time; it was killed.
    #[error("the child of round {round} did not start its scenario within {waited:?}")]
    NotStarted {
        /// The round (the first is 1).
        round: u32,
        /// How long the harness waited.
        waited: Duration,
    },
    /// The test binary could not be found or started again.
    #[error("cannot start the test binary again")]
    Spawn(#[source] std::io::Error),
    /// The child could not be killed or waited for.
    #[error("cannot kill or reap the child of round {round}")]
    Kill {
        /// The round (the first is 1).
        round: u32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The scenario returned an error (in the child, whose test then fails).
    #[error("the scenario failed")]
    Scenario(#[source] BoxError),
    /// The scenario returned (in the child): it must run until killed.
    #[error("the scenario returned: it must run until it is killed (loop forever)")]
    ScenarioReturned,
    /// A system of the test could not be opened (in the parent, after `round`; round 0 in
    /// the child).
    #[error("cannot open a system after kill {round}")]
    Open {
        /// The round (the first is 1).
        round: u32,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// [`KILL_SEED_VAR`] is set to something other than a number.
    #[error("{KILL_SEED_VAR}={0:?} is not a number")]
    Seed(String),
    /// `run` was called on a tokio runtime: call it from a plain `#[test]`.
    #[error("KillTest::run blocks and makes its own runtime: call it from a plain #[test]")]
    InsideRuntime,
    /// The temp directory or a tokio runtime could not be made.
    #[error("cannot set up the kill test")]
    Setup(#[source] std::io::Error),
}

/// Runs a scenario in a child process and kills it with `SIGKILL` after a random delay,
/// then opens the file it was writing and calls an invariant check on it; `rounds` times,
/// each child going on with the same file.
///
/// The child is the test binary itself, run again on the one test (`--exact NAME
/// --nocapture --test-threads=1`) with [`KILL_TEST_VAR`] naming the kill test and another
/// variable naming the file. In it, [`run`](KillTest::run) opens a [`System`] on the file,
/// runs the scenario until the process is killed, and never calls the check. In the parent
/// (the test as `cargo test` runs it), `run` starts the children, kills them, and runs the
/// check after each kill.
///
/// The delays are drawn between the bounds of [`kill_between`](KillTest::kill_between),
/// counted from the moment the scenario starts, from a seed printed on stderr (set
/// [`KILL_SEED_VAR`] to replay it). Unlike [`CrashTest`](super::CrashTest), the kills land
/// anywhere: between commits, during one, while replies and messages are on their way.
///
/// The scenario may print lines on stdout (say `ack 12` once an increment returned): the
/// check gets every complete line the children printed so far, so it can check that what
/// was acknowledged is on the file. A child that exits before it is killed (the scenario
/// returned or failed, the test panicked) is an error, with the end of its stderr.
///
/// `run` blocks and makes its own tokio runtimes: call it from a plain `#[test]`, whose
/// name (its full path in the test binary) you give to [`new`](KillTest::new). See the
/// guide's page `docs/testing.md` for an example.
pub struct KillTest {
    name: String,
    rounds: u32,
    kill_between: (Duration, Duration),
    start_timeout: Duration,
    seed: Option<u64>,
    configure: Arc<Configure>,
}

impl fmt::Debug for KillTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillTest")
            .field("name", &self.name)
            .field("rounds", &self.rounds)
            .field("kill_between", &self.kill_between)
            .field("start_timeout", &self.start_timeout)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl KillTest {
    /// A kill test run by the test named `test` (its full path in the test binary, as
    /// `cargo test -- --exact` takes it: `kills::counter`, or `counter` at the top level of
    /// a test file): 5 rounds, kills 20 ms to 200 ms after the scenario starts.
    pub fn new(test: impl Into<String>) -> Self {
        Self {
            name: test.into(),
            rounds: 5,
            kill_between: (Duration::from_millis(20), Duration::from_millis(200)),
            start_timeout: Duration::from_secs(60),
            seed: None,
            configure: Arc::new(|builder| builder),
        }
    }

    /// How many children to kill (each followed by a check).
    #[must_use]
    pub fn rounds(mut self, rounds: u32) -> Self {
        self.rounds = rounds;
        self
    }

    /// The bounds of the random delay between the start of a child's scenario and its kill
    /// (a reversed pair is put in order).
    #[must_use]
    pub fn kill_between(mut self, min: Duration, max: Duration) -> Self {
        self.kill_between = (min.min(max), min.max(max));
        self
    }

    /// How long a child may take to open its system before it is given up (60 s).
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// The seed of the kill delays (else one from the clock; [`KILL_SEED_VAR`] wins over
    /// both).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets up every system the test opens (the children's and the checks'): declare the
    /// actor types here (`|b| b.actor::<Account>()`) so that messages and schedules left in
    /// flight by a kill go on at once. The harness sets the file itself.
    #[must_use]
    pub fn configure(
        mut self,
        configure: impl Fn(SystemBuilder) -> SystemBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Arc::new(configure);
        self
    }

    /// In the parent: kills `rounds` children, each after a random delay, and calls `check`
    /// after each kill on a system opened on the file, with the lines the scenario printed
    /// so far; stops at the first check that fails. In a child: runs `scenario` until the
    /// process is killed, and returns only with an error (the scenario returned or failed,
    /// or the file did not open), which the child's test should fail with. In a child of
    /// another kill test, returns at once with an empty report.
    pub fn run<S, SF, SE, C, CF, CE>(&self, scenario: S, check: C) -> Result<KillReport, KillError>
    where
        S: FnOnce(System) -> SF,
        SF: Future<Output = Result<(), SE>>,
        SE: Into<BoxError>,
        C: Fn(System, Vec<String>) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Into<BoxError> + Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(KillError::InsideRuntime);
        }
        let seed = match std::env::var(KILL_SEED_VAR) {
            Ok(value) => value.trim().parse().map_err(|_| KillError::Seed(value))?,
            Err(_) => self.seed.unwrap_or_else(clock_seed),
        };
        if let Some(child) = std::env::var_os(KILL_TEST_VAR) {
            if child.to_str() != Some(self.name.as_str()) {
                return Ok(KillReport {
                    rounds: 0,
                    seed,
                    lines: Vec::new(),
                });
            }
            let file = std::env::var_os(FILE_VAR)
                .map(PathBuf::from)
                .ok_or_else(|| {
                    KillError::Setup(std::io::Error::other(format!("{FILE_VAR} is not set")))
                })?;
            return Err(self.child(&file, scenario));
        }
        eprintln!(
            "kill test {}: seed {seed} (replay with {KILL_SEED_VAR}={seed})",
            self.name
        );
        let dir = ScratchDir::new()?;
        let file = dir.0.join("actors.redb");
        let mut delays = XorShift::new(seed);
        let mut lines = Vec::new();
        for round in 1..=self.rounds {
            let (min, max) = self.kill_between;
            let span = u64::try_from(max.saturating_sub(min).as_micros()).unwrap_or(u64::MAX);
            let delay = min + Duration::from_micros(delays.next() % span.saturating_add(1));
            self.kill_one(&file, round, seed, delay, &mut lines)?;
            self.check(&file, round, seed, &lines, &check)?;
        }
        Ok(KillReport {
            rounds: self.rounds,
            seed,
            lines,
        })
    }

    /// In the child: opens the file, says so, and runs the scenario; returns only if it ends.
    fn child<S, SF, SE>(&self, file: &Path, scenario: S) -> KillError
    where
        S: FnOnce(System) -> SF,
        SF: Future<Output = Result<(), SE>>,
        SE: Into<BoxError>,
    {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(error) => return error,
        };
        runtime.block_on(async {
            let system = match (self.configure)(System::builder()).path(file).open().await {
                Ok(system) => system,
                Err(source) => return KillError::Open { round: 0, source },
            };
            // On a line of its own: the test harness may have started one ("test NAME ... ").
            println!("\n{STARTED}");
            let outcome = scenario(system.clone()).await;
            system.shutdown().await;
            match outcome {
                Ok(()) => KillError::ScenarioReturned,
                Err(error) => KillError::Scenario(error.into()),
            }
        })
    }

    /// Starts the child of `round`, kills it `delay` after its scenario started, and adds
    /// what the scenario printed to `lines`.
    fn kill_one(
        &self,
        file: &Path,
        round: u32,
        seed: u64,
        delay: Duration,
        lines: &mut Vec<String>,
    ) -> Result<(), KillError> {
        let exe = std::env::current_exe().map_err(KillError::Spawn)?;
        let mut child = Command::new(exe)
            .args(["--exact", &self.name, "--nocapture", "--test-threads=1"])
            .env(KILL_TEST_VAR, &self.name)
            .env(FILE_VAR, file)
            .env_remove(KILL_SEED_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(KillError::Spawn)?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(KillError::Spawn(std::io::Error::other(
                "the child's stdout or stderr is not piped",
            )));
        };
        let out = read_lines(stdout);
        let err = read_tail(stderr);
        let started = wait_for_start(&out, self.start_timeout);
        if started == Start::Started {
            std::thread::sleep(delay);
        }
        // Killing a child that exited by itself (not reaped yet) is harmless: its status
        // below tells the two apart.
        let killed = child.kill();
        let status = child
            .wait()
            .map_err(|source| KillError::Kill { round, source })?;
        let printed: Vec<String> = out.iter().collect();
        let stderr = err.join().unwrap_or_default();
        match started {
            Start::Timeout if status.signal() == Some(SIGKILL) => {
                return Err(KillError::NotStarted {
                    round,
                    waited: self.start_timeout,
                });
            }
            Start::Started if status.signal() == Some(SIGKILL) => {
                killed.map_err(|source| KillError::Kill { round, source })?;
            }
            Start::Exited { no_test: true } if status.success() => {
                return Err(KillError::NoSuchTest {
                    name: self.name.clone(),
                });
            }
            _ => {
                return Err(KillError::ChildExited {
                    round,
                    seed,
                    status,
                    started: started == Start::Started,
                    stderr,
                });
            }
        }
        lines.extend(printed);
        Ok(())
    }

    /// Opens the file in a fresh system on a runtime of its own and runs the check on it.
    fn check<C, CF, CE>(
        &self,
        file: &Path,
        round: u32,
        seed: u64,
        lines: &[String],
        check: &C,
    ) -> Result<(), KillError>
    where
        C: Fn(System, Vec<String>) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Into<BoxError> + Send + 'static,
    {
        // Dropped at the end of the round, with whatever the check left running: the next
        // child must find the file let go.
        let runtime = runtime()?;
        runtime.block_on(async {
            let system = (self.configure)(System::builder())
                .path(file)
                .open()
                .await
                .map_err(|source| KillError::Open { round, source })?;
            let outcome = tokio::spawn(check(system.clone(), lines.to_vec())).await;
            system.shutdown().await;
            match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(KillError::Invariant {
                    round,
                    seed,
                    source: error.into(),
                }),
                Err(error) => Err(KillError::CheckPanicked {
                    round,
                    seed,
                    message: error
                        .try_into_panic()
                        .map_or_else(|_| "cancelled".to_owned(), |p| crate::panic::message(&*p)),
                }),
            }
        })
    }
}

/// A current-thread runtime with timers.
fn runtime() -> Result<tokio::runtime::Runtime, KillError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(KillError::Setup)
}

/// How the wait for a child's scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// It printed [`STARTED`].
    Started,
    /// Its stdout closed first (it exited); whether the test harness said it ran no test.
    Exited {
        /// "running 0 tests": the child's `--exact` name matched no test.
        no_test: bool,
    },
    /// Neither within the timeout.
    Timeout,
}

/// The lines a child prints, read on a thread of their own (so that a full pipe never
/// stops the child): first the wait for [`STARTED`], then the scenario's lines.
struct Lines {
    lines: Receiver<String>,
    thread: JoinHandle<()>,
}

impl Lines {
    /// The lines left, until the child's stdout closes (it is dead by then).
    fn iter(self) -> impl Iterator<Item = String> {
        let Self { lines, thread } = self;
        let collected: Vec<String> = lines.iter().collect();
        let _ = thread.join();
        collected.into_iter()
    }
}

/// Reads `stdout` line by line; a last line without its newline (cut by the kill) is left
/// out.
fn read_lines(stdout: ChildStdout) -> Lines {
    let (sender, lines) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.last() == Some(&b'\n') => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']).to_owned();
                    if sender.send(text).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    Lines { lines, thread }
}

/// Reads `stderr` to its end on a thread of its own, keeping the last [`STDERR_KEPT`] bytes.
fn read_tail(mut stderr: ChildStderr) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(read @ 1..) = stderr.read(&mut buffer) {
            kept.extend_from_slice(&buffer[..read]);
            if kept.len() > 2 * STDERR_KEPT {
                kept.drain(..kept.len() - STDERR_KEPT);
            }
        }
        if kept.len() > STDERR_KEPT {
            kept.drain(..kept.len() - STDERR_KEPT);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Skips a child's lines up to [`STARTED`].
fn wait_for_start(out: &Lines, timeout: Duration) -> Start {
    let deadline = Instant::now() + timeout;
    let mut no_test = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match out.lines.recv_timeout(left) {
            Ok(line) if line == STARTED => return Start::Started,
            Ok(line) => no_test |= line.contains("running 0 tests"),
            Err(RecvTimeoutError::Timeout) => return Start::Timeout,
            Err(RecvTimeoutError::Disconnected) => return Start::Exited { no_test },
        }
    }
}

/// A seed from the clock and the process id.
fn clock_seed() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::from(now.subsec_nanos()) ^ now.as_secs().rotate_left(32) ^ u64::from(std::process::id())
}

/// xorshift64, seeded through one splitmix64 round so that nearby seeds start far apart.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        // xorshift must not start at 0.
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The kill test's directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, KillError> {
        super::scratch_dir("kill")
            .map(Self)
            .map_err(KillError::Setup)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
