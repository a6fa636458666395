use actor_core::{Env, KvStore, System};

// A bad binding attribute: one error, not one more where the environment is used.
#[derive(Env)]
struct Bindings {
    #[binding = 5]
    state: KvStore,
}

fn load(system: &System) -> Bindings {
    system.env::<Bindings>().unwrap()
}

fn main() {
    let _ = load;
}
