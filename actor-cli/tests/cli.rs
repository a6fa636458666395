//! The `actors` binary on files written through actor-core's public API: every command, its
//! `--json` parsed back, a corrupt record, a missing file, usage errors, and a file a system
//! in a child process holds (and keeps committing to) while the commands read it.

// `pub` marks actions here, not an API.
#![allow(unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use actor_core::{RedbOptions, RedbStorage, Storage, System, Write, actions};
use serde::{Deserialize, Serialize};

#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

/// A state with what JSON lacks: an integer over 64 bits and a map with integer keys.
#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
struct Ledger {
    total: u128,
    names: BTreeMap<u32, String>,
}

#[actions]
impl Ledger {
    pub async fn add(&mut self, id: u32, name: String, amount: u128) {
        self.total += amount;
        self.names.insert(id, name);
    }
}

/// The child phase of [`a_held_file_is_read_while_its_system_commits`]: set in the child.
const HOLD: &str = "ACTORS_CLI_HOLD";

fn actors(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_actors"))
        .args(args.iter().map(AsRef::as_ref))
        .output()
        .expect("run the actors binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

#[track_caller]
fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).expect("the output is JSON")
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("actors-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make the scratch directory");
    dir
}

/// Counters `a` (1), `b` (2), `c` (3) and `user/17` (17), a ledger, and a key-value store
/// `STATE` with `theme` and `lang`; then shuts the system down.
async fn fill(path: &Path) {
    let system = System::open(path).await.expect("open");
    for (key, by) in [("a", 1), ("b", 2), ("c", 3)] {
        let counter = system.get_or_create::<Counter>(key).await.expect("create");
        counter.increment(by).await.expect("increment");
    }
    let user = system
        .get_or_create::<Counter>(["user", "17"])
        .await
        .expect("create");
    user.increment(17).await.expect("increment");
    let ledger = system
        .get_or_create::<Ledger>("main")
        .await
        .expect("create");
    ledger
        .add(7, "seven".into(), u128::from(u64::MAX) * 4)
        .await
        .expect("add");
    let kv = system.kv("STATE").expect("store");
    kv.set("theme", "dark").await.expect("set");
    kv.set("lang", "fr").await.expect("set");
    system.shutdown().await;
}

#[tokio::test]
async fn ls_lists_types_then_keys_in_pages() {
    let dir = scratch("ls");
    let file = dir.join("data.redb");
    fill(&file).await;

    assert_eq!(ok(&actors(&[&"ls", &file])), "Counter\t4\nLedger\t1\n");
    let types = json(&actors(&[&"ls", &file, &"--json"]));
    assert_eq!(
        types,
        serde_json::json!({"types": [{"type": "Counter", "count": 4}, {"type": "Ledger", "count": 1}]})
    );

    assert_eq!(
        ok(&actors(&[&"ls", &file, &"--type", &"Counter"])),
        "a\nb\nc\nuser/17\n"
    );
    let first = json(&actors(&[
        &"ls", &file, &"--type", &"Counter", &"--limit", &"2", &"--json",
    ]));
    assert_eq!(
        first,
        serde_json::json!({"type": "Counter", "keys": ["a", "b"], "next": "b"})
    );
    let second = json(&actors(&[
        &"ls", &file, &"--type", &"Counter", &"--limit", &"2", &"--after", &"b", &"--json",
    ]));
    assert_eq!(
        second,
        serde_json::json!({"type": "Counter", "keys": ["c", "user/17"], "next": null})
    );
    let users = json(&actors(&[
        &"ls",
        &file,
        &"--type",
        &"Counter",
        &"--prefix",
        &"user/",
        &"--json",
    ]));
    assert_eq!(users["keys"], serde_json::json!(["user/17"]));
    let none = json(&actors(&[&"ls", &file, &"--type", &"Nobody", &"--json"]));
    assert_eq!(none["keys"], serde_json::json!([]));
}

#[tokio::test]
async fn show_prints_a_record_and_its_state_as_json() {
    let dir = scratch("show");
    let file = dir.join("data.redb");
    fill(&file).await;

    let shown = json(&actors(&[
        &"show", &file, &"Counter", &"user/17", &"--json",
    ]));
    assert_eq!(shown["type"], "Counter");
    assert_eq!(shown["key"], "user/17");
    assert_eq!(shown["state_version"], 1);
    assert_eq!(shown["state"], serde_json::json!({"count": 17}));
    assert_eq!(shown["id"].as_str().map(str::len), Some(36), "{shown}");
    assert!(shown["size"].as_u64().is_some_and(|size| size > 21));

    // Over 64 bits: an exact decimal string; integer map keys: the `$map` pair list.
    let ledger = json(&actors(&[&"show", &file, &"Ledger", &"main", &"--json"]));
    let total = (u128::from(u64::MAX) * 4).to_string();
    assert_eq!(
        ledger["state"],
        serde_json::json!({"total": total, "names": {"$map": [[7, "seven"]]}})
    );

    let text = ok(&actors(&[&"show", &file, &"Counter", &"a"]));
    assert!(text.contains("state version: 1\n"), "{text}");
    assert!(text.contains("\"count\": 1"), "{text}");

    let missing = actors(&[&"show", &file, &"Counter", &"zz"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stdout(&missing).is_empty());
    let message = stderr(&missing);
    assert!(
        message.contains(&file.display().to_string())
            && message.contains("no actor Counter \"zz\""),
        "{message}"
    );
}

#[tokio::test]
async fn kv_lists_stores_and_keys_and_gets_a_value() {
    let dir = scratch("kv");
    let file = dir.join("data.redb");
    fill(&file).await;

    assert_eq!(ok(&actors(&[&"kv", &"ls", &file])), "STATE\t2\n");
    assert_eq!(
        json(&actors(&[&"kv", &"ls", &file, &"--json"])),
        serde_json::json!({"stores": [{"store": "STATE", "count": 2}]})
    );
    assert_eq!(
        ok(&actors(&[&"kv", &"ls", &file, &"STATE"])),
        "lang\ntheme\n"
    );
    assert_eq!(
        json(&actors(&[
            &"kv",
            &"ls",
            &file,
            &"STATE",
            &"--prefix",
            &"t",
            &"--json"
        ])),
        serde_json::json!({"store": "STATE", "keys": ["theme"], "next": null})
    );
    assert_eq!(
        ok(&actors(&[&"kv", &"get", &file, &"STATE", &"theme"])),
        "dark\n"
    );

    let missing = actors(&[&"kv", &"get", &file, &"STATE", &"nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no key \"nope\""),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn verify_names_a_corrupt_record_and_exits_1() {
    let dir = scratch("verify");
    let file = dir.join("data.redb");
    fill(&file).await;
    assert!(ok(&actors(&[&"verify", &file])).ends_with(": 0 bad\n"));

    // A record of an unknown format and one whose CBOR is cut short, written as any
    // storage client could.
    {
        let storage = RedbStorage::open(&file, &RedbOptions::default()).expect("open");
        let mut cut = vec![1u8];
        cut.extend_from_slice(&[0; 16]);
        cut.extend_from_slice(&1u32.to_le_bytes());
        cut.extend_from_slice(&[0xa1, 0x65, b'c', b'o']);
        storage
            .commit(&mut [
                Write::PutActor {
                    kind: "Counter",
                    key: "bad-format",
                    record: &[9, 9, 9],
                },
                Write::PutActor {
                    kind: "Counter",
                    key: "cut",
                    record: &cut,
                },
            ])
            .expect("commit");
    }

    let found = actors(&[&"verify", &file]);
    assert_eq!(found.status.code(), Some(1), "{}", stdout(&found));
    let text = stdout(&found);
    assert!(
        text.contains("actors Counter \"bad-format\": the record does not decode: record format 9 is not supported"),
        "{text}"
    );
    assert!(
        text.contains("actors Counter \"cut\": the record does not decode"),
        "{text}"
    );
    assert!(text.ends_with(": 2 bad\n"), "{text}");
    assert!(stderr(&found).contains("2 bad rows"), "{}", stderr(&found));

    let report = actors(&[&"verify", &file, &"--json"]);
    assert_eq!(report.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    assert_eq!(report["checked"]["actors"], 7);
    assert_eq!(report["checked"]["kv"], 2);
    let keys: Vec<_> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| (p["table"].clone(), p["key"].clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("actors".into(), "Counter \"bad-format\"".into()),
            ("actors".into(), "Counter \"cut\"".into())
        ]
    );

    // `show` prints what it can of a bad record, and fails naming it.
    let shown = actors(&[&"show", &file, &"Counter", &"cut"]);
    assert_eq!(shown.status.code(), Some(1));
    assert!(
        stdout(&shown).contains("state version: 1"),
        "{}",
        stdout(&shown)
    );
    assert!(
        stderr(&shown).contains("actor Counter \"cut\""),
        "{}",
        stderr(&shown)
    );
}

#[test]
fn a_missing_file_or_a_bad_usage_is_a_clear_error() {
    let dir = scratch("missing");
    let file = dir.join("nothing-here.redb");
    for args in [
        vec!["ls"],
        vec!["show", "Counter", "a"],
        vec!["kv", "ls"],
        vec!["verify"],
    ] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
        let (head, tail) = args.split_at(if args[0] == "kv" { 2 } else { 1 });
        for a in head {
            all.push(a);
        }
        all.push(&file);
        for a in tail {
            all.push(a);
        }
        let out = actors(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&out),
            format!("actors: {}: no such file\n", file.display()),
            "{args:?}"
        );
        assert!(!file.exists(), "a read-only command created the file");
    }

    let not_a_store = dir.join("text.redb");
    std::fs::write(&not_a_store, "hello, this is not a database").expect("write");
    let out = actors(&[&"ls", &not_a_store]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "actors: {}: cannot open the database",
            not_a_store.display()
        )),
        "{}",
        stderr(&out)
    );

    assert_eq!(actors(&[&"ls"]).status.code(), Some(2));
    assert_eq!(actors(&[&"frobnicate", &file]).status.code(), Some(2));
    assert_eq!(
        actors(&[&"ls", &file, &"--limit", &"0"]).status.code(),
        Some(2)
    );
    assert_eq!(
        actors(&[&"ls", &file, &"--after", &"x"]).status.code(),
        Some(2)
    );
    assert_eq!(actors(&[&"--help"]).status.code(), Some(0));
}

#[tokio::test]
async fn backup_and_restore_round_trip_and_refuse_to_overwrite() {
    let dir = scratch("backup");
    let file = dir.join("data.redb");
    let copy = dir.join("copy.redb");
    fill(&file).await;

    let done = ok(&actors(&[&"backup", &file, &copy]));
    assert!(
        done.starts_with("backed up 5 actors, 2 key-value entries"),
        "{done}"
    );
    assert_eq!(ok(&actors(&[&"verify", &copy])).lines().count(), 1);

    let again = actors(&[&"backup", &file, &copy]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("{}: already exists", copy.display())),
        "{}",
        stderr(&again)
    );

    // Restore into a new file, then over the original (only with --force).
    let restored = dir.join("restored.redb");
    ok(&actors(&[&"restore", &copy, &restored]));
    let refused = actors(&[&"restore", &copy, &file]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("already exists; force"),
        "{}",
        stderr(&refused)
    );
    {
        let system = System::open(&file).await.expect("open");
        let a = system.get::<Counter>("a").await.expect("a");
        a.increment(100).await.expect("increment");
        system.shutdown().await;
    }
    ok(&actors(&[&"restore", &copy, &file, &"--force"]));

    for path in [&restored, &file] {
        let system = System::open(path).await.expect("a restored file opens");
        let a = system.get::<Counter>("a").await.expect("a");
        assert_eq!(a.increment(0).await.expect("read"), 1, "{}", path.display());
        let theme = system.kv("STATE").expect("store").get("theme").await;
        assert_eq!(theme.expect("get").as_deref(), Some("dark"));
        system.shutdown().await;
    }
    let missing = actors(&[&"restore", &dir.join("no-backup.redb"), &dir.join("x.redb")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no-backup.redb: no such file"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn pitr_lists_restore_points_and_restores_to_a_time() {
    let dir = scratch("pitr");
    let file = dir.join("data.redb");
    // Off by default: nothing listed.
    fill(&file).await;
    assert_eq!(
        json(&actors(&[&"pitr", &"ls", &file, &"--json"])),
        serde_json::json!({ "restore_points": [] })
    );
    // A point at every commit, the last three kept.
    let system = System::builder()
        .path(&file)
        .restore_points(actor_core::RestorePoints::every(std::time::Duration::ZERO).keep(3))
        .open()
        .await
        .expect("open");
    let a = system.get::<Counter>("a").await.expect("a");
    for _ in 0..4 {
        a.increment(10).await.expect("increment");
    }
    system.shutdown().await;

    let listed = json(&actors(&[&"pitr", &"ls", &file, &"--json"]));
    let points = listed["restore_points"].as_array().expect("a list");
    assert_eq!(points.len(), 3, "{listed}");
    let text = ok(&actors(&[&"pitr", &"ls", &file]));
    assert_eq!(text.lines().count(), 3, "{text}");
    // Each point is the state before a commit: the three kept are before the last three
    // increments (a was 1, then 11, 21, 31, 41), the oldest at 11.
    let oldest = points[0]["at"].as_str().expect("an RFC 3339 time");
    let then = dir.join("then.redb");
    let said = ok(&actors(&[&"restore", &file, &"--at", &oldest, &then]));
    assert!(
        said.starts_with(&format!(
            "restored {} as it was at {oldest}",
            then.display()
        )),
        "{said}"
    );
    let system = System::open(&then).await.expect("the restored file opens");
    let a = system.get::<Counter>("a").await.expect("a");
    assert_eq!(a.increment(0).await.expect("read"), 11);
    system.shutdown().await;

    // Never over an existing file, not before the first point, and a clear usage error.
    let again = actors(&[&"restore", &file, &"--at", &"now", &then]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    let early = actors(&[
        &"restore",
        &file,
        &"--at",
        &"2001-01-01T00:00:00Z",
        &dir.join("early.redb"),
    ]);
    assert_eq!(early.status.code(), Some(1));
    assert!(
        stderr(&early).contains("no restore point at or before"),
        "{}",
        stderr(&early)
    );
    let bad = actors(&[
        &"restore",
        &file,
        &"--at",
        &"yesterday",
        &dir.join("bad.redb"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
    let forced = actors(&[&"restore", &file, &"--at", &"now", &then, &"--force"]);
    assert_eq!(forced.status.code(), Some(2), "{}", stderr(&forced));
}

#[tokio::test]
async fn a_file_locked_whole_is_refused_clearly() {
    let dir = scratch("whole");
    let file = dir.join("data.redb");
    fill(&file).await;
    let system = System::builder()
        .path(&file)
        .shared_reads(false)
        .open()
        .await
        .expect("open");
    let refused = actors(&[&"ls", &file]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        format!(
            "actors: {}: held by a running system that does not share the file; read it after the system shuts down\n",
            file.display()
        )
    );
    system.shutdown().await;
    assert_eq!(ok(&actors(&[&"ls", &file])), "Counter\t4\nLedger\t1\n");
}

/// The child side: opens the file, then increments `held` forever, printing each
/// acknowledged count, until the parent kills it.
#[tokio::test]
async fn held_child() {
    let Some(file) = std::env::var_os(HOLD) else {
        return;
    };
    let system = System::open(PathBuf::from(file))
        .await
        .expect("open in the child");
    let counter = system
        .get_or_create::<Counter>("held")
        .await
        .expect("create");
    system
        .kv("STATE")
        .expect("store")
        .set("owner", "child")
        .await
        .expect("set");
    loop {
        let count = counter.increment(1).await.expect("increment");
        println!("acked={count}");
    }
}

/// The child, and its acknowledged counts as it prints them.
struct Holder {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Holder {
    fn start(file: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "held_child", "--nocapture", "--test-threads=1"])
            .env(HOLD, file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { child, lines }
    }

    /// The next count the child acknowledged.
    fn acked(&mut self) -> i64 {
        for line in self.lines.by_ref() {
            let line = line.expect("the child's output");
            if let Some(count) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("acked="))
            {
                return count.parse().expect("a count");
            }
        }
        panic!("the child exited");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_held_file_is_read_while_its_system_commits() {
    let dir = scratch("held");
    let file = dir.join("data.redb");
    fill(&file).await;
    let mut holder = Holder::start(&file);
    let mut last = holder.acked();

    // Each read sees at least what was acknowledged before it started, and never goes back.
    let mut seen = 0;
    for _ in 0..5 {
        let before = holder.acked();
        let shown = json(&actors(&[&"show", &file, &"Counter", &"held", &"--json"]));
        let count = shown["state"]["count"].as_i64().expect("a count");
        assert!(
            count >= before && count >= seen,
            "{count} < {before} or {seen}"
        );
        seen = count;
        last = last.max(before);
    }
    assert!(last > 0);
    assert_eq!(ok(&actors(&[&"ls", &file])), "Counter\t5\nLedger\t1\n");
    assert_eq!(
        ok(&actors(&[&"kv", &"get", &file, &"STATE", &"owner"])),
        "child\n"
    );
    assert!(ok(&actors(&[&"verify", &file])).ends_with(": 0 bad\n"));

    // A backup from this process while the child writes: a snapshot at least as new as
    // what was acknowledged before it.
    let before = holder.acked();
    let copy = dir.join("copy.redb");
    ok(&actors(&[&"backup", &file, &copy]));
    let copied = json(&actors(&[&"show", &copy, &"Counter", &"held", &"--json"]));
    let copied = copied["state"]["count"].as_i64().expect("a count");
    assert!(copied >= before, "{copied} < {before}");

    // Restoring over the held file is refused, forced or not; the file is untouched.
    for force in [false, true] {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"restore", &copy, &file];
        if force {
            args.push(&"--force");
        }
        let refused = actors(&args);
        assert_eq!(refused.status.code(), Some(1));
        let message = stderr(&refused);
        if force {
            assert!(message.contains("held by a running system"), "{message}");
        } else {
            assert!(message.contains("already exists"), "{message}");
        }
    }
    let still = holder.acked();
    let shown = json(&actors(&[&"show", &file, &"Counter", &"held", &"--json"]));
    assert!(shown["state"]["count"].as_i64().expect("a count") >= still);

    // Killed, the child leaves the file unclean with no system to repair it: a read-only
    // command says so rather than repair it behind the operator's back.
    drop(holder);
    let unclean = actors(&[&"ls", &file]);
    assert_eq!(unclean.status.code(), Some(1));
    assert!(
        stderr(&unclean).contains("not closed cleanly"),
        "{}",
        stderr(&unclean)
    );
    // Opened by a system (which repairs it) and shut down, it reads again.
    System::open(&file).await.expect("repair").shutdown().await;
    assert_eq!(ok(&actors(&[&"ls", &file])), "Counter\t5\nLedger\t1\n");
}
