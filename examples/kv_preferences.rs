//! User preferences with defaults (the seed's "User Preferences" pattern).
//!
//! `cargo run --example kv_preferences`

use std::collections::BTreeMap;

use actor_core::{KvError, KvStore, System};

type Prefs = BTreeMap<String, String>;

async fn get_user_preferences(state: &KvStore, user_id: &str) -> Result<Prefs, KvError> {
    Ok(state
        .get_json(&format!("prefs:{user_id}"))
        .await?
        .unwrap_or_else(|| {
            Prefs::from([
                ("theme".to_owned(), "light".to_owned()),
                ("language".to_owned(), "en".to_owned()),
            ])
        }))
}

async fn set_user_preferences(
    state: &KvStore,
    user_id: &str,
    prefs: &Prefs,
) -> Result<(), KvError> {
    state.set_json(&format!("prefs:{user_id}"), prefs).await
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let system = System::temporary().await?;
    let state = system.kv("default")?;

    println!(
        "alice (defaults): {:?}",
        get_user_preferences(&state, "alice").await?
    );
    let mut prefs = get_user_preferences(&state, "alice").await?;
    prefs.insert("theme".into(), "dark".into());
    set_user_preferences(&state, "alice", &prefs).await?;
    println!(
        "alice (saved):    {:?}",
        get_user_preferences(&state, "alice").await?
    );
    println!(
        "stored as:        {}",
        state.get("prefs:alice").await?.unwrap_or_default()
    );
    system.shutdown().await;
    Ok(())
}
