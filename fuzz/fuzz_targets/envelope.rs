//! Fuzz target `envelope`: the properties are in `mcp_persist_fuzz::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_persist_fuzz::envelope(data));
