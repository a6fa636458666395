//! [`advance`]: tokio's paused clock, moved forward, with the schedules it made due fired and
//! durable before it returns.

use std::time::Duration;

use crate::system::System;

/// How long [`advance`] waits, in real time, for the due schedules to fire.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// The schedules due after [`advance`] did not all fire within 10 s of real time (their
/// commits keep failing, say, or their actors cannot start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the schedules due after the clock moved did not fire within {waited:?}")]
#[non_exhaustive]
pub struct Unsettled {
    /// How long it waited, in real time.
    pub waited: Duration,
}

/// Moves tokio's paused clock forward by `by`, then waits until every schedule of `system`
/// due by the new time has fired and its turn is durable.
///
/// A system's schedules are due on tokio's clock (the wall-clock time the system opened plus
/// the time elapsed on tokio's clock since), so under a paused clock
/// (`#[tokio::test(start_paused = true)]` or [`tokio::time::pause`]) they fire only when the
/// test moves it. `tokio::time::advance` alone moves it, but the firings then run on their
/// own, and their commits on the writer thread: this waits for them, spinning on the
/// scheduler (not sleeping on tokio's clock, which would move it further), for at most 10 s
/// of real time. It waits for the fired turns, not for the messages they send.
///
/// One thing to know about paused clocks: tokio moves a paused clock by itself, to the next
/// timer, whenever every task waits. A test waiting for a commit (which runs on the writer
/// thread, outside tokio) can let it jump that way: to a pending schedule's due time, or to
/// an idle actor's sleep timer. Call only [`advance`] and actions that commit nothing between
/// setting a schedule and checking when it fires, or let the check tolerate the jump.
///
/// # Panics
///
/// If tokio's clock is not paused, or outside a tokio runtime (as `tokio::time::advance`).
pub async fn advance(system: &System, by: Duration) -> Result<(), Unsettled> {
    tokio::time::advance(by).await;
    settle(system).await
}

/// Waits until a scan of the schedules that began after this call handed out nothing new,
/// and every firing handed out before it is done.
async fn settle(system: &System) -> Result<(), Unsettled> {
    let mut spin = Spin {
        started: std::time::Instant::now(),
        spins: 0,
    };
    loop {
        let before = system.timer_progress();
        if before.stopped {
            return Ok(());
        }
        system.poke_timer();
        // A scan that began after the poke has finished...
        loop {
            let now = system.timer_progress();
            if now.stopped || now.scans_done > before.scans_begun {
                break;
            }
            spin.once().await?;
        }
        // ...and every firing handed out so far is durable.
        loop {
            let now = system.timer_progress();
            if now.stopped || now.idle {
                if now.dispatched == before.dispatched {
                    return Ok(());
                }
                break;
            }
            spin.once().await?;
        }
    }
}

/// Waiting without tokio's clock: yields to the scheduler, bounded by real time.
struct Spin {
    started: std::time::Instant,
    spins: u32,
}

impl Spin {
    async fn once(&mut self) -> Result<(), Unsettled> {
        tokio::task::yield_now().await;
        self.spins += 1;
        let waited = self.started.elapsed();
        if waited > SETTLE_LIMIT {
            return Err(Unsettled { waited });
        }
        // After a burst of yields, leave the core to the writer thread for a moment.
        if self.spins > 256 {
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }
}
