//! The connections of one store to its Redis server: at most
//! `max_connections` open at once, idle ones kept for the next operation.
//!
//! A caller that finds every connection busy waits for one, at most the
//! network timeout, then fails naming the limit: a burst of reads (each on a
//! thread of tokio's blocking pool, up to 512) never opens hundreds of
//! connections to a shared server, and never waits forever.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::{Connection, RedisError};

use crate::error::Result;

/// How many connections are open, and a signal when one is freed.
struct Slots {
    open: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self) {
        let mut open = self.lock();
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }
}

/// An open connection of the pool: counted until it is dropped.
pub(crate) struct Con {
    con: Connection,
    slots: Arc<Slots>,
}

impl Deref for Con {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.con
    }
}

impl DerefMut for Con {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.con
    }
}

impl Drop for Con {
    fn drop(&mut self) {
        self.slots.release();
    }
}

/// The pool of one store.
pub(crate) struct Pool {
    idle: Mutex<Vec<Con>>,
    slots: Arc<Slots>,
    max: usize,
}

impl Pool {
    pub fn new(max: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Slots {
                open: Mutex::new(0),
                freed: Condvar::new(),
            }),
            max: max.max(1),
        }
    }

    fn pop_idle(&self) -> Option<Con> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// An idle connection (`true`: it may have gone stale), else a new one
    /// made by `connect` if the limit allows, else the first one freed
    /// within `wait`. `busy` is the error when none is.
    pub fn checkout(
        &self,
        wait: Duration,
        connect: impl Fn() -> std::result::Result<Connection, RedisError>,
        failed: impl Fn(&RedisError) -> crate::Error,
        busy: impl Fn(usize) -> crate::Error,
    ) -> Result<(Con, bool)> {
        let deadline = Instant::now() + wait;
        let mut open = self.slots.lock();
        loop {
            // Looked at under `open`: a connection given back meanwhile
            // signals `freed` only once this caller waits for it.
            if let Some(con) = self.pop_idle() {
                return Ok((con, true));
            }
            if *open < self.max {
                *open += 1;
                drop(open);
                return match connect() {
                    Ok(con) => Ok((
                        Con {
                            con,
                            slots: Arc::clone(&self.slots),
                        },
                        false,
                    )),
                    Err(err) => {
                        self.slots.release();
                        Err(failed(&err))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(busy(self.max));
            }
            open = self
                .slots
                .freed
                .wait_timeout(open, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Keeps `con` for the next operation.
    pub fn give_back(&self, con: Con) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(con);
        let _open = self.slots.lock();
        self.slots.freed.notify_one();
    }

    /// Closes every idle connection: one of them failed as if the server
    /// had restarted, so the others are as stale.
    pub fn forget_idle(&self) {
        let stale: Vec<Con> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(stale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_makes_callers_wait_then_fail_naming_the_limit() {
        let pool = Pool::new(1);
        // No server needed: nothing is connected while the one slot is taken.
        *pool.slots.lock() = 1;
        let started = Instant::now();
        let err = pool
            .checkout(
                Duration::from_millis(50),
                || unreachable!("no slot is free"),
                |_| unreachable!(),
                |max| crate::Error::Unsupported(format!("all {max} busy")),
            )
            .err()
            .expect("busy");
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(err.to_string(), "all 1 busy");
    }
}
