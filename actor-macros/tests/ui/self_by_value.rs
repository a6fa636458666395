use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub async fn consume(self) -> i64 {
        self.count
    }
}

fn main() {}
