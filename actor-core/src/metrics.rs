//! What the runtime records through the [`metrics`](https://docs.rs/metrics) facade, with the
//! `metrics` cargo feature: commits, the writer's queue, actors awake, panics and restarts,
//! schedules. `docs/metrics.md` has the table of every metric.
//!
//! Every function here is one line at its call site and does nothing without the feature, so
//! the modules that record stay free of `cfg`s. Nothing is recorded per action: the writer
//! records once per commit, the rest on cold paths (a wake, a sleep, a panic, a firing).
//!
//! Metric handles are looked up at each call rather than kept, so a recorder installed after
//! the system opened (by an HTTP server's start, say) still sees everything from then on; at
//! one commit per call, the lookup is not what a commit costs.

use std::time::Duration;

/// The label that names an actor type (its [`Actor::NAME`](crate::Actor::NAME)): bounded by
/// the types a program has. Keys are never labels.
#[cfg(feature = "metrics")]
const TYPE: &str = "type";

/// Every metric the runtime records: name, kind, unit and help text, for [`describe_metrics`]
/// (and, kept beside the recording functions, so a new metric is described where it is
/// added).
#[cfg(feature = "metrics")]
const DESCRIPTIONS: [(&str, Kind, ::metrics::Unit, &str); 12] = {
    use ::metrics::Unit::{Count, Seconds};
    [
        (
            COMMIT_SECONDS,
            Kind::Histogram,
            Seconds,
            "How long the writer's commits took, fsync included.",
        ),
        (
            COMMIT_ACTIONS,
            Kind::Histogram,
            Count,
            "Actions (and other acknowledged turns) each commit made durable.",
        ),
        (
            COMMIT_RECORDS,
            Kind::Histogram,
            Count,
            "Records (states, schedules, messages, key-value entries) each commit wrote.",
        ),
        (
            COMMIT_FAILURES,
            Kind::Counter,
            Count,
            "Commits that failed; their turns were rolled back.",
        ),
        (
            WRITER_QUEUE_DEPTH,
            Kind::Gauge,
            Count,
            "Requests waiting for the writer when it built its latest batch.",
        ),
        (
            AWAKE,
            Kind::Gauge,
            Count,
            "Actors whose task is running (in memory and awake), by type.",
        ),
        (
            WAKES,
            Kind::Counter,
            Count,
            "Existing actors started: loaded from storage or woken from sleep, by type.",
        ),
        (
            SLEEPS,
            Kind::Counter,
            Count,
            "Actors that went to sleep after being idle, by type.",
        ),
        (
            PANICS,
            Kind::Counter,
            Count,
            "Panics caught in actions and hooks, by type.",
        ),
        (
            RESTARTS,
            Kind::Counter,
            Count,
            "Recoveries from a panic: the actor went back to its last record and went on, by type.",
        ),
        (
            SCHEDULES_DUE,
            Kind::Gauge,
            Count,
            "Schedules found due and not yet fired.",
        ),
        (
            SCHEDULES_FIRED,
            Kind::Counter,
            Count,
            "Schedules fired (their turn durable).",
        ),
    ]
};

// The names, one place each (the table in `docs/metrics.md` lists them all).
#[cfg(feature = "metrics")]
const COMMIT_SECONDS: &str = "actor_commit_seconds";
#[cfg(feature = "metrics")]
const COMMIT_ACTIONS: &str = "actor_commit_actions";
#[cfg(feature = "metrics")]
const COMMIT_RECORDS: &str = "actor_commit_records";
#[cfg(feature = "metrics")]
const COMMIT_FAILURES: &str = "actor_commit_failures_total";
#[cfg(feature = "metrics")]
const WRITER_QUEUE_DEPTH: &str = "actor_writer_queue_depth";
#[cfg(feature = "metrics")]
const AWAKE: &str = "actor_awake";
#[cfg(feature = "metrics")]
const WAKES: &str = "actor_wakes_total";
#[cfg(feature = "metrics")]
const SLEEPS: &str = "actor_sleeps_total";
#[cfg(feature = "metrics")]
const PANICS: &str = "actor_panics_total";
#[cfg(feature = "metrics")]
const RESTARTS: &str = "actor_restarts_total";
#[cfg(feature = "metrics")]
const SCHEDULES_DUE: &str = "actor_schedules_due";
#[cfg(feature = "metrics")]
const SCHEDULES_FIRED: &str = "actor_schedules_fired_total";
#[cfg(feature = "http")]
const HTTP_REQUESTS: &str = "http_requests_total";
#[cfg(feature = "http")]
pub(crate) const HTTP_REQUEST_SECONDS: &str = "http_request_duration_seconds";

/// What kind of metric a description is for.
#[cfg(feature = "metrics")]
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Describes every metric the runtime records (help text and unit) to the installed recorder,
/// for exporters that show them (Prometheus's `# HELP` lines). Call it once after installing
/// a recorder; the HTTP server does it for the recorder it installs. Recording works without
/// it.
#[cfg(feature = "metrics")]
pub fn describe_metrics() {
    for (name, kind, unit, help) in DESCRIPTIONS {
        match kind {
            Kind::Counter => ::metrics::describe_counter!(name, unit, help),
            Kind::Gauge => ::metrics::describe_gauge!(name, unit, help),
            Kind::Histogram => ::metrics::describe_histogram!(name, unit, help),
        }
    }
    #[cfg(feature = "http")]
    ::metrics::describe_counter!(
        HTTP_REQUESTS,
        ::metrics::Unit::Count,
        "HTTP requests answered, by route and status."
    );
    #[cfg(feature = "http")]
    ::metrics::describe_histogram!(
        HTTP_REQUEST_SECONDS,
        ::metrics::Unit::Seconds,
        "How long HTTP requests took, from the request head to the response, by route."
    );
}

/// A value for a histogram or gauge (the facade takes `u32`, not `u64` or `usize`).
#[cfg(feature = "metrics")]
fn count(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

/// A commit succeeded: how long it took, the actions it made durable, the records it wrote.
#[inline]
pub(crate) fn committed(took: Duration, actions: u64, records: usize) {
    #[cfg(feature = "metrics")]
    {
        ::metrics::histogram!(COMMIT_SECONDS).record(took);
        ::metrics::histogram!(COMMIT_ACTIONS).record(count(actions));
        ::metrics::histogram!(COMMIT_RECORDS).record(count(records));
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (took, actions, records);
}

/// A commit failed after `took`.
#[inline]
pub(crate) fn commit_failed(took: Duration) {
    #[cfg(feature = "metrics")]
    {
        ::metrics::histogram!(COMMIT_SECONDS).record(took);
        ::metrics::counter!(COMMIT_FAILURES).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = took;
}

/// The writer built a batch from `requests` queued requests.
#[inline]
pub(crate) fn writer_queue_depth(requests: usize) {
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(WRITER_QUEUE_DEPTH).set(count(requests));
    #[cfg(not(feature = "metrics"))]
    let _ = requests;
}

/// An actor task of type `kind` started (`true`) or ended (`false`).
#[inline]
pub(crate) fn awake(kind: &'static str, started: bool) {
    #[cfg(feature = "metrics")]
    {
        let gauge = ::metrics::gauge!(AWAKE, TYPE => kind);
        if started {
            gauge.increment(1.0);
        } else {
            gauge.decrement(1.0);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (kind, started);
}

/// An existing actor of type `kind` was loaded from storage or woken.
#[inline]
pub(crate) fn woke(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(WAKES, TYPE => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// An actor of type `kind` went to sleep.
#[inline]
pub(crate) fn slept(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(SLEEPS, TYPE => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// User code of an actor of type `kind` panicked.
#[inline]
pub(crate) fn panicked(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(PANICS, TYPE => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// An actor of type `kind` went back to its last record after a panic and went on (an actor
/// started again after a crash loop counts as a wake).
#[inline]
pub(crate) fn restarted(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(RESTARTS, TYPE => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// `due` schedules are due and not yet fired.
#[inline]
pub(crate) fn schedules_due(due: usize) {
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(SCHEDULES_DUE).set(count(due));
    #[cfg(not(feature = "metrics"))]
    let _ = due;
}

/// A schedule fired and its turn is durable.
#[inline]
pub(crate) fn schedule_fired() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(SCHEDULES_FIRED).increment(1);
}

/// An HTTP request to `route` (a route pattern, never a raw path) was answered with `status`
/// after `took`.
#[cfg(feature = "http")]
pub(crate) fn http_request(route: String, status: u16, took: Duration) {
    ::metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    ::metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route).record(took);
}
