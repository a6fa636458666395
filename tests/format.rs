//! Files written by an earlier build keep opening: `tests/fixtures/format-1.redb` was written
//! by storage format 1 (release 0.1.0), `tests/fixtures/format-2.redb` by format 2 (schedules
//! and the outbox, with one of each left pending), and both are read here through the public
//! API. A fixture is written once, when its format version is new (`cargo test --test format
//! -- --ignored write_fixture_2`), and then kept as it was committed; older ones stay.

#[path = "support/storage.rs"]
mod storage;
#[path = "support/wait.rs"]
mod wait;

use std::time::Duration;

use actor_core::{Actor, Ctx, RedbOptions, RedbStorage, Storage, System, Write, actions};
use serde::{Deserialize, Serialize};
use wait::eventually;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format-1.redb");
const FIXTURE_2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format-2.redb");

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "FixtureCounter")]
struct FixtureCounter {
    count: i64,
    label: String,
}

#[actions]
impl FixtureCounter {
    pub async fn bump(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    pub async fn read(&self) -> (i64, String) {
        (self.count, self.label.clone())
    }

    pub async fn label(&mut self, label: String) {
        self.label = label;
    }

    /// Schedules `label(text)` in `after_ms`.
    pub async fn later(&mut self, ctx: &mut Ctx<Self>, text: String, after_ms: u64) {
        ctx.schedule_after(
            Duration::from_millis(after_ms),
            FixtureCounterAction::Label { label: text },
        )
        .expect("schedule");
    }

    /// Sends `note(text)` to the inbox `key`.
    pub async fn tell_inbox(&mut self, ctx: &mut Ctx<Self>, key: String, text: String) {
        ctx.send::<FixtureInbox>(key.as_str(), FixtureInboxAction::Note { text })
            .expect("send");
    }
}

/// Receives what format 2's fixture left in its outbox.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "FixtureInbox")]
struct FixtureInbox {
    notes: Vec<String>,
}

#[actions]
impl FixtureInbox {
    pub async fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    pub async fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// The format recorded in a file's `meta` table.
fn format_of(path: &std::path::Path) -> u32 {
    let db = redb::Database::open(path).unwrap();
    let read = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta: redb::TableDefinition<&str, u32> = redb::TableDefinition::new("meta");
    let table = read.open_table(meta).unwrap();
    table.get("format_version").unwrap().unwrap().value()
}

#[tokio::test]
#[ignore = "writes the fixture; run by hand once, when format 2 is new"]
async fn write_fixture_2() {
    let _ = std::fs::remove_file(FIXTURE_2);
    let system = System::builder()
        .path(FIXTURE_2)
        .quick_repair(false)
        .open()
        .await
        .unwrap();
    let c = system
        .get_or_create::<FixtureCounter>(["fixture", "two"])
        .await
        .unwrap();
    c.bump(2).await.unwrap();
    c.label("written by format 2".into()).await.unwrap();
    // Left pending in the file: a schedule due a moment from now (shutdown stops the timer
    // first), and a message to a type this run never uses.
    c.later("relabelled by a schedule".into(), 300)
        .await
        .unwrap();
    c.tell_inbox("box".into(), "sent by format 2".into())
        .await
        .unwrap();
    system
        .kv("default")
        .unwrap()
        .set("greeting", "hello from format 2")
        .await
        .unwrap();
    system.shutdown().await;
    // The inbox exists, so that the message has somewhere to go; its record is written
    // directly, since using the type would deliver the message now.
    let storage = RedbStorage::open(FIXTURE_2, &RedbOptions::default()).unwrap();
    let mut record = vec![actor_core::FORMAT_VERSION];
    record.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    record.extend_from_slice(&1u32.to_le_bytes());
    record.extend(actor_core::encode_cbor(&FixtureInbox::default()).unwrap());
    storage
        .commit(&mut [Write::PutActor {
            kind: "FixtureInbox",
            key: "box",
            record: &record,
        }])
        .unwrap();
    assert_eq!(storage.messages(None, 10).unwrap().len(), 1, "left pending");
    assert_eq!(
        storage.schedules(None, 10).unwrap().len(),
        1,
        "left pending"
    );
}

#[tokio::test]
async fn a_file_from_format_2_opens_and_delivers_what_it_left() {
    let copy = storage::temp_path("fixture-2");
    std::fs::copy(FIXTURE_2, &copy).unwrap();
    assert_eq!(format_of(&copy), 2);
    let system = System::builder()
        .path(&copy)
        .actor::<FixtureCounter>()
        .actor::<FixtureInbox>()
        .open()
        .await
        .unwrap();
    let c = system
        .get::<FixtureCounter>(["fixture", "two"])
        .await
        .unwrap();
    eventually(|| async { c.read().await.unwrap().1 == "relabelled by a schedule" }).await;
    assert_eq!(c.read().await.unwrap().0, 2);
    let inbox = system.get::<FixtureInbox>("box").await.unwrap();
    eventually(|| async { inbox.notes().await.unwrap() == ["sent by format 2"] }).await;
    assert_eq!(
        system
            .kv("default")
            .unwrap()
            .get("greeting")
            .await
            .unwrap()
            .as_deref(),
        Some("hello from format 2")
    );
    system.shutdown().await;
    std::fs::remove_file(copy).unwrap();
}

#[tokio::test]
async fn a_file_from_format_1_is_upgraded_and_takes_schedules() {
    let copy = storage::temp_path("fixture-1-upgrade");
    std::fs::copy(FIXTURE, &copy).unwrap();
    assert_eq!(format_of(&copy), 1);
    let system = System::open(&copy).await.unwrap();
    let c = system
        .get::<FixtureCounter>(["fixture", "one"])
        .await
        .unwrap();
    c.later("relabelled after the upgrade".into(), 10)
        .await
        .unwrap();
    eventually(|| async { c.read().await.unwrap().1 == "relabelled after the upgrade" }).await;
    system.shutdown().await;
    assert_eq!(format_of(&copy), 2, "upgraded in place");
    std::fs::remove_file(copy).unwrap();
}

#[tokio::test]
async fn a_file_from_format_1_still_opens_and_reads() {
    // Work on a copy: the fixture itself stays as it was committed.
    let copy = storage::temp_path("fixture");
    std::fs::copy(FIXTURE, &copy).unwrap();
    let system = System::open(&copy).await.unwrap();
    let c = system
        .get::<FixtureCounter>(["fixture", "one"])
        .await
        .unwrap();
    assert_eq!(
        c.read().await.unwrap(),
        (41, "written by format 1".to_owned())
    );
    assert_eq!(c.bump(1).await.unwrap(), 42, "and it can be written on");
    assert_eq!(
        system
            .kv("default")
            .unwrap()
            .get("greeting")
            .await
            .unwrap()
            .as_deref(),
        Some("hello from format 1")
    );
    system.shutdown().await;
    std::fs::remove_file(copy).unwrap();
}
