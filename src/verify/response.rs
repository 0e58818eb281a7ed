//! RFC 6750 §3 answers: the status, the `WWW-Authenticate` challenge, and an optional RFC 9457 body.

use std::time::Duration;

use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use super::DpopReason;
use super::error::VerifyError;

/// Why the layer answered a request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No bearer credentials (none at all, or another scheme): 401 with a bare challenge.
    MissingCredentials,
    /// The request is malformed (two `Authorization` headers, an empty or non-token68 token): 400.
    InvalidRequest(&'static str),
    /// The token failed verification: 401 `invalid_token`. The precise reason is for logs only.
    InvalidToken(VerifyError),
    /// The token lacks a scope the route requires: 403 `insufficient_scope`.
    InsufficientScope {
        /// The scopes the route asks for (space-separated in the challenge).
        required: Vec<String>,
    },
    /// No keys to verify with: 503 with `Retry-After`.
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

impl Rejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredentials | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 6750 error code, if the answer carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingCredentials | Self::Unavailable { .. } => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(VerifyError::Dpop(DpopReason::UseNonce)) => Some("use_dpop_nonce"),
            Self::InvalidToken(e) if e.is_dpop_proof_error() => Some("invalid_dpop_proof"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
        }
    }

    /// A stable reason for metrics and logs (the verifier's reason code for invalid tokens).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(e) => e.code(),
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::Unavailable { .. } => "keys_unavailable",
        }
    }

    /// The generic description sent to the client: it never echoes the token or the precise reason.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "Bearer credentials are required",
            Self::InvalidRequest(why) => why,
            Self::InvalidToken(VerifyError::Dpop(DpopReason::UseNonce)) => {
                "The DPoP proof must carry the server's nonce"
            }
            Self::InvalidToken(e) if e.is_dpop_proof_error() => "The DPoP proof is not valid",
            Self::InvalidToken(_) => "The access token is not valid",
            Self::InsufficientScope { .. } => "The access token does not grant the required scope",
            Self::Unavailable { .. } => "Token verification is temporarily unavailable",
        }
    }
}

/// How challenges are written: the realm, the RFC 9728 metadata URL, and the body format. Built from
/// [`Default`] and the `with_*` setters (new fields may come in a minor release).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChallengeConfig {
    /// `realm` of every challenge.
    pub realm: String,
    /// `resource_metadata` (RFC 9728 §5.1), when configured.
    pub resource_metadata: Option<String>,
    /// Answer with an RFC 9457 `application/problem+json` body (otherwise the body is empty).
    pub problem_json: bool,
    /// The DPoP proof algorithms accepted (space-separated), when DPoP-bound tokens are: every
    /// challenge then offers the `DPoP` scheme too (RFC 9449 §7.1). Set by `VerifyLayer` from its
    /// verifier's [`DpopPolicy`](super::DpopPolicy).
    pub dpop_algs: Option<String>,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        Self {
            realm: "api".to_owned(),
            resource_metadata: None,
            problem_json: false,
            dpop_algs: None,
        }
    }
}

/// An RFC 9110 quoted-string: `"` and `\` escaped, control characters dropped.
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

policy_setters!(ChallengeConfig {
    with_realm => realm: String,
    with_resource_metadata => resource_metadata: Option<String>,
    with_problem_json => problem_json: bool,
    with_dpop_algs => dpop_algs: Option<String>,
});

impl ChallengeConfig {
    /// The `WWW-Authenticate` value for a rejection (`None` for 503, which has no challenge).
    pub fn challenge(&self, rejection: &Rejection) -> Option<String> {
        self.challenge_under(rejection, false)
    }

    /// The challenge for a request whose token came under the `DPoP` scheme (`dpop_scheme`): an
    /// invalid token or proof is then answered in the `DPoP` challenge (RFC 9449 §7.1), as is a
    /// proof error under any scheme.
    pub(crate) fn challenge_under(
        &self,
        rejection: &Rejection,
        dpop_scheme: bool,
    ) -> Option<String> {
        if matches!(rejection, Rejection::Unavailable { .. }) {
            return None;
        }
        let realm = format!("realm={}", quoted(&self.realm));
        if let (Some(algs), Rejection::InvalidToken(e)) = (&self.dpop_algs, rejection)
            && (dpop_scheme || e.is_dpop_proof_error())
        {
            return Some(format!(
                "DPoP {realm}, error={}, error_description={}, algs={}",
                quoted(rejection.error_code().unwrap_or("invalid_token")),
                quoted(rejection.description()),
                quoted(algs)
            ));
        }
        let mut params = vec![realm.clone()];
        if let Some(code) = rejection.error_code() {
            params.push(format!("error={}", quoted(code)));
            params.push(format!(
                "error_description={}",
                quoted(rejection.description())
            ));
        }
        if let Rejection::InsufficientScope { required } = rejection {
            params.push(format!("scope={}", quoted(&required.join(" "))));
        }
        if let Some(url) = &self.resource_metadata {
            params.push(format!("resource_metadata={}", quoted(url)));
        }
        let bearer = format!("Bearer {}", params.join(", "));
        Some(match &self.dpop_algs {
            Some(algs) => format!("{bearer}, DPoP {realm}, algs={}", quoted(algs)),
            None => bearer,
        })
    }

    /// The full answer for a rejection, with a body of any type buildable from a `String`.
    pub fn response<B: From<String>>(&self, rejection: &Rejection) -> Response<B> {
        self.response_under(rejection, false)
    }

    /// [`response`](Self::response) for a token that came under the `DPoP` scheme when `dpop_scheme`.
    pub(crate) fn response_under<B: From<String>>(
        &self,
        rejection: &Rejection,
        dpop_scheme: bool,
    ) -> Response<B> {
        let status = rejection.status();
        let body = if self.problem_json {
            serde_json::json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "detail": rejection.description(),
            })
            .to_string()
        } else {
            String::new()
        };
        let mut response = Response::new(B::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge_under(rejection, dpop_scheme)
            && let Ok(v) = HeaderValue::try_from(challenge)
        {
            headers.insert(WWW_AUTHENTICATE, v);
        }
        if let Rejection::Unavailable { retry_after } = rejection {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        if self.problem_json {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        let c = ChallengeConfig {
            realm: "my \"api\"".into(),
            resource_metadata: Some(
                "https://api.example/.well-known/oauth-protected-resource".into(),
            ),
            problem_json: false,
            dpop_algs: None,
        };
        assert_eq!(
            c.challenge(&Rejection::MissingCredentials).unwrap(),
            r#"Bearer realm="my \"api\"", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
        );
        assert_eq!(
            c.challenge(&Rejection::InvalidToken(VerifyError::Expired))
                .unwrap(),
            r#"Bearer realm="my \"api\"", error="invalid_token", error_description="The access token is not valid", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
        );
        let scope = c
            .challenge(&Rejection::InsufficientScope {
                required: vec!["a".into(), "b".into()],
            })
            .unwrap();
        assert!(
            scope.contains(r#"error="insufficient_scope""#) && scope.contains(r#"scope="a b""#),
            "{scope}"
        );
        assert!(
            c.challenge(&Rejection::Unavailable {
                retry_after: Duration::from_secs(3)
            })
            .is_none()
        );
        let r: Response<String> = c.response(&Rejection::Unavailable {
            retry_after: Duration::from_secs(3),
        });
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[RETRY_AFTER], "3");
    }

    #[test]
    fn dpop_requests_are_answered_in_the_dpop_challenge() {
        let c = ChallengeConfig::default().with_dpop_algs(Some("ES256 EdDSA".into()));
        let nonce = Rejection::InvalidToken(VerifyError::Dpop(DpopReason::UseNonce));
        assert_eq!(nonce.error_code(), Some("use_dpop_nonce"));
        assert_eq!(
            c.challenge(&nonce).unwrap(),
            r#"DPoP realm="api", error="use_dpop_nonce", error_description="The DPoP proof must carry the server's nonce", algs="ES256 EdDSA""#
        );
        // A token refused for itself: under DPoP in the DPoP challenge, under Bearer in the Bearer one.
        let expired = Rejection::InvalidToken(VerifyError::Expired);
        assert_eq!(
            c.challenge_under(&expired, true).unwrap(),
            r#"DPoP realm="api", error="invalid_token", error_description="The access token is not valid", algs="ES256 EdDSA""#
        );
        assert!(
            c.challenge(&expired)
                .unwrap()
                .starts_with(r#"Bearer realm="api", error="invalid_token""#)
        );
        // Without DPoP configured there is no DPoP challenge at all.
        assert!(
            ChallengeConfig::default()
                .challenge_under(&expired, true)
                .unwrap()
                .starts_with("Bearer ")
        );
    }

    #[test]
    fn problem_json_bodies() {
        let c = ChallengeConfig {
            problem_json: true,
            ..ChallengeConfig::default()
        };
        let r: Response<String> =
            c.response(&Rejection::InvalidRequest("two Authorization headers"));
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
        let body: serde_json::Value = serde_json::from_str(r.body()).unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["detail"], "two Authorization headers");
    }
}
