//! The kill harness of the test kit (`actor_core::testing::KillTest`) on actors a user would
//! write: a counter that acknowledges each increment once it returned passes five kills (every
//! acknowledged increment is on the file); a counter that keeps half of its count in a field
//! that is never saved is caught, with the round and the seed; a scenario that returns before
//! the kill and a test name that matches no test are clear errors.
//!
//! Each test is both the parent and, run again by the harness, the child.

#![cfg(unix)]

use std::time::Duration;

use actor_core::testing::{KILL_SEED_VAR, KillError, KillTest};
use actor_core::{StartError, System, actions};
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A counter whose whole count is its state.
#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
struct Tally {
    count: u64,
}

#[actions]
impl Tally {
    pub async fn increment(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    pub async fn get(&self) -> u64 {
        self.count
    }
}

/// A broken counter: every other increment goes to a field that is never saved, so what it
/// acknowledges is more than what survives a restart.
#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
struct Leaky {
    saved: u64,
    #[serde(skip)]
    unsaved: u64,
}

#[actions]
impl Leaky {
    pub async fn increment(&mut self) -> u64 {
        if (self.saved + self.unsaved).is_multiple_of(2) {
            self.saved += 1;
        } else {
            self.unsaved += 1;
        }
        self.saved + self.unsaved
    }

    pub async fn get(&self) -> u64 {
        self.saved + self.unsaved
    }
}

/// The highest count acknowledged on stdout (`ack N`).
fn highest_ack(lines: &[String]) -> Result<u64, BoxError> {
    let mut highest = 0;
    for line in lines {
        if let Some(n) = line.strip_prefix("ack ") {
            highest = highest.max(n.parse::<u64>()?);
        }
    }
    Ok(highest)
}

/// The check: the count on the file is at least every acknowledged count.
async fn acked_counts_are_durable(
    count: impl Future<Output = Result<Option<u64>, BoxError>>,
    lines: Vec<String>,
) -> Result<(), BoxError> {
    let acked = highest_ack(&lines)?;
    let durable = count.await?.unwrap_or(0);
    if durable < acked {
        return Err(format!("acknowledged {acked}, the file holds {durable}").into());
    }
    Ok(())
}

/// The scenario: increments until killed, printing `ack N` once increment N returned.
async fn count_tally(system: System) -> Result<(), BoxError> {
    let tally = system.get_or_create::<Tally>("t").await?;
    loop {
        let n = tally.increment().await?;
        println!("ack {n}");
    }
}

/// The same on the broken counter.
async fn count_leaky(system: System) -> Result<(), BoxError> {
    let leaky = system.get_or_create::<Leaky>("l").await?;
    loop {
        let n = leaky.increment().await?;
        println!("ack {n}");
    }
}

#[test]
fn every_acknowledged_increment_survives_sigkill() {
    let report = KillTest::new("every_acknowledged_increment_survives_sigkill")
        .rounds(5)
        .kill_between(Duration::from_millis(30), Duration::from_millis(150))
        .run(count_tally, |system: System, lines| {
            acked_counts_are_durable(
                async move {
                    match system.get::<Tally>("t").await {
                        Ok(tally) => Ok(Some(tally.get().await?)),
                        Err(StartError::NotFound(_)) => Ok(None),
                        Err(error) => Err(error.into()),
                    }
                },
                lines,
            )
        })
        .unwrap();
    assert_eq!(report.rounds, 5);
    let acked = highest_ack(&report.lines).unwrap();
    assert!(
        acked > 5,
        "only {acked} increments acknowledged in 5 rounds"
    );
}

#[test]
fn a_counter_that_loses_acknowledged_increments_is_caught() {
    let error = KillTest::new("a_counter_that_loses_acknowledged_increments_is_caught")
        .rounds(5)
        .kill_between(Duration::from_millis(30), Duration::from_millis(150))
        .run(count_leaky, |system: System, lines| {
            acked_counts_are_durable(
                async move {
                    match system.get::<Leaky>("l").await {
                        Ok(leaky) => Ok(Some(leaky.get().await?)),
                        Err(StartError::NotFound(_)) => Ok(None),
                        Err(error) => Err(error.into()),
                    }
                },
                lines,
            )
        })
        .unwrap_err();
    let KillError::Invariant { round, seed, .. } = &error else {
        panic!("{error}");
    };
    let message = error.to_string();
    assert!(
        message.contains(&format!("after kill {round}")) && message.contains(&seed.to_string()),
        "{message}"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.starts_with("acknowledged "), "{cause}");
}

#[test]
fn a_scenario_that_returns_before_the_kill_is_an_error() {
    let error = KillTest::new("a_scenario_that_returns_before_the_kill_is_an_error")
        .rounds(1)
        .kill_between(Duration::from_secs(2), Duration::from_secs(2))
        .seed(7)
        .run(
            |system: System| async move {
                system
                    .get_or_create::<Tally>("t")
                    .await?
                    .increment()
                    .await?;
                Ok::<_, BoxError>(())
            },
            |_: System, _| async { Ok::<_, BoxError>(()) },
        )
        .unwrap_err();
    // The seed given, unless a replay sets another.
    let seed = std::env::var(KILL_SEED_VAR).map_or(7, |s| s.trim().parse().unwrap());
    // The child's own test fails on that error; the parent sees it exit.
    match &error {
        KillError::ChildExited {
            round: 1,
            started: true,
            stderr,
            seed: reported,
            ..
        } => {
            assert!(stderr.contains("the scenario returned"), "{stderr}");
            assert_eq!(*reported, seed);
        }
        KillError::ScenarioReturned => panic!("the child's own error: {error}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_name_that_matches_no_test_is_an_error() {
    let error = KillTest::new("no_such_test")
        .rounds(1)
        .run(
            |_: System| async { Ok::<_, BoxError>(()) },
            |_: System, _| async { Ok::<_, BoxError>(()) },
        )
        .unwrap_err();
    assert!(
        matches!(&error, KillError::NoSuchTest { name } if name == "no_such_test"),
        "{error}"
    );
}
