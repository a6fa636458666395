//! Finding the example programs that `cargo test` builds next to the test binaries.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The path of `examples/NAME.rs`, built. `cargo test` builds the package's examples before
/// running its tests, into `target/<profile>/examples/`; if it is missing (a test run on its
/// own), it is built here.
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    path
}
