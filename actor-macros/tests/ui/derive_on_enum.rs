use actor_core::Actor;
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize)]
enum Light {
    On,
    Off,
}

fn main() {}
