//! The registry: which actors of a system are known (awake, asleep with a handle somewhere, or
//! stopped with handles that report why), and which Rust type owns each actor name.
//!
//! One cell per actor, so that concurrent first calls for one key start it once while calls
//! for other keys never wait on each other. The registry lives behind the system's mutex;
//! every method here runs with that lock held and does only map work.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::actor::Actor;
use crate::error::StartError;
use crate::handle::Handle;
use crate::key::{ActorKey, ActorPath};
use crate::slot::Slot;

type RegistryKey = (&'static str, ActorKey);

/// A registry cell: the actor's handle once it has started.
pub(crate) type ActorCell<A> = Arc<OnceCell<Handle<A>>>;

/// See the module docs.
#[derive(Default)]
pub(crate) struct Registry {
    cells: HashMap<RegistryKey, Arc<dyn Cell>>,
    /// The Rust type (its id and name) that first used each actor name in this system. Two
    /// types under one name would share stored records, so a second one is refused.
    types: HashMap<&'static str, (TypeId, &'static str)>,
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

impl Registry {
    /// How many actors the registry holds.
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// The cell for `path`, created empty if there is none. Fails if another Rust type
    /// already uses `A::NAME` in this system.
    pub(crate) fn cell<A: Actor>(&mut self, path: &ActorPath) -> Result<ActorCell<A>, StartError> {
        self.claim_name::<A>()?;
        let len = self.cells.len();
        if len >= 1024 && len.is_power_of_two() {
            // Sleeping actors whose last outside handle went away after they fell asleep.
            self.cells
                .retain(|_, cell| Arc::strong_count(cell) > 1 || !cell.is_idle_garbage());
        }
        let cell: Arc<dyn Cell> = Arc::clone(
            self.cells
                .entry((A::NAME, path.key.clone()))
                .or_insert_with(|| Arc::new(OnceCell::<Handle<A>>::new())),
        );
        let any: Arc<dyn Any + Send + Sync> = cell;
        // The name is claimed by `A`, so the cell under it holds `A`'s handle.
        any.downcast().map_err(|_| self.clash::<A>())
    }

    /// Records that `A` uses `A::NAME`, or refuses it if another type does.
    fn claim_name<A: Actor>(&mut self) -> Result<(), StartError> {
        match self.types.entry(A::NAME) {
            Entry::Occupied(entry) if entry.get().0 != TypeId::of::<A>() => Err(self.clash::<A>()),
            Entry::Occupied(_) => Ok(()),
            Entry::Vacant(entry) => {
                entry.insert((TypeId::of::<A>(), std::any::type_name::<A>()));
                Ok(())
            }
        }
    }

    fn clash<A: Actor>(&self) -> StartError {
        StartError::NameClash {
            name: A::NAME,
            registered: self.types.get(A::NAME).map_or("another type", |t| t.1),
            requested: std::any::type_name::<A>(),
        }
    }

    /// Removes `cell` if it is still the registry's cell for `path`.
    pub(crate) fn remove<A: Actor>(&mut self, path: &ActorPath, cell: &ActorCell<A>) {
        let key = (A::NAME, path.key.clone());
        if self.holds(&key, cell) {
            self.cells.remove(&key);
        }
    }

    /// Removes `cell` if it is still empty and nobody else is waiting on it (a caller that
    /// is would try to start the actor itself).
    pub(crate) fn remove_empty<A: Actor>(&mut self, path: &ActorPath, cell: &ActorCell<A>) {
        if cell.get().is_none() && Arc::strong_count(cell) == 2 {
            self.remove(path, cell);
        }
    }

    fn holds<A: Actor>(&self, key: &RegistryKey, cell: &ActorCell<A>) -> bool {
        self.cells.get(key).is_some_and(|current| {
            let current: Arc<dyn Any + Send + Sync> = Arc::clone(current) as Arc<dyn Cell>;
            current
                .downcast::<OnceCell<Handle<A>>>()
                .is_ok_and(|current| Arc::ptr_eq(&current, cell))
        })
    }

    /// An actor that fell asleep or stopped leaves when nothing outside the registry holds a
    /// handle to it.
    pub(crate) fn leave(&mut self, slot: &Arc<Slot>) {
        let key = (slot.path.kind, slot.path.key.clone());
        if self
            .cells
            .get(&key)
            .is_some_and(|cell| cell.can_retire(slot))
        {
            self.cells.remove(&key);
        }
        // A map that held a million actors keeps its buckets unless told otherwise.
        if self.cells.capacity() > 1024 && self.cells.len() * 4 < self.cells.capacity() {
            let target = self.cells.len() * 2;
            self.cells.shrink_to(target);
        }
    }

    /// The slot of every started actor.
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        self.cells.values().filter_map(|c| c.slot()).collect()
    }

    /// Forgets every actor (the system has shut down).
    pub(crate) fn clear(&mut self) {
        self.cells.clear();
    }
}
