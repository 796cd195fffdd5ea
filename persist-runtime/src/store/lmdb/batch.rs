//! How a batch of write jobs runs on LMDB: one write transaction, each job
//! in a nested transaction of it, one commit (one fsync) for the batch; the
//! map grown and the batch retried when it is full.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use heed::MdbError;

use super::LmdbEngine;
use super::txn::LmdbTxn;
use crate::error::{Error, Result};
use crate::store::txn::WriteCtx;
use crate::store::writer::{Job, leading_here, panic_message};

/// Why an attempt at a batch must be tried again.
enum Retry {
    /// The map is full; `culprit` is the job whose write hit it, if known
    /// (a commit can hit it too).
    MapFull {
        culprit: Option<usize>,
    },
    MapResized,
}

/// Runs `batch` to its end on LMDB (committed, or failed and told so);
/// `answering` runs just before the callers of a committed batch are told.
pub(super) fn execute(
    engine: &LmdbEngine,
    mut batch: Vec<Box<dyn Job>>,
    timeout: Duration,
    answering: &mut dyn FnMut(),
) {
    loop {
        let outcome = attempt(engine, &mut batch, timeout);
        let recovery = match outcome {
            Ok(Ok(())) => {
                answering();
                batch.into_iter().for_each(|job| job.succeed());
                return;
            }
            Ok(Err(Retry::MapResized)) => engine.adopt_map_size(),
            Ok(Err(Retry::MapFull { culprit })) => match engine.grow() {
                Ok(()) => Ok(()),
                // The map cannot grow: the write that does not fit fails
                // alone, the rest of the batch is tried again.
                Err(full) => match culprit {
                    Some(i) => {
                        batch.remove(i).fail(full);
                        Ok(())
                    }
                    None if batch.len() > 1 => {
                        // The commit hit the ceiling: find out who, one at a time.
                        for job in batch {
                            execute(engine, vec![job], timeout, &mut || {});
                        }
                        return;
                    }
                    None => Err(full),
                },
            },
            Err(err) => Err(err),
        };
        if let Err(err) = recovery {
            fail_all(engine, batch, err);
            return;
        }
        if batch.is_empty() {
            return;
        }
    }
}

/// Tells every job of a batch that it failed with `err`.
fn fail_all(engine: &LmdbEngine, batch: Vec<Box<dyn Job>>, err: Error) {
    let reason = err.to_string();
    let mut first = Some(err);
    for job in batch {
        let err = first.take().unwrap_or_else(|| Error::BatchFailed {
            path: engine.path.clone(),
            reason: reason.clone(),
        });
        job.fail(err);
    }
}

fn classify(err: heed::Error, engine: &LmdbEngine, culprit: Option<usize>) -> Result<Retry> {
    match err {
        heed::Error::Mdb(MdbError::MapFull) => Ok(Retry::MapFull { culprit }),
        heed::Error::Mdb(MdbError::MapResized) => Ok(Retry::MapResized),
        other => Err(engine.lmdb(other)),
    }
}

/// Fails with [`Error::Busy`] every job of `batch` past its deadline that
/// had not started; `true` if none is left.
fn drop_timed_out(engine: &LmdbEngine, batch: &mut Vec<Box<dyn Job>>, timeout: Duration) -> bool {
    let now = Instant::now();
    let mut i = 0;
    while i < batch.len() {
        if batch[i].deadline() <= now && batch[i].abandon() {
            batch.remove(i).fail(Error::Busy {
                path: engine.path.clone(),
                waited: timeout,
            });
        } else {
            i += 1;
        }
    }
    batch.is_empty()
}

/// One try at a batch. `Ok(Err(_))`: retry after recovery; `Err`: the whole
/// batch failed. Jobs that fail alone, and jobs given up by their callers,
/// leave the batch.
fn attempt(
    engine: &LmdbEngine,
    batch: &mut Vec<Box<dyn Job>>,
    timeout: Duration,
) -> Result<Result<(), Retry>> {
    // LMDB requires a write transaction to end on the thread that began it
    // (heed issue #339): it lives and dies inside this call, on the leader.
    debug_assert!(leading_here());
    // The write lock of every process first, waited for with a deadline
    // (LMDB's own mutex has none); jobs that time out waiting leave.
    let Some(_lock) = engine
        .write_lock
        .acquire(|_| drop_timed_out(engine, batch, timeout))?
    else {
        return Ok(Ok(()));
    };
    let _gate = engine.gate();
    let mut wtxn = match engine.env.write_txn() {
        Ok(txn) => txn,
        Err(e) => return classify(e, engine, None).map(Err),
    };
    // Claim the jobs: from here a job no longer times out; one whose caller
    // gave up is dropped unrun.
    batch.retain(|job| job.claim());
    let now_ms = engine.clock.now_ms();
    let mut i = 0;
    while i < batch.len() {
        let mut nested = match engine.env.nested_write_txn(&mut wtxn) {
            Ok(txn) => txn,
            Err(e) => return classify(e, engine, None).map(Err),
        };
        let mut txn = LmdbTxn::new(&mut nested, engine);
        let mut ctx = WriteCtx::new(&mut txn, engine.keys.as_deref(), now_ms);
        let job = &mut batch[i];
        let result = catch_unwind(AssertUnwindSafe(|| job.run(&mut ctx)))
            .unwrap_or_else(|panic| Err(Error::Panicked(panic_message(&*panic))));
        match result {
            Ok(()) => match nested.commit() {
                Ok(()) => i += 1,
                Err(e) => return classify(e, engine, Some(i)).map(Err),
            },
            Err(err) if err.is_map_full() => return Ok(Err(Retry::MapFull { culprit: Some(i) })),
            Err(err) => {
                nested.abort();
                batch.remove(i).fail(err);
            }
        }
    }
    if batch.is_empty() {
        wtxn.abort();
        return Ok(Ok(()));
    }
    match wtxn.commit() {
        Ok(()) => {
            engine.signal.bump();
            Ok(Ok(()))
        }
        Err(e) => classify(e, engine, None).map(Err),
    }
}
