//! Finding (and building) the example programs that tests run as child processes.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The path of `examples/NAME.rs`, built: `target/<profile>/examples/NAME`, next to this
/// test's own `target/<profile>/deps/<test>-<hash>`.
///
/// `cargo test --workspace` (the README's command, and CI's) builds every example before it
/// runs any test, so the binary is fresh there. Building it again from here would use a
/// different feature resolution and relink examples that other tests are running. So it is
/// built here only if missing; after editing an example, run `cargo test --workspace` or
/// `cargo build --examples` before `cargo test --test NAME`.
pub(crate) fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut done = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !binary.is_file()
        && done
            .get_or_insert_with(HashSet::new)
            .insert(name.to_owned())
    {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cargo.arg("--release");
            }
            Some(profile) => {
                cargo.args(["--profile", profile]);
            }
        }
        let status = cargo.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --example {name} failed ({status})"
        );
    }
    assert!(
        binary.is_file(),
        "{} is missing after cargo build",
        binary.display()
    );
    binary
}

/// The path of the workspace's `actors` tool (crate `actor-cli`), built:
/// `target/<profile>/actors`. `cargo test --workspace` builds it before any test runs (the
/// tool's own tests need it); it is built here only if missing.
pub(crate) fn actors_tool() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("actors{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "actor-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p actor-cli failed ({status})"
        );
    }
    binary
}
