//! [`Store`]: the storage a system runs on, its writer thread, and the ids of schedules and
//! messages: what actors, key-value stores and the delivery services share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use crate::error::{OpenError, StorageError};
use crate::storage::Storage;
use crate::writer::{Request, WriterHandle};

/// Ids drawn in one epoch: the epoch in the high 32 bits, a counter in the low ones.
const PER_EPOCH: u64 = 1 << 32;

/// See the module docs.
pub(crate) struct Store {
    // Behind a lock only so that shutdown can drop it and release the file.
    storage: RwLock<Option<Arc<dyn Storage>>>,
    writer: WriterHandle,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// The next id to hand out. Its high half is an epoch the storage handed out durably, so
    /// no id repeats one of an earlier run.
    next_id: AtomicU64,
    /// Serializes drawing a new epoch when one runs out (after 2^32 ids).
    epoch_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Draws an epoch and starts the writer thread on `storage`. Blocks (one commit).
    pub(crate) fn open(storage: Arc<dyn Storage>) -> Result<Self, OpenError> {
        let epoch = storage.next_epoch().map_err(OpenError::Epoch)?;
        let (writer, thread) = WriterHandle::start(Arc::clone(&storage))?;
        Ok(Self {
            storage: RwLock::new(Some(storage)),
            writer,
            writer_thread: Mutex::new(Some(thread)),
            next_id: AtomicU64::new(u64::from(epoch) * PER_EPOCH),
            epoch_lock: Mutex::new(()),
        })
    }

    /// The storage, until the system shuts down.
    pub(crate) fn storage(&self) -> Option<Arc<dyn Storage>> {
        self.storage
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    /// A new id for a schedule or a message, unique in the store and increasing.
    pub(crate) fn next_id(&self) -> Result<u64, StorageError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if !(id + 1).is_multiple_of(PER_EPOCH) {
            return Ok(id);
        }
        // This epoch is used up: draw the next one before handing out anything from it.
        let _guard = self
            .epoch_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let storage = self
            .storage()
            .ok_or_else(|| StorageError::backend("the system is shut down"))?;
        let epoch = storage.next_epoch()?;
        self.next_id
            .store(u64::from(epoch) * PER_EPOCH, Ordering::Relaxed);
        Ok(id)
    }

    /// Stops the writer once it has committed what is queued, and lets the storage go.
    pub(crate) async fn close(&self) {
        let _ = self.writer.send(Request::Stop);
        let thread = self
            .writer_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.storage
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
