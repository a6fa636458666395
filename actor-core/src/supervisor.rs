//! The actor's task: mailbox → action → encode → hand to the writer → hold the reply until
//! durable → release. Also hooks, panic recovery and the restart policy, destruction and sleep.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actor::{Actor, ReadOutcome};
use crate::ctx::{Ctx, SubmitError};
use crate::error::{AskError, EncodeError, StartError, StopReason, StorageError};
use crate::handle::{ByNameCall, CURRENT, EncodeResult, Envelope, Reply};
use crate::panic::{CatchUnwind, message};
use crate::slot::Slot;
use crate::snapshot;
use crate::system::LiveGuard;

/// A reply waiting for the snapshot it observed (`seq`) to become durable.
struct Held<A: Actor> {
    seq: u64,
    tx: oneshot::Sender<Reply<A>>,
    reply: Reply<A>,
}

/// How a new task begins.
pub(crate) enum Start {
    /// A new actor: run `on_create`, write the first record, and report to the creator.
    Created(oneshot::Sender<Result<(), StartError>>),
    /// An actor loaded from storage.
    Loaded,
}

/// Why `serve` returned.
enum Exit {
    Stop(Option<StopReason>),
    Sleep,
}

/// How a piece of user code (an action, a hook) ended.
enum Ran<T> {
    Done(T),
    Panicked(String),
    /// Cancelled: the shutdown deadline passed while it ran.
    Aborted,
}

/// Runs user code (pinned by the caller, so nothing is moved or allocated) with its panics
/// caught, and cancels it when the slot is aborted. The abort flag is checked only when the
/// code waits for something, where the waker is also left with the slot for `abort` to wake.
struct Guarded<'a, F> {
    future: Pin<&'a mut F>,
    slot: &'a Slot,
}

fn guarded<'a, F: Future>(future: Pin<&'a mut F>, slot: &'a Slot) -> Guarded<'a, F> {
    Guarded { future, slot }
}

impl<F: Future> Future for Guarded<'_, F> {
    type Output = Ran<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot;
        match Pin::new(&mut CatchUnwind(self.future.as_mut())).poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(Ran::Done(value)),
            Poll::Ready(Err(panic)) => Poll::Ready(Ran::Panicked(message(&*panic))),
            Poll::Pending if slot.aborted_or_register(cx.waker()) => Poll::Ready(Ran::Aborted),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What a turn does with an action's result before anything is written: nothing for a
/// typed call, the encoding for a call by name (a result that does not encode is rolled
/// back).
trait CheckResult<A: Actor> {
    /// True if the result may stand.
    fn check(self, result: Result<&A::Reply, &A::Error>) -> bool;
}

impl<A: Actor> CheckResult<A> for () {
    fn check(self, _: Result<&A::Reply, &A::Error>) -> bool {
        true
    }
}

impl<A: Actor> CheckResult<A> for EncodeResult<A> {
    fn check(self, result: Result<&A::Reply, &A::Error>) -> bool {
        self(result)
    }
}

/// The optional hooks, named for [`ActorTask::hook`].
#[derive(Clone, Copy, Debug)]
enum Hook {
    Wake,
    Sleep,
    Destroy,
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
    backoff: Option<Duration>,
    /// Actions run so far; the idle timer compares it between ticks.
    actions: u64,
    _live: LiveGuard,
    /// Dropped last, when everything above (held replies included) is gone.
    ended: Ended,
}

/// Marks the slot ended when the task is dropped, however it ends, unless it went to sleep.
struct Ended {
    slot: Arc<Slot>,
    asleep: bool,
}

impl Drop for Ended {
    fn drop(&mut self) {
        if !self.asleep {
            self.slot.mark_ended();
            if let Some(system) = self.slot.system.upgrade() {
                system.leave(&self.slot);
            }
        }
    }
}

impl<A: Actor> ActorTask<A> {
    pub(crate) fn new(
        state: A,
        ctx: Ctx<A>,
        mailbox: mpsc::Receiver<Envelope<A>>,
        live: LiveGuard,
    ) -> Self {
        let ended = Ended {
            slot: Arc::clone(&ctx.slot),
            asleep: false,
        };
        Self {
            state,
            ctx,
            mailbox,
            held: VecDeque::new(),
            panics: VecDeque::new(),
            backoff: None,
            actions: 0,
            _live: live,
            ended,
        }
    }

    /// The run loop.
    ///
    /// The cold paths (creation, reloads, sleep, destroy, backoff, shutdown) run in boxed
    /// futures, so the task an idle actor keeps in memory holds only the hot path.
    ///
    /// Ordering: actions run one at a time, in mailbox order. After each action the new state
    /// is encoded and, if its bytes changed, handed to the writer; the reply joins `held` and
    /// is released when a commit covering that state (or a later one) is durable. The loop
    /// does not wait for that commit: it goes on with the next action (output gate, not input
    /// gate), and each wake-up from the writer releases every reply it covers.
    ///
    /// Draining: a stop request (shutdown) closes the mailbox; actions already in it still
    /// run. A crash loop or a destroy closes it and fails what is queued. Either way the task
    /// ends only when every held reply has been released or failed. Sleep happens only with
    /// nothing held and nothing queued.
    pub(crate) fn run(self, start: Start) -> impl Future<Output = ()> + Send {
        let slot = Arc::clone(&self.ctx.slot);
        CURRENT.scope(slot, self.main(start))
    }

    async fn main(mut self, start: Start) {
        if let Err(reason) = Box::pin(self.begin(start)).await {
            Box::pin(self.finish(Some(reason))).await;
            return;
        }
        match self.serve().await {
            Exit::Stop(reason) => Box::pin(self.finish(reason)).await,
            Exit::Sleep => self.park(),
        }
    }

    /// Creation (`on_create` and the first durable record) and `on_wake`.
    ///
    /// Creation is all or nothing: if `on_create` panics, or the first record cannot be
    /// written, the creator gets the error and nothing is stored.
    async fn begin(&mut self, start: Start) -> Result<(), StopReason> {
        if let Start::Created(created) = start {
            let actor = self.ctx.slot.path.clone();
            let written = match self.create().await {
                Ran::Done(()) => match self.ctx.submit(&self.state) {
                    Ok(_) => self
                        .ctx
                        .slot
                        .wait_durable(Some(self.ctx.seq))
                        .await
                        .map_err(|source| StartError::Commit { actor, source }),
                    Err(SubmitError::Encode(source)) => Err(StartError::Encode { actor, source }),
                    Err(SubmitError::TooLarge { size, limit }) => {
                        Err(StartError::TooLarge { actor, size, limit })
                    }
                },
                Ran::Panicked(message) => Err(StartError::CreatePanicked { actor, message }),
                Ran::Aborted => Err(StartError::Shutdown),
            };
            let failed = written.is_err();
            let _ = created.send(written);
            if failed {
                return Err(StopReason::NotCreated);
            }
        }
        self.hook(Hook::Wake).await
    }

    /// `on_create`, its panic reported rather than recovered from.
    async fn create(&mut self) -> Ran<()> {
        let (state, ctx) = (&mut self.state, &mut self.ctx);
        let ran = guarded(std::pin::pin!(state.on_create(ctx)), &self.ended.slot).await;
        if let Ran::Panicked(message) = &ran {
            tracing::error!(actor = %self.ctx.slot.path, %message, "on_create panicked; the actor is not created");
        }
        ran
    }

    async fn serve(&mut self) -> Exit {
        let sleep_after = A::config().sleep_after;
        let idle = tokio::time::sleep(sleep_after.unwrap_or(Duration::MAX));
        tokio::pin!(idle);
        let mut actions_at_tick = self.actions;
        loop {
            let envelope = tokio::select! {
                biased;
                () = self.ctx.slot.notify.notified() => {
                    if let Some(reason) = self.settle().await {
                        return Exit::Stop(Some(reason));
                    }
                    continue;
                }
                envelope = self.mailbox.recv() => envelope,
                () = &mut idle, if sleep_after.is_some() => {
                    let period = sleep_after.unwrap_or(Duration::MAX);
                    // Idle for a whole period with nothing held: sleep. Otherwise look again
                    // one period later (so the timer is re-armed once per period, not per action).
                    if self.actions == actions_at_tick && self.held.is_empty() && Box::pin(self.try_sleep()).await {
                        return Exit::Sleep;
                    }
                    actions_at_tick = self.actions;
                    idle.as_mut().reset(Instant::now() + period);
                    continue;
                }
            };
            let Some(envelope) = envelope else {
                return Exit::Stop(None);
            };
            self.actions += 1;
            let stop = match envelope {
                Envelope::Action { action, reply } => {
                    let span = tracing::debug_span!("action", actor = %self.ctx.slot.path);
                    self.act(action, reply, ()).instrument(span).await
                }
                Envelope::ByName(call) => {
                    let ByNameCall {
                        action,
                        reply,
                        encode,
                    } = *call;
                    let span = tracing::debug_span!("action", actor = %self.ctx.slot.path);
                    // Boxed: the typed path's future (the task an idle actor keeps) stays
                    // free of the encoder.
                    Box::pin(self.act(action, Some(reply), encode))
                        .instrument(span)
                        .await
                }
                Envelope::Destroy(done) => Box::pin(self.destroy(done)).await,
            };
            if let Some(reason) = stop {
                return Exit::Stop(Some(reason));
            }
            if let Some(reason) = self.settle().await {
                return Exit::Stop(Some(reason));
            }
            if let Some(wait) = self.backoff.take() {
                Box::pin(self.pause(wait)).await;
            }
        }
    }

    /// Runs one action and queues its reply. Returns a reason if the actor must stop.
    ///
    /// A call by name brings `encode`, which encodes the result inside the turn: a result it
    /// cannot encode rolls the action back, like an error, so that the caller is never told
    /// "failed" about an applied action.
    async fn act<C: CheckResult<A>>(
        &mut self,
        action: A::Action,
        reply: Option<oneshot::Sender<Reply<A>>>,
        check: C,
    ) -> Option<StopReason> {
        let (state, ctx) = (&mut self.state, &mut self.ctx);
        let run = async move {
            match state.handle_read(action, ctx).await {
                ReadOutcome::Done(result) => (result, false),
                ReadOutcome::NeedsWrite(action) => (state.handle(action, ctx).await, true),
            }
        };
        let outcome = guarded(std::pin::pin!(run), &self.ended.slot).await;
        let (result, mutated) = match outcome {
            Ran::Done(done) => done,
            Ran::Panicked(message) => return Box::pin(self.on_panic(reply, message)).await,
            Ran::Aborted => return Some(self.aborted(reply)),
        };
        let encoded = check.check(result.as_ref());
        let reply_value = match result {
            Ok(value) if !mutated => Ok(value),
            Ok(value) if !encoded => {
                if let Some(reason) = self.undo().await {
                    self.hold(reply, Ok(value));
                    return Some(reason);
                }
                Ok(value)
            }
            Ok(value) => match self.ctx.submit(&self.state) {
                Ok(changed) => {
                    if changed {
                        self.state_changed().await;
                    }
                    Ok(value)
                }
                Err(SubmitError::Encode(EncodeError::Panicked { message })) => {
                    let message = format!("the state's Serialize panicked: {message}");
                    return Box::pin(self.on_panic(reply, message)).await;
                }
                Err(error) => {
                    let error = self.submit_error(error);
                    if let Some(reason) = Box::pin(self.reload()).await {
                        self.hold(reply, Err(error));
                        return Some(reason);
                    }
                    Err(error)
                }
            },
            Err(error) => {
                if mutated && let Some(reason) = self.undo().await {
                    self.hold(reply, Err(AskError::Action(error)));
                    return Some(reason);
                }
                Err(AskError::Action(error))
            }
        };
        self.hold(reply, reply_value);
        None
    }

    /// Rolls back what a failed action changed (nothing to do if its state encodes to the
    /// last snapshot's bytes). Returns a reason if the actor must stop.
    async fn undo(&mut self) -> Option<StopReason> {
        if self.ctx.unchanged(&self.state) {
            return None;
        }
        Box::pin(self.reload()).await
    }

    /// The running action was cancelled: fails its caller and stops the actor.
    fn aborted(&mut self, reply: Option<oneshot::Sender<Reply<A>>>) -> StopReason {
        let reason = self.ctx.slot.stop_reason();
        tracing::warn!(actor = %self.ctx.slot.path, %reason, "action cancelled");
        if let Some(reply) = reply {
            let _ = reply.send(Err(AskError::Stopped {
                actor: self.ctx.slot.path.clone(),
                reason: reason.clone(),
            }));
        }
        reason
    }

    fn submit_error(&self, error: SubmitError) -> AskError<A::Error> {
        let actor = self.ctx.slot.path.clone();
        match error {
            SubmitError::Encode(source) => AskError::Encode { actor, source },
            SubmitError::TooLarge { size, limit } => AskError::StateTooLarge { actor, size, limit },
        }
    }

    /// Runs a hook and writes what it changed, like an action. A panic in a hook is logged
    /// and the state goes back to the last snapshot. Returns a reason if the actor must stop
    /// (the hook was cancelled by the shutdown deadline).
    async fn hook(&mut self, hook: Hook) -> Result<(), StopReason> {
        let ran = {
            let (state, ctx) = (&mut self.state, &mut self.ctx);
            let run = async move {
                match hook {
                    Hook::Wake => state.on_wake(ctx).await,
                    Hook::Sleep => state.on_sleep(ctx).await,
                    Hook::Destroy => state.on_destroy(ctx).await,
                }
            };
            guarded(std::pin::pin!(run), &self.ended.slot).await
        };
        match ran {
            Ran::Done(()) => {}
            Ran::Panicked(message) => {
                tracing::error!(actor = %self.ctx.slot.path, ?hook, %message, "hook panicked");
                return self.restore().map_or(Ok(()), Err);
            }
            Ran::Aborted => return Err(self.ctx.slot.stop_reason()),
        }
        match self.ctx.submit(&self.state) {
            Ok(true) => self.state_changed().await,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(actor = %self.ctx.slot.path, ?hook, error = ?error, "state after hook not written");
                if let Some(reason) = self.restore() {
                    return Err(reason);
                }
            }
        }
        Ok(())
    }

    async fn state_changed(&mut self) {
        let (state, ctx) = (&self.state, &self.ctx);
        let run = std::pin::pin!(state.on_state_change(ctx));
        if let Ran::Panicked(message) = guarded(run, &self.ended.slot).await {
            tracing::error!(actor = %self.ctx.slot.path, %message, "on_state_change panicked");
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
    async fn on_panic(
        &mut self,
        reply: Option<oneshot::Sender<Reply<A>>>,
        message: String,
    ) -> Option<StopReason> {
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
        let reload = self.reload().await;
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

    /// Replaces the in-memory state with the last snapshot handed over, then runs `on_wake`
    /// (ephemeral fields start again from their defaults).
    async fn reload(&mut self) -> Option<StopReason> {
        if let Some(reason) = self.restore() {
            return Some(reason);
        }
        self.hook(Hook::Wake).await.err()
    }

    /// The state decoded from the last snapshot, without hooks.
    fn restore(&mut self) -> Option<StopReason> {
        match snapshot::decode_state::<A>(&self.ctx.last) {
            Ok((_, state)) => {
                self.state = state;
                None
            }
            Err(error) => Some(StopReason::Reload(Arc::new(error))),
        }
    }

    /// Releases every held reply whose snapshot is durable; after a failed commit, goes back
    /// to the last durable snapshot and fails the rest. Returns a reason to stop, if any.
    async fn settle(&mut self) -> Option<StopReason> {
        let status = self.ctx.slot.status();
        while self.held.front().is_some_and(|h| h.seq <= status.durable) {
            if let Some(held) = self.held.pop_front() {
                let _ = held.tx.send(held.reply);
            }
        }
        if let Some(error) = status.failure {
            let reason = Box::pin(self.roll_back(&error)).await;
            if reason.is_some() {
                return reason;
            }
        }
        if status.stop_requested {
            self.mailbox.close();
            if self.ctx.slot.is_aborted() {
                return Some(self.ctx.slot.stop_reason());
            }
        }
        None
    }

    async fn roll_back(&mut self, error: &Arc<StorageError>) -> Option<StopReason> {
        tracing::warn!(actor = %self.ctx.slot.path, %error, "commit failed; back to the last durable state");
        let (seq, record) = self.ctx.slot.roll_back();
        self.ctx.reset_to(seq, record);
        for held in self.held.drain(..) {
            let _ = held.tx.send(Err(AskError::Commit {
                actor: self.ctx.slot.path.clone(),
                source: Arc::clone(error),
            }));
        }
        self.reload().await
    }

    /// Waits until every snapshot handed over is durable (or failed and rolled back) and
    /// every held reply is released or failed.
    async fn flush(&mut self) -> Option<StopReason> {
        while !self.held.is_empty() || self.ctx.slot.durable_seq() < self.ctx.seq {
            self.ctx.slot.notify.notified().await;
            if let Some(reason) = self.settle().await {
                return Some(reason);
            }
        }
        None
    }

    /// Waits out a backoff while still releasing replies as commits land.
    async fn pause(&mut self, wait: Duration) {
        let until = tokio::time::sleep(wait);
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return,
                () = self.ctx.slot.notify.notified() => {
                    if self.settle().await.is_some() {
                        return;
                    }
                }
            }
        }
    }

    /// `on_destroy`, then the record's deletion once everything before it is durable.
    async fn destroy(
        &mut self,
        done: oneshot::Sender<Result<(), AskError<Infallible>>>,
    ) -> Option<StopReason> {
        let actor = self.ctx.slot.path.clone();
        if let Err(reason) = self.hook(Hook::Destroy).await {
            let _ = done.send(Err(AskError::Stopped {
                actor,
                reason: reason.clone(),
            }));
            return Some(reason);
        }
        if let Some(reason) = self.flush().await {
            let _ = done.send(Err(AskError::Stopped {
                actor,
                reason: reason.clone(),
            }));
            return Some(reason);
        }
        let (tx, rx) = oneshot::channel();
        let deleted = if self.ctx.delete(tx) {
            rx.await
                .unwrap_or_else(|_| Err(Arc::new(StorageError::backend("the writer has stopped"))))
        } else {
            Err(Arc::new(StorageError::backend("the writer has stopped")))
        };
        match deleted {
            Ok(()) => {
                tracing::debug!(%actor, "destroyed");
                let _ = done.send(Ok(()));
                Some(StopReason::Destroyed)
            }
            Err(source) => {
                let _ = done.send(Err(AskError::Commit { actor, source }));
                None
            }
        }
    }

    /// Goes to sleep if nothing arrives meanwhile: `on_sleep`, flush, then mark the slot
    /// asleep. Returns false if the actor must stay awake.
    async fn try_sleep(&mut self) -> bool {
        if self.hook(Hook::Sleep).await.is_err() || self.flush().await.is_some() {
            return false;
        }
        self.ctx.slot.set_asleep(true);
        // A sender checks `asleep` after it sends; checking the mailbox after setting it means
        // one of the two always sees the other.
        if !self.mailbox.is_empty() || self.ctx.slot.status().stop_requested {
            self.ctx.slot.set_asleep(false);
            let _ = self.hook(Hook::Wake).await;
            return false;
        }
        true
    }

    /// Hands the mailbox to the slot and lets the rest of the task go.
    fn park(mut self) {
        tracing::debug!(actor = %self.ctx.slot.path, "asleep");
        self.ended.asleep = true;
        let slot = Arc::clone(&self.ctx.slot);
        let system = slot.system.upgrade();
        let Self { mailbox, .. } = self;
        slot.park(Box::new(mailbox));
        if let Some(system) = system {
            system.leave(&slot);
        }
    }

    /// Stops taking actions and waits for every held reply to be released or failed.
    async fn finish(&mut self, reason: Option<StopReason>) {
        if let Some(reason) = reason {
            if !matches!(reason, StopReason::Destroyed) {
                tracing::warn!(actor = %self.ctx.slot.path, %reason, "actor stopped");
            }
            self.ctx.slot.request_stop(reason.clone());
            self.mailbox.close();
            while let Ok(envelope) = self.mailbox.try_recv() {
                let _ = envelope.fail(|| AskError::Stopped {
                    actor: self.ctx.slot.path.clone(),
                    reason: reason.clone(),
                });
            }
        }
        // The state could not be reloaded after a failed commit: `settle` already failed the
        // held replies, so there is nothing more to wait for.
        let _ = self.flush().await;
    }
}
