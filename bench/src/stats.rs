//! Small statistics helpers and a xorshift generator (no `rand` crate).

use std::time::Duration;

/// The median of `values` (nearest rank); NaN if empty.
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// The `p`-th percentile of `values` by nearest rank; NaN if empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds in `d`, as a float.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Marsaglia's xorshift64: cheap, deterministic picks for callers and keys.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (any value; zero is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `n` distinct random-looking actor keys, the same on every call with the same `seed`.
pub fn random_keys(n: usize, seed: u64) -> Vec<String> {
    let mut rng = XorShift::new(seed);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let key = format!("actor-{:016x}", rng.next_u64());
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    keys
}

/// `keys` in a random order (Fisher-Yates).
pub fn shuffled(keys: &[String], seed: u64) -> Vec<String> {
    let mut out = keys.to_vec();
    let mut rng = XorShift::new(seed);
    for i in (1..out.len()).rev() {
        out.swap(i, rng.below(i + 1));
    }
    out
}
