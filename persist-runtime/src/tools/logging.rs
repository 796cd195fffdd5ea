//! Logging for stdio MCP servers that can never hurt the protocol.
//!
//! A stdio server's stdout is the protocol and its stderr is a pipe the
//! client may never read, or close, or point at a full disk. The usual
//! `tracing_subscriber::fmt().init()` turns each of those into an outage:
//! a failed write is reported with `eprintln!`, which panics; an undrained
//! pipe blocks the thread that logs, so the server stops answering. Here a
//! line is formatted on the logging thread and handed to a queue; one
//! writer thread of ours writes the queue to stderr. When the queue is full
//! the line is dropped and counted, a failed write is counted the same way,
//! and nothing ever panics or blocks the server.
//!
//! Why not `tracing-appender`'s `non_blocking`: its worker ignores write
//! errors, but its guard, when the queue stays full for 100 ms at exit (an
//! undrained stderr), reports that with `println!`, on stdout, the protocol
//! stream (and panics if stdout is gone); it also waits up to 1.1 s at exit.

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Lines waiting for stderr at most; beyond, new lines are dropped.
const QUEUE_LINES: usize = 1024;

/// How long flushing (at exit, after an error message) waits for stderr.
const FLUSH_TIMEOUT: Duration = Duration::from_millis(250);

/// The queue of the process, once logging is installed.
static QUEUE: OnceLock<Arc<Queue>> = OnceLock::new();

/// Lines on their way to stderr, shared by the loggers and the writer thread.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<State>,
    /// Wakes the writer thread: lines arrived.
    arrived: Condvar,
    /// Wakes flushers: the writer thread wrote everything it had.
    idle: Condvar,
}

#[derive(Debug, Default)]
struct State {
    lines: VecDeque<Vec<u8>>,
    /// The writer thread holds lines it has not written yet.
    writing: bool,
    /// Lines dropped (queue full or write failed) since the start.
    dropped: u64,
    /// Of those, how many a note on stderr already told about.
    reported: u64,
}

// Without the `logging` feature only `exit_code` is left, and no queue is made.
#[cfg_attr(not(feature = "logging"), allow(dead_code))]
impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `line`, or drops and counts it when the queue is full and
    /// `always` is false. Never waits for stderr.
    fn push(&self, line: &[u8], always: bool) {
        let mut state = self.lock();
        if always || state.lines.len() < QUEUE_LINES {
            state.lines.push_back(line.to_vec());
            drop(state);
            self.arrived.notify_one();
        } else {
            state.dropped = state.dropped.saturating_add(1);
        }
    }

    /// Waits until everything queued is written, at most `timeout`.
    /// Returns whether it was.
    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.writing || !state.lines.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .idle
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The writer thread: takes every queued line, writes them, repeats.
    fn write_forever(&self, out: &mut dyn Write) {
        loop {
            let (lines, unreported) = {
                let mut state = self.lock();
                while state.lines.is_empty() {
                    state.writing = false;
                    self.idle.notify_all();
                    state = self
                        .arrived
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                state.writing = true;
                let unreported = state.dropped - state.reported;
                state.reported = state.dropped;
                (std::mem::take(&mut state.lines), unreported)
            };
            let mut failed = 0u64;
            if unreported > 0 {
                let note = format!(
                    "mcp-persist: {unreported} log line(s) dropped: stderr was full or not writable\n"
                );
                // A failed note is not worth counting: the lines it is about are.
                let _ = out.write_all(note.as_bytes());
            }
            for line in &lines {
                if out.write_all(line).is_err() {
                    failed += 1;
                }
            }
            if failed > 0 {
                let mut state = self.lock();
                state.dropped = state.dropped.saturating_add(failed);
            }
        }
    }
}

/// What the fmt layer writes one formatted event to: the queue.
#[cfg(feature = "logging")]
#[derive(Debug, Clone)]
struct QueueWriter(Arc<Queue>);

#[cfg(feature = "logging")]
impl Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf, false);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.push(buf, false);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "logging")]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for QueueWriter {
    type Writer = QueueWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Keeps the logging of [`init_logging`] flushed: dropping it waits until the
/// queued lines are on stderr, at most 250 ms (an undrained stderr cannot
/// hold up the exit longer). Keep it alive for the whole of `main`:
/// `let _log = init_logging();`.
#[derive(Debug)]
#[must_use = "dropping the guard flushes the logs: bind it for the whole of main, `let _log = init_logging();`"]
pub struct LogGuard {
    queue: Option<Arc<Queue>>,
}

impl LogGuard {
    /// Whether [`init_logging`] installed its subscriber (false when another
    /// global subscriber was installed before; that one is left in place).
    pub fn installed(&self) -> bool {
        self.queue.is_some()
    }

    /// Log lines dropped so far because stderr was full (nobody reading it)
    /// or not writable (closed, a full disk). Each drop is also announced on
    /// stderr with the next line that gets through.
    pub fn dropped(&self) -> u64 {
        self.queue.as_ref().map_or(0, |queue| queue.lock().dropped)
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.flush(FLUSH_TIMEOUT);
        }
    }
}

/// Installs logging to stderr for a stdio MCP server, the one call its `main`
/// needs: `let _log = init_logging();`.
///
/// - **Filter**: `RUST_LOG` (e.g. `RUST_LOG=debug`, `RUST_LOG=my_server=trace`);
///   unset or empty means `info`. The `rmcp` crate stays at `warn` unless
///   `RUST_LOG` names it (`RUST_LOG=info,rmcp=debug`): at `info` it logs every
///   notification with the client's whole description. Invalid directives
///   are ignored and reported in a warning.
/// - **Colours** only when stderr is a terminal and `NO_COLOR` is unset.
/// - **Never blocks the server**: lines are queued (up to 1024) and written by
///   a thread of their own; when stderr does not keep up (a client that never
///   reads the pipe) new lines are dropped, counted ([`LogGuard::dropped`])
///   and announced once stderr takes lines again.
/// - **Never panics**: a failed write (a closed pipe, `/dev/full`) drops the
///   line; nothing is reported with `eprintln!`.
///
/// It cannot fail in a way worth refusing to serve over, so it returns a
/// guard rather than a `Result`: when a global subscriber is already
/// installed (a test harness, the application's own), that one stays and the
/// guard does nothing ([`LogGuard::installed`] is false); when the writer
/// thread cannot be started, nothing is logged.
///
/// Requires the `logging` feature (on by default).
#[cfg(feature = "logging")]
pub fn init_logging() -> LogGuard {
    use tracing_subscriber::layer::SubscriberExt;

    let inert = LogGuard { queue: None };
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(
            "init_logging: a global tracing subscriber is already installed; keeping it"
        );
        return inert;
    }
    let (filter, rejected) = env_filter(std::env::var_os("RUST_LOG"));
    let queue = Arc::new(Queue::default());
    let writer = Arc::clone(&queue);
    let spawned = std::thread::Builder::new()
        .name("mcp-persist-log".to_owned())
        .spawn(move || writer.write_forever(&mut io::stderr()));
    if spawned.is_err() {
        return inert;
    }
    let ansi = io::IsTerminal::is_terminal(&io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(QueueWriter(Arc::clone(&queue)))
        .with_ansi(ansi)
        .log_internal_errors(false);
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        tracing::warn!(
            "init_logging: a global tracing subscriber is already installed; keeping it"
        );
        return inert;
    }
    let _ = QUEUE.set(Arc::clone(&queue));
    for reason in rejected {
        tracing::warn!("RUST_LOG: {reason}");
    }
    LogGuard { queue: Some(queue) }
}

/// The filter for `RUST_LOG` (see [`init_logging`]), and why directives
/// were ignored. `RUST_LOG` is read as `level` and `target=level` directives,
/// comma-separated (a `target` alone means all its levels), with
/// [`Targets`](tracing_subscriber::filter::Targets): no regex engine in every
/// server's build for span and field filters a stdio server has no use for.
#[cfg(feature = "logging")]
fn env_filter(
    var: Option<std::ffi::OsString>,
) -> (tracing_subscriber::filter::Targets, Vec<String>) {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    let mut rejected = Vec::new();
    let spec = match var {
        None => String::new(),
        Some(var) => var.into_string().unwrap_or_else(|var| {
            rejected.push(format!(
                "{:?} is not valid UTF-8; ignored",
                var.to_string_lossy()
            ));
            String::new()
        }),
    };
    let mut default = None;
    let mut targets: Vec<(String, LevelFilter)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (target, level) = match part.split_once('=') {
            Some((target, level)) => (Some(target.trim()), level.trim().parse::<LevelFilter>()),
            None => match part.parse::<LevelFilter>() {
                Ok(level) => (None, Ok(level)),
                Err(_) => (Some(part), Ok(LevelFilter::TRACE)),
            },
        };
        let valid_target = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
        };
        match (target, level) {
            (_, Err(err)) => rejected.push(format!("ignoring `{part}`: {err}")),
            (Some(target), Ok(_)) if !valid_target(target) => rejected.push(format!(
                "ignoring `{part}`: only `level`, `target` and `target=level` directives are read"
            )),
            (Some(target), Ok(level)) => targets.push((target.to_owned(), level)),
            (None, Ok(level)) => default = Some(level),
        }
    }
    if !targets
        .iter()
        .any(|(target, _)| target == "rmcp" || target.starts_with("rmcp::"))
    {
        targets.push(("rmcp".to_owned(), LevelFilter::WARN));
    }
    let filter = Targets::new()
        .with_targets(targets)
        .with_default(default.unwrap_or(LevelFilter::INFO));
    (filter, rejected)
}

/// Ends `main` with `result`: on an error, writes `error: <message>` (its
/// `Display` form, not `Debug`) to stderr and returns a failure exit code.
///
/// Unlike returning the `Result` from `main`, which prints the error's
/// `Debug` form with `eprintln!` (a panic when stderr is closed or full),
/// a failed write is ignored, and with [`init_logging`] installed the
/// message goes through its queue, so an undrained stderr cannot hang the
/// exit.
///
/// ```no_run
/// use std::process::ExitCode;
/// // `mcp_persist::tools` re-exports these.
/// use persist_runtime::tools::{exit_code, init_logging};
///
/// fn main() -> ExitCode {
///     let _log = init_logging();
///     exit_code(run())
/// }
///
/// fn run() -> Result<(), persist_runtime::Error> {
///     let store = persist_runtime::Store::open("my-server")?;
///     // ... serve ...
///     # drop(store);
///     Ok(())
/// }
/// ```
pub fn exit_code<E: Display>(result: Result<(), E>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    let message = format!("error: {error}\n");
    match QUEUE.get() {
        Some(queue) => {
            queue.push(message.as_bytes(), true);
            queue.flush(FLUSH_TIMEOUT);
        }
        None => {
            let _ = io::stderr().write_all(message.as_bytes());
        }
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write, like a closed pipe.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let queue = Queue::default();
        for _ in 0..QUEUE_LINES + 10 {
            queue.push(b"x\n", false);
        }
        let state = queue.lock();
        assert_eq!(state.lines.len(), QUEUE_LINES);
        assert_eq!(state.dropped, 10);
    }

    #[test]
    fn failed_writes_are_counted_not_fatal() {
        let queue = Arc::new(Queue::default());
        let writer = Arc::clone(&queue);
        std::thread::spawn(move || writer.write_forever(&mut Broken));
        queue.push(b"a\n", false);
        queue.push(b"b\n", false);
        assert!(
            queue.flush(Duration::from_secs(10)),
            "the writer thread stopped"
        );
        assert_eq!(queue.lock().dropped, 2);
    }

    #[cfg(feature = "logging")]
    #[test]
    fn rust_log_directives() {
        use tracing_subscriber::filter::LevelFilter;
        let level = |filter: &tracing_subscriber::filter::Targets, target: &str| {
            [
                LevelFilter::TRACE,
                LevelFilter::DEBUG,
                LevelFilter::INFO,
                LevelFilter::WARN,
                LevelFilter::ERROR,
            ]
            .into_iter()
            .find(|level| {
                level
                    .into_level()
                    .is_some_and(|level| filter.would_enable(target, &level))
            })
            .unwrap_or(LevelFilter::OFF)
        };
        let (filter, rejected) = env_filter(None);
        assert_eq!(
            (level(&filter, "app"), level(&filter, "rmcp::service")),
            (LevelFilter::INFO, LevelFilter::WARN)
        );
        assert!(rejected.is_empty());
        let (filter, rejected) = env_filter(Some("debug,rmcp=trace,my_app::db".into()));
        assert_eq!(level(&filter, "app"), LevelFilter::DEBUG);
        assert_eq!(level(&filter, "rmcp"), LevelFilter::TRACE);
        assert_eq!(level(&filter, "my_app::db::pool"), LevelFilter::TRACE);
        assert!(rejected.is_empty());
        let (filter, rejected) = env_filter(Some("warn,a=b=c,[span]=debug".into()));
        assert_eq!(level(&filter, "app"), LevelFilter::WARN);
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert!(rejected[0].contains("a=b=c"), "{rejected:?}");
        assert!(rejected[1].contains("[span]"), "{rejected:?}");
    }
}
