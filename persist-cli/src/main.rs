//! `mcp-persist`: see, fix, back up and move the store of an MCP server.
//!
//! Works while servers have the store open (LMDB is multi-process). Exit
//! codes: 0 success, 1 not found (a key, a store), 2 any other failure.

mod output;

use std::ffi::OsString;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use persist_runtime::admin::{ImportBatch, RawRecord};
use persist_runtime::{
    DIR_ENV_VAR, EncryptionKey, Error, Keyring, Scope, Store, StoreBuilder, URL_ENV_VAR,
    resolve_dir,
};
use serde_json::{Value, json};

use output::{Out, human_size, time_to_expiry};

/// See, fix, back up and move the store of an MCP server built with mcp-persist.
#[derive(Parser)]
#[command(name = "mcp-persist", version)]
struct Cli {
    #[command(flatten)]
    select: Select,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// One user's records (of types declared `scope = "user"`): keys, get,
    /// set, delete and export then take and show keys within that user's,
    /// and erase deletes them all.
    #[arg(long, global = true, value_name = "USER")]
    scope: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Select {
    /// The application name given to `Store::open` (honours MCP_PERSIST_DIR,
    /// and MCP_PERSIST_URL as a server would).
    #[arg(long, global = true, conflicts_with = "dir")]
    app: Option<String>,
    /// The store's directory.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// The Redis server of the store (`redis://[:password@]host:port/db`),
    /// with --app naming the application on it.
    #[arg(long, global = true, conflicts_with = "dir", requires = "app")]
    url: Option<String>,
    /// The store's encryption keys (`id:base64` lines, owner-only; the first
    /// seals writes). Default: MCP_PERSIST_KEY_FILE, as servers read it.
    #[arg(long, global = true, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
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

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            code: 2,
            message: err.to_string(),
        }
    }
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out { json: cli.json };
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mcp-persist: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Where the selected store is.
enum Target {
    /// A directory, and how it was resolved, in words.
    Dir(PathBuf, String),
    /// An application on a Redis server.
    Server { url: String, app: String },
}

/// The selected store, as `Store::open` would find it.
fn locate(select: &Select) -> Result<Target, Failure> {
    let from_env = || {
        std::env::var(URL_ENV_VAR)
            .ok()
            .filter(|url| !url.is_empty())
    };
    match (&select.app, &select.dir) {
        (_, Some(dir)) => Ok(Target::Dir(dir.clone(), format!("--dir {}", dir.display()))),
        (Some(app), None) => {
            if let Some(url) = select.url.clone().or_else(from_env) {
                return Ok(Target::Server {
                    url,
                    app: app.clone(),
                });
            }
            let dir = resolve_dir(app)?;
            let how = match std::env::var_os(DIR_ENV_VAR).filter(|v| !v.is_empty()) {
                Some(base) => format!("--app {app} under {DIR_ENV_VAR}={}", base.to_string_lossy()),
                None => {
                    format!("--app {app} in the platform data directory ({DIR_ENV_VAR} is not set)")
                }
            };
            Ok(Target::Dir(dir, how))
        }
        (None, None) => Err(fail(
            2,
            "select a store with --app NAME, --dir PATH or --url URL --app NAME",
        )),
    }
}

/// Opens an existing store; never creates a directory (a server's
/// application holds nothing until written to, and is opened as it is).
fn open(select: &Select) -> Result<Store, Failure> {
    match locate(select)? {
        Target::Dir(dir, how) => {
            if !has_store(&dir) {
                return Err(no_store(&dir, &how, ""));
            }
            open_at(select, &dir)
        }
        Target::Server { url, app } => connect(select, &url, &app),
    }
}

/// Connects to the application `app` on the server at `url`, without a
/// background sweeper.
fn connect(select: &Select, url: &str, app: &str) -> Result<Store, Failure> {
    Ok(builder(select)?.connect(url, app)?)
}

/// How the CLI opens stores: no background sweeper; the keys of
/// `--key-file` (else `MCP_PERSIST_KEY_FILE`, which the store reads itself).
fn builder(select: &Select) -> Result<StoreBuilder, Failure> {
    let builder = Store::builder().sweep_interval(None);
    Ok(match &select.key_file {
        Some(path) => builder.encryption(Keyring::from_file(path)?),
        None => builder,
    })
}

/// The import file (`-`: stdin), read and checked whole.
fn read_batch(file: &Path) -> Result<ImportBatch, Failure> {
    if file.as_os_str() == "-" {
        return Ok(ImportBatch::parse(&mut std::io::stdin().lock())?);
    }
    let f = std::fs::File::open(file)
        .map_err(|e| fail(2, format!("cannot open {}: {e}", file.display())))?;
    Ok(ImportBatch::parse(&mut BufReader::new(f))?)
}

/// Whether `dir` holds a store.
fn has_store(dir: &Path) -> bool {
    dir.join("data.mdb").is_file()
}

/// Opens (or creates) the store in `dir`, without a background sweeper.
fn open_at(select: &Select, dir: &Path) -> Result<Store, Failure> {
    Ok(builder(select)?.open_at(dir)?)
}

/// "No store at DIR", with how DIR was found and `hint`.
fn no_store(dir: &Path, how: &str, hint: &str) -> Failure {
    fail(
        1,
        format!("no store at {} (resolved from {how}){hint}", dir.display()),
    )
}

fn run(cli: Cli, out: &Out) -> Result<(), Failure> {
    let scope = cli.scope.as_deref().map(Scope::new).transpose()?;
    if scope.is_some() && !takes_scope(&cli.command) {
        return Err(fail(
            2,
            "--scope applies to keys, get, set, delete, export and erase",
        ));
    }
    // Keys as given on the command line and as stored: under --scope, the
    // user's prefix is added to what is given and taken off what is shown.
    let user_prefix = scope.as_ref().map_or("", Scope::key_prefix);
    let stored = |key: &str| format!("{user_prefix}{key}");
    match cli.command {
        Command::Path => match locate(&cli.select)? {
            Target::Dir(dir, how) => out.value(
                &json!({"path": dir, "resolved_from": how}),
                &dir.display().to_string(),
            ),
            Target::Server { url, app } => {
                let store = connect(&cli.select, &url, &app)?;
                out.value(&json!({"url": store.url(), "app": app}), store.location());
            }
        },
        Command::Keys { prefix, limit } => {
            let store = open(&cli.select)?;
            let now = now_ms();
            let records = store
                .admin()
                .scan(&stored(prefix.as_deref().unwrap_or("")), limit)?;
            let shown = |r: &RawRecord| r.key[user_prefix.len()..].to_owned();
            let who = |r: &RawRecord| r.scope().unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| match &r.header {
                    Ok(h) => vec![
                        who(r),
                        shown(r),
                        r.namespace().to_owned(),
                        human_size(r.size as u64),
                        persist_runtime::admin::format_ms(h.updated_ms),
                        time_to_expiry(h.expires_ms, now),
                    ],
                    Err(why) => vec![
                        who(r),
                        shown(r),
                        r.namespace().to_owned(),
                        human_size(r.size as u64),
                        format!("undecodable: {why}"),
                        String::new(),
                    ],
                })
                .collect();
            let json: Vec<Value> = records
                .iter()
                .map(|r| {
                    json!({
                        "key": shown(r), "stored_key": r.key, "scope": r.scope(),
                        "namespace": r.namespace(), "size": r.size,
                        "header": r.header.as_ref().ok(), "error": r.header.as_ref().err(),
                    })
                })
                .collect();
            out.table(
                &["SCOPE", "KEY", "NAMESPACE", "SIZE", "UPDATED", "EXPIRES IN"],
                &rows,
                &Value::Array(json),
            );
        }
        Command::Get { key, raw } => {
            let store = open(&cli.select)?;
            let envelope = store
                .admin()
                .get_envelope(&stored(&key))?
                .ok_or_else(|| fail(1, format!("no record at key {key:?}{}", of(&scope))))?;
            let expired = envelope["e"].as_u64().is_some_and(|e| e <= now_ms());
            if expired && !raw {
                return Err(fail(
                    1,
                    format!("the record at {key:?} has expired (use --raw to see it)"),
                ));
            }
            let shown = if raw { &envelope } else { &envelope["d"] };
            println!(
                "{}",
                serde_json::to_string_pretty(shown).unwrap_or_default()
            );
        }
        Command::Set { key, value, ttl } => {
            let store = open(&cli.select)?;
            let text = if value == "-" {
                let mut buf = String::new();
                std::io::stdin()
                    .read_to_string(&mut buf)
                    .map_err(|e| fail(2, format!("cannot read stdin: {e}")))?;
                buf
            } else {
                value
            };
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                fail(
                    2,
                    format!(
                        "invalid JSON at line {}, column {}: {e}; nothing was written",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            store.admin().put_json(&stored(&key), &value, ttl)?;
            out.done(&json!({"set": key}), &format!("set {key}{}", of(&scope)));
        }
        Command::Delete { key } => {
            let store = open(&cli.select)?;
            if !store.admin().delete_raw(&stored(&key))? {
                return Err(fail(1, format!("no record at key {key:?}{}", of(&scope))));
            }
            out.done(
                &json!({"deleted": key}),
                &format!("deleted {key}{}", of(&scope)),
            );
        }
        Command::Sweep => {
            let store = open(&cli.select)?;
            let purged = store.sweep_expired().blocking()?;
            out.done(
                &json!({"purged": purged}),
                &format!("purged {purged} expired records"),
            );
        }
        Command::Export { file, decrypted } => {
            let store = open(&cli.select)?;
            if decrypted && !store.is_encrypted() {
                return Err(fail(
                    2,
                    "--decrypted needs the store's keys (--key-file or MCP_PERSIST_KEY_FILE)",
                ));
            }
            let mut progress = progress_reporter("exported");
            let export = Export {
                prefix: user_prefix,
                decrypted,
            };
            let n = match &file {
                Some(path) => export_to_file(&store, &export, path, &mut progress)?,
                None => export.run(&store, &mut std::io::stdout().lock(), &mut progress)?,
            };
            if file.is_some() || std::io::stderr().is_terminal() {
                eprintln!("exported {n} records{}", of(&scope));
            }
        }
        Command::Import {
            file,
            dry_run,
            create,
        } => {
            let (dir, how) = match locate(&cli.select)? {
                Target::Dir(dir, how) => (dir, how),
                Target::Server { url, app } => {
                    let batch = read_batch(&file)?;
                    let report = connect(&cli.select, &url, &app)?
                        .admin()
                        .import(batch, dry_run)?;
                    out.imported(&report, dry_run);
                    return Ok(());
                }
            };
            let exists = has_store(&dir);
            if !exists && !create {
                return Err(no_store(
                    &dir,
                    &how,
                    "; to create one and import into it, add --create",
                ));
            }
            // The whole file is read and checked before any store is created.
            let batch = read_batch(&file)?;
            let report = if exists {
                open_at(&cli.select, &dir)?.admin().import(batch, dry_run)?
            } else if dry_run {
                eprintln!("would create a new store at {}", dir.display());
                batch.report_on_empty()
            } else {
                let store = open_at(&cli.select, &dir)?;
                eprintln!("created a new store at {}", dir.display());
                store.admin().import(batch, false).map_err(|err| {
                    fail(
                        2,
                        format!(
                            "{err} (the store just created at {} holds nothing)",
                            dir.display()
                        ),
                    )
                })?
            };
            out.imported(&report, dry_run);
        }
        Command::Backup { dest } => {
            let store = open(&cli.select)?;
            store.admin().backup_to(&dest)?;
            out.done(
                &json!({"backup": dest}),
                &format!("backed up to {}", dest.display()),
            );
        }
        Command::Stats => {
            let store = open(&cli.select)?;
            let stats = store.admin().stats()?;
            let mut rows: Vec<Vec<String>> = stats
                .namespaces
                .iter()
                .map(|(ns, s)| vec![ns.clone(), s.records.to_string(), human_size(s.bytes)])
                .collect();
            for (what, bytes) in [("(file)", stats.file_bytes), ("(map)", stats.map_bytes)] {
                if let Some(bytes) = bytes {
                    rows.push(vec![what.into(), String::new(), human_size(bytes)]);
                }
            }
            rows.push(vec![
                "(expired, not purged)".into(),
                stats.expired_pending.to_string(),
                String::new(),
            ]);
            for (key_id, n) in &stats.sealed {
                rows.push(vec![
                    format!("(sealed with key {key_id})"),
                    n.to_string(),
                    String::new(),
                ]);
            }
            let json = serde_json::to_value(&stats).unwrap_or(Value::Null);
            out.table(&["NAMESPACE", "RECORDS", "BYTES"], &rows, &json);
        }
        Command::Check => {
            let store = open(&cli.select)?;
            let bad = store.admin().check()?;
            let rows: Vec<Vec<String>> = bad
                .iter()
                .map(|(k, why)| vec![k.clone(), why.clone()])
                .collect();
            let json: Vec<Value> = bad
                .iter()
                .map(|(k, why)| json!({"key": k, "error": why}))
                .collect();
            out.table(&["KEY", "PROBLEM"], &rows, &Value::Array(json));
            if !bad.is_empty() {
                return Err(fail(2, format!("{} records do not decode", bad.len())));
            }
        }
        Command::Keygen { id, file } => keygen(id, file.as_deref(), out)?,
        Command::Rekey => {
            let store = open(&cli.select)?;
            let mut progress = progress_reporter("looked at");
            let report = store.admin().rekey(&mut progress)?;
            out.done(
                &serde_json::to_value(report).unwrap_or(Value::Null),
                &format!(
                    "sealed {} records anew under key {:?}; {} were already; {} left as they \
                     are (they do not decode: see `check`)",
                    report.resealed,
                    store.admin().current_key_id().unwrap_or_default(),
                    report.current,
                    report.skipped
                ),
            );
        }
        Command::Erase { yes } => {
            let scope = scope.ok_or_else(|| fail(2, "erase needs --scope USER: whose records"))?;
            let store = open(&cli.select)?;
            let count = store.admin().raw_keys(scope.key_prefix())?.len();
            if count == 0 {
                return Err(fail(1, format!("no records of user {:?}", scope.as_str())));
            }
            if !yes {
                confirm_erase(&scope, count)?;
            }
            let erased = store.admin().erase_scope(&scope)?;
            out.done(
                &json!({"erased": erased, "scope": scope.as_str()}),
                &format!("erased {erased} records of user {:?}", scope.as_str()),
            );
        }
    }
    Ok(())
}

/// Writes the export to a temporary file next to `path` (owner-only from
/// creation), syncs it and renames it over `path`. On any failure the
/// temporary file is removed and `path` is left as it was.
/// What an export writes: the records under `prefix`, sealed ones as
/// stored unless `decrypted`.
struct Export<'p> {
    prefix: &'p str,
    decrypted: bool,
}

impl Export<'_> {
    fn run(
        &self,
        store: &Store,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> persist_runtime::Result<usize> {
        let admin = store.admin();
        if self.decrypted {
            admin.export_jsonl_decrypted(self.prefix, out, progress)
        } else {
            admin.export_jsonl(self.prefix, out, progress)
        }
    }
}

fn export_to_file(
    store: &Store,
    export: &Export<'_>,
    path: &Path,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, Failure> {
    let existed = path.exists();
    let unchanged = if existed {
        format!("{} is unchanged", path.display())
    } else {
        format!("{} was not created", path.display())
    };
    let failed = |what: &str, err: &dyn std::fmt::Display| {
        fail(
            2,
            format!(
                "cannot export to {}: {what}: {err}; {unchanged}",
                path.display()
            ),
        )
    };
    let name = path
        .file_name()
        .ok_or_else(|| failed("not a file name", &"it ends in `..` or `/`"))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Owner-only (0600) from creation on Unix; removed when dropped unpersisted.
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| failed("cannot create a file", &e))?;
    let mut out = BufWriter::new(temp.as_file_mut());
    let n = export.run(store, &mut out, progress).map_err(|e| match e {
        Error::Io { source, .. } => failed("cannot write", &source),
        other => Failure::from(other),
    })?;
    out.flush().map_err(|e| failed("cannot write", &e))?;
    drop(out);
    temp.as_file()
        .sync_all()
        .map_err(|e| failed("cannot sync", &e))?;
    temp.persist(path)
        .map_err(|e| failed("cannot replace it", &e.error))?;
    // The rename is durable once the directory is synced.
    #[cfg(unix)]
    if let Err(err) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        eprintln!("mcp-persist: warning: cannot sync {}: {err}", dir.display());
    }
    Ok(n)
}

/// `keygen`: a new key, printed or put first in `file` (owner-only).
fn keygen(id: Option<String>, file: Option<&Path>, out: &Out) -> Result<(), Failure> {
    let id = id.unwrap_or_else(|| format!("k{}", now_ms() / 1000));
    let key = EncryptionKey::generate(&id)?;
    let Some(file) = file else {
        out.value(&json!({"id": id, "line": key.to_line()}), &key.to_line());
        return Ok(());
    };
    // A rotation keeps the older keys after the new one (checked first).
    let older = match file.exists() {
        true => {
            let ring = Keyring::from_file(file)?;
            if ring.ids().contains(&id.as_str()) {
                return Err(fail(
                    2,
                    format!("{} already has a key {id:?}", file.display()),
                ));
            }
            std::fs::read_to_string(file)
                .map_err(|e| fail(2, format!("cannot read {}: {e}", file.display())))?
        }
        false => String::new(),
    };
    let text = format!("{}\n{older}", key.to_line());
    let dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".mcp-persist-key")
        .tempfile_in(dir)
        .map_err(|e| fail(2, format!("cannot write in {}: {e}", dir.display())))?;
    std::fs::write(temp.path(), text)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| fail(2, format!("cannot write {}: {e}", temp.path().display())))?;
    temp.persist(file)
        .map_err(|e| fail(2, format!("cannot replace {}: {}", file.display(), e.error)))?;
    out.done(
        &json!({"id": id, "file": file}),
        &format!(
            "key {id:?} is now the first (current) key of {}{}",
            file.display(),
            if older.is_empty() {
                ""
            } else {
                "; the older keys stay to read what they sealed: run `rekey`"
            }
        ),
    );
    Ok(())
}

/// Whether `command` works on keys that `--scope` can narrow.
fn takes_scope(command: &Command) -> bool {
    matches!(
        command,
        Command::Keys { .. }
            | Command::Get { .. }
            | Command::Set { .. }
            | Command::Delete { .. }
            | Command::Export { .. }
            | Command::Erase { .. }
    )
}

/// ` of user "alice"` under --scope, else nothing: for messages.
fn of(scope: &Option<Scope>) -> String {
    scope
        .as_ref()
        .map_or(String::new(), |s| format!(" of user {:?}", s.as_str()))
}

/// Asks on the terminal before an erase; refuses when nobody can answer.
fn confirm_erase(scope: &Scope, count: usize) -> Result<(), Failure> {
    let what = format!(
        "erase {count} records of user {:?} for good",
        scope.as_str()
    );
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            2,
            format!(
                "refusing to {what} without --yes (stdin is not a terminal); nothing was erased"
            ),
        ));
    }
    eprint!("{what}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| fail(2, format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(fail(2, "not confirmed; nothing was erased"))
    }
}

fn now_ms() -> u64 {
    use persist_runtime::Clock;
    persist_runtime::SystemClock.now_ms()
}

/// Progress on stderr, only when it is a terminal.
fn progress_reporter(verb: &'static str) -> impl FnMut(usize) {
    let tty = std::io::stderr().is_terminal();
    move |n| {
        if tty {
            eprint!("\r{verb} {n} records...");
        }
    }
}
