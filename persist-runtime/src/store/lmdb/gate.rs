//! The resize gate: every transaction of the process holds it shared while it
//! is open; changing the map size holds it exclusively, because LMDB requires
//! that no transaction of the process be active during a resize.
//!
//! Shared holds are re-entrant per thread: a read started from inside a write
//! job (an `update` closure that loads another record) runs while its thread
//! already holds the gate of the same store. Taking it again would deadlock as
//! soon as another thread waits for the exclusive hold (`std`'s `RwLock` makes
//! new readers wait behind a waiting writer), so a nested hold takes nothing.
//! Holds of several stores nest too (a read of store B inside an update of
//! store A, then a read of A again): every gate the thread holds counts, not
//! only the innermost.

use std::cell::{Cell, RefCell};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// The innermost gate this thread holds shared (its address; 0: none).
    static HELD: Cell<usize> = const { Cell::new(0) };
    /// The gates held further out, innermost last (only used when holds of
    /// different stores nest, so the common path never touches it).
    static OUTER: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn held_further_out(id: usize) -> bool {
    OUTER.with_borrow(|outer| outer.contains(&id))
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

    /// Whether this thread holds this gate shared (at any depth).
    pub fn held_here(&self) -> bool {
        let held = HELD.get();
        held == self.id() || (held != 0 && held_further_out(self.id()))
    }

    /// Holds the gate shared (for the lifetime of a transaction). Re-entrant
    /// on one thread.
    #[inline]
    pub fn shared(&self) -> SharedHold<'_> {
        let outer = HELD.get();
        if outer == self.id() || (outer != 0 && held_further_out(self.id())) {
            return SharedHold { guard: None, outer };
        }
        let guard = self.lock.read().unwrap_or_else(PoisonError::into_inner);
        if outer != 0 {
            OUTER.with_borrow_mut(|stack| stack.push(outer));
        }
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

impl SharedHold<'_> {
    /// Whether this thread held the gate already (this hold took nothing).
    pub fn is_nested(&self) -> bool {
        self.guard.is_none()
    }
}

impl Drop for SharedHold<'_> {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            if self.outer != 0 {
                OUTER.with_borrow_mut(|stack| stack.pop());
            }
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

    /// Issue 11, item 10: only the innermost gate was remembered, so A -> B
    /// -> A took A's lock a second time (a deadlock with a waiting resize).
    #[test]
    fn a_gate_held_further_out_is_not_taken_again() {
        let (a, b) = (Gate::default(), Gate::default());
        let hold_a = a.shared();
        let hold_b = b.shared();
        let again_a = a.shared();
        assert!(again_a.guard.is_none(), "A was taken again under B");
        assert!(a.held_here() && b.held_here());
        drop(again_a);
        drop(hold_b);
        assert!(a.held_here() && !b.held_here());
        assert!(exclusive_possible(&b));
        drop(hold_a);
        assert!(!a.held_here());
        assert!(exclusive_possible(&a));
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
