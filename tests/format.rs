//! Files written by an earlier build keep opening: `tests/fixtures/format-1.redb` was written
//! by storage format 1 (this crate's first release) and is read here through the public API.
//! Regenerate it only when the format version changes, with
//! `cargo test --test format -- --ignored write_fixture`, and keep the old one next to it.

#[path = "support/storage.rs"]
mod storage;

use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format-1.redb");

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
}

#[tokio::test]
#[ignore = "writes the fixture; run by hand when the format changes"]
async fn write_fixture() {
    let _ = std::fs::remove_file(FIXTURE);
    let system = System::builder()
        .path(FIXTURE)
        .quick_repair(false)
        .open()
        .await
        .unwrap();
    let c = system
        .get_or_create::<FixtureCounter>(["fixture", "one"])
        .await
        .unwrap();
    c.bump(41).await.unwrap();
    c.label("written by format 1".into()).await.unwrap();
    system
        .kv("default")
        .unwrap()
        .set("greeting", "hello from format 1")
        .await
        .unwrap();
    system.shutdown().await;
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
