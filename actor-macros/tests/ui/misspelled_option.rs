use actor_core::{actions, Actor, System};
use serde::{Deserialize, Serialize};

// One misspelled option: one error, not one more for each use of the actor.
#[derive(Actor, Serialize, Deserialize)]
#[actor(mailbox_capacty = 16, create_state = Counter::named, input = String)]
struct Counter {
    name: String,
    count: i64,
}

impl Counter {
    fn named(name: String) -> Self {
        Self { name, count: 0 }
    }
}

#[actions]
impl Counter {
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

async fn run(system: &System) -> i64 {
    let counter = system
        .get_or_create_with::<Counter>("c", "Ada".to_owned())
        .await
        .unwrap();
    counter.increment(1).await.unwrap()
}

fn main() {
    let _ = run;
}
