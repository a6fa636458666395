use actor_core::{actions, Actor};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
struct Named {
    name: String,
}

#[actions]
impl Named {
    pub async fn rename(&mut self, name: &str) {
        self.name = name.to_owned();
    }

    pub async fn peek(&self, ctx: &mut actor_core::Ctx<Self>) -> String {
        let _ = ctx;
        self.name.clone()
    }
}

fn main() {}
