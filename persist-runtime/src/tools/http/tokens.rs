//! [`BearerTokens`]: a static map of bearer tokens to users, for examples and
//! small deployments.

use std::fmt;
use std::path::Path;

use http::header::AUTHORIZATION;
use http::request::Parts;

use super::resolve::{Denied, Resolving, ScopeResolver};
use crate::Scope;
use crate::error::{Error, Result};
use crate::owner_only;

/// Bearer tokens, each naming a user: `Authorization: Bearer <token>` is that
/// user's request.
///
/// Written as `token=user` pairs, one per line or separated by commas; blank
/// lines and lines starting with `#` are skipped. A token is RFC 6750's
/// `b64token` (letters, digits and `-._~+/`, then optional `=`); a user is
/// any [`Scope`] value. A token given to two users is refused; a user may
/// have several tokens. Tokens are compared in constant time (every token is
/// compared, whichever matches), and never logged or shown.
///
/// A static map fits examples, tests and a few users. A real deployment
/// plugs in its identity provider instead: a [`ScopeResolver`] over an
/// OAuth 2.1 / JWT verifier, or [`TrustedHeader`](super::TrustedHeader)
/// behind an authenticating proxy.
///
/// ```
/// use persist_runtime::tools::http::BearerTokens;
/// let tokens = BearerTokens::parse("tokA=alice, tokB=bob", "the example")?;
/// assert_eq!(tokens.len(), 2);
/// assert!(BearerTokens::parse("tokA=alice,tokA=bob", "the example").is_err());
/// # Ok::<(), persist_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct BearerTokens {
    tokens: Vec<(Box<[u8]>, Scope)>,
}

impl BearerTokens {
    /// Parses `token=user` pairs (see the type's doc); `origin` names where
    /// they come from in errors (`"NOTES_HTTP_TOKENS"`, a path).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let refuse = |reason: String| Error::Tokens {
            origin: origin.to_owned(),
            reason,
        };
        let mut tokens: Vec<(Box<[u8]>, Scope)> = Vec::new();
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim_start().starts_with('#'))
            .flat_map(|(n, line)| line.split(',').map(move |entry| (n + 1, entry.trim())))
            .filter(|(_, entry)| !entry.is_empty());
        for (line, entry) in entries {
            let Some((token, user)) = split_entry(entry) else {
                return Err(refuse(format!(
                    "line {line}: an entry is `token=user`, this one has no `=` or no token"
                )));
            };
            if !is_b64token(token) {
                return Err(refuse(format!(
                    "line {line}: a token is letters, digits and -._~+/ (then optional `=`), \
                     for the user {:?}",
                    user.trim()
                )));
            }
            let scope = Scope::new(user.trim())
                .map_err(|err| refuse(format!("line {line}: the user: {err}")))?;
            if let Some((_, other)) = tokens.iter().find(|(t, _)| **t == *token.as_bytes()) {
                if *other != scope {
                    return Err(refuse(format!(
                        "line {line}: one token is given to two users ({other} and {scope})"
                    )));
                }
                continue;
            }
            tokens.push((token.as_bytes().into(), scope));
        }
        if tokens.is_empty() {
            return Err(refuse("no tokens: every request would be refused".into()));
        }
        Ok(Self { tokens })
    }

    /// Reads tokens from the file at `path` (see [`parse`](Self::parse)).
    /// On Unix the file must be a regular file (not a symbolic link) of
    /// this user's that nobody else can read or write (`chmod 600`), or it
    /// is refused before anything is read: tokens are passwords.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = owner_only::read_to_string(path, "the tokens file", |reason| Error::Tokens {
            origin: origin.clone(),
            reason,
        })?;
        Self::parse(&text, &origin)
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Never: a list without tokens is refused when it is made.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The user `token` names, comparing every token in constant time.
    fn find(&self, token: &[u8]) -> Option<&Scope> {
        let mut found = None;
        for (known, scope) in &self.tokens {
            if constant_time_eq(known, token) {
                found = Some(scope);
            }
        }
        found
    }
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl ScopeResolver for BearerTokens {
    fn resolve<'a>(&'a self, request: &'a Parts) -> Resolving<'a> {
        Box::pin(std::future::ready(self.resolve_now(request)))
    }
}

impl BearerTokens {
    fn resolve_now(&self, request: &Parts) -> Result<Scope, Denied> {
        let Some(value) = request.headers.get(AUTHORIZATION) else {
            return Err(Denied::missing(
                "no Authorization header: send `Authorization: Bearer <token>`",
            ));
        };
        let token = value
            .as_bytes()
            .split_at_checked(7)
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|(_, token)| token.trim_ascii())
            .ok_or_else(|| Denied::invalid("the Authorization header is not `Bearer <token>`"))?;
        self.find(token)
            .cloned()
            .ok_or_else(|| Denied::invalid("unknown bearer token"))
    }
}

/// Splits `token=user` at the `=` that ends the token: a token may end in
/// `=` padding, so in a run of `=`s the last one separates (`abc==alice` is
/// token `abc=`, user `alice`). `None` when there is no `=` or no token.
fn split_entry(entry: &str) -> Option<(&str, &str)> {
    let first = entry.find('=')?;
    let run = entry[first..].len() - entry[first..].trim_start_matches('=').len();
    let separator = first + run - 1;
    let (token, user) = (&entry[..separator], &entry[separator + 1..]);
    (!token.is_empty()).then_some((token, user))
}

/// RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Equal bytes, in a time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(authorization: Option<&str>) -> Parts {
        let mut request = http::Request::builder().uri("/mcp");
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request
            .body(())
            .map(|r| r.into_parts().0)
            .expect("a request")
    }

    fn resolve(tokens: &BearerTokens, authorization: Option<&str>) -> Result<Scope, Denied> {
        tokens.resolve_now(&head(authorization))
    }

    #[test]
    fn parses_pairs_lines_comments_and_padding() {
        let tokens = BearerTokens::parse(
            "# users\ntokA=alice, tokB=bob\n\n  abc==carol \ntokA=alice\n",
            "test",
        )
        .expect("valid tokens");
        assert_eq!(tokens.len(), 3);
        let scope = |token: &str| resolve(&tokens, Some(&format!("Bearer {token}")));
        assert_eq!(scope("tokA").map(|s| s.to_string()), Ok("alice".into()));
        assert_eq!(scope("abc=").map(|s| s.to_string()), Ok("carol".into()));
        assert_eq!(
            resolve(&tokens, Some("bearer   tokB ")).map(|s| s.to_string()),
            Ok("bob".into())
        );
    }

    #[test]
    fn bad_lists_are_refused_naming_the_line_and_never_the_token() {
        let cases = [
            (
                "tokA=alice\ntokA=bob",
                "line 2: one token is given to two users",
            ),
            ("tokA", "line 1: an entry is `token=user`"),
            ("=alice", "line 1: an entry is `token=user`"),
            ("tok A=alice", "line 1: a token is letters"),
            ("tokA=", "line 1: the user: invalid scope"),
            ("# nothing\n", "no tokens"),
        ];
        for (text, expected) in cases {
            let err = BearerTokens::parse(text, "TOKENS")
                .map(|_| ())
                .expect_err(text);
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("bearer tokens from TOKENS: {expected}")),
                "{text:?}: {message}"
            );
            assert!(!message.contains("tokA"), "a token leaked: {message}");
        }
    }

    #[test]
    fn requests_without_a_known_bearer_token_are_denied() {
        let tokens = BearerTokens::parse("tokA=alice", "test").expect("valid tokens");
        let missing = resolve(&tokens, None).expect_err("no header");
        assert!(!missing.credentials_given());
        for value in [
            "Bearer tokB",
            "Bearer tokAA",
            "Bearer tok",
            "Basic dG9rQQ==",
            "Bearer",
        ] {
            let denied = resolve(&tokens, Some(value)).expect_err(value);
            assert!(denied.credentials_given(), "{value}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_tokens_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "tokA=alice\n").expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = BearerTokens::from_file(&path).expect_err("readable by others");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            BearerTokens::from_file(&path).map(|t| t.len()).ok(),
            Some(1)
        );
    }
}
