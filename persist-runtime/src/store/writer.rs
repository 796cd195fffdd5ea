//! The writer thread: owns every write transaction of the process and
//! group-commits what callers send it.
//!
//! Callers send jobs; the thread takes the first job and everything queued
//! behind it (up to [`MAX_BATCH`]), runs each job in a nested transaction of
//! one write transaction, and commits once: one fsync for the whole batch.
//! A job that fails is rolled back alone and told so at once; the others are
//! answered after the commit, so an `Ok` means durable. Write transactions are
//! created and committed on this thread only (LMDB requires it).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use heed::{MdbError, RwTxn};

use super::lmdb::Shared;
use crate::error::{Error, Result};

/// Name of the thread that owns every write transaction.
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

/// The sending side of the writer thread; dropping it stops the thread.
pub(crate) struct Writer {
    tx: Option<Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(shared: Arc<Shared>) -> Result<Self> {
        let (tx, rx) = channel::<Box<dyn Job>>();
        let path = shared.path.clone();
        let thread = std::thread::Builder::new()
            .name(WRITER_THREAD.into())
            .spawn(move || run(&shared, &rx))
            .map_err(|source| Error::Io { path, source })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, job: Box<dyn Job>) -> Result<()> {
        let gone = || Error::WriterGone("the writer thread has stopped".into());
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())
    }

    /// Runs `f` on the writer thread and waits, blocking, for the commit.
    pub fn write_blocking<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, rx) = sync_channel(1);
        self.send(Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Blocking(tx),
        }))?;
        rx.recv()
            .map_err(|_| Error::WriterGone("the writer dropped a write".into()))?
    }

    /// Queues `f` without waiting for it; a failure is logged as `what`.
    pub fn write_detached(&self, what: &'static str, f: WriteFn<()>) {
        let job = Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Detached(what),
        });
        if let Err(err) = self.send(job) {
            tracing::warn!(%err, "{what} could not be queued");
        }
    }

    /// Runs `f` on the writer thread; the future resolves after the commit.
    /// Dropping the future does not cancel a write already sent.
    pub async fn write<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Box::new(TypedJob {
            f,
            out: None,
            reply: Reply::Async(tx),
        }))?;
        rx.await
            .map_err(|_| Error::WriterGone("the writer dropped a write".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the mcp-persist writer thread panicked");
        }
    }
}

fn run(shared: &Shared, rx: &Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        execute(shared, batch);
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
    // (heed issue #339): write transactions only ever live on this thread.
    debug_assert_eq!(std::thread::current().name(), Some(WRITER_THREAD));
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
