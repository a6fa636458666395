//! `metrics_overhead`: what recording the runtime's metrics costs the hot actor.
//!
//! The same system and the same hot actor (64 callers, quick repair on) run with a Prometheus
//! recorder receiving every metric and without one, in alternating rounds (the first side
//! alternates too), so a noisy neighbour hits both alike. One global recorder is installed
//! for the process (a recorder cannot be removed): a switch that hands out the Prometheus
//! recorder's handles while on and the facade's no-op handles while off. actor-core looks its
//! handles up at each record, so the switch takes effect at once. The "off" side is therefore
//! the `metrics` feature compiled in with nothing listening, which is what a program that
//! never installs a recorder pays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::runtime::Runtime;

use crate::report::{Row, Target};
use crate::stats::median;
use crate::throughput::{closed_loop, create_actors, open_system};
use crate::{Result, Settings};

/// Forwards to the Prometheus recorder while on; the no-op recorder's handles while off.
#[derive(Debug)]
struct Switch {
    on: AtomicBool,
    prometheus: PrometheusRecorder,
}

/// The switch as the global recorder.
#[derive(Debug, Clone, Copy)]
struct Global(&'static Switch);

impl Recorder for Global {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.0.prometheus.describe_counter(key, unit, help);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.0.prometheus.describe_gauge(key, unit, help);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.0.prometheus.describe_histogram(key, unit, help);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.0.on.load(Ordering::Relaxed) {
            self.0.prometheus.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.0.on.load(Ordering::Relaxed) {
            self.0.prometheus.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.0.on.load(Ordering::Relaxed) {
            self.0.prometheus.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

/// The process's switch and the Prometheus handle behind it, installed on first use.
fn switch() -> Result<(&'static Switch, PrometheusHandle)> {
    static INSTALLED: OnceLock<(&'static Switch, PrometheusHandle)> = OnceLock::new();
    if let Some((switch, handle)) = INSTALLED.get() {
        return Ok((switch, handle.clone()));
    }
    // Buckets like the ones the HTTP server sets for the commit latency (no quantile sketches).
    let prometheus = PrometheusBuilder::new()
        .set_buckets(&[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ])?
        .build_recorder();
    let handle = prometheus.handle();
    let switch: &'static Switch = Box::leak(Box::new(Switch {
        on: AtomicBool::new(false),
        prometheus,
    }));
    metrics::set_global_recorder(Global(switch))
        .map_err(|_| "another metrics recorder is installed")?;
    actor_core::describe_metrics();
    let _ = INSTALLED.set((switch, handle.clone()));
    Ok((switch, handle))
}

/// `metrics_overhead`: the hot actor with a Prometheus recorder against the same without one.
pub fn metrics_overhead(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let callers = 64;
    let (switch, handle) = switch()?;
    let key = vec!["hot".to_owned()];
    let path = s.file("metrics-hot");
    let (system, handles) = rt.block_on(async {
        let system = open_system(&path, true).await?;
        let handles = Arc::new(create_actors(&system, &key).await?);
        Ok::<_, crate::Error>((system, handles))
    })?;
    // The upkeep a server runs (every 5 s), while the recorder is on.
    let upkeep = {
        let handle = handle.clone();
        rt.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        })
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..s.rounds {
        eprintln!("  round {}/{}", round + 1, s.rounds);
        for on in [round % 2 == 0, round % 2 != 0] {
            switch.on.store(on, Ordering::Relaxed);
            let figure = rt.block_on(closed_loop(&handles, callers, s.hot))?;
            if on { &mut with } else { &mut without }.push(figure);
        }
    }
    switch.on.store(false, Ordering::Relaxed);
    upkeep.abort();
    rt.block_on(system.shutdown());
    // The "on" rounds did record: the scrape a server would answer holds their commits.
    let scrape = handle.render();
    let commits = scrape
        .lines()
        .find_map(|line| line.strip_prefix("actor_commit_seconds_count "))
        .ok_or("the Prometheus recorder saw no commit")?
        .to_owned();
    eprintln!(
        "  with: {with:?}\n  without: {without:?}\n  commits recorded: {commits}; medians {:.0} vs {:.0} actions/s, ratio {:.3}",
        median(&with),
        median(&without),
        median(&with) / median(&without)
    );
    Ok(vec![
        Row::new(
            "metrics_overhead",
            format!("1 actor, {callers} callers, qr=on, Prometheus recorder"),
            "actions/s",
            median(&with),
            "same, no recorder (metrics feature compiled in)",
            Some(median(&without)),
        )
        .target(Target::AtLeast {
            value: None,
            ratio: Some(0.95),
        })
        .reference(format!("{commits} commits recorded"))
        .rounds(&with, &without),
    ])
}
