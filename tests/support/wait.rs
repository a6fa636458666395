//! Waiting for something the runtime does in the background (a schedule firing, a message
//! arriving), bounded by real time so that a broken promise fails rather than hangs.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 5 ms until it holds; panics after 10 s.
pub(crate) async fn eventually<F: Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
