//! What every section owner uses to check its part: the error with its key path, and the
//! checks several owners share (secrets, globs, names, URLs, addresses).

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};

crate::message_error! {
    /// Why a value is refused; never quotes a secret.
    Invalid
}

/// One configuration problem, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path (`alerting.receivers[0].slack.url`).
    pub key: String,
    /// What is wrong; never quotes a secret.
    pub message: String,
}

impl ConfigError {
    /// A problem at `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem of a configuration, in the order found.
pub type Problems = Vec<ConfigError>;

/// Resolves a secret given inline (`key`) or in a file (`file_key`), reading the file once,
/// and checks the value. `check`'s reason never quotes the value, and neither does the
/// error. `Ok(None)`: neither is set.
pub fn secret(
    (key, value): (&str, Option<&SecretString>),
    (file_key, file): (&str, Option<&Path>),
    check: impl Fn(&str) -> Result<(), Invalid>,
) -> Result<Option<SecretString>, ConfigError> {
    let leaf = |k: &str| k.rsplit('.').next().unwrap_or(k).to_owned();
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            file_key,
            format!("set either {} or {}, not both", leaf(key), leaf(file_key)),
        )),
        (Some(v), None) => match check(v.expose_secret()) {
            Ok(()) => Ok(Some(v.clone())),
            Err(r) => Err(ConfigError::new(key, r)),
        },
        (None, Some(path)) => match read_secret_file(path) {
            Err(e) => Err(ConfigError::new(
                file_key,
                format!("cannot read {}: {e}", path.display()),
            )),
            Ok(v) => match check(v.expose_secret()) {
                Ok(()) => Ok(Some(v)),
                Err(r) => Err(ConfigError::new(
                    file_key,
                    format!("{}: {r}", path.display()),
                )),
            },
        },
        (None, None) => Ok(None),
    }
}

/// Reads a secret from a file (a regular file of at most 64 KiB), trimming the trailing
/// newline editors and `kubectl` add.
pub fn read_secret_file(path: &Path) -> Result<SecretString, crate::bounded::ReadError> {
    let raw = crate::bounded::read_to_string(path, crate::bounded::caps::SECRET)?;
    Ok(SecretString::from(
        raw.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// A duration outside `min..=max`, named: zero timers that fire without pause and
/// enormous ones that overflow the clock arithmetic are both refused.
pub fn duration_in(
    key: impl Into<String>,
    d: std::time::Duration,
    min: std::time::Duration,
    max: std::time::Duration,
) -> Option<ConfigError> {
    (d < min || d > max).then(|| {
        ConfigError::new(
            key,
            format!(
                "must be between {} and {}, got {}",
                humantime::format_duration(min),
                humantime::format_duration(max),
                humantime::format_duration(d)
            ),
        )
    })
}

/// An invalid glob, named.
pub fn glob_problem(key: String, pattern: &str) -> Option<ConfigError> {
    glob::Pattern::new(pattern)
        .err()
        .map(|e| ConfigError::new(key, format!("invalid glob {pattern:?}: {e}")))
}

/// Positions and values of names that are empty or repeat an earlier one.
pub fn duplicate_or_empty_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(usize, &'a str)> {
    let mut seen = std::collections::HashSet::new();
    names
        .enumerate()
        .filter(|(_, n)| n.is_empty() || !seen.insert(*n))
        .collect()
}

/// Each empty or repeated `name` of a list section, as `section[i].name`.
pub fn unique_names<'a>(section: &str, names: impl Iterator<Item = &'a str>) -> Problems {
    duplicate_or_empty_names(names)
        .into_iter()
        .map(|(i, name)| {
            ConfigError::new(
                format!("{section}[{i}].name"),
                format!("must be non-empty and unique, got {name:?}"),
            )
        })
        .collect()
}

/// An `http` or `https` URL.
pub fn check_url(u: &str) -> Result<(), Invalid> {
    match reqwest::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(_) => Err(Invalid::from("must be an http or https URL")),
        Err(e) => Err(Invalid::from(format!("is not a URL: {e}"))),
    }
}

/// `host:port`, with `[v6]:port` accepted.
#[must_use]
pub fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}
