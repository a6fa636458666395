//! The actor's task: mailbox → turn (action, hook, stored action) → hand to the writer →
//! hold the outcome until durable → release. Also panic recovery and the restart policy,
//! destruction, sleep, and cancellation at the shutdown deadline.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actor::{Actor, ReadOutcome, Reply};
use crate::ctx::Ctx;
use crate::error::{AskError, EncodeError, StartError, StopReason};
use crate::handle::CURRENT;
use crate::mailbox::{ByNameCall, EncodeResult, Envelope, StoredCall};
use crate::panic::{CatchUnwind, message};
use crate::slot::Slot;
use crate::turn::{Ack, Op, SubmitError, Waiter};

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

/// Counts running actor tasks so that shutdown can wait for them.
#[derive(Debug, Default)]
pub(crate) struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by each actor task; dropping it counts the task out (of the system's count and of
/// the `actor_awake` gauge of its type).
#[derive(Debug)]
pub(crate) struct LiveGuard(Arc<Live>, &'static str);

impl Live {
    /// Counts in a task of an actor of type `kind`.
    pub(crate) fn guard(self: &Arc<Self>, kind: &'static str) -> LiveGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        crate::metrics::awake(kind, true);
        LiveGuard(Arc::clone(self), kind)
    }

    /// How many actor tasks run.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once no task runs (check [`count`](Live::count) after enabling it).
    pub(crate) fn idle(&self) -> tokio::sync::futures::Notified<'_> {
        self.idle.notified()
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        crate::metrics::awake(self.1, false);
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
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
struct Guarded<'a, F, A: Actor> {
    future: Pin<&'a mut F>,
    slot: &'a Slot<A>,
}

fn guarded<'a, F: Future, A: Actor>(
    future: Pin<&'a mut F>,
    slot: &'a Slot<A>,
) -> Guarded<'a, F, A> {
    Guarded { future, slot }
}

impl<F: Future, A: Actor> Future for Guarded<'_, F, A> {
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
    /// The actor's context, which owns its turns (see `turn`).
    ctx: Ctx<A>,
    mailbox: mpsc::Receiver<Envelope<A>>,
    /// When recent panics happened, for the restart policy.
    panics: VecDeque<Instant>,
    /// A wait owed after a panic, before the next action.
    backoff: Option<Duration>,
    /// Actions run so far; the idle timer compares it between ticks.
    actions: u64,
    /// Whether a turn whose save is deferred (a WebSocket's) may have changed the state since
    /// it was last handed over: the next turn that is not deferred saves it first.
    #[cfg(feature = "http")]
    unsaved: bool,
    _live: LiveGuard,
    /// Dropped last, when everything above (held replies included) is gone.
    ended: Ended<A>,
}

/// Marks the slot ended when the task is dropped, however it ends, unless it went to sleep.
struct Ended<A: Actor> {
    slot: Arc<Slot<A>>,
    asleep: bool,
}

impl<A: Actor> Drop for Ended<A> {
    fn drop(&mut self) {
        if !self.asleep {
            self.slot.mark_ended();
            if let Some(host) = self.slot.host.upgrade() {
                host.left(&self.slot);
            }
        }
    }
}

impl<A: Actor> ActorTask<A> {
    pub(crate) fn new(
        state: A,
        ctx: Ctx<A>,
        slot: Arc<Slot<A>>,
        mailbox: mpsc::Receiver<Envelope<A>>,
        live: LiveGuard,
    ) -> Self {
        Self {
            state,
            ctx,
            mailbox,
            panics: VecDeque::new(),
            backoff: None,
            actions: 0,
            #[cfg(feature = "http")]
            unsaved: false,
            _live: live,
            ended: Ended {
                slot,
                asleep: false,
            },
        }
    }

    fn slot(&self) -> &Arc<Slot<A>> {
        &self.ended.slot
    }

    /// The run loop.
    ///
    /// The cold paths (creation, reloads, sleep, destroy, backoff, stored actions, calls by
    /// name, shutdown) run in boxed futures, so the task an idle actor keeps in memory holds
    /// only the hot path.
    ///
    /// Ordering: turns run one at a time, in mailbox order. After each turn the new state is
    /// encoded and, if its bytes changed or it staged writes, handed to the writer; its reply
    /// and events are held and released when a commit covering that turn (or a later one) is
    /// durable. The loop does not wait for that commit: it goes on with the next turn (output
    /// gate, not input gate), and each wake-up from the writer releases everything it covers.
    ///
    /// Draining: a stop request (shutdown) closes the mailbox; actions already in it still
    /// run. A crash loop, a destroy or an abort closes it and fails what is queued. Either
    /// way the task ends only when everything held has been released or failed. Sleep
    /// happens only with nothing held and nothing queued.
    pub(crate) fn run(self, start: Start) -> impl Future<Output = ()> + Send {
        let log = Arc::clone(&self.ctx.turns.log);
        CURRENT.scope(log, self.main(start))
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
            let actor = self.slot().path().clone();
            let written = match self.create().await {
                Ran::Done(()) => match self.ctx.turns.submit(&self.state) {
                    Ok(_) => self
                        .ctx
                        .turns
                        .log
                        .wait_durable(Some(self.ctx.turns.seq()))
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
            self.release();
        }
        self.hook(Hook::Wake).await
    }

    /// `on_create`, its panic reported rather than recovered from.
    async fn create(&mut self) -> Ran<()> {
        let (state, ctx) = (&mut self.state, &mut self.ctx);
        let ran = guarded(std::pin::pin!(state.on_create(ctx)), &self.ended.slot).await;
        if let Ran::Panicked(message) = &ran {
            tracing::error!(actor = %self.slot().path(), %message, "on_create panicked; the actor is not created");
            crate::metrics::panicked(A::NAME);
            self.ctx.turns.discard();
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
                () = self.ctx.turns.log.notify.notified() => {
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
                    if self.actions == actions_at_tick && !self.ctx.turns.holds_anything() && Box::pin(self.try_sleep()).await {
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
            #[cfg(feature = "http")]
            if self.unsaved
                && !envelope.is_deferred()
                && let Some(reason) = Box::pin(self.save_unsaved()).await
            {
                let _ = envelope.fail(|| AskError::Stopped {
                    actor: self.slot().path().clone(),
                    reason: reason.clone(),
                });
                return Exit::Stop(Some(reason));
            }
            let stop = match envelope {
                Envelope::Action { action, reply } => {
                    let span = tracing::debug_span!("action", actor = %self.slot().path());
                    self.act(action, reply, ()).instrument(span).await
                }
                Envelope::ByName(call) => {
                    let ByNameCall {
                        action,
                        reply,
                        encode,
                        caller,
                    } = *call;
                    // A child of the caller's span: an HTTP request's trace shows its action.
                    let span = tracing::debug_span!(parent: &caller, "action", actor = %self.slot().path());
                    // Boxed: the typed path's future (the task an idle actor keeps) stays
                    // free of the encoder.
                    Box::pin(self.act(action, Some(reply), encode))
                        .instrument(span)
                        .await
                }
                Envelope::Stored(call) => {
                    let span = tracing::debug_span!("stored", actor = %self.slot().path());
                    Box::pin(self.act_stored(*call)).instrument(span).await
                }
                Envelope::Destroy(done) => Box::pin(self.destroy(done)).await,
                #[cfg(feature = "http")]
                Envelope::Session(call) => {
                    let span = tracing::debug_span!(parent: &call.caller, "session", actor = %self.slot().path());
                    Box::pin(self.act_session(*call)).instrument(span).await
                }
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

    /// Runs one action as a turn and holds its reply. Returns a reason if the actor must
    /// stop.
    ///
    /// A call by name brings `check`, which encodes the result inside the turn: a result it
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
            Ran::Panicked(message) => return Box::pin(self.on_panic(reply, None, message)).await,
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
            Ok(value) => match self.end_turn().await {
                Ok(()) => Ok(value),
                Err(Failed::Panicked(message)) => {
                    return Box::pin(self.on_panic(reply, None, message)).await;
                }
                Err(Failed::Error(error, stop)) => {
                    self.hold(reply, Err(error.widen()));
                    if stop.is_some() {
                        return stop;
                    }
                    return None;
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

    /// A stored action (a fired schedule, a delivered message) as a turn that removes it in
    /// the same commit. If the action fails (an error, a panic, a state that cannot be
    /// written), its changes roll back but the removal still commits, alone: it ran once and
    /// its outcome is final, so it is not run again. `done` learns when that is durable.
    async fn act_stored(&mut self, call: StoredCall<A>) -> Option<StopReason> {
        let StoredCall { action, ack, done } = call;
        if let Ack::Schedule { id } = ack
            && self.ctx.cancelled.contains(&id)
        {
            // Cancelled by an earlier turn after this firing was on its way.
            let _ = done.send(true);
            return None;
        }
        let (state, ctx) = (&mut self.state, &mut self.ctx);
        let run = async move {
            match state.handle_read(action, ctx).await {
                ReadOutcome::Done(result) => result.is_ok(),
                ReadOutcome::NeedsWrite(action) => state.handle(action, ctx).await.is_ok(),
            }
        };
        let outcome = guarded(std::pin::pin!(run), &self.ended.slot).await;
        let stop = match outcome {
            Ran::Done(true) => {
                self.ctx.turns.stage(Op::Ack(ack), None);
                match self.end_turn().await {
                    Ok(()) => None,
                    Err(Failed::Panicked(message)) => {
                        return Box::pin(self.on_panic(None, Some((ack, done)), message)).await;
                    }
                    Err(Failed::Error(error, stop)) => {
                        tracing::warn!(actor = %self.slot().path(), %error, "a stored action's turn could not be written; it is removed");
                        stop.or(self.ack_alone(ack).await)
                    }
                }
            }
            Ran::Done(false) => {
                tracing::warn!(actor = %self.slot().path(), ?ack, "a stored action returned an error; it is removed");
                match self.undo().await {
                    Some(reason) => Some(reason),
                    None => self.ack_alone(ack).await,
                }
            }
            Ran::Panicked(message) => {
                return Box::pin(self.on_panic(None, Some((ack, done)), message)).await;
            }
            Ran::Aborted => {
                let _ = done.send(false);
                return Some(self.slot().stop_reason());
            }
        };
        self.ctx.turns.hold(None, Some(Waiter::Stored(done)));
        stop
    }

    /// Runs a session turn (an HTTP request's handler, a WebSocket's hook) and holds what
    /// its caller waits for. Returns a reason if the actor must stop.
    ///
    /// A turn saved at its end is an action's twin: an error (`false`) rolls it back, and
    /// otherwise its state and staged writes are handed over. A deferred turn hands nothing
    /// over: what it changed and staged waits for the next turn that saves (which the loop
    /// runs before any turn that is not deferred) or a `save_state`, and it is never rolled
    /// back except by a panic, which goes back to the last state handed over. Either way the
    /// caller is told once what the turn saw is durable.
    #[cfg(feature = "http")]
    async fn act_session(&mut self, call: crate::mailbox::SessionCall<A>) -> Option<StopReason> {
        use crate::mailbox::Save;
        let crate::mailbox::SessionCall {
            session,
            save,
            done,
            caller: _,
        } = call;
        let ran = {
            let (state, ctx) = (&mut self.state, &mut self.ctx);
            let run = session.run(state, ctx);
            guarded(std::pin::pin!(run), &self.ended.slot).await
        };
        let keep = match ran {
            Ran::Done(keep) => keep,
            Ran::Panicked(message) => {
                let error = AskError::Panicked {
                    actor: self.slot().path().clone(),
                    message: message.clone(),
                };
                let stop = Box::pin(self.on_panic(None, None, message)).await;
                let _ = done.send(Err(error));
                return stop;
            }
            Ran::Aborted => {
                let reason = self.slot().stop_reason();
                let _ = done.send(Err(AskError::Stopped {
                    actor: self.slot().path().clone(),
                    reason: reason.clone(),
                }));
                return Some(reason);
            }
        };
        if save == Save::Deferred {
            self.unsaved = true;
            self.ctx.turns.wait(Waiter::Session(done));
            return None;
        }
        if !keep {
            let stop = self.undo().await;
            self.ctx.turns.hold(None, Some(Waiter::Session(done)));
            return stop;
        }
        match self.end_turn().await {
            Ok(()) => {
                self.ctx.turns.hold(None, Some(Waiter::Session(done)));
                None
            }
            Err(Failed::Panicked(message)) => {
                let error = AskError::Panicked {
                    actor: self.slot().path().clone(),
                    message: message.clone(),
                };
                let stop = Box::pin(self.on_panic(None, None, message)).await;
                let _ = done.send(Err(error));
                stop
            }
            Err(Failed::Error(error, stop)) => {
                let _ = done.send(Err(error));
                stop
            }
        }
    }

    /// Hands over what deferred turns changed and staged, as a turn of its own. Returns a
    /// reason if the actor must stop.
    #[cfg(feature = "http")]
    async fn save_unsaved(&mut self) -> Option<StopReason> {
        self.unsaved = false;
        match self.end_turn().await {
            Ok(()) => {
                self.ctx.turns.hold(None, None);
                None
            }
            Err(Failed::Panicked(message)) => Box::pin(self.on_panic(None, None, message)).await,
            Err(Failed::Error(error, stop)) => {
                tracing::warn!(actor = %self.slot().path(), %error, "unsaved changes of WebSocket hooks could not be saved; back to the last saved state");
                stop
            }
        }
    }

    /// A turn that only removes a stored action whose own turn failed.
    async fn ack_alone(&mut self, ack: Ack) -> Option<StopReason> {
        self.ctx.turns.discard();
        self.ctx.turns.stage(Op::Ack(ack), None);
        match self.end_turn().await {
            Ok(()) => None,
            Err(Failed::Panicked(_)) => self.reload().await,
            Err(Failed::Error(_, stop)) => stop,
        }
    }

    /// Ends the running turn: hands its state and staged writes to the writer, and runs
    /// `on_state_change` if the state changed. On failure the turn is rolled back.
    async fn end_turn(&mut self) -> Result<(), Failed> {
        match self.ctx.turns.submit(&self.state) {
            Ok(changed) => {
                if changed {
                    self.state_changed().await;
                }
                Ok(())
            }
            Err(SubmitError::Encode(EncodeError::Panicked { message })) => Err(Failed::Panicked(
                format!("the state's Serialize panicked: {message}"),
            )),
            Err(error) => {
                let actor = self.slot().path().clone();
                let error = match error {
                    SubmitError::Encode(source) => AskError::Encode { actor, source },
                    SubmitError::TooLarge { size, limit } => {
                        AskError::StateTooLarge { actor, size, limit }
                    }
                };
                self.ctx.turns.discard();
                let stop = Box::pin(self.reload()).await;
                Err(Failed::Error(error, stop))
            }
        }
    }

    /// Rolls back what a failed action changed (the state, if its bytes differ from the
    /// last record, and whatever it staged). Returns a reason if the actor must stop.
    async fn undo(&mut self) -> Option<StopReason> {
        self.ctx.turns.discard();
        if self.ctx.turns.unchanged(&self.state) {
            return None;
        }
        Box::pin(self.reload()).await
    }

    /// The running action was cancelled: fails its caller and stops the actor.
    fn aborted(&mut self, reply: Option<oneshot::Sender<Reply<A>>>) -> StopReason {
        let reason = self.slot().stop_reason();
        tracing::warn!(actor = %self.slot().path(), %reason, "action cancelled");
        if let Some(reply) = reply {
            let _ = reply.send(Err(AskError::Stopped {
                actor: self.slot().path().clone(),
                reason: reason.clone(),
            }));
        }
        reason
    }

    /// Runs a hook as a turn and writes what it changed and staged, like an action. A panic
    /// in a hook is logged and the state goes back to the last record. Returns a reason if
    /// the actor must stop (the hook was cancelled by the shutdown deadline).
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
                tracing::error!(actor = %self.slot().path(), ?hook, %message, "hook panicked");
                crate::metrics::panicked(A::NAME);
                self.ctx.turns.discard();
                let restored = self.restore();
                if restored.is_none() {
                    crate::metrics::restarted(A::NAME);
                }
                return restored.map_or(Ok(()), Err);
            }
            Ran::Aborted => return Err(self.slot().stop_reason()),
        }
        match self.ctx.turns.submit(&self.state) {
            Ok(true) => self.state_changed().await,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(actor = %self.slot().path(), ?hook, error = ?error, "state after hook not written");
                self.ctx.turns.discard();
                if let Some(reason) = self.restore() {
                    return Err(reason);
                }
            }
        }
        self.ctx.turns.hold(None, None);
        Ok(())
    }

    async fn state_changed(&mut self) {
        let (state, ctx) = (&self.state, &self.ctx);
        let run = std::pin::pin!(state.on_state_change(ctx));
        if let Ran::Panicked(message) = guarded(run, &self.ended.slot).await {
            tracing::error!(actor = %self.slot().path(), %message, "on_state_change panicked");
            crate::metrics::panicked(A::NAME);
        }
    }

    /// Queues a reply behind the current state's commit.
    fn hold(&mut self, tx: Option<oneshot::Sender<Reply<A>>>, reply: Reply<A>) {
        self.ctx.turns.hold(tx.map(|tx| (tx, reply)), None);
    }

    /// A panic: count it, reload the last record, and owe a backoff, or stop. A panicking
    /// stored action is removed (in a turn of its own), not run again.
    async fn on_panic(
        &mut self,
        reply: Option<oneshot::Sender<Reply<A>>>,
        stored: Option<(Ack, oneshot::Sender<bool>)>,
        message: String,
    ) -> Option<StopReason> {
        tracing::error!(actor = %self.slot().path(), %message, "action panicked");
        crate::metrics::panicked(A::NAME);
        let error = AskError::Panicked {
            actor: self.slot().path().clone(),
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
        // The half-mutated state and whatever the turn staged are dropped; the last record
        // handed over (durable, or on its way and held like any other) takes its place.
        self.ctx.turns.discard();
        let mut reload = self.reload().await;
        if let Some((ack, done)) = stored {
            if reload.is_none() {
                reload = self.ack_alone(ack).await;
            }
            self.ctx.turns.hold(None, Some(Waiter::Stored(done)));
        }
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
        crate::metrics::restarted(A::NAME);
        self.backoff = Some(policy.backoff_for(count));
        None
    }

    /// Replaces the in-memory state with the last record handed over, then runs `on_wake`
    /// (ephemeral fields start again from their defaults).
    async fn reload(&mut self) -> Option<StopReason> {
        if let Some(reason) = self.restore() {
            return Some(reason);
        }
        self.hook(Hook::Wake).await.err()
    }

    /// The state decoded from the last record, without hooks.
    fn restore(&mut self) -> Option<StopReason> {
        #[cfg(feature = "http")]
        {
            self.unsaved = false;
        }
        match crate::actor::decode::<A>(self.ctx.turns.last()) {
            Ok((_, state)) => {
                self.state = state;
                None
            }
            Err(error) => Some(StopReason::Reload(Arc::new(error))),
        }
    }

    /// Releases everything whose turn is durable: replies, acknowledgements, events (to the
    /// subscribers) and posts (to the system's delivery services). Reports a failed commit.
    fn release(&mut self) -> Option<Arc<crate::StorageError>> {
        let released = self.ctx.turns.release();
        if !released.events.is_empty() {
            if let Some(host) = self.ctx.host.upgrade() {
                host.tap().publish(self.slot().path(), &released.events);
            }
            self.slot().publish(released.events);
        }
        if !released.posts.is_empty()
            && let Some(host) = self.ctx.host.upgrade()
        {
            host.posted(released.posts);
        }
        released.failure
    }

    /// Releases what is durable; after a failed commit, goes back to the last durable record
    /// and fails the rest. Returns a reason to stop, if any.
    async fn settle(&mut self) -> Option<StopReason> {
        if let Some(error) = self.release() {
            tracing::warn!(actor = %self.slot().path(), %error, "commit failed; back to the last durable state");
            let actor = self.slot().path().clone();
            self.ctx.turns.roll_back(&error, || {
                Err(AskError::Commit {
                    actor: actor.clone(),
                    source: Arc::clone(&error),
                })
            });
            if let Some(reason) = Box::pin(self.reload()).await {
                return Some(reason);
            }
        }
        if self.slot().stop_requested() {
            self.mailbox.close();
            if self.slot().is_aborted() {
                return Some(self.slot().stop_reason());
            }
        }
        None
    }

    /// Waits until every turn handed over is durable (or failed and rolled back) and
    /// everything held is released or failed.
    async fn flush(&mut self) -> Option<StopReason> {
        while self.ctx.turns.holds_anything() {
            self.ctx.turns.log.notify.notified().await;
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
                () = self.ctx.turns.log.notify.notified() => {
                    if self.settle().await.is_some() {
                        return;
                    }
                }
            }
        }
    }

    /// `on_destroy`, then a turn deleting the actor's record and schedules, once everything
    /// before it is durable.
    async fn destroy(
        &mut self,
        done: oneshot::Sender<Result<(), AskError<Infallible>>>,
    ) -> Option<StopReason> {
        let actor = self.slot().path().clone();
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
        let seq = self.ctx.turns.destroy();
        match self.ctx.turns.log.wait_durable(Some(seq)).await {
            Ok(()) => {
                tracing::debug!(%actor, "destroyed");
                let _ = done.send(Ok(()));
                Some(StopReason::Destroyed)
            }
            Err(source) => {
                let _ = done.send(Err(AskError::Commit { actor, source }));
                // The failed deletion is rolled back like any failed commit.
                self.settle().await
            }
        }
    }

    /// Goes to sleep if nothing arrives meanwhile: `on_sleep`, flush, then mark the slot
    /// asleep. Returns false if the actor must stay awake.
    async fn try_sleep(&mut self) -> bool {
        if self.slot().kept_awake() {
            return false;
        }
        if self.hook(Hook::Sleep).await.is_err() || self.flush().await.is_some() {
            return false;
        }
        self.slot().set_asleep(true);
        // A sender checks `asleep` after it sends; checking the mailbox after setting it means
        // one of the two always sees the other.
        if !self.mailbox.is_empty() || self.slot().stop_requested() {
            self.slot().set_asleep(false);
            let _ = self.hook(Hook::Wake).await;
            return false;
        }
        true
    }

    /// Hands the mailbox to the slot and lets the rest of the task go.
    fn park(mut self) {
        tracing::debug!(actor = %self.slot().path(), "asleep");
        crate::metrics::slept(A::NAME);
        self.ended.asleep = true;
        let slot = Arc::clone(self.slot());
        let Self { mailbox, .. } = self;
        slot.park(mailbox);
        if let Some(host) = slot.host.upgrade() {
            host.left(&slot);
        }
    }

    /// Stops taking actions and waits for everything held to be released or failed.
    async fn finish(&mut self, reason: Option<StopReason>) {
        if let Some(reason) = reason {
            if !matches!(reason, StopReason::Destroyed) {
                tracing::warn!(actor = %self.slot().path(), %reason, "actor stopped");
            }
            self.slot().request_stop(reason.clone());
            self.mailbox.close();
            while let Ok(envelope) = self.mailbox.try_recv() {
                let _ = envelope.fail(|| AskError::Stopped {
                    actor: self.slot().path().clone(),
                    reason: reason.clone(),
                });
            }
        }
        // What deferred turns changed is saved on a stop, as on a close.
        #[cfg(feature = "http")]
        if self.unsaved && !self.slot().is_aborted() {
            let _ = Box::pin(self.save_unsaved()).await;
        }
        // The state could not be reloaded after a failed commit: `settle` already failed
        // what was held, so there is nothing more to wait for.
        let _ = self.flush().await;
    }
}

/// Why a turn could not be ended.
enum Failed {
    /// The state's `Serialize` panicked (handled like a panicking action).
    Panicked(String),
    /// The state could not be written; the turn was rolled back (and the actor must stop if
    /// the reason is given).
    Error(AskError<Infallible>, Option<StopReason>),
}
