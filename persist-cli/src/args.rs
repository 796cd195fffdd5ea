//! The command line: global options and subcommands, as clap parses them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// See, fix, back up and move the store of an MCP server built with mcp-persist.
#[derive(Parser)]
#[command(name = "mcp-persist", version)]
pub struct Cli {
    #[command(flatten)]
    pub select: Select,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// One user's records (of types declared `scope = "user"`): keys, get,
    /// set, delete and export then take and show keys within that user's,
    /// and erase deletes them all.
    #[arg(long, global = true, value_name = "USER")]
    pub scope: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Which store, and its keys.
#[derive(Args)]
pub struct Select {
    /// The application name given to `Store::open` (honours MCP_PERSIST_DIR,
    /// and MCP_PERSIST_URL as a server would).
    #[arg(long, global = true, conflicts_with = "dir")]
    pub app: Option<String>,
    /// The store's directory.
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// The Redis server of the store (`redis://[:password@]host:port/db`),
    /// with --app naming the application on it.
    #[arg(long, global = true, conflicts_with = "dir", requires = "app")]
    pub url: Option<String>,
    /// The store's encryption keys (`id:base64` lines, owner-only; the first
    /// seals writes). Default: MCP_PERSIST_KEY_FILE, as servers read it.
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Print where the store lives.
    Path,
    /// List keys with scope (the user of a per-user record), namespace,
    /// size, updated time and time to expiry.
    Keys {
        /// Only keys starting with this (e.g. `progress:`; within the user's
        /// keys with --scope).
        prefix: Option<String>,
        /// At most this many keys.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Print a record's value as JSON.
    Get {
        /// The full key, `namespace:key`.
        key: String,
        /// Print the whole envelope (version, timestamps, expiry, data).
        #[arg(long)]
        raw: bool,
    },
    /// Store a JSON value at a key (keeps the record's schema version).
    Set {
        /// The full key, `namespace:key`.
        key: String,
        /// The JSON value, or `-` to read it from stdin.
        #[arg(value_name = "JSON")]
        value: String,
        /// Expire after this long (e.g. 90s, 15m, 1h, 7d).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
    },
    /// Delete a record.
    Delete {
        /// The full key, `namespace:key`.
        key: String,
    },
    /// Purge expired records now and print how many.
    Sweep,
    /// Write every record (one user's, with --scope) as JSON Lines (to
    /// FILE, or stdout): what `import` takes back. Encrypted records are
    /// written sealed, as stored, unless --decrypted.
    ///
    /// FILE is replaced only once the export is complete and on disk: it is
    /// written to a temporary file next to it (owner-only), synced, then
    /// renamed over FILE. On failure FILE is left as it was.
    Export {
        /// Output file; stdout when absent.
        file: Option<PathBuf>,
        /// Write encrypted records opened, values in clear (needs the keys).
        #[arg(long)]
        decrypted: bool,
    },
    /// Import JSON Lines from `export`, all or nothing.
    Import {
        /// The file to import (`-` for stdin).
        file: PathBuf,
        /// Report what would change; write nothing (and create no store).
        #[arg(long)]
        dry_run: bool,
        /// Create the store if there is none yet (moving a store to a new machine).
        #[arg(long)]
        create: bool,
    },
    /// Hot, compacted copy of the store into an empty directory.
    Backup {
        /// The destination directory.
        dest: PathBuf,
    },
    /// Records and bytes per namespace, file and map size, expired records not purged.
    Stats,
    /// Read every record and report those whose envelope does not decode. Changes nothing.
    Check,
    /// Make a new encryption key: print its `id:base64` line, or put it first
    /// in FILE (created owner-only; in an existing key file the older keys
    /// stay, to read what they sealed: a rotation). Then `rekey`.
    Keygen {
        /// The key's id, stored in every record it seals (default: the time, `k` + seconds since the epoch).
        #[arg(long)]
        id: Option<String>,
        /// The key file to create or to rotate.
        file: Option<PathBuf>,
    },
    /// Seal every record under the current (first) key of --key-file:
    /// records of older keys and plain ones, in batches while servers run.
    Rekey,
    /// Delete every record of the user given by --scope, for good (a
    /// user's right to erasure; `export --scope` first for their copy).
    Erase {
        /// Do not ask: erase (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

impl Command {
    /// Whether the command works on keys that `--scope` can narrow.
    pub fn takes_scope(&self) -> bool {
        matches!(
            self,
            Command::Keys { .. }
                | Command::Get { .. }
                | Command::Set { .. }
                | Command::Delete { .. }
                | Command::Export { .. }
                | Command::Erase { .. }
        )
    }
}
