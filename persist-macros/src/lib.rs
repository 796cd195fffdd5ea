//! The `#[persisted]` attribute macro of `mcp-persist`.
//!
//! Use it through the `mcp-persist` facade crate, which documents it in full.
//! The macro parses its arguments into a typed model (`args.rs`, `model.rs`),
//! validates it while collecting every error (`errors.rs`), and expands to a
//! thin impl of the runtime's `Persisted` trait plus inherent accessors
//! (`expand.rs`).

mod args;
mod errors;
mod expand;
mod model;
#[cfg(test)]
mod snapshots;

use proc_macro::TokenStream;

/// Declares a struct as state persisted in an `mcp_persist::Store`.
///
/// See the `mcp-persist` crate documentation for the options and the
/// generated accessors.
#[proc_macro_attribute]
pub fn persisted(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::persisted(args.into(), input.into()).into()
}
