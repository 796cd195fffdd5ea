//! Scopes: whose records a per-user type's records are.
//!
//! A type declared with `scope = "user"` keeps one set of records per user:
//! each stored key starts with `@`, the user's [`Scope`] value escaped, and
//! `/`, then the usual `namespace:key`:
//!
//! ```text
//! @alice/note:groceries        a `Note` of user "alice"
//! @bob%2Fx/note:groceries      a `Note` of user "bob/x"
//! settings:                    a shared record (no scope)
//! ```
//!
//! In the scope value `%`, `/` and control characters are escaped (`%XX`),
//! so the value ends at the first `/` and no value can reach another
//! user's keys; shared keys start with a namespace, never with `@`. One
//! user's records of every type sit under one prefix (`@alice/`), which is
//! what a per-user export or erasure reads ([`crate::admin`]).
//!
//! Code reaches a user's records through a [`ScopedStore`]
//! (`store.scoped(&scope)`): the accessors of a per-user type take one
//! instead of a [`Store`], so leaving the user out does not compile. The
//! generated tools take the scope from each request (see
//! [`crate::tools`]).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Whose records a persisted type keeps (`#[persisted(scope = ...)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scoping {
    /// One set of records for every caller (the default).
    #[default]
    Shared,
    /// One set of records per user (`scope = "user"`): accessors take a
    /// [`ScopedStore`](crate::ScopedStore), tools the caller's [`Scope`].
    User,
}

/// One user's identity in the store: the value that keeps their records
/// apart from everyone else's (a user id, an account, a subject claim).
///
/// 1 to [`Scope::MAX_LEN`] bytes of text without control characters; any
/// other character is allowed (it is escaped in keys). Cheap to clone.
///
/// ```
/// use persist_runtime::Scope;
/// let alice = Scope::new("alice@example.com")?;
/// assert_eq!(alice.as_str(), "alice@example.com");
/// assert!(Scope::new("").is_err());
/// # Ok::<(), persist_runtime::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Arc<Inner>);

#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Inner {
    /// The value as given.
    value: Box<str>,
    /// `@` + the escaped value + `/`: what every key of the scope starts with.
    prefix: Box<str>,
}

impl Scope {
    /// The longest scope value, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The scope stdio servers give their one client unless
    /// [`LOCAL_SCOPE_ENV_VAR`] names another.
    pub const LOCAL: &'static str = "local";

    /// A scope of value `value`: refused if empty, longer than
    /// [`Scope::MAX_LEN`] bytes or holding a control character.
    pub fn new(value: impl AsRef<str>) -> Result<Self> {
        let value = value.as_ref();
        let refuse = |reason: &str| Error::InvalidScope {
            scope: value.chars().take(40).collect(),
            reason: reason.to_owned(),
        };
        if value.is_empty() {
            return Err(refuse("it is empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(refuse(&format!(
                "it is {} bytes, the most is {}",
                value.len(),
                Self::MAX_LEN
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(refuse("it holds a control character"));
        }
        let mut prefix = String::with_capacity(value.len() + 2);
        prefix.push('@');
        for c in value.chars() {
            if matches!(c, '%' | '/') {
                // Writing to a String cannot fail.
                let _ = write!(prefix, "%{:02X}", c as u32);
            } else {
                prefix.push(c);
            }
        }
        prefix.push('/');
        Ok(Self(Arc::new(Inner {
            value: value.into(),
            prefix: prefix.into(),
        })))
    }

    /// The scope of a stdio server's one client: [`LOCAL_SCOPE_ENV_VAR`] if
    /// set, else [`Scope::LOCAL`]. An invalid value is an error, not a
    /// fallback to `local`.
    pub fn local() -> Result<Self> {
        match std::env::var(LOCAL_SCOPE_ENV_VAR) {
            Ok(value) => Self::new(&value).map_err(|err| match err {
                Error::InvalidScope { scope, reason } => Error::InvalidScope {
                    scope,
                    reason: format!("{LOCAL_SCOPE_ENV_VAR} is invalid: {reason}"),
                },
                other => other,
            }),
            Err(std::env::VarError::NotPresent) => Self::new(Self::LOCAL),
            Err(std::env::VarError::NotUnicode(value)) => Err(Error::InvalidScope {
                scope: value.to_string_lossy().chars().take(40).collect(),
                reason: format!("{LOCAL_SCOPE_ENV_VAR} is not valid UTF-8"),
            }),
        }
    }

    /// The value, as given.
    pub fn as_str(&self) -> &str {
        &self.0.value
    }

    /// What every stored key of this scope starts with: `@`, the escaped
    /// value, `/`.
    pub fn key_prefix(&self) -> &str {
        &self.0.prefix
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.value)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", &*self.0.value)
    }
}

impl std::str::FromStr for Scope {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Self::new(value)
    }
}

/// The environment variable that names the scope of a stdio server's client
/// (default [`Scope::LOCAL`]).
pub const LOCAL_SCOPE_ENV_VAR: &str = "MCP_PERSIST_SCOPE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_scopes_are_refused_with_the_reason() {
        let too_long = "x".repeat(Scope::MAX_LEN + 1);
        for (value, reason) in [
            ("", "empty"),
            (too_long.as_str(), "129 bytes"),
            ("a\nb", "control"),
        ] {
            let err = Scope::new(value).unwrap_err().to_string();
            assert!(err.contains(reason), "{err}");
        }
        assert!(Scope::new("x".repeat(Scope::MAX_LEN)).is_ok());
    }
}
