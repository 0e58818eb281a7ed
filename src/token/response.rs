//! Strict parsing of RFC 6749 §5.1 token responses into [`Token`].

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::error::{Error, UnexpectedReason};
use crate::http::Response;
use crate::secret::{AccessToken, RefreshToken};

/// Lifetime assumed when a server omits `expires_in` (DESIGN §4: 5 min, with a warning).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);
/// Longest lifetime believed: a larger `expires_in` is clamped so time arithmetic can never overflow.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(365 * 24 * 3600);

/// A token set from the token endpoint, with when it was obtained and when it expires.
///
/// Both instants come from one clock — tokio's, so tests can pause it.
#[derive(Clone)]
pub struct Token {
    access_token: AccessToken,
    token_type: String,
    expires_in: Duration,
    expires_in_defaulted: bool,
    refresh_token: Option<RefreshToken>,
    scope: Option<String>,
    refresh_in: Option<Duration>,
    obtained_at: Instant,
    extra: Map<String, Value>,
}

impl Token {
    /// Builds a token set directly, e.g. from one obtained and stored elsewhere.
    ///
    /// `obtained_at` should be when the request for this token was *sent* — the earliest instant the
    /// server could have issued it — not when the reply arrived: expiry is counted from it, and a late
    /// stamp makes a slow reply look longer-lived than the token's `exp`. [`TokenEndpoint`] stamps its
    /// tokens this way; the provider then also keeps a clock-skew margin
    /// ([`RefreshPolicy::expiry_skew`]) off every token, supplied ones included.
    ///
    /// [`TokenEndpoint`]: crate::token::TokenEndpoint
    /// [`RefreshPolicy::expiry_skew`]: crate::provider::RefreshPolicy::expiry_skew
    pub fn new(access_token: AccessToken, expires_in: Duration, obtained_at: Instant) -> Self {
        Self {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: expires_in.min(MAX_EXPIRES_IN),
            expires_in_defaulted: false,
            refresh_token: None,
            scope: None,
            refresh_in: None,
            obtained_at,
            extra: Map::new(),
        }
    }

    /// Adds a refresh token.
    pub fn with_refresh_token(mut self, refresh_token: RefreshToken) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }

    /// Sets the granted scope (space-separated).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the `token_type` (default `Bearer`): `DPoP` for a token a custom
    /// [`TokenSource`](crate::provider::TokenSource) obtained with a proof, which the provider then
    /// sends with proofs from its [`dpop_key`](crate::provider::TokenProviderBuilder::dpop_key).
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets the server's refresh hint (as a `refresh_in` member would).
    pub fn with_refresh_in(mut self, refresh_in: Duration) -> Self {
        self.refresh_in = Some(refresh_in);
        self
    }

    /// The members a shared cache keeps besides the ones with public setters.
    pub(crate) fn with_stored_parts(
        mut self,
        token_type: String,
        expires_in_defaulted: bool,
        extra: Map<String, Value>,
    ) -> Self {
        self.token_type = token_type;
        self.expires_in_defaulted = expires_in_defaulted;
        self.extra = extra;
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// `token_type` as sent: `Bearer`, or `DPoP` for a token bound to a DPoP key (in any casing).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether the token is bound to the DPoP key whose proof obtained it (`token_type` `DPoP`, RFC
    /// 9449 §5): it must be sent as `Authorization: DPoP …` with a proof from that key.
    pub fn is_dpop_bound(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop")
    }

    /// The lifetime: `expires_in`, clamped to [`MAX_EXPIRES_IN`], or [`DEFAULT_EXPIRES_IN`] when absent.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// Whether the server omitted `expires_in` and [`DEFAULT_EXPIRES_IN`] was assumed.
    pub fn expires_in_defaulted(&self) -> bool {
        self.expires_in_defaulted
    }

    /// The refresh token, when the server issued one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The granted scope string, when the server sent one (RFC 6749 §5.1: absent means "as requested").
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The granted scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// The server's hint for when to refresh (`refresh_in`, as Microsoft Entra sends), if any.
    pub fn refresh_in(&self) -> Option<Duration> {
        self.refresh_in
    }

    /// When the request for this token was sent (the instant its expiry is counted from).
    pub fn obtained_at(&self) -> Instant {
        self.obtained_at
    }

    /// When the access token expires: `obtained_at + expires_in`.
    pub fn expires_at(&self) -> Instant {
        self.obtained_at + self.expires_in
    }

    /// Time left before expiry at `now` (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires_at().saturating_duration_since(now)
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired_at(&self, now: Instant) -> bool {
        now >= self.expires_at()
    }

    /// Every other member of the response (e.g. `id_token`), as sent.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Extra members may hold credentials (`id_token`): show their names only.
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn invalid(resp: &Response, field: &'static str, problem: &'static str) -> Error {
    // The body is not previewed: a malformed token response is exactly where a credential sits.
    Error::unexpected(
        resp.status,
        resp.content_type(),
        UnexpectedReason::InvalidField { field, problem },
        &[],
        resp.retry_after(),
    )
}

/// Parses a token endpoint response strictly (RFC 6749 §5.1, §5.2).
/// A token response as a [`Token`], or the error the response means (`read_error` reads error bodies).
///
/// `token_type` must be `Bearer`, or `DPoP` when the request carried a DPoP proof (`dpop_sent`): a
/// server that binds a token the client did not ask to bind is answering someone else.
pub(crate) fn parse_token_response(
    resp: &Response,
    now: Instant,
    read_error: fn(&Response) -> Error,
    dpop_sent: bool,
) -> Result<Token, Error> {
    if !resp.status.is_success() {
        return Err(read_error(resp));
    }
    let Value::Object(mut map) = resp.json_value()? else {
        return Err(invalid(resp, "(body)", "is not a JSON object"));
    };
    if !map.contains_key("access_token") && map.get("error").is_some_and(Value::is_string) {
        // Some servers answer errors with 200.
        return Err(read_error(resp));
    }
    let access_token = match map.remove("access_token") {
        Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s),
        Some(Value::String(_)) => return Err(invalid(resp, "access_token", "is empty")),
        Some(_) => return Err(invalid(resp, "access_token", "is not a string")),
        None => {
            return Err(Error::unexpected(
                resp.status,
                resp.content_type(),
                UnexpectedReason::MissingField("access_token"),
                &[],
                None,
            ));
        }
    };
    let token_type = match map.remove("token_type") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("bearer") => s,
        Some(Value::String(s)) if dpop_sent && s.eq_ignore_ascii_case("dpop") => s,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("dpop") => {
            return Err(invalid(
                resp,
                "token_type",
                "is `DPoP`, but the request carried no DPoP proof",
            ));
        }
        Some(Value::String(_)) => {
            return Err(invalid(resp, "token_type", "is not `Bearer` or `DPoP`"));
        }
        Some(_) => return Err(invalid(resp, "token_type", "is not a string")),
        None => {
            return Err(Error::unexpected(
                resp.status,
                resp.content_type(),
                UnexpectedReason::MissingField("token_type"),
                &[],
                None,
            ));
        }
    };
    let (expires_in, expires_in_defaulted) = match map.remove("expires_in") {
        None | Some(Value::Null) => {
            tracing::warn!(
                default_secs = DEFAULT_EXPIRES_IN.as_secs(),
                "token response has no expires_in; assuming the default lifetime"
            );
            (DEFAULT_EXPIRES_IN, true)
        }
        Some(v) => (
            seconds(&v).map_err(|problem| invalid(resp, "expires_in", problem))?,
            false,
        ),
    };
    let refresh_in = match map.remove("refresh_in") {
        None | Some(Value::Null) => None,
        Some(v) => Some(seconds(&v).map_err(|problem| invalid(resp, "refresh_in", problem))?),
    };
    let refresh_token = match map.remove("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(RefreshToken::new(s)),
        Some(_) => return Err(invalid(resp, "refresh_token", "is not a non-empty string")),
    };
    let scope = match map.remove("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(invalid(resp, "scope", "is not a string")),
    };
    Ok(Token {
        access_token,
        token_type,
        expires_in,
        expires_in_defaulted,
        refresh_token,
        scope,
        refresh_in,
        obtained_at: now,
        extra: map,
    })
}

/// A non-negative number of seconds: an integer, a float (floored), or a numeric string; clamped.
fn seconds(v: &Value) -> Result<Duration, &'static str> {
    let secs = match v {
        Value::Number(n) => n.as_f64().ok_or("is not a number")?,
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| "is not a number")?,
        _ => return Err("is not a number"),
    };
    if !secs.is_finite() {
        return Err("is not a finite number");
    }
    if secs < 0.0 {
        return Err("is negative");
    }
    Ok(Duration::from_secs_f64(
        secs.min(MAX_EXPIRES_IN.as_secs_f64()).floor(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode, header};

    fn resp(status: u16, body: &str) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn parse(body: &str) -> Result<Token, Error> {
        parse_token_response(&resp(200, body), Instant::now(), Response::error, false)
    }

    fn reason(err: Error) -> UnexpectedReason {
        match err {
            Error::UnexpectedResponse(e) => e.reason,
            other => panic!("expected unexpected-response, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_complete_response_and_keeps_unknown_members() {
        let t = parse(r#"{"access_token":"at","token_type":"bearer","expires_in":3600,"refresh_token":"rt","scope":"a b","id_token":"x","refresh_in":1800}"#).unwrap();
        assert_eq!(t.access_token().secret(), "at");
        assert_eq!(t.expires_in(), Duration::from_secs(3600));
        assert_eq!(t.refresh_token().unwrap().secret(), "rt");
        assert_eq!(t.scopes().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(t.refresh_in(), Some(Duration::from_secs(1800)));
        assert!(t.extra().contains_key("id_token"));
        assert_eq!(t.expires_at(), t.obtained_at() + Duration::from_secs(3600));
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("\"at\"") && !debug.contains("rt\"") && !debug.contains("\"x\""),
            "{debug}"
        );
    }

    #[test]
    fn expires_in_variants() {
        let base =
            |v: &str| format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{v}}}"#);
        assert_eq!(
            parse(&base("\"120\"")).unwrap().expires_in(),
            Duration::from_secs(120)
        );
        assert_eq!(
            parse(&base("59.9")).unwrap().expires_in(),
            Duration::from_secs(59)
        );
        assert_eq!(parse(&base("0")).unwrap().expires_in(), Duration::ZERO);
        assert_eq!(parse(&base("1e300")).unwrap().expires_in(), MAX_EXPIRES_IN);
        assert_eq!(
            parse(&base("18446744073709551615")).unwrap().expires_in(),
            MAX_EXPIRES_IN
        );
        for bad in ["-1", "\"soon\"", "true", "[]", "{}"] {
            assert!(
                matches!(
                    reason(parse(&base(bad)).unwrap_err()),
                    UnexpectedReason::InvalidField {
                        field: "expires_in",
                        ..
                    }
                ),
                "{bad}"
            );
        }
        let t = parse(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        assert_eq!(t.expires_in(), DEFAULT_EXPIRES_IN);
        assert!(t.expires_in_defaulted());
    }

    #[test]
    fn missing_or_wrong_required_members() {
        assert_eq!(
            reason(parse(r#"{"token_type":"Bearer"}"#).unwrap_err()),
            UnexpectedReason::MissingField("access_token")
        );
        assert_eq!(
            reason(parse(r#"{"access_token":"a"}"#).unwrap_err()),
            UnexpectedReason::MissingField("token_type")
        );
        assert!(matches!(
            reason(parse(r#"{"access_token":"","token_type":"Bearer"}"#).unwrap_err()),
            UnexpectedReason::InvalidField {
                field: "access_token",
                ..
            }
        ));
        assert!(matches!(
            reason(parse(r#"{"access_token":7,"token_type":"Bearer"}"#).unwrap_err()),
            UnexpectedReason::InvalidField {
                field: "access_token",
                ..
            }
        ));
        assert!(matches!(
            reason(parse(r#"{"access_token":"a","token_type":"mac"}"#).unwrap_err()),
            UnexpectedReason::InvalidField {
                field: "token_type",
                ..
            }
        ));
        assert!(matches!(
            reason(
                parse(r#"{"access_token":"a","token_type":"Bearer","refresh_token":5}"#)
                    .unwrap_err()
            ),
            UnexpectedReason::InvalidField {
                field: "refresh_token",
                ..
            }
        ));
        assert!(matches!(
            reason(parse(r#"[1,2]"#).unwrap_err()),
            UnexpectedReason::InvalidField {
                field: "(body)",
                ..
            }
        ));
    }

    #[test]
    fn errors_never_echo_the_token() {
        let err = parse(r#"{"access_token":"SECRETTOKEN","token_type":"mac"}"#).unwrap_err();
        assert!(!err.to_string().contains("SECRETTOKEN"));
        assert!(!format!("{err:?}").contains("SECRETTOKEN"));
    }

    #[test]
    fn a_dpop_token_type_is_taken_only_after_a_proof_was_sent() {
        let body = r#"{"access_token":"at","token_type":"DPoP","expires_in":60}"#;
        let err = parse(body).unwrap_err();
        assert!(err.to_string().contains("no DPoP proof"), "{err}");
        let t =
            parse_token_response(&resp(200, body), Instant::now(), Response::error, true).unwrap();
        assert!(t.is_dpop_bound());
        let bearer = parse_token_response(
            &resp(200, r#"{"access_token":"at","token_type":"bearer"}"#),
            Instant::now(),
            Response::error,
            true,
        )
        .unwrap();
        assert!(
            !bearer.is_dpop_bound(),
            "a server may ignore the proof and issue a bearer token"
        );
    }

    #[test]
    fn error_body_with_200_is_an_oauth_error() {
        let err = parse(r#"{"error":"invalid_grant"}"#).unwrap_err();
        assert_eq!(err.oauth_code().map(|c| c.as_str()), Some("invalid_grant"));
    }

    #[test]
    fn error_status_is_an_oauth_error() {
        let err = parse_token_response(
            &resp(
                401,
                r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
            ),
            Instant::now(),
            Response::error,
            false,
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(err.is_permanent());
    }
}
