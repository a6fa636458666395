//! Feature flags in a key-value store (the seed's "Feature Flags" pattern).
//!
//! `cargo run --example kv_feature_flags`

use actor_core::{KvError, KvStore, System};

async fn is_feature_enabled(state: &KvStore, feature: &str) -> Result<bool, KvError> {
    Ok(state.get(&format!("feature:{feature}")).await?.as_deref() == Some("true"))
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let system = System::temporary().await?;
    let state = system.kv("default")?;

    println!(
        "dark-mode enabled: {}",
        is_feature_enabled(&state, "dark-mode").await?
    );
    state.set("feature:dark-mode", "true").await?; // durable when it returns
    println!("enabled dark-mode");
    println!(
        "dark-mode enabled: {}",
        is_feature_enabled(&state, "dark-mode").await?
    );

    state.set("feature:beta-search", "false").await?;
    let flags = state.list("feature:", None, 100).await?;
    for (key, value) in &flags.entries {
        println!("{key} = {value}");
    }
    system.shutdown().await;
    Ok(())
}
