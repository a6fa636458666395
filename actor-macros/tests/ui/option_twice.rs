use actor_core::Actor;
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "A", mailbox_capacity = 4, name = "B")]
struct Counter {
    count: i64,
}

fn main() {}
