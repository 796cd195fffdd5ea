//! Fuzz target `import`: the properties are in `mcp_persist_fuzz::import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_persist_fuzz::import(data));
