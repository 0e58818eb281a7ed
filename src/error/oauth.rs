//! OAuth error responses (RFC 6749 §5.2) and their codes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

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
