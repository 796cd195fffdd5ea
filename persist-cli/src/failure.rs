//! What a failed command reports: its message and its exit code.

use persist_runtime::Error;

/// A failure and its exit code (1: not found, 2: any other failure).
pub struct Failure {
    /// The process's exit code.
    pub code: u8,
    /// What went wrong, printed after `mcp-persist: `.
    pub message: String,
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            code: 2,
            message: err.to_string(),
        }
    }
}

/// A failure with exit code `code`.
pub fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}
