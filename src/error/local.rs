//! Errors raised here rather than by a server: configuration, internal state, custom token sources.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::ErrorClass;

/// Configuration the crate cannot work with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigError {
    /// What is wrong, in words.
    pub message: String,
    /// The error that revealed it (a URL parse error, an I/O error), reachable through
    /// [`Error::source`](std::error::Error::source).
    pub(crate) source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.message)
    }
}

/// A failure reported by a custom token source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CustomError {
    /// Whether retrying may help.
    pub class: ErrorClass,
    /// What failed, in words.
    pub message: String,
    /// How long to wait before retrying, if known.
    pub retry_after: Option<Duration>,
    /// The source's own error, reachable through [`Error::source`](std::error::Error::source).
    pub(crate) source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl fmt::Display for CustomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A state of the crate's own machinery a caller can still act on: a fetch abandoned because its task
/// ended (e.g. the runtime is shutting down), a future polled after completion, no Tokio runtime.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InternalError {
    /// What happened, in words.
    pub message: String,
    /// Whether trying again may help (an abandoned fetch: yes; a misuse: no).
    pub class: ErrorClass,
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "internal state: {}", self.message)
    }
}
