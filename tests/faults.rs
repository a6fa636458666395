//! Property tests: random actions, panics and storage faults against a model of what was
//! acknowledged. Faults come on a countdown at two depths: whole commits refused through the
//! `Storage` seam, and I/O faults under redb (a failed write, a full disk, a torn write, a
//! failed sync) through a fault-injecting redb backend. After every run the file must hold
//! the acknowledged state: no false acknowledgement, no lost one, rolled back where a commit
//! failed, and the system serves again when the fault clears, without a restart.

#[path = "support/counter.rs"]
mod counter;
#[path = "support/errors.rs"]
mod errors;
#[path = "support/faulty.rs"]
mod faulty;
#[path = "support/storage.rs"]
mod storage;

use std::sync::Arc;

use actor_core::{AskError, Handle, StopReason, System};
use counter::{Counter, Op};
use faulty::{FaultKind, Faults};
use proptest::prelude::*;

const ACTORS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Add(usize, i64),
    Panic(usize),
    /// The next `n` commits fail.
    Fail(usize),
    Read(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..ACTORS, 1..10i64).prop_map(|(a, n)| Step::Add(a, n)),
        1 => (0..ACTORS).prop_map(Step::Panic),
        2 => (1..3usize).prop_map(Step::Fail),
        2 => (0..ACTORS).prop_map(Step::Read),
    ]
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (system, storage, path) = storage::recorded_system("faults").await;
        let mut handles = Vec::new();
        for i in 0..ACTORS {
            handles.push(
                system
                    .get_or_create_with::<Counter>(format!("a{i}"), 0)
                    .await
                    .unwrap(),
            );
        }
        let mut model = [0i64; ACTORS];
        for step in steps {
            match *step {
                Step::Add(a, n) => {
                    let mut r = handles[a].ask(Op::Add(n)).await;
                    if let Err(AskError::Stopped {
                        reason: StopReason::CrashLoop { .. },
                        ..
                    }) = r
                    {
                        // The last panic reached the crash-loop limit (its own reply said
                        // only `Panicked`): start the actor again from disk.
                        handles[a] = system
                            .get_or_create_with::<Counter>(format!("a{a}"), 0)
                            .await
                            .unwrap();
                        r = handles[a].ask(Op::Add(n)).await;
                    }
                    match r {
                        Ok(v) => {
                            prop_assert_eq!(v, model[a] + n, "acknowledged value");
                            model[a] = v;
                        }
                        Err(AskError::Commit { .. }) => {}
                        Err(e) => prop_assert!(false, "unexpected error {e:?}"),
                    }
                }
                Step::Panic(a) => {
                    let r = handles[a].ask(Op::AddThenPanic(100)).await;
                    prop_assert!(
                        matches!(r, Err(AskError::Panicked { .. } | AskError::Stopped { .. })),
                        "{r:?}"
                    );
                    if matches!(r, Err(AskError::Stopped { .. })) {
                        // The crash-loop limit was reached: start it again from disk.
                        handles[a] = system
                            .get_or_create_with::<Counter>(format!("a{a}"), 0)
                            .await
                            .unwrap();
                    }
                }
                Step::Fail(n) => storage.fail_next(n),
                Step::Read(a) => {
                    let v = handles[a].ask(Op::Get).await;
                    if let Ok(v) = v {
                        prop_assert_eq!(v, model[a], "the state seen equals the acknowledged one");
                    }
                }
            }
        }
        storage.fail_next(0);
        system.shutdown().await;
        drop(handles);
        drop(storage);

        // What is on disk is exactly what was acknowledged.
        assert_on_disk(&path, &model).await
    })
}

/// Opens the file afresh and checks that counter `a{i}` holds `want[i]`; removes the file.
async fn assert_on_disk(path: &std::path::Path, want: &[i64]) -> Result<(), TestCaseError> {
    let system = System::open(path).await.unwrap();
    for (i, want) in want.iter().enumerate() {
        let c = system.get::<Counter>(format!("a{i}")).await.unwrap();
        prop_assert_eq!(c.ask(Op::Get).await.unwrap(), *want, "actor a{} on disk", i);
    }
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_state_is_exactly_what_survives(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps)?;
    }
}

// ---------------------------------------------------------------------------------------------
// I/O faults under redb

#[derive(Debug, Clone)]
enum IoStep {
    Add(usize, i64),
    Panic(usize),
    Read(usize),
    /// The `after + 1`-th mutating I/O operation from now fails as `kind`; a sticky fault
    /// keeps failing (a disk that stays full) until `Clear`.
    Fault {
        kind: FaultKind,
        after: u64,
        sticky: bool,
    },
    Clear,
}

fn io_step() -> impl Strategy<Value = IoStep> {
    let kind = prop_oneof![
        Just(FaultKind::Io),
        Just(FaultKind::DiskFull),
        Just(FaultKind::Torn),
        Just(FaultKind::Sync),
    ];
    prop_oneof![
        8 => (0..ACTORS, 1..10i64).prop_map(|(a, n)| IoStep::Add(a, n)),
        1 => (0..ACTORS).prop_map(IoStep::Panic),
        2 => (0..ACTORS).prop_map(IoStep::Read),
        2 => (kind, 0..12u64, any::<bool>())
            .prop_map(|(kind, after, sticky)| IoStep::Fault { kind, after, sticky }),
        1 => Just(IoStep::Clear),
    ]
}

/// What the model knows of one counter: the acknowledged value, and the values of
/// unacknowledged attempts since, any of which may have reached the disk (a commit whose
/// sync failed after its header was written is on disk although it was reported failed).
#[derive(Debug, Clone, Default)]
struct Known {
    acked: i64,
    maybe: Vec<i64>,
}

impl Known {
    fn possible(&self) -> impl Iterator<Item = i64> + '_ {
        std::iter::once(self.acked).chain(self.maybe.iter().copied())
    }

    fn allows(&self, value: i64) -> bool {
        self.possible().any(|v| v == value)
    }
}

async fn counter(system: &System, a: usize) -> Option<Handle<Counter>> {
    system
        .get_or_create_with::<Counter>(format!("a{a}"), 0)
        .await
        .ok()
}

fn run_io(steps: &[IoStep]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let path = storage::temp_path("io-faults");
        let faults = Arc::new(Faults::default());
        let system = System::builder()
            .storage(Arc::new(faulty::open(&path, &faults)))
            .open()
            .await
            .unwrap();
        let mut handles = Vec::new();
        for a in 0..ACTORS {
            let handle = counter(&system, a).await.unwrap();
            // Created and durable before any fault is armed.
            handle.ask(Op::Add(0)).await.unwrap();
            handles.push(handle);
        }
        let mut model = vec![Known::default(); ACTORS];
        for step in steps {
            match *step {
                IoStep::Add(a, n) => match handles[a].ask(Op::Add(n)).await {
                    Ok(v) => {
                        prop_assert!(
                            model[a].allows(v - n),
                            "a{a}: acknowledged {v} after +{n}, but the state before could only be {:?}",
                            model[a]
                        );
                        model[a] = Known { acked: v, maybe: Vec::new() };
                    }
                    Err(AskError::Commit { .. }) => {
                        let attempts: Vec<i64> = model[a].possible().map(|v| v + n).collect();
                        model[a].maybe.extend(attempts);
                    }
                    Err(AskError::Stopped { .. }) => {
                        if let Some(handle) = counter(&system, a).await {
                            handles[a] = handle;
                        }
                    }
                    Err(e) => prop_assert!(false, "unexpected error {e:?}"),
                },
                IoStep::Panic(a) => {
                    let r = handles[a].ask(Op::AddThenPanic(100)).await;
                    prop_assert!(
                        matches!(r, Err(AskError::Panicked { .. } | AskError::Stopped { .. })),
                        "{r:?}"
                    );
                    if matches!(r, Err(AskError::Stopped { .. }))
                        && let Some(handle) = counter(&system, a).await
                    {
                        handles[a] = handle;
                    }
                }
                IoStep::Read(a) => {
                    if let Ok(v) = handles[a].ask(Op::Get).await {
                        prop_assert!(model[a].allows(v), "a{a} reads {v}; model {:?}", model[a]);
                    }
                }
                IoStep::Fault { kind, after, sticky } => faults.arm(kind, after, sticky),
                IoStep::Clear => faults.clear(),
            }
        }

        // The fault clears and the same system serves again: one more acknowledged write each.
        faults.clear();
        for (a, known) in model.iter_mut().enumerate() {
            let mut done = None;
            for _ in 0..3 {
                match handles[a].ask(Op::Add(1)).await {
                    Ok(v) => {
                        done = Some(v);
                        break;
                    }
                    Err(AskError::Stopped { .. }) => {
                        handles[a] = counter(&system, a).await.unwrap();
                    }
                    // The first commit after the fault can still meet the old, failed handle.
                    Err(AskError::Commit { .. }) => {}
                    Err(e) => prop_assert!(false, "a{a} after the fault cleared: {e:?}"),
                }
            }
            let Some(v) = done else {
                return Err(TestCaseError::fail(format!("a{a} never recovered")));
            };
            prop_assert!(known.allows(v - 1), "a{a}: {v} after +1; model {known:?}");
            *known = Known { acked: v, maybe: Vec::new() };
        }
        system.shutdown().await;
        drop(handles);
        drop(system);

        // A fresh open of the file, on the plain file backend, holds the acknowledged values.
        let acked: Vec<i64> = model.iter().map(|known| known.acked).collect();
        assert_on_disk(&path, &acked).await
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn io_faults_never_lose_or_invent_an_acknowledgement(steps in prop::collection::vec(io_step(), 1..40)) {
        run_io(&steps)?;
    }
}

#[tokio::test]
async fn each_io_fault_fails_the_commit_with_a_typed_error_and_the_system_recovers() {
    for kind in [
        FaultKind::Io,
        FaultKind::DiskFull,
        FaultKind::Torn,
        FaultKind::Sync,
    ] {
        let path = storage::temp_path("io-fault-kind");
        let faults = Arc::new(Faults::default());
        let system = System::builder()
            .storage(Arc::new(faulty::open(&path, &faults)))
            .open()
            .await
            .unwrap();
        let c = system.get_or_create_with::<Counter>("c", 0).await.unwrap();
        assert_eq!(c.ask(Op::Add(5)).await.unwrap(), 5);
        let kv = system.kv("store").unwrap();
        kv.set("k", "before").await.unwrap();

        // A disk that stays full: every commit fails, reads go on, nothing is acknowledged.
        faults.arm(kind, 0, true);
        for _ in 0..3 {
            let error = c.ask(Op::Add(1)).await.unwrap_err();
            assert!(
                matches!(error, AskError::Commit { .. }),
                "{kind:?}: {error:?}"
            );
            let chain = errors::chain(&error);
            assert!(
                chain.contains("injected"),
                "{kind:?}: the cause is named: {chain}"
            );
            assert_eq!(c.ask(Op::Get).await.unwrap(), 5, "{kind:?}: rolled back");
            assert!(
                kv.set("k", "during").await.is_err(),
                "{kind:?}: kv set fails"
            );
        }
        assert!(faults.delivered() >= 1, "{kind:?}: the fault was delivered");

        // Space comes back: the same system, the same handle, serves again.
        faults.clear();
        let mut value = None;
        for _ in 0..3 {
            if let Ok(v) = c.ask(Op::Add(1)).await {
                value = Some(v);
                break;
            }
        }
        assert_eq!(value, Some(6), "{kind:?}: recovers once the fault clears");
        assert_eq!(kv.get("k").await.unwrap().as_deref(), Some("before"));
        kv.set("k", "after").await.unwrap();
        system.shutdown().await;
        drop(c);
        drop(system);
        let system = System::open(&path).await.unwrap();
        let c = system.get::<Counter>("c").await.unwrap();
        assert_eq!(c.ask(Op::Get).await.unwrap(), 6, "{kind:?}: on disk");
        assert_eq!(
            system
                .kv("store")
                .unwrap()
                .get("k")
                .await
                .unwrap()
                .as_deref(),
            Some("after")
        );
        system.shutdown().await;
        std::fs::remove_file(path).unwrap();
    }
}
