//! Fuzz target `key`: the properties are in `mcp_persist_fuzz::key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_persist_fuzz::key(data));
