//! [`System`]: opens storage, starts the writer, finds or starts actors by type and key.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, OnceCell, mpsc, oneshot};
use uuid::Uuid;

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{OpenError, StartError, StopReason};
use crate::handle::Envelope;
use crate::handle::Handle;
use crate::key::{ActorKey, ActorPath};
use crate::kv::{BindingError, Bindings, Env, KvStore};
use crate::memory::Trimmer;
use crate::slot::Slot;
use crate::snapshot;
use crate::storage::{RedbOptions, RedbStorage, Storage};
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

type RegistryKey = (&'static str, ActorKey);

pub(crate) struct SystemInner {
    path: Option<PathBuf>,
    // Behind a lock only so that `shutdown` can drop it and release the file.
    storage: RwLock<Option<Arc<dyn Storage>>>,
    pub(crate) writer: WriterHandle,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// One cell per actor ever asked for: concurrent first calls for one key start it once,
    /// while calls for other keys do not wait on each other.
    registry: Mutex<HashMap<RegistryKey, Arc<dyn Cell>>>,
    live: Arc<Live>,
    closed: AtomicBool,
    /// Key-value binding names to store ids.
    bindings: Bindings,
    /// Gives sleeping actors' memory back to the operating system.
    trimmer: Arc<Trimmer>,
}

/// A registry cell with its actor type erased.
trait Cell: Any + Send + Sync {
    fn slot(&self) -> Option<Arc<Slot>>;
    /// True if this cell's actor is `slot` and it can leave the registry (see
    /// [`is_idle_garbage`](Cell::is_idle_garbage)).
    fn can_retire(&self, slot: &Arc<Slot>) -> bool;
    /// True if the actor has ended (its handles only report why), or is asleep and only the
    /// registry holds its handle (a handle elsewhere wakes it through the registry's cell).
    fn is_idle_garbage(&self) -> bool;
}

impl<A: Actor> Cell for OnceCell<Handle<A>> {
    fn slot(&self) -> Option<Arc<Slot>> {
        self.get().map(|h| Arc::clone(&h.slot))
    }

    fn can_retire(&self, slot: &Arc<Slot>) -> bool {
        self.get()
            .is_some_and(|h| Arc::ptr_eq(&h.slot, slot) && self.is_idle_garbage())
    }

    fn is_idle_garbage(&self) -> bool {
        self.get()
            .is_some_and(|h| h.slot.is_ended() || (h.slot.is_asleep() && h.tx.strong_count() == 1))
    }
}

/// True if the registry's entry for `key` is `cell`.
fn holds<A: Actor>(
    registry: &HashMap<RegistryKey, Arc<dyn Cell>>,
    key: &RegistryKey,
    cell: &Arc<OnceCell<Handle<A>>>,
) -> bool {
    registry.get(key).is_some_and(|current| {
        let current: Arc<dyn Any + Send + Sync> = Arc::clone(current) as Arc<dyn Cell>;
        current
            .downcast::<OnceCell<Handle<A>>>()
            .is_ok_and(|current| Arc::ptr_eq(&current, cell))
    })
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

enum Mode<I> {
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

    /// The key-value store with id `store` (created on its first write).
    pub fn kv(&self, store: &str) -> KvStore {
        KvStore::new(store, Arc::clone(&self.inner))
    }

    /// The key-value store bound to the binding `name` (e.g. `"STATE"`) in the config.
    pub fn binding(&self, name: &str) -> Result<KvStore, BindingError> {
        Ok(self.kv(self.inner.bindings.store(name)?))
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

    async fn start<A: Actor>(
        &self,
        key: ActorKey,
        mode: Mode<A::Input>,
    ) -> Result<Handle<A>, StartError> {
        let path = ActorPath { kind: A::NAME, key };
        let cell = loop {
            let cell = self.cell::<A>(&path)?;
            match cell.get() {
                // A stopped actor may still be finishing its last commit: a new activation
                // must load only after that, or it could miss an acknowledged state.
                Some(old) if old.is_stopped() => {
                    old.slot.wait_ended().await;
                    self.retire(&path, &cell);
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
                self.forget_empty(&path, &cell);
                return Err(error);
            }
        };
        if must_create && !started_here.load(Ordering::Relaxed) {
            return Err(StartError::AlreadyExists(path));
        }
        Ok(handle.clone())
    }

    /// The registry cell for `path`.
    fn cell<A: Actor>(&self, path: &ActorPath) -> Result<Arc<OnceCell<Handle<A>>>, StartError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(StartError::Shutdown);
        }
        let mut registry = self.inner.registry();
        let len = registry.len();
        if len >= 1024 && len.is_power_of_two() {
            // Sleeping actors whose last outside handle went away after they fell asleep.
            registry.retain(|_, cell| Arc::strong_count(cell) > 1 || !cell.is_idle_garbage());
        }
        let cell: Arc<dyn Cell> = Arc::clone(
            registry
                .entry((A::NAME, path.key.clone()))
                .or_insert_with(|| Arc::new(OnceCell::<Handle<A>>::new())),
        );
        drop(registry);
        let any: Arc<dyn Any + Send + Sync> = cell;
        any.downcast()
            .map_err(|_| StartError::NameClash(path.clone()))
    }

    /// Removes a stopped actor's cell from the registry, unless another caller already did.
    fn retire<A: Actor>(&self, path: &ActorPath, cell: &Arc<OnceCell<Handle<A>>>) {
        let mut registry = self.inner.registry();
        let key = (A::NAME, path.key.clone());
        if holds(&registry, &key, cell) {
            registry.remove(&key);
        }
    }

    /// Removes `cell` from the registry if it is still empty and nobody else is waiting on it
    /// (a caller that is would try to start the actor itself).
    fn forget_empty<A: Actor>(&self, path: &ActorPath, cell: &Arc<OnceCell<Handle<A>>>) {
        let mut registry = self.inner.registry();
        let key = (A::NAME, path.key.clone());
        if cell.get().is_none() && Arc::strong_count(cell) == 2 && registry.contains_key(&key) {
            let current: Arc<dyn Any + Send + Sync> = Arc::clone(&registry[&key]) as Arc<dyn Cell>;
            if current
                .downcast::<OnceCell<Handle<A>>>()
                .is_ok_and(|current| Arc::ptr_eq(&current, cell))
            {
                registry.remove(&key);
            }
        }
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
                (
                    Uuid::new_v4(),
                    A::create_state(input),
                    Arc::new(Vec::new()),
                    true,
                )
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
    /// parked mailbox. Returns false if it cannot run (the system is shut down, or its record
    /// no longer decodes, in which case it is stopped with the reason).
    pub(crate) async fn wake<A: Actor>(&self, handle: &Handle<A>) -> bool {
        let slot = &handle.slot;
        loop {
            if !slot.is_asleep() {
                return true;
            }
            let Some(parked) = slot.unpark() else {
                // The actor is still on its way to sleep: wait until its mailbox is parked.
                slot.wait_parked().await;
                continue;
            };
            let Ok(mailbox) = parked.downcast::<mpsc::Receiver<Envelope<A>>>() else {
                return false;
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
                    Err(e) => {
                        tracing::error!(actor = %slot.path, error = %e, "cannot wake");
                        Err(StopReason::Shutdown)
                    }
                },
            };
            return match loaded {
                Ok((state, record)) => {
                    slot.set_durable_record(Arc::clone(&record));
                    slot.set_asleep(false);
                    self.launch(state, slot, record, mailbox, Start::Loaded);
                    true
                }
                Err(reason) => {
                    tracing::warn!(actor = %slot.path, %reason, "actor cannot wake");
                    slot.request_stop(reason);
                    mailbox.close();
                    slot.set_asleep(false);
                    slot.mark_ended();
                    false
                }
            };
        }
    }

    /// Stops every actor and closes the storage.
    ///
    /// Actions already in mailboxes still run and their replies are released once durable;
    /// new calls fail with [`StopReason::Shutdown`]. Returns when every actor has stopped, the
    /// writer has committed what was pending, and the file is closed (so it can be opened
    /// again, by this process or another).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        loop {
            let idle = inner.live.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let slots: Vec<Arc<Slot>> =
                inner.registry().values().filter_map(|c| c.slot()).collect();
            for slot in slots {
                slot.request_stop(StopReason::Shutdown);
            }
            if inner.live.count.load(Ordering::SeqCst) == 0 {
                break;
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
        let mut registry = self.registry();
        let key = (slot.path.kind, slot.path.key.clone());
        if registry.get(&key).is_some_and(|cell| cell.can_retire(slot)) {
            registry.remove(&key);
        }
        self.trimmer.released();
        // A map that held a million actors keeps its buckets unless told otherwise.
        if registry.capacity() > 1024 && registry.len() * 4 < registry.capacity() {
            let target = registry.len() * 2;
            registry.shrink_to(target);
        }
    }

    fn registry(&self) -> MutexGuard<'_, HashMap<RegistryKey, Arc<dyn Cell>>> {
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
#[derive(Default)]
pub struct SystemBuilder {
    path: Option<PathBuf>,
    storage: Option<Arc<dyn Storage>>,
    redb: RedbOptions,
    bindings: Bindings,
    keep_freed_memory: bool,
}

impl fmt::Debug for SystemBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemBuilder")
            .field("path", &self.path)
            .field("custom_storage", &self.storage.is_some())
            .field("redb", &self.redb)
            .field("bindings", &self.bindings)
            .field("keep_freed_memory", &self.keep_freed_memory)
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

    /// Opens the storage and starts the writer thread.
    pub async fn open(self) -> Result<System, OpenError> {
        let storage: Arc<dyn Storage> = match (self.storage, &self.path) {
            (Some(storage), _) => storage,
            (None, Some(path)) => {
                let path = path.clone();
                let options = self.redb;
                let storage =
                    tokio::task::spawn_blocking(move || RedbStorage::open(path, &options))
                        .await??;
                Arc::new(storage)
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
                registry: Mutex::new(HashMap::new()),
                live: Arc::new(Live::default()),
                closed: AtomicBool::new(false),
                bindings: self.bindings,
                trimmer: Arc::new(Trimmer::new(!self.keep_freed_memory)),
            }),
        })
    }
}
