use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

struct NotSerde;

#[actions]
impl Counter {
    pub async fn poke(&mut self, what: NotSerde) -> i64 {
        let _ = what;
        self.count
    }
}

fn main() {}
