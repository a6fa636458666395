//! Durable timers: `schedules` (how many schedules actors create per second, how many fire
//! per second) and `pending_schedules` (what a store of many pending schedules costs on disk,
//! at startup and in memory; the memory in a fresh child process, this binary re-executed
//! with the hidden `pending-child` subcommand).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::{RedbOptions, RedbStorage, Storage, System};
use redb::ReadableDatabase;
use tokio::runtime::Runtime;

use crate::report::{Row, Target};
use crate::stats::{median, random_keys};
use crate::throughput::create_handles;
use crate::timers::{FIRES, Timer, TimerAction, TimerHandle as _, burst, closed_loop, now_ms};
use crate::{Result, Settings, raw};

/// A year, in milliseconds: "due far in the future".
const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;

/// Actors in both scenarios.
const ACTORS: usize = 10_000;

/// `schedules`: 10,000 actors. Creation: 256 callers in a closed loop, each action one
/// `schedule_after` (due in a year) and one state change, against the same actors' plain
/// `bump` (one state change), rounds alternating. Firing: `n` schedules all due at one
/// instant `t` (set with `schedule_at(t)` by 256 callers, `n / 10,000` per actor, all before
/// `t`); timed from the first `fire` to the commit that removes the last schedule, against
/// `n` plain `bump`s of the same actors from 4,096 callers (the most the timer service fires
/// at once), asked after the firing.
pub fn schedules(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let callers = 256;
    let fire_callers = 4096;
    let (n, bursts) = if s.quick { (20_000, 1) } else { (100_000, 3) };
    let keys = random_keys(ACTORS, 11);
    let path = s.file("schedules");
    // The storage is kept to see when the last schedule's removal is durable.
    let storage = Arc::new(RedbStorage::open(&path, &RedbOptions::default())?);
    let (system, handles) = rt.block_on(async {
        let system = System::builder()
            .storage(Arc::clone(&storage) as Arc<dyn Storage>)
            .actor::<Timer>()
            .open()
            .await?;
        let handles = Arc::new(create_handles::<Timer>(&system, &keys).await?);
        Ok::<_, crate::Error>((system, handles))
    })?;
    let (mut set, mut plain) = (vec![], vec![]);
    for round in 0..s.rounds {
        eprintln!("  create round {}/{}", round + 1, s.rounds);
        set.push(rt.block_on(closed_loop(&handles, callers, s.secondary, || {
            TimerAction::SetAfter { delay_ms: YEAR_MS }
        }))?);
        plain.push(rt.block_on(closed_loop(&handles, callers, s.secondary, || {
            TimerAction::Bump {}
        }))?);
    }
    let pending_after_rounds: u64 = rt.block_on(async {
        let mut total = 0;
        for h in handles.iter() {
            total += h.counts().await.map_err(|e| e.to_string())?.0;
        }
        Ok::<_, crate::Error>(total)
    })?;
    let (mut fired, mut plain_burst, mut created) = (vec![], vec![], vec![]);
    for b in 0..bursts {
        eprintln!("  fire burst {}/{bursts}: {n} schedules", b + 1);
        let (c, f, p) = rt.block_on(fire_burst(
            &handles,
            &storage,
            n,
            callers,
            fire_callers,
            median(&set),
        ))?;
        eprintln!("    created {c:.0}/s, plain {p:.0}/s, fired {f:.0}/s");
        created.push(c);
        plain_burst.push(p);
        fired.push(f);
    }
    rt.block_on(system.shutdown());
    drop(storage);
    let scenario = "schedules";
    Ok(vec![
        Row::new(
            scenario,
            format!("create: 1 schedule_after/action, 10k actors, {callers} callers"),
            "actions/s",
            median(&set),
            format!("plain bump/action, same actors, {callers} callers"),
            Some(median(&plain)),
        )
        .reference(format!(
            "each action: 1 state change (+ 1 schedule due in a year); {} pending at the end",
            crate::report::fmt_num(pending_after_rounds as f64)
        ))
        .rounds(&set, &plain),
        Row::new(
            scenario,
            format!("fire: {}k due at once, 10k actors", n / 1000),
            "fires/s",
            median(&fired),
            format!("{}k plain bumps, same actors, {fire_callers} callers", n / 1000),
            Some(median(&plain_burst)),
        )
        .reference(format!(
            "first fire to last removal durable; median of {bursts}; the {}k were set by {callers} callers (schedule_at, 1/action) at {}/s",
            n / 1000,
            crate::report::fmt_num(median(&created))
        ))
        .rounds(&fired, &plain_burst),
    ])
}

/// One firing burst: sets `n` schedules due at one instant, far enough ahead for the setup
/// (judged from `rate`, the closed loop's schedules per second, with room to spare; tried
/// again further ahead if the setup overran), times their firing, then asks `n` plain bumps.
/// Returns (schedules set per second, fires per second, plain bumps per second).
async fn fire_burst(
    handles: &Arc<Vec<actor_core::Handle<Timer>>>,
    storage: &RedbStorage,
    n: usize,
    callers: usize,
    fire_callers: usize,
    rate: f64,
) -> Result<(f64, f64, f64)> {
    let mut margin = Duration::from_secs_f64(2.0 * n as f64 / rate.max(1000.0) + 0.5);
    let (set, fired) = loop {
        FIRES.reset();
        let due_ms = now_ms() + u64::try_from(margin.as_millis()).unwrap_or(u64::MAX);
        let due = Instant::now() + margin;
        let set = burst(handles, callers, n, move || TimerAction::SetAt {
            at_ms: due_ms,
        })
        .await?;
        let early = FIRES.count() > 0 || Instant::now() >= due;
        let fire_time = wait_fired(storage, n, due_ms).await?;
        if early {
            eprintln!("    the setup took {set:?}, past the due time {margin:?} ahead; again");
            margin *= 2;
            continue;
        }
        break (set, fire_time);
    };
    let bumped = burst(handles, fire_callers, n, || TimerAction::Bump {}).await?;
    Ok((
        n as f64 / set.as_secs_f64(),
        n as f64 / fired.as_secs_f64(),
        n as f64 / bumped.as_secs_f64(),
    ))
}

/// Waits until `n` schedules due at `due_ms` have fired and their removals are durable;
/// returns the time from the first `fire` to then.
async fn wait_fired(storage: &RedbStorage, n: usize, due_ms: u64) -> Result<Duration> {
    let target = n as u64;
    let deadline = Instant::now() + Duration::from_secs(600);
    while FIRES.count() < target {
        if Instant::now() > deadline {
            return Err(format!("only {} of {n} schedules fired", FIRES.count()).into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The last `fire` ran; its commit also removes its schedule. Done when no schedule due
    // at `due_ms` is left (the far-future ones of the create rounds stay).
    loop {
        let first = storage.schedules(None, 1)?;
        if first.first().is_none_or(|row| row.due_ms > due_ms) {
            break;
        }
        if Instant::now() > deadline {
            return Err("the fired schedules were not removed".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let done = Instant::now();
    if FIRES.count() != target {
        return Err(format!("{} firings for {n} schedules", FIRES.count()).into());
    }
    let first = FIRES.first().ok_or("no first firing")?;
    Ok(done.duration_since(first))
}

/// The key of the `i`-th actor of `pending_schedules`.
fn key(i: usize) -> String {
    format!("timer-{i:05}")
}

/// Opens that found the file still locked by a system of this process that had returned
/// from `shutdown` (actor-core's timer task may still hold the storage for a moment; see
/// `docs/benchmarks.md`). Such an open is retried after 2 ms, its clock restarted.
static LOCKED_RETRIES: AtomicU64 = AtomicU64::new(0);

/// Tries `attempt` until it does not fail with "already open" (at most 500 times, 2 ms
/// apart), counting the retries in [`LOCKED_RETRIES`].
fn retry_locked<T>(mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e) if tries < 500 && e.to_string().contains("already open") => {
                tries += 1;
                LOCKED_RETRIES.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return other,
        }
    }
}

/// Milliseconds for `System::builder().path(p).actor::<Timer>().open()` + `get` + a read-only
/// ask of `key` (the shutdown after it is not timed).
fn first_call(rt: &Runtime, path: &Path, key: &str) -> Result<f64> {
    retry_locked(|| {
        rt.block_on(async {
            let started = Instant::now();
            let system = System::builder()
                .path(path)
                .actor::<Timer>()
                .open()
                .await
                .map_err(|e| format!("System::open of {}: {e}", path.display()))?;
            system
                .get::<Timer>(key)
                .await?
                .ask(TimerAction::Counts {})
                .await
                .map_err(|e| e.to_string())?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            system.shutdown().await;
            Ok(ms)
        })
    })
}

/// Milliseconds for a raw redb open + one point read of the actor `key` in the same file.
fn raw_first_read(path: &Path, key: &str) -> Result<f64> {
    retry_locked(|| {
        let started = Instant::now();
        let db = raw::open(path).map_err(|e| format!("redb open of {}: {e}", path.display()))?;
        let read = db.begin_read()?;
        let table = read.open_table(raw::ACTORS)?;
        let record = table.get(("Timer", key))?.map(|r| r.value().to_vec());
        let ms = started.elapsed().as_secs_f64() * 1e3;
        record.ok_or("missing record")?;
        Ok(ms)
    })
}

/// What one `pending-child` measured.
#[derive(Debug, Clone, Copy)]
struct ChildFigures {
    /// RSS growth from before the open to 500 ms after the first call, bytes.
    rss: f64,
    /// CPU time of the process's threads over the same span, ms.
    cpu_ms: f64,
    /// Open + first call, ms (in a fresh process).
    open_ms: f64,
}

/// Runs one `pending-child` on `path`.
fn measure_child(path: &Path, key: &str) -> Result<ChildFigures> {
    let out = Command::new(std::env::current_exe()?)
        .arg("pending-child")
        .arg(path)
        .arg(key)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        [rss, cpu, open, ..] if out.status.success() => Some(ChildFigures {
            rss: rss.parse()?,
            cpu_ms: cpu.parse()?,
            open_ms: open.parse()?,
        }),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "pending-child failed ({}): {text} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into()
    })
}

/// This process's resident set size in bytes.
fn rss_bytes() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmRSS in /proc/self/status")?
        .parse::<f64>()?;
    Ok(kb * 1024.0)
}

/// CPU time of this process's live threads, in ns (`/proc/self/task/*/schedstat`).
fn cpu_ns() -> Result<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    Ok(total)
}

/// The child: opens the system at `path` with `Timer` declared, serves a read of `key`, waits
/// 500 ms (the timer service has read its first page long before), and prints the RSS growth
/// in bytes, the CPU ms of that span and the open + first call ms.
pub fn pending_child(path: &Path, key: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (rss, cpu_ms, open_ms) = rt.block_on(async move {
        // Start the workers before the first reading.
        tokio::task::spawn(async {}).await?;
        let (rss0, cpu0) = (rss_bytes()?, cpu_ns()?);
        let started = Instant::now();
        let system = System::builder().path(path).actor::<Timer>().open().await?;
        system
            .get::<Timer>(key)
            .await?
            .ask(TimerAction::Counts {})
            .await
            .map_err(|e| e.to_string())?;
        let open_ms = started.elapsed().as_secs_f64() * 1e3;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss1, cpu1) = (rss_bytes()?, cpu_ns()?);
        system.shutdown().await;
        Ok::<_, crate::Error>((rss1 - rss0, (cpu1 - cpu0) / 1e6, open_ms))
    })?;
    println!("{rss:.0} {cpu_ms:.2} {open_ms:.3}");
    Ok(())
}

/// `pending_schedules`: `n` schedules due in a year (1M; 100k with `--quick`) on 10,000
/// actors, set through their actions (`n / 10,000` per action, one action per actor), then
/// the system is shut down. Measured against the same 10,000 actors with no schedule: the
/// file size, `open` (with the type declared) + first call, and in a fresh process the RSS
/// growth and CPU time from before the open to 500 ms after the first call.
pub fn pending_schedules(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n: usize = if s.quick { 100_000 } else { 1_000_000 };
    let per = (n / ACTORS) as u64;
    let keys: Vec<String> = (0..ACTORS).map(key).collect();
    LOCKED_RETRIES.store(0, Ordering::SeqCst);
    let (path, path_none) = (s.file("pending"), s.file("pending-none"));
    let setup_secs = rt.block_on(async {
        let none = System::open(&path_none).await?;
        create_handles::<Timer>(&none, &keys).await?;
        none.shutdown().await;
        let system = System::open(&path).await?;
        let handles = Arc::new(create_handles::<Timer>(&system, &keys).await?);
        let due = now_ms() + YEAR_MS;
        let started = Instant::now();
        burst(&handles, 64, ACTORS, move || TimerAction::Preload {
            at_ms: due,
            n: per,
        })
        .await?;
        let secs = started.elapsed().as_secs_f64();
        system.shutdown().await;
        Ok::<_, crate::Error>(secs)
    })?;
    eprintln!("  {n} schedules set in {setup_secs:.1} s");
    let mb = |p: &Path| -> Result<f64> { Ok(std::fs::metadata(p)?.len() as f64 / 1e6) };
    let (size, size_none) = (mb(&path)?, mb(&path_none)?);
    let pick = |round: usize| key((ACTORS / 2 + round * 7919) % ACTORS);
    let (mut open, mut open_none, mut raw_open) = (vec![], vec![], vec![]);
    for round in 0..s.rounds {
        let k = pick(round);
        // Which file goes first alternates.
        if round % 2 == 0 {
            open.push(first_call(rt, &path, &k)?);
            open_none.push(first_call(rt, &path_none, &k)?);
        } else {
            open_none.push(first_call(rt, &path_none, &k)?);
            open.push(first_call(rt, &path, &k)?);
        }
        raw_open.push(raw_first_read(&path, &k)?);
    }
    let children = if s.quick { 1 } else { 3 };
    let (mut child, mut child_none) = (vec![], vec![]);
    for round in 0..children {
        let k = pick(round);
        child.push(measure_child(&path, &k)?);
        child_none.push(measure_child(&path_none, &k)?);
    }
    eprintln!("  child with schedules: {child:?}\n  child without: {child_none:?}");
    let rss: Vec<f64> = child.iter().map(|c| c.rss / 1e6).collect();
    let rss_none: Vec<f64> = child_none.iter().map(|c| c.rss / 1e6).collect();
    let cpu = |c: &[ChildFigures]| median(&c.iter().map(|c| c.cpu_ms).collect::<Vec<_>>());
    let fresh = |c: &[ChildFigures]| median(&c.iter().map(|c| c.open_ms).collect::<Vec<_>>());
    let label = if n >= 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1000)
    };
    let scenario = "pending_schedules";
    let base = "same 10k actors, no schedule";
    Ok(vec![
        Row::new(
            scenario,
            format!("file size, {label} pending, 10k actors"),
            "MB",
            size,
            base,
            Some(size_none),
        )
        .reference(format!(
            "{:.0} bytes per schedule; set in {setup_secs:.1} s ({per} per action)",
            (size - size_none) * 1e6 / n as f64
        )),
        Row::new(
            scenario,
            format!("open+get+ask, {label} pending"),
            "ms",
            median(&open),
            base,
            Some(median(&open_none)),
        )
        .target(Target::AtMost {
            value: Some(1000.0),
            ratio: None,
        })
        .reference(format!(
            "redb open + point read: {:.2} ms; fresh process: {:.1} ms (none: {:.1} ms){}",
            median(&raw_open),
            fresh(&child),
            fresh(&child_none),
            match LOCKED_RETRIES.load(Ordering::SeqCst) {
                0 => String::new(),
                r => format!("; {r} open(s) retried: file still locked after shutdown"),
            }
        ))
        .rounds(&open, &open_none),
        Row::new(
            scenario,
            format!("RSS growth of open system, {label} pending"),
            "MB",
            median(&rss),
            base,
            Some(median(&rss_none)),
        )
        .reference(format!(
            "fresh process, open + first call + 500 ms; CPU {:.1} ms (none: {:.1} ms)",
            cpu(&child),
            cpu(&child_none)
        ))
        .rounds(&rss, &rss_none),
    ])
}
