//! `kill -9` at random moments never loses an acknowledged action. The durability probe runs
//! as a real child process, is killed with SIGKILL, and `dump` (another process, through the
//! public API) must show every key at or above its highest acknowledged value, and never
//! below an earlier dump.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/storage.rs"]
mod storage;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ACTORS: usize = 8;

fn probe() -> Command {
    Command::new(bin::example("durability_probe"))
}

/// Which side of the probe a test drives: actors or the key-value store.
#[derive(Clone, Copy)]
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

    fn ack(self) -> &'static str {
        match self {
            Self::Actors => "ack",
            Self::Kv => "kvack",
        }
    }

    fn state(self) -> &'static str {
        match self {
            Self::Actors => "state",
            Self::Kv => "kv",
        }
    }
}

fn dump(db: &str) -> HashMap<String, u64> {
    dump_mode(db, Mode::Actors)
}

fn dump_mode(db: &str, mode: Mode) -> HashMap<String, u64> {
    let out = probe()
        .args([mode.dump(), "--db", db, "--actors", &ACTORS.to_string()])
        .output()
        .expect("run dump");
    assert!(
        out.status.success(),
        "dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let values: HashMap<String, u64> = text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(tag), Some(key), Some(value)) if tag == mode.state() => {
                    Some((key.to_owned(), value.parse().expect("a number")))
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(values.len(), ACTORS, "dump printed:\n{text}");
    values
}

/// Runs the probe until `kill_after`, SIGKILLs it, and returns every `ack` it printed.
fn run_and_kill(db: &str, mode: Mode, kill_after: Duration) -> Vec<(String, u64)> {
    let mut child = probe()
        .args([
            mode.run(),
            "--db",
            db,
            "--actors",
            &ACTORS.to_string(),
            "--clients",
            "16",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start probe");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        // Reads until EOF: every line printed before the kill counts as acknowledged.
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|line| {
                let mut parts = line.split(' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(tag), Some(key), Some(value)) if tag == mode.ack() => {
                        (key.to_owned(), value.parse::<u64>().expect("a number"))
                    }
                    _ => panic!("unexpected stdout line: {line}"),
                }
            })
            .collect::<Vec<_>>()
    });
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    reader.join().expect("reader")
}

#[test]
fn acknowledged_increments_survive_sigkill() {
    kill_loop(Mode::Actors);
}

#[test]
fn acknowledged_kv_increments_survive_sigkill() {
    kill_loop(Mode::Kv);
}

fn kill_loop(mode: Mode) {
    let path = storage::temp_path(mode.run());
    let db = path.to_str().expect("utf-8 path").to_owned();
    let mut highest_ack: HashMap<String, u64> = HashMap::new();
    let mut last_dump: HashMap<String, u64> = HashMap::new();
    let mut acks = 0;
    let mut seed = u64::from(std::process::id()) | 1;
    let kills = 24;
    for round in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(30 + seed % 270);
        for (key, value) in run_and_kill(&db, mode, kill_after) {
            acks += 1;
            let high = highest_ack.entry(key).or_default();
            *high = (*high).max(value);
        }
        let now = dump_mode(&db, mode);
        for (key, &value) in &now {
            let acked = highest_ack.get(key).copied().unwrap_or(0);
            assert!(
                value >= acked,
                "round {round}: {key} is {value} on disk but {acked} was acknowledged"
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
        "the probe never acknowledged anything: the test proved nothing"
    );
    println!("{kills} kills, {acks} acknowledged increments, final state {last_dump:?}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_second_process_gets_a_clear_error_not_a_hang() {
    let path = storage::temp_path("locked");
    let db = path.to_str().expect("utf-8 path").to_owned();
    let mut runner = probe()
        .args(["run", "--db", &db, "--actors", "2", "--clients", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start probe");
    let mut lines = BufReader::new(runner.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("an ack").expect("a line");
    assert!(first.starts_with("ack "), "{first}");

    let started = Instant::now();
    let out = probe()
        .args(["dump", "--db", &db, "--actors", "2"])
        .output()
        .expect("run dump");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a second process opened a file in use"
    );
    assert!(stderr.contains("already open"), "unclear error: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "it hung");
    runner.kill().expect("SIGKILL");
    runner.wait().expect("reap");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn counters_continue_across_clean_runs() {
    let path = storage::temp_path("continue");
    let db = path.to_str().expect("utf-8 path").to_owned();
    let mut sums = Vec::new();
    for _ in 0..2 {
        let status = probe()
            .args([
                "run",
                "--db",
                &db,
                "--actors",
                &ACTORS.to_string(),
                "--clients",
                "4",
                "--seconds",
                "1",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("run probe");
        assert!(status.success());
        sums.push(dump(&db).values().sum::<u64>());
    }
    assert!(sums[0] > 0 && sums[1] > sums[0], "{sums:?}");
    std::fs::remove_file(path).unwrap();
}
