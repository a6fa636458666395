//! [`Slot`]: one actor as its handles, its task and the registry share it: its turn log,
//! whether it runs, sleeps or stopped (and why), its mailbox while it sleeps, and its event
//! channel. [`Wake`] is what a slot needs from the system above it (to wake the actor, start
//! it again, let it go), behind a trait so that this module does not depend on the system.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;

use tokio::sync::{Notify, broadcast, mpsc};

use crate::actor::Actor;
use crate::error::StopReason;
use crate::key::{ActorKey, ActorPath};
use crate::mailbox::{Envelope, Refused};
use crate::turn::TurnLog;

pub(crate) use crate::mailbox::BoxFuture;

/// A new activation's mailbox and slot.
pub(crate) type Restarted<A> = Option<(mpsc::Sender<Envelope<A>>, Arc<Slot<A>>)>;

/// What a slot needs from the system that runs its actor.
pub(crate) trait Wake<A: Actor>: Send + Sync + 'static {
    /// Reads the sleeping actor's record and starts its task on the parked mailbox.
    fn wake<'a>(
        &'a self,
        slot: &'a Arc<Slot<A>>,
        tx: &'a mpsc::Sender<Envelope<A>>,
    ) -> BoxFuture<'a, Result<(), Refused>>;

    /// Starts the actor at `key` again (after a crash loop), as `System::get` would: its
    /// new mailbox and slot, or `None` if it cannot start.
    fn restart<'a>(&'a self, key: &'a ActorKey) -> BoxFuture<'a, Restarted<A>>;

    /// The actor left memory (asleep or ended): the registry may forget it.
    fn left(&self, slot: &Arc<Slot<A>>);
}

#[derive(Debug, Default)]
struct Life {
    /// Set when the actor must stop taking new actions; the first reason sticks (but an
    /// abort's replaces it: the callers it fails must learn why).
    stop: Option<StopReason>,
    /// When `stop` was set (a crash-looped actor restarts from an old handle only after its
    /// back-off).
    stopped_at: Option<tokio::time::Instant>,
    /// Set when the running action or hook must be cancelled (the shutdown deadline passed).
    aborted: bool,
    /// The task to wake when the action it is running gets cancelled (registered while the
    /// action waits for something).
    abort_waker: Option<Waker>,
}

/// See the module docs.
pub(crate) struct Slot<A: Actor> {
    /// The actor's name, id and turns, as the writer and calls out of actions see them.
    pub(crate) log: Arc<TurnLog>,
    // A std mutex: every critical section is a few field moves, never held across an await.
    life: Mutex<Life>,
    /// Set when the actor's task has ended: no turn of it is in flight any more, so a new
    /// activation may load the actor from storage.
    ended: AtomicBool,
    ended_notify: Notify,
    /// Set while the actor sleeps: its task is gone and its mailbox receiver is in `parked`.
    /// A sender that sees it wakes the actor.
    asleep: AtomicBool,
    parked: Mutex<Option<mpsc::Receiver<Envelope<A>>>>,
    /// Woken when a receiver is parked, for a waker that arrived a moment early.
    parked_notify: Notify,
    /// The actor's event channel, made by the first subscriber (an actor nobody listens to
    /// keeps no buffer).
    events: Mutex<Option<broadcast::Sender<Arc<A::Event>>>>,
    /// The system, to wake the actor from a handle and to leave the registry. Weak: the
    /// system owns its actors, not the other way round.
    pub(crate) host: Weak<dyn Wake<A>>,
    /// Open connections (WebSockets) that keep the actor awake: it does not sleep while
    /// one is open.
    #[cfg(feature = "http")]
    awake: std::sync::atomic::AtomicUsize,
}

/// Keeps an actor awake while it lives (see [`Slot::keep_awake`]).
#[cfg(feature = "http")]
pub(crate) struct KeepAwake<A: Actor>(Arc<Slot<A>>);

#[cfg(feature = "http")]
impl<A: Actor> Drop for KeepAwake<A> {
    fn drop(&mut self) {
        self.0.awake.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<A: Actor> Slot<A> {
    pub(crate) fn new(log: Arc<TurnLog>, host: Weak<dyn Wake<A>>) -> Self {
        Self {
            log,
            life: Mutex::new(Life::default()),
            ended: AtomicBool::new(false),
            ended_notify: Notify::new(),
            asleep: AtomicBool::new(false),
            parked: Mutex::new(None),
            parked_notify: Notify::new(),
            events: Mutex::new(None),
            host,
            #[cfg(feature = "http")]
            awake: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Keeps the actor awake until the guard is dropped.
    #[cfg(feature = "http")]
    pub(crate) fn keep_awake(self: &Arc<Self>) -> KeepAwake<A> {
        self.awake.fetch_add(1, Ordering::SeqCst);
        KeepAwake(Arc::clone(self))
    }

    /// Whether something keeps the actor awake (only open sockets do, with the `http` feature).
    #[cfg_attr(not(feature = "http"), allow(clippy::unused_self))]
    pub(crate) fn kept_awake(&self) -> bool {
        #[cfg(feature = "http")]
        return self.awake.load(Ordering::SeqCst) > 0;
        #[cfg(not(feature = "http"))]
        false
    }

    pub(crate) fn path(&self) -> &ActorPath {
        &self.log.path
    }

    fn life(&self) -> MutexGuard<'_, Life> {
        self.life.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_asleep(&self) -> bool {
        self.asleep.load(Ordering::SeqCst)
    }

    /// The actor is about to sleep: from now on, senders try to wake it.
    pub(crate) fn set_asleep(&self, asleep: bool) {
        self.asleep.store(asleep, Ordering::SeqCst);
        if !asleep {
            self.parked_notify.notify_waiters();
        }
    }

    /// The sleeping actor hands over its mailbox receiver. Its record is dropped from memory
    /// (a woken actor reads it from storage).
    pub(crate) fn park(&self, receiver: mpsc::Receiver<Envelope<A>>) {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = Some(receiver);
        self.log.set_durable_record(Arc::new(Vec::new()));
        self.parked_notify.notify_waiters();
    }

    /// Takes the parked receiver, if it is there yet.
    pub(crate) fn unpark(&self) -> Option<mpsc::Receiver<Envelope<A>>> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Waits for [`park`](Slot::park), or until the actor is awake again.
    pub(crate) async fn wait_parked(&self) {
        let parked = self.parked_notify.notified();
        tokio::pin!(parked);
        parked.as_mut().enable();
        let ready = self.is_asleep()
            && self
                .parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none();
        if ready {
            parked.await;
        }
    }

    /// Called when the actor's task is gone.
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.ended_notify.notify_waiters();
    }

    /// True once the actor's task has ended (stopped, not asleep).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Waits until the actor's task has ended.
    pub(crate) async fn wait_ended(&self) {
        loop {
            let ended = self.ended_notify.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.ended.load(Ordering::SeqCst) {
                return;
            }
            ended.await;
        }
    }

    /// Asks the actor to stop taking new actions. The first reason given sticks.
    pub(crate) fn request_stop(&self, reason: StopReason) {
        {
            let mut life = self.life();
            if life.stop.is_none() {
                life.stop = Some(reason);
                life.stopped_at = Some(tokio::time::Instant::now());
            }
        }
        self.log.notify.notify_one();
    }

    /// True once a stop was asked for.
    pub(crate) fn stop_requested(&self) -> bool {
        self.life().stop.is_some()
    }

    pub(crate) fn stop_reason(&self) -> StopReason {
        self.life().stop.clone().unwrap_or(StopReason::Shutdown)
    }

    /// The reason the actor stopped and when, if it did.
    pub(crate) fn stopped(&self) -> Option<(StopReason, tokio::time::Instant)> {
        let life = self.life();
        life.stop.clone().zip(life.stopped_at)
    }

    /// Cancels the action or hook the actor is running, and stops it with `reason`.
    pub(crate) fn abort(&self, reason: StopReason) {
        let waker = {
            let mut life = self.life();
            life.stop = Some(reason);
            life.stopped_at
                .get_or_insert_with(tokio::time::Instant::now);
            life.aborted = true;
            life.abort_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        self.log.notify.notify_one();
    }

    /// True once [`abort`](Slot::abort) was called; otherwise `waker` will be woken when it is.
    pub(crate) fn aborted_or_register(&self, waker: &Waker) -> bool {
        let mut life = self.life();
        if life.aborted {
            return true;
        }
        match &mut life.abort_waker {
            Some(current) if current.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        false
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.life().aborted
    }

    /// A new receiver of the actor's events, with room for `capacity` of them.
    pub(crate) fn subscribe(&self, capacity: usize) -> broadcast::Receiver<Arc<A::Event>> {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = &*events {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(capacity.max(1));
        *events = Some(sender);
        receiver
    }

    /// Publishes durable turns' events, in order, to every subscriber (none: nothing to do).
    /// A subscriber that falls `capacity` events behind lags; the actor never waits.
    pub(crate) fn publish(&self, events: Vec<Arc<A::Event>>) {
        let mut channel = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = &*channel {
            if sender.receiver_count() == 0 {
                // Every subscriber went away: free the buffer.
                *channel = None;
                return;
            }
            for event in events {
                let _ = sender.send(event);
            }
        }
    }
}
