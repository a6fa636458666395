//! The registry: which actors of a system are known (awake, asleep with a handle somewhere, or
//! stopped with handles that report why), and which Rust type owns each actor name, with the
//! deliverer of its stored actions.
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
use crate::deliver::Deliver;
use crate::error::{StartError, StopReason};
use crate::handle::Handle;
use crate::key::{ActorKey, ActorPath};
use crate::slot::Slot;

type RegistryKey = (&'static str, ActorKey);

/// A registry cell: the actor's handle once it has started.
pub(crate) type ActorCell<A> = Arc<OnceCell<Handle<A>>>;

/// The Rust type behind an actor name.
struct TypeEntry {
    id: TypeId,
    name: &'static str,
    deliver: Arc<dyn Deliver>,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct Registry {
    cells: HashMap<RegistryKey, Arc<dyn Cell>>,
    /// The Rust type that first used each actor name in this system. Two types under one
    /// name would share stored records, so a second one is refused.
    types: HashMap<&'static str, TypeEntry>,
}

/// A registry cell with its actor type erased.
trait Cell: Any + Send + Sync {
    /// Asks the actor to stop (shutdown), or cancels what it runs (the deadline passed).
    fn stop(&self, reason: StopReason, abort: bool);
    /// True if the actor has ended (its handles only report why), or is asleep and only the
    /// registry holds its handle (a handle elsewhere wakes it through the registry's cell).
    fn is_idle_garbage(&self) -> bool;
}

impl<A: Actor> Cell for OnceCell<Handle<A>> {
    fn stop(&self, reason: StopReason, abort: bool) {
        if let Some(handle) = self.get() {
            if abort {
                handle.slot.abort(reason);
            } else {
                handle.slot.request_stop(reason);
            }
        }
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

    /// The cell for `path`, created empty if there is none, and whether `A` is new to the
    /// system. Fails if another Rust type already uses `A::NAME` in this system. `deliver`
    /// makes the type's deliverer, the first time the type is seen.
    pub(crate) fn cell<A: Actor>(
        &mut self,
        path: &ActorPath,
        deliver: impl FnOnce() -> Arc<dyn Deliver>,
    ) -> Result<(ActorCell<A>, bool), StartError> {
        let new = self.claim_name::<A>(deliver)?;
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
        let cell = any.downcast().map_err(|_| self.clash::<A>())?;
        Ok((cell, new))
    }

    /// Records that `A` uses `A::NAME` (and how to deliver its stored actions), or refuses
    /// it if another type does. Returns true the first time.
    pub(crate) fn claim_name<A: Actor>(
        &mut self,
        deliver: impl FnOnce() -> Arc<dyn Deliver>,
    ) -> Result<bool, StartError> {
        match self.types.entry(A::NAME) {
            Entry::Occupied(entry) if entry.get().id != TypeId::of::<A>() => Err(self.clash::<A>()),
            Entry::Occupied(_) => Ok(false),
            Entry::Vacant(entry) => {
                entry.insert(TypeEntry {
                    id: TypeId::of::<A>(),
                    name: std::any::type_name::<A>(),
                    deliver: deliver(),
                });
                Ok(true)
            }
        }
    }

    fn clash<A: Actor>(&self) -> StartError {
        StartError::NameClash {
            name: A::NAME,
            registered: self.types.get(A::NAME).map_or("another type", |t| t.name),
            requested: std::any::type_name::<A>(),
        }
    }

    /// The deliverer of the actor type named `kind`, if the system has seen that type.
    pub(crate) fn deliverer(&self, kind: &str) -> Option<Arc<dyn Deliver>> {
        self.types.get(kind).map(|t| Arc::clone(&t.deliver))
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
    pub(crate) fn leave<A: Actor>(&mut self, slot: &Arc<Slot<A>>) {
        let key = (A::NAME, slot.path().key.clone());
        let retire = self.cells.get(&key).is_some_and(|cell| {
            let any: Arc<dyn Any + Send + Sync> = Arc::clone(cell) as Arc<dyn Cell>;
            any.downcast::<OnceCell<Handle<A>>>().is_ok_and(|cell| {
                cell.get().is_some_and(|h| Arc::ptr_eq(&h.slot, slot)) && cell.is_idle_garbage()
            })
        });
        if retire {
            self.cells.remove(&key);
        }
        // A map that held a million actors keeps its buckets unless told otherwise.
        if self.cells.capacity() > 1024 && self.cells.len() * 4 < self.cells.capacity() {
            let target = self.cells.len() * 2;
            self.cells.shrink_to(target);
        }
    }

    /// Asks every started actor to stop (or, with `abort`, cancels what each runs).
    pub(crate) fn stop_all(&self, reason: &StopReason, abort: bool) {
        for cell in self.cells.values() {
            cell.stop(reason.clone(), abort);
        }
    }

    /// Forgets every actor (the system has shut down).
    pub(crate) fn clear(&mut self) {
        self.cells.clear();
    }
}
