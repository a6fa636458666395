//! Surviving an upgrade: a program stores actors under state version 1 and exits; the next
//! version of the program, in a new process, changes the state's shape and migrates each
//! record once, as the actor is loaded.

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;

use std::sync::atomic::{AtomicUsize, Ordering};

use actor_core::{
    Actor, DecodeError, RedbOptions, RedbStorage, StartError, Storage, StoredState, System, actions,
};
use serde::{Deserialize, Serialize};

/// The first version of the program's profile.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "Profile")]
struct ProfileV1 {
    name: String,
    visits: u32,
}

#[actions]
impl ProfileV1 {
    pub async fn visit(&mut self, name: String) -> u32 {
        self.name = name;
        self.visits += 1;
        self.visits
    }
}

static MIGRATED: AtomicUsize = AtomicUsize::new(0);

/// The second version: the name split in two, a wider counter.
#[derive(Actor, Serialize, Deserialize, Default, Debug, PartialEq)]
#[actor(name = "Profile", state_version = 2, migrate = Profile::migrate_from)]
struct Profile {
    first: String,
    last: String,
    visits: u64,
}

impl Profile {
    fn migrate_from(stored: StoredState<'_>) -> Result<Self, DecodeError> {
        match stored.version() {
            1 => {
                let old: ProfileV1 = stored.decode()?;
                MIGRATED.fetch_add(1, Ordering::SeqCst);
                let (first, last) = old.name.split_once(' ').unwrap_or((&old.name, ""));
                Ok(Self {
                    first: first.to_owned(),
                    last: last.to_owned(),
                    visits: u64::from(old.visits),
                })
            }
            _ => Err(stored.unsupported()),
        }
    }
}

#[actions]
impl Profile {
    pub async fn visit(&mut self) -> u64 {
        self.visits += 1;
        self.visits
    }

    pub async fn show(&self) -> (String, String, u64) {
        (self.first.clone(), self.last.clone(), self.visits)
    }
}

/// A later version that knows no way from version 1.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "Profile", state_version = 3)]
struct ProfileV3 {
    visits: u64,
}

#[actions]
impl ProfileV3 {
    pub async fn visits(&self) -> u64 {
        self.visits
    }
}

/// The state version in the stored record of `Profile/key` (bytes 17..21 of the header).
fn stored_version(path: &std::path::Path, key: &str) -> u32 {
    let storage = RedbStorage::open(path, &RedbOptions::default()).unwrap();
    let record = storage.load("Profile", key).unwrap().expect("a record");
    u32::from_le_bytes(record[17..21].try_into().unwrap())
}

#[tokio::test]
async fn an_upgrade_migrates_each_stored_state_once() {
    const TEST: &str = "an_upgrade_migrates_each_stored_state_once";
    if let Some((_, path)) = process::phase() {
        // The old program.
        let system = System::open(&path).await.unwrap();
        for (key, name, visits) in [("ada", "Ada Lovelace", 3), ("plato", "Plato", 1)] {
            let p = system.get_or_create::<ProfileV1>(key).await.unwrap();
            for _ in 0..visits {
                p.visit(name.to_owned()).await.unwrap();
            }
        }
        system.shutdown().await;
        return;
    }
    let path = storage::temp_path("upgrade");
    process::run(TEST, "v1", &path, false);
    assert_eq!(stored_version(&path, "ada"), 1);

    // The new program: each record is migrated as its actor loads, then written back.
    let system = System::open(&path).await.unwrap();
    let ada = system.get::<Profile>("ada").await.unwrap();
    assert_eq!(
        ada.show().await.unwrap(),
        ("Ada".to_owned(), "Lovelace".to_owned(), 3)
    );
    assert_eq!(ada.visit().await.unwrap(), 4);
    let plato = system.get::<Profile>("plato").await.unwrap();
    assert_eq!(
        plato.show().await.unwrap(),
        ("Plato".to_owned(), String::new(), 1)
    );
    assert_eq!(MIGRATED.load(Ordering::SeqCst), 2);
    system.shutdown().await;
    assert_eq!(stored_version(&path, "ada"), 2, "written back in version 2");
    assert_eq!(
        stored_version(&path, "plato"),
        2,
        "written back although no action changed it"
    );

    // Once migrated, a record loads as it is.
    let system = System::open(&path).await.unwrap();
    let ada = system.get::<Profile>("ada").await.unwrap();
    assert_eq!(ada.show().await.unwrap().2, 4);
    assert_eq!(MIGRATED.load(Ordering::SeqCst), 2, "migrated once");
    system.shutdown().await;

    // A version with no way from the stored one refuses it and leaves it as it is.
    let before = RedbStorage::open(&path, &RedbOptions::default())
        .unwrap()
        .load("Profile", "ada")
        .unwrap();
    let system = System::open(&path).await.unwrap();
    match system.get::<ProfileV3>("ada").await {
        Err(StartError::Decode {
            source:
                DecodeError::StateVersion {
                    found: 2,
                    expected: 3,
                },
            ..
        }) => {}
        other => panic!("expected a refused version, got {other:?}"),
    }
    system.shutdown().await;
    let after = RedbStorage::open(&path, &RedbOptions::default())
        .unwrap()
        .load("Profile", "ada")
        .unwrap();
    assert_eq!(before, after, "the refused record is untouched");
    std::fs::remove_file(path).unwrap();
}
