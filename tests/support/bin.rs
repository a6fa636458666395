//! Finding (and building) the example programs that tests run as child processes.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The path of `examples/NAME.rs`, built and up to date: `target/<profile>/examples/NAME`,
/// next to this test's own `target/<profile>/deps/<test>-<hash>`.
///
/// `cargo test` builds the package's examples before running its tests, but
/// `cargo test --test NAME` builds only that test and would leave a stale (or no) example. So
/// each example is built here once per test process: a no-op taking a fraction of a second
/// when it is up to date (cargo has released its build lock by the time tests run). If cargo
/// cannot be run at all, an existing binary is used as it is.
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
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if built
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
        match cargo.status() {
            Ok(status) => assert!(
                status.success(),
                "cargo build --example {name} failed ({status})"
            ),
            Err(e) if binary.is_file() => {
                eprintln!(
                    "cannot run cargo ({e}); using {} as built",
                    binary.display()
                );
            }
            Err(e) => panic!("{} is missing and cargo cannot run: {e}", binary.display()),
        }
    }
    assert!(
        binary.is_file(),
        "{} is missing after cargo build",
        binary.display()
    );
    binary
}
