//! A phase of a test in a fresh OS process: this test binary runs again, filtered to the one
//! test, with environment variables naming the phase and the database file. So "save, restart
//! the process, reload" needs no separate program, and the reading process has never held
//! the state in memory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

const PHASE: &str = "ACTOR_SUITE_PHASE";
const FILE: &str = "ACTOR_SUITE_FILE";

/// In a child started by [`run`]: the phase and the file. `None` in the parent.
pub(crate) fn phase() -> Option<(String, PathBuf)> {
    let phase = std::env::var(PHASE).ok()?;
    let file = std::env::var_os(FILE)?;
    Some((phase, PathBuf::from(file)))
}

/// Runs the test `test` of this binary in a new process as `phase` on `file`, and returns
/// what it printed on stdout. Panics with its output if it fails or is killed (unless
/// `may_abort`, for a phase that ends itself with `std::process::abort`).
pub(crate) fn run(test: &str, phase: &str, file: &Path, may_abort: bool) -> String {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(PHASE, phase)
        .env(FILE, file)
        .output()
        .expect("start the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let passed = output.status.success() && stdout.contains("1 passed");
    assert!(
        passed || (may_abort && !output.status.success()),
        "phase {phase} of {test} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// The value a child printed as `key=value` (the test harness may put its own words before
/// it on the same line).
pub(crate) fn value(stdout: &str, key: &str) -> Option<String> {
    stdout.split_whitespace().find_map(|word| {
        word.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::to_owned)
    })
}
