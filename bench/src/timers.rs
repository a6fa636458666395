//! The actor of the schedule scenarios (`schedules`, `pending_schedules`): a counter that can
//! schedule its own `fire`, written with `#[derive(Actor)]` and `#[actions]` (schedules need
//! storable actions), and the load generators they share.
//!
//! Every action changes the state once: `bump` is the plain durable action (the baseline),
//! `set_after` / `set_at` are the same plus one schedule, `preload` stages many schedules in
//! one turn (setup only), and `fire` is what the schedules run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actor_core::{Actor, Ctx, Handle, actions};
use serde::{Deserialize, Serialize};

use crate::stats::XorShift;

/// The persisted state: one counter per kind of action.
#[derive(Actor, Debug, Default, Serialize, Deserialize)]
pub struct Timer {
    /// `bump`s applied.
    changes: u64,
    /// Schedules set.
    set: u64,
    /// Schedules fired.
    fired: u64,
}

/// A schedule the context refused (the system is shutting down).
#[derive(Debug, Serialize, Deserialize)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "schedule refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// `at_ms` milliseconds after the Unix epoch.
fn at(at_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(at_ms)
}

/// Now, in milliseconds since the Unix epoch (the clock `schedule_at` takes).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[actions]
impl Timer {
    /// The plain durable action: changes the state once.
    pub async fn bump(&mut self) -> u64 {
        self.changes += 1;
        self.changes
    }

    /// Changes the state once and schedules `fire` `delay_ms` from now.
    pub async fn set_after(&mut self, ctx: &mut Ctx<Self>, delay_ms: u64) -> Result<u64, Refused> {
        ctx.schedule_after(Duration::from_millis(delay_ms), TimerAction::Fire {})
            .map_err(|e| Refused(e.to_string()))?;
        self.set += 1;
        Ok(self.set)
    }

    /// Changes the state once and schedules `fire` at `at_ms` (ms since the Unix epoch).
    pub async fn set_at(&mut self, ctx: &mut Ctx<Self>, at_ms: u64) -> Result<u64, Refused> {
        ctx.schedule_at(at(at_ms), TimerAction::Fire {})
            .map_err(|e| Refused(e.to_string()))?;
        self.set += 1;
        Ok(self.set)
    }

    /// Schedules `n` firings at `at_ms`, in one turn (to set up many pending schedules fast).
    pub async fn preload(
        &mut self,
        ctx: &mut Ctx<Self>,
        at_ms: u64,
        n: u64,
    ) -> Result<u64, Refused> {
        for _ in 0..n {
            ctx.schedule_at(at(at_ms), TimerAction::Fire {})
                .map_err(|e| Refused(e.to_string()))?;
        }
        self.set += n;
        Ok(self.set)
    }

    /// What a schedule runs: changes the state once, and tells [`FIRES`].
    pub async fn fire(&mut self) {
        self.fired += 1;
        FIRES.record();
    }

    /// Read-only: schedules set and fired.
    pub async fn counts(&self) -> (u64, u64) {
        (self.set, self.fired)
    }
}

/// Firings seen in this process: how many, and when the first one ran.
#[derive(Debug)]
pub struct Fires {
    count: AtomicU64,
    first: Mutex<Option<Instant>>,
}

/// Every `fire` of every [`Timer`] in the process.
pub static FIRES: Fires = Fires {
    count: AtomicU64::new(0),
    first: Mutex::new(None),
};

impl Fires {
    fn record(&self) {
        if self.count.fetch_add(1, Ordering::SeqCst) == 0 {
            *self.first.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }

    /// Forgets every firing so far.
    pub fn reset(&self) {
        *self.first.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.count.store(0, Ordering::SeqCst);
    }

    /// Firings since the last reset.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// When the first firing since the last reset ran.
    pub fn first(&self) -> Option<Instant> {
        *self.first.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Durable actions per second: `callers` tasks, each asking `make()` of a [`Timer`] picked at
/// random (xorshift), until `duration` has passed (asks completing after it not counted), as
/// `throughput::closed_loop` does for the counter.
pub async fn closed_loop(
    handles: &Arc<Vec<Handle<Timer>>>,
    callers: usize,
    duration: Duration,
    make: fn() -> TimerAction,
) -> crate::Result<f64> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(callers);
    for c in 0..callers {
        let handles = Arc::clone(handles);
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift::new(c as u64 + 1);
            let mut done = 0u64;
            loop {
                let handle = &handles[rng.below(handles.len())];
                handle.ask(make()).await.map_err(|e| e.to_string())?;
                if Instant::now() > deadline {
                    return Ok::<_, String>(done);
                }
                done += 1;
            }
        }));
    }
    let mut total = 0u64;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / duration.as_secs_f64())
}

/// Asks `jobs` actions from `callers` tasks, job `j` going to actor `j % handles.len()` (so
/// every actor gets the same share), caller `c` taking jobs `c`, `c + callers`, ... one after
/// another; returns the time until the last reply.
pub async fn burst(
    handles: &Arc<Vec<Handle<Timer>>>,
    callers: usize,
    jobs: usize,
    make: impl Fn() -> TimerAction + Copy + Send + 'static,
) -> crate::Result<Duration> {
    let started = Instant::now();
    let callers = callers.min(jobs).max(1);
    let mut tasks = Vec::with_capacity(callers);
    for c in 0..callers {
        let handles = Arc::clone(handles);
        tasks.push(tokio::spawn(async move {
            for j in (c..jobs).step_by(callers) {
                handles[j % handles.len()]
                    .ask(make())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}
