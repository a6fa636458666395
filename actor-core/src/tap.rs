//! The system-wide tap of committed events ([`System::events_tap`](crate::System::events_tap)):
//! every event any actor's durable turn emitted, as JSON, for a viewer such as the web
//! inspector.
//!
//! One bounded broadcast channel per system. An actor releases its turns' events once they
//! are durable (the same point where [`Handle::subscribe`](crate::Handle::subscribe)'s
//! subscribers get them); if the channel has no receiver, that is all it costs, a load of
//! the receiver count. Only while someone listens is each event encoded to JSON, on the
//! actor's task, and sent. A receiver that falls [`TAP_CAPACITY`] events behind gets an
//! [`EventLag`] with the number it missed: sending never waits, so a slow viewer never
//! slows an actor. [`System::shutdown`](crate::System::shutdown) closes the tap once the
//! actors have stopped: every receiver ends after the events before it.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::handle::EventLag;
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
}

impl Tap {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::Sender::new(TAP_CAPACITY),
            closed: AtomicBool::new(false),
        }
    }

    /// A new receiver of every event published from now on.
    pub(crate) fn subscribe(&self) -> EventsTap {
        let stream = BroadcastStream::new(self.sender.subscribe());
        EventsTap {
            stream,
            ended: self.closed.load(Ordering::SeqCst),
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
        if self.sender.receiver_count() == 0 || self.closed.load(Ordering::Relaxed) {
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
