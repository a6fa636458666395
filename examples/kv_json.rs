//! Structured data as JSON strings (the seed's "Storing JSON Data" pattern).
//!
//! `cargo run --example kv_json`

use actor_core::System;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct User {
    name: String,
    role: String,
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let system = System::temporary().await?;
    let state = system.kv("default")?;

    let user = User {
        name: "Alice".into(),
        role: "admin".into(),
    };
    state.set_json("user:123", &user).await?;
    println!(
        "stored:  {}",
        state.get("user:123").await?.unwrap_or_default()
    );
    let back: Option<User> = state.get_json("user:123").await?;
    println!("read:    {back:?}");
    let missing: Option<User> = state.get_json("user:999").await?;
    println!("missing: {missing:?}");
    system.shutdown().await;
    Ok(())
}
