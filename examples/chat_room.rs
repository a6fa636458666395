//! A chat room that emits an event for every message: subscribers hear each one after it is
//! durable, in order, and a subscriber that falls behind is told how much it missed instead of
//! slowing the room down.
//!
//! ```text
//! cargo run --example chat_room
//! ```

use std::time::Duration;

use actor_core::{Actor, Ctx, EventLag, System, actions};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt as _;

/// What the room emits.
#[derive(Serialize, Deserialize, Debug, Clone)]
enum RoomEvent {
    Joined { name: String },
    Said { name: String, text: String },
}

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = RoomEvent)]
struct Room {
    members: Vec<String>,
    history: Vec<(String, String)>,
}

#[actions]
impl Room {
    pub async fn join(&mut self, ctx: &mut Ctx<Self>, name: String) -> usize {
        self.members.push(name.clone());
        ctx.emit(RoomEvent::Joined { name });
        self.members.len()
    }

    /// Saves the message; the event goes out once the message is on disk.
    pub async fn say(&mut self, ctx: &mut Ctx<Self>, name: String, text: String) -> usize {
        self.history.push((name.clone(), text.clone()));
        ctx.emit(RoomEvent::Said { name, text });
        self.history.len()
    }
}

#[tokio::main]
async fn main() -> Result<(), actor_core::Error> {
    let system = System::temporary().await?;
    let room = system.get_or_create::<Room>("lobby").await?;

    // A listener that reads every event as it comes.
    let mut events = room.subscribe();
    let listener = tokio::spawn(async move {
        let (mut heard, mut in_order) = (0, true);
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    heard += 1;
                    if heard <= 4 {
                        println!("listener: {event:?}");
                    } else if let RoomEvent::Said { text, .. } = &*event {
                        // The 300 numbered messages, each after the one before.
                        in_order &= *text == format!("message {}", heard - 5);
                    }
                }
                Err(EventLag(missed)) => println!("listener: missed {missed}"),
            }
            if heard == 4 + 300 {
                break;
            }
        }
        (heard, in_order)
    });
    // A listener that never reads: it lags, and the room never waits for it.
    let mut sleepy = room.subscribe();

    room.join("ada".into()).await?;
    room.join("grace".into()).await?;
    room.say("ada".into(), "hello".into()).await?;
    room.say("grace".into(), "hi ada".into()).await?;
    for i in 0..300 {
        room.say("ada".into(), format!("message {i}")).await?;
    }
    let (heard, in_order) = tokio::time::timeout(Duration::from_secs(10), listener)
        .await
        .map_err(|_| actor_core::Error::Call("the listener timed out".into()))?
        .map_err(|e| actor_core::Error::Call(Box::new(e)))?;
    let order = if in_order { "in order" } else { "OUT OF ORDER" };
    println!("listener heard {heard} events, {order}");
    match sleepy.next().await {
        Some(Err(EventLag(missed))) => {
            println!("sleepy listener fell behind: missed {missed} events");
        }
        other => println!("sleepy listener: {other:?}"),
    }
    system.shutdown().await;
    Ok(())
}
