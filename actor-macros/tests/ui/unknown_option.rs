use actor_core::Actor;
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(mailbox = 10)]
struct Counter {
    count: i64,
}

fn main() {}
