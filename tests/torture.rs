//! A mixed-workload kill loop: one program, two roles.
//!
//! As the **child** (`TORTURE_CHILD=<db file>`, with `TORTURE_EPOCH` and `TORTURE_CHILD_SEED`)
//! it opens a system on the file and runs until killed: [`CLIENTS`] client tasks over
//! [`NODES`] actors and a key-value store, mixing direct actions, actor-to-actor relays (an
//! action that asks another actor through `ctx.system()` before updating itself), outbox
//! sends (an action that `ctx.send`s a `Deliver` to any node, itself included, applied there
//! later in a turn of its own), schedules (an action that schedules its own `Tick` 0–30 ms
//! later), per-client key-value sets, shared `increment`s, and actions that panic after
//! mutating state. Every `Bump` also emits an event; the child subscribes to [`WATCHED`]
//! nodes and prints what they emit. Every outcome is one line on stdout, written and flushed
//! at once:
//!
//! ```text
//! ready                          all actors are up; the parent may kill from now on
//! A n<i> <client> <seq> <n>      node i stored last[client] = seq, its applied count is n
//! R n<i> n<j> <client> <seq>     node j stored relay_in[client] = seq, then node i relay_out
//! Q n<i> n<j> <client> <seq>     node j stored relay_in[client] = seq, then node i panicked
//! P n<i> <client> <seq>          node i panicked after mutating (last[client] = seq, poisoned)
//! S n<i> n<j> <client> <seq> <n> node i stored sent[client] = seq with a Deliver to node j
//! T n<i> <client> <seq> <n>      node i stored scheduled[client] = seq with a Tick of seq
//! K <client> <seq>               key c<client> = seq
//! I <k> <value> <client> <seq>   key ctr<k> incremented to value
//! V n<i> <client> <seq>          a subscriber of node i got the event of Bump <client> <seq>
//! L n<i> <missed>                a subscriber of node i lagged and missed that many events
//! E <client> <seq> <message>     an operation failed (never expected)
//! ```
//!
//! Sequence numbers are `epoch * 1_000_000_000 + n`, `n` counting each client's operations
//! from 1, so they keep increasing across runs and one model accumulates over all rounds.
//!
//! As the **parent** (the default) it spawns itself as the child, waits for `ready`, lets it
//! work 30–400 ms, and SIGKILLs it. It first reads the file **at rest**, straight from
//! storage ([`RedbStorage`], before any system can deliver or fire anything): per sender and
//! receiver, the sends made equal the deliveries applied plus the outbox messages pending;
//! per node, the schedules made equal the ticks fired plus the schedules pending; and no
//! pending message or schedule was applied already (its removal commits with its turn). Then
//! it opens the file with [`System::open`] to check every acknowledged effect against the
//! model: nothing acknowledged is lost, nothing ever stored is newer than what was issued, no
//! panicking action's mutation is on disk, every record decodes, and nothing goes back
//! between rounds (nor between the two passes of one observation). Reading a node declares its type, so deliveries and ticks left pending by
//! the kill run while the parent reads: it reads every node twice and compares what
//! receivers applied in the first pass with what senders sent in the second. The checks of
//! the durable turn's effects, each round:
//!
//! - sends: no acknowledged send lost (`sent[client]` and the send count); per sender and
//!   receiver, deliveries never exceed sends; a delivered seq was sent by its sender (at most
//!   its `sent[client]`, and issued); no delivery applied twice or out of order (`dups` = 0);
//! - schedules: no acknowledged schedule lost; ticks never exceed schedules; no tick twice
//!   (`tick_dups` = 0); a tick's seq is an acknowledged schedule of that node, or the one
//!   operation its client had in flight at a kill;
//! - events: a subscriber's seqs per node and client increase, and an event seen means its
//!   state was durable: the next observation finds `last[client]` at least that seq.
//!
//! Deliveries and ticks happen outside the clients' operations and leave `applied` alone,
//! so its bounds still hold. After the last round the parent **drains**: it opens the file
//! with `Node` declared and waits (at most [`DRAIN_PATIENCE`]) until every send is delivered
//! and every schedule has ticked, then checks once: deliveries equal sends per pair, every
//! acknowledged send's seq reached its receiver, every acknowledged schedule's seq is among
//! its node's ticks, still nothing twice, and at rest nothing is left pending in the file.
//! It also fails if more than a few rounds acknowledged nothing between `ready` and the kill
//! (a stuck child proves nothing).
//!
//! `TORTURE_KILLS` (default 20) sets the number of kills; `TORTURE_SEED` replays a seed's kill
//! delays and the child's choices of operations (not the thread timing); `TORTURE_VERBOSE`
//! prints a line per round. On a violation it prints the round, the seeds and what was
//! found, keeps the temp dir (the file and the child's stderr), and exits 1.

#[path = "support/errors.rs"]
mod errors;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorConfig, AskError, Ctx, DecodeError, EncodeError, EventLag, Handle, KvStore,
    ReadOutcome, Record, RedbOptions, RedbStorage, RestartPolicy, Storage as _, System,
};
use errors::chain;
use scratch::{TempDir, XorShift};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt as _;

/// Actors `n0` … `n63`.
const NODES: usize = 64;
/// Concurrent client tasks in the child.
const CLIENTS: u32 = 12;
/// Nodes whose events the child subscribes to (one in every `NODES / WATCHED`).
const WATCHED: usize = 8;
/// Longest delay of a scheduled `Tick`, in ms (inclusive).
const TICK_DELAY_MS: u64 = 30;
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
/// Longest wait, after the last round, for every pending send and schedule to be applied.
const DRAIN_PATIENCE: Duration = Duration::from_secs(30);
/// How long the drain waits once everything is applied, before its final read, so that a
/// late duplicate would show.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
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
    /// Successful mutating client actions here (not deliveries, not ticks).
    applied: u64,
    /// Bumped only by actions that then panic: must read 0 on disk forever.
    poisoned: u64,
    /// Client → the seq of its last send from here.
    sent: BTreeMap<u32, u64>,
    /// Sends from here.
    sends: u64,
    /// Receiving node → sends from here to it.
    sends_to: BTreeMap<usize, u64>,
    /// Sending node → client → the seq of the last delivery applied here.
    delivered: BTreeMap<usize, BTreeMap<u32, u64>>,
    /// Deliveries applied here.
    deliveries: u64,
    /// Sending node → deliveries from it applied here.
    delivered_from: BTreeMap<usize, u64>,
    /// Deliveries whose seq was not above the last one from the same node and client: a
    /// duplicate or a reorder. Must read 0 forever.
    dups: u64,
    /// Client → the seq of its last schedule here.
    scheduled: BTreeMap<u32, u64>,
    /// Schedules made here.
    schedules: u64,
    /// Client → the seqs of the ticks that fired here.
    ticks: BTreeMap<u32, BTreeSet<u64>>,
    /// Ticks whose seq had fired already. Must read 0 forever.
    tick_dups: u64,
}

impl Node {
    /// Ticks that fired here (each seq once).
    fn tick_count(&self) -> u64 {
        self.ticks.values().map(|seqs| seqs.len() as u64).sum()
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum NodeAction {
    /// `last[client] = seq`, and emits [`Bumped`].
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
    /// `sent[client] = seq`, and sends `Deliver` to node `to` through the outbox.
    Send { to: usize, client: u32, seq: u64 },
    /// From the outbox: `delivered[from][client] = seq` (or `dups += 1`).
    Deliver { from: usize, client: u32, seq: u64 },
    /// `scheduled[client] = seq`, and schedules its own `Tick` after `delay_ms`.
    Schedule {
        client: u32,
        seq: u64,
        delay_ms: u64,
    },
    /// From a schedule: `seq` joins `ticks[client]` (or `tick_dups += 1`).
    Tick { client: u32, seq: u64 },
    /// Read-only: the whole state.
    Dump,
}

/// What a node emits on a `Bump`: published once `last[client] = seq` is durable.
#[derive(Debug, Serialize)]
struct Bumped {
    client: u32,
    seq: u64,
}

#[derive(Debug)]
enum NodeReply {
    Applied(u64),
    State(Box<Node>),
}

/// Why a node action failed (only a relay, a send or a schedule can).
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
    type Event = Bumped;

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

    fn encode_action(action: &NodeAction) -> Result<Vec<u8>, EncodeError> {
        actor_core::encode_cbor(action)
    }

    fn decode_action(bytes: &[u8]) -> Result<NodeAction, DecodeError> {
        actor_core::decode_cbor(bytes)
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
                ctx.emit(Bumped { client, seq });
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
            NodeAction::Send { to, client, seq } => {
                let from = node_index(ctx.key().as_str())
                    .ok_or_else(|| Failed(format!("{} is not a node key", ctx.key())))?;
                self.sent.insert(client, seq);
                self.sends += 1;
                *self.sends_to.entry(to).or_default() += 1;
                self.applied += 1;
                ctx.send::<Node>(node_key(to), NodeAction::Deliver { from, client, seq })
                    .map_err(|e| Failed(format!("send to n{to}: {}", chain(&e))))?;
            }
            NodeAction::Deliver { from, client, seq } => {
                let last = self
                    .delivered
                    .entry(from)
                    .or_default()
                    .entry(client)
                    .or_default();
                if seq > *last {
                    *last = seq;
                } else {
                    self.dups += 1;
                }
                self.deliveries += 1;
                *self.delivered_from.entry(from).or_default() += 1;
            }
            NodeAction::Schedule {
                client,
                seq,
                delay_ms,
            } => {
                self.scheduled.insert(client, seq);
                self.schedules += 1;
                self.applied += 1;
                ctx.schedule_after(
                    Duration::from_millis(delay_ms),
                    NodeAction::Tick { client, seq },
                )
                .map_err(|e| Failed(format!("schedule: {}", chain(&e))))?;
            }
            NodeAction::Tick { client, seq } => {
                if !self.ticks.entry(client).or_default().insert(seq) {
                    self.tick_dups += 1;
                }
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

/// The index of the node with key `key`.
fn node_index(key: &str) -> Option<usize> {
    key.strip_prefix('n')?
        .parse::<usize>()
        .ok()
        .filter(|&i| i < NODES)
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
        // Declared up front: deliveries and ticks left pending by the last kill start at once,
        // while the nodes are still being started.
        let system = match System::builder().path(&db).actor::<Node>().open().await {
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
        let mut rng = XorShift::new(seed);
        let stride = NODES / WATCHED;
        let offset = rng.below(stride);
        for i in (offset..NODES).step_by(stride) {
            tokio::spawn(watch(i, nodes[i].subscribe()));
        }
        emit("ready\n");
        let nodes = Arc::new(nodes);
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

/// Prints a line per event node `i` emits (`V`), and per lag (`L`).
async fn watch(i: usize, mut events: actor_core::Events<Node>) {
    while let Some(event) = events.next().await {
        match event {
            Ok(bumped) => emit(&format!("V n{i} {} {}\n", bumped.client, bumped.seq)),
            Err(EventLag(missed)) => emit(&format!("L n{i} {missed}\n")),
        }
    }
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
            0..30 => {
                let i = self.rng.below(NODES);
                match self.nodes[i].ask(NodeAction::Bump { client, seq }).await {
                    Ok(NodeReply::Applied(n)) => format!("A n{i} {client} {seq} {n}\n"),
                    Ok(NodeReply::State(_)) => format!("E {client} {seq} bump n{i} dumped\n"),
                    Err(e) => error(&format!("bump n{i}"), &e),
                }
            }
            30..50 => {
                // Only towards higher indices, so relays never wait on each other in a cycle.
                let from = self.rng.below(NODES - 1);
                let to = from + 1 + self.rng.below(NODES - 1 - from);
                let then_panic = roll >= 46;
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
            50..54 => {
                let i = self.rng.below(NODES);
                match self.nodes[i].ask(NodeAction::Poison { client, seq }).await {
                    Err(AskError::Panicked { .. }) => format!("P n{i} {client} {seq}\n"),
                    Ok(_) => format!("E {client} {seq} poison n{i} did not panic\n"),
                    Err(e) => error(&format!("poison n{i}"), &e),
                }
            }
            54..66 => {
                // Any pair, cycles and self included: a send never waits for its receiver.
                let (from, to) = (self.rng.below(NODES), self.rng.below(NODES));
                let action = NodeAction::Send { to, client, seq };
                match self.nodes[from].ask(action).await {
                    Ok(NodeReply::Applied(n)) => format!("S n{from} n{to} {client} {seq} {n}\n"),
                    Ok(NodeReply::State(_)) => format!("E {client} {seq} send n{from} dumped\n"),
                    Err(e) => error(&format!("send n{from} -> n{to}"), &e),
                }
            }
            66..76 => {
                let i = self.rng.below(NODES);
                let delay_ms = self.rng.between(0, TICK_DELAY_MS + 1);
                let action = NodeAction::Schedule {
                    client,
                    seq,
                    delay_ms,
                };
                match self.nodes[i].ask(action).await {
                    Ok(NodeReply::Applied(n)) => format!("T n{i} {client} {seq} {n}\n"),
                    Ok(NodeReply::State(_)) => format!("E {client} {seq} schedule n{i} dumped\n"),
                    Err(e) => error(&format!("schedule n{i}"), &e),
                }
            }
            76..88 => match self.kv.set(&format!("c{client}"), seq.to_string()).await {
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
    Send,
    Schedule,
    Set,
    Increment,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Bump,
        Kind::Relay,
        Kind::RelayPanic,
        Kind::Poison,
        Kind::Send,
        Kind::Schedule,
        Kind::Set,
        Kind::Increment,
    ];

    fn tag(self) -> &'static str {
        match self {
            Kind::Bump => "A",
            Kind::Relay => "R",
            Kind::RelayPanic => "Q",
            Kind::Poison => "P",
            Kind::Send => "S",
            Kind::Schedule => "T",
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
    Send {
        from: usize,
        to: usize,
        client: u32,
        seq: u64,
        applied: u64,
    },
    Schedule {
        node: usize,
        client: u32,
        seq: u64,
        applied: u64,
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
    /// An event a subscriber got (not a client's operation).
    Event {
        node: usize,
        client: u32,
        seq: u64,
    },
    /// A subscriber lagged (not a client's operation).
    Lag {
        missed: u64,
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
        let node = node_index;
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
            ["S", sender, receiver, c, s, a] => Line::Send {
                from: node(sender)?,
                to: node(receiver)?,
                client: client(c)?,
                seq: seq(s)?,
                applied: a.parse().ok()?,
            },
            ["T", n, c, s, a] => Line::Schedule {
                node: node(n)?,
                client: client(c)?,
                seq: seq(s)?,
                applied: a.parse().ok()?,
            },
            ["V", n, c, s] => Line::Event {
                node: node(n)?,
                client: client(c)?,
                seq: seq(s)?,
            },
            ["L", n, m] => {
                node(n)?;
                Line::Lag {
                    missed: m.parse().ok()?,
                }
            }
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

    /// The client and seq of a line that reports a client's operation (not of an event).
    fn client_seq(&self) -> Option<(u32, u64)> {
        match *self {
            Line::Bump { client, seq, .. }
            | Line::Relay { client, seq, .. }
            | Line::Poison { client, seq, .. }
            | Line::Send { client, seq, .. }
            | Line::Schedule { client, seq, .. }
            | Line::Set { client, seq }
            | Line::Increment { client, seq, .. }
            | Line::Error { client, seq, .. } => Some((client, seq)),
            Line::Event { .. } | Line::Lag { .. } => None,
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

/// The file at rest, read straight from storage before any system opens it (right after a
/// kill, or after the drain): nothing can deliver or fire meanwhile, so what the nodes
/// record and what is left pending must add up exactly.
struct AtRest {
    nodes: Vec<Node>,
    /// (sending node, receiving node, action) of every outbox message left pending.
    messages: Vec<(usize, usize, NodeAction)>,
    /// (node, action) of every schedule left pending.
    schedules: Vec<(usize, NodeAction)>,
}

fn at_rest(db: &Path) -> Result<AtRest, String> {
    const PAGE: usize = 1000;
    let storage = RedbStorage::open(db, &RedbOptions::default())
        .map_err(|e| format!("open {} at rest: {}", db.display(), chain(&e)))?;
    let failed = |what: &str, e: &dyn std::error::Error| format!("at rest: {what}: {}", chain(e));
    let mut nodes = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let key = node_key(i);
        let record = storage
            .load(Node::NAME, &key)
            .map_err(|e| failed(&format!("load {key}"), &e))?
            .ok_or_else(|| format!("at rest: {key} has no record"))?;
        let node = Record::parse(&record)
            .and_then(|record| record.decode::<Node>())
            .map_err(|e| failed(&format!("decode {key}"), &e))?;
        nodes.push(node);
    }
    let node = |kind: &str, key: &str| {
        node_index(key)
            .filter(|_| kind == Node::NAME)
            .ok_or_else(|| format!("at rest: a row names {kind}/{key}, which is no node"))
    };
    let mut messages = Vec::new();
    let mut after = None;
    loop {
        let page = storage
            .messages(after, PAGE)
            .map_err(|e| failed("messages", &e))?;
        for row in &page {
            let action = Node::decode_action(&row.action)
                .map_err(|e| failed(&format!("message {}", row.seq), &e))?;
            let from = node(&row.from_kind, &row.from_key)?;
            messages.push((from, node(&row.to_kind, &row.to_key)?, action));
        }
        match page.last() {
            Some(row) if page.len() == PAGE => after = Some(row.seq),
            _ => break,
        }
    }
    let mut schedules = Vec::new();
    let mut after = None;
    loop {
        let page = storage
            .schedules(after, PAGE)
            .map_err(|e| failed("schedules", &e))?;
        for row in &page {
            let action = Node::decode_action(&row.action)
                .map_err(|e| failed(&format!("schedule {}", row.id), &e))?;
            schedules.push((node(&row.kind, &row.key)?, action));
        }
        match page.last() {
            Some(row) if page.len() == PAGE => after = Some((row.due_ms, row.id)),
            _ => break,
        }
    }
    Ok(AtRest {
        nodes,
        messages,
        schedules,
    })
}

/// The file's contents, read through the public API in the parent.
struct Observed {
    /// Every node, in a first pass.
    nodes: Vec<Node>,
    /// Every node again, in a second pass after the first: deliveries and ticks may have
    /// run in between, so what receivers applied (first pass) is compared with what senders
    /// sent (second pass).
    again: Vec<Node>,
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

/// Opens `db` with `Node` declared, waits (at most [`DRAIN_PATIENCE`]) until every send is
/// delivered and every schedule has ticked, then for [`DRAIN_GRACE`], and reads the file.
/// Returns what it read and how long it took to settle; `Err` with what was still pending
/// and what was last read if it never settled.
async fn drain(db: &Path) -> Result<(Observed, Duration), (String, Option<Observed>)> {
    let system = System::builder()
        .path(db)
        .actor::<Node>()
        .open()
        .await
        .map_err(|e| {
            (
                format!("open {} to drain: {}", db.display(), chain(&e)),
                None,
            )
        })?;
    let started = Instant::now();
    let drained = async {
        loop {
            let seen = read_all(&system).await.map_err(|e| (e, None))?;
            let pending = pending(&seen);
            if pending.is_empty() {
                break;
            }
            if started.elapsed() > DRAIN_PATIENCE {
                let problem = format!(
                    "after {DRAIN_PATIENCE:?}, still pending at {} pairs or nodes, such as: {}",
                    pending.len(),
                    pending[..pending.len().min(5)].join("; ")
                );
                return Err((problem, Some(seen)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let settled = started.elapsed();
        tokio::time::sleep(DRAIN_GRACE).await;
        let seen = read_all(&system).await.map_err(|e| (e, None))?;
        Ok((seen, settled))
    };
    let read = tokio::time::timeout(DRAIN_PATIENCE + PATIENCE, drained).await;
    system.shutdown().await;
    read.unwrap_or_else(|_| {
        let problem = format!("draining took over {:?}", DRAIN_PATIENCE + PATIENCE);
        Err((problem, None))
    })
}

/// What an observation shows still on its way (sends not yet delivered, first pass, of
/// those made, second pass; schedules not yet ticked), per pair of nodes or per node.
fn pending(seen: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    for (to, receiver) in seen.nodes.iter().enumerate() {
        for (from, sender) in seen.again.iter().enumerate() {
            let sent = sender.sends_to.get(&to).copied().unwrap_or(0);
            let delivered = receiver.delivered_from.get(&from).copied().unwrap_or(0);
            if delivered < sent {
                out.push(format!("n{from} -> n{to}: {delivered} of {sent} delivered"));
            }
        }
    }
    for (i, node) in seen.nodes.iter().enumerate() {
        let fired = node.tick_count() + node.tick_dups;
        if fired < node.schedules {
            out.push(format!(
                "n{i}: {fired} of {} schedules ticked",
                node.schedules
            ));
        }
    }
    out
}

/// Every node, through `Dump`.
async fn read_nodes(system: &System) -> Result<Vec<Node>, String> {
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
    Ok(nodes)
}

async fn read_all(system: &System) -> Result<Observed, String> {
    let nodes = read_nodes(system).await?;
    let again = read_nodes(system).await?;
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
        again,
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
    sent: HashMap<u32, u64>,
    scheduled: HashMap<u32, u64>,
    /// Acknowledged effects that each bumped `applied` once.
    applied: u64,
    /// The highest `applied` a reply reported.
    replied: u64,
    /// Acknowledged sends from here, and schedules here.
    sends: u64,
    schedules: u64,
    /// (sending node, client, seq) of every acknowledged send to here.
    incoming: HashSet<(usize, u32, u64)>,
    /// (client, seq) of every acknowledged schedule here: each must tick, once.
    ticks: HashSet<(u32, u64)>,
    /// Client → the highest seq an event from here showed durable in `last`.
    evented: HashMap<u32, u64>,
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
    /// (node, client) → the seq of the last event a subscriber saw: they must increase.
    event_seqs: HashMap<(usize, u32), u64>,
    /// Events the child's subscribers saw, lags they reported, and events those missed.
    events: u64,
    lags: u64,
    missed: u64,
    /// Messages and schedules found pending in the file at rest after each kill, summed over
    /// rounds: work a kill left for the next run.
    backlog: (u64, u64),
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
            event_seqs: HashMap::new(),
            events: 0,
            lags: 0,
            missed: 0,
            backlog: (0, 0),
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
        let mut events = Vec::new();
        for text in &run.lines {
            let Some(line) = Line::parse(text) else {
                bad.push(format!("the child printed an unexpected line: {text:?}"));
                continue;
            };
            if let Some((client, seq)) = line.client_seq() {
                if !in_epoch(seq, epoch) {
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
            }
            match line {
                Line::Event { node, client, seq } => {
                    self.event(node, client, seq, epoch, text, bad);
                    events.push((node, client, seq));
                }
                Line::Lag { missed } => {
                    self.lags += 1;
                    self.missed += missed;
                }
                line => {
                    if let Some(kind) = self.take(line, bad) {
                        *self.counts.entry(kind).or_default() += 1;
                        acks += 1;
                    }
                }
            }
        }
        // Only now: an event may come before its Bump's line, or outlive it (cut off).
        for (node, client, seq) in events {
            let bound = self.issued_bound(client, seq);
            if seq > bound {
                bad.push(format!(
                    "n{node} emitted the event of {client}/{seq}, which was never issued \
                     (client {client} issued at most {bound})"
                ));
            }
            if let Some(culprit) = self.panicked.get(&(client, seq)) {
                bad.push(format!(
                    "n{node} emitted the event of {client}/{seq}, an action that panicked on \
                     n{culprit}"
                ));
            }
        }
        self.idle_rounds += u64::from(acks == 0);
    }

    /// Records an event a subscriber of `node` saw: `last[client] = seq` is durable.
    fn event(
        &mut self,
        node: usize,
        client: u32,
        seq: u64,
        epoch: u64,
        text: &str,
        bad: &mut Vec<String>,
    ) {
        self.events += 1;
        if !in_epoch(seq, epoch) {
            bad.push(format!("event {text:?} has a seq outside epoch {epoch}"));
        }
        if let Some(before) = self.event_seqs.insert((node, client), seq)
            && before >= seq
        {
            bad.push(format!(
                "n{node}'s events for client {client} did not increase: {seq} after {before}"
            ));
        }
        let high = self.nodes[node].evented.entry(client).or_default();
        *high = (*high).max(seq);
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
            Line::Send {
                from,
                to,
                client,
                seq,
                applied,
            } => {
                let model = &mut self.nodes[from];
                raise(&mut model.sent, client, seq);
                model.sends += 1;
                model.applied += 1;
                model.replied = model.replied.max(applied);
                self.nodes[to].incoming.insert((from, client, seq));
                Kind::Send
            }
            Line::Schedule {
                node,
                client,
                seq,
                applied,
            } => {
                let model = &mut self.nodes[node];
                raise(&mut model.scheduled, client, seq);
                model.schedules += 1;
                model.applied += 1;
                model.replied = model.replied.max(applied);
                model.ticks.insert((client, seq));
                Kind::Schedule
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
            Line::Event { .. } | Line::Lag { .. } => return None,
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
            if let Some(before) = self.previous.as_ref().map(|p| &p.again[i]) {
                went_back(&format!("n{i}"), before, node, &mut out);
            }
            // Between the passes of one observation, too.
            went_back(
                &format!("n{i} (second pass)"),
                node,
                &seen.again[i],
                &mut out,
            );
        }
        self.check_deliveries(seen, epoch, &mut out);
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
            ("sent", &node.sent, &model.sent),
            ("scheduled", &node.scheduled, &model.scheduled),
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
        for (&client, &high) in &model.evented {
            let stored = node.last.get(&client).copied().unwrap_or(0);
            if stored < high {
                out.push(format!(
                    "n{i}.last[{client}]: an event showed {high} durable, {stored} is on disk \
                     (lost)"
                ));
            }
        }
        let counts = [
            ("sends", node.sends, model.sends),
            ("schedules", node.schedules, model.schedules),
        ];
        for (name, stored, acked) in counts {
            if stored < acked {
                out.push(format!(
                    "n{i}.{name}: {acked} were acknowledged, {stored} on disk (lost)"
                ));
            }
            if stored > acked + self.slack() {
                out.push(format!(
                    "n{i}.{name} is {stored} after {acked} acknowledged and at most {} in flight",
                    self.slack()
                ));
            }
        }
        let sends_to: u64 = node.sends_to.values().sum();
        if sends_to != node.sends {
            out.push(format!(
                "n{i}: {} sends, but {sends_to} counted per receiver",
                node.sends
            ));
        }
        let delivered_from: u64 = node.delivered_from.values().sum();
        if delivered_from != node.deliveries {
            out.push(format!(
                "n{i}: {} deliveries, but {delivered_from} counted per sender",
                node.deliveries
            ));
        }
        if node.dups != 0 {
            out.push(format!(
                "n{i}.dups = {}: a delivery was applied twice, or out of order",
                node.dups
            ));
        }
        self.check_ticks(i, node, model, epoch, out);
    }

    fn check_ticks(
        &self,
        i: usize,
        node: &Node,
        model: &NodeModel,
        epoch: u64,
        out: &mut Vec<String>,
    ) {
        if node.tick_dups != 0 {
            out.push(format!(
                "n{i}.tick_dups = {}: a schedule fired twice",
                node.tick_dups
            ));
        }
        // Same state, same snapshot: no pass to mind.
        if node.tick_count() > node.schedules {
            out.push(format!(
                "n{i}: {} ticks fired, only {} schedules were made",
                node.tick_count(),
                node.schedules
            ));
        }
        for (&client, seqs) in &node.ticks {
            let scheduled = node.scheduled.get(&client).copied().unwrap_or(0);
            for &seq in seqs {
                let what = format!("n{i}.ticks[{client}] holds {seq}");
                self.check_seq(&what, client, seq, 0, epoch, out);
                if seq > scheduled {
                    out.push(format!(
                        "{what}, above scheduled[{client}] = {scheduled}: never scheduled"
                    ));
                }
                if !model.ticks.contains(&(client, seq)) && seq != self.issued_bound(client, seq) {
                    out.push(format!(
                        "{what}: no acknowledged schedule here, nor client {client}'s operation \
                         in flight at a kill"
                    ));
                }
            }
        }
    }

    /// Deliveries (first pass) against sends (second pass): never more, never unsent.
    fn check_deliveries(&self, seen: &Observed, epoch: u64, out: &mut Vec<String>) {
        for (to, receiver) in seen.nodes.iter().enumerate() {
            for (&from, &count) in &receiver.delivered_from {
                let sent = seen
                    .again
                    .get(from)
                    .and_then(|sender| sender.sends_to.get(&to))
                    .copied()
                    .unwrap_or(0);
                if count > sent {
                    out.push(format!(
                        "n{from} -> n{to}: {count} deliveries applied, {sent} sends made"
                    ));
                }
            }
            for (&from, clients) in &receiver.delivered {
                let Some(sender) = seen.again.get(from) else {
                    out.push(format!("n{to}.delivered names n{from}, which is no node"));
                    continue;
                };
                for (&client, &seq) in clients {
                    let what = format!("n{to}.delivered[n{from}][{client}]");
                    self.check_seq(&what, client, seq, 0, epoch, out);
                    let sent = sender.sent.get(&client).copied().unwrap_or(0);
                    if seq > sent {
                        out.push(format!(
                            "{what} = {seq}, above n{from}.sent[{client}] = {sent}: never sent"
                        ));
                    }
                    if !self.nodes[to].incoming.contains(&(from, client, seq))
                        && seq != self.issued_bound(client, seq)
                    {
                        out.push(format!(
                            "{what} = {seq}: no acknowledged send from n{from} to n{to}, nor \
                             client {client}'s operation in flight at a kill"
                        ));
                    }
                }
            }
        }
        let deliveries: u64 = seen.nodes.iter().map(|n| n.deliveries).sum();
        let sends: u64 = seen.again.iter().map(|n| n.sends).sum();
        if deliveries > sends {
            out.push(format!(
                "{deliveries} deliveries applied in all, {sends} sends made"
            ));
        }
    }

    /// After the drain: every send delivered and every schedule ticked, exactly once.
    fn check_drained(&self, seen: &Observed) -> Vec<String> {
        let mut out = Vec::new();
        for (to, receiver) in seen.nodes.iter().enumerate() {
            for (from, sender) in seen.again.iter().enumerate() {
                let sent = sender.sends_to.get(&to).copied().unwrap_or(0);
                let delivered = receiver.delivered_from.get(&from).copied().unwrap_or(0);
                if delivered != sent {
                    out.push(format!(
                        "drained: n{from} -> n{to}: {sent} sends, {delivered} deliveries"
                    ));
                }
            }
            for &(from, client, seq) in &self.nodes[to].incoming {
                let last = receiver
                    .delivered
                    .get(&from)
                    .and_then(|clients| clients.get(&client))
                    .copied()
                    .unwrap_or(0);
                if last < seq {
                    out.push(format!(
                        "drained: the acknowledged send {client}/{seq} from n{from} never \
                         reached n{to} (its last from there is {last})"
                    ));
                }
            }
        }
        let deliveries: u64 = seen.nodes.iter().map(|n| n.deliveries).sum();
        let sends: u64 = seen.again.iter().map(|n| n.sends).sum();
        if deliveries != sends {
            out.push(format!(
                "drained: {deliveries} deliveries applied in all, {sends} sends made"
            ));
        }
        for (i, (node, model)) in seen.nodes.iter().zip(&self.nodes).enumerate() {
            if node.tick_count() != node.schedules {
                out.push(format!(
                    "drained: n{i} made {} schedules, {} ticked",
                    node.schedules,
                    node.tick_count()
                ));
            }
            for &(client, seq) in &model.ticks {
                if !node
                    .ticks
                    .get(&client)
                    .is_some_and(|seqs| seqs.contains(&seq))
                {
                    out.push(format!(
                        "drained: the acknowledged schedule {client}/{seq} on n{i} never ticked"
                    ));
                }
            }
        }
        out
    }
}

/// What the file at rest shows: every send made is delivered or pending, every schedule
/// made has fired or is pending, and nothing pending was applied already.
fn check_at_rest(rest: &AtRest) -> Vec<String> {
    let mut out = Vec::new();
    let mut rows: HashMap<(usize, usize), u64> = HashMap::new();
    for (from, to, action) in &rest.messages {
        *rows.entry((*from, *to)).or_default() += 1;
        let &NodeAction::Deliver {
            from: named,
            client,
            seq,
        } = action
        else {
            out.push(format!(
                "at rest: n{from} -> n{to} holds {action:?}, not a Deliver"
            ));
            continue;
        };
        if named != *from {
            out.push(format!(
                "at rest: n{from} -> n{to} holds a Deliver from n{named}"
            ));
        }
        let (sender, receiver) = (&rest.nodes[*from], &rest.nodes[*to]);
        let applied = receiver
            .delivered
            .get(from)
            .and_then(|clients| clients.get(&client))
            .copied()
            .unwrap_or(0);
        if seq <= applied {
            out.push(format!(
                "at rest: the Deliver {client}/{seq} from n{from} is still pending, but n{to} \
                 applied up to {applied} from there: its removal did not commit with it"
            ));
        }
        let sent = sender.sent.get(&client).copied().unwrap_or(0);
        if seq > sent {
            out.push(format!(
                "at rest: the Deliver {client}/{seq} from n{from} to n{to} is pending, but \
                 n{from}.sent[{client}] is {sent}"
            ));
        }
    }
    for (to, receiver) in rest.nodes.iter().enumerate() {
        for (from, sender) in rest.nodes.iter().enumerate() {
            let sent = sender.sends_to.get(&to).copied().unwrap_or(0);
            let delivered = receiver.delivered_from.get(&from).copied().unwrap_or(0);
            let pending = rows.get(&(from, to)).copied().unwrap_or(0);
            if delivered + pending != sent {
                out.push(format!(
                    "at rest: n{from} -> n{to}: {sent} sends made, {delivered} delivered and \
                     {pending} pending"
                ));
            }
        }
    }
    let mut rows = vec![0; NODES];
    for (i, action) in &rest.schedules {
        rows[*i] += 1;
        let &NodeAction::Tick { client, seq } = action else {
            out.push(format!(
                "at rest: n{i} has {action:?} scheduled, not a Tick"
            ));
            continue;
        };
        let node = &rest.nodes[*i];
        if node
            .ticks
            .get(&client)
            .is_some_and(|seqs| seqs.contains(&seq))
        {
            out.push(format!(
                "at rest: the Tick {client}/{seq} of n{i} is still scheduled, but it fired: its \
                 removal did not commit with it"
            ));
        }
        let scheduled = node.scheduled.get(&client).copied().unwrap_or(0);
        if seq > scheduled {
            out.push(format!(
                "at rest: the Tick {client}/{seq} of n{i} is pending, but \
                 n{i}.scheduled[{client}] is {scheduled}"
            ));
        }
    }
    for (i, (node, pending)) in rest.nodes.iter().zip(rows).enumerate() {
        let fired = node.tick_count() + node.tick_dups;
        if fired + pending != node.schedules {
            out.push(format!(
                "at rest: n{i}: {} schedules made, {fired} fired and {pending} pending",
                node.schedules
            ));
        }
    }
    out
}

/// Whether `seq` is one that epoch `epoch` issues.
fn in_epoch(seq: u64, epoch: u64) -> bool {
    seq / EPOCH == epoch && !seq.is_multiple_of(EPOCH)
}

/// Reports anything in `now` below what `before` (an earlier round) found on disk.
fn went_back(name: &str, before: &Node, now: &Node, out: &mut Vec<String>) {
    let fields = [
        ("last", &before.last, &now.last),
        ("relay_out", &before.relay_out, &now.relay_out),
        ("relay_in", &before.relay_in, &now.relay_in),
        ("sent", &before.sent, &now.sent),
        ("scheduled", &before.scheduled, &now.scheduled),
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
    for (from, clients) in &before.delivered {
        for (client, &old) in clients {
            let new = now
                .delivered
                .get(from)
                .and_then(|c| c.get(client))
                .copied()
                .unwrap_or(0);
            if new < old {
                out.push(format!(
                    "{name}.delivered[n{from}][{client}] went back from {old} to {new}"
                ));
            }
        }
    }
    for (client, seqs) in &before.ticks {
        let now_seqs = now.ticks.get(client);
        for seq in seqs {
            if !now_seqs.is_some_and(|s| s.contains(seq)) {
                out.push(format!("{name}.ticks[{client}] lost {seq}"));
            }
        }
    }
    let counts = [
        ("applied", before.applied, now.applied),
        ("sends", before.sends, now.sends),
        ("deliveries", before.deliveries, now.deliveries),
        ("schedules", before.schedules, now.schedules),
        ("tick count", before.tick_count(), now.tick_count()),
    ];
    for (field, old, new) in counts {
        if new < old {
            out.push(format!("{name}.{field} went back from {old} to {new}"));
        }
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
            let when = format!(
                "in round {round} of {kills} (seed {seed}, child seed {child_seed}, killed after \
                 {kill_after:?})"
            );
            report(dir, &when, problems)
        };
        let run = match run_child(&db, &stderr, epoch, child_seed, kill_after) {
            Ok(run) => run,
            Err(problem) => return fail(&mut dir, &[problem]),
        };
        let mut problems = Vec::new();
        model.absorb(&run, epoch, &mut problems);
        match at_rest(&db) {
            Ok(rest) => {
                problems.extend(check_at_rest(&rest));
                model.backlog.0 += rest.messages.len() as u64;
                model.backlog.1 += rest.schedules.len() as u64;
            }
            Err(problem) => problems.push(problem),
        }
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
    let (found, settled) = match runtime.block_on(drain(&db)) {
        Ok((found, settled)) => (Some(found), Ok(settled)),
        Err((problem, found)) => (found, Err(problem)),
    };
    let mut problems: Vec<String> = settled.as_ref().err().cloned().into_iter().collect();
    if let Some(found) = &found {
        // What was last read, checked once: as after any round, then as drained.
        problems.extend(model.check(found, kills as u64));
        problems.extend(model.check_drained(found));
    }
    // And at rest once more: nothing may be left pending.
    match at_rest(&db) {
        Ok(rest) => {
            problems.extend(check_at_rest(&rest));
            if !rest.messages.is_empty() || !rest.schedules.is_empty() {
                problems.push(format!(
                    "drained: {} messages and {} schedules are still in the file",
                    rest.messages.len(),
                    rest.schedules.len()
                ));
            }
        }
        Err(problem) => problems.push(problem),
    }
    let (Some(found), Ok(settled), true) = (found, settled, problems.is_empty()) else {
        return report(&mut dir, &format!("in the drain (seed {seed})"), &problems);
    };
    let drained = Drained {
        messages: found.nodes.iter().map(|n| n.deliveries).sum(),
        ticks: found.nodes.iter().map(Node::tick_count).sum(),
        settled,
    };
    let allowed_idle = 2 + model.rounds / 25;
    if model.idle_rounds > allowed_idle {
        eprintln!(
            "torture: FAILED (seed {seed}): {} of {} rounds acknowledged nothing between ready \
             and the kill (at most {allowed_idle} allowed): the child is stuck",
            model.idle_rounds, model.rounds
        );
        return ExitCode::FAILURE;
    }
    summary(&model, kills, &drained, started.elapsed());
    ExitCode::SUCCESS
}

/// Reports a failure `when` with its problems, keeping the temp dir.
fn report(dir: &mut TempDir, when: &str, problems: &[String]) -> ExitCode {
    dir.keep();
    eprintln!(
        "torture: FAILED {when}; file and child stderr kept in {}",
        dir.path().display()
    );
    for problem in problems.iter().take(30) {
        eprintln!("torture: violation: {problem}");
    }
    if problems.len() > 30 {
        eprintln!("torture: ... and {} more", problems.len() - 30);
    }
    ExitCode::FAILURE
}

/// What the drain found once everything pending was applied.
struct Drained {
    /// Deliveries applied in all (equal to the sends made).
    messages: u64,
    /// Ticks fired in all (equal to the schedules made).
    ticks: u64,
    /// How long until nothing was pending.
    settled: Duration,
}

fn summary(model: &Model, kills: usize, drained: &Drained, elapsed: Duration) {
    let count = |kind: Kind| model.counts.get(&kind).copied().unwrap_or(0);
    let total: u64 = Kind::ALL.iter().map(|&k| count(k)).sum();
    let by_kind: Vec<String> = Kind::ALL
        .iter()
        .map(|&k| format!("{} {}", k.tag(), count(k)))
        .collect();
    println!(
        "torture: {kills} kills, {} rounds checked, {total} acknowledged effects checked ({}), \
         {} panics observed, {} events seen ({} lags, {} missed), {} messages and {} schedules \
         pending at rest after the kills, drained {} messages and {} ticks (settled in {:.1?}), {} idle \
         rounds, {} lines cut off by a kill, elapsed {elapsed:.1?}",
        model.rounds,
        by_kind.join(", "),
        count(Kind::Poison) + count(Kind::RelayPanic),
        model.events,
        model.lags,
        model.missed,
        model.backlog.0,
        model.backlog.1,
        drained.messages,
        drained.ticks,
        drained.settled,
        model.idle_rounds,
        model.cut_off,
    );
}
