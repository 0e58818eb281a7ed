//! The crate's one error type, and how to tell a failure worth retrying from one that is not.
//!
//! [`Error`] separates what went wrong in the caller's terms: the network ([`TransportError`]), an OAuth
//! error response (RFC 6749 §5.2, [`OAuthError`]), a Telnyx API error body ([`ApiError`]), a response that
//! was none of those ([`UnexpectedResponse`]), and configuration the crate cannot work with
//! ([`ConfigError`]). [`Error::is_transient`] says whether trying again later may help.
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

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::secret::REDACTED;

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
            preview: body_preview(body),
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
            Error::Transport(_) | Error::Config(_) => {}
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
            Error::Transport(_) | Error::Config(_) => None,
        }
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::OAuth(e) => Some(e.status),
            Error::Api(e) => Some(e.status),
            Error::UnexpectedResponse(e) => Some(e.status),
            Error::Transport(_) | Error::Config(_) | Error::Custom(_) => None,
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
            Error::Custom(e) => e.fmt(f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Transport(e) => e.source.as_deref().map(|s| s as &(dyn StdError + 'static)),
            _ => None,
        }
    }
}

/// What kind of network failure a [`TransportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed (e.g. an untrusted certificate). Not transient.
    Tls,
    /// The attempt did not finish within its timeout.
    Timeout,
    /// The connection broke while sending the request or reading the response.
    Io,
}

/// The request did not get a complete response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportError {
    /// What failed.
    pub kind: TransportErrorKind,
    /// The endpoint, without query string or user info.
    pub endpoint: String,
    /// The timeout that elapsed, for [`TransportErrorKind::Timeout`].
    pub timeout: Option<Duration>,
    pub(crate) source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn build(
        kind: TransportErrorKind,
        url: &url::Url,
        source: Option<Arc<dyn StdError + Send + Sync>>,
    ) -> Error {
        Error::Transport(Box::new(TransportError {
            kind,
            endpoint: endpoint_label(url),
            timeout: None,
            source,
        }))
    }

    pub(crate) fn timeout_of(what: &str, after: Duration) -> Error {
        Error::Transport(Box::new(TransportError {
            kind: TransportErrorKind::Timeout,
            endpoint: what.to_owned(),
            timeout: Some(after),
            source: None,
        }))
    }

    pub(crate) fn timeout(url: &url::Url, after: Duration) -> Error {
        Error::Transport(Box::new(TransportError {
            kind: TransportErrorKind::Timeout,
            endpoint: endpoint_label(url),
            timeout: Some(after),
            source: None,
        }))
    }
}

/// `scheme://host[:port]/path` — never the query string or user info, which may hold credentials.
pub(crate) fn endpoint_label(url: &url::Url) -> String {
    let mut label = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        label.push_str(&format!(":{port}"));
    }
    label.push_str(url.path());
    label
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "could not connect to",
            TransportErrorKind::Tls => "TLS handshake failed with",
            TransportErrorKind::Timeout => "timed out waiting for",
            TransportErrorKind::Io => "connection failed while talking to",
        };
        write!(f, "{what} {}", self.endpoint)?;
        if let Some(t) = self.timeout {
            write!(f, " (after {} ms)", t.as_millis())?;
        }
        Ok(())
    }
}

/// An OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 7009 §2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the code, refresh token or assertion is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `invalid_token` (RFC 6750)
    InvalidToken,
    /// `insufficient_scope` (RFC 6750)
    InsufficientScope,
    /// `invalid_client_metadata` (RFC 7591)
    InvalidClientMetadata,
    /// `invalid_redirect_uri` (RFC 7591)
    InvalidRedirectUri,
    /// `unsupported_token_type` (RFC 7009)
    UnsupportedTokenType,
    /// Any other code, as the server sent it.
    Other(String),
}

impl OAuthErrorCode {
    /// Parses a code as sent by a server.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "invalid_client_metadata" => Self::InvalidClientMetadata,
            "invalid_redirect_uri" => Self::InvalidRedirectUri,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::Other(s) => s,
        }
    }

    /// The codes that mean the client's configuration or grant is wrong: retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::InvalidClient
                | Self::UnauthorizedClient
                | Self::InvalidGrant
                | Self::InvalidScope
                | Self::UnsupportedGrantType
        )
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response (RFC 6749 §5.2).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status (RFC 6749 says 400, or 401 for `invalid_client`).
    pub status: StatusCode,
    /// `error`
    pub code: OAuthErrorCode,
    /// `error_description`, bounded in length and stripped of control characters.
    pub description: Option<String>,
    /// `error_uri`
    pub uri: Option<String>,
    /// `invalid_fields` of a dynamic-registration error (field → messages), empty otherwise.
    pub invalid_fields: BTreeMap<String, Vec<String>>,
    /// The `WWW-Authenticate` header, when the server sent one.
    pub www_authenticate: Option<String>,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        match self.code {
            OAuthErrorCode::InvalidClient => {
                f.write_str(": the server rejected the client credentials")?
            }
            OAuthErrorCode::InvalidGrant => {
                f.write_str(": the grant (code, refresh token or assertion) is invalid")?
            }
            _ => {}
        }
        if let Some(d) = &self.description {
            write!(f, " ({d})")?;
        }
        write!(f, " (HTTP {})", self.status.as_u16())
    }
}

/// One entry of a Telnyx `{"errors":[…]}` body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// Telnyx error code, e.g. `10009`.
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    /// Short title, e.g. `Authentication failed`.
    #[serde(default)]
    pub title: Option<String>,
    /// Longer explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// Where in the request the problem is (`pointer`, `parameter`).
    #[serde(default)]
    pub source: Option<Value>,
    /// Extra data, e.g. `{"url": "https://developers.telnyx.com/..."}`.
    #[serde(default)]
    pub meta: Option<Value>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A Telnyx API error response (`{"errors":[{code,title,detail,source,meta}]}`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The errors as sent, in order.
    pub errors: Vec<ApiErrorDetail>,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Telnyx API error (HTTP {})", self.status.as_u16())?;
        for e in self.errors.iter().take(3) {
            f.write_str(": ")?;
            if let Some(code) = &e.code {
                write!(f, "[{code}] ")?;
            }
            let text = e.title.as_deref().or(e.detail.as_deref()).unwrap_or("");
            f.write_str(text)?;
        }
        Ok(())
    }
}

/// Why a response could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnexpectedReason {
    /// A non-success status without an error body we recognize.
    ErrorStatus,
    /// The body was empty.
    EmptyBody,
    /// The `Content-Type` was not JSON.
    WrongContentType,
    /// The body was not valid JSON; `line`/`column` point at the problem.
    InvalidJson {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
    },
    /// The body was larger than the limit, in bytes.
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A required member was missing.
    MissingField(&'static str),
    /// A member had a value we cannot accept.
    InvalidField {
        /// The member's name.
        field: &'static str,
        /// What was wrong with it (never the value itself).
        problem: &'static str,
    },
}

impl fmt::Display for UnexpectedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorStatus => f.write_str("error status without a recognizable error body"),
            Self::EmptyBody => f.write_str("empty body"),
            Self::WrongContentType => f.write_str("content type is not JSON"),
            Self::InvalidJson { line, column } => {
                write!(f, "invalid JSON at line {line}, column {column}")
            }
            Self::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Self::MissingField(name) => write!(f, "missing `{name}`"),
            Self::InvalidField { field, problem } => write!(f, "`{field}` {problem}"),
        }
    }
}

/// A response that was neither what we asked for nor a recognizable error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnexpectedResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// What was wrong.
    pub reason: UnexpectedReason,
    /// The start of the body (at most 256 characters), with credential-bearing JSON members redacted.
    pub preview: String,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for UnexpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unexpected response (HTTP {}, content type {}): {}",
            self.status.as_u16(),
            self.content_type.as_deref().unwrap_or("none"),
            self.reason
        )?;
        if !self.preview.is_empty() {
            write!(f, "; body starts {:?}", self.preview)?;
        }
        Ok(())
    }
}

/// Configuration the crate cannot work with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigError {
    /// What is wrong, in words.
    pub message: String,
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
}

impl fmt::Display for CustomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How many characters of a body an error keeps.
const PREVIEW_CHARS: usize = 256;

/// Members whose values are credentials, redacted before a body is previewed.
const SENSITIVE_MEMBERS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "code",
    "code_verifier",
    "assertion",
    "token",
    "password",
    "registration_access_token",
    "d",
    "p",
    "q",
    "dp",
    "dq",
    "qi",
    "k",
];

/// A short, printable start of a body, safe to log: JSON has its credential members redacted; text that
/// is not JSON but mentions a credential member is withheld entirely.
pub(crate) fn body_preview(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => {
            let lossy = String::from_utf8_lossy(body);
            if SENSITIVE_MEMBERS
                .iter()
                .filter(|m| m.len() > 4)
                .any(|m| lossy.contains(m))
            {
                return format!("{REDACTED} (unparseable body that may hold a credential)");
            }
            lossy.into_owned()
        }
    };
    sanitize(&text, PREVIEW_CHARS)
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SENSITIVE_MEMBERS.contains(&k.as_str()) {
                    *val = Value::String(REDACTED.to_owned());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// At most `max` characters, control characters replaced, so a hostile body cannot forge log lines.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn endpoint_label_drops_query_and_userinfo() {
        let url = url::Url::parse("https://user:pw@as.example:8443/oauth/token?secret=1").unwrap();
        assert_eq!(endpoint_label(&url), "https://as.example:8443/oauth/token");
    }

    #[test]
    fn preview_redacts_credentials_in_json() {
        let p = body_preview(br#"{"access_token":"eyJSECRET","token_type":"mac","nested":{"refresh_token":"rtSECRET"}}"#);
        assert!(!p.contains("SECRET"), "{p}");
        assert!(p.contains("token_type"));
    }

    #[test]
    fn preview_withholds_truncated_json_holding_a_credential() {
        let p = body_preview(br#"{"access_token":"eyJSECRET","tok"#);
        assert!(!p.contains("SECRET"), "{p}");
    }

    #[test]
    fn preview_is_bounded_and_has_no_control_characters() {
        let body = format!("<html>\n\r{}</html>", "x".repeat(10_000));
        let p = body_preview(body.as_bytes());
        assert!(p.chars().count() <= PREVIEW_CHARS + 1);
        assert!(!p.contains('\n') && !p.contains('\r'));
    }

    #[test]
    fn api_error_codes_may_be_numbers() {
        let d: ApiErrorDetail =
            serde_json::from_str(r#"{"code":10009,"title":"Authentication failed"}"#).unwrap();
        assert_eq!(d.code.as_deref(), Some("10009"));
    }
}
