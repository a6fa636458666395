use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Register<T> {
    value: T,
}

#[actions]
impl<T: Clone> Register<T> {
    pub async fn get(&self) -> T {
        self.value.clone()
    }
}

fn main() {}
