//! Latencies: `one_caller_latency`, `read_round_trip` and `cold_wake`.

use std::time::Instant;

use tokio::runtime::Runtime;

use crate::counter::{Action, Counter};
use crate::peers::{TokioRequest, kameo_counter, ractor_counter, spawn_tokio_counter};
use crate::report::{Row, Target};
use crate::stats::{micros, percentile, random_keys, shuffled};
use crate::throughput::{create_actors, open_system, qr};
use crate::{Result, Settings, raw};

/// `one_caller_latency`: one caller asking `Add(1)` of one actor, one call at a time, against
/// one raw redb `Immediate` commit of one update. Samples of the four variants are taken in
/// alternating blocks.
pub fn one_caller_latency(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let samples = if s.quick { 300 } else { 2000 };
    let block = samples / 10;
    let key = vec!["one".to_owned()];
    let raw_db = raw::open(&s.file("latency-raw"))?;
    raw::fill(&raw_db, &key)?;
    let (on, off) = rt.block_on(async {
        let on = open_system(&s.file("latency-on"), true).await?;
        let off = open_system(&s.file("latency-off"), false).await?;
        Ok::<_, crate::Error>((on, off))
    })?;
    let (h_on, h_off) = rt.block_on(async {
        Ok::<_, crate::Error>((
            create_actors(&on, &key).await?.remove(0),
            create_actors(&off, &key).await?.remove(0),
        ))
    })?;
    // `n` sequential asks from a spawned task (as a caller would be), in µs each.
    let asks = |h: &actor_core::Handle<Counter>, n: usize| {
        let h = h.clone();
        rt.block_on(async move {
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let started = Instant::now();
                    h.ask(Action::Add(1)).await?;
                    out.push(micros(started.elapsed()));
                }
                Ok::<_, crate::Error>(out)
            })
            .await?
        })
    };
    // Warm-up, not recorded.
    asks(&h_on, 20)?;
    asks(&h_off, 20)?;
    raw::commit_latencies(&raw_db, "one", 20, true)?;
    raw::commit_latencies(&raw_db, "one", 20, false)?;
    let (mut ours_on, mut ours_off, mut raw_on, mut raw_off) = (vec![], vec![], vec![], vec![]);
    for _ in 0..samples / block {
        ours_on.extend(asks(&h_on, block)?);
        raw_on.extend(raw::commit_latencies(&raw_db, "one", block, true)?);
        ours_off.extend(asks(&h_off, block)?);
        raw_off.extend(raw::commit_latencies(&raw_db, "one", block, false)?);
    }
    rt.block_on(async {
        on.shutdown().await;
        off.shutdown().await;
    });
    let scenario = "one_caller_latency";
    let row = |on: bool, p: f64, ours: &[f64], base_on: bool, base: &[f64]| {
        Row::new(
            scenario,
            format!("1 caller, Add(1), {}, p{p}", qr(on)),
            "us",
            percentile(ours, p),
            format!("one redb commit, {}, p{p}", qr(base_on)),
            Some(percentile(base, p)),
        )
    };
    let target = Target::AtMost {
        value: None,
        ratio: Some(1.15),
    };
    Ok(vec![
        row(true, 50.0, &ours_on, true, &raw_on).target(target),
        row(true, 99.0, &ours_on, true, &raw_on),
        row(true, 50.0, &ours_on, false, &raw_off).target(target),
        row(false, 50.0, &ours_off, false, &raw_off).target(target),
        row(false, 99.0, &ours_off, false, &raw_off),
    ])
}

/// Calls per timing sample in `read_round_trip`: one `Instant` pair per 100 calls keeps the
/// timer's own cost and resolution (tens of ns) out of a figure of a few hundred ns.
const BATCH: usize = 100;

/// Times `$n` batches of [`BATCH`] sequential evaluations of `$call`; ns per call per batch.
macro_rules! batches {
    ($n:expr, $call:expr) => {{
        let mut out = Vec::with_capacity($n);
        for _ in 0..$n {
            let started = Instant::now();
            for _ in 0..BATCH {
                std::hint::black_box($call);
            }
            out.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
        }
        out
    }};
}

/// `read_round_trip`: a read-only `ask(Get)` against a tokio mpsc + oneshot round trip, a
/// kameo `ask` and a ractor `call!`, all on the same multi-thread runtime, each caller a
/// spawned task. Rounds of the four alternate.
pub fn read_round_trip(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let total = if s.quick { 300 } else { 2000 };
    let per_round = total / s.rounds;
    let path = s.file("read");
    let (system, ours, floor, kameo, ractor, ractor_join) = rt.block_on(async {
        let system = open_system(&path, true).await?;
        let ours = create_actors(&system, &["r".to_owned()]).await?.remove(0);
        ours.ask(Action::Add(1)).await?;
        let floor = spawn_tokio_counter();
        floor.send(TokioRequest::Add(1)).await?;
        let kameo = kameo_counter::spawn();
        kameo.ask(kameo_counter::Add(1)).await?;
        let (ractor, join) = ractor::Actor::spawn(None, ractor_counter::Counter, ()).await?;
        ractor.cast(ractor_counter::Msg::Add(1))?;
        Ok::<_, crate::Error>((system, ours, floor, kameo, ractor, join))
    })?;
    let (mut t_ours, mut t_floor, mut t_kameo, mut t_ractor) = (vec![], vec![], vec![], vec![]);
    for round in 0..s.rounds {
        // The first round also warms up each path (1,000 calls, not recorded).
        let warm = if round == 0 { 10 } else { 0 };
        let h = ours.clone();
        t_ours.extend(rt.block_on(rt.spawn(async move {
            let _ = batches!(warm, h.ask(Action::Get).await.ok());
            batches!(per_round, h.ask(Action::Get).await.ok())
        }))?);
        let tx = floor.clone();
        t_floor.extend(rt.block_on(rt.spawn(async move {
            let tx = &tx;
            let call = move || async move {
                let (reply, rx) = tokio::sync::oneshot::channel();
                tx.send(TokioRequest::Get(reply)).await.ok()?;
                rx.await.ok()
            };
            let _ = batches!(warm, call().await);
            batches!(per_round, call().await)
        }))?);
        let k = kameo.clone();
        t_kameo.extend(rt.block_on(rt.spawn(async move {
            let _ = batches!(warm, k.ask(kameo_counter::Get).await.ok());
            batches!(per_round, k.ask(kameo_counter::Get).await.ok())
        }))?);
        let r = ractor.clone();
        t_ractor.extend(rt.block_on(rt.spawn(async move {
            let _ = batches!(warm, ractor::call!(r, ractor_counter::Msg::Get).ok());
            batches!(per_round, ractor::call!(r, ractor_counter::Msg::Get).ok())
        }))?);
    }
    rt.block_on(async {
        system.shutdown().await;
        ractor.stop(None);
        let _ = ractor_join.await;
        let _ = kameo.stop_gracefully().await;
    });
    let p50 = percentile(&t_ours, 50.0);
    let metric = format!("ask(Get) p50, batches of {BATCH}");
    let row = |name: &str, base: &[f64], target: Target| {
        Row::new(
            "read_round_trip",
            metric.clone(),
            "ns",
            p50,
            name,
            Some(percentile(base, 50.0)),
        )
        .target(target)
    };
    Ok(vec![
        row(
            "tokio mpsc(64) + oneshot (floor)",
            &t_floor,
            Target::AtMost {
                value: None,
                ratio: Some(1.3),
            },
        ),
        row("kameo 0.22 ask", &t_kameo, Target::Below),
        row("ractor 0.16 call!", &t_ractor, Target::Below),
    ])
}

/// `cold_wake`: actors written by an earlier run, first call after a reopen: `get` + `ask(Get)`
/// of distinct actors, one after another, in random order. The reference column is a raw
/// redb point read of the same keys on the same file (what loading an actor must do).
pub fn cold_wake(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = if s.quick { 2_000 } else { 10_000 };
    let path = s.file("cold");
    let keys = random_keys(n, 7);
    let order = shuffled(&keys, 8);
    let lat = rt.block_on(async {
        let system = open_system(&path, true).await?;
        create_actors(&system, &keys).await?;
        system.shutdown().await;
        let system = open_system(&path, true).await?;
        let lat = {
            let system = system.clone();
            let order = order.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(order.len());
                for key in &order {
                    let started = Instant::now();
                    let h = system.get::<Counter>(key.as_str()).await?;
                    h.ask(Action::Get).await?;
                    lat.push(micros(started.elapsed()));
                }
                Ok::<_, crate::Error>(lat)
            })
            .await??
        };
        system.shutdown().await;
        Ok::<_, crate::Error>(lat)
    })?;
    let reads = raw::read_latencies(&raw::open(&path)?, &order)?;
    let row = |p: f64| {
        Row::new(
            "cold_wake",
            format!("get + ask(Get), {n} on disk, p{p}"),
            "us",
            percentile(&lat, p),
            "-",
            None,
        )
        .reference(format!(
            "redb point read p{p}: {:.2} us",
            percentile(&reads, p)
        ))
    };
    Ok(vec![row(50.0), row(99.0)])
}
