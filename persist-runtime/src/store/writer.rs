//! The write path: every write transaction of the process, group-committed.
//!
//! Callers queue jobs. Whoever finds no batch running leads: it takes every
//! queued job (up to [`MAX_BATCH`]), runs each in a nested transaction of one
//! write transaction, and commits once: one fsync for the whole batch. A
//! blocking caller leads on its own thread (no hand-off), and hands the lead
//! to the writer thread when its own write is done and others are queued. An
//! async caller does not block its runtime on a commit: the writer thread
//! leads for it, unless the store does not fsync (`Durability::NoSync`), where
//! a commit takes microseconds and the caller leads itself.
//!
//! A job that fails is rolled back alone and told so at once; the others are
//! answered after the commit, so an `Ok` means durable. A write transaction
//! is created and committed by one leader, on one thread (LMDB requires it).

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use heed::{MdbError, RwTxn};

use super::Durability;
use super::lmdb::Shared;
use crate::error::{Error, Result};

/// Name of the thread that leads for async and background writes.
const WRITER_THREAD: &str = "mcp-persist-writer";

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// What a job sees: the open (nested) write transaction and the store.
pub(crate) struct WriteCtx<'a, 'e> {
    pub txn: &'a mut RwTxn<'e>,
    pub shared: &'a Shared,
    /// The clock's reading for this batch.
    pub now_ms: u64,
}

/// The work of one write. `run` may be called again if the batch is retried
/// (after the map grew), so it must not consume what it needs.
pub(crate) type WriteFn<R> = Box<dyn FnMut(&mut WriteCtx<'_, '_>) -> Result<R> + Send>;

trait Job: Send {
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Result<()>;
    fn succeed(self: Box<Self>);
    fn fail(self: Box<Self>, err: Error);
}

enum Reply<R> {
    Blocking(SyncSender<Result<R>>),
    Async(tokio::sync::oneshot::Sender<Result<R>>),
    /// Nobody waits: the outcome is logged (background work such as a
    /// migration's write-back).
    Detached(&'static str),
}

struct TypedJob<R> {
    f: WriteFn<R>,
    out: Option<R>,
    reply: Reply<R>,
}

impl<R: Send> TypedJob<R> {
    fn send(self, result: Result<R>) {
        // A caller that stopped waiting (a dropped future) is not an error:
        // the write happened, and nobody is left to tell.
        match self.reply {
            Reply::Blocking(tx) => drop(tx.send(result)),
            Reply::Async(tx) => drop(tx.send(result)),
            Reply::Detached(what) => {
                if let Err(err) = result {
                    tracing::warn!(%err, "{what} failed; it will be retried on the next read");
                }
            }
        }
    }
}

impl<R: Send> Job for TypedJob<R> {
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Result<()> {
        self.out = Some((self.f)(ctx)?);
        Ok(())
    }

    fn succeed(mut self: Box<Self>) {
        match self.out.take() {
            Some(out) => self.send(Ok(out)),
            None => self.send(Err(Error::WriterGone(
                "a job finished without a result".into(),
            ))),
        }
    }

    fn fail(self: Box<Self>, err: Error) {
        self.send(Err(err));
    }
}

/// The jobs waiting for a leader, and whether one is running.
struct Queue {
    jobs: VecDeque<Box<dyn Job>>,
    /// A thread is running batches (it drains `jobs` or hands them over).
    leading: bool,
    /// The store is closing: the writer thread drains `jobs` and stops.
    closed: bool,
}

/// What callers and the writer thread share.
struct Lanes {
    queue: Mutex<Queue>,
    /// Wakes the writer thread: jobs wait and nobody leads, or closing.
    wake: Condvar,
}

impl Lanes {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock (and under `catch_unwind`): a poisoned lock
        // only means a caller panicked between two lines of bookkeeping.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    /// This thread is leading (running jobs): a write from inside a job
    /// would wait for itself.
    static LEADING: Cell<bool> = const { Cell::new(false) };
}

/// Releases the lead when dropped (even on a panic), waking the writer
/// thread if jobs are left.
struct Lead<'a> {
    lanes: &'a Lanes,
}

impl<'a> Lead<'a> {
    /// Takes the lead; the caller has set `queue.leading`.
    fn taken(lanes: &'a Lanes) -> Self {
        LEADING.set(true);
        Self { lanes }
    }

    /// The next batch, or `None` (and the lead released) when nothing waits.
    fn next_batch(&self) -> Option<Vec<Box<dyn Job>>> {
        let mut queue = self.lanes.lock();
        if queue.jobs.is_empty() {
            return None;
        }
        let n = queue.jobs.len().min(MAX_BATCH);
        Some(queue.jobs.drain(..n).collect())
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        LEADING.set(false);
        let mut queue = self.lanes.lock();
        queue.leading = false;
        if !queue.jobs.is_empty() || queue.closed {
            self.lanes.wake.notify_one();
        }
    }
}

/// The write path of one store; dropping it drains the queue and stops the
/// writer thread.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    lanes: Arc<Lanes>,
    /// Async callers lead themselves (the store does not fsync).
    async_inline: bool,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(shared: Arc<Shared>, durability: Durability) -> Result<Self> {
        let lanes = Arc::new(Lanes {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                leading: false,
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let path = shared.path.clone();
        let thread = {
            let (shared, lanes) = (Arc::clone(&shared), Arc::clone(&lanes));
            std::thread::Builder::new()
                .name(WRITER_THREAD.into())
                .spawn(move || writer_thread(&shared, &lanes))
                .map_err(|source| Error::Io { path, source })?
        };
        Ok(Self {
            shared,
            lanes,
            async_inline: durability == Durability::NoSync,
            thread: Some(thread),
        })
    }

    /// Queues `job`. Returns the lead if nobody leads and `lead` says this
    /// caller takes it; else wakes the writer thread if nobody leads.
    fn push(&self, job: Box<dyn Job>, lead: bool) -> Result<Option<Lead<'_>>> {
        if LEADING.get() {
            return Err(Error::WriteInsideWrite);
        }
        let mut queue = self.lanes.lock();
        if queue.closed {
            return Err(Error::WriterGone("the store is closing".into()));
        }
        queue.jobs.push_back(job);
        if queue.leading {
            return Ok(None);
        }
        if lead {
            queue.leading = true;
            drop(queue);
            return Ok(Some(Lead::taken(&self.lanes)));
        }
        self.lanes.wake.notify_one();
        Ok(None)
    }

    /// Runs batches until `done` says the caller's write is answered (or
    /// nothing is left), then gives the lead up.
    fn lead_until(&self, lead: Lead<'_>, mut done: impl FnMut() -> bool) {
        while let Some(batch) = lead.next_batch() {
            execute(&self.shared, batch);
            if done() {
                break;
            }
        }
        drop(lead);
    }

    /// Runs `f` and waits, blocking, for the commit. Leads on this thread
    /// if no batch is running.
    pub fn write_blocking<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, rx) = sync_channel(1);
        let job = Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Blocking(tx),
        });
        let mut answer = None;
        if let Some(lead) = self.push(job, true)? {
            self.lead_until(lead, || {
                answer = rx.try_recv().ok();
                answer.is_some()
            });
        }
        match answer {
            Some(answer) => answer,
            None => rx
                .recv()
                .map_err(|_| Error::WriterGone("the writer dropped a write".into()))?,
        }
    }

    /// Queues `f` without waiting for it; a failure is logged as `what`.
    pub fn write_detached(&self, what: &'static str, f: WriteFn<()>) {
        let job = Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Detached(what),
        });
        if let Err(err) = self.push(job, false) {
            tracing::warn!(%err, "{what} could not be queued");
        }
    }

    /// Runs `f`; the future resolves after the commit. The writer thread
    /// leads unless the store does not fsync. Dropping the future does not
    /// cancel a write already queued.
    pub async fn write<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let job = Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Async(tx),
        });
        if let Some(lead) = self.push(job, self.async_inline)? {
            let mut answer = None;
            self.lead_until(lead, || {
                answer = rx.try_recv().ok();
                answer.is_some()
            });
            if let Some(answer) = answer {
                return answer;
            }
        }
        rx.await
            .map_err(|_| Error::WriterGone("the writer dropped a write".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.lanes.lock().closed = true;
        self.lanes.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the mcp-persist writer thread panicked");
        }
    }
}

/// Leads whenever jobs wait and nobody else leads; stops once the store is
/// closing and every queued job is done.
fn writer_thread(shared: &Shared, lanes: &Lanes) {
    loop {
        let mut queue = lanes.lock();
        while (queue.jobs.is_empty() || queue.leading) && !queue.closed {
            queue = lanes
                .wake
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queue.jobs.is_empty() && !queue.leading {
            return; // closed, and nothing left
        }
        if queue.leading {
            // Closing while another thread leads: wait for it to finish.
            drop(lanes.wake.wait(queue));
            continue;
        }
        queue.leading = true;
        drop(queue);
        let lead = Lead::taken(lanes);
        while let Some(batch) = lead.next_batch() {
            execute(shared, batch);
        }
    }
}

/// Why an attempt at a batch must be tried again.
enum Retry {
    MapFull,
    MapResized,
}

fn execute(shared: &Shared, mut batch: Vec<Box<dyn Job>>) {
    loop {
        let outcome = attempt(shared, &mut batch);
        let recovery = match outcome {
            Ok(Ok(())) => {
                batch.into_iter().for_each(|job| job.succeed());
                return;
            }
            Ok(Err(Retry::MapFull)) => shared.grow(),
            Ok(Err(Retry::MapResized)) => shared.adopt_map_size(),
            Err(err) => Err(err),
        };
        if let Err(err) = recovery {
            fail_all(shared, batch, err);
            return;
        }
    }
}

/// Tells every job of a batch that it failed with `err`.
fn fail_all(shared: &Shared, batch: Vec<Box<dyn Job>>, err: Error) {
    let reason = err.to_string();
    let mut first = Some(err);
    for job in batch {
        let err = first.take().unwrap_or_else(|| Error::BatchFailed {
            path: shared.path.clone(),
            reason: reason.clone(),
        });
        job.fail(err);
    }
}

fn classify(err: heed::Error, shared: &Shared) -> Result<Retry> {
    match err {
        heed::Error::Mdb(MdbError::MapFull) => Ok(Retry::MapFull),
        heed::Error::Mdb(MdbError::MapResized) => Ok(Retry::MapResized),
        other => Err(shared.lmdb(other)),
    }
}

/// One try at a batch. `Ok(Err(_))`: retry after recovery; `Err`: the whole batch failed.
fn attempt(shared: &Shared, batch: &mut Vec<Box<dyn Job>>) -> Result<Result<(), Retry>> {
    // LMDB requires a write transaction to end on the thread that began it
    // (heed issue #339): it lives and dies inside this call, on the leader.
    debug_assert!(LEADING.get());
    let _gate = shared.gate();
    let mut wtxn = match shared.env.write_txn() {
        Ok(txn) => txn,
        Err(e) => return classify(e, shared).map(Err),
    };
    let now_ms = shared.clock.now_ms();
    let mut i = 0;
    while i < batch.len() {
        let mut nested = match shared.env.nested_write_txn(&mut wtxn) {
            Ok(txn) => txn,
            Err(e) => return classify(e, shared).map(Err),
        };
        let mut ctx = WriteCtx {
            txn: &mut nested,
            shared,
            now_ms,
        };
        let job = &mut batch[i];
        let result = catch_unwind(AssertUnwindSafe(|| job.run(&mut ctx)))
            .unwrap_or_else(|panic| Err(Error::Panicked(panic_message(&*panic))));
        match result {
            Ok(()) => match nested.commit() {
                Ok(()) => i += 1,
                Err(e) => return classify(e, shared).map(Err),
            },
            Err(err) if err.is_map_full() => return Ok(Err(Retry::MapFull)),
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
        Ok(()) => Ok(Ok(())),
        Err(e) => classify(e, shared).map(Err),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
