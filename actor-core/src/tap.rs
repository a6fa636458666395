//! The system-wide tap of committed events ([`System::events_tap`](crate::System::events_tap)):
//! every event any actor's durable turn emitted, as JSON, for a viewer such as the web
//! inspector.
//!
//! One bounded broadcast channel per system. An actor releases its turns' events once they
//! are durable (the same point where [`Handle::subscribe`](crate::Handle::subscribe)'s
//! subscribers get them); if the tap has no receiver, that is all it costs, an atomic load
//! of the receiver count. Only while someone listens is each event encoded to JSON, on the
//! actor's task, and sent. A receiver that falls [`TAP_CAPACITY`] events behind gets an
//! [`EventLag`] with the number it missed: sending never waits, so a slow viewer never
//! slows an actor. [`System::shutdown`](crate::System::shutdown) closes the tap once the
//! actors have stopped: every receiver ends after the events before it.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::EventLag;
use crate::key::ActorPath;

/// How many events the tap holds for its slowest receiver before that receiver lags.
pub const TAP_CAPACITY: usize = 1024;

/// One event of a durable turn, as the system-wide tap carries it.
#[derive(Debug)]
pub struct TappedEvent {
    /// The actor that emitted it.
    pub actor: ActorPath,
    /// The event as JSON, or why it did not encode (an event type whose `Serialize` fails
    /// for JSON, such as a map with keys that are not strings).
    pub event: Result<serde_json::Value, serde_json::Error>,
}

/// What the channel carries: an event, or `None`, the end (the system shut down).
type Item = Option<Arc<TappedEvent>>;

/// The sending side, one per system.
pub(crate) struct Tap {
    sender: broadcast::Sender<Item>,
    /// Set by [`close`](Self::close): nothing more is published, new receivers end at once.
    closed: AtomicBool,
    /// The receivers alive. Counted here rather than asked of the channel (whose count sits
    /// behind its lock), so that a release with nobody listening is one atomic load.
    listeners: Arc<AtomicUsize>,
}

impl Tap {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::Sender::new(TAP_CAPACITY),
            closed: AtomicBool::new(false),
            listeners: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A new receiver of every event published from now on.
    pub(crate) fn subscribe(&self) -> EventsTap {
        // Counted before subscribing: an event published in between is encoded for nobody
        // at worst, never missed by a receiver that counted itself.
        self.listeners.fetch_add(1, Ordering::SeqCst);
        let stream = BroadcastStream::new(self.sender.subscribe());
        EventsTap {
            stream,
            ended: self.closed.load(Ordering::SeqCst),
            listeners: Arc::clone(&self.listeners),
        }
    }

    /// Ends every receiver, after the events already sent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            let _ = self.sender.send(None);
        }
    }

    /// Publishes durable events of the actor at `actor`, in order: encodes them only if a
    /// receiver listens.
    pub(crate) fn publish<E: Serialize>(&self, actor: &ActorPath, events: &[Arc<E>]) {
        if self.listeners.load(Ordering::SeqCst) == 0 || self.closed.load(Ordering::Relaxed) {
            return;
        }
        for event in events {
            let tapped = TappedEvent {
                actor: actor.clone(),
                event: serde_json::to_value(&**event),
            };
            // An error only means that every receiver went away meanwhile.
            let _ = self.sender.send(Some(Arc::new(tapped)));
        }
    }
}

/// A receiver of the system-wide tap ([`System::events_tap`](crate::System::events_tap)): a
/// [`Stream`] of every event the system's durable turns emit from now on, or of an
/// [`EventLag`] when this receiver fell more than [`TAP_CAPACITY`] events behind. It ends
/// when the system shuts down (or is dropped).
pub struct EventsTap {
    stream: BroadcastStream<Item>,
    /// The end came: the stream answers `None` from now on.
    ended: bool,
    /// The tap's count of receivers, which this one leaves when dropped.
    listeners: Arc<AtomicUsize>,
}

impl Drop for EventsTap {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for EventsTap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsTap").finish_non_exhaustive()
    }
}

impl Stream for EventsTap {
    type Item = Result<Arc<TappedEvent>, EventLag>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let item = match Pin::new(&mut self.stream).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        Poll::Ready(match item {
            Some(Ok(Some(event))) => Some(Ok(event)),
            Some(Err(BroadcastStreamRecvError::Lagged(n))) => Some(Err(EventLag(n))),
            Some(Ok(None)) | None => {
                self.ended = true;
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio_stream::StreamExt as _;

    use super::*;
    use crate::key::ActorKey;

    /// Counts how often it is encoded.
    struct Counted;

    static ENCODED: AtomicUsize = AtomicUsize::new(0);

    impl Serialize for Counted {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            ENCODED.fetch_add(1, Ordering::SeqCst);
            serializer.serialize_u8(7)
        }
    }

    #[tokio::test]
    async fn events_are_encoded_only_while_someone_listens() {
        let tap = Tap::new();
        let actor = ActorPath {
            kind: "Counter",
            key: ActorKey::from_encoded("k"),
        };
        tap.publish(&actor, &[Arc::new(Counted)]);
        assert_eq!(ENCODED.load(Ordering::SeqCst), 0, "nobody listens");
        let mut receiver = tap.subscribe();
        tap.publish(&actor, &[Arc::new(Counted)]);
        assert_eq!(ENCODED.load(Ordering::SeqCst), 1);
        let tapped = receiver.next().await.expect("open").expect("not behind");
        assert_eq!(tapped.event.as_ref().ok(), Some(&serde_json::json!(7)));
        drop(receiver);
        tap.publish(&actor, &[Arc::new(Counted)]);
        assert_eq!(ENCODED.load(Ordering::SeqCst), 1, "the receiver went away");
        let mut late = tap.subscribe();
        tap.close();
        assert!(late.next().await.is_none(), "ends at close");
        assert!(tap.subscribe().next().await.is_none(), "ended at once");
    }
}
