//! Every misuse of `#[persisted]` gets a clear error on the right tokens.
//! One `.rs` + `.stderr` per case under `tests/ui/<category>/`.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test compile_fail`.

#[test]
fn misuses_are_clear_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
