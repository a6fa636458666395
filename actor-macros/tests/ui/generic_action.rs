use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    pub async fn add<T: Into<i64>>(&mut self, by: T) -> i64 {
        self.count += by.into();
        self.count
    }
}

fn main() {}
