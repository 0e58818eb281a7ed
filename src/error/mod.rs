//! The crate's one error type, and how to tell a failure worth retrying from one that is not.
//!
//! [`Error`] separates what went wrong in the caller's terms: the network ([`TransportError`]), an OAuth
//! error response (RFC 6749 §5.2, [`OAuthError`]), a Telnyx API error body ([`ApiError`]), a response that
//! was none of those ([`UnexpectedResponse`]), configuration the crate cannot work with
//! ([`ConfigError`]), a state of the crate's own machinery ([`InternalError`]), and the failures of a
//! custom token source ([`CustomError`]). [`Error::is_transient`] says whether trying again later may
//! help; an error that wraps another (a transport failure, a URL parse error, a custom source's own
//! error) reaches it through [`source`](std::error::Error::source).
//!
//! No error ever carries a secret: bodies are previewed only after credential-bearing members are
//! redacted, and parse errors report a position, never the offending value.
//!
//! ```
//! use telnyx_oauth::{Error, error::OAuthErrorCode};
//!
//! fn explain(err: &Error) -> String {
//!     match err {
//!         Error::OAuth(e) if e.code == OAuthErrorCode::InvalidClient => {
//!             "check the client id and secret".to_owned()
//!         }
//!         e if e.is_transient() => format!("temporary, retry later: {e}"),
//!         e => format!("permanent: {e}"),
//!     }
//! }
//! # let _ = explain;
//! ```

mod api;
mod local;
mod oauth;
mod transport;
mod unexpected;

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

pub use api::{ApiError, ApiErrorDetail};
pub use local::{ConfigError, CustomError, InternalError};
pub use oauth::{OAuthError, OAuthErrorCode};
pub use transport::{TransportError, TransportErrorKind};
pub use unexpected::{UnexpectedReason, UnexpectedResponse};

pub(crate) use transport::endpoint_label;

/// Everything that can go wrong talking to an authorization server or the Telnyx API.
///
/// `Clone`, so that one failed fetch can be handed to every caller that waited for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The request did not get a response: connection refused or reset, DNS, TLS, or a timeout.
    Transport(Box<TransportError>),
    /// The server answered with an OAuth error body (RFC 6749 §5.2, RFC 7591 §3.2.2).
    OAuth(Box<OAuthError>),
    /// The server answered with a Telnyx API error body (`{"errors":[…]}`).
    Api(Box<ApiError>),
    /// The server answered, but not with anything this crate understands.
    UnexpectedResponse(Box<UnexpectedResponse>),
    /// The crate was configured with something it cannot use.
    Config(Box<ConfigError>),
    /// The crate's own machinery is in a state that prevents an answer (see [`InternalError`]).
    Internal(Box<InternalError>),
    /// A failure reported by a user-supplied [`TokenSource`](crate::provider::TokenSource).
    Custom(Box<CustomError>),
}

/// Whether an error is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, connection failures, 408, 429, 5xx, `temporarily_unavailable`: retrying later may succeed.
    Transient,
    /// Everything else, notably `invalid_client`, `unauthorized_client`, `invalid_grant`,
    /// `invalid_scope` and `unsupported_grant_type`: the same request will fail again.
    Permanent,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(Box::new(ConfigError {
            message: message.into(),
            source: None,
        }))
    }

    /// A configuration error revealed by another error, kept as its [`source`](StdError::source).
    pub(crate) fn config_caused_by(
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Error::Config(Box::new(ConfigError {
            message: message.into(),
            source: Some(std::sync::Arc::new(source)),
        }))
    }

    /// An internal state the caller cannot fix by configuration; `class` says whether retrying helps.
    pub(crate) fn internal(class: ErrorClass, message: impl Into<String>) -> Self {
        Error::Internal(Box::new(InternalError {
            message: message.into(),
            class,
        }))
    }

    pub(crate) fn unexpected(
        status: StatusCode,
        content_type: Option<String>,
        reason: UnexpectedReason,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        Error::UnexpectedResponse(Box::new(UnexpectedResponse {
            status,
            content_type,
            reason,
            preview: crate::redact::body_preview(body),
            retry_after,
        }))
    }

    /// An error for a custom [`TokenSource`](crate::provider::TokenSource): a message (never a secret)
    /// and whether retrying may help.
    pub fn custom(class: ErrorClass, message: impl Into<String>) -> Self {
        Error::Custom(Box::new(CustomError {
            class,
            message: message.into(),
            retry_after: None,
            source: None,
        }))
    }

    /// Like [`custom`](Self::custom), keeping the source's own error as the
    /// [`source`](StdError::source) (its text is not part of this error's `Display`).
    pub fn custom_with_source(
        class: ErrorClass,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Error::Custom(Box::new(CustomError {
            class,
            message: message.into(),
            retry_after: None,
            source: Some(std::sync::Arc::new(source)),
        }))
    }

    /// An OAuth error response as a custom source saw it (e.g. from a non-HTTP transport).
    pub fn oauth(status: StatusCode, code: OAuthErrorCode, description: Option<String>) -> Self {
        Error::OAuth(Box::new(OAuthError {
            status,
            code,
            description,
            uri: None,
            invalid_fields: BTreeMap::new(),
            www_authenticate: None,
            retry_after: None,
        }))
    }

    /// Sets how long the server asked to wait, on errors that carry a response or are custom.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        match &mut self {
            Error::OAuth(e) => e.retry_after = Some(after),
            Error::Api(e) => e.retry_after = Some(after),
            Error::UnexpectedResponse(e) => e.retry_after = Some(after),
            Error::Custom(e) => e.retry_after = Some(after),
            Error::Transport(_) | Error::Config(_) | Error::Internal(_) => {}
        }
        self
    }

    /// Whether retrying may help ([`ErrorClass::Transient`]) or not.
    pub fn class(&self) -> ErrorClass {
        let transient = match self {
            Error::Transport(e) => e.kind != TransportErrorKind::Tls,
            Error::OAuth(e) => {
                matches!(
                    e.code,
                    OAuthErrorCode::TemporarilyUnavailable | OAuthErrorCode::ServerError
                ) || (!e.code.is_permanent() && transient_status(e.status))
            }
            Error::Api(e) => transient_status(e.status),
            // A 2xx that we cannot read is most often a proxy or a deploy in progress.
            Error::UnexpectedResponse(e) => e.status.is_success() || transient_status(e.status),
            Error::Config(_) => false,
            Error::Internal(e) => return e.class,
            Error::Custom(e) => return e.class,
        };
        if transient {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        }
    }

    /// Timeouts, connect errors, 408, 429 and 5xx: trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// The opposite of [`is_transient`](Self::is_transient): the same request will fail again.
    pub fn is_permanent(&self) -> bool {
        self.class() == ErrorClass::Permanent
    }

    /// How long the server asked us to wait (`Retry-After` or `retry-after-ms`), when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::OAuth(e) => e.retry_after,
            Error::Api(e) => e.retry_after,
            Error::UnexpectedResponse(e) => e.retry_after,
            Error::Custom(e) => e.retry_after,
            Error::Transport(_) | Error::Config(_) | Error::Internal(_) => None,
        }
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::OAuth(e) => Some(e.status),
            Error::Api(e) => Some(e.status),
            Error::UnexpectedResponse(e) => Some(e.status),
            Error::Transport(_) | Error::Config(_) | Error::Internal(_) | Error::Custom(_) => None,
        }
    }

    /// The OAuth error code (`invalid_client`, …) when the server sent one.
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Error::OAuth(e) => Some(&e.code),
            _ => None,
        }
    }
}

fn transient_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => e.fmt(f),
            Error::OAuth(e) => e.fmt(f),
            Error::Api(e) => e.fmt(f),
            Error::UnexpectedResponse(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
            Error::Internal(e) => e.fmt(f),
            Error::Custom(e) => e.fmt(f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Transport(e) => e.source.as_deref().map(|s| s as &(dyn StdError + 'static)),
            Error::Config(e) => e.source.as_deref().map(|s| s as &(dyn StdError + 'static)),
            Error::Custom(e) => e.source.as_deref().map(|s| s as &(dyn StdError + 'static)),
            Error::OAuth(_) | Error::Api(_) | Error::UnexpectedResponse(_) | Error::Internal(_) => {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn oauth(status: u16, code: &str) -> Error {
        Error::OAuth(Box::new(OAuthError {
            status: StatusCode::from_u16(status).unwrap(),
            code: OAuthErrorCode::parse(code),
            description: None,
            uri: None,
            invalid_fields: BTreeMap::new(),
            www_authenticate: None,
            retry_after: None,
        }))
    }

    #[test]
    fn permanent_oauth_codes_are_permanent_even_with_a_5xx_status() {
        for code in [
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "invalid_scope",
            "unsupported_grant_type",
        ] {
            assert!(oauth(400, code).is_permanent(), "{code}");
            assert!(oauth(503, code).is_permanent(), "{code}");
        }
    }

    #[test]
    fn transient_statuses_and_codes() {
        assert!(oauth(503, "whatever").is_transient());
        assert!(oauth(429, "slow_down").is_transient());
        assert!(oauth(408, "x").is_transient());
        assert!(oauth(400, "temporarily_unavailable").is_transient());
        assert!(oauth(400, "invalid_request").is_permanent());
        let url = url::Url::parse("https://as.example/token?x=1").unwrap();
        assert!(TransportError::timeout(&url, Duration::from_secs(1)).is_transient());
        assert!(TransportError::build(TransportErrorKind::Connect, &url, None).is_transient());
        assert!(TransportError::build(TransportErrorKind::Tls, &url, None).is_permanent());
        assert!(Error::config("x").is_permanent());
    }

    #[test]
    fn wrapped_errors_are_reachable_through_source_and_internal_states_have_their_own_kind() {
        let url = url::Url::parse("https://as.example/token").unwrap();
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let t = TransportError::build(
            TransportErrorKind::Connect,
            &url,
            Some(std::sync::Arc::new(io)),
        );
        assert_eq!(t.source().unwrap().to_string(), "refused");
        let parse = url::Url::parse("not a url").unwrap_err();
        let c = Error::config_caused_by("not a valid URL", parse);
        assert!(
            c.source()
                .unwrap()
                .downcast_ref::<url::ParseError>()
                .is_some()
        );
        let custom = Error::custom_with_source(
            ErrorClass::Transient,
            "sidecar down",
            std::io::Error::other("eof"),
        );
        assert_eq!(custom.source().unwrap().to_string(), "eof");
        assert_eq!(custom.to_string(), "sidecar down");
        let abandoned = Error::internal(ErrorClass::Transient, "the token fetch was abandoned");
        assert!(matches!(abandoned, Error::Internal(_)) && abandoned.is_transient());
        assert!(Error::internal(ErrorClass::Permanent, "polled after completion").is_permanent());
        assert!(abandoned.source().is_none());
    }
}
