//! The write path: every write transaction of the process, group-committed.
//! (What a job can do inside its transaction is [`super::txn`].)
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
//! After a batch, the writer thread waits a moment (half that batch's time at
//! most) for the callers it just answered to send their next writes, so that
//! concurrent writers keep sharing one commit (see `Lead::gathered_batch`).
//!
//! A job that fails is rolled back alone and told so at once; the others are
//! answered after the commit, so an `Ok` means durable. How a batch runs is
//! the engine's ([`StorageEngine::execute`](super::engine::StorageEngine::execute):
//! one LMDB write transaction created and committed by one leader, on one
//! thread, as LMDB requires; a Redis MULTI/EXEC).

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::engine::{Engine, on_engine};
use super::txn::WriteCtx;
use crate::error::{Error, Result};

/// Name of the thread that leads for async and background writes.
const WRITER_THREAD: &str = "mcp-persist-writer";

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// The work of one write. It may be called again if the batch is retried
/// (after the map grew), so it must not consume what it needs (see
/// [`super::txn`] for the whole contract of a job).
pub(crate) type WriteFn<R> = Box<dyn FnMut(&mut WriteCtx<'_, '_>) -> Result<R> + Send>;

/// Where a job stands between its caller and the leader. A job is claimed
/// (`STARTED`) only once its transaction holds the write lock; a caller that
/// waited too long gives it up (`ABANDONED`) first, and the leader then drops
/// it unrun: a write that timed out is never applied later.
const PENDING: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

type Claim = Arc<AtomicU8>;

/// PENDING -> `to`; `false` if the job was no longer pending.
fn settle(claim: &AtomicU8, to: u8) -> bool {
    claim
        .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// A queued write, as the engine running its batch sees it.
pub(crate) trait Job: Send {
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Result<()>;
    /// Claims the job for a transaction that holds the write lock; `false`
    /// if its caller gave it up (drop it unrun). A job claimed once stays so.
    fn claim(&self) -> bool;
    /// Gives the job up before it started: `true` if it was still pending.
    fn abandon(&self) -> bool;
    /// When the job must have started.
    fn deadline(&self) -> Instant;
    /// Its batch was committed.
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

impl<R> Reply<R> {
    fn send(self, result: Result<R>) {
        // A caller that stopped waiting (a dropped future, a timed-out
        // caller) is not an error: nobody is left to tell.
        match self {
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

struct TypedJob<R> {
    f: Option<WriteFn<R>>,
    out: Option<R>,
    reply: Option<Reply<R>>,
    /// What the caller is told; set by `succeed`/`fail`, sent when dropped.
    answer: Option<Result<R>>,
    claim: Claim,
    deadline: Instant,
}

impl<R: Send> TypedJob<R> {
    fn new(f: WriteFn<R>, reply: Reply<R>, claim: Claim, deadline: Instant) -> Box<Self> {
        Box::new(Self {
            f: Some(f),
            out: None,
            reply: Some(reply),
            answer: None,
            claim,
            deadline,
        })
    }
}

impl<R> Drop for TypedJob<R> {
    /// Answers the caller, whatever way the job ends (answered, failed, or
    /// dropped by a panic of the leader). The job's closure is dropped first,
    /// so that what it captured (a `Store` handle among them) is gone when the
    /// caller hears back; a panic in that drop, or in the drop of an answer
    /// nobody took, is contained: it neither kills the leading thread nor
    /// changes the answer.
    fn drop(&mut self) {
        let f = self.f.take();
        contain("dropping a write's closure", move || drop(f));
        let Some(reply) = self.reply.take() else {
            return;
        };
        let answer = self.answer.take().unwrap_or_else(|| {
            Err(Error::WriterGone(
                "the write was interrupted by a panic before its commit; nothing was written"
                    .into(),
            ))
        });
        contain("answering a write", move || reply.send(answer));
    }
}

impl<R: Send> Job for TypedJob<R> {
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Result<()> {
        let f = self
            .f
            .as_mut()
            .ok_or_else(|| Error::WriterGone("a job ran after its closure was dropped".into()))?;
        self.out = Some(f(ctx)?);
        Ok(())
    }

    fn claim(&self) -> bool {
        settle(&self.claim, STARTED) || self.claim.load(Ordering::Acquire) == STARTED
    }

    fn abandon(&self) -> bool {
        settle(&self.claim, ABANDONED)
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }

    fn succeed(mut self: Box<Self>) {
        self.answer = Some(
            self.out
                .take()
                .ok_or_else(|| Error::WriterGone("a job finished without a result".into())),
        );
    }

    fn fail(mut self: Box<Self>, err: Error) {
        self.answer = Some(Err(err));
    }
}

/// Runs `f`, containing a panic (logged, itself contained).
fn contain(what: &'static str, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        let message = panic_message(&*panic);
        drop(catch_unwind(|| {
            tracing::error!(panic = %message, "a panic while {what} was contained");
        }));
    }
}

/// The jobs waiting for a leader, and whether one is running.
struct Queue {
    jobs: VecDeque<Box<dyn Job>>,
    /// A thread is running batches (it drains `jobs` or hands them over).
    leading: bool,
    /// The store is closing: the writer thread drains `jobs` and stops.
    closed: bool,
    /// The writer thread has stopped (closed, or killed by a panic that
    /// escaped every guard): callers lead their own batches.
    writer_stopped: bool,
    /// The writer thread waits for the next batch to gather (see
    /// [`Lead::gathered_batch`]): pushes tell it.
    gathering: bool,
}

/// What callers and the writer thread share.
struct Lanes {
    queue: Mutex<Queue>,
    /// Wakes the writer thread: jobs wait and nobody leads, or closing.
    wake: Condvar,
    /// Tells a gathering writer thread that a job arrived.
    arrived: Condvar,
    /// Signalled when the writer thread stops.
    stopped: Condvar,
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

/// Whether this thread is running write jobs (of any store): it must not
/// wait for a writer or a sweeper to stop, which may wait for it.
pub(crate) fn leading_here() -> bool {
    LEADING.get()
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

    /// The next batch, or `None` when nothing waits; with it, whether the
    /// writer thread has stopped (nobody would lead what this lead leaves).
    fn next_batch(&self) -> Option<(Vec<Box<dyn Job>>, bool)> {
        let mut queue = self.lanes.lock();
        if queue.jobs.is_empty() {
            return None;
        }
        let n = queue.jobs.len().min(MAX_BATCH);
        Some((queue.jobs.drain(..n).collect(), queue.writer_stopped))
    }

    /// The next batch, after waiting up to `wait` for `want` jobs to be
    /// queued: the jobs that were queued when the last batch was answered,
    /// and as many more as that batch had.
    ///
    /// Group commit's gather. While a batch commits (an fsync), the writes
    /// of other callers queue; taken at once when it ends, they form the
    /// next batch while the callers just answered send their next writes a
    /// few microseconds later, to wait a whole commit more. Concurrent
    /// writers then settle in two half-size batches per round, two fsyncs
    /// where one would do. Waiting a fraction of a commit for the answered
    /// callers to come back keeps them in one batch. A lone writer never
    /// waits (nothing else was queued, its own write was answered: one job).
    fn gathered_batch(&self, want: usize, wait: Duration) -> Option<(Vec<Box<dyn Job>>, bool)> {
        let want = want.min(MAX_BATCH);
        if want > 1 && !wait.is_zero() {
            let mut queue = self.lanes.lock();
            if queue.jobs.len() < want && !queue.closed {
                queue.gathering = true;
                let (mut queue, _) = self
                    .lanes
                    .arrived
                    .wait_timeout_while(queue, wait, |q| q.jobs.len() < want && !q.closed)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.gathering = false;
            }
        }
        self.next_batch()
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        LEADING.set(false);
        let mut queue = self.lanes.lock();
        queue.leading = false;
        if queue.writer_stopped {
            // Only reached when a panic cut a lead short: nobody is left to
            // run what waits, so it fails now rather than never.
            let left: Vec<_> = queue.jobs.drain(..).collect();
            drop(queue);
            for job in left {
                job.fail(Error::WriterGone(
                    "the store's writer thread has stopped".into(),
                ));
            }
            return;
        }
        if !queue.jobs.is_empty() || queue.closed {
            self.lanes.wake.notify_all();
        }
    }
}

/// The write path of one store; dropping it drains the queue and stops the
/// writer thread (waiting at most [`SHUTDOWN_WAIT`] for it).
pub(crate) struct Writer {
    /// What runs the batches.
    engine: Engine,
    /// Where the store is, for errors and logs.
    location: PathBuf,
    lanes: Arc<Lanes>,
    /// Async callers lead themselves (the store does not fsync, nor wait
    /// on a network).
    async_inline: bool,
    /// How long a write may wait to start.
    timeout: Duration,
    thread: Option<JoinHandle<()>>,
}

/// How long closing a store waits for its writer thread before abandoning
/// it (a thread stuck behind another process's write lock).
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

impl Writer {
    /// A writer running batches on `engine`; async callers lead their
    /// own batches when the engine commits inline (in microseconds).
    pub fn start(engine: Engine, location: PathBuf, timeout: Duration) -> Result<Self> {
        let async_inline = on_engine!(&engine, e => e.commits_inline());
        let lanes = Arc::new(Lanes {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                leading: false,
                closed: false,
                writer_stopped: false,
                gathering: false,
            }),
            wake: Condvar::new(),
            arrived: Condvar::new(),
            stopped: Condvar::new(),
        });
        let thread = {
            let (engine, lanes) = (engine.clone(), Arc::clone(&lanes));
            std::thread::Builder::new()
                .name(WRITER_THREAD.into())
                .spawn(move || writer_thread(&engine, &lanes, timeout))
                .map_err(|source| Error::Io {
                    path: location.clone(),
                    source,
                })?
        };
        Ok(Self {
            engine,
            location,
            lanes,
            async_inline,
            timeout,
            thread: Some(thread),
        })
    }

    /// Queues `job`. Returns the lead if nobody leads and `lead` says this
    /// caller takes it (or the writer thread has stopped: then the caller
    /// leads in any case); else wakes the writer thread if nobody leads.
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
            if queue.gathering {
                self.lanes.arrived.notify_one();
            }
            return Ok(None);
        }
        if lead || queue.writer_stopped {
            queue.leading = true;
            drop(queue);
            return Ok(Some(Lead::taken(&self.lanes)));
        }
        self.lanes.wake.notify_all();
        Ok(None)
    }

    /// Runs batches until `done` says the caller's write is answered (or
    /// nothing is left), then gives the lead up. With the writer thread
    /// stopped, it runs everything queued: nobody else would.
    fn lead_until(&self, lead: Lead<'_>, mut done: impl FnMut() -> bool) {
        while let Some((batch, writer_stopped)) = lead.next_batch() {
            on_engine!(&self.engine, e => e.execute(batch, self.timeout, &mut || {}));
            if done() && !writer_stopped {
                break;
            }
        }
        drop(lead);
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// How many writes wait for a batch (not the ones running).
    pub fn queued(&self) -> usize {
        self.lanes.lock().jobs.len()
    }

    /// Runs `f` and waits, blocking, for the commit. Leads on this thread
    /// if no batch is running. A write that cannot start within the store's
    /// write timeout fails with [`Error::Busy`] and is never applied.
    pub fn write_blocking<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, rx) = sync_channel(1);
        let claim = Claim::default();
        let deadline = self.deadline();
        let job = TypedJob::new(f, Reply::Blocking(tx), Arc::clone(&claim), deadline);
        let mut answer = None;
        if let Some(lead) = self.push(job, true)? {
            self.lead_until(lead, || {
                answer = rx.try_recv().ok();
                answer.is_some()
            });
        }
        if let Some(answer) = answer {
            return answer;
        }
        let gone = || Error::WriterGone("the writer dropped a write".into());
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
            Err(RecvTimeoutError::Timeout) => {
                if settle(&claim, ABANDONED) {
                    Err(Error::Busy {
                        path: self.location.clone(),
                        waited: self.timeout,
                    })
                } else {
                    // It started: its transaction holds the lock, the answer comes.
                    rx.recv().map_err(|_| gone())?
                }
            }
        }
    }

    /// Queues `f` without waiting for it; a failure is logged as `what`.
    pub fn write_detached(&self, what: &'static str, f: WriteFn<()>) {
        let job = TypedJob::new(f, Reply::Detached(what), Claim::default(), self.deadline());
        match self.push(job, false) {
            Ok(None) => {}
            // The writer thread stopped: leading here would make a read wait
            // for a commit. The work is redone on the next read.
            Ok(Some(lead)) => self.lead_until(lead, || true),
            Err(err) => tracing::warn!(%err, "{what} could not be queued"),
        }
    }

    /// Runs `f`; the future resolves after the commit. The writer thread
    /// leads unless the store does not fsync. Dropping the future does not
    /// cancel a write already queued. A write that cannot start within the
    /// store's write timeout fails with [`Error::Busy`] and is never applied.
    pub async fn write<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let job = TypedJob::new(f, Reply::Async(tx), Claim::default(), self.deadline());
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
        let mut queue = self.lanes.lock();
        queue.closed = true;
        self.lanes.wake.notify_all();
        // A gathering writer thread stops waiting for more jobs.
        self.lanes.arrived.notify_all();
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Never wait for the writer thread from a thread it may wait for:
        // itself (the last handle dropped by a job's closure), or a thread
        // leading a batch. It stops by itself once the queue is drained.
        if thread.thread().id() == std::thread::current().id() || LEADING.get() {
            return;
        }
        let (queue, wait) = self
            .lanes
            .stopped
            .wait_timeout_while(queue, SHUTDOWN_WAIT, |q| !q.writer_stopped)
            .unwrap_or_else(PoisonError::into_inner);
        drop(queue);
        if wait.timed_out() {
            tracing::warn!(
                store = %self.location.display(),
                "the store's writer is still waiting for the write lock after {SHUTDOWN_WAIT:?}; \
                 closing without it (its queued writes fail with Busy once they time out)"
            );
        } else if thread.join().is_err() {
            tracing::error!("the mcp-persist writer thread panicked");
        }
    }
}

/// Marks the writer thread stopped when it ends, however it ends, and fails
/// what nobody will lead.
struct Stopped<'a>(&'a Lanes);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.writer_stopped = true;
        let left: Vec<_> = if queue.leading {
            Vec::new() // the leader runs everything left (see `lead_until`)
        } else {
            queue.jobs.drain(..).collect()
        };
        self.0.stopped.notify_all();
        drop(queue);
        for job in left {
            job.fail(Error::WriterGone(
                "the store's writer thread has stopped".into(),
            ));
        }
    }
}

/// Leads whenever jobs wait and nobody else leads; stops once the store is
/// closing and every queued job is done. A panic that escapes a batch (one
/// outside every job's guard) is contained: the thread goes on.
fn writer_thread(engine: &Engine, lanes: &Lanes, timeout: Duration) {
    let _stopped = Stopped(lanes);
    loop {
        let turn = catch_unwind(AssertUnwindSafe(|| writer_turn(engine, lanes, timeout)));
        match turn {
            Ok(true) => {}
            Ok(false) => return,
            Err(panic) => {
                let message = panic_message(&*panic);
                contain("logging a writer panic", || {
                    tracing::error!(panic = %message, "a panic escaped a write batch; the writer goes on");
                });
            }
        }
    }
}

/// Waits for work and leads it; `false` once closed with nothing left.
fn writer_turn(engine: &Engine, lanes: &Lanes, timeout: Duration) -> bool {
    let mut queue = lanes.lock();
    while (queue.jobs.is_empty() || queue.leading) && !queue.closed {
        queue = lanes
            .wake
            .wait(queue)
            .unwrap_or_else(PoisonError::into_inner);
    }
    if queue.jobs.is_empty() && !queue.leading {
        return false; // closed, and nothing left
    }
    if queue.leading {
        // Closing while another thread leads: wait for it to finish.
        drop(lanes.wake.wait(queue));
        return true;
    }
    queue.leading = true;
    drop(queue);
    let lead = Lead::taken(lanes);
    let mut batch = lead.next_batch();
    while let Some((jobs, _)) = batch {
        let (size, started) = (jobs.len(), Instant::now());
        let mut queued = 0;
        on_engine!(engine, e => e.execute(jobs, timeout, &mut || queued = lanes.lock().jobs.len()));
        batch = lead.gathered_batch(queued + size, gather_wait(started.elapsed()));
    }
    true
}

/// How long the writer thread waits for the next batch to gather: half as
/// long as the last batch took (a durable commit, ~0.3 ms, gathers for
/// ~0.15 ms; a commit without fsync, microseconds), at most 2 ms.
fn gather_wait(last_batch: Duration) -> Duration {
    (last_batch / 2).min(Duration::from_millis(2))
}

pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
