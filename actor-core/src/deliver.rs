//! [`Deliver`]: how the delivery services (schedules, the outbox) hand a stored action to an
//! actor of a type they do not know. The system makes one per actor type it has seen.

use std::sync::Arc;

use crate::key::ActorKey;
use crate::slot::BoxFuture;
use crate::turn::Ack;

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// The turn that ran the action (and removed it) is durable.
    Done,
    /// Not run or not durable (the actor is stopping, a commit failed): try again later.
    Retry,
    /// It can never run: the actor does not exist, or the action does not decode. The
    /// service removes it, with this reason in the log.
    Gone(String),
}

/// Delivers stored actions to actors of one type.
pub(crate) trait Deliver: Send + Sync + 'static {
    /// Runs `action` (as stored: CBOR) at the actor `key` as a turn that commits `ack`.
    fn deliver(&self, key: ActorKey, action: Arc<[u8]>, ack: Ack) -> BoxFuture<'static, Delivered>;
}

/// The deliverers of every actor type a system knows: how the delivery services find the one
/// for a stored action's actor type.
pub(crate) trait Deliverers: Send + Sync + 'static {
    /// The deliverer of the actor type named `kind`, if the system has seen that type.
    fn deliverer(&self, kind: &str) -> Option<Arc<dyn Deliver>>;
}
