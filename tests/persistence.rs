//! The persistence contract (DESIGN section 3), each promise with a test that fails if it
//! breaks. Crash safety under `kill -9` is in `crash.rs`.

#[path = "support/counter.rs"]
mod counter;
#[path = "support/storage.rs"]
mod storage;

use std::time::Duration;

use actor_core::{AskError, DecodeError, OpenError, StartError, StopReason, System, Write};
use counter::{Counter, Op};
use storage::{TestStorage, recorded_system, stored_count, temp_path};

fn writes_for(storage: &TestStorage, key: &str) -> Vec<i64> {
    storage
        .batches()
        .iter()
        .flatten()
        .filter(|w| w.key == key)
        .map(|w| stored_count(&w.record))
        .collect()
}

/// A short real-time wait, for the actor to make progress while a commit is held.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_reply_is_released_only_after_its_state_is_committed() {
    let (system, storage, _) = recorded_system("ack").await;
    let c = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    let before = storage.started();
    storage.hold();
    let ask = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Add(5)).await }
    });
    storage.wait_started(before + 1).await;
    settle().await;
    assert!(
        !ask.is_finished(),
        "reply released before the commit finished"
    );
    assert_eq!(
        writes_for(&storage, "a"),
        [0],
        "nothing but the creation committed yet"
    );
    storage.release();
    assert_eq!(ask.await.unwrap().unwrap(), 5);
    // The commit that covers the reply is already in the file.
    let record = actor_core::Storage::load(&*storage, "Counter", "a")
        .unwrap()
        .unwrap();
    assert_eq!(stored_count(&record), 5);
    system.shutdown().await;
}

#[tokio::test]
async fn read_only_unchanged_and_ephemeral_changes_write_nothing() {
    let (system, storage, path) = recorded_system("changed-only").await;
    let c = system.get_or_create_with::<Counter>("a", 1).await.unwrap();
    let commits = storage.commits();
    for _ in 0..10 {
        assert_eq!(c.ask(Op::Get).await.unwrap(), 1);
        assert_eq!(c.ask(Op::Touch).await.unwrap(), 1);
    }
    assert_eq!(c.ask(Op::BumpEphemeral).await.unwrap(), 1);
    assert_eq!(c.ask(Op::BumpEphemeral).await.unwrap(), 2);
    assert_eq!(
        storage.commits(),
        commits,
        "reads and no-op writes must not commit"
    );
    assert_eq!(c.ask(Op::Add(1)).await.unwrap(), 2);
    assert_eq!(storage.commits(), commits + 1);
    system.shutdown().await;
    drop(storage);

    // The ephemeral field was never persisted.
    let system = System::open(&path).await.unwrap();
    let c = system.get::<Counter>("a").await.unwrap();
    assert_eq!(c.ask(Op::Ephemeral).await.unwrap(), 0);
    assert_eq!(c.ask(Op::Get).await.unwrap(), 2);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn output_gate_keeps_the_actor_working_and_coalesces_snapshots() {
    let (system, storage, _) = recorded_system("gate").await;
    let c = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    let before = storage.started();
    storage.hold();
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Add(1)).await }
    });
    storage.wait_started(before + 1).await;
    // While that commit is in flight the actor keeps taking actions...
    let mut later = Vec::new();
    for _ in 0..5 {
        let c = c.clone();
        later.push(tokio::spawn(async move { c.ask(Op::Add(1)).await }));
        settle().await;
    }
    let read = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Get).await }
    });
    settle().await;
    // ...but releases nothing: not even the read, which saw a state not yet durable.
    assert!(!first.is_finished() && !read.is_finished());
    assert!(later.iter().all(|t| !t.is_finished()));
    assert_eq!(storage.started(), before + 1, "one commit at a time");
    storage.release();

    assert_eq!(first.await.unwrap().unwrap(), 1);
    let mut replies = Vec::new();
    for t in later {
        replies.push(t.await.unwrap().unwrap());
    }
    replies.sort_unstable();
    assert_eq!(replies, [2, 3, 4, 5, 6]);
    assert_eq!(read.await.unwrap().unwrap(), 6);
    // Five actions in one commit window: one write, of the latest state.
    assert_eq!(writes_for(&storage, "a"), [0, 1, 6]);
    system.shutdown().await;
}

#[tokio::test]
async fn group_commit_puts_many_actors_in_one_transaction() {
    let (system, storage, _) = recorded_system("group").await;
    let mut handles = Vec::new();
    for i in 0..50 {
        handles.push(
            system
                .get_or_create_with::<Counter>(format!("g{i}"), 0)
                .await
                .unwrap(),
        );
    }
    let commits = storage.commits();
    let before = storage.started();
    storage.hold();
    let warm = tokio::spawn({
        let c = handles[0].clone();
        async move { c.ask(Op::Add(1)).await }
    });
    storage.wait_started(before + 1).await;
    let tasks: Vec<_> = handles[1..]
        .iter()
        .cloned()
        .map(|c| tokio::spawn(async move { c.ask(Op::Add(1)).await }))
        .collect();
    settle().await;
    storage.release();
    warm.await.unwrap().unwrap();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    let new_commits = storage.commits() - commits;
    assert!(
        new_commits <= 3,
        "50 actions from 50 actors took {new_commits} commits"
    );
    let biggest = storage.batches().iter().map(Vec::len).max().unwrap();
    assert!(biggest >= 49, "largest batch had {biggest} writes");
    system.shutdown().await;
}

#[tokio::test]
async fn save_state_is_durable_before_the_action_goes_on() {
    let (system, storage, path) = recorded_system("save").await;
    let c = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    let err = c.ask(Op::AddSaveThenPanic(7)).await.unwrap_err();
    assert!(matches!(err, AskError::Panicked { .. }), "{err:?}");
    // The panic threw the in-memory state away; the saved one came back.
    assert_eq!(c.ask(Op::Get).await.unwrap(), 7);
    assert_eq!(writes_for(&storage, "a"), [0, 7]);
    system.shutdown().await;
    drop(storage);
    let system = System::open(&path).await.unwrap();
    let c = system.get::<Counter>("a").await.unwrap();
    assert_eq!(c.ask(Op::Get).await.unwrap(), 7);
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_panic_reloads_the_last_snapshot_and_nothing_else_is_hurt() {
    let (system, storage, _) = recorded_system("panic").await;
    let a = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    let b = system.get_or_create_with::<Counter>("b", 0).await.unwrap();
    assert_eq!(a.ask(Op::Add(3)).await.unwrap(), 3);
    assert_eq!(a.ask(Op::BumpEphemeral).await.unwrap(), 1);

    // A reply held behind an in-flight commit survives a later panic in the same actor.
    let before = storage.started();
    storage.hold();
    let held = tokio::spawn({
        let a = a.clone();
        async move { a.ask(Op::Add(1)).await }
    });
    storage.wait_started(before + 1).await;
    let boom = tokio::spawn({
        let a = a.clone();
        async move { a.ask(Op::AddThenPanic(100)).await }
    });
    settle().await;
    storage.release();
    assert_eq!(held.await.unwrap().unwrap(), 4);
    match boom.await.unwrap() {
        Err(AskError::Panicked { actor, message }) => {
            assert_eq!(actor.key.as_str(), "a");
            assert!(message.contains("boom at 104"), "{message}");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(
        a.ask(Op::Get).await.unwrap(),
        4,
        "half-done +100 was dropped"
    );
    assert_eq!(a.ask(Op::Ephemeral).await.unwrap(), 0, "ephemeral rebuilt");
    assert_eq!(a.ask(Op::Add(1)).await.unwrap(), 5, "later calls work");
    assert_eq!(
        b.ask(Op::Add(1)).await.unwrap(),
        1,
        "other actors unaffected"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_returned_error_rolls_the_state_back() {
    let system = System::temporary().await.unwrap();
    let c = system.get_or_create_with::<Counter>("a", 10).await.unwrap();
    assert_eq!(c.ask(Op::BumpEphemeral).await.unwrap(), 1);
    let err = c.ask(Op::AddThenFail(5)).await.unwrap_err();
    assert!(matches!(err, AskError::Action(counter::Refused)), "{err:?}");
    assert_eq!(c.ask(Op::Get).await.unwrap(), 10);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_loop_stops_the_actor_with_a_clear_error() {
    let system = System::temporary().await.unwrap();
    let c = system
        .get_or_create_with::<Counter>("loop", 0)
        .await
        .unwrap();
    assert_eq!(c.ask(Op::Add(2)).await.unwrap(), 2);
    let started = tokio::time::Instant::now();
    // The default policy allows 5 panics in 10 s, with a backoff of 10 ms doubling.
    for _ in 0..6 {
        let err = c.ask(Op::AddThenPanic(1)).await.unwrap_err();
        assert!(matches!(err, AskError::Panicked { .. }), "{err:?}");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(10 + 20 + 40 + 80 + 160),
        "backoff was not applied: {:?}",
        started.elapsed()
    );
    match c.ask(Op::Get).await {
        Err(AskError::Stopped {
            reason: StopReason::CrashLoop { restarts: 6, .. },
            ..
        }) => {}
        other => panic!("expected a crash-loop stop, got {other:?}"),
    }
    assert!(c.is_stopped());
    // Asking again starts the actor afresh from its last durable state.
    let c = system
        .get_or_create_with::<Counter>("loop", 0)
        .await
        .unwrap();
    assert_eq!(c.ask(Op::Get).await.unwrap(), 2);
    system.shutdown().await;
}

#[tokio::test]
async fn a_failed_commit_fails_every_held_reply_and_rolls_back() {
    let (system, storage, _) = recorded_system("fail").await;
    let c = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    assert_eq!(c.ask(Op::Add(5)).await.unwrap(), 5);

    storage.fail_next(1);
    let err = c.ask(Op::Add(1)).await.unwrap_err();
    assert!(matches!(err, AskError::Commit { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(
        c.ask(Op::Get).await.unwrap(),
        5,
        "back to the durable state"
    );

    // Several replies held on the failing commit (and one coalesced after it) all fail.
    let before = storage.started();
    storage.hold();
    storage.fail_next(1);
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Add(1)).await }
    });
    storage.wait_started(before + 1).await;
    let second = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Add(1)).await }
    });
    settle().await;
    let read = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Get).await }
    });
    settle().await;
    storage.release();
    for t in [first, second, read] {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, AskError::Commit { .. }), "{err:?}");
    }
    // Storage works again: so does the actor, from its last durable state.
    assert_eq!(c.ask(Op::Get).await.unwrap(), 5);
    assert_eq!(c.ask(Op::Add(2)).await.unwrap(), 7);
    assert_eq!(
        writes_for(&storage, "a"),
        [0, 5, 7],
        "nothing failed was written"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_call_out_of_an_action_waits_for_the_callers_durable_state() {
    let (system, storage, _) = recorded_system("call-out").await;
    let a = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    let b = system.get_or_create_with::<Counter>("b", 0).await.unwrap();
    let before = storage.started();
    storage.hold();
    let add = tokio::spawn({
        let a = a.clone();
        async move { a.ask(Op::Add(10)).await }
    });
    storage.wait_started(before + 1).await;
    let transfer = tokio::spawn({
        let (a, b) = (a.clone(), b.clone());
        async move { a.ask(Op::Transfer(b, 3)).await }
    });
    settle().await;
    // A's +10 is not durable, so its call to B has not left yet.
    assert_eq!(b.ask(Op::Get).await.unwrap(), 0);
    storage.release();
    assert_eq!(add.await.unwrap().unwrap(), 10);
    assert_eq!(transfer.await.unwrap().unwrap(), 7);
    assert_eq!(b.ask(Op::Get).await.unwrap(), 3);
    system.shutdown().await;
}

#[tokio::test]
async fn an_actor_asking_itself_gets_an_error_not_a_deadlock() {
    let system = System::temporary().await.unwrap();
    let a = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    assert_eq!(a.ask(Op::AskSelf(a.clone())).await.unwrap(), -1);
    system.shutdown().await;
}

#[tokio::test]
async fn tell_is_delivered_in_mailbox_order() {
    let system = System::temporary().await.unwrap();
    let a = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    for _ in 0..10 {
        a.tell(Op::Add(1)).await.unwrap();
    }
    assert_eq!(a.ask(Op::Get).await.unwrap(), 10);
    system.shutdown().await;
    let err = a.tell(Op::Add(1)).await.unwrap_err();
    assert!(matches!(
        err,
        actor_core::TellError::Stopped {
            action: Op::Add(1),
            ..
        }
    ));
}

#[tokio::test]
async fn state_survives_a_restart_and_is_loaded_on_first_call() {
    let path = temp_path("restart");
    let system = System::open(&path).await.unwrap();
    let mut ids = Vec::new();
    for (i, key) in ["x", "y", "z"].into_iter().enumerate() {
        let c = system.get_or_create_with::<Counter>(key, 0).await.unwrap();
        c.ask(Op::Add(i64::try_from(i).unwrap() + 1)).await.unwrap();
        ids.push(c.id());
    }
    system.shutdown().await;

    let system = System::open(&path).await.unwrap();
    for (i, key) in ["x", "y", "z"].into_iter().enumerate() {
        let c = system.get::<Counter>(key).await.unwrap();
        assert_eq!(c.id(), ids[i], "the id is stable across restarts");
        assert_eq!(c.ask(Op::Get).await.unwrap(), i64::try_from(i).unwrap() + 1);
    }
    system.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn get_create_and_get_or_create_mean_what_they_say() {
    let system = System::temporary().await.unwrap();
    let err = system.get::<Counter>("nobody").await.unwrap_err();
    assert!(matches!(err, StartError::NotFound(_)), "{err:?}");
    assert_eq!(err.to_string(), r#"actor Counter("nobody") does not exist"#);
    let a = system.create::<Counter>(["user", "17"], 4).await.unwrap();
    assert_eq!(a.key().parts(), ["user", "17"]);
    let err = system
        .create::<Counter>(["user", "17"], 0)
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::AlreadyExists(_)), "{err:?}");
    let again = system
        .get_or_create_with::<Counter>(["user", "17"], 99)
        .await
        .unwrap();
    assert_eq!(again.id(), a.id());
    assert_eq!(
        again.ask(Op::Get).await.unwrap(),
        4,
        "input ignored for an existing actor"
    );
    let other = system
        .get_or_create_with::<Counter>("user/17", 0)
        .await
        .unwrap();
    assert_ne!(
        other.id(),
        a.id(),
        "a composite key is not its joined string"
    );
    system.shutdown().await;
    let err = system.get::<Counter>("nobody").await.unwrap_err();
    assert!(matches!(err, StartError::Shutdown), "{err:?}");
}

#[tokio::test]
async fn concurrent_first_calls_start_one_actor() {
    let system = System::temporary().await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let system = system.clone();
            tokio::spawn(async move {
                let c = system
                    .get_or_create_with::<Counter>("once", 0)
                    .await
                    .unwrap();
                c.ask(Op::Add(1)).await.unwrap();
                c.id()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let c = system.get::<Counter>("once").await.unwrap();
    assert_eq!(c.ask(Op::Get).await.unwrap(), 20);
    system.shutdown().await;
}

#[tokio::test]
async fn an_undecodable_record_is_a_typed_error_and_is_left_untouched() {
    let path = temp_path("bad-record");
    let system = System::open(&path).await.unwrap();
    let good = system
        .get_or_create_with::<Counter>("good", 0)
        .await
        .unwrap();
    good.ask(Op::Add(1)).await.unwrap();
    system.shutdown().await;

    // Plant a corrupt record and one from a future format version, through the public seam.
    // A valid header (format 1, state version 1) followed by bytes that are not CBOR.
    let mut garbage = vec![1u8];
    garbage.extend_from_slice(&[0; 16]);
    garbage.extend_from_slice(&1u32.to_le_bytes());
    garbage.extend_from_slice(&[0xff; 8]);
    let mut future = vec![9u8];
    future.extend_from_slice(&[0; 30]);
    {
        let storage =
            actor_core::RedbStorage::open(&path, &actor_core::RedbOptions::default()).unwrap();
        actor_core::Storage::commit(
            &storage,
            &mut [
                Write::PutActor {
                    kind: "Counter",
                    key: "bad",
                    record: &garbage,
                },
                Write::PutActor {
                    kind: "Counter",
                    key: "future",
                    record: &future,
                },
            ],
        )
        .unwrap();
    }

    // Opening does not read actors, so it succeeds; the bad ones fail on first use.
    let system = System::open(&path).await.unwrap();
    for attempt in 0..2 {
        let err = if attempt == 0 {
            system.get::<Counter>("bad").await.unwrap_err()
        } else {
            system
                .get_or_create_with::<Counter>("bad", 0)
                .await
                .unwrap_err()
        };
        match &err {
            StartError::Decode { actor, source } => {
                assert_eq!(actor.key.as_str(), "bad");
                assert!(matches!(source, DecodeError::Cbor(_)), "{source:?}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        assert!(err.to_string().contains(r#"Counter("bad")"#), "{err}");
    }
    match system.get::<Counter>("future").await.unwrap_err() {
        StartError::Decode {
            source:
                DecodeError::UnsupportedFormat {
                    found: 9,
                    supported: 1,
                },
            ..
        } => {}
        other => panic!("expected an unsupported format, got {other:?}"),
    }
    let good = system.get::<Counter>("good").await.unwrap();
    assert_eq!(
        good.ask(Op::Get).await.unwrap(),
        1,
        "other actors unaffected"
    );
    system.shutdown().await;

    let storage =
        actor_core::RedbStorage::open(&path, &actor_core::RedbOptions::default()).unwrap();
    let kept = actor_core::Storage::load(&storage, "Counter", "bad").unwrap();
    assert_eq!(
        kept.as_deref(),
        Some(&garbage[..]),
        "the bad record was not overwritten"
    );
    drop(storage);
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_second_open_of_the_same_file_fails_clearly() {
    let path = temp_path("twice");
    let system = System::open(&path).await.unwrap();
    let err = System::open(&path).await.unwrap_err();
    assert!(matches!(err, OpenError::AlreadyOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("already open"), "{err}");
    system.shutdown().await;
    let again = System::open(&path).await.unwrap();
    again.shutdown().await;
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let path = temp_path("not-a-db");
    std::fs::write(
        &path,
        b"this is not a redb file, just some text that is long enough",
    )
    .unwrap();
    let err = System::open(&path).await.unwrap_err();
    assert!(matches!(err, OpenError::Database { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a redb file, just some text that is long enough",
        "the file was not touched"
    );
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_restarted_actor_waits_for_its_old_activations_last_commit() {
    let (system, storage, _) = recorded_system("reactivate").await;
    let c = system.get_or_create_with::<Counter>("a", 0).await.unwrap();
    assert_eq!(c.ask(Op::Add(1)).await.unwrap(), 1);
    let before = storage.started();
    storage.hold();
    let held = tokio::spawn({
        let c = c.clone();
        async move { c.ask(Op::Add(1)).await }
    });
    storage.wait_started(before + 1).await;
    // Panic into a crash loop while the +1 is still being committed.
    for _ in 0..6 {
        c.tell(Op::AddThenPanic(100)).await.unwrap();
    }
    for _ in 0..200 {
        if c.is_stopped() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        c.is_stopped(),
        "the crash loop should have stopped the actor"
    );
    let restart = tokio::spawn({
        let system = system.clone();
        async move { system.get_or_create_with::<Counter>("a", 0).await }
    });
    settle().await;
    assert!(
        !restart.is_finished(),
        "restarted while a commit was in flight"
    );
    storage.release();
    assert_eq!(held.await.unwrap().unwrap(), 2);
    let c = restart.await.unwrap().unwrap();
    assert_eq!(
        c.ask(Op::Get).await.unwrap(),
        2,
        "the acknowledged +1 is there"
    );
    system.shutdown().await;
}
