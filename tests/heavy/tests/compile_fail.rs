//! Every misuse of `#[persisted]` gets a clear error on the right tokens.
//! One `.rs` + `.stderr` per case under `tests/heavy/tests/ui/<category>/`.
//! A package of its own (`mcp-persist-tests-heavy`), so that building an
//! example of the facade never builds trybuild.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p mcp-persist-tests-heavy --test compile_fail`.

#[test]
fn misuses_are_clear_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
