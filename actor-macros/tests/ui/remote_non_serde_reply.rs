use actor_core::{actions, Actor, Remote};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Greeter;

/// Serialize only: a reply a server can send, but a client cannot decode.
#[derive(Serialize)]
struct Greeting {
    text: String,
}

#[actions]
impl Greeter {
    pub async fn hello(&self) -> Greeting {
        Greeting { text: "hello".to_owned() }
    }
}

async fn call(greeter: Remote<Greeter>) {
    let _ = greeter.hello().await;
}

fn main() {
    let _ = call;
}
