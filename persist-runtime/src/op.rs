//! Operations: what every generated accessor returns.
//!
//! An accessor does not run anything by itself: it returns an operation,
//! which you either `.await` (in async code) or run with `.blocking()` (in
//! sync code: a CLI, a test, a thread of your own). One shape for every
//! accessor and every backend, so there is no `_blocking` twin of each
//! method to look for.
//!
//! ```text
//! note.save(&store).blocking()?;                          // sync code
//! note.save(&store).ttl(Ttl::After(an_hour)).await?;      // async code, with a TTL
//! let found = Note::load(&store, "todo").await?;           // Option<Note>
//! ```
//!
//! (The crate root of `mcp-persist` has the same as a compiled example.)
//!
//! Why one awaitable value rather than `async fn` plus a blocking twin:
//! each accessor exists once, options such as a save's [`Ttl`] are methods
//! of the operation instead of more accessors, and the same code reads well
//! in both worlds. Nothing runs until the operation is awaited or run, so an
//! operation built before a write and run after it sees that write.
//!
//! - A [`Read`] on the embedded store takes microseconds and never waits for
//!   a writer: awaited, it runs on the awaiting task's thread when first
//!   polled (no hand-off, no allocation), exactly as `.blocking()` does.
//! - A [`Write`] (and a [`Save`]) awaited never blocks the runtime on a
//!   commit: the store's writer thread commits it, and the future resolves
//!   once it is durable. `.blocking()` commits on the calling thread when no
//!   batch is running, and waits otherwise.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::envelope::Header;
use crate::error::Result;
use crate::key::ReadKey;
use crate::persisted::Persisted;
use crate::place::Place;
use crate::records::{ListOptions, Ttl};
use crate::spec::Kind;
use crate::store::{Store, WriteFn};

/// A read of the store, not yet run: `.await` it, or call
/// [`blocking`](Read::blocking). See [the module](self).
#[must_use = "a read does nothing until it is awaited or run with .blocking()"]
pub struct Read<'s, R> {
    at: Place<'s>,
    query: Query<R>,
}

/// What a read looks up, with the function that does it.
enum Query<R> {
    /// One record, by key (the key's rendering may have failed).
    Key(Result<ReadKey>, fn(&Store, &str) -> Result<R>),
    /// A page of a listing.
    Page(ListOptions, fn(Place<'_>, &ListOptions) -> Result<R>),
    /// The newest items of a list, at most this many.
    Recent(usize, fn(Place<'_>, usize) -> Result<R>),
}

impl<'s, R> Read<'s, R> {
    /// A read of the record at `key` (rendered under the scope of `at`).
    pub(crate) fn key(
        at: Place<'s>,
        key: Result<ReadKey>,
        run: fn(&Store, &str) -> Result<R>,
    ) -> Self {
        Self {
            at,
            query: Query::Key(key, run),
        }
    }

    /// A read of a page of records.
    pub(crate) fn page(
        at: Place<'s>,
        options: ListOptions,
        run: fn(Place<'_>, &ListOptions) -> Result<R>,
    ) -> Self {
        Self {
            at,
            query: Query::Page(options, run),
        }
    }

    /// A read of the newest `limit` items of a list.
    pub(crate) fn recent(
        at: Place<'s>,
        limit: usize,
        run: fn(Place<'_>, usize) -> Result<R>,
    ) -> Self {
        Self {
            at,
            query: Query::Recent(limit, run),
        }
    }

    /// Runs the read on this thread and returns what it found.
    pub fn blocking(self) -> Result<R> {
        match self.query {
            Query::Key(key, run) => run(self.at.store, key?.as_str()),
            Query::Page(options, run) => run(self.at, &options),
            Query::Recent(limit, run) => run(self.at, limit),
        }
    }
}

impl<R: Send + 'static> IntoFuture for Read<'_, R> {
    type Output = Result<R>;
    type IntoFuture = ReadFuture<R>;

    /// Runs the read when awaited (see [the module](self)): on the
    /// awaiting thread on the embedded store; on a store behind a network
    /// (Redis), on tokio's blocking pool, so that waiting for the server
    /// never holds a runtime thread.
    fn into_future(self) -> Self::IntoFuture {
        if !self.at.store.reads_wait_on_network() {
            return ReadFuture(ReadState::Ready(Some(self.blocking())));
        }
        let store = self.at.store.clone();
        let scope = self.at.scope.cloned();
        let query = self.query;
        let run = move || {
            let at = Place {
                store: &store,
                scope: scope.as_ref(),
            };
            Read { at, query }.blocking()
        };
        ReadFuture(ReadState::Handed(Box::pin(off_runtime(run))))
    }
}

/// Runs `f` with `store` the way every read of this crate runs when
/// awaited: at once on the embedded store (its reads take microseconds, in
/// memory), on tokio's blocking pool on a store behind a network, so that
/// waiting for a server never holds a runtime thread (nor, on a
/// `current_thread` runtime, every other request). Tool calls, resources
/// and watchers read through it, as [`Read`] does.
pub(crate) async fn read_with<R: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<R> + Send + 'static,
) -> Result<R> {
    if !store.reads_wait_on_network() {
        return f(store);
    }
    let store = store.clone();
    off_runtime(move || f(&store)).await
}

/// Runs `f` on tokio's blocking pool (on this thread outside a tokio
/// runtime): for calls that wait on a server.
async fn off_runtime<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(f)
            .await
            .map_err(|err| crate::Error::Panicked(err.to_string()))?,
        Err(_) => f(),
    }
}

/// The future of an awaited [`Read`]: ready at once on the embedded store,
/// a hand-off to the blocking pool on a store behind a network.
#[must_use = "futures do nothing unless polled"]
pub struct ReadFuture<R>(ReadState<R>);

enum ReadState<R> {
    Ready(Option<Result<R>>),
    Handed(Pin<Box<dyn Future<Output = Result<R>> + Send>>),
}

impl<R> Unpin for ReadFuture<R> {}

impl<R> Future for ReadFuture<R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            ReadState::Ready(result) => match result.take() {
                Some(result) => Poll::Ready(result),
                None => Poll::Ready(Err(crate::Error::Panicked(
                    "a read future was polled after it completed".into(),
                ))),
            },
            ReadState::Handed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<R> std::fmt::Debug for ReadFuture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadFuture(..)")
    }
}

/// A write to the store, not yet run: `.await` it, or call
/// [`blocking`](Write::blocking). Either way it returns once the write is
/// committed (durable, under the default [`Durability`](crate::Durability)).
/// See [the module](self).
#[must_use = "a write does nothing until it is awaited or run with .blocking()"]
pub struct Write<'s, R> {
    store: &'s Store,
    job: Result<WriteFn<R>>,
}

impl<'s, R: Send + 'static> Write<'s, R> {
    /// A write that runs `job` (or fails with the error of building it).
    pub(crate) fn new(store: &'s Store, job: Result<WriteFn<R>>) -> Self {
        Self { store, job }
    }

    /// Runs the write and waits, blocking this thread, for its commit.
    pub fn blocking(self) -> Result<R> {
        self.store.write_blocking(self.job?)
    }
}

impl<'s, R: Send + 'static> IntoFuture for Write<'s, R> {
    type Output = Result<R>;
    type IntoFuture = Pending<'s, R>;

    /// Queues the write for the store's writer thread when first polled.
    /// Dropping the future before then writes nothing; dropping it after
    /// does not cancel the write.
    fn into_future(self) -> Self::IntoFuture {
        Pending(Box::pin(self.store.submit(self.job)))
    }
}

/// A save of a value (a list's push): a [`Write`] whose [`Ttl`] can be
/// chosen. `.await` it, or call [`blocking`](Save::blocking).
#[must_use = "a save does nothing until it is awaited or run with .blocking()"]
pub struct Save<'s, T> {
    at: Place<'s>,
    value: &'s T,
    ttl: Ttl,
}

impl<'s, T: Persisted> Save<'s, T> {
    /// A save of `value` with the type's own `ttl`.
    pub(crate) fn new(at: Place<'s>, value: &'s T) -> Self {
        Self {
            at,
            value,
            ttl: Ttl::Default,
        }
    }

    /// How long the saved record lives, overriding the type's `ttl` (see
    /// [`Ttl`] for how later writes keep it).
    pub fn ttl(mut self, ttl: Ttl) -> Self {
        self.ttl = ttl;
        self
    }

    /// The write, answering the header it stored: encoding the value
    /// happens here, on the caller's thread.
    fn write(self) -> Write<'s, Header> {
        let job = match T::SPEC.kind {
            Kind::List { .. } => crate::list::push_job(self.value, self.at.scope, self.ttl),
            Kind::Singleton | Kind::Keyed => {
                crate::records::save_job(self.value, self.at.scope, self.ttl)
            }
        };
        Write::new(self.at.store, job)
    }

    /// Saves, blocking this thread until the write is committed.
    pub fn blocking(self) -> Result<()> {
        self.write().blocking().map(drop)
    }
}

impl<'s, T: Persisted> IntoFuture for Save<'s, T> {
    type Output = Result<()>;
    type IntoFuture = Pending<'s, ()>;

    /// Encodes the value now; queues the write when first polled (see
    /// [`Write::into_future`]).
    fn into_future(self) -> Self::IntoFuture {
        let Write { store, job } = self.write();
        Pending(Box::pin(async move { store.submit(job).await.map(drop) }))
    }
}

impl Store {
    /// Deletes every expired record now and returns how many there were:
    /// an operation, `.await` it or run it with `.blocking()`. The background
    /// sweeper does the same periodically. Each chunk of 1,000 records is its
    /// own transaction, so writers of this and other processes are not held
    /// up for the whole sweep.
    pub fn sweep_expired(&self) -> Sweep<'_> {
        Sweep { store: self }
    }
}

/// A sweep of the store's expired records ([`Store::sweep_expired`]), not
/// yet run: `.await` it, or call [`blocking`](Sweep::blocking). Either way it
/// returns how many records it deleted.
#[must_use = "a sweep does nothing until it is awaited or run with .blocking()"]
pub struct Sweep<'s> {
    store: &'s Store,
}

impl Sweep<'_> {
    /// Sweeps, blocking this thread until every chunk is committed.
    pub fn blocking(self) -> Result<usize> {
        self.store.sweep_blocking()
    }
}

impl<'s> IntoFuture for Sweep<'s> {
    type Output = Result<usize>;
    type IntoFuture = Pending<'s, usize>;

    /// Queues the sweep's chunks for the store's writer thread, one after
    /// the other, from the first poll on.
    fn into_future(self) -> Self::IntoFuture {
        Pending(Box::pin(self.store.sweep_async()))
    }
}

/// The future of an awaited [`Write`], [`Save`] or [`Sweep`]: resolves once the write
/// is committed. It is `Send`, whatever the write's closure captured.
#[must_use = "futures do nothing unless polled"]
pub struct Pending<'s, R>(Pin<Box<dyn Future<Output = Result<R>> + Send + 's>>);

impl<R> Future for Pending<'_, R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl<R> std::fmt::Debug for Pending<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending(..)")
    }
}
