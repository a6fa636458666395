//! [`System`]: opens storage, starts the writer, finds or starts actors by type and key.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{AskError, OpenError, StartError, StopReason, StorageError};
use crate::error::{BindingError, KvError};
use crate::handle::{Envelope, Handle, Refused};
use crate::key::{ActorKey, ActorPath};
use crate::kv::{Bindings, Env, KvStore};
use crate::limits::MAX_ACTOR_KEY_BYTES;
use crate::memory::Trimmer;
use crate::registry::{ActorCell, Registry};
use crate::slot::Slot;
use crate::snapshot;
use crate::storage::{FileClaim, RedbOptions, RedbStorage, Storage};
use crate::supervisor::{ActorTask, Start};
use crate::writer::{Request, WriterHandle};

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
            .field(
                "live_actors",
                &self.inner.live.count.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

pub(crate) struct SystemInner {
    path: Option<PathBuf>,
    // Behind a lock only so that `shutdown` can drop it and release the file.
    storage: RwLock<Option<Arc<dyn Storage>>>,
    pub(crate) writer: WriterHandle,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
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
}

impl Drop for SystemInner {
    fn drop(&mut self) {
        if let Some(claim) = &self.claim {
            claim.releasing();
        }
    }
}

/// Counts running actor tasks so that shutdown can wait for them.
#[derive(Debug, Default)]
pub(crate) struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by each actor task; dropping it counts the task out.
#[derive(Debug)]
pub(crate) struct LiveGuard(Arc<Live>);

impl Live {
    fn guard(self: &Arc<Self>) -> LiveGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        LiveGuard(Arc::clone(self))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

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

    pub(crate) fn from_inner(inner: Arc<SystemInner>) -> Self {
        Self { inner }
    }

    /// The key-value store with id `store` (it exists once it has an entry). A store id is
    /// 1 to [`MAX_STORE_NAME_BYTES`](crate::MAX_STORE_NAME_BYTES) bytes.
    pub fn kv(&self, store: &str) -> Result<KvStore, KvError> {
        crate::kv::check_store_name(store)?;
        Ok(KvStore::new(store, Arc::clone(&self.inner)))
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

    /// How many actors are in memory (running) and how many the registry knows, for
    /// monitoring. Sleeping actors whose handles were all dropped are in neither.
    pub fn stats(&self) -> SystemStats {
        SystemStats {
            awake: self.inner.live.count.load(Ordering::Relaxed),
            registered: self.inner.registry().len(),
        }
    }

    /// The database file, if the system runs on one.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
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

    /// The registry cell for `path`.
    fn cell<A: Actor>(&self, path: &ActorPath) -> Result<ActorCell<A>, StartError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(StartError::Shutdown);
        }
        self.inner.registry().cell::<A>(path)
    }

    /// Loads or creates the actor's state and starts its task.
    async fn spawn<A: Actor>(
        &self,
        path: ActorPath,
        mode: Mode<A::Input>,
    ) -> Result<Handle<A>, StartError> {
        let storage = self.inner.storage().ok_or(StartError::Shutdown)?;
        let loaded = storage
            .load(path.kind, path.key.as_str())
            .map_err(|source| StartError::Load {
                actor: path.clone(),
                source,
            })?;
        let (id, state, record, created) = match (loaded, mode) {
            (Some(_), Mode::Create(_)) => return Err(StartError::AlreadyExists(path)),
            (Some(record), Mode::Get | Mode::GetOrCreate(_)) => {
                let (header, state) =
                    snapshot::decode_state::<A>(&record).map_err(|source| StartError::Decode {
                        actor: path.clone(),
                        source,
                    })?;
                (header.id, state, Arc::new(record), false)
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
        let slot = Arc::new(Slot::new(
            path,
            id,
            Arc::clone(&record),
            Arc::downgrade(&self.inner),
        ));
        let (tx, rx) = mpsc::channel(A::config().mailbox_capacity.max(1));
        if created {
            let (done, wait) = oneshot::channel();
            self.launch(state, &slot, record, rx, Start::Created(done));
            wait.await.unwrap_or(Err(StartError::Shutdown))?;
        } else {
            self.launch(state, &slot, record, rx, Start::Loaded);
        }
        Ok(Handle { tx, slot })
    }

    /// Starts an actor's task on `slot`, with `state` decoded from `record`.
    fn launch<A: Actor>(
        &self,
        state: A,
        slot: &Arc<Slot>,
        record: Arc<Vec<u8>>,
        mailbox: mpsc::Receiver<Envelope<A>>,
        start: Start,
    ) {
        let ctx = Ctx::new(
            Arc::clone(slot),
            Arc::downgrade(&self.inner),
            self.inner.writer.clone(),
            record,
        );
        let task = ActorTask::new(state, ctx, mailbox, self.inner.live.guard());
        tokio::spawn(task.run(start));
        // A shutdown that began while this actor was starting may not have seen it.
        if self.inner.closed.load(Ordering::SeqCst) {
            slot.request_stop(StopReason::Shutdown);
        }
    }

    /// Wakes the sleeping actor behind `handle`: reads its record and starts a task on its
    /// parked mailbox.
    ///
    /// If the read fails, the actor stays asleep (the next call tries again) and the callers
    /// queued in its mailbox get [`AskError::Unavailable`]; queued `tell`s stay queued for
    /// the next wake. If the actor cannot run at all (the system is shut down, its record is
    /// gone or no longer decodes), it is stopped with the reason.
    pub(crate) async fn wake<A: Actor>(&self, handle: &Handle<A>) -> Result<(), Refused> {
        let slot = &handle.slot;
        loop {
            if !slot.is_asleep() {
                return Ok(());
            }
            let Some(parked) = slot.unpark() else {
                // The actor is still on its way to sleep: wait until its mailbox is parked.
                slot.wait_parked().await;
                continue;
            };
            let Ok(mailbox) = parked.downcast::<mpsc::Receiver<Envelope<A>>>() else {
                return Err(Refused::Stopped);
            };
            let mut mailbox = *mailbox;
            let loaded = match self.inner.storage() {
                Some(_) if self.inner.closed.load(Ordering::SeqCst) => Err(StopReason::Shutdown),
                None => Err(StopReason::Shutdown),
                Some(storage) => match storage.load(slot.path.kind, slot.path.key.as_str()) {
                    Ok(Some(record)) => snapshot::decode_state::<A>(&record)
                        .map(|(_, state)| (state, Arc::new(record)))
                        .map_err(|e| StopReason::Reload(Arc::new(e))),
                    Ok(None) => Err(StopReason::Destroyed),
                    Err(error) => {
                        tracing::warn!(actor = %slot.path, %error, "cannot wake: the read failed; it stays asleep");
                        let error = Arc::new(error);
                        Self::refuse_queued(handle, &mut mailbox, &error);
                        slot.park(Box::new(mailbox));
                        return Err(Refused::Unavailable(error));
                    }
                },
            };
            return match loaded {
                Ok((state, record)) => {
                    slot.set_durable_record(Arc::clone(&record));
                    slot.set_asleep(false);
                    self.launch(state, slot, record, mailbox, Start::Loaded);
                    Ok(())
                }
                Err(reason) => {
                    tracing::warn!(actor = %slot.path, %reason, "actor cannot wake");
                    slot.request_stop(reason);
                    mailbox.close();
                    slot.set_asleep(false);
                    slot.mark_ended();
                    Err(Refused::Stopped)
                }
            };
        }
    }

    /// After a failed wake: fails every queued call with `Unavailable` and queues the
    /// `tell`s again, in their order, for the next wake.
    fn refuse_queued<A: Actor>(
        handle: &Handle<A>,
        mailbox: &mut mpsc::Receiver<Envelope<A>>,
        error: &Arc<StorageError>,
    ) {
        let mut tells = Vec::new();
        while let Ok(envelope) = mailbox.try_recv() {
            let unavailable = || AskError::Unavailable {
                actor: handle.slot.path.clone(),
                source: Arc::clone(error),
            };
            if let Some(tell) = envelope.fail(unavailable) {
                tells.push(tell);
            }
        }
        for tell in tells {
            if handle.tx.try_send(tell).is_err() {
                tracing::warn!(actor = %handle.slot.path, "a queued tell was dropped: the mailbox filled up while the actor could not wake");
            }
        }
    }

    /// Stops every actor and closes the storage.
    ///
    /// Actions already in mailboxes still run and their replies are released once durable;
    /// new calls fail with [`StopReason::Shutdown`]. An action or hook still running when the
    /// shutdown deadline passes ([`SystemBuilder::shutdown_timeout`], 10 s by default) is
    /// cancelled: its caller, and the callers queued behind it, get
    /// [`StopReason::Aborted`], and nothing it changed is written. What was acknowledged
    /// before stays durable. Returns when every actor has stopped (or, for a task that does
    /// not yield even to cancellation, one more second after the deadline), the writer has
    /// committed what was pending, and the file is closed (so it can be opened again, by this
    /// process or another).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + inner.shutdown_timeout;
        let mut given_up: Option<Instant> = None;
        loop {
            let idle = inner.live.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let slots = inner.registry().slots();
            for slot in &slots {
                slot.request_stop(StopReason::Shutdown);
            }
            if inner.live.count.load(Ordering::SeqCst) == 0 {
                break;
            }
            let now = Instant::now();
            match given_up {
                None if now >= deadline => {
                    let after = inner.shutdown_timeout;
                    tracing::warn!(
                        ?after,
                        awake = inner.live.count.load(Ordering::SeqCst),
                        "shutdown deadline passed; cancelling running actions"
                    );
                    for slot in &slots {
                        slot.abort(StopReason::Aborted { after });
                    }
                    given_up = Some(now + Duration::from_secs(1));
                }
                Some(last) if now >= last => {
                    tracing::error!(
                        awake = inner.live.count.load(Ordering::SeqCst),
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
        let _ = inner.writer.send(Request::Stop);
        let thread = inner
            .writer_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        inner
            .storage
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl SystemInner {
    /// An actor that fell asleep or stopped leaves the registry when nothing outside it holds
    /// a handle: then nothing of it stays in memory. Otherwise a sleeping actor's parked
    /// mailbox waits for the next call (and a stopped one's handles report why it stopped).
    pub(crate) fn leave(&self, slot: &Arc<Slot>) {
        self.registry().leave(slot);
        self.trimmer.released();
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn storage(&self) -> Option<Arc<dyn Storage>> {
        self.storage
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
}

/// Options for opening a [`System`].
pub struct SystemBuilder {
    path: Option<PathBuf>,
    storage: Option<Arc<dyn Storage>>,
    redb: RedbOptions,
    bindings: Bindings,
    keep_freed_memory: bool,
    shutdown_timeout: Duration,
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

    /// Opens the storage and starts the writer thread.
    ///
    /// If this process dropped a `System` on the same file without calling
    /// [`System::shutdown`], the file stays open until that system's actors have finished
    /// (their handles dropped, their last commits done); `open` then waits for it, up to 5 s,
    /// rather than failing with [`OpenError::AlreadyOpen`] at once.
    pub async fn open(self) -> Result<System, OpenError> {
        let (storage, claim): (Arc<dyn Storage>, _) = match (self.storage, &self.path) {
            (Some(storage), _) => (storage, None),
            (None, Some(path)) => {
                let path = path.clone();
                let options = self.redb;
                let storage =
                    tokio::task::spawn_blocking(move || RedbStorage::open(path, &options))
                        .await??;
                let claim = storage.claim();
                (Arc::new(storage), Some(claim))
            }
            (None, None) => return Err(OpenError::NoStorage),
        };
        let (writer, thread) = WriterHandle::start(Arc::clone(&storage))?;
        Ok(System {
            inner: Arc::new(SystemInner {
                path: self.path,
                storage: RwLock::new(Some(storage)),
                writer,
                writer_thread: Mutex::new(Some(thread)),
                registry: Mutex::new(Registry::default()),
                live: Arc::new(Live::default()),
                closed: AtomicBool::new(false),
                bindings: self.bindings,
                trimmer: Arc::new(Trimmer::new(!self.keep_freed_memory)),
                shutdown_timeout: self.shutdown_timeout,
                claim,
            }),
        })
    }
}
