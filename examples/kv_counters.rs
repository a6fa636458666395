//! Persistent counters that lose no increments under concurrency (the seed's "Persistent
//! Counters" pattern, made atomic), surviving a restart.
//!
//! `cargo run --example kv_counters`

use actor_core::System;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("kv-counters-{}.redb", std::process::id()));

    let system = System::open(&path).await?;
    let state = system.kv("default")?;
    // 8 tasks × 100 increments at once: `increment` is atomic, so none is lost.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                state.increment("counter:page-views", 1).await?;
            }
            Ok::<_, actor_core::KvError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!(
        "page views after 8 x 100 concurrent increments: {}",
        state.get("counter:page-views").await?.unwrap_or_default()
    );
    system.shutdown().await;

    // A new run of the program starts from the stored value.
    let system = System::open(&path).await?;
    let views = system
        .kv("default")?
        .increment("counter:page-views", 1)
        .await?;
    println!("after a restart and one more: {views}");
    system.shutdown().await;
    std::fs::remove_file(&path)?;
    Ok(())
}
