//! Moving records in and out: `export` and `import`.

use std::ffi::OsString;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;

use persist_runtime::admin::ImportBatch;
use persist_runtime::{Error, Store};

use super::Context;
use crate::failure::{Failure, fail};
use crate::location::{self, Target};
use crate::output;

/// `export`: every record (the user's, under `--scope`) as JSON Lines, to
/// `file` or stdout; sealed ones as stored unless `decrypted`.
pub fn export(cx: &Context<'_>, file: Option<&Path>, decrypted: bool) -> Result<(), Failure> {
    let store = cx.open()?;
    if decrypted && !store.is_encrypted() {
        return Err(fail(
            2,
            "--decrypted needs the store's keys (--key-file or MCP_PERSIST_KEY_FILE)",
        ));
    }
    let mut progress = output::progress_reporter("exported");
    let export = Export {
        prefix: cx.user_prefix(),
        decrypted,
    };
    let n = match file {
        Some(path) => export_to_file(&store, &export, path, &mut progress)?,
        None => export.run(&store, &mut std::io::stdout().lock(), &mut progress)?,
    };
    if file.is_some() || std::io::stderr().is_terminal() {
        eprintln!("exported {n} records{}", cx.of());
    }
    Ok(())
}

/// `import`: the JSON Lines of `file` (`-`: stdin), all or nothing; with
/// `create`, into a new store if there is none yet.
pub fn import(cx: &Context<'_>, file: &Path, dry_run: bool, create: bool) -> Result<(), Failure> {
    let (dir, how) = match location::locate(cx.select)? {
        Target::Dir(dir, how) => (dir, how),
        Target::Server { url, app } => {
            let batch = read_batch(file)?;
            let report = location::connect(cx.select, &url, &app)?
                .admin()
                .import(batch, dry_run)?;
            cx.out.imported(&report, dry_run);
            return Ok(());
        }
    };
    let exists = location::has_store(&dir);
    if !exists && !create {
        return Err(location::no_store(
            &dir,
            &how,
            "; to create one and import into it, add --create",
        ));
    }
    // The whole file is read and checked before any store is created.
    let batch = read_batch(file)?;
    let report = if exists {
        location::open_at(cx.select, &dir)?
            .admin()
            .import(batch, dry_run)?
    } else if dry_run {
        eprintln!("would create a new store at {}", dir.display());
        batch.report_on_empty()
    } else {
        let store = location::open_at(cx.select, &dir)?;
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
    cx.out.imported(&report, dry_run);
    Ok(())
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

/// What an export writes: the records under `prefix`, sealed ones as
/// stored unless `decrypted`.
struct Export<'p> {
    prefix: &'p str,
    decrypted: bool,
}

impl Export<'_> {
    /// Writes the records to `out`; how many.
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

/// Writes the export to a temporary file next to `path` (owner-only from
/// creation), syncs it and renames it over `path`. On any failure the
/// temporary file is removed and `path` is left as it was.
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
