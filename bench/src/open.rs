//! `open_1m`: opening a store of many actors and serving the first call, after a clean
//! shutdown and after a SIGKILL (a child process, this binary re-executed with the hidden
//! `crash-child` subcommand, is killed while it has the file open).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use actor_core::System;
use redb::ReadableDatabase;
use tokio::runtime::Runtime;

use crate::counter::{Action, Counter};
use crate::report::{Row, Target};
use crate::stats::median;
use crate::{Result, Settings, raw};

/// The key of the `i`-th actor in the file.
fn key(i: usize) -> String {
    format!("actor-{i:07}")
}

/// Milliseconds for `System::open` + `get` + `ask(Get)` of `key` (the shutdown after it is
/// not timed).
fn first_call(rt: &Runtime, path: &Path, key: &str) -> Result<f64> {
    rt.block_on(async {
        let started = Instant::now();
        let system = System::open(path).await?;
        system.get::<Counter>(key).await?.ask(Action::Get).await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        system.shutdown().await;
        Ok(ms)
    })
}

/// Milliseconds for a raw redb open + one point read of `key` (the reference).
fn raw_first_read(path: &Path, key: &str) -> Result<f64> {
    let started = Instant::now();
    let db = raw::open(path)?;
    let read = db.begin_read()?;
    let table = read.open_table(raw::ACTORS)?;
    let record = table.get((raw::KIND, key))?.map(|r| r.value().to_vec());
    let ms = started.elapsed().as_secs_f64() * 1e3;
    record.ok_or("missing record")?;
    Ok(ms)
}

/// Starts a child that opens the system, makes one durable change to `key`, and then is
/// killed with SIGKILL while the file is open.
fn crash(path: &Path, key: &str) -> Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("crash-child")
        .arg(path)
        .arg(key)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    child.kill()?; // SIGKILL on Unix
    child.wait()?;
    if line.trim() != "ready" {
        return Err(format!("crash-child did not get ready: {line:?}").into());
    }
    Ok(())
}

/// The child: opens the system at `path`, adds 1 to `key` (durably), says `ready`, waits.
pub fn crash_child(path: &Path, key: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let system = System::open(path).await?;
        system
            .get::<Counter>(key)
            .await?
            .ask(Action::Add(1))
            .await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "ready")?;
        stdout.flush()?;
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// `open_1m`: a file of `n` actors written with raw redb batches, then timed: open + first
/// call, after a clean close and after a SIGKILL, with raw redb's open + point read of the
/// same key as the reference.
pub fn open_1m(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = if s.quick { 100_000 } else { 1_000_000 };
    let path = s.file("open");
    {
        let db = raw::open(&path)?;
        let keys: Vec<String> = (0..n).map(key).collect();
        raw::fill(&db, &keys)?;
    }
    let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    let pick = |round: usize| key((n / 2 + round * 7919) % n);
    let (mut clean, mut clean_raw, mut crashed, mut crashed_raw) = (vec![], vec![], vec![], vec![]);
    for round in 0..s.rounds {
        let k = pick(round);
        clean_raw.push(raw_first_read(&path, &k)?);
        clean.push(first_call(rt, &path, &k)?);
        crash(&path, &k)?;
        crashed.push(first_call(rt, &path, &k)?);
        crash(&path, &k)?;
        crashed_raw.push(raw_first_read(&path, &k)?);
    }
    let label = if n >= 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1000)
    };
    let target = Target::AtMost {
        value: Some(50.0),
        ratio: None,
    };
    let row = |what: &str, ours: &[f64], reference: &[f64]| {
        Row::new(
            "open_1m",
            format!("open+get+ask, {label} actors ({mb:.0} MB), {what}"),
            "ms",
            median(ours),
            "-",
            None,
        )
        .target(target)
        .reference(format!(
            "redb open + point read: {:.2} ms",
            median(reference)
        ))
        .rounds(ours, &[])
    };
    Ok(vec![
        row("clean", &clean, &clean_raw),
        row("after SIGKILL", &crashed, &crashed_raw),
    ])
}
