//! The resize gate: every transaction of the process holds it shared while it
//! is open; changing the map size holds it exclusively, because LMDB requires
//! that no transaction of the process be active during a resize.
//!
//! Shared holds are re-entrant per thread: a read started from inside a write
//! job (an `update` closure that loads another record) runs while its thread
//! already holds the gate of the same store. Taking it again would deadlock as
//! soon as another thread waits for the exclusive hold (`std`'s `RwLock` makes
//! new readers wait behind a waiting writer), so a nested hold takes nothing.

use std::cell::Cell;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// The innermost gate this thread holds shared (its address; 0: none).
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// A resize gate (one per store).
#[derive(Default)]
pub(crate) struct Gate {
    lock: RwLock<()>,
}

/// A shared hold of a [`Gate`]; released when dropped.
pub(crate) struct SharedHold<'a> {
    /// `None` when this thread already held the gate (a nested hold).
    guard: Option<RwLockReadGuard<'a, ()>>,
    /// What [`HELD`] said before this hold.
    outer: usize,
}

impl Gate {
    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Whether this thread holds this gate shared.
    pub fn held_here(&self) -> bool {
        HELD.get() == self.id()
    }

    /// Holds the gate shared (for the lifetime of a transaction). Re-entrant
    /// on one thread.
    #[inline]
    pub fn shared(&self) -> SharedHold<'_> {
        let outer = HELD.get();
        if outer == self.id() {
            return SharedHold { guard: None, outer };
        }
        let guard = self.lock.read().unwrap_or_else(PoisonError::into_inner);
        HELD.set(self.id());
        SharedHold {
            guard: Some(guard),
            outer,
        }
    }

    /// Holds the gate exclusively: no transaction of the process is open.
    /// The caller must not hold it shared on this thread (see [`Self::held_here`]).
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        debug_assert!(!self.held_here(), "exclusive hold under a shared one");
        self.lock.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SharedHold<'_> {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            HELD.set(self.outer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exclusive_possible(gate: &Gate) -> bool {
        std::thread::scope(|s| s.spawn(|| gate.lock.try_write().is_ok()).join()).unwrap_or(false)
    }

    #[test]
    fn a_nested_hold_takes_nothing_and_the_outer_one_releases() {
        let gate = Gate::default();
        let outer = gate.shared();
        assert!(gate.held_here());
        let inner = gate.shared();
        assert!(inner.guard.is_none(), "the nested hold took the lock again");
        drop(inner);
        assert!(
            gate.held_here(),
            "dropping the nested hold released the outer one"
        );
        assert!(!exclusive_possible(&gate));
        drop(outer);
        assert!(!gate.held_here());
        assert!(exclusive_possible(&gate));
    }

    #[test]
    fn holds_of_two_gates_nest() {
        let (a, b) = (Gate::default(), Gate::default());
        let hold_a = a.shared();
        let hold_b = b.shared();
        assert!(hold_b.guard.is_some(), "another store's gate must be taken");
        assert!(b.held_here() && !exclusive_possible(&b));
        drop(hold_b);
        assert!(a.held_here(), "the outer gate is this thread's again");
        assert!(exclusive_possible(&b));
        drop(hold_a);
        assert!(exclusive_possible(&a));
    }
}
