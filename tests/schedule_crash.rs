//! Schedules fire exactly once across `kill -9`: a child process (this test binary, run
//! again) sets schedules due within a few milliseconds and fires them, slowly, over and
//! over, and is killed at random moments: between a schedule's commit and its firing, and
//! between a firing's action and its commit. A last run lets every schedule left fire. Every
//! acknowledged schedule must have fired exactly once, and nothing twice.

#[path = "support/scratch.rs"]
mod scratch;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use actor_core::{Ctx, System, actions};
use scratch::{TempDir, XorShift};
use serde::{Deserialize, Serialize};

const KILLS: usize = 20;
const ALARMS: usize = 8;
const PHASE: &str = "SCHEDULE_CRASH_PHASE";
const FILE: &str = "SCHEDULE_CRASH_FILE";
const ROUND: &str = "SCHEDULE_CRASH_ROUND";

/// Rings what it scheduled.
#[derive(actor_core::Actor, Serialize, Deserialize, Default)]
#[actor(never_sleep)]
struct Alarm {
    /// Every label that rang, in order (a label twice would be a double firing).
    rung: Vec<String>,
    /// Labels set and not rung yet.
    pending: u64,
}

#[actions]
impl Alarm {
    pub async fn set(
        &mut self,
        ctx: &mut Ctx<Self>,
        label: String,
        after_ms: u64,
    ) -> Result<(), String> {
        ctx.schedule_after(Duration::from_millis(after_ms), AlarmAction::Ring { label })
            .map_err(|e| e.to_string())?;
        self.pending += 1;
        Ok(())
    }

    /// Fired by a schedule. Slow, so that kills land between the action and its commit.
    pub async fn ring(&mut self, label: String) {
        self.rung.push(label);
        self.pending = self.pending.saturating_sub(1);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    pub async fn report(&self) -> (Vec<String>, u64) {
        (self.rung.clone(), self.pending)
    }
}

/// The child: sets schedules until killed, printing `set LABEL` for each acknowledged one.
async fn child(path: &Path, round: usize) {
    let system = System::builder()
        .path(path)
        .actor::<Alarm>()
        .open()
        .await
        .expect("open");
    let mut alarms = Vec::new();
    for i in 0..ALARMS {
        alarms.push(
            system
                .get_or_create::<Alarm>(format!("alarm-{i}"))
                .await
                .expect("alarm"),
        );
    }
    let mut rng = XorShift::new(XorShift::clock_seed());
    for n in 0.. {
        let label = format!("{round}-{n}");
        let alarm = &alarms[rng.below(ALARMS)];
        if alarm.set(label.clone(), rng.between(0, 30)).await.is_ok() {
            println!("set {label}");
        }
    }
}

/// The last run: every schedule left fires; returns each alarm's labels.
async fn drain(path: &Path) -> Vec<String> {
    let system = System::builder()
        .path(path)
        .actor::<Alarm>()
        .open()
        .await
        .expect("open");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut rung = Vec::new();
    loop {
        rung.clear();
        let mut pending = 0;
        for i in 0..ALARMS {
            if let Ok(alarm) = system.get::<Alarm>(format!("alarm-{i}")).await {
                let (labels, left) = alarm.report().await.expect("report");
                rung.extend(labels);
                pending += left;
            }
        }
        if pending == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pending} schedules never fired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    system.shutdown().await;
    rung
}

#[test]
fn schedules_fire_exactly_once_across_sigkill() {
    if let (Ok(phase), Some(file)) = (std::env::var(PHASE), std::env::var_os(FILE)) {
        let round = std::env::var(ROUND)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        assert_eq!(phase, "run");
        runtime.block_on(child(Path::new(&file), round));
        return;
    }
    let dir = TempDir::new("schedule-crash");
    let path = dir.path().join("alarms.redb");
    let seed = XorShift::clock_seed();
    let mut delays = XorShift::new(seed);
    let mut acked: Vec<String> = Vec::new();
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--exact",
                "schedules_fire_exactly_once_across_sigkill",
                "--nocapture",
            ])
            .env(PHASE, "run")
            .env(FILE, &path)
            .env(ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        std::thread::sleep(Duration::from_millis(delays.between(80, 300)));
        child.kill().expect("SIGKILL");
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut out)
            .expect("the child's output");
        child.wait().expect("reap");
        acked.extend(
            out.lines()
                .filter_map(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .filter(|_| l.starts_with("set "))
                })
                .map(str::to_owned),
        );
    }
    let rung = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(drain(&path));
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for label in &rung {
        *times.entry(label.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "fired twice (seed {seed}): {twice:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|l| !times.contains_key(l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged and never fired (seed {seed}): {missing:?}"
    );
    assert!(
        acked.len() > 100,
        "only {} schedules acknowledged",
        acked.len()
    );
}
