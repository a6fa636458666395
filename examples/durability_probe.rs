//! A program for outside checks of the durability promise: a crash test drives it as a child
//! process, kills it with SIGKILL, and reads back what survived.
//!
//! ```text
//! durability_probe run     --db FILE --actors N --clients C [--seconds S] [--restore-every-ms M]
//! durability_probe dump    --db FILE --actors N
//! durability_probe kv-run  --db FILE --keys N --clients C [--seconds S]
//! durability_probe kv-dump --db FILE --keys N
//! ```
//!
//! `run` opens a system on FILE, gets or creates N counter actors (`ProbeCounter`) keyed
//! `k0` … `k{N-1}`, and starts C client tasks that loop forever: pick an actor at random, ask
//! it to increment by one, and once the reply arrives (so the new value is durable) print
//! exactly one line `ack <key> <value>` to stdout, flushed at once. Nothing else goes to
//! stdout; errors and logs go to stderr. It runs until killed, or for S seconds, after which it
//! shuts the system down and exits 0. Run it again on the same file and the counters go on.
//!
//! With `--restore-every-ms M`, `run` takes a restore point at most every M milliseconds and
//! keeps them all (`tests/restore_points.rs` restores each and checks it against the acks).
//!
//! `dump` opens FILE and prints `state <key> <value>` for each of the N keys, read through the
//! public API (a key never created prints 0), then shuts down and exits 0. On any error it
//! prints the error and its causes to stderr and exits 1.
//!
//! `kv-run` and `kv-dump` do the same for the key-value store `probe`: each client atomically
//! increments the integer at a random key and prints `kvack <key> <value>` once it is durable;
//! `kv-dump` prints `kv <key> <value>` (0 for a missing key).
//!
//! Bad arguments print this usage to stderr and exit 2.
//!
//! `tests/crash.rs` kills `run` and `kv-run` at random moments, over and over, and checks with
//! `dump` and `kv-dump` that no acknowledged value was lost and that values only go up.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actor_core::{Actor, Ctx, ReadOutcome, RestorePoints, StartError, System};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

const USAGE: &str = "\
usage: durability_probe run     --db FILE --actors N --clients C [--seconds S] [--restore-every-ms M]
       durability_probe dump    --db FILE --actors N
       durability_probe kv-run  --db FILE --keys N --clients C [--seconds S]
       durability_probe kv-dump --db FILE --keys N";

/// A counter that only ever goes up by one.
#[derive(Serialize, Deserialize, Default)]
struct ProbeCounter {
    value: u64,
}

/// The counter's actions.
enum ProbeAction {
    /// Adds one; replies with the new value.
    Increment,
    /// Replies with the value (read-only: writes nothing).
    Get,
}

impl Actor for ProbeCounter {
    const NAME: &'static str = "ProbeCounter";
    type Input = ();
    type Action = ProbeAction;
    type Reply = u64;
    type Error = Infallible;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self::default()
    }

    async fn handle(
        &mut self,
        action: ProbeAction,
        _ctx: &mut Ctx<Self>,
    ) -> Result<u64, Infallible> {
        match action {
            ProbeAction::Increment => self.value += 1,
            ProbeAction::Get => {}
        }
        Ok(self.value)
    }

    async fn handle_read(&self, action: ProbeAction, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match action {
            ProbeAction::Get => ReadOutcome::Done(Ok(self.value)),
            ProbeAction::Increment => ReadOutcome::NeedsWrite(action),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Run,
    Dump,
    KvRun,
    KvDump,
}

impl Command {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "run" => Some(Self::Run),
            "dump" => Some(Self::Dump),
            "kv-run" => Some(Self::KvRun),
            "kv-dump" => Some(Self::KvDump),
            _ => None,
        }
    }

    /// The flag that gives the number of keys.
    fn count_flag(self) -> &'static str {
        match self {
            Self::Run | Self::Dump => "--actors",
            Self::KvRun | Self::KvDump => "--keys",
        }
    }

    fn runs_clients(self) -> bool {
        matches!(self, Self::Run | Self::KvRun)
    }
}

#[derive(Debug)]
struct Options {
    command: Command,
    db: String,
    count: usize,
    clients: usize,
    seconds: Option<u64>,
    /// Take a restore point at most every this many milliseconds (`run` only), keeping all.
    restore_every_ms: Option<u64>,
}

/// Parses the arguments after the program name; `None` if they are not valid.
fn parse(mut args: impl Iterator<Item = String>) -> Option<Options> {
    let command = Command::parse(&args.next()?)?;
    let (mut db, mut count, mut clients, mut seconds) = (None, None, None, None);
    let mut restore_every_ms = None;
    while let Some(flag) = args.next() {
        let value = args.next()?;
        let slot_was_empty = match flag.as_str() {
            "--db" if !value.is_empty() => db.replace(value).is_none(),
            f if f == command.count_flag() => count.replace(value.parse().ok()?).is_none(),
            "--clients" if command.runs_clients() => clients.replace(value.parse().ok()?).is_none(),
            "--seconds" if command.runs_clients() => seconds.replace(value.parse().ok()?).is_none(),
            "--restore-every-ms" if command == Command::Run => {
                restore_every_ms.replace(value.parse().ok()?).is_none()
            }
            _ => return None,
        };
        // A flag given twice is a mistake, not a preference.
        if !slot_was_empty {
            return None;
        }
    }
    let count = count.filter(|&n: &usize| n > 0)?;
    let clients = if command.runs_clients() {
        clients.filter(|&c: &usize| c > 0)?
    } else {
        0
    };
    Some(Options {
        command,
        db: db?,
        count,
        clients,
        seconds,
        restore_every_ms,
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(options) = parse(args.into_iter()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    // actor-core logs through `tracing`: to stderr, so that stdout stays the probe's alone.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("durability_probe: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match options.command {
            Command::Run => run(&options).await,
            Command::Dump => dump(&options).await,
            Command::KvRun => kv_run(&options).await,
            Command::KvDump => kv_dump(&options).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("durability_probe: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str("\n  caused by: ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The keys `k0` … `k{count-1}`.
fn keys(count: usize) -> impl Iterator<Item = String> {
    (0..count).map(|i| format!("k{i}"))
}

async fn run(options: &Options) -> Result<(), BoxError> {
    let mut builder = System::builder().path(&options.db);
    if let Some(ms) = options.restore_every_ms {
        builder = builder
            .restore_points(RestorePoints::every(Duration::from_millis(ms)).keep(usize::MAX));
    }
    let system = builder.open().await?;
    let mut actors = Vec::with_capacity(options.count);
    for key in keys(options.count) {
        match system.get_or_create::<ProbeCounter>(key).await {
            Ok(actor) => actors.push(actor),
            Err(e) => {
                system.shutdown().await;
                return Err(e.into());
            }
        }
    }
    let actors = Arc::new(actors);
    let result = drive_clients(options, move |rng: &mut XorShift| {
        let actor = &actors[rng.below(actors.len())];
        let actor = actor.clone();
        async move {
            match actor.ask(ProbeAction::Increment).await {
                Ok(value) => Ok(format!("ack {} {value}\n", actor.key())),
                Err(e) => Err(format!("increment of {} failed: {e}", actor.key())),
            }
        }
    })
    .await;
    system.shutdown().await;
    result
}

async fn kv_run(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let store = system.kv("probe")?;
    let keys: Arc<Vec<String>> = Arc::new(keys(options.count).collect());
    let result = drive_clients(options, move |rng: &mut XorShift| {
        let key = keys[rng.below(keys.len())].clone();
        let store = store.clone();
        async move {
            match store.increment(&key, 1).await {
                Ok(value) => Ok(format!("kvack {key} {value}\n")),
                Err(e) => Err(format!("increment of {key} failed: {e}")),
            }
        }
    })
    .await;
    system.shutdown().await;
    result
}

/// Runs `options.clients` tasks that each loop: call `step` and print the line it returns
/// (one write, flushed at once, under the stdout lock), or log its error to stderr. Returns
/// after `options.seconds` with every client stopped, or never without `--seconds`; early
/// with an error if stdout is gone.
async fn drive_clients<F, Fut>(options: &Options, step: F) -> Result<(), BoxError>
where
    F: Fn(&mut XorShift) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<String, String>> + Send,
{
    let stdout_gone = Arc::new(Notify::new());
    let mut clients = Vec::with_capacity(options.clients);
    for client in 0..options.clients {
        let step = step.clone();
        let stdout_gone = Arc::clone(&stdout_gone);
        let mut rng = XorShift::seeded(client);
        clients.push(tokio::spawn(async move {
            loop {
                match step(&mut rng).await {
                    Ok(line) => {
                        // One write of the whole line, so a kill cannot leave half of it.
                        let mut out = std::io::stdout().lock();
                        if out
                            .write_all(line.as_bytes())
                            .and_then(|()| out.flush())
                            .is_err()
                        {
                            stdout_gone.notify_one();
                            return;
                        }
                    }
                    Err(message) => {
                        eprintln!("durability_probe: {message}");
                        // Errors are not expected here; do not spin on them.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    let deadline = async {
        match options.seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        () = deadline => Ok(()),
        () = stdout_gone.notified() => Err("stdout is closed".into()),
    };
    for client in &clients {
        client.abort();
    }
    for client in clients {
        // Cancelled is what an aborted client returns; a panic is worth passing on.
        if let Err(e) = client.await
            && e.is_panic()
        {
            return Err(format!("a client panicked: {e}").into());
        }
    }
    result
}

async fn dump(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let result = async {
        let mut lines = String::new();
        for key in keys(options.count) {
            let value = match system.get::<ProbeCounter>(key.as_str()).await {
                Ok(actor) => actor.ask(ProbeAction::Get).await?,
                Err(StartError::NotFound(_)) => 0,
                Err(e) => return Err(e.into()),
            };
            writeln!(lines, "state {key} {value}")?;
        }
        print_all(&lines)
    }
    .await;
    system.shutdown().await;
    result
}

async fn kv_dump(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let store = system.kv("probe")?;
    let result = async {
        let mut lines = String::new();
        for key in keys(options.count) {
            let value = store.get(&key).await?.unwrap_or_else(|| "0".to_owned());
            writeln!(lines, "kv {key} {value}")?;
        }
        print_all(&lines)
    }
    .await;
    system.shutdown().await;
    result
}

fn print_all(text: &str) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A xorshift64 generator: enough to pick keys, no extra crates.
struct XorShift(u64);

impl XorShift {
    /// Seeded from the clock, the process id and the client number.
    fn seeded(client: usize) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut seed = u64::from(now.subsec_nanos())
            ^ now.as_secs().rotate_left(32)
            ^ u64::from(std::process::id()).rotate_left(16)
            ^ (client as u64)
                .wrapping_add(1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // One splitmix64 round spreads nearby seeds apart; xorshift must not start at 0.
        seed = (seed ^ (seed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        seed = (seed ^ (seed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((seed ^ (seed >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        usize::try_from(self.next() % n).expect("below n, which is a usize")
    }
}
