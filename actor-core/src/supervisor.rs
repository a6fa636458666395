//! The actor's task: mailbox → action → encode → hand to the writer → hold the reply until
//! durable → release. Also panic recovery and the restart policy.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actor::{Actor, ReadOutcome};
use crate::ctx::Ctx;
use crate::error::{AskError, StopReason, StorageError};
use crate::handle::{CURRENT, Envelope, Reply};
use crate::slot::Slot;
use crate::snapshot;
use crate::system::LiveGuard;

/// A reply waiting for the snapshot it observed (`seq`) to become durable.
struct Held<A: Actor> {
    seq: u64,
    tx: oneshot::Sender<Reply<A>>,
    reply: Reply<A>,
}

/// One actor's task. See [`ActorTask::run`].
pub(crate) struct ActorTask<A: Actor> {
    state: A,
    ctx: Ctx<A>,
    mailbox: mpsc::Receiver<Envelope<A>>,
    /// Replies in action order, waiting for durability. Sequence numbers never decrease
    /// along the queue, so releasing is popping from the front.
    held: VecDeque<Held<A>>,
    /// When recent panics happened, for the restart policy.
    panics: VecDeque<Instant>,
    /// A wait owed after a panic, before the next action.
    backoff: Option<std::time::Duration>,
    _live: LiveGuard,
    /// Dropped last, when everything above (held replies included) is gone.
    _ended: Ended,
}

/// Marks the slot ended when the task is dropped, however it ends.
struct Ended(Arc<Slot>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.mark_ended();
    }
}

impl<A: Actor> ActorTask<A> {
    pub(crate) fn new(
        state: A,
        ctx: Ctx<A>,
        mailbox: mpsc::Receiver<Envelope<A>>,
        live: LiveGuard,
    ) -> Self {
        let ended = Ended(Arc::clone(&ctx.slot));
        Self {
            state,
            ctx,
            mailbox,
            held: VecDeque::new(),
            panics: VecDeque::new(),
            backoff: None,
            _live: live,
            _ended: ended,
        }
    }

    /// The run loop.
    ///
    /// Ordering: actions run one at a time, in mailbox order. After each action the new state
    /// is encoded and, if its bytes changed, handed to the writer; the reply joins `held` and
    /// is released when a commit covering that state (or a later one) is durable. The loop
    /// does not wait for that commit: it goes on with the next action (output gate, not input
    /// gate), and each wake-up from the writer releases every reply it covers.
    ///
    /// Draining: a stop request (shutdown) closes the mailbox; actions already in it still
    /// run. A crash loop closes it and fails what is queued. Either way the task ends only
    /// when every held reply has been released or failed.
    pub(crate) async fn run(mut self) {
        let slot = Arc::clone(&self.ctx.slot);
        CURRENT
            .scope(slot, async move {
                let reason = self.serve().await;
                self.finish(reason).await;
            })
            .await;
    }

    async fn serve(&mut self) -> Option<StopReason> {
        loop {
            let envelope = tokio::select! {
                biased;
                () = self.ctx.slot.notify.notified() => {
                    if let Some(reason) = self.settle() {
                        return Some(reason);
                    }
                    continue;
                }
                envelope = self.mailbox.recv() => envelope,
            };
            let envelope = envelope?;
            let span = tracing::debug_span!("action", actor = %self.ctx.slot.path);
            if let Some(reason) = self.act(envelope).instrument(span).await {
                return Some(reason);
            }
            if let Some(reason) = self.settle() {
                return Some(reason);
            }
            if let Some(wait) = self.backoff.take() {
                self.pause(wait).await;
            }
        }
    }

    /// Runs one action and queues its reply. Returns a reason if the actor must stop.
    async fn act(&mut self, envelope: Envelope<A>) -> Option<StopReason> {
        let Envelope { action, reply } = envelope;
        let (state, ctx) = (&mut self.state, &mut self.ctx);
        let run = async move {
            match state.handle_read(action, ctx).await {
                ReadOutcome::Done(result) => (result, false),
                ReadOutcome::NeedsWrite(action) => (state.handle(action, ctx).await, true),
            }
        };
        let outcome = CatchUnwind(std::pin::pin!(run)).await;
        let reply_value = match outcome {
            Ok((Ok(value), mutated)) => match mutated.then(|| self.ctx.submit(&self.state)) {
                Some(Err(source)) => {
                    if let Some(reason) = self.reload() {
                        self.hold(reply, Err(self.encode_error(source)));
                        return Some(reason);
                    }
                    Err(self.encode_error(source))
                }
                _ => Ok(value),
            },
            Ok((Err(error), mutated)) => {
                if mutated
                    && !self.ctx.unchanged(&self.state)
                    && let Some(reason) = self.reload()
                {
                    self.hold(reply, Err(AskError::Action(error)));
                    return Some(reason);
                }
                Err(AskError::Action(error))
            }
            Err(panic) => return self.on_panic(reply, &*panic),
        };
        self.hold(reply, reply_value);
        None
    }

    fn encode_error(&self, source: crate::EncodeError) -> AskError<A::Error> {
        AskError::Encode {
            actor: self.ctx.slot.path.clone(),
            source,
        }
    }

    /// Queues a reply behind the current state's snapshot.
    fn hold(&mut self, tx: Option<oneshot::Sender<Reply<A>>>, reply: Reply<A>) {
        if let Some(tx) = tx {
            self.held.push_back(Held {
                seq: self.ctx.seq,
                tx,
                reply,
            });
        }
    }

    /// A panic: count it, reload the last snapshot, and owe a backoff, or stop.
    fn on_panic(
        &mut self,
        reply: Option<oneshot::Sender<Reply<A>>>,
        panic: &(dyn Any + Send),
    ) -> Option<StopReason> {
        let message = panic_message(panic);
        tracing::error!(actor = %self.ctx.slot.path, %message, "action panicked");
        let error = AskError::Panicked {
            actor: self.ctx.slot.path.clone(),
            message,
        };
        let policy = A::config().restart;
        let now = Instant::now();
        while self
            .panics
            .front()
            .is_some_and(|&t| now.duration_since(t) > policy.window)
        {
            self.panics.pop_front();
        }
        self.panics.push_back(now);
        let count = u32::try_from(self.panics.len()).unwrap_or(u32::MAX);
        // The half-mutated state is dropped; the last snapshot handed over (durable, or on
        // its way and held like any other) takes its place.
        let reload = self.reload();
        self.hold(reply, Err(error));
        if reload.is_some() {
            return reload;
        }
        if count > policy.max_restarts {
            return Some(StopReason::CrashLoop {
                restarts: count,
                window: policy.window,
            });
        }
        self.backoff = Some(policy.backoff_for(count));
        None
    }

    /// Replaces the in-memory state with the last snapshot handed over.
    fn reload(&mut self) -> Option<StopReason> {
        match snapshot::decode::<A>(&self.ctx.last, A::STATE_VERSION) {
            Ok((_, state)) => {
                self.state = state;
                None
            }
            Err(error) => Some(StopReason::Reload(Arc::new(error))),
        }
    }

    /// Releases every held reply whose snapshot is durable; after a failed commit, goes back
    /// to the last durable snapshot and fails the rest. Returns a reason to stop, if any.
    fn settle(&mut self) -> Option<StopReason> {
        let status = self.ctx.slot.status();
        while self.held.front().is_some_and(|h| h.seq <= status.durable) {
            if let Some(held) = self.held.pop_front() {
                let _ = held.tx.send(held.reply);
            }
        }
        if let Some(error) = status.failure {
            let reason = self.roll_back(&error);
            if reason.is_some() {
                return reason;
            }
        }
        if status.stop_requested {
            self.mailbox.close();
        }
        None
    }

    fn roll_back(&mut self, error: &Arc<StorageError>) -> Option<StopReason> {
        tracing::warn!(actor = %self.ctx.slot.path, %error, "commit failed; back to the last durable state");
        let (seq, record) = self.ctx.slot.roll_back();
        self.ctx.reset_to(seq, record);
        for held in self.held.drain(..) {
            let _ = held.tx.send(Err(AskError::Commit {
                actor: self.ctx.slot.path.clone(),
                source: Arc::clone(error),
            }));
        }
        self.reload()
    }

    /// Waits out a backoff while still releasing replies as commits land.
    async fn pause(&mut self, wait: std::time::Duration) {
        let until = tokio::time::sleep(wait);
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return,
                () = self.ctx.slot.notify.notified() => {
                    if self.settle().is_some() {
                        return;
                    }
                }
            }
        }
    }

    /// Stops taking actions and waits for every held reply to be released or failed.
    async fn finish(&mut self, reason: Option<StopReason>) {
        if let Some(reason) = reason {
            tracing::warn!(actor = %self.ctx.slot.path, %reason, "actor stopped");
            self.ctx.slot.request_stop(reason.clone());
            self.mailbox.close();
            while let Ok(envelope) = self.mailbox.try_recv() {
                if let Some(tx) = envelope.reply {
                    let _ = tx.send(Err(AskError::Stopped {
                        actor: self.ctx.slot.path.clone(),
                        reason: reason.clone(),
                    }));
                }
            }
        }
        while !self.held.is_empty() {
            self.ctx.slot.notify.notified().await;
            if self.settle().is_some() {
                // The state could not be reloaded after a failed commit; `settle` already
                // failed the held replies.
                break;
            }
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}

/// Polls a future, turning a panic inside it into an `Err` carrying the payload. It takes the
/// future pinned on the caller's stack, so catching costs no allocation.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
