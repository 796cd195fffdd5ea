//! `mcp-persist`: see, fix, back up and move the store of an MCP server.
//!
//! Works while servers have the store open (LMDB is multi-process). Exit
//! codes: 0 success, 1 not found (a key, a store), 2 any other failure.

mod args;
mod commands;
mod failure;
mod location;
mod output;

use std::process::ExitCode;

use clap::Parser;
use persist_runtime::Scope;

use args::{Cli, Command};
use commands::Context;
use failure::{Failure, fail};
use output::Out;

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

/// Checks `--scope` against the subcommand, then runs the subcommand.
fn run(cli: Cli, out: &Out) -> Result<(), Failure> {
    let scope = cli.scope.as_deref().map(Scope::new).transpose()?;
    if scope.is_some() && !cli.command.takes_scope() {
        return Err(fail(
            2,
            "--scope applies to keys, get, set, delete, export and erase",
        ));
    }
    let cx = Context {
        select: &cli.select,
        scope,
        out,
    };
    match cli.command {
        Command::Path => commands::path(&cx),
        Command::Keys { prefix, limit } => commands::keys(&cx, prefix.as_deref(), limit),
        Command::Get { key, raw } => commands::get(&cx, &key, raw),
        Command::Set { key, value, ttl } => commands::set(&cx, &key, value, ttl),
        Command::Delete { key } => commands::delete(&cx, &key),
        Command::Sweep => commands::sweep(&cx),
        Command::Export { file, decrypted } => commands::export(&cx, file.as_deref(), decrypted),
        Command::Import {
            file,
            dry_run,
            create,
        } => commands::import(&cx, &file, dry_run, create),
        Command::Backup { dest } => commands::backup(&cx, &dest),
        Command::Stats => commands::stats(&cx),
        Command::Check => commands::check(&cx),
        Command::Keygen { id, file } => commands::keygen(id, file.as_deref(), out),
        Command::Rekey => commands::rekey(&cx),
        Command::Erase { yes } => commands::erase(&cx, yes),
    }
}
