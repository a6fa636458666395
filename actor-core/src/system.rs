//! [`System`]: the public entry. Opens storage, starts the writer and the delivery services,
//! finds or starts actors by type and key, wakes sleeping ones, and shuts down within a
//! deadline.
//!
//! The modules below reach the system only through the traits they define: `Host` (what a
//! context needs), `Wake` (what a slot needs), `Deliverers` (what the delivery services need);
//! [`SystemInner`] implements them all, and `Ctx::system` is implemented here.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::deliver::{Deliver, Delivered, Deliverers};
use crate::error::{
    AskError, BackupError, BindingError, InspectError, KvError, OpenError, StartError, StopReason,
    StorageError,
};
use crate::handle::Handle;
use crate::host::Host;
use crate::inspect::{BackupReport, CommitLatency, Inspector, copy_snapshot};
use crate::key::{ActorKey, ActorPath};
use crate::kv::{Bindings, Env, KvStore};
use crate::limits::MAX_ACTOR_KEY_BYTES;
use crate::mailbox::{Envelope, Refused, StoredCall};
use crate::memory::Trimmer;
use crate::outbox::Outbox;
use crate::registry::{ActorCell, Registry};
use crate::schedule::{Clock, Timer};
use crate::slot::{BoxFuture, Restarted, Slot, Wake};
use crate::storage::{FileClaim, RedbOptions, RedbStorage, RestorePoints, Storage};
use crate::store::Store;
use crate::supervisor::{ActorTask, Live, Start};
use crate::tap::{EventsTap, Tap};
use crate::turn::{Ack, Posted, TurnLog, Turns};

/// A running set of durable actors over one storage (by default, one redb file).
///
/// Cloning is cheap; all clones share the actors. Open one system per file: a second open of
/// the same file, from this process or another, fails with
/// [`OpenError::AlreadyOpen`](crate::OpenError::AlreadyOpen).
///
/// ```
/// # async fn demo() -> Result<(), actor_core::Error> {
/// let system = actor_core::System::temporary().await?;
/// // system.get_or_create::<Counter>("room-42").await? ...
/// system.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct System {
    inner: Arc<SystemInner>,
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("path", &self.inner.path)
            .field("live_actors", &self.inner.live.count())
            .finish_non_exhaustive()
    }
}

/// What every clone of a [`System`] shares.
pub(crate) struct SystemInner {
    path: Option<PathBuf>,
    /// The storage, the writer thread, and the ids of schedules and messages.
    store: Arc<Store>,
    /// The actors known to the system, and which type owns each actor name. A std mutex:
    /// every critical section is map work, never held across an await.
    registry: Mutex<Registry>,
    live: Arc<Live>,
    closed: AtomicBool,
    /// Key-value binding names to store ids.
    bindings: Bindings,
    /// Gives sleeping actors' memory back to the operating system.
    trimmer: Arc<Trimmer>,
    /// How long `shutdown` waits for running actions before it cancels them.
    shutdown_timeout: Duration,
    /// The file this system opened, so that dropping the system without `shutdown` lets a
    /// new `open` in this process wait for the file's release instead of failing.
    claim: Option<Arc<FileClaim>>,
    /// The redb file, for a backup. Weak: `shutdown` lets the file go by dropping the store's
    /// strong reference, and a backup must not keep it open past that.
    file: Weak<RedbStorage>,
    /// One backup at a time: each measures the writer's commits over its own window.
    backup: tokio::sync::Mutex<()>,
    /// The time schedules are due against.
    clock: Arc<Clock>,
    /// Fires schedules.
    timer: Arc<Timer>,
    /// Delivers outbox messages.
    outbox: Arc<Outbox>,
    /// Every actor's durable events, for whoever listens ([`System::events_tap`]).
    tap: Tap,
    /// This system itself, for the trait methods that get only `&self`.
    myself: Weak<SystemInner>,
}

impl Drop for SystemInner {
    fn drop(&mut self) {
        self.timer.stop();
        self.outbox.stop();
        if let Some(claim) = &self.claim {
            claim.releasing();
        }
    }
}

/// How [`System::start`] finds or makes an actor.
pub(crate) enum Mode<I> {
    Get,
    Create(I),
    GetOrCreate(I),
}

impl System {
    /// Opens (or creates) the database file at `path` with default options.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::builder().path(path).open().await
    }

    /// Opens a system on a new file in the temp directory, deleted when the system closes.
    pub async fn temporary() -> Result<Self, OpenError> {
        Self::builder().temporary().open().await
    }

    /// A builder for options.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    /// The key-value store with id `store` (it exists once it has an entry). A store id is
    /// 1 to [`MAX_STORE_NAME_BYTES`](crate::MAX_STORE_NAME_BYTES) bytes.
    pub fn kv(&self, store: &str) -> Result<KvStore, KvError> {
        crate::kv::check_store_name(store)?;
        Ok(KvStore::new(store, Arc::clone(&self.inner.store)))
    }

    /// The key-value store bound to the binding `name` (e.g. `"STATE"`) in the config.
    pub fn binding(&self, name: &str) -> Result<KvStore, BindingError> {
        let store = self.inner.bindings.store(name)?;
        self.kv(store).map_err(|_| BindingError::BadStore {
            name: name.to_owned(),
            store: crate::limits::quote(store),
            len: store.len(),
        })
    }

    /// The bindings the system was opened with.
    pub fn bindings(&self) -> &Bindings {
        &self.inner.bindings
    }

    /// A typed environment (`#[derive(Env)]`), checked against the bindings: every field
    /// needs a declared binding, and every declared binding needs a field.
    pub fn env<E: Env>(&self) -> Result<E, BindingError> {
        let env = E::from_bindings(&mut |name| self.binding(name))?;
        if let Some(unknown) = self
            .inner
            .bindings
            .names()
            .find(|name| !E::BINDINGS.contains(name))
        {
            return Err(BindingError::Unknown {
                name: unknown.to_owned(),
            });
        }
        Ok(env)
    }

    /// How many actors are in memory (running) and how many the registry knows, and how
    /// many commits the writer has made, for monitoring. Sleeping actors whose handles were
    /// all dropped are in neither count. Two readings of
    /// [`commits`](SystemStats::commits) a second apart give the commit rate.
    pub fn stats(&self) -> SystemStats {
        SystemStats {
            awake: self.inner.live.count(),
            registered: self.inner.registry().len(),
            commits: self.inner.store.writer().times().total(),
        }
    }

    /// The queries of an [`Inspector`] (actor types and counts, pages of keys, one actor's
    /// record with its state as JSON, the key-value stores) on this system's own file, as
    /// it is now: each query is one read transaction on the newest commit, taken beside the
    /// writer without pausing it. Everything acknowledged before a query is in what it reads.
    ///
    /// Queries are blocking reads: from async code, run the longer ones (a count of every
    /// type reads every key) on a blocking thread. The inspector does not keep the file open:
    /// once the system has shut down, its queries fail with [`InspectError::Shutdown`].
    ///
    /// ```
    /// # use actor_core::{actions, Actor, System};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Actor, Serialize, Deserialize, Default)]
    /// # struct Counter { count: i64 }
    /// # #[actions]
    /// # impl Counter {
    /// #     pub async fn increment(&mut self, by: i64) -> i64 { self.count += by; self.count }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_core::Error> {
    /// let system = System::temporary().await?;
    /// system.get_or_create::<Counter>("room-42").await?.increment(3).await?;
    ///
    /// let inspector = system.inspect()?;
    /// assert_eq!(inspector.types()?[0].count, 1);
    /// let record = inspector.actor("Counter", "room-42")?.expect("stored");
    /// assert_eq!(record.state()?, serde_json::json!({"count": 3}));
    /// # system.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn inspect(&self) -> Result<Inspector, InspectError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(InspectError::Shutdown);
        }
        // A claim is taken for exactly the files the system opened itself.
        let (Some(path), Some(_)) = (self.inner.path.clone(), &self.inner.claim) else {
            return Err(InspectError::NotFileBacked);
        };
        Inspector::live(self.inner.file.clone(), path)
    }

    /// A tap of every actor's events, system-wide: a stream of each event a durable turn of
    /// any actor emits from now on, with the actor's path and the event as JSON.
    ///
    /// Events come out at the point where [`Handle::subscribe`](crate::Handle::subscribe)'s
    /// subscribers get them: once their turn has committed, in each actor's order, never from
    /// a turn that failed or rolled back. The tap costs nothing while nobody listens (events
    /// are encoded to JSON only while a receiver exists). It is bounded: a receiver that
    /// falls [`TAP_CAPACITY`](crate::TAP_CAPACITY) events behind gets an
    /// [`EventLag`](crate::EventLag) with the count it missed, and actors never wait for it.
    /// The stream ends when the system shuts down, after the events of its last turns; a tap
    /// taken after that ends at once.
    ///
    /// ```
    /// # use actor_core::{actions, Actor, Ctx, System};
    /// # use serde::{Deserialize, Serialize};
    /// # use tokio_stream::StreamExt as _;
    /// # #[derive(Actor, Serialize, Deserialize, Default)]
    /// # #[actor(event = i64)]
    /// # struct Counter { count: i64 }
    /// # #[actions]
    /// # impl Counter {
    /// #     pub async fn increment(&mut self, ctx: &mut Ctx<Self>, by: i64) -> i64 {
    /// #         self.count += by;
    /// #         ctx.emit(self.count);
    /// #         self.count
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_core::Error> {
    /// let system = System::temporary().await?;
    /// let mut tap = system.events_tap();
    /// system.get_or_create::<Counter>("room-42").await?.increment(3).await?;
    ///
    /// let tapped = tap.next().await.expect("open").expect("not behind");
    /// assert_eq!(tapped.actor.key.as_str(), "room-42");
    /// assert_eq!(tapped.event.as_ref().ok(), Some(&serde_json::json!(3)));
    /// # system.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn events_tap(&self) -> EventsTap {
        self.inner.tap.subscribe()
    }

    /// The database file, if the system runs on one.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Copies the whole store, as of now, into a new file at `path`, while the system goes on
    /// serving.
    ///
    /// The copy is one read transaction: every action acknowledged before the call is in it,
    /// and nothing committed after the snapshot is. It is written to a temporary file beside
    /// `path`, synced and renamed into place, so `path` holds either nothing or the whole
    /// backup; an existing file at `path` is refused ([`BackupError::Exists`]). The backup
    /// opens with [`System::open`] (or put it in place with
    /// [`inspect::restore`](crate::inspect::restore)).
    ///
    /// The writer keeps committing meanwhile; the report compares its commits during the copy
    /// with those of the quarter second before it (which this call waits out first), which is
    /// the pause the backup caused. One backup runs at a time; [`shutdown`](Self::shutdown)
    /// waits for a running one.
    pub async fn backup(&self, path: impl AsRef<Path>) -> Result<BackupReport, BackupError> {
        let _one = self.inner.backup.lock().await;
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(BackupError::Shutdown);
        }
        if self.inner.path.is_none() {
            return Err(BackupError::NotFileBacked);
        }
        let file = self.inner.file.upgrade().ok_or(BackupError::Shutdown)?;
        let times = self.inner.store.writer().times();
        times.take();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let before = times.take();
        let started = std::time::Instant::now();
        let out = path.as_ref().to_path_buf();
        let copied = tokio::task::spawn_blocking(move || {
            let snapshot = file.begin_read().map_err(BackupError::Read)?;
            copy_snapshot(&snapshot, &out).map(|copied| (copied, out))
        })
        .await??;
        let took = started.elapsed();
        let during = times.take();
        let mut report = BackupReport::new(&copied.1, copied.0, took);
        report.before = Some(CommitLatency::new(
            before.count,
            before.total,
            before.longest,
        ));
        report.during = Some(CommitLatency::new(
            during.count,
            during.total,
            during.longest,
        ));
        Ok(report)
    }

    /// Declares the actor type `A`, so that its schedules fire and messages to it are
    /// delivered even before anything uses it in this run (after a restart, say). Using a
    /// type (`get`, `get_or_create`, `create`) declares it too. Fails if another type already
    /// uses `A`'s name.
    pub fn register<A: Actor>(&self) -> Result<(), StartError> {
        let known = self
            .inner
            .registry()
            .claim_name::<A>(|| self.deliverer::<A>())?;
        if known {
            self.inner.known(A::NAME);
        }
        Ok(())
    }

    /// The actor `A` at `key`, created with [`Actor::create_state`] and `A::Input::default()`
    /// if it does not exist yet. Creation is durable before this returns.
    pub async fn get_or_create<A: Actor>(
        &self,
        key: impl Into<ActorKey>,
    ) -> Result<Handle<A>, StartError>
    where
        A::Input: Default,
    {
        self.start(key.into(), Mode::GetOrCreate(A::Input::default()))
            .await
    }

    /// The actor `A` at `key`, created from `input` if it does not exist yet (`input` is
    /// dropped otherwise).
    pub async fn get_or_create_with<A: Actor>(
        &self,
        key: impl Into<ActorKey>,
        input: A::Input,
    ) -> Result<Handle<A>, StartError> {
        self.start(key.into(), Mode::GetOrCreate(input)).await
    }

    /// The existing actor `A` at `key`, or [`StartError::NotFound`].
    pub async fn get<A: Actor>(&self, key: impl Into<ActorKey>) -> Result<Handle<A>, StartError> {
        self.start(key.into(), Mode::Get).await
    }

    /// Creates the actor `A` at `key` from `input`, or fails with
    /// [`StartError::AlreadyExists`].
    pub async fn create<A: Actor>(
        &self,
        key: impl Into<ActorKey>,
        input: A::Input,
    ) -> Result<Handle<A>, StartError> {
        self.start(key.into(), Mode::Create(input)).await
    }

    pub(crate) async fn start<A: Actor>(
        &self,
        key: ActorKey,
        mode: Mode<A::Input>,
    ) -> Result<Handle<A>, StartError> {
        if key.as_str().len() > MAX_ACTOR_KEY_BYTES {
            return Err(StartError::KeyTooLong {
                kind: A::NAME,
                len: key.as_str().len(),
                limit: MAX_ACTOR_KEY_BYTES,
                prefix: crate::limits::quote(key.as_str()),
            });
        }
        let path = ActorPath { kind: A::NAME, key };
        let cell = loop {
            let cell = self.cell::<A>(&path)?;
            match cell.get() {
                // A stopped actor may still be finishing its last commit: a new activation
                // must load only after that, or it could miss an acknowledged state.
                Some(old) if old.is_stopped() => {
                    old.slot.wait_ended().await;
                    self.inner.registry().remove(&path, &cell);
                }
                _ => break cell,
            }
        };
        let must_create = matches!(mode, Mode::Create(_));
        let started_here = AtomicBool::new(false);
        let started = cell
            .get_or_try_init(|| {
                started_here.store(true, Ordering::Relaxed);
                self.spawn::<A>(path.clone(), mode)
            })
            .await;
        let handle = match started {
            Ok(handle) => handle,
            Err(error) => {
                // Nothing started (not found, undecodable, ...): the empty cell must not
                // stay behind, or every failed call would leave one.
                self.inner.registry().remove_empty(&path, &cell);
                return Err(error);
            }
        };
        if must_create && !started_here.load(Ordering::Relaxed) {
            return Err(StartError::AlreadyExists(path));
        }
        Ok(handle.clone())
    }

    /// The registry cell for `path` (declaring `A` if it is new).
    fn cell<A: Actor>(&self, path: &ActorPath) -> Result<ActorCell<A>, StartError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(StartError::Shutdown);
        }
        let (cell, known) = self
            .inner
            .registry()
            .cell::<A>(path, || self.deliverer::<A>())?;
        if known {
            self.inner.known(A::NAME);
        }
        Ok(cell)
    }

    /// How the delivery services hand stored actions to actors of type `A`.
    fn deliverer<A: Actor>(&self) -> Arc<dyn Deliver> {
        Arc::new(Deliverer::<A> {
            system: Arc::downgrade(&self.inner),
            _actor: PhantomData,
        })
    }

    /// Loads or creates the actor's state and starts its task.
    async fn spawn<A: Actor>(
        &self,
        path: ActorPath,
        mode: Mode<A::Input>,
    ) -> Result<Handle<A>, StartError> {
        let storage = self.inner.store.storage().ok_or(StartError::Shutdown)?;
        let loaded = storage
            .load(path.kind, path.key.as_str())
            .map_err(|source| StartError::Load {
                actor: path.clone(),
                source,
            })?;
        let (id, state, record, created) = match (loaded, mode) {
            (Some(_), Mode::Create(_)) => return Err(StartError::AlreadyExists(path)),
            (Some(record), Mode::Get | Mode::GetOrCreate(_)) => {
                let (id, state) =
                    crate::actor::decode::<A>(&record).map_err(|source| StartError::Decode {
                        actor: path.clone(),
                        source,
                    })?;
                (id, state, Arc::new(record), false)
            }
            (None, Mode::Get) => return Err(StartError::NotFound(path)),
            (None, Mode::Create(input) | Mode::GetOrCreate(input)) => {
                // The first record is written by the actor's task, after `on_create`.
                let state = crate::panic::catch(|| A::create_state(input)).map_err(|message| {
                    StartError::CreatePanicked {
                        actor: path.clone(),
                        message,
                    }
                })?;
                (Uuid::new_v4(), state, Arc::new(Vec::new()), true)
            }
        };
        let log = Arc::new(TurnLog::new(path, id, Arc::clone(&record)));
        let host: Weak<dyn Wake<A>> = Arc::downgrade(&self.inner) as Weak<dyn Wake<A>>;
        let slot = Arc::new(Slot::new(log, host));
        let (tx, rx) = mpsc::channel(A::config().mailbox_capacity.max(1));
        if created {
            let (done, wait) = oneshot::channel();
            self.inner
                .launch(state, &slot, record, rx, Start::Created(done));
            wait.await.unwrap_or(Err(StartError::Shutdown))?;
        } else {
            crate::metrics::woke(A::NAME);
            self.inner.launch(state, &slot, record, rx, Start::Loaded);
        }
        Ok(Handle { tx, slot })
    }

    /// Stops every actor and closes the storage.
    ///
    /// Actions already in mailboxes still run and their replies are released once durable;
    /// new calls fail with [`StopReason::Shutdown`]. An action or hook still running when the
    /// shutdown deadline passes ([`SystemBuilder::shutdown_timeout`], 10 s by default) is
    /// cancelled: its caller, and the callers queued behind it, get
    /// [`StopReason::Aborted`], and nothing it changed is written. What was acknowledged
    /// before stays durable. Schedules and messages not yet delivered stay stored, for the
    /// next run. Returns when every actor has stopped (or, for a task that does not yield
    /// even to cancellation, one more second after the deadline), the writer has committed
    /// what was pending, and the file is closed (so it can be opened again, by this process
    /// or another).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        inner.timer.stop();
        inner.outbox.stop();
        let deadline = Instant::now() + inner.shutdown_timeout;
        let mut given_up: Option<Instant> = None;
        loop {
            let idle = inner.live.idle();
            tokio::pin!(idle);
            idle.as_mut().enable();
            inner.registry().stop_all(&StopReason::Shutdown, false);
            if inner.live.count() == 0 {
                break;
            }
            let now = Instant::now();
            match given_up {
                None if now >= deadline => {
                    let after = inner.shutdown_timeout;
                    tracing::warn!(
                        ?after,
                        awake = inner.live.count(),
                        "shutdown deadline passed; cancelling running actions"
                    );
                    inner
                        .registry()
                        .stop_all(&StopReason::Aborted { after }, true);
                    given_up = Some(now + Duration::from_secs(1));
                }
                Some(last) if now >= last => {
                    tracing::error!(
                        awake = inner.live.count(),
                        "actors did not stop even when cancelled (an action that never yields?); closing the storage without them"
                    );
                    break;
                }
                _ => {}
            }
            // Re-scan now and then: an actor that was starting during the scan is stopped by
            // its own check of `closed`, but only a later scan would see its registry cell.
            let _ = tokio::time::timeout(Duration::from_millis(50), idle).await;
        }
        inner.registry().clear();
        // The actors have released their last events: the tap's receivers end after them.
        inner.tap.close();
        // The timer's scans read the storage: none may hold it when the file is let go.
        inner.timer.stopped().await;
        // A backup running now holds the file: let it finish before the file is let go.
        let _backup = inner.backup.lock().await;
        inner.store.close().await;
    }
}

/// What `testing::advance` needs of the timer service: its progress, and a prompt to scan.
#[cfg(feature = "testing")]
impl System {
    pub(crate) fn timer_progress(&self) -> crate::schedule::Progress {
        self.inner.timer.progress()
    }

    pub(crate) fn poke_timer(&self) {
        self.inner.timer.poke();
    }
}

/// `Ctx::system` lives here, beside [`System`], so that the context need not depend on this
/// module.
impl<A: Actor> Ctx<A> {
    /// The system this actor runs in, to reach other actors and key-value stores; `None`
    /// once it is shut down.
    ///
    /// Calls from an action to another actor wait until this actor's turns handed over so
    /// far are durable. Changes made earlier in the *current* action are handed over only
    /// when it ends, or by [`save_state`](Ctx::save_state): call it first when the call out
    /// depends on them. (Or use [`send`](Ctx::send), which commits with the turn.)
    pub fn system(&self) -> Option<System> {
        let host = self.host.upgrade()?;
        host.as_any()
            .downcast::<SystemInner>()
            .ok()
            .map(|inner| System { inner })
    }
}

impl SystemInner {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new actor type is known: its schedules and messages may go now.
    fn known(&self, kind: &str) {
        self.outbox.known(kind);
        self.timer.poke();
    }

    /// Starts an actor's task on `slot`, with `state` decoded from `record`.
    fn launch<A: Actor>(
        self: &Arc<Self>,
        state: A,
        slot: &Arc<Slot<A>>,
        record: Arc<Vec<u8>>,
        mailbox: mpsc::Receiver<Envelope<A>>,
        start: Start,
    ) {
        let host: Weak<dyn Host> = Arc::downgrade(self) as Weak<dyn Host>;
        let turns = Turns::new(
            Arc::clone(&slot.log),
            self.store.writer().clone(),
            record,
            A::STATE_VERSION,
            A::config().max_state_bytes,
        );
        let ctx = Ctx::new(turns, host);
        let task = ActorTask::new(
            state,
            ctx,
            Arc::clone(slot),
            mailbox,
            self.live.guard(A::NAME),
        );
        tokio::spawn(task.run(start));
        // A shutdown that began while this actor was starting may not have seen it.
        if self.closed.load(Ordering::SeqCst) {
            slot.request_stop(StopReason::Shutdown);
        }
    }

    /// Wakes the sleeping actor of `slot`: reads its record and starts a task on its
    /// parked mailbox.
    ///
    /// If the read fails, the actor stays asleep (the next call tries again) and the callers
    /// queued in its mailbox get [`AskError::Unavailable`]; queued `tell`s stay queued for
    /// the next wake. If the actor cannot run at all (the system is shut down, its record is
    /// gone or no longer decodes), it is stopped with the reason.
    async fn wake_actor<A: Actor>(
        self: &Arc<Self>,
        slot: &Arc<Slot<A>>,
        tx: &mpsc::Sender<Envelope<A>>,
    ) -> Result<(), Refused> {
        loop {
            if !slot.is_asleep() {
                return Ok(());
            }
            let Some(mut mailbox) = slot.unpark() else {
                // The actor is still on its way to sleep: wait until its mailbox is parked.
                slot.wait_parked().await;
                continue;
            };
            let loaded = match self.store.storage() {
                Some(_) if self.closed.load(Ordering::SeqCst) => Err(StopReason::Shutdown),
                None => Err(StopReason::Shutdown),
                Some(storage) => match storage.load(slot.path().kind, slot.path().key.as_str()) {
                    Ok(Some(record)) => crate::actor::decode::<A>(&record)
                        .map(|(_, state)| (state, Arc::new(record)))
                        .map_err(|e| StopReason::Reload(Arc::new(e))),
                    Ok(None) => Err(StopReason::Destroyed),
                    Err(error) => {
                        tracing::warn!(actor = %slot.path(), %error, "cannot wake: the read failed; it stays asleep");
                        let error = Arc::new(error);
                        refuse_queued(slot, tx, &mut mailbox, &error);
                        slot.park(mailbox);
                        return Err(Refused::Unavailable(error));
                    }
                },
            };
            return match loaded {
                Ok((state, record)) => {
                    slot.log.set_durable_record(Arc::clone(&record));
                    slot.set_asleep(false);
                    crate::metrics::woke(A::NAME);
                    self.launch(state, slot, record, mailbox, Start::Loaded);
                    Ok(())
                }
                Err(reason) => {
                    tracing::warn!(actor = %slot.path(), %reason, "actor cannot wake");
                    slot.request_stop(reason);
                    mailbox.close();
                    slot.set_asleep(false);
                    slot.mark_ended();
                    Err(Refused::Stopped)
                }
            };
        }
    }
}

/// After a failed wake: fails every queued call with `Unavailable` and queues the `tell`s
/// again, in their order, for the next wake.
fn refuse_queued<A: Actor>(
    slot: &Slot<A>,
    tx: &mpsc::Sender<Envelope<A>>,
    mailbox: &mut mpsc::Receiver<Envelope<A>>,
    error: &Arc<StorageError>,
) {
    let mut tells = Vec::new();
    while let Ok(envelope) = mailbox.try_recv() {
        let unavailable = || AskError::Unavailable {
            actor: slot.path().clone(),
            source: Arc::clone(error),
        };
        if let Some(tell) = envelope.fail(unavailable) {
            tells.push(tell);
        }
    }
    for tell in tells {
        if tx.try_send(tell).is_err() {
            tracing::warn!(actor = %slot.path(), "a queued tell was dropped: the mailbox filled up while the actor could not wake");
        }
    }
}

impl Host for SystemInner {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn next_id(&self) -> Result<u64, StorageError> {
        self.store.next_id()
    }

    fn posted(&self, posts: Vec<Posted>) {
        for post in posts {
            match post {
                Posted::Message(message) => self.outbox.posted(message),
                Posted::Schedule { due_ms } => self.timer.armed(due_ms),
            }
        }
    }

    fn tap(&self) -> &Tap {
        &self.tap
    }
}

impl<A: Actor> Wake<A> for SystemInner {
    fn wake<'a>(
        &'a self,
        slot: &'a Arc<Slot<A>>,
        tx: &'a mpsc::Sender<Envelope<A>>,
    ) -> BoxFuture<'a, Result<(), Refused>> {
        Box::pin(async move {
            match self.me() {
                Some(me) => me.wake_actor(slot, tx).await,
                None => Err(Refused::Stopped),
            }
        })
    }

    fn restart<'a>(&'a self, key: &'a ActorKey) -> BoxFuture<'a, Restarted<A>> {
        Box::pin(async move {
            let system = System { inner: self.me()? };
            let handle = system.get::<A>(key.clone()).await.ok()?;
            Some((handle.tx, handle.slot))
        })
    }

    fn left(&self, slot: &Arc<Slot<A>>) {
        self.registry().leave(slot);
        self.trimmer.released();
    }
}

impl Deliverers for SystemInner {
    fn deliverer(&self, kind: &str) -> Option<Arc<dyn Deliver>> {
        self.registry().deliverer(kind)
    }
}

impl SystemInner {
    /// This system as an `Arc` (it is always behind one; `None` only while it is dropped).
    fn me(&self) -> Option<Arc<Self>> {
        self.myself.upgrade()
    }
}

/// Hands stored actions to actors of type `A`.
struct Deliverer<A> {
    system: Weak<SystemInner>,
    _actor: PhantomData<fn() -> A>,
}

impl<A: Actor> Deliver for Deliverer<A> {
    fn deliver(&self, key: ActorKey, action: Arc<[u8]>, ack: Ack) -> BoxFuture<'static, Delivered> {
        let system = self.system.clone();
        Box::pin(async move {
            let Some(inner) = system.upgrade() else {
                return Delivered::Retry;
            };
            let system = System { inner };
            let action = match A::decode_action(&action) {
                Ok(action) => action,
                Err(error) => {
                    return Delivered::Gone(format!("the action does not decode: {error}"));
                }
            };
            let handle = match system.get::<A>(key).await {
                Ok(handle) => handle,
                Err(StartError::NotFound(actor)) => {
                    return Delivered::Gone(format!("{actor} does not exist"));
                }
                Err(error) => {
                    tracing::debug!(%error, "a stored action waits: its actor cannot start now");
                    return Delivered::Retry;
                }
            };
            let (done, applied) = oneshot::channel();
            if handle
                .deliver_stored(StoredCall { action, ack, done })
                .await
                .is_err()
            {
                return Delivered::Retry;
            }
            match applied.await {
                Ok(true) => Delivered::Done,
                _ => Delivered::Retry,
            }
        })
    }
}

/// A snapshot of [`System::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SystemStats {
    /// Actors whose task is running (awake).
    pub awake: usize,
    /// Actors the registry holds: awake ones, and sleeping ones someone still has a handle to.
    pub registered: usize,
    /// Commits the writer has made since the system opened (each covers every write queued
    /// while the one before ran). Only ever grows.
    pub commits: u64,
}

/// A way to declare an actor type when the system opens ([`SystemBuilder::actor`]).
type Declare = Box<dyn FnOnce(&System) -> Result<(), StartError> + Send>;

/// Options for opening a [`System`].
pub struct SystemBuilder {
    path: Option<PathBuf>,
    storage: Option<Arc<dyn Storage>>,
    redb: RedbOptions,
    bindings: Bindings,
    keep_freed_memory: bool,
    shutdown_timeout: Duration,
    actors: Vec<Declare>,
}

impl Default for SystemBuilder {
    fn default() -> Self {
        Self {
            path: None,
            storage: None,
            redb: RedbOptions::default(),
            bindings: Bindings::default(),
            keep_freed_memory: false,
            shutdown_timeout: Duration::from_secs(10),
            actors: Vec::new(),
        }
    }
}

impl fmt::Debug for SystemBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemBuilder")
            .field("path", &self.path)
            .field("custom_storage", &self.storage.is_some())
            .field("redb", &self.redb)
            .field("bindings", &self.bindings)
            .field("keep_freed_memory", &self.keep_freed_memory)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("actors", &self.actors.len())
            .finish()
    }
}

impl SystemBuilder {
    /// The redb file to open or create.
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// A new file in the temp directory, deleted when the system closes.
    #[must_use]
    pub fn temporary(mut self) -> Self {
        let name = format!("actor-core-{}.redb", Uuid::new_v4());
        self.path = Some(std::env::temp_dir().join(name));
        self.redb.delete_on_drop = true;
        self
    }

    /// redb quick-repair (default on): reopening after a crash takes milliseconds rather than
    /// a walk over the whole file, at some cost per commit. See `docs/durability.md`.
    #[must_use]
    pub fn quick_repair(mut self, enabled: bool) -> Self {
        self.redb.quick_repair = enabled;
        self
    }

    /// Takes restore points on a schedule (off by default): see [`RestorePoints`] and
    /// [`restore_point`](crate::restore_point), and `docs/operating.md` for what they cost.
    #[must_use]
    pub fn restore_points(mut self, points: RestorePoints) -> Self {
        self.redb.restore_points = Some(points);
        self
    }

    /// Whether other processes may open the file read-only while this system runs (the
    /// `actors` tool, [`Inspector`](crate::inspect::Inspector)); default on. See
    /// [`RedbOptions::shared_reads`].
    #[must_use]
    pub fn shared_reads(mut self, enabled: bool) -> Self {
        self.redb.shared_reads = enabled;
        self
    }

    /// redb's page cache size in bytes (default 64 MiB).
    #[must_use]
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.redb.cache_size = bytes;
        self
    }

    /// Runs on a storage backend of your own (or a wrapper around [`RedbStorage`], e.g. one
    /// that injects faults in tests) instead of a file. Takes precedence over
    /// [`path`](SystemBuilder::path).
    #[must_use]
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Key-value bindings (binding name → store id), e.g. from `Bindings::load("actors.toml")`.
    #[must_use]
    pub fn bindings(mut self, bindings: Bindings) -> Self {
        self.bindings = bindings;
        self
    }

    /// Whether to give the memory of actors that fell asleep back to the operating system
    /// (default `true`). With glibc's allocator, after a burst of actors sleep the system
    /// calls `malloc_trim` (at most once a second, on a blocking thread); without it the
    /// process stays near its peak resident size. Does nothing on other platforms.
    #[must_use]
    pub fn trim_memory(mut self, enabled: bool) -> Self {
        self.keep_freed_memory = !enabled;
        self
    }

    /// How long [`System::shutdown`] lets running actions finish before it cancels them
    /// (default 10 s). Cancelled actions' callers get
    /// [`StopReason::Aborted`](crate::StopReason::Aborted); nothing they changed is written.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Declares the actor type `A` as the system opens, so that its schedules fire and the
    /// messages sent to it are delivered from the start, before anything uses it (see
    /// [`System::register`]). Declare every type that has schedules or receives messages.
    #[must_use]
    pub fn actor<A: Actor>(mut self) -> Self {
        self.actors.push(Box::new(System::register::<A>));
        self
    }

    /// Opens the storage and starts the writer thread and the delivery services.
    ///
    /// If this process dropped a `System` on the same file without calling
    /// [`System::shutdown`], the file stays open until that system's actors have finished
    /// (their handles dropped, their last commits done); `open` then waits for it, up to 5 s,
    /// rather than failing with [`OpenError::AlreadyOpen`] at once.
    pub async fn open(self) -> Result<System, OpenError> {
        let (storage, claim, file): (Arc<dyn Storage>, _, _) = match (self.storage, &self.path) {
            (Some(storage), _) => (storage, None, Weak::new()),
            (None, Some(path)) => {
                let path = path.clone();
                let options = self.redb;
                let storage =
                    tokio::task::spawn_blocking(move || RedbStorage::open(path, &options))
                        .await??;
                let claim = storage.claim();
                let storage = Arc::new(storage);
                let file = Arc::downgrade(&storage);
                (storage, Some(claim), file)
            }
            (None, None) => return Err(OpenError::NoStorage),
        };
        let store = {
            let storage = Arc::clone(&storage);
            Arc::new(tokio::task::spawn_blocking(move || Store::open(storage)).await??)
        };
        let clock = Arc::new(Clock::new());
        let mut failed = None;
        let inner = Arc::new_cyclic(|me: &Weak<SystemInner>| {
            let deliverers: Weak<dyn Deliverers> = me.clone() as Weak<dyn Deliverers>;
            let outbox = match Outbox::open(Arc::clone(&store), deliverers.clone()) {
                Ok(outbox) => outbox,
                Err(error) => {
                    failed = Some(error);
                    Outbox::empty(Arc::clone(&store), deliverers.clone())
                }
            };
            SystemInner {
                path: self.path,
                store: Arc::clone(&store),
                registry: Mutex::new(Registry::default()),
                live: Arc::new(Live::default()),
                closed: AtomicBool::new(false),
                bindings: self.bindings,
                trimmer: Arc::new(Trimmer::new(!self.keep_freed_memory)),
                shutdown_timeout: self.shutdown_timeout,
                claim,
                file,
                backup: tokio::sync::Mutex::new(()),
                timer: Timer::start(Arc::clone(&store), Arc::clone(&clock), deliverers),
                clock,
                outbox,
                tap: Tap::new(),
                myself: me.clone(),
            }
        });
        let system = System { inner };
        if let Some(error) = failed {
            system.shutdown().await;
            return Err(OpenError::Outbox(error));
        }
        for declare in self.actors {
            if let Err(error) = declare(&system) {
                system.shutdown().await;
                return Err(OpenError::Declare(error));
            }
        }
        system.inner.outbox.resume();
        Ok(system)
    }
}
