//! Durable throughput: `hot_actor`, `many_actors` and `durable_vs_callers` (the chart).
//!
//! The framework side is a closed loop: `callers` tokio tasks, each asking `Add(1)` and
//! asking again as soon as the (durable) reply arrives. The raw redb side is one thread
//! upserting the same record bytes, a fixed number per `Immediate` commit. Rounds of the two
//! sides alternate, so a noisy neighbour on the machine hits both alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::{Actor, Handle, System};
use tokio::runtime::Runtime;

use crate::chart::{Labels, Series, line_chart};
use crate::counter::{Action, Counter};
use crate::report::{Row, Target};
use crate::stats::{XorShift, median, random_keys};
use crate::{Result, Settings, diag, raw};

/// Opens a system on `path` with quick repair on (actor-core's default) or off.
pub async fn open_system(path: &Path, quick_repair: bool) -> Result<System> {
    Ok(System::builder()
        .path(path)
        .quick_repair(quick_repair)
        .open()
        .await?)
}

/// Creates (durably) one counter per key, from 256 concurrent tasks so that creations share
/// commits. Returns the handles in `keys` order. Not timed.
pub async fn create_actors(system: &System, keys: &[String]) -> Result<Vec<Handle<Counter>>> {
    create_handles::<Counter>(system, keys).await
}

/// [`create_actors`] for any actor type created from a default input.
pub async fn create_handles<A: Actor>(system: &System, keys: &[String]) -> Result<Vec<Handle<A>>>
where
    A::Input: Default,
{
    let keys = Arc::new(keys.to_vec());
    let creators = 256.min(keys.len().max(1));
    let mut tasks = Vec::with_capacity(creators);
    for c in 0..creators {
        let (system, keys) = (system.clone(), Arc::clone(&keys));
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (c..keys.len()).step_by(creators) {
                out.push((i, system.get_or_create::<A>(keys[i].as_str()).await?));
            }
            Ok::<_, actor_core::StartError>(out)
        }));
    }
    let mut all = Vec::with_capacity(keys.len());
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, h)| h).collect())
}

/// Durable actions per second: `callers` tasks, each asking `Add(1)` of an actor picked at
/// random from `handles` (xorshift), until `duration` has passed. Asks that complete after
/// the deadline are not counted.
pub async fn closed_loop(
    handles: &Arc<Vec<Handle<Counter>>>,
    callers: usize,
    duration: Duration,
) -> Result<f64> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(callers);
    for c in 0..callers {
        let handles = Arc::clone(handles);
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift::new(c as u64 + 1);
            let mut done = 0u64;
            loop {
                let handle = &handles[rng.below(handles.len())];
                handle.ask(Action::Add(1)).await?;
                if Instant::now() > deadline {
                    return Ok::<_, actor_core::AskError<std::convert::Infallible>>(done);
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

/// Labels quick repair on or off.
pub fn qr(on: bool) -> &'static str {
    if on { "qr=on" } else { "qr=off" }
}

/// `hot_actor`: one actor, 64 callers; raw redb commits one update at a time.
pub fn hot_actor(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let callers = 64;
    let key = vec!["hot".to_owned()];
    let raw_db = raw::open(&s.file("hot-raw"))?;
    raw::fill(&raw_db, &key)?;
    let (path_on, path_off) = (s.file("hot-on"), s.file("hot-off"));
    let (fw_on, fw_off) = rt.block_on(async {
        let on = open_system(&path_on, true).await?;
        let off = open_system(&path_off, false).await?;
        let h_on = Arc::new(create_actors(&on, &key).await?);
        let h_off = Arc::new(create_actors(&off, &key).await?);
        Ok::<_, crate::Error>(((on, h_on), (off, h_off)))
    })?;
    let (mut ours_on, mut ours_off, mut raw_on, mut raw_off) = (vec![], vec![], vec![], vec![]);
    for round in 0..s.rounds {
        eprintln!("  round {}/{}", round + 1, s.rounds);
        ours_on.push(rt.block_on(closed_loop(&fw_on.1, callers, s.hot))?);
        raw_off.push(raw::upsert_loop(&raw_db, &key, 1, false, s.hot)?);
        raw_on.push(raw::upsert_loop(&raw_db, &key, 1, true, s.hot)?);
        ours_off.push(rt.block_on(closed_loop(&fw_off.1, callers, s.secondary))?);
    }
    rt.block_on(async {
        fw_on.0.shutdown().await;
        fw_off.0.shutdown().await;
    });
    let diag_on = diag::batching_round(rt, &path_on, true, &key, callers, s.diag)?;
    let diag_off = diag::batching_round(rt, &path_off, false, &key, callers, s.diag)?;
    eprintln!("  qr=on: {diag_on:?}\n  qr=off: {diag_off:?}");
    let scenario = "hot_actor";
    let metric = |on: bool| format!("1 actor, {callers} callers, {}", qr(on));
    let target = Target::AtLeast {
        value: Some(100_000.0),
        ratio: Some(20.0),
    };
    Ok(vec![
        Row::new(
            scenario,
            metric(true),
            "actions/s",
            median(&ours_on),
            "redb 1 update/commit, qr=off",
            Some(median(&raw_off)),
        )
        .target(target)
        .reference(diag_on.summary())
        .rounds(&ours_on, &raw_off),
        Row::new(
            scenario,
            metric(true),
            "actions/s",
            median(&ours_on),
            "redb 1 update/commit, qr=on",
            Some(median(&raw_on)),
        )
        .target(target)
        .rounds(&ours_on, &raw_on),
        Row::new(
            scenario,
            metric(false),
            "actions/s",
            median(&ours_off),
            "redb 1 update/commit, qr=off",
            Some(median(&raw_off)),
        )
        .reference(diag_off.summary())
        .rounds(&ours_off, &raw_off),
    ])
}

/// The 10,000-actor setup shared by `many_actors` and `durable_vs_callers`: the same random
/// keys in a framework system and in a raw redb file.
struct ManyActors {
    keys: Vec<String>,
    raw: redb::Database,
    /// One per quick-repair setting asked for.
    systems: Vec<Framework>,
}

/// One framework system of the 10,000-actor setup.
struct Framework {
    system: System,
    handles: Arc<Vec<Handle<Counter>>>,
    path: PathBuf,
    quick_repair: bool,
}

impl ManyActors {
    /// Creates the actors (one system per `quick_repair` value) and fills the raw file.
    fn new(rt: &Runtime, s: &Settings, name: &str, quick_repair: &[bool]) -> Result<Self> {
        let keys = random_keys(10_000, 42);
        let raw = raw::open(&s.file(&format!("{name}-raw")))?;
        raw::fill(&raw, &keys)?;
        let systems = rt.block_on(async {
            let mut systems = Vec::new();
            for &on in quick_repair {
                let path = s.file(&format!("{name}-{}", qr(on)));
                let system = open_system(&path, on).await?;
                let handles = Arc::new(create_actors(&system, &keys).await?);
                systems.push(Framework {
                    system,
                    handles,
                    path,
                    quick_repair: on,
                });
            }
            Ok::<_, crate::Error>(systems)
        })?;
        Ok(Self { keys, raw, systems })
    }

    /// Shuts the systems down (their files stay).
    fn shutdown(&self, rt: &Runtime) {
        rt.block_on(async {
            for f in &self.systems {
                f.system.shutdown().await;
            }
        });
    }

    /// Shuts the systems down, then runs a diagnostic round on each file (in the order of
    /// `systems`) with `callers`.
    fn shutdown_and_diagnose(
        self,
        rt: &Runtime,
        callers: usize,
        duration: Duration,
    ) -> Result<Vec<diag::Batching>> {
        self.shutdown(rt);
        self.systems
            .iter()
            .map(|f| {
                let b = diag::batching_round(
                    rt,
                    &f.path,
                    f.quick_repair,
                    &self.keys,
                    callers,
                    duration,
                )?;
                eprintln!("  {} {callers} callers: {b:?}", qr(f.quick_repair));
                Ok(b)
            })
            .collect()
    }
}

/// `many_actors`: 10,000 actors, 256 callers; raw redb upserts 1,000 records per commit.
pub fn many_actors(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let (callers, batch) = (256, 1000);
    let setup = ManyActors::new(rt, s, "many", &[true, false])?;
    let (mut ours_on, mut ours_off, mut raw_on, mut raw_off) = (vec![], vec![], vec![], vec![]);
    for round in 0..s.rounds {
        eprintln!("  round {}/{}", round + 1, s.rounds);
        ours_on.push(rt.block_on(closed_loop(&setup.systems[0].handles, callers, s.many))?);
        raw_on.push(raw::upsert_loop(
            &setup.raw,
            &setup.keys,
            batch,
            true,
            s.many,
        )?);
        raw_off.push(raw::upsert_loop(
            &setup.raw,
            &setup.keys,
            batch,
            false,
            s.many,
        )?);
        ours_off.push(rt.block_on(closed_loop(&setup.systems[1].handles, callers, s.secondary))?);
    }
    let diag = setup.shutdown_and_diagnose(rt, callers, s.diag)?;
    let scenario = "many_actors";
    let metric = |on: bool| format!("10k actors, {callers} callers, {}", qr(on));
    let base = |on: bool| format!("redb {batch} upserts/commit, {}", qr(on));
    let target = Target::AtLeast {
        value: None,
        ratio: Some(1.0),
    };
    Ok(vec![
        Row::new(
            scenario,
            metric(true),
            "actions/s",
            median(&ours_on),
            base(true),
            Some(median(&raw_on)),
        )
        .target(target)
        .reference(diag[0].summary())
        .rounds(&ours_on, &raw_on),
        Row::new(
            scenario,
            metric(true),
            "actions/s",
            median(&ours_on),
            base(false),
            Some(median(&raw_off)),
        )
        .target(target)
        .rounds(&ours_on, &raw_off),
        Row::new(
            scenario,
            metric(false),
            "actions/s",
            median(&ours_off),
            base(false),
            Some(median(&raw_off)),
        )
        .reference(diag[1].summary())
        .rounds(&ours_off, &raw_off),
    ])
}

/// `durable_vs_callers`: throughput against the number of callers on the 10,000-actor setup,
/// against raw redb batching as many upserts per commit as there are callers. Writes the chart.
pub fn durable_vs_callers(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let counts: &[usize] = if s.quick {
        &[1, 16, 64]
    } else {
        &[1, 4, 16, 64, 256]
    };
    let setup = ManyActors::new(rt, s, "callers", &[true])?;
    let handles = &setup.systems[0].handles;
    let mut rows = Vec::new();
    let (mut ours_line, mut raw_line) = (Vec::new(), Vec::new());
    for &callers in counts {
        eprintln!("  {callers} callers");
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..s.rounds {
            ours.push(rt.block_on(closed_loop(handles, callers, s.callers))?);
            base.push(raw::upsert_loop(
                &setup.raw,
                &setup.keys,
                callers,
                true,
                s.callers,
            )?);
        }
        let (f, b) = (median(&ours), median(&base));
        ours_line.push((callers as f64, f));
        raw_line.push((callers as f64, b));
        rows.push(
            Row::new(
                "durable_vs_callers",
                format!("10k actors, {callers} callers, qr=on"),
                "actions/s",
                f,
                format!("redb {callers} upserts/commit, qr=on"),
                Some(b),
            )
            .rounds(&ours, &base),
        );
    }
    setup.shutdown(rt);
    let path = &setup.systems[0].path;
    for (row, &callers) in rows.iter_mut().zip(counts) {
        let b = diag::batching_round(rt, path, true, &setup.keys, callers, s.diag)?;
        eprintln!("  {callers} callers: {b:?}");
        row.reference = Some(b.summary());
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let subtitle = format!(
        "median of {} rounds of {:.1} s; quick repair on; {} run on a shared {cores}-core machine",
        s.rounds,
        s.callers.as_secs_f64(),
        if s.quick { "a quick" } else { "one full" }
    );
    let svg = line_chart(
        Labels {
            title: "Durable writes per second against concurrent callers (10,000 actors)",
            subtitle: &subtitle,
            x: "concurrent callers, each waiting for its durable reply (log scale)",
            y: "durable actions or upserts per second (log scale)",
        },
        &[
            Series {
                name: "actor-core (qr=on, default)".into(),
                color: "#1f77b4",
                points: ours_line,
            },
            Series {
                name: "raw redb, batch = callers (qr=on)".into(),
                color: "#d62728",
                points: raw_line,
            },
        ],
    );
    std::fs::create_dir_all(s.chart.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(&s.chart, svg)?;
    let shown = s.chart.canonicalize().unwrap_or_else(|_| s.chart.clone());
    eprintln!("  chart written to {}", shown.display());
    Ok(rows)
}
