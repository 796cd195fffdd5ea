//! Fuzz target `tool_call`: the properties are in `mcp_persist_fuzz::tool_call`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_persist_fuzz::tool_call(data));
