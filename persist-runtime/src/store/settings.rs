//! What a store runs with that a deployment sets: [`Durability`], the
//! environment variables read when the code does not choose, and how a
//! server's URL is shown.

use crate::error::{Error, Result};

/// How hard a commit works to survive a crash of the operating system.
///
/// A crash of the *process* loses nothing committed under any setting. Set it
/// in code with [`StoreBuilder::durability`](crate::StoreBuilder::durability), or per deployment with the
/// environment variable `MCP_PERSIST_DURABILITY` (`full`, `no-meta-sync`,
/// `no-sync`), which applies when the code does not choose.
///
/// ```
/// use persist_runtime::Durability;
///
/// assert_eq!("no-sync".parse::<Durability>(), Ok(Durability::NoSync));
/// assert_eq!(Durability::NoMetaSync.to_string(), "no-meta-sync");
/// assert!("fast".parse::<Durability>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss. The default.
    #[default]
    Full,
    /// Skip the fsync of the meta page: integrity is kept, but an OS crash may
    /// undo the last commit.
    NoMetaSync,
    /// No fsync: integrity is kept on ext4 (no `WRITE_MAP`), but an OS crash
    /// may lose recent commits. Suits caches.
    NoSync,
}

/// The environment variable naming the server [`Store::open`](crate::Store::open) connects to
/// (e.g. `redis://127.0.0.1:6379/0`) instead of opening a directory.
pub const URL_ENV_VAR: &str = "MCP_PERSIST_URL";

/// The URL schemes of a store on a server (Redis, or Valkey by its names).
pub(crate) const SERVER_SCHEMES: [&str; 7] = [
    "redis://",
    "rediss://",
    "redis+unix://",
    "unix://",
    "valkey://",
    "valkeys://",
    "valkey+unix://",
];

/// The URL in `MCP_PERSIST_URL`, if it is set (and not empty).
pub(crate) fn url_from_env() -> Result<Option<String>> {
    let Some(value) = std::env::var_os(URL_ENV_VAR).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.to_str() {
        Some(url) if SERVER_SCHEMES.iter().any(|s| url.starts_with(s)) => Ok(Some(url.to_owned())),
        _ => Err(Error::InvalidSetting {
            name: URL_ENV_VAR,
            value: redact_url(&value.to_string_lossy()),
            expected: "a redis://, rediss://, redis+unix:// (or valkey...) URL",
        }),
    }
}

/// `url` as errors and logs show it: without its credentials (the user
/// and password before `@`), its query string (a Unix socket URL's
/// `?pass=`) and its fragment (redis-rs's `#insecure`). The one redactor of
/// the crate.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') {
            "(not a URL)".to_owned()
        } else {
            url.to_owned()
        };
    };
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if rest.contains('/') {
        format!("{scheme}://{host}/{path}")
    } else {
        format!("{scheme}://{host}")
    }
}

/// The environment variable that sets [`Durability`] when the code does not.
pub const DURABILITY_ENV_VAR: &str = "MCP_PERSIST_DURABILITY";

impl Durability {
    const NAMES: [(&'static str, Durability); 3] = [
        ("full", Durability::Full),
        ("no-meta-sync", Durability::NoMetaSync),
        ("no-sync", Durability::NoSync),
    ];

    /// The setting's name, as `MCP_PERSIST_DURABILITY` takes it.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("full", |(name, _)| name)
    }

    /// The durability `MCP_PERSIST_DURABILITY` asks for, if it is set (and
    /// not empty); an error naming the variable if it holds anything else.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(value) = std::env::var_os(DURABILITY_ENV_VAR).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        value
            .to_str()
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| Error::InvalidSetting {
                name: DURABILITY_ENV_VAR,
                value: value.to_string_lossy().into_owned(),
                expected: "full, no-meta-sync or no-sync",
            })
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Durability {
    type Err = String;

    /// `full`, `no-meta-sync` or `no-sync` (case and `_` for `-` do not matter).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, d)| *d)
            .ok_or_else(|| format!("unknown durability {s:?}: use full, no-meta-sync or no-sync"))
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_credentials_and_query() {
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6390/3"),
            "redis://127.0.0.1:6390/3"
        );
        assert_eq!(
            redact_url("redis://user:p@ss@localhost/"),
            "redis://localhost/"
        );
        assert_eq!(redact_url("rediss://h:1"), "rediss://h:1");
        assert_eq!(redact_url("rediss://:pw@h:1/0#insecure"), "rediss://h:1/0");
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&pass=hunter2"),
            "redis+unix:///run/redis.sock"
        );
        assert_eq!(redact_url("u:hunter2@h"), "(not a URL)");
        assert_eq!(redact_url("/var/lib/x"), "/var/lib/x");
    }
}
