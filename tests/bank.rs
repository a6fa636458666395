//! Money moved between actors through the outbox is conserved across `kill -9` at random
//! moments, and every transfer is applied exactly once: the bank example is killed
//! mid-transfer over and over; after each kill an audit (a new process) waits for the
//! messages left in flight and finds the same total, every transfer sent received once, none
//! twice, and every acknowledged transfer among them.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use scratch::{TempDir, XorShift};

const ACCOUNTS: usize = 6;
const KILLS: usize = 30;

/// What an audit printed.
#[derive(Debug, Default)]
struct Audit {
    total: u64,
    /// (payer, payee) → (count, sum of transfer numbers), as each side saw it.
    sent: BTreeMap<(String, String), (u64, u64)>,
    received: BTreeMap<(String, String), (u64, u64)>,
    duplicates: u64,
    text: String,
}

fn audit(db: &str) -> Audit {
    let out = Command::new(bin::example("bank"))
        .args(["audit", "--db", db, "--accounts", &ACCOUNTS.to_string()])
        .output()
        .expect("run audit");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "audit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut audit = Audit::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words[i].parse::<u64>().expect("a number");
        match words.first() {
            Some(&"total") => audit.total = number(1),
            Some(&"sent") => {
                audit
                    .sent
                    .insert((words[1].into(), words[2].into()), (number(3), number(4)));
            }
            Some(&"received") => {
                audit
                    .received
                    .insert((words[1].into(), words[2].into()), (number(3), number(4)));
            }
            Some(&"duplicates") => audit.duplicates += number(2),
            _ => {}
        }
    }
    audit.text = text;
    audit
}

#[test]
fn money_is_conserved_and_each_transfer_applied_once_across_kills() {
    let dir = TempDir::new("bank");
    let db = dir.file("bank.redb");
    let expected = 1_000 * ACCOUNTS as u64;
    let seed = XorShift::clock_seed();
    let mut rng = XorShift::new(seed);
    // Every acknowledged transfer: (payer, payee) → transfer numbers.
    let mut acked: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for round in 0..KILLS {
        let mut child = Command::new(bin::example("bank"))
            .args(["run", "--db", &db, "--accounts", &ACCOUNTS.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bank");
        std::thread::sleep(Duration::from_millis(rng.between(100, 400)));
        child.kill().expect("SIGKILL");
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut stdout)
            .expect("read the child's output");
        child.wait().expect("reap");
        // Only whole lines: the kill may cut the last one.
        for line in stdout.lines().filter(|l| l.split_whitespace().count() == 5) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let (["ack", from, _, to, _], Ok(n)) = (&words[..], words[2].parse()) {
                acked
                    .entry(((*from).to_owned(), (*to).to_owned()))
                    .or_default()
                    .insert(n);
            }
        }
        let audit = audit(&db);
        let context = format!("round {round} (seed {seed}):\n{}", audit.text);
        assert_eq!(audit.total, expected, "money created or lost, {context}");
        assert_eq!(audit.duplicates, 0, "a transfer applied twice, {context}");
        assert_eq!(
            audit.sent, audit.received,
            "a transfer sent and not received once, {context}"
        );
        for ((from, to), numbers) in &acked {
            let (count, sum) = audit
                .sent
                .get(&(from.clone(), to.clone()))
                .copied()
                .unwrap_or_default();
            assert!(
                count >= numbers.len() as u64 && sum >= numbers.iter().sum::<u64>(),
                "acknowledged transfers {from} -> {to} {numbers:?} missing, {context}"
            );
        }
    }
    let acks: usize = acked.values().map(BTreeSet::len).sum();
    assert!(
        acks > 100,
        "only {acks} transfers acknowledged in {KILLS} rounds"
    );
}
