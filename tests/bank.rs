//! Money moved between actors is conserved across `kill -9` at random moments: the bank
//! example is killed mid-transfer over and over, and every audit finds the same total.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/storage.rs"]
mod storage;

use std::process::{Command, Stdio};
use std::time::Duration;

use scratch::XorShift;

const ACCOUNTS: usize = 6;

fn audit(db: &str) -> (u64, String) {
    let out = Command::new(bin::example("bank"))
        .args(["audit", "--db", db, "--accounts", &ACCOUNTS.to_string()])
        .output()
        .expect("run audit");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "audit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total in {stdout}"));
    (total, stdout)
}

#[test]
fn money_is_conserved_across_kills_in_the_middle_of_transfers() {
    let path = storage::temp_path("bank");
    let db = path.to_str().expect("utf-8 path").to_owned();
    let expected = 1_000 * ACCOUNTS as u64;
    let mut rng = XorShift::new(XorShift::clock_seed());
    for round in 0..20 {
        let mut child = Command::new(bin::example("bank"))
            .args(["run", "--db", &db, "--accounts", &ACCOUNTS.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bank");
        std::thread::sleep(Duration::from_millis(rng.between(100, 400)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (total, report) = audit(&db);
        assert_eq!(
            total, expected,
            "round {round}: money created or lost\n{report}"
        );
    }
    // The balances moved away from the opening 1000 each: transfers really happened.
    let (_, report) = audit(&db);
    assert!(
        report.lines().filter(|l| l.ends_with(" 1000 0")).count() < ACCOUNTS,
        "no transfer ever happened:\n{report}"
    );
    std::fs::remove_file(path).unwrap();
}
