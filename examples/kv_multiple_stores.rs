//! Several stores side by side, bound by name in `examples/actors.toml` and reached through
//! a typed environment (the seed's "Multiple State Bindings").
//!
//! `cargo run --example kv_multiple_stores`

use actor_core::{Bindings, Env, KvStore, System};

/// The bindings this program needs; checked against the config at startup.
#[derive(Env)]
struct AppEnv {
    /// General state (`STATE = "default"`).
    state: KvStore,
    /// User-specific state (`USER_STATE = "users"`).
    user_state: KvStore,
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/actors.toml");
    let bindings = Bindings::load(config)?;
    let system = System::builder()
        .temporary()
        .bindings(bindings)
        .open()
        .await?;
    let env: AppEnv = system.env()?;

    env.state.set("config", "v1").await?;
    env.user_state.set("user:abc", r#"{"name":"Abc"}"#).await?;
    println!(
        "STATE ({}) config = {:?}",
        env.state.name(),
        env.state.get("config").await?
    );
    println!(
        "USER_STATE ({}) user:abc = {:?}",
        env.user_state.name(),
        env.user_state.get("user:abc").await?
    );
    println!("STATE has user:abc? {:?}", env.state.get("user:abc").await?);
    system.shutdown().await;
    Ok(())
}
