//! The public API of the facade (`mcp-persist`) and of the runtime whose
//! items it re-exports (`persist-runtime`), pinned in `public-api.txt` next
//! to this package's Cargo.toml, so that it changes only on purpose.
//!
//! The listing comes from rustdoc's JSON output, built with the stable
//! toolchain (`RUSTC_BOOTSTRAP=1` unlocks `--output-format json`) into its
//! own target directory (`target/public-api`, so the main build is not
//! invalidated), and is read by the `public-api` crate: every public path
//! with its kind and signature (with every feature on, `http` included), methods and trait impls included (blanket
//! impls and auto-trait impls left out). Items under `#[doc(hidden)]` (the `__private` plumbing
//! of the generated code) are not in rustdoc's output, so not in the list.
//!
//! After an intended change: `UPDATE_PUBLIC_API=1 cargo test -p
//! mcp-persist-tests-heavy --test public_api`, then review and commit the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const PINNED: &str = "public-api.txt";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the rustdoc JSON of `package` and returns its path.
fn rustdoc_json(package: &str, crate_name: &str) -> PathBuf {
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("public-api");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "rustdoc",
            "--quiet",
            "--locked",
            "--lib",
            "--all-features",
            "-p",
            package,
        ])
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .output()
        .expect("cannot run cargo rustdoc");
    assert!(
        output.status.success(),
        "cargo rustdoc -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target.join("doc").join(format!("{crate_name}.json"))
}

/// The public items of a crate, one per line, sorted by path.
fn public_items(package: &str, crate_name: &str) -> Vec<String> {
    let json = rustdoc_json(package, crate_name);
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .unwrap_or_else(|err| {
            panic!(
                "cannot read {} ({err}): the rustdoc JSON format of this toolchain may be \
                 newer than the `public-api` crate reads; update it in tests/heavy/Cargo.toml",
                json.display()
            )
        });
    // Sorted by path by `public-api`, each item under its parent.
    api.items().map(ToString::to_string).collect()
}

fn listing() -> String {
    let mut out = String::from(
        "# The public API, pinned by tests/public_api.rs: regenerate with\n\
         # UPDATE_PUBLIC_API=1 cargo test -p mcp-persist-tests-heavy --test public_api\n",
    );
    for (package, crate_name) in [
        ("mcp-persist", "mcp_persist"),
        ("persist-runtime", "persist_runtime"),
    ] {
        out.push_str(&format!("\n# {package}\n"));
        for item in public_items(package, crate_name) {
            out.push_str(&item);
            out.push('\n');
        }
    }
    out
}

#[test]
fn the_public_api_changes_only_on_purpose() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PINNED);
    let actual = listing();
    if std::env::var_os("UPDATE_PUBLIC_API").is_some_and(|v| v != "0") {
        std::fs::write(&path, &actual)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        return;
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    if pinned == actual {
        return;
    }
    let old: BTreeSet<&str> = pinned.lines().collect();
    let new: BTreeSet<&str> = actual.lines().collect();
    let mut diff = String::new();
    for line in old.difference(&new) {
        diff.push_str(&format!("- {line}\n"));
    }
    for line in new.difference(&old) {
        diff.push_str(&format!("+ {line}\n"));
    }
    panic!(
        "the public API differs from {}:\n{diff}\nIf the change is intended, regenerate it with \
         `UPDATE_PUBLIC_API=1 cargo test -p mcp-persist-tests-heavy --test public_api` and \
         commit the diff.",
        path.display()
    );
}
