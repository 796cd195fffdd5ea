//! The fuzz targets' seeds and past findings (`fuzz/seeds/<target>/`), run
//! through the same property checks as the fuzzers (`fuzz/src/lib.rs`), so
//! `cargo test` keeps them as regression cases without cargo-fuzz.

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod checks;

use std::path::Path;

/// Runs every seed of `target` through `check`; returns how many there were.
fn run_seeds(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("seed entry").path())
        .collect();
    seeds.sort();
    for seed in &seeds {
        let data = std::fs::read(seed).expect("read seed");
        eprintln!("{target}: {}", seed.display());
        check(&data);
    }
    seeds.len()
}

#[test]
fn envelope_seeds() {
    assert!(run_seeds("envelope", checks::envelope) >= 5);
}

#[test]
fn key_seeds() {
    assert!(run_seeds("key", checks::key) >= 5);
}

#[test]
fn import_seeds() {
    assert!(run_seeds("import", checks::import) >= 5);
}

#[test]
fn tool_call_seeds() {
    assert!(run_seeds("tool_call", checks::tool_call) >= 5);
}
