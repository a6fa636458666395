use actor_core::Actor;
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter(i64);

fn main() {}
