pub use persist_runtime::*;
