//! Property test: random actions, panics and commit failures (injected on a countdown through
//! the storage seam) against a model of what was acknowledged. After every run the file must
//! hold exactly the acknowledged state: no false acknowledgement, no lost one, rolled back
//! where a commit failed, and the system recovers when the fault clears.

#[path = "support/counter.rs"]
mod counter;
#[path = "support/storage.rs"]
mod storage;

use actor_core::{AskError, System};
use counter::{Counter, Op};
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
                Step::Add(a, n) => match handles[a].ask(Op::Add(n)).await {
                    Ok(v) => {
                        prop_assert_eq!(v, model[a] + n, "acknowledged value");
                        model[a] = v;
                    }
                    Err(AskError::Commit { .. }) => {}
                    Err(e) => prop_assert!(false, "unexpected error {e:?}"),
                },
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
        let system = System::open(&path).await.unwrap();
        for (i, want) in model.iter().enumerate() {
            let c = system.get::<Counter>(format!("a{i}")).await.unwrap();
            prop_assert_eq!(c.ask(Op::Get).await.unwrap(), *want, "actor a{} on disk", i);
        }
        system.shutdown().await;
        std::fs::remove_file(path).unwrap();
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_state_is_exactly_what_survives(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps)?;
    }
}
