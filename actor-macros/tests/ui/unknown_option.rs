use actor_core::Actor;
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(mailbox = 10, restart(max_restart = 3), never_sleep)]
struct Counter {
    count: i64,
}

fn main() {}
