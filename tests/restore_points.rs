//! Restore points: taken on their schedule, kept up to their number, each restored to a file
//! that opens with the normal API and holds the state as it was then; refused on a held file,
//! onto an existing file, and before the first point. Across SIGKILLs of
//! `examples/durability_probe.rs`, every restore point holds every increment acknowledged
//! before it was taken, and nothing beyond what was later found durable.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/counter.rs"]
mod counter;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use actor_core::{RestorePointError, RestorePoints, System, restore_point, restore_points};
use counter::{Counter, Op};
use scratch::{TempDir, XorShift};

async fn open(path: &std::path::Path, points: RestorePoints) -> System {
    System::builder()
        .path(path)
        .restore_points(points)
        .open()
        .await
        .expect("open the system")
}

/// The count of `Counter/c` in the store at `path`, through the normal API.
async fn count(path: &std::path::Path) -> i64 {
    let system = System::open(path).await.expect("open the restored file");
    let value = system
        .get::<Counter>("c")
        .await
        .expect("the counter")
        .ask(Op::Get)
        .await
        .expect("read it");
    system.shutdown().await;
    value
}

#[tokio::test]
async fn each_point_restores_the_state_it_was_taken_in() {
    let dir = TempDir::new("restore-points");
    let file = dir.path().join("store.redb");
    // A point before every commit, keeping the last four.
    let system = open(&file, RestorePoints::every(Duration::ZERO).keep(4)).await;
    let counter = system.get_or_create::<Counter>("c").await.unwrap();
    for _ in 0..6 {
        counter.ask(Op::Add(1)).await.unwrap();
    }
    system.shutdown().await;

    let points = restore_points(&file).unwrap();
    assert_eq!(points.len(), 4, "{points:?}");
    assert!(
        points
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
    );
    // Each point is the state before one of the last commits: the counts before the last
    // four increments, in order.
    let mut counts = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let out = dir.path().join(format!("at-{i}.redb"));
        let restored = restore_point(&file, point.at, &out).unwrap();
        assert_eq!(
            restored, *point,
            "the latest point at or before its own time"
        );
        assert!(
            restore_points(&out).unwrap().is_empty(),
            "a restored file keeps no points"
        );
        counts.push(count(&out).await);
    }
    assert_eq!(counts, [2, 3, 4, 5]);
    // The original is untouched.
    assert_eq!(count(&file).await, 6);
}

#[tokio::test]
async fn restore_is_refused_where_it_would_lose_or_guess() {
    let dir = TempDir::new("restore-refused");
    let file = dir.path().join("store.redb");
    let system = open(&file, RestorePoints::every(Duration::ZERO)).await;
    let counter = system.get_or_create::<Counter>("c").await.unwrap();
    counter.ask(Op::Add(1)).await.unwrap();

    // Held by a running system: neither listed nor restored.
    let out = dir.path().join("out.redb");
    assert!(matches!(
        restore_points(&file),
        Err(RestorePointError::Held { .. })
    ));
    let held = restore_point(&file, SystemTime::now(), &out).unwrap_err();
    assert!(matches!(held, RestorePointError::Held { .. }), "{held:?}");
    assert!(!out.exists());
    system.shutdown().await;

    // Before the first point.
    let before = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
    let none = restore_point(&file, before, &out).unwrap_err();
    assert!(
        matches!(none, RestorePointError::NoPoint { .. }),
        "{none:?}"
    );
    assert!(none.to_string().contains("no restore point"), "{none}");
    // Onto a file that exists: never overwritten.
    std::fs::write(&out, b"precious").unwrap();
    let exists = restore_point(&file, SystemTime::now(), &out).unwrap_err();
    assert!(
        matches!(exists, RestorePointError::OutputExists { .. }),
        "{exists:?}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    // A missing file.
    let missing = restore_points(dir.path().join("nope.redb")).unwrap_err();
    assert!(
        matches!(missing, RestorePointError::Io { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn points_are_off_by_default_and_follow_their_interval() {
    let dir = TempDir::new("restore-off");
    let file = dir.path().join("store.redb");
    let system = System::open(&file).await.unwrap();
    let counter = system.get_or_create::<Counter>("c").await.unwrap();
    counter.ask(Op::Add(1)).await.unwrap();
    system.shutdown().await;
    assert!(restore_points(&file).unwrap().is_empty());

    // An hour apart: the first commit takes one, the next ones none.
    let system = open(&file, RestorePoints::every(Duration::from_secs(3600))).await;
    let counter = system.get::<Counter>("c").await.unwrap();
    for _ in 0..5 {
        counter.ask(Op::Add(1)).await.unwrap();
    }
    system.shutdown().await;
    assert_eq!(restore_points(&file).unwrap().len(), 1);
    // Reopened within the hour: still none due.
    let system = open(&file, RestorePoints::every(Duration::from_secs(3600))).await;
    let counter = system.get::<Counter>("c").await.unwrap();
    counter.ask(Op::Add(1)).await.unwrap();
    system.shutdown().await;
    assert_eq!(restore_points(&file).unwrap().len(), 1);
}

// Across SIGKILLs of `examples/durability_probe.rs`.

const KEYS: usize = 4;
const ROUNDS: usize = 6;

/// `ack <key> <value>` or `state <key> <value>`.
fn parse(line: &str, tag: &str) -> Option<(String, u64)> {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(t), Some(key), Some(value), None) if t == tag => {
            Some((key.to_owned(), value.parse().ok()?))
        }
        _ => None,
    }
}

/// Every key's value in the store at `db`, read by the probe's `dump`.
fn dump(db: &str) -> HashMap<String, u64> {
    let out = Command::new(bin::example("durability_probe"))
        .args(["dump", "--db", db, "--actors", &KEYS.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run dump");
    assert!(
        out.status.success(),
        "dump {db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| parse(line, "state").unwrap_or_else(|| panic!("dump printed {line:?}")))
        .collect()
}

#[test]
fn every_restore_point_holds_what_was_acknowledged_before_it() {
    let seed = XorShift::clock_seed();
    println!("seed {seed}");
    let mut rng = XorShift::new(seed);
    let dir = TempDir::new("restore-kill");
    let db = dir.file("probe.redb");
    // Every ack, with the moment this process read it (after the probe made it durable).
    let mut acks: Vec<(SystemTime, String, u64)> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(bin::example("durability_probe"))
            .args(["run", "--db", &db, "--actors", &KEYS.to_string()])
            .args(["--clients", "4", "--restore-every-ms", "40"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the probe");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut read = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((key, value)) = parse(&line, "ack") {
                    read.push((SystemTime::now(), key, value));
                }
            }
            read
        });
        std::thread::sleep(Duration::from_millis(rng.between(150, 500)));
        child.kill().expect("SIGKILL the probe");
        child.wait().expect("reap it");
        let run = reader.join().expect("the reader");
        assert!(
            !run.is_empty() || round > 0,
            "the probe acknowledged nothing"
        );
        acks.extend(run);
    }
    let last = dump(&db);
    let points = restore_points(&db).expect("list the points");
    assert!(
        points.len() >= ROUNDS,
        "a point or more per run: {points:?}"
    );
    let mut previous: HashMap<String, u64> = HashMap::new();
    for (i, point) in points.iter().enumerate() {
        let out = dir.file(&format!("point-{i}.redb"));
        restore_point(&db, point.at, &out).expect("restore the point");
        let state = dump(&out);
        for (key, &value) in &state {
            // Every increment acknowledged (read here) before the point was taken is in it.
            let floor = acks
                .iter()
                .filter(|(at, k, _)| at < &point.at && k == key)
                .map(|(_, _, v)| *v)
                .max()
                .unwrap_or(0);
            assert!(
                value >= floor,
                "point {i} ({:?}): {key} = {value}, but {floor} was acknowledged before it (seed {seed})",
                point.at
            );
            // Points only go forward, and never beyond what the file finally holds.
            let before = previous.get(key).copied().unwrap_or(0);
            assert!(
                value >= before,
                "point {i}: {key} went back from {before} to {value}"
            );
            assert!(
                value <= last[key],
                "point {i}: {key} = {value} beyond the final {}",
                last[key]
            );
        }
        previous = state;
    }
    println!("{} acks, {} points checked", acks.len(), points.len());
}
