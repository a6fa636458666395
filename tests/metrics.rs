//! What the runtime records through the `metrics` facade (`docs/metrics.md`), seen by a
//! recorder that keeps every value. A global recorder is set once per process, so these
//! tests have their binary to themselves; each uses actor types of its own, so the labelled
//! figures of one test are not another's.

#[path = "support/wait.rs"]
mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use actor_core::{Actor, Ctx, System, actions};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use serde::{Deserialize, Serialize};
use wait::eventually;

/// One metric's values: a counter's or gauge's total, a histogram's samples.
#[derive(Debug, Default)]
struct Values {
    total: f64,
    samples: Vec<f64>,
}

/// One metric (name and labels), shared by every handle to it.
#[derive(Debug, Default)]
struct Metric(Mutex<Values>);

impl Metric {
    fn with<T>(&self, f: impl FnOnce(&mut Values) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl CounterFn for Metric {
    #[allow(clippy::cast_precision_loss)]
    fn increment(&self, value: u64) {
        self.with(|v| v.total += value as f64);
    }

    #[allow(clippy::cast_precision_loss)]
    fn absolute(&self, value: u64) {
        self.with(|v| v.total = value as f64);
    }
}

impl GaugeFn for Metric {
    fn increment(&self, value: f64) {
        self.with(|v| v.total += value);
    }

    fn decrement(&self, value: f64) {
        self.with(|v| v.total -= value);
    }

    fn set(&self, value: f64) {
        self.with(|v| v.total = value);
    }
}

impl HistogramFn for Metric {
    fn record(&self, value: f64) {
        self.with(|v| v.samples.push(value));
    }
}

/// A recorder that keeps everything (unlike a snapshot that drains), keyed by the metric's
/// name and its labels in order: `actor_awake{type=Sleepy}`.
#[derive(Debug, Default)]
struct Keeper {
    metrics: Mutex<HashMap<String, Arc<Metric>>>,
}

impl Keeper {
    fn metric(&self, key: &Key) -> Arc<Metric> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        let mut metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(metrics.entry(name).or_default())
    }

    /// A counter's or gauge's value (0 if never recorded). Every one the runtime records
    /// counts whole things.
    #[allow(clippy::cast_possible_truncation)]
    fn value(&self, name: &str) -> i64 {
        self.find(name)
            .map_or(0, |m| m.with(|v| v.total.round() as i64))
    }

    /// A histogram's samples (none if never recorded).
    fn samples(&self, name: &str) -> Vec<f64> {
        self.find(name)
            .map_or_else(Vec::new, |m| m.with(|v| v.samples.clone()))
    }

    fn find(&self, name: &str) -> Option<Arc<Metric>> {
        let metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        metrics.get(name).cloned()
    }
}

/// The recorder every test reads, installed once for the process.
#[derive(Debug, Clone, Copy)]
struct Global(&'static Keeper);

impl Recorder for Global {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.metric(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.metric(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.metric(key))
    }
}

fn recorder() -> &'static Keeper {
    static KEEPER: OnceLock<&'static Keeper> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let keeper: &'static Keeper = Box::leak(Box::default());
        metrics::set_global_recorder(Global(keeper)).expect("the only recorder of this binary");
        actor_core::describe_metrics();
        keeper
    })
}

#[derive(Actor, Serialize, Deserialize, Default)]
struct Tally {
    count: u64,
}

#[actions]
impl Tally {
    pub async fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

#[tokio::test]
async fn commits_record_their_latency_actions_and_records() {
    let metrics = recorder();
    let system = System::temporary().await.unwrap();
    let before = metrics.samples("actor_commit_seconds").len();
    let tally = system.get_or_create::<Tally>("t").await.unwrap();
    for _ in 0..20 {
        tally.add(1).await.unwrap();
    }
    let commits = metrics.samples("actor_commit_seconds");
    assert!(
        commits.len() >= before + 21,
        "a commit per awaited action and one for the creation: {before} then {}",
        commits.len()
    );
    assert!(
        commits.iter().all(|&s| (0.0..60.0).contains(&s)),
        "{commits:?}"
    );
    // One sample of each per commit (other tests' systems commit meanwhile, hence `>=`).
    let actions = metrics.samples("actor_commit_actions");
    let records = metrics.samples("actor_commit_records");
    assert!(actions.len() >= before + 21 && records.len() >= before + 21);
    assert!(actions.iter().all(|&n| n >= 1.0), "{actions:?}");
    assert!(records.iter().all(|&n| n >= 1.0), "{records:?}");
    assert!(metrics.value("actor_writer_queue_depth") >= 1);
    assert_eq!(metrics.value("actor_awake{type=Tally}"), 1);
    system.shutdown().await;
    assert_eq!(metrics.value("actor_awake{type=Tally}"), 0);
}

#[derive(Actor, Serialize, Deserialize, Default)]
struct Fragile {
    count: u64,
}

#[actions]
impl Fragile {
    pub async fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    pub async fn break_down(&mut self) {
        self.count += 1;
        panic!("broken");
    }
}

#[tokio::test]
async fn a_panic_counts_and_so_does_the_recovery() {
    let metrics = recorder();
    actor_core::quiet_caught_panics();
    let system = System::temporary().await.unwrap();
    let fragile = system.get_or_create::<Fragile>("f").await.unwrap();
    fragile.add(2).await.unwrap();
    assert!(fragile.break_down().await.is_err());
    assert_eq!(metrics.value("actor_panics_total{type=Fragile}"), 1);
    assert_eq!(metrics.value("actor_restarts_total{type=Fragile}"), 1);
    assert_eq!(fragile.add(1).await.unwrap(), 3, "back to its last record");
    system.shutdown().await;
}

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(sleep_after_ms = 30)]
struct Sleepy {
    count: u64,
}

#[actions]
impl Sleepy {
    pub async fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

#[tokio::test]
async fn the_awake_gauge_follows_an_actor_to_sleep_and_back() {
    let metrics = recorder();
    let system = System::temporary().await.unwrap();
    let sleepy = system.get_or_create::<Sleepy>("s").await.unwrap();
    assert_eq!(metrics.value("actor_awake{type=Sleepy}"), 1);
    eventually(|| async { sleepy.is_asleep() }).await;
    eventually(|| async { metrics.value("actor_awake{type=Sleepy}") == 0 }).await;
    assert_eq!(metrics.value("actor_sleeps_total{type=Sleepy}"), 1);
    assert_eq!(metrics.value("actor_wakes_total{type=Sleepy}"), 0);
    assert_eq!(sleepy.add(1).await.unwrap(), 1);
    assert_eq!(metrics.value("actor_wakes_total{type=Sleepy}"), 1);
    assert_eq!(metrics.value("actor_awake{type=Sleepy}"), 1);
    system.shutdown().await;
    assert_eq!(metrics.value("actor_awake{type=Sleepy}"), 0);
}

#[derive(Actor, Serialize, Deserialize, Default)]
struct Alarm {
    rang: u32,
}

#[actions]
impl Alarm {
    pub async fn set(&mut self, ctx: &mut Ctx<Self>, after_ms: u64) -> Result<(), String> {
        ctx.schedule_after(Duration::from_millis(after_ms), AlarmAction::Ring {})
            .map(drop)
            .map_err(|e| e.to_string())
    }

    pub async fn ring(&mut self) {
        self.rang += 1;
    }

    pub async fn rang(&self) -> u32 {
        self.rang
    }
}

#[tokio::test]
async fn fired_schedules_count() {
    let metrics = recorder();
    let system = System::temporary().await.unwrap();
    let before = metrics.value("actor_schedules_fired_total");
    let alarm = system.get_or_create::<Alarm>("a").await.unwrap();
    alarm.set(10).await.unwrap();
    alarm.set(20).await.unwrap();
    eventually(|| async { alarm.rang().await.unwrap() == 2 }).await;
    eventually(|| async { metrics.value("actor_schedules_fired_total") >= before + 2 }).await;
    system.shutdown().await;
}
