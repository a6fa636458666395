//! `System::backup` under load: 64 clients keep incrementing counters while the backup
//! copies one snapshot. The backup holds every increment acknowledged before it started and
//! nothing newer than the end; it opens with `System::open`, and `inspect::restore` puts it
//! back in place, refusing a file a running system holds.
//!
//! `cargo test --release --test backup -- --nocapture` prints the report: the writer's
//! commit latency before and during the copy, the pause the backup caused.

#[path = "support/counter.rs"]
mod counter;
#[path = "support/scratch.rs"]
mod scratch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use actor_core::inspect::{self, Inspector};
use actor_core::{BackupError, RestoreError, System};
use counter::{Counter, Op};

const CLIENTS: usize = 64;
/// Actors besides the counters, so that the copy takes a while.
const FILLER: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_is_the_snapshot_it_started_from() {
    let dir = scratch::TempDir::new("backup");
    let file = dir.path().join("data.redb");
    let out = dir.path().join("backup.redb");
    let system = System::open(&file).await.expect("open");

    add_filler(&system).await;

    // 64 clients, one counter each, recording every count acknowledged to them.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Vec<AtomicI64>> = Arc::new((0..CLIENTS).map(|_| AtomicI64::new(0)).collect());
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (system, stop, acked) = (system.clone(), Arc::clone(&stop), Arc::clone(&acked));
        clients.push(tokio::spawn(async move {
            let counter = system
                .get_or_create::<Counter>(format!("client-{client:02}"))
                .await
                .expect("create");
            while !stop.load(Ordering::Relaxed) {
                let count = counter.ask(Op::Add(1)).await.expect("add");
                acked[client].store(count, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    let report = system.backup(&out).await.expect("backup");
    let after_backup: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let last: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    println!("{report:#?}");

    assert_eq!(report.path, out);
    assert_eq!(report.copied.actors, (FILLER + CLIENTS) as u64);
    assert_eq!(report.copied.kv, 1);
    assert!(report.bytes > 0);
    let (during, earlier) = (
        report.during.expect("during"),
        report.before.expect("before"),
    );
    assert!(
        earlier.commits > 0,
        "the clients were committing before the backup"
    );
    assert!(during.longest >= during.mean && earlier.longest >= earlier.mean);

    // Every count acknowledged before the backup is in it; nothing past the final count is.
    let copy = Inspector::open(&out).expect("the backup opens read-only");
    for client in 0..CLIENTS {
        let record = copy
            .actor("Counter", &format!("client-{client:02}"))
            .expect("read")
            .expect("stored");
        let count = record.state().expect("state")["count"]
            .as_i64()
            .expect("a count");
        assert!(
            before[client] <= count && count <= after_backup[client] && count <= last[client],
            "client {client}: {} <= {count} <= {}",
            before[client],
            after_backup[client]
        );
    }
    assert!(copy.verify(|_| {}).expect("verify").problems.is_empty());
    drop(copy);

    // The backup does not replace a file; a restore does not replace a held one.
    assert!(matches!(
        system.backup(&out).await,
        Err(BackupError::Exists { .. })
    ));
    assert!(matches!(
        inspect::restore(&out, &file, true),
        Err(RestoreError::Held { .. })
    ));
    assert!(matches!(
        inspect::restore(&out, &file, false),
        Err(RestoreError::Exists { .. })
    ));
    system.shutdown().await;
    assert!(matches!(
        system.backup(dir.path().join("late.redb")).await,
        Err(BackupError::Shutdown)
    ));

    // The backup opens as a store, and restored in place of the original it is the store.
    let expected = client_counts(&out).await;
    let bytes = inspect::restore(&out, &file, true).expect("restore");
    assert_eq!(bytes, std::fs::metadata(&out).expect("backup").len());
    assert_eq!(client_counts(&file).await, expected);
}

/// 20 000 counters, created by 64 tasks (their commits group), and one key-value entry.
async fn add_filler(system: &System) {
    let mut tasks = Vec::new();
    for task in 0..CLIENTS {
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            for n in (task..FILLER).step_by(CLIENTS) {
                let filler = system
                    .get_or_create::<Counter>(format!("filler-{n:05}"))
                    .await
                    .expect("create");
                filler.ask(Op::Add(1)).await.expect("add");
            }
        }));
    }
    for task in tasks {
        task.await.expect("fill");
    }
    let kv = system.kv("STATE").expect("store");
    kv.set("theme", "dark").await.expect("set");
}

/// Opens the store at `path` with `System::open` and reads every client's count (and checks
/// the key-value entry).
async fn client_counts(path: &std::path::Path) -> Vec<i64> {
    let system = System::open(path)
        .await
        .expect("the file opens with System::open");
    let mut counts = Vec::new();
    for client in 0..CLIENTS {
        let counter = system
            .get::<Counter>(format!("client-{client:02}"))
            .await
            .expect("stored");
        counts.push(counter.ask(Op::Get).await.expect("get"));
    }
    let theme = system.kv("STATE").expect("store").get("theme").await;
    assert_eq!(theme.expect("get").as_deref(), Some("dark"));
    system.shutdown().await;
    counts
}

#[tokio::test]
async fn a_system_on_a_custom_storage_has_no_file_to_back_up() {
    let dir = scratch::TempDir::new("backup-custom");
    let storage = actor_core::RedbStorage::open(
        dir.path().join("custom.redb"),
        &actor_core::RedbOptions::default(),
    )
    .expect("open");
    let system = System::builder()
        .storage(Arc::new(storage))
        .open()
        .await
        .expect("open");
    assert!(matches!(
        system.backup(dir.path().join("out.redb")).await,
        Err(BackupError::NotFileBacked)
    ));
    system.shutdown().await;
}

#[tokio::test]
async fn the_admin_route_backs_up_into_its_directory_and_keeps_the_newest() {
    use actor_core::http::{Auth, Server};

    let dir = scratch::TempDir::new("backup-route");
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    // Not one of the route's files: never deleted.
    std::fs::write(backups.join("backup-keep-me.redb"), b"mine").unwrap();
    let system = System::open(dir.path().join("data.redb")).await.unwrap();
    let counter = system.get_or_create::<Counter>("c").await.unwrap();
    counter.ask(Op::Add(7)).await.unwrap();
    let server = Server::builder(system)
        .listen(([127, 0, 0, 1], 0))
        .auth(Auth::bearer("an-operator-token"))
        .backups(&backups, 2)
        .start()
        .await
        .unwrap();
    let url = format!("http://{}/admin/backup", server.local_addr());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let refused = client.post(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let mut files = Vec::new();
    for _ in 0..3 {
        let answer = client
            .post(&url)
            .bearer_auth("an-operator-token")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let report: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert!(report["bytes"].as_u64().unwrap() > 0, "{report}");
        assert!(report["during"]["commits"].is_u64(), "{report}");
        files.push(report["file"].as_str().unwrap().to_owned());
        // Names are by the millisecond.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut kept: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            files[1].clone(),
            files[2].clone(),
            "backup-keep-me.redb".to_owned()
        ]
    );
    server.shutdown().await;

    let copy = System::open(backups.join(&files[2])).await.unwrap();
    let counter = copy.get::<Counter>("c").await.unwrap();
    assert_eq!(counter.ask(Op::Get).await.unwrap(), 7);
    copy.shutdown().await;
}
