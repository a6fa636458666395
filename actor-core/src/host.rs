//! [`Host`]: what an actor's context and task need from the system that runs them, behind a
//! trait, so that the modules below the system do not depend on it. The system implements
//! it; `Ctx::system` turns it back into a [`System`](crate::System) in `system.rs`.

use std::any::Any;
use std::sync::Arc;

use crate::error::StorageError;
use crate::tap::Tap;
use crate::turn::Posted;

/// See the module docs.
pub(crate) trait Host: Send + Sync + 'static {
    /// The system itself, for `Ctx::system` to downcast.
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;

    /// The time schedules are due against, in milliseconds since the Unix epoch: the wall
    /// clock when the system opened plus the time elapsed on tokio's clock since (so a
    /// paused test clock drives schedules too).
    fn now_ms(&self) -> u64;

    /// A new id for a schedule or a message.
    fn next_id(&self) -> Result<u64, StorageError>;

    /// What a durable turn posted: messages to deliver, schedules to arm.
    fn posted(&self, posts: Vec<Posted>);

    /// The system-wide tap of durable events, published to beside each actor's own
    /// subscribers.
    fn tap(&self) -> &Tap;
}
