//! Every family of value the state may hold (DESIGN section 4, the seed's type list) goes
//! through a real save, a restart of the system and a reload from the file.

#[path = "support/process.rs"]
mod process;
#[path = "support/storage.rs"]
mod storage;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use actor_core::{Actor, RedbOptions, RedbStorage, Storage, System, actions};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A nested plain struct.
#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq)]
struct Inner {
    label: String,
    depth: u8,
}

/// An enum with every kind of variant.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Shape {
    Empty,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, Box<Shape>),
}

/// An error carried as data (the seed's `Error`): kind, message and cause chain.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
struct ErrorData {
    kind: String,
    message: String,
    cause: Option<Box<ErrorData>>,
}

#[derive(Actor, Serialize, Deserialize, Default, Debug, Clone)]
struct Everything {
    unit: (),
    none: Option<u32>,
    some: Option<String>,
    yes: bool,
    no: bool,
    ints: (i8, i16, i32, i64, i128),
    uints: (u8, u16, u32, u64, u128),
    int_mins: (i8, i16, i32, i64, i128),
    floats: Vec<f64>,
    single: f32,
    text: String,
    time: Option<SystemTime>,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    by_number: HashMap<u64, String>,
    by_tuple: BTreeMap<(i32, bool), Vec<u8>>,
    set: HashSet<u32>,
    sorted: BTreeSet<String>,
    list: Vec<i64>,
    tuple: (u8, String, Option<bool>),
    nested: Inner,
    shapes: Vec<Shape>,
    error: ErrorData,
    failure: Option<Result<u8, ErrorData>>,
    id: Uuid,
}

fn specimen() -> Everything {
    Everything {
        unit: (),
        none: None,
        some: Some("present".into()),
        yes: true,
        no: false,
        ints: (i8::MAX, i16::MAX, i32::MAX, i64::MAX, i128::MAX),
        uints: (u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX),
        int_mins: (i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN),
        floats: vec![
            0.0,
            -0.0,
            1.5,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ],
        single: f32::EPSILON,
        text: "héllo, 世界 \u{1F980} \"quoted\"\n".into(),
        time: Some(SystemTime::UNIX_EPOCH + Duration::new(1_795_412_094, 123_456_789)),
        bytes: (0..=255).collect(),
        by_number: HashMap::from([(1, "one".into()), (u64::MAX, "max".into())]),
        by_tuple: BTreeMap::from([((-1, true), vec![1, 2]), ((7, false), vec![])]),
        set: HashSet::from([3, 1, 4, 1, 5]),
        sorted: BTreeSet::from(["b".into(), "a".into()]),
        list: vec![-1, 0, 1],
        tuple: (9, "nine".into(), Some(false)),
        nested: Inner {
            label: "inner".into(),
            depth: 2,
        },
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.5),
            Shape::Rect { w: 3, h: 4 },
            Shape::Pair(-2, Box::new(Shape::Empty)),
        ],
        error: ErrorData {
            kind: "NotFound".into(),
            message: "no such user".into(),
            cause: Some(Box::new(ErrorData {
                kind: "Io".into(),
                message: "disk".into(),
                cause: None,
            })),
        },
        failure: Some(Err(ErrorData::default())),
        id: Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
    }
}

#[actions]
impl Everything {
    pub async fn fill(&mut self) {
        *self = specimen();
    }

    pub async fn snapshot(&self) -> Everything {
        self.clone()
    }
}

fn assert_same(got: &Everything, want: &Everything) {
    let () = got.unit; // unit has one value: it round-trips if the record decodes at all
    assert_eq!((got.none, &got.some), (want.none, &want.some));
    assert_eq!((got.yes, got.no), (want.yes, want.no));
    assert_eq!(got.ints, want.ints);
    assert_eq!(got.uints, want.uints);
    assert_eq!(got.int_mins, want.int_mins);
    assert_eq!(got.floats.len(), want.floats.len());
    for (g, w) in got.floats.iter().zip(&want.floats) {
        if w.is_nan() {
            assert!(g.is_nan(), "NaN came back as {g}");
        } else {
            assert_eq!(g.to_bits(), w.to_bits(), "{g} vs {w}");
        }
    }
    assert_eq!(got.single.to_bits(), want.single.to_bits());
    assert_eq!(got.text, want.text);
    assert_eq!(got.time, want.time);
    assert_eq!(got.bytes, want.bytes);
    assert_eq!(got.by_number, want.by_number);
    assert_eq!(got.by_tuple, want.by_tuple);
    assert_eq!(got.set, want.set);
    assert_eq!(got.sorted, want.sorted);
    assert_eq!(got.list, want.list);
    assert_eq!(got.tuple, want.tuple);
    assert_eq!(got.nested, want.nested);
    assert_eq!(got.shapes, want.shapes);
    assert_eq!(got.error, want.error);
    assert_eq!(got.failure, want.failure);
    assert_eq!(got.id, want.id);
}

#[tokio::test]
async fn every_type_family_survives_save_restart_and_reload() {
    const TEST: &str = "every_type_family_survives_save_restart_and_reload";
    if let Some((_, path)) = process::phase() {
        // The writing process: it saves, shuts down and exits.
        let system = System::open(&path).await.unwrap();
        let e = system.get_or_create::<Everything>("all").await.unwrap();
        e.fill().await.unwrap();
        system.shutdown().await;
        return;
    }
    let path = storage::temp_path("types");
    process::run(TEST, "write", &path, false);

    // This process never held the state: it comes from the file alone.
    let system = System::open(&path).await.unwrap();
    let e = system.get::<Everything>("all").await.unwrap();
    assert_same(&e.snapshot().await.unwrap(), &specimen());
    system.shutdown().await;

    // Byte buffers are CBOR byte strings (major type 2), not arrays of integers.
    let storage = RedbStorage::open(&path, &RedbOptions::default()).unwrap();
    let record = storage.load("Everything", "all").unwrap().unwrap();
    let value: ciborium::Value = ciborium::from_reader(&record[21..]).unwrap();
    let fields = value.as_map().expect("a struct is a CBOR map");
    let bytes = fields
        .iter()
        .find(|(k, _)| k.as_text() == Some("bytes"))
        .map(|(_, v)| v)
        .expect("the bytes field");
    assert_eq!(bytes.as_bytes().map(Vec::len), Some(256), "{bytes:?}");
    let offset = 21 + find(&record[21..], b"bytes").expect("field name in the record") + 5;
    assert_eq!(record[offset] >> 5, 2, "major type 2 (byte string)");
    drop(storage);
    std::fs::remove_file(path).unwrap();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
