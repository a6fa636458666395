use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

fn main() {}
