//! A mixed-workload kill loop: one program, two roles.
//!
//! As the **child** (`TORTURE_CHILD=<db file>`, with `TORTURE_EPOCH` and `TORTURE_CHILD_SEED`)
//! it opens a system on the file and runs until killed: [`CLIENTS`] client tasks over
//! [`NODES`] actors and a key-value store, mixing direct actions, actor-to-actor relays (an
//! action that asks another actor through `ctx.system()` before updating itself), per-client
//! key-value sets, shared `increment`s, and actions that panic after mutating state. Every
//! outcome is one line on stdout, written and flushed at once:
//!
//! ```text
//! ready                          all actors are up; the parent may kill from now on
//! A n<i> <client> <seq> <n>      node i stored last[client] = seq, its applied count is n
//! R n<i> n<j> <client> <seq>     node j stored relay_in[client] = seq, then node i relay_out
//! Q n<i> n<j> <client> <seq>     node j stored relay_in[client] = seq, then node i panicked
//! P n<i> <client> <seq>          node i panicked after mutating (last[client] = seq, poisoned)
//! K <client> <seq>               key c<client> = seq
//! I <k> <value> <client> <seq>   key ctr<k> incremented to value
//! E <client> <seq> <message>     an operation failed (never expected)
//! ```
//!
//! Sequence numbers are `epoch * 1_000_000_000 + n`, `n` counting each client's operations
//! from 1, so they keep increasing across runs and one model accumulates over all rounds.
//!
//! As the **parent** (the default) it spawns itself as the child, waits for `ready`, lets it
//! work 30–400 ms, SIGKILLs it, and opens the file with [`System::open`] to check every
//! acknowledged effect against the model: nothing acknowledged is lost, nothing ever stored
//! is newer than what was issued, no panicking action's mutation is on disk, every record
//! decodes, and nothing goes back between rounds. It also fails if more than a few rounds
//! acknowledged nothing between `ready` and the kill (a stuck child proves nothing).
//!
//! `TORTURE_KILLS` (default 20) sets the number of kills; `TORTURE_SEED` replays a seed's kill
//! delays and the child's choices of operations (not the thread timing); `TORTURE_VERBOSE`
//! prints a line per round. On a violation it prints the round, the seeds and what was
//! found, keeps the temp dir (the file and the child's stderr), and exits 1.

#[path = "support/errors.rs"]
mod errors;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorConfig, AskError, Ctx, Handle, KvStore, ReadOutcome, RestartPolicy, System,
};
use errors::chain;
use scratch::{TempDir, XorShift};
use serde::{Deserialize, Serialize};

/// Actors `n0` … `n63`.
const NODES: usize = 64;
/// Concurrent client tasks in the child.
const CLIENTS: u32 = 12;
/// Shared counters `ctr0` … `ctr3` in the key-value store.
const COUNTERS: usize = 4;
/// The key-value store the child writes.
const STORE: &str = "torture";
/// Sequence numbers of epoch `e` are `e * EPOCH + n`.
const EPOCH: u64 = 1_000_000_000;
/// Kills when `TORTURE_KILLS` is not set.
const DEFAULT_KILLS: usize = 20;
/// Shortest and longest time between `ready` and the kill, in ms.
const KILL_AFTER_MS: (u64, u64) = (30, 400);
/// Longest wait for `ready`, or for the parent's check of the file, before it counts as hung.
const PATIENCE: Duration = Duration::from_secs(30);
/// Nodes go to sleep after this much idle time, so that kills also hit sleeps and wakes.
const SLEEP_AFTER: Duration = Duration::from_millis(40);
/// Every planned panic's message starts with this (the child's panic hook keeps them quiet).
const PLANNED: &str = "planned panic";

fn main() -> ExitCode {
    match std::env::var_os("TORTURE_CHILD") {
        Some(db) => child(PathBuf::from(db)),
        None => parent(),
    }
}

// ---------------------------------------------------------------------------------------------
// The actor

/// One node of the workload. Every field holds sequence numbers or counts the parent checks.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
struct Node {
    /// Client → the seq of its last direct action here.
    last: BTreeMap<u32, u64>,
    /// Client → the seq of its last relay from here (stored after the target has it).
    relay_out: BTreeMap<u32, u64>,
    /// Client → the seq of its last relay into here.
    relay_in: BTreeMap<u32, u64>,
    /// Successful mutating actions here.
    applied: u64,
    /// Bumped only by actions that then panic: must read 0 on disk forever.
    poisoned: u64,
}

#[derive(Debug)]
enum NodeAction {
    /// `last[client] = seq`.
    Bump { client: u32, seq: u64 },
    /// Asks `to` to `Receive`, then `relay_out[client] = seq`; with `then_panic`, it also
    /// bumps `poisoned` and panics instead of returning.
    Relay {
        to: String,
        client: u32,
        seq: u64,
        then_panic: bool,
    },
    /// `relay_in[client] = seq`.
    Receive { client: u32, seq: u64 },
    /// Mutates (`poisoned`, `last`, `applied`), then panics.
    Poison { client: u32, seq: u64 },
    /// Read-only: the whole state.
    Dump,
}

#[derive(Debug)]
enum NodeReply {
    Applied(u64),
    State(Box<Node>),
}

/// Why a node action failed (only a relay can).
#[derive(Debug)]
struct Failed(String);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}

impl Actor for Node {
    const NAME: &'static str = "TortureNode";
    type Input = ();
    type Action = NodeAction;
    type Reply = NodeReply;
    type Error = Failed;
    type Event = ();

    fn create_state((): ()) -> Self {
        Self::default()
    }

    fn config() -> ActorConfig {
        // Panics are the workload here, not a crash loop: never stop, barely back off.
        let restart = RestartPolicy::new(u32::MAX, Duration::from_secs(1))
            .backoff(Duration::from_millis(1), Duration::from_millis(2));
        ActorConfig::default()
            .restart(restart)
            .sleep_after(Some(SLEEP_AFTER))
    }

    async fn handle(
        &mut self,
        action: NodeAction,
        ctx: &mut Ctx<Self>,
    ) -> Result<NodeReply, Failed> {
        match action {
            NodeAction::Bump { client, seq } => {
                self.last.insert(client, seq);
                self.applied += 1;
            }
            NodeAction::Receive { client, seq } => {
                self.relay_in.insert(client, seq);
                self.applied += 1;
            }
            NodeAction::Relay {
                to,
                client,
                seq,
                then_panic,
            } => {
                let system = ctx
                    .system()
                    .ok_or_else(|| Failed("the system is gone".to_owned()))?;
                let target = system
                    .get::<Node>(to.as_str())
                    .await
                    .map_err(|e| Failed(format!("get {to}: {}", chain(&e))))?;
                target
                    .ask(NodeAction::Receive { client, seq })
                    .await
                    .map_err(|e| Failed(format!("receive on {to}: {}", chain(&e))))?;
                self.relay_out.insert(client, seq);
                if then_panic {
                    self.poisoned += 1;
                    panic!("{PLANNED}: {} relayed {client}/{seq} to {to}", ctx.key());
                }
                self.applied += 1;
            }
            NodeAction::Poison { client, seq } => {
                self.poisoned += 1;
                self.last.insert(client, seq);
                self.applied += 1;
                panic!("{PLANNED}: {} poisoned by {client}/{seq}", ctx.key());
            }
            NodeAction::Dump => {}
        }
        Ok(NodeReply::Applied(self.applied))
    }

    async fn handle_read(&self, action: NodeAction, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
        match action {
            NodeAction::Dump => ReadOutcome::Done(Ok(NodeReply::State(Box::new(self.clone())))),
            other => ReadOutcome::NeedsWrite(other),
        }
    }
}

fn node_key(i: usize) -> String {
    format!("n{i}")
}

// ---------------------------------------------------------------------------------------------
// The child

fn child(db: PathBuf) -> ExitCode {
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("the child needs {name}"))
    };
    let (epoch, seed) = (number("TORTURE_EPOCH"), number("TORTURE_CHILD_SEED"));
    quiet_planned_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let system = match System::open(&db).await {
            Ok(system) => system,
            Err(e) => {
                eprintln!("torture child: cannot open {}: {}", db.display(), chain(&e));
                return ExitCode::FAILURE;
            }
        };
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            match system.get_or_create::<Node>(node_key(i)).await {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    eprintln!("torture child: cannot start {}: {}", node_key(i), chain(&e));
                    return ExitCode::FAILURE;
                }
            }
        }
        emit("ready\n");
        let nodes = Arc::new(nodes);
        let mut rng = XorShift::new(seed);
        for client in 0..CLIENTS {
            let workload = Workload {
                kv: system.kv(STORE).unwrap(),
                nodes: Arc::clone(&nodes),
                client,
                rng: XorShift::new(rng.next()),
            };
            tokio::spawn(workload.run(epoch));
        }
        // Until the kill.
        std::future::pending::<ExitCode>().await
    })
}

/// Planned panics are the workload: keep them off stderr, and let any other panic through.
fn quiet_planned_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if !message.is_some_and(|m| m.starts_with(PLANNED)) {
            default(info);
        }
    }));
}

/// Writes one whole line and flushes it; exits if the parent is gone.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(3);
    }
}

/// One client task of the child.
struct Workload {
    kv: KvStore,
    nodes: Arc<Vec<Handle<Node>>>,
    client: u32,
    rng: XorShift,
}

impl Workload {
    async fn run(mut self, epoch: u64) {
        for n in 1.. {
            let line = self.step(epoch * EPOCH + n).await;
            emit(&line);
        }
    }

    /// One operation with sequence number `seq`; returns the line that reports it.
    async fn step(&mut self, seq: u64) -> String {
        let client = self.client;
        let error = |what: &str, e: &dyn std::error::Error| {
            format!("E {client} {seq} {what}: {}\n", chain(e))
        };
        let roll = self.rng.below(100);
        match roll {
            0..35 => {
                let i = self.rng.below(NODES);
                match self.nodes[i].ask(NodeAction::Bump { client, seq }).await {
                    Ok(NodeReply::Applied(n)) => format!("A n{i} {client} {seq} {n}\n"),
                    Ok(NodeReply::State(_)) => format!("E {client} {seq} bump n{i} dumped\n"),
                    Err(e) => error(&format!("bump n{i}"), &e),
                }
            }
            35..60 => {
                // Only towards higher indices, so relays never wait on each other in a cycle.
                let from = self.rng.below(NODES - 1);
                let to = from + 1 + self.rng.below(NODES - 1 - from);
                let then_panic = roll >= 55;
                let action = NodeAction::Relay {
                    to: node_key(to),
                    client,
                    seq,
                    then_panic,
                };
                match (self.nodes[from].ask(action).await, then_panic) {
                    (Ok(_), false) => format!("R n{from} n{to} {client} {seq}\n"),
                    (Err(AskError::Panicked { .. }), true) => {
                        format!("Q n{from} n{to} {client} {seq}\n")
                    }
                    (Ok(_), true) => format!("E {client} {seq} relay n{from} did not panic\n"),
                    (Err(e), _) => error(&format!("relay n{from} -> n{to}"), &e),
                }
            }
            60..65 => {
                let i = self.rng.below(NODES);
                match self.nodes[i].ask(NodeAction::Poison { client, seq }).await {
                    Err(AskError::Panicked { .. }) => format!("P n{i} {client} {seq}\n"),
                    Ok(_) => format!("E {client} {seq} poison n{i} did not panic\n"),
                    Err(e) => error(&format!("poison n{i}"), &e),
                }
            }
            65..80 => match self.kv.set(&format!("c{client}"), seq.to_string()).await {
                Ok(()) => format!("K {client} {seq}\n"),
                Err(e) => error(&format!("set c{client}"), &e),
            },
            _ => {
                let k = self.rng.below(COUNTERS);
                match self.kv.increment(&format!("ctr{k}"), 1).await {
                    Ok(value) => format!("I {k} {value} {client} {seq}\n"),
                    Err(e) => error(&format!("increment ctr{k}"), &e),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the child printed

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Bump,
    Relay,
    RelayPanic,
    Poison,
    Set,
    Increment,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Bump,
        Kind::Relay,
        Kind::RelayPanic,
        Kind::Poison,
        Kind::Set,
        Kind::Increment,
    ];

    fn tag(self) -> &'static str {
        match self {
            Kind::Bump => "A",
            Kind::Relay => "R",
            Kind::RelayPanic => "Q",
            Kind::Poison => "P",
            Kind::Set => "K",
            Kind::Increment => "I",
        }
    }
}

/// One line of the child's stdout after `ready`.
#[derive(Debug)]
enum Line {
    Bump {
        node: usize,
        client: u32,
        seq: u64,
        /// The node's `applied` count in the reply.
        applied: u64,
    },
    /// `R` (`panicked` false) or `Q` (true).
    Relay {
        from: usize,
        to: usize,
        client: u32,
        seq: u64,
        panicked: bool,
    },
    Poison {
        node: usize,
        client: u32,
        seq: u64,
    },
    Set {
        client: u32,
        seq: u64,
    },
    Increment {
        counter: usize,
        value: i64,
        client: u32,
        seq: u64,
    },
    Error {
        client: u32,
        seq: u64,
        message: String,
    },
}

impl Line {
    fn parse(text: &str) -> Option<Self> {
        let fields: Vec<&str> = text.split(' ').collect();
        let node = |s: &str| {
            s.strip_prefix('n')?
                .parse::<usize>()
                .ok()
                .filter(|&i| i < NODES)
        };
        let client = |s: &str| s.parse::<u32>().ok().filter(|&c| c < CLIENTS);
        let seq = |s: &str| s.parse::<u64>().ok();
        Some(match fields[..] {
            ["A", n, c, s, a] => Line::Bump {
                node: node(n)?,
                client: client(c)?,
                seq: seq(s)?,
                applied: a.parse().ok()?,
            },
            [tag @ ("R" | "Q"), f, t, c, s] => Line::Relay {
                from: node(f)?,
                to: node(t)?,
                client: client(c)?,
                seq: seq(s)?,
                panicked: tag == "Q",
            },
            ["P", n, c, s] => Line::Poison {
                node: node(n)?,
                client: client(c)?,
                seq: seq(s)?,
            },
            ["K", c, s] => Line::Set {
                client: client(c)?,
                seq: seq(s)?,
            },
            ["I", k, v, c, s] => Line::Increment {
                counter: k.parse().ok().filter(|&k| k < COUNTERS)?,
                value: v.parse().ok()?,
                client: client(c)?,
                seq: seq(s)?,
            },
            ["E", c, s, ..] => Line::Error {
                client: client(c)?,
                seq: seq(s)?,
                message: fields[3..].join(" "),
            },
            _ => return None,
        })
    }

    fn client_seq(&self) -> (u32, u64) {
        match *self {
            Line::Bump { client, seq, .. }
            | Line::Relay { client, seq, .. }
            | Line::Poison { client, seq, .. }
            | Line::Set { client, seq }
            | Line::Increment { client, seq, .. }
            | Line::Error { client, seq, .. } => (client, seq),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running one child

/// Everything one killed child printed after `ready`.
struct Run {
    lines: Vec<String>,
    /// A last line without its newline, cut off by the kill (discarded).
    cut_off: bool,
    kill_after: Duration,
}

/// Reads `stdout` to EOF on a thread, sending each complete line; returns whether the last
/// line was cut off.
fn read_lines(
    stdout: impl std::io::Read + Send + 'static,
    tx: mpsc::Sender<String>,
) -> JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&bytes);
            let Some(complete) = line.strip_suffix('\n') else {
                return true;
            };
            if tx.send(complete.to_owned()).is_err() {
                return false;
            }
        }
    })
}

/// Spawns the child for `epoch`, waits for `ready`, kills it after `kill_after`, and returns
/// what it printed; `Err` says why the round could not be played.
fn run_child(
    db: &Path,
    stderr: &Path,
    epoch: u64,
    seed: u64,
    kill_after: Duration,
) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let stderr_file =
        File::create(stderr).map_err(|e| format!("create {}: {e}", stderr.display()))?;
    let mut child = Command::new(exe)
        .env("TORTURE_CHILD", db)
        .env("TORTURE_EPOCH", epoch.to_string())
        .env("TORTURE_CHILD_SEED", seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr_file)
        .spawn()
        .map_err(|e| format!("spawn the child: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let reader = read_lines(child.stdout.take().expect("piped stdout"), tx);
    let ready = rx.recv_timeout(PATIENCE);
    let ready_ok = matches!(&ready, Ok(line) if line == "ready");
    if ready_ok {
        std::thread::sleep(kill_after);
    }
    let _ = child.kill();
    let status = child.wait().map_err(|e| format!("reap the child: {e}"))?;
    let cut_off = reader
        .join()
        .map_err(|_| "the stdout reader panicked".to_owned())?;
    let child_stderr = || tail(&std::fs::read_to_string(stderr).unwrap_or_default(), 40);
    if !ready_ok {
        return Err(format!(
            "no `ready` from the child within {PATIENCE:?} (got {ready:?}, {status}); stderr:\n{}",
            child_stderr()
        ));
    }
    if status.code().is_some() {
        return Err(format!(
            "the child exited by itself ({status}) before the kill; stderr:\n{}",
            child_stderr()
        ));
    }
    Ok(Run {
        lines: rx.try_iter().collect(),
        cut_off,
        kill_after,
    })
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// What is on disk

/// The file's contents, read through the public API in the parent.
struct Observed {
    nodes: Vec<Node>,
    /// Client → the value of `c<client>` (0 if missing).
    sets: Vec<u64>,
    /// The value of `ctr<k>` (0 if missing).
    counters: Vec<i64>,
}

/// Opens `db`, reads every node and key, and shuts the system down.
async fn observe(db: &Path) -> Result<Observed, String> {
    let system = System::open(db)
        .await
        .map_err(|e| format!("open {}: {}", db.display(), chain(&e)))?;
    let read = tokio::time::timeout(PATIENCE, read_all(&system)).await;
    system.shutdown().await;
    read.unwrap_or_else(|_| Err(format!("reading the file took over {PATIENCE:?}")))
}

async fn read_all(system: &System) -> Result<Observed, String> {
    let mut nodes = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let key = node_key(i);
        let node = system
            .get::<Node>(key.as_str())
            .await
            .map_err(|e| format!("{key} does not load: {}", chain(&e)))?;
        match node.ask(NodeAction::Dump).await {
            Ok(NodeReply::State(state)) => nodes.push(*state),
            Ok(NodeReply::Applied(_)) => return Err(format!("{key}: Dump did not dump")),
            Err(e) => return Err(format!("{key}: Dump failed: {}", chain(&e))),
        }
    }
    let kv = system.kv(STORE).unwrap();
    let get = async |key: String| -> Result<Option<String>, String> {
        kv.get(&key)
            .await
            .map_err(|e| format!("kv {key}: {}", chain(&e)))
    };
    let mut sets = Vec::new();
    for client in 0..CLIENTS {
        let raw = get(format!("c{client}")).await?;
        sets.push(match raw {
            None => 0,
            Some(v) => v.parse().map_err(|_| format!("c{client} holds {v:?}"))?,
        });
    }
    let mut counters = Vec::new();
    for k in 0..COUNTERS {
        let raw = get(format!("ctr{k}")).await?;
        counters.push(match raw {
            None => 0,
            Some(v) => v.parse().map_err(|_| format!("ctr{k} holds {v:?}"))?,
        });
    }
    Ok(Observed {
        nodes,
        sets,
        counters,
    })
}

// ---------------------------------------------------------------------------------------------
// The model

/// What was acknowledged for one node, over all rounds.
#[derive(Default)]
struct NodeModel {
    /// Client → highest acknowledged seq, per field.
    last: HashMap<u32, u64>,
    relay_out: HashMap<u32, u64>,
    relay_in: HashMap<u32, u64>,
    /// Acknowledged effects that each bumped `applied` once.
    applied: u64,
    /// The highest `applied` a reply reported.
    replied: u64,
}

/// Everything the child ever acknowledged, accumulated over all rounds.
struct Model {
    nodes: Vec<NodeModel>,
    /// Client → highest acknowledged `c<client>`.
    sets: HashMap<u32, u64>,
    /// Per counter: highest acknowledged value, and how many increments were acknowledged.
    counters: Vec<(i64, u64)>,
    /// Every acknowledged counter value: each increment makes a new one.
    counter_values: HashSet<(usize, i64)>,
    /// (client, seq) of every action that panicked → its node: none may be on disk.
    panicked: HashMap<(u32, u64), usize>,
    /// (client, epoch) → the highest seq in any line: the client issued at most one more.
    highest_line: HashMap<(u32, u64), u64>,
    /// Acknowledged lines by kind.
    counts: HashMap<Kind, u64>,
    rounds: u64,
    /// Rounds whose child acknowledged nothing between `ready` and the kill.
    idle_rounds: u64,
    cut_off: u64,
    /// The file as the previous round found it: nothing may go back.
    previous: Option<Observed>,
}

impl Model {
    fn new() -> Self {
        Self {
            nodes: (0..NODES).map(|_| NodeModel::default()).collect(),
            sets: HashMap::new(),
            counters: vec![(0, 0); COUNTERS],
            counter_values: HashSet::new(),
            panicked: HashMap::new(),
            highest_line: HashMap::new(),
            counts: HashMap::new(),
            rounds: 0,
            idle_rounds: 0,
            cut_off: 0,
            previous: None,
        }
    }

    /// Takes in one round's lines; problems with the lines themselves go to `bad`.
    fn absorb(&mut self, run: &Run, epoch: u64, bad: &mut Vec<String>) {
        self.rounds += 1;
        self.cut_off += u64::from(run.cut_off);
        let mut acks = 0;
        let mut last_seq: HashMap<u32, u64> = HashMap::new();
        for text in &run.lines {
            let Some(line) = Line::parse(text) else {
                bad.push(format!("the child printed an unexpected line: {text:?}"));
                continue;
            };
            let (client, seq) = line.client_seq();
            if seq / EPOCH != epoch || seq % EPOCH == 0 {
                bad.push(format!("line {text:?} has a seq outside epoch {epoch}"));
            }
            if last_seq
                .insert(client, seq)
                .is_some_and(|before| before >= seq)
            {
                bad.push(format!(
                    "client {client}'s seqs did not increase at {text:?}"
                ));
            }
            let high = self.highest_line.entry((client, seq / EPOCH)).or_default();
            *high = (*high).max(seq);
            if let Some(kind) = self.take(line, bad) {
                *self.counts.entry(kind).or_default() += 1;
                acks += 1;
            }
        }
        self.idle_rounds += u64::from(acks == 0);
    }

    /// Records one line; returns its kind if it acknowledged something.
    fn take(&mut self, line: Line, bad: &mut Vec<String>) -> Option<Kind> {
        let raise = |map: &mut HashMap<u32, u64>, client: u32, seq: u64| {
            let high = map.entry(client).or_default();
            *high = (*high).max(seq);
        };
        Some(match line {
            Line::Bump {
                node,
                client,
                seq,
                applied,
            } => {
                let model = &mut self.nodes[node];
                raise(&mut model.last, client, seq);
                model.applied += 1;
                model.replied = model.replied.max(applied);
                Kind::Bump
            }
            Line::Relay {
                from,
                to,
                client,
                seq,
                panicked,
            } => {
                // Either way the target's reply came back: its part is durable.
                raise(&mut self.nodes[to].relay_in, client, seq);
                self.nodes[to].applied += 1;
                if panicked {
                    self.panicked.insert((client, seq), from);
                    Kind::RelayPanic
                } else {
                    raise(&mut self.nodes[from].relay_out, client, seq);
                    self.nodes[from].applied += 1;
                    Kind::Relay
                }
            }
            Line::Poison { node, client, seq } => {
                self.panicked.insert((client, seq), node);
                Kind::Poison
            }
            Line::Set { client, seq } => {
                raise(&mut self.sets, client, seq);
                Kind::Set
            }
            Line::Increment { counter, value, .. } => {
                if !self.counter_values.insert((counter, value)) {
                    bad.push(format!(
                        "ctr{counter} = {value} was acknowledged twice: an acknowledged \
                         increment was lost and handed out again"
                    ));
                }
                let (high, count) = &mut self.counters[counter];
                *high = (*high).max(value);
                *count += 1;
                Kind::Increment
            }
            Line::Error {
                client,
                seq,
                message,
            } => {
                bad.push(format!("client {client}, seq {seq} failed: {message}"));
                return None;
            }
        })
    }

    /// The most a client may have issued in `seq`'s epoch: one past its last line there.
    fn issued_bound(&self, client: u32, seq: u64) -> u64 {
        let epoch = seq / EPOCH;
        self.highest_line
            .get(&(client, epoch))
            .copied()
            .unwrap_or(epoch * EPOCH)
            + 1
    }

    /// How much further than the acknowledged effects a stored count may be: one operation
    /// in flight per client per kill.
    fn slack(&self) -> u64 {
        self.rounds * u64::from(CLIENTS)
    }

    /// Checks a stored seq of `client` against what was acknowledged and issued.
    fn check_seq(
        &self,
        what: &str,
        client: u32,
        stored: u64,
        acked: u64,
        epoch: u64,
        out: &mut Vec<String>,
    ) {
        if stored < acked {
            out.push(format!(
                "{what}: {acked} was acknowledged, {stored} is on disk (lost)"
            ));
        }
        let stored_epoch = stored / EPOCH;
        if stored != 0 && (stored_epoch == 0 || stored_epoch > epoch) {
            out.push(format!(
                "{what}: {stored} on disk is from no epoch so far (1..={epoch})"
            ));
        } else if stored != 0 && stored > self.issued_bound(client, stored) {
            out.push(format!(
                "{what}: {stored} on disk was never issued (client issued at most {})",
                self.issued_bound(client, stored)
            ));
        }
    }

    /// Every violation of the model that `seen` shows.
    fn check(&self, seen: &Observed, epoch: u64) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (node, model)) in seen.nodes.iter().zip(&self.nodes).enumerate() {
            self.check_node(i, node, model, epoch, &mut out);
            if let Some(before) = self.previous.as_ref().map(|p| &p.nodes[i]) {
                went_back(&format!("n{i}"), before, node, &mut out);
            }
        }
        for client in 0..CLIENTS {
            let stored = seen.sets[client as usize];
            let acked = self.sets.get(&client).copied().unwrap_or(0);
            self.check_seq(
                &format!("kv c{client}"),
                client,
                stored,
                acked,
                epoch,
                &mut out,
            );
            if let Some(before) = self.previous.as_ref().map(|p| p.sets[client as usize])
                && stored < before
            {
                out.push(format!("kv c{client} went back from {before} to {stored}"));
            }
        }
        for (k, (&stored, &(high, count))) in seen.counters.iter().zip(&self.counters).enumerate() {
            if stored < high {
                out.push(format!(
                    "kv ctr{k}: {high} was acknowledged, {stored} is on disk (lost)"
                ));
            }
            let most = count + self.slack();
            if u64::try_from(stored).map_or(true, |s| s > most) {
                out.push(format!(
                    "kv ctr{k} is {stored} after {count} acknowledged increments and at most {} \
                     in flight",
                    self.slack()
                ));
            }
            if let Some(before) = self.previous.as_ref().map(|p| p.counters[k])
                && stored < before
            {
                out.push(format!("kv ctr{k} went back from {before} to {stored}"));
            }
        }
        out
    }

    fn check_node(
        &self,
        i: usize,
        node: &Node,
        model: &NodeModel,
        epoch: u64,
        out: &mut Vec<String>,
    ) {
        if node.poisoned != 0 {
            out.push(format!(
                "n{i}: poisoned = {} on disk: a panicking action's state was persisted",
                node.poisoned
            ));
        }
        let fields = [
            ("last", &node.last, &model.last),
            ("relay_out", &node.relay_out, &model.relay_out),
            ("relay_in", &node.relay_in, &model.relay_in),
        ];
        for (name, stored, acked) in fields {
            for (&client, &high) in acked {
                let what = format!("n{i}.{name}[{client}]");
                let value = stored.get(&client).copied().unwrap_or(0);
                self.check_seq(&what, client, value, high, epoch, out);
            }
            for (&client, &value) in stored {
                let what = format!("n{i}.{name}[{client}]");
                if !acked.contains_key(&client) {
                    // Never acknowledged: only the bounds apply.
                    self.check_seq(&what, client, value, 0, epoch, out);
                }
                // A relay that panicked left its target's relay_in legitimately.
                if let Some(culprit) = self.panicked.get(&(client, value))
                    && name != "relay_in"
                {
                    out.push(format!(
                        "{what} = {value} on disk is the seq of an action that panicked on n{culprit}"
                    ));
                }
            }
        }
        if node.applied < model.replied {
            out.push(format!(
                "n{i}.applied: a reply reported {}, {} is on disk (lost)",
                model.replied, node.applied
            ));
        }
        if node.applied < model.applied {
            out.push(format!(
                "n{i}.applied: {} effects were acknowledged, {} on disk (lost)",
                model.applied, node.applied
            ));
        }
        if node.applied > model.applied + self.slack() {
            out.push(format!(
                "n{i}.applied is {} after {} acknowledged effects and at most {} in flight",
                node.applied,
                model.applied,
                self.slack()
            ));
        }
    }
}

/// Reports anything in `now` below what `before` (an earlier round) found on disk.
fn went_back(name: &str, before: &Node, now: &Node, out: &mut Vec<String>) {
    let fields = [
        ("last", &before.last, &now.last),
        ("relay_out", &before.relay_out, &now.relay_out),
        ("relay_in", &before.relay_in, &now.relay_in),
    ];
    for (field, before, now) in fields {
        for (client, &old) in before {
            let new = now.get(client).copied().unwrap_or(0);
            if new < old {
                out.push(format!(
                    "{name}.{field}[{client}] went back from {old} to {new}"
                ));
            }
        }
    }
    if now.applied < before.applied {
        out.push(format!(
            "{name}.applied went back from {} to {}",
            before.applied, now.applied
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// The parent

fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let number = raw
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name}={raw:?} is not a number: {e}"));
    Some(number)
}

fn parent() -> ExitCode {
    let kills = env_number("TORTURE_KILLS")
        .map_or(DEFAULT_KILLS, |n| usize::try_from(n).expect("a kill count"));
    let seed = env_number("TORTURE_SEED").unwrap_or_else(XorShift::clock_seed);
    println!("torture: seed {seed} (TORTURE_SEED={seed} replays it), {kills} kills");
    let mut dir = TempDir::new("torture");
    let db = dir.path().join("torture.redb");
    let stderr = dir.path().join("child.stderr");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut rng = XorShift::new(seed);
    let mut model = Model::new();
    let started = Instant::now();
    for round in 1..=kills {
        let epoch = round as u64;
        let child_seed = rng.next();
        let kill_after = Duration::from_millis(rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        let fail = |dir: &mut TempDir, problems: &[String]| {
            dir.keep();
            eprintln!(
                "torture: FAILED in round {round} of {kills} (seed {seed}, child seed {child_seed}, \
                 killed after {kill_after:?}); file and child stderr kept in {}",
                dir.path().display()
            );
            for problem in problems.iter().take(30) {
                eprintln!("torture: violation: {problem}");
            }
            if problems.len() > 30 {
                eprintln!("torture: ... and {} more", problems.len() - 30);
            }
            ExitCode::FAILURE
        };
        let run = match run_child(&db, &stderr, epoch, child_seed, kill_after) {
            Ok(run) => run,
            Err(problem) => return fail(&mut dir, &[problem]),
        };
        let mut problems = Vec::new();
        model.absorb(&run, epoch, &mut problems);
        match runtime.block_on(observe(&db)) {
            Ok(found) => {
                problems.extend(model.check(&found, epoch));
                model.previous = Some(found);
            }
            Err(problem) => problems.push(problem),
        }
        if !problems.is_empty() {
            return fail(&mut dir, &problems);
        }
        if std::env::var_os("TORTURE_VERBOSE").is_some() {
            println!(
                "torture: round {round}: {} lines, killed after {:?}",
                run.lines.len(),
                run.kill_after
            );
        }
    }
    let allowed_idle = 2 + model.rounds / 25;
    if model.idle_rounds > allowed_idle {
        eprintln!(
            "torture: FAILED (seed {seed}): {} of {} rounds acknowledged nothing between ready \
             and the kill (at most {allowed_idle} allowed): the child is stuck",
            model.idle_rounds, model.rounds
        );
        return ExitCode::FAILURE;
    }
    summary(&model, kills, started.elapsed());
    ExitCode::SUCCESS
}

fn summary(model: &Model, kills: usize, elapsed: Duration) {
    let count = |kind: Kind| model.counts.get(&kind).copied().unwrap_or(0);
    let total: u64 = Kind::ALL.iter().map(|&k| count(k)).sum();
    let by_kind: Vec<String> = Kind::ALL
        .iter()
        .map(|&k| format!("{} {}", k.tag(), count(k)))
        .collect();
    println!(
        "torture: {kills} kills, {} rounds checked, {total} acknowledged effects checked ({}), \
         {} panics observed, {} idle rounds, {} lines cut off by a kill, elapsed {elapsed:.1?}",
        model.rounds,
        by_kind.join(", "),
        count(Kind::Poison) + count(Kind::RelayPanic),
        model.idle_rounds,
        model.cut_off,
    );
}
