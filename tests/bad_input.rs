//! Bad files, records and places: a record written by a different state type, a truncated
//! database, a read-only directory and a read-only file. Each is answered by a typed error
//! that names what was wrong, and nothing stored is changed. (Corrupt and future-format
//! records, a file that is not a database and a second process are in `tests/persistence.rs`
//! and `tests/crash.rs`; oversized state and values in `tests/living.rs` and `tests/kv.rs`.)

#[path = "support/counter.rs"]
mod counter;
#[path = "support/storage.rs"]
mod storage;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;

use actor_core::{
    Actor, DecodeError, OpenError, RedbOptions, RedbStorage, StartError, Storage, System, actions,
};
use counter::{Counter, Op};
use serde::{Deserialize, Serialize};
use storage::temp_path;

/// A database file holding `n` counters `c0..c{n}` with the values `0..n`.
async fn file_with_counters(path: &Path, n: i64) {
    let system = System::open(path).await.unwrap();
    for i in 0..n {
        let c = system
            .get_or_create_with::<Counter>(format!("c{i}"), 0)
            .await
            .unwrap();
        c.ask(Op::Add(i)).await.unwrap();
    }
    system.shutdown().await;
}

/// What one program stored under the name `Thing`.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "Thing")]
struct Counted {
    count: i64,
}

#[actions]
impl Counted {
    pub async fn add(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

/// Another program's idea of `Thing`, with the same state version.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "Thing")]
struct Labelled {
    label: String,
    tags: Vec<String>,
}

#[actions]
impl Labelled {
    pub async fn label(&self) -> String {
        self.label.clone()
    }
}

#[tokio::test]
async fn a_record_of_another_state_type_is_a_typed_error_and_left_as_it_was() {
    let path = temp_path("other-type");
    let system = System::open(&path).await.unwrap();
    let thing = system.get_or_create::<Counted>("t").await.unwrap();
    assert_eq!(thing.add(7).await.unwrap(), 7);
    system.shutdown().await;
    let load = || {
        RedbStorage::open(&path, &RedbOptions::default())
            .unwrap()
            .load("Thing", "t")
            .unwrap()
    };
    let before = load();

    let system = System::open(&path).await.unwrap();
    for _ in 0..2 {
        let error = system.get::<Labelled>("t").await.unwrap_err();
        let StartError::Decode { actor, source } = &error else {
            panic!("expected a decode error, got {error:?}");
        };
        assert_eq!(actor.key.as_str(), "t");
        assert!(matches!(source, DecodeError::Cbor(_)), "{source:?}");
        assert!(
            error.to_string().contains(r#"Thing("t")"#),
            "names the actor: {error}"
        );
        // Nor does get_or_create overwrite it with a fresh state.
        assert!(system.get_or_create::<Labelled>("t").await.is_err());
    }
    system.shutdown().await;
    assert_eq!(load(), before, "the record is untouched");

    // The program that wrote it still reads it.
    let system = System::open(&path).await.unwrap();
    let thing = system.get::<Counted>("t").await.unwrap();
    assert_eq!(thing.add(1).await.unwrap(), 8);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_truncated_file_is_refused_and_left_as_it_was() {
    let path = temp_path("whole");
    file_with_counters(&path, 300).await;
    let whole = std::fs::read(&path).unwrap();
    assert!(whole.len() > 8192, "the file spans several pages");
    std::fs::remove_file(&path).unwrap();

    for cut in [whole.len() / 2, 8192, 4096, 512, 100, 1] {
        let truncated = temp_path("truncated");
        std::fs::write(&truncated, &whole[..cut]).unwrap();
        let error = System::open(&truncated)
            .await
            .expect_err("a truncated file does not open");
        assert!(
            matches!(error, OpenError::Database { .. }),
            "{cut}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&truncated.display().to_string()),
            "the error names the file: {message}"
        );
        assert_eq!(
            std::fs::read(&truncated).unwrap(),
            &whole[..cut],
            "{cut}: the file was not touched"
        );
        std::fs::remove_file(truncated).unwrap();
    }
}

/// The uid of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Set in the child that runs the read-only checks without root's power to ignore
/// permissions.
const CHILD: &str = "ACTOR_SUITE_READ_ONLY_CHILD";

#[test]
fn a_read_only_directory_or_file_is_a_clear_error_and_loses_nothing() {
    if euid() != 0 {
        read_only_checks();
        return;
    }
    // Root ignores file permissions, so the checks run again in this test binary as the
    // unprivileged user `nobody`.
    assert!(
        std::env::var_os(CHILD).is_none(),
        "the unprivileged child still runs as root"
    );
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_read_only_directory_or_file_is_a_clear_error_and_loses_nothing",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .uid(65_534)
        .gid(65_534)
        .output()
        .expect("run the checks as the user nobody");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the unprivileged run failed:\n{stdout}\n{stderr}"
    );
}

fn read_only_checks() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = temp_path("read-only-dir");
        std::fs::create_dir(&dir).unwrap();

        // An existing database, then the directory and the file made read-only.
        let path = dir.join("actors.redb");
        file_with_counters(&path, 3).await;
        let before = std::fs::read(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();

        // A new file in the read-only directory.
        let new = dir.join("new.redb");
        let error = System::open(&new).await.expect_err("cannot create a file");
        assert!(matches!(error, OpenError::Database { .. }), "{error:?}");
        assert!(
            error.to_string().contains("new.redb"),
            "the error names the file: {error}"
        );
        assert!(!new.exists());

        // The read-only file.
        let error = System::open(&path)
            .await
            .expect_err("cannot write the file");
        assert!(matches!(error, OpenError::Database { .. }), "{error:?}");
        assert!(
            error.to_string().contains("actors.redb"),
            "the error names the file: {error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was changed");

        // Writable again: everything is there.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let system = System::open(&path).await.unwrap();
        for i in 0..3 {
            let c = system.get::<Counter>(format!("c{i}")).await.unwrap();
            assert_eq!(c.ask(Op::Get).await.unwrap(), i);
        }
        system.shutdown().await;
        std::fs::remove_dir_all(dir).unwrap();
    });
}
