//! Black-box crash tests: `examples/durability_probe.rs` runs as a real child process, is
//! killed with SIGKILL at random moments, and another process (`dump`, through the public
//! API) must find every key at or above the highest value ever acknowledged for it, and never
//! below an earlier dump. Also: a second process gets a clear error rather than a hang, and
//! clean runs with `--seconds` exit 0 and let the counters go on.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use scratch::{TempDir, XorShift};

/// How many SIGKILLs the kill loops deal.
const KILLS: usize = 24;
/// Actors (or key-value keys) the kill loops spread increments over.
const KEYS: usize = 8;
/// Concurrent clients in each killed run.
const CLIENTS: usize = 16;
/// Longest a `dump` or a clean `run --seconds 1` may take before it counts as hung.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The probe binary

fn probe(args: &[&str]) -> Command {
    let mut command = Command::new(bin::example("durability_probe"));
    command.args(args).stdin(Stdio::null());
    command
}

// ---------------------------------------------------------------------------------------------
// The two sides of the probe

/// Actors (`run` / `dump`) or the key-value store (`kv-run` / `kv-dump`).
#[derive(Debug, Clone, Copy)]
enum Mode {
    Actors,
    Kv,
}

impl Mode {
    fn run(self) -> &'static str {
        match self {
            Self::Actors => "run",
            Self::Kv => "kv-run",
        }
    }

    fn dump(self) -> &'static str {
        match self {
            Self::Actors => "dump",
            Self::Kv => "kv-dump",
        }
    }

    fn count_flag(self) -> &'static str {
        match self {
            Self::Actors => "--actors",
            Self::Kv => "--keys",
        }
    }

    /// The tag of `run`'s acknowledgement lines.
    fn ack(self) -> &'static str {
        match self {
            Self::Actors => "ack",
            Self::Kv => "kvack",
        }
    }

    /// The tag of `dump`'s lines.
    fn state(self) -> &'static str {
        match self {
            Self::Actors => "state",
            Self::Kv => "kv",
        }
    }

    fn run_args(self, db: &str, keys: usize, clients: usize) -> Vec<String> {
        [
            self.run(),
            "--db",
            db,
            self.count_flag(),
            &keys.to_string(),
            "--clients",
            &clients.to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// `<tag> <key> <value>` with `key` one of `k0` … `k{keys-1}`; `None` for anything else.
fn parse_line(line: &str, tag: &str, keys: usize) -> Option<(String, u64)> {
    let mut parts = line.split(' ');
    let (Some(t), Some(key), Some(value), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let index: usize = key.strip_prefix('k')?.parse().ok()?;
    if t != tag || index >= keys || key != format!("k{index}") {
        return None;
    }
    Some((key.to_owned(), value.parse().ok()?))
}

/// What a run printed on stdout.
#[derive(Debug, Default)]
struct RunOutput {
    /// Every `ack` line, in the order printed.
    acks: Vec<(String, u64)>,
    /// Complete lines that are not `ack` lines (there should be none).
    unexpected: Vec<String>,
    /// A last line cut off by the kill, without its newline (not counted as an ack).
    cut_off: Option<String>,
}

/// Reads `stdout` to EOF on a thread: after a SIGKILL, that is every line the probe printed.
fn collect_acks(
    stdout: impl std::io::Read + Send + 'static,
    mode: Mode,
    keys: usize,
) -> JoinHandle<RunOutput> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut out = RunOutput::default();
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&bytes);
            let Some(complete) = line.strip_suffix('\n') else {
                out.cut_off = Some(line.into_owned());
                break;
            };
            match parse_line(complete, mode.ack(), keys) {
                Some(ack) => out.acks.push(ack),
                None => out.unexpected.push(complete.to_owned()),
            }
        }
        out
    })
}

/// Waits for `child`, killing it and failing the test after `limit`.
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `command` to completion (at most `limit`), capturing stdout and stderr.
fn finish(mut command: Command, limit: Duration, what: &str) -> Finished {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = wait_within(&mut child, limit, what);
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: start.elapsed(),
    }
}

/// Runs `dump` (or `kv-dump`), which must exit 0, and returns each key's value.
fn dump(db: &str, mode: Mode, keys: usize) -> HashMap<String, u64> {
    let out = finish(
        probe(&[
            mode.dump(),
            "--db",
            db,
            mode.count_flag(),
            &keys.to_string(),
        ]),
        PATIENCE,
        mode.dump(),
    );
    assert!(
        out.status.success(),
        "{} failed ({}): {}",
        mode.dump(),
        out.status,
        out.stderr
    );
    let mut values = HashMap::new();
    for line in out.stdout.lines() {
        let (key, value) = parse_line(line, mode.state(), keys)
            .unwrap_or_else(|| panic!("unexpected dump line {line:?} in:\n{}", out.stdout));
        assert!(
            values.insert(key, value).is_none(),
            "a key twice in:\n{}",
            out.stdout
        );
    }
    assert_eq!(values.len(), keys, "dump printed:\n{}", out.stdout);
    values
}

/// Starts `run`, lets it work for `kill_after`, SIGKILLs it, and returns what it printed.
fn run_and_kill(
    dir: &TempDir,
    db: &str,
    mode: Mode,
    round: usize,
    kill_after: Duration,
) -> RunOutput {
    let stderr_path = dir.file(&format!("{}-{round}.stderr", mode.run()));
    let mut child = probe(&[])
        .args(mode.run_args(db, KEYS, CLIENTS))
        .stdout(Stdio::piped())
        .stderr(File::create(&stderr_path).expect("create the stderr file"))
        .spawn()
        .expect("start the probe");
    let reader = collect_acks(child.stdout.take().expect("stdout"), mode, KEYS);
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the probe");
    let status = child.wait().expect("reap the probe");
    let acks = reader.join().expect("the stdout reader");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // It should have died of the kill, not of something of its own.
    assert!(
        !status.success() && status.code().is_none(),
        "round {round}: the probe exited by itself ({status}) before the kill: {stderr}"
    );
    assert!(
        acks.unexpected.is_empty(),
        "round {round}: stdout carried more than acks: {:?}; stderr: {stderr}",
        acks.unexpected
    );
    acks
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn acknowledged_increments_survive_sigkill() {
    kill_loop(Mode::Actors);
}

#[test]
fn acknowledged_kv_increments_survive_sigkill() {
    kill_loop(Mode::Kv);
}

fn kill_loop(mode: Mode) {
    let dir = TempDir::new(mode.run());
    let db = dir.file("probe.redb");
    let mut rng = XorShift::new(XorShift::clock_seed());
    let mut highest_ack: HashMap<String, u64> = HashMap::new();
    let mut seen: HashSet<(String, u64)> = HashSet::new();
    let mut last_dump: HashMap<String, u64> = HashMap::new();
    let (mut acks, mut cut_off) = (0usize, 0usize);
    let started = Instant::now();
    for round in 0..KILLS {
        let kill_after = Duration::from_millis(rng.between(30, 300));
        let run = run_and_kill(&dir, &db, mode, round, kill_after);
        cut_off += usize::from(run.cut_off.is_some());
        acks += run.acks.len();
        for (key, value) in run.acks {
            // Every increment makes a new value; one seen twice was acknowledged, lost in a
            // crash, and handed out again.
            assert!(
                seen.insert((key.clone(), value)),
                "round {round}: {key} = {value} was acknowledged twice"
            );
            let high = highest_ack.entry(key).or_default();
            *high = (*high).max(value);
        }
        let now = dump(&db, mode, KEYS);
        for (key, &value) in &now {
            let acked = highest_ack.get(key).copied().unwrap_or(0);
            assert!(
                value >= acked,
                "round {round} (killed after {kill_after:?}): {key} is {value} on disk \
                 but {acked} was acknowledged"
            );
            let before = last_dump.get(key).copied().unwrap_or(0);
            assert!(
                value >= before,
                "round {round}: {key} went back from {before} to {value}"
            );
        }
        last_dump = now;
    }
    assert!(
        acks > 0,
        "the probe never acknowledged anything in {KILLS} runs: the test proved nothing"
    );
    cli_agrees(&db, mode, &last_dump);
    let mut finals: Vec<_> = last_dump.into_iter().collect();
    finals.sort();
    println!(
        "{mode:?}: {KILLS} kills, {acks} acknowledged increments ({cut_off} lines cut off by a \
         kill), {:?}; final values {finals:?}",
        started.elapsed()
    );
}

/// The `actors` tool reads the file the kill loop left (after its last `dump` opened it): every
/// row decodes, and each key holds the value `dump` found.
fn cli_agrees(db: &str, mode: Mode, values: &HashMap<String, u64>) {
    let tool = bin::actors_tool();
    let verify = Command::new(&tool)
        .args(["verify", db])
        .output()
        .expect("run actors");
    assert!(
        verify.status.success(),
        "actors verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    for (key, &value) in values {
        let args: Vec<&str> = match mode {
            Mode::Actors => vec!["show", db, "ProbeCounter", key, "--json"],
            Mode::Kv => vec!["kv", "get", db, "probe", key],
        };
        let out = Command::new(&tool)
            .args(&args)
            .output()
            .expect("run actors");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // A key never incremented has no row (dump prints 0 for it).
        if value == 0 && !out.status.success() {
            continue;
        }
        assert!(
            out.status.success(),
            "actors {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = match mode {
            Mode::Actors => {
                let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
                json["state"]["value"].as_u64()
            }
            Mode::Kv => stdout.trim().parse().ok(),
        };
        assert_eq!(shown, Some(value), "actors {args:?} printed {stdout}");
    }
}

#[test]
fn second_process_cannot_open_the_same_file() {
    let dir = TempDir::new("locked");
    let db = dir.file("probe.redb");
    let stderr_path = dir.file("runner.stderr");
    let mut runner = probe(&[])
        .args(Mode::Actors.run_args(&db, 2, 1))
        .stdout(Stdio::piped())
        .stderr(File::create(&stderr_path).expect("create the stderr file"))
        .spawn()
        .expect("start the probe");
    let stdout = runner.stdout.take().expect("stdout");
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = first_tx.send(lines.next());
        // Keep reading so the runner never blocks on a full pipe.
        lines.map_while(Result::ok).count()
    });
    let first = first_rx.recv_timeout(PATIENCE);
    let Ok(Some(Ok(first))) = first else {
        let _ = runner.kill();
        let _ = runner.wait();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!("the runner printed no ack ({first:?}); stderr: {stderr}");
    };
    assert!(
        parse_line(&first, "ack", 2).is_some(),
        "first line: {first:?}"
    );

    // The runner holds the file: `dump` must fail at once, saying why.
    let out = finish(
        probe(&["dump", "--db", &db, "--actors", "2"]),
        Duration::from_secs(10),
        "dump of a file in use",
    );
    let still_running = runner.try_wait().expect("poll the runner").is_none();
    runner.kill().expect("SIGKILL the runner");
    runner.wait().expect("reap the runner");
    reader.join().expect("the stdout reader");
    assert!(still_running, "the runner exited while dump ran");
    assert!(
        !out.status.success() && out.status.code() != Some(2),
        "dump of a file in use: {} (stdout {:?}, stderr {:?})",
        out.status,
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("already open"),
        "the error does not say the file is in use: {:?}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "a failed dump printed: {:?}",
        out.stdout
    );
    println!(
        "dump refused in {:?}: {}",
        out.elapsed,
        out.stderr.trim_end()
    );

    // Once the runner is dead its lock is gone.
    let after = dump(&db, Mode::Actors, 2);
    assert!(after.values().sum::<u64>() >= 1, "{after:?}");
}

#[test]
fn run_for_seconds_exits_cleanly_and_counters_continue() {
    let dir = TempDir::new("continue");
    let db = dir.file("probe.redb");
    let mut previous: HashMap<String, u64> = (0..KEYS).map(|i| (format!("k{i}"), 0)).collect();
    for round in 0..2 {
        let mut args = Mode::Actors.run_args(&db, KEYS, 4);
        args.extend(["--seconds".to_owned(), "1".to_owned()]);
        let mut command = probe(&[]);
        command.args(args);
        let out = finish(command, PATIENCE, "run --seconds 1");
        assert!(
            out.status.success(),
            "run {round} exited with {}: {}",
            out.status,
            out.stderr
        );
        let mut acks = 0u64;
        let mut highest: HashMap<String, u64> = HashMap::new();
        for line in out.stdout.lines() {
            let (key, value) = parse_line(line, "ack", KEYS)
                .unwrap_or_else(|| panic!("run {round}: unexpected stdout line {line:?}"));
            acks += 1;
            let high = highest.entry(key).or_default();
            *high = (*high).max(value);
        }
        assert!(acks > 0, "run {round} acknowledged nothing in a second");

        let now = dump(&db, Mode::Actors, KEYS);
        for (key, &value) in &now {
            let before = previous[key];
            assert!(
                value >= before,
                "run {round}: {key} went from {before} to {value}"
            );
            let acked = highest.get(key).copied().unwrap_or(0);
            assert!(
                value >= acked,
                "run {round}: {key} is {value} but {acked} was acknowledged"
            );
        }
        let (sum_before, sum_now) = (previous.values().sum::<u64>(), now.values().sum::<u64>());
        // Every ack is one increment of its own: the sum grew by at least that many.
        assert!(
            sum_now >= sum_before + acks,
            "run {round}: the sum went from {sum_before} to {sum_now} over {acks} acks"
        );
        println!(
            "run {round}: {acks} acks in {:?}, sum {sum_before} -> {sum_now}",
            out.elapsed
        );
        previous = now;
    }
}
