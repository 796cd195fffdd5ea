//! The storage layer on its own: run it twice and it remembers.
//!
//! ```text
//! cargo run --example visits
//! cargo run --example visits   # "run 2", the last run's time, and the history
//! ```
//!
//! Data lives in the platform data directory of the app `mcp-persist-visits`
//! (or under `$MCP_PERSIST_DIR`).

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use mcp_persist::tools::exit_code;
use mcp_persist::{Store, persisted};

/// How often this program ran.
#[persisted(key = "visits")]
#[derive(Debug, Default)]
struct Visits {
    runs: u64,
    last_run_unix: u64,
}

/// A bounded history of the runs' arguments, newest first.
#[persisted(key = "history", list, max_len = 5, ttl = "7d")]
#[derive(Debug)]
struct Invocation {
    args: Vec<String>,
}

fn main() -> ExitCode {
    exit_code(run())
}

fn run() -> Result<(), mcp_persist::Error> {
    let store = Store::open("mcp-persist-visits")?;
    // A closed stderr is no reason to fail: ignore the write's result.
    let _ = writeln!(std::io::stderr(), "store: {}", store.location());

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = Visits::load_or_default(&store).blocking()?;
    let visits = Visits::update_or_default(&store, move |v| {
        v.runs += 1;
        v.last_run_unix = now;
    })
    .blocking()?;
    Invocation {
        args: std::env::args().skip(1).collect(),
    }
    .push(&store)
    .blocking()?;

    println!("run {}", visits.runs);
    if before.runs > 0 {
        println!("previous run at unix time {}", before.last_run_unix);
    }
    for (i, inv) in Invocation::recent(&store, 5).blocking()?.iter().enumerate() {
        println!("history[{i}]: {:?}", inv.args);
    }
    Ok(())
}
