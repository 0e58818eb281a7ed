//! The small HTTP helper every network call in this crate goes through: one timeout per attempt,
//! bounded body reads, no redirects, https only (loopback http by explicit opt-in), typed errors.
//!
//! Bring your own [`reqwest::Client`] (a proxy, mTLS, custom roots) with [`HttpClient::from_reqwest`].
//!
//! ```
//! use std::time::Duration;
//! use telnyx_oauth::HttpClient;
//!
//! let http = HttpClient::new()?
//!     .with_timeout(Duration::from_secs(5))
//!     .with_max_body(256 * 1024);
//! assert_eq!(http.timeout(), Duration::from_secs(5));
//! # Ok::<(), telnyx_oauth::Error>(())
//! ```

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::error::{
    Error, OAuthError, OAuthErrorCode, TransportError, TransportErrorKind, UnexpectedReason,
};
use crate::redact::sanitize;

/// Per-attempt timeout: connect, send, and read the whole body. DESIGN §4: 10 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout of the default client: a server that does not accept in 5 s is down for our purposes.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response body read (1 MiB): token and metadata documents are a few KiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Longest error description kept from a server.
const MAX_DESCRIPTION_CHARS: usize = 1024;

/// The `User-Agent` this crate sends.
pub const USER_AGENT: &str = concat!("telnyx-oauth-rust/", env!("CARGO_PKG_VERSION"));

/// A `reqwest::Client` plus the limits this crate applies to every call. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    allow_http_loopback: bool,
}

impl HttpClient {
    /// A client with the defaults: 10 s per attempt, 5 s to connect, 1 MiB bodies, no redirects.
    pub fn new() -> Result<Self, Error> {
        Self::new_with_connect_timeout(DEFAULT_CONNECT_TIMEOUT)
    }

    /// Like [`new`](Self::new) with another connect timeout (the JWKS fetcher uses 2 s).
    pub fn new_with_connect_timeout(connect: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|_| Error::config("the HTTP client could not be built (TLS backend)"))?;
        Ok(Self::from_reqwest(client))
    }

    /// Uses your own `reqwest::Client` (proxy, mTLS, custom roots, connection pool). Its redirect
    /// policy is yours: credentials are sent only to the URL configured, but a client that follows
    /// redirects will follow them.
    pub fn from_reqwest(client: reqwest::Client) -> Self {
        Self {
            client,
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            allow_http_loopback: false,
        }
    }

    /// Sets the per-attempt timeout (connect + send + whole body).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest body that will be read; a larger one is an
    /// [`UnexpectedReason::TooLarge`] error.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Allows plain `http://` to loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) — for local
    /// development and test servers. Every other host always needs `https://`.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The body size limit.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The underlying `reqwest::Client`.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// Parses `url` and checks that this client may talk to it (https, or loopback http when allowed).
    pub fn check_url(&self, url: &str) -> Result<Url, Error> {
        // The URL itself is not echoed: it may carry user info.
        let parsed = Url::parse(url)
            .map_err(|e| Error::config_caused_by(format!("not a valid URL: {e}"), e))?;
        if parsed.cannot_be_a_base() || parsed.host_str().is_none() {
            return Err(Error::config("the URL has no host"));
        }
        // Credentials in a URL end up in logs and proxies; they are never what an endpoint needs.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::config(format!(
                "`{}` carries user info; pass credentials through ClientAuth instead",
                crate::error::endpoint_label(&parsed)
            )));
        }
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.allow_http_loopback && is_loopback(&parsed) => Ok(parsed),
            "http" if is_loopback(&parsed) => Err(Error::config(format!(
                "`{}` is plain http; call allow_http_loopback(true) to permit it for a local server",
                crate::error::endpoint_label(&parsed)
            ))),
            _ => Err(Error::config(format!(
                "`{}` must use https",
                crate::error::endpoint_label(&parsed)
            ))),
        }
    }

    /// Sends a request built from this client and reads the whole response within the timeout.
    pub(crate) async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, Error> {
        let attempt = async {
            let mut response = request.send().await.map_err(|e| transport_error(url, e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            let too_large = |headers: &HeaderMap, body: &[u8]| {
                Error::unexpected(
                    status,
                    content_type(headers),
                    UnexpectedReason::TooLarge {
                        limit: self.max_body,
                    },
                    body,
                    retry_after(headers, SystemTime::now()),
                )
            };
            if response
                .content_length()
                .is_some_and(|len| len > self.max_body as u64)
            {
                return Err(too_large(&headers, &[]));
            }
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport_error(url, e))?
            {
                if body.len() + chunk.len() > self.max_body {
                    return Err(too_large(&headers, &body));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::timeout(url, self.timeout)),
        }
    }

    /// GETs a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<T, Error> {
        let request = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/json");
        let response = self.send(url, request).await?;
        if !response.status.is_success() {
            return Err(response.error());
        }
        response.json()
    }
}

/// A loopback host: a loopback IP literal, or `localhost`.
fn is_loopback(url: &Url) -> bool {
    is_loopback_ip(url)
        || matches!(url.host(), Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost"))
}

/// A loopback IP literal (RFC 8252 §7.3 prefers these to `localhost` for redirect URIs).
pub(crate) fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

fn transport_error(url: &Url, err: reqwest::Error) -> Error {
    let kind = if err.is_timeout() {
        TransportErrorKind::Timeout
    } else if is_tls(&err) {
        TransportErrorKind::Tls
    } else if err.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Io
    };
    TransportError::build(kind, url, Some(std::sync::Arc::new(err)))
}

/// Whether a rustls error sits anywhere in the chain (io::Error hides its payload from `source()`).
fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && is_tls(inner)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// A complete, bounded response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn content_type(&self) -> Option<String> {
        content_type(&self.headers)
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers, SystemTime::now())
    }

    fn unexpected(&self, reason: UnexpectedReason) -> Error {
        Error::unexpected(
            self.status,
            self.content_type(),
            reason,
            &self.body,
            self.retry_after(),
        )
    }

    /// Parses a success body as a JSON value, checking the content type first.
    pub(crate) fn json_value(&self) -> Result<Value, Error> {
        if self.body.is_empty() {
            return Err(self.unexpected(UnexpectedReason::EmptyBody));
        }
        if !self
            .content_type()
            .as_deref()
            .is_some_and(is_json_media_type)
        {
            return Err(self.unexpected(UnexpectedReason::WrongContentType));
        }
        crate::json::parse(&self.body).map_err(|e| match e {
            crate::json::Invalid::Duplicate => self.unexpected(UnexpectedReason::DuplicateMember),
            crate::json::Invalid::Syntax { line, column } => {
                self.unexpected(UnexpectedReason::InvalidJson { line, column })
            }
        })
    }

    /// Parses a success body into `T`. Type errors name the position, never the value.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let value = self.json_value()?;
        T::deserialize(value).map_err(|e| {
            self.unexpected(UnexpectedReason::InvalidField {
                field: "(document)",
                problem: leak_free_serde_problem(&e),
            })
        })
    }

    /// Interprets the response as an error: an OAuth error body (RFC 6749 §5.2), or an unexpected
    /// response. API-specific error bodies are read by the API client on top of this.
    pub(crate) fn error(&self) -> Error {
        if let Ok(Value::Object(map)) = crate::json::parse(&self.body)
            && let Some(Value::String(code)) = map.get("error")
        {
            return Error::OAuth(Box::new(oauth_error(self, code, &map)));
        }
        let reason = if self.body.is_empty() {
            UnexpectedReason::EmptyBody
        } else {
            UnexpectedReason::ErrorStatus
        };
        self.unexpected(reason)
    }
}

/// serde's messages may quote the offending value ("invalid type: string \"eyJ…\""); keep only the class.
fn leak_free_serde_problem(e: &serde_json::Error) -> &'static str {
    let msg = e.to_string();
    if msg.starts_with("missing field") {
        "is missing a required member"
    } else if msg.starts_with("invalid type") {
        "has a member of the wrong type"
    } else if msg.starts_with("invalid value") || msg.starts_with("unknown variant") {
        "has a member with an invalid value"
    } else {
        "does not have the expected shape"
    }
}

fn oauth_error(resp: &Response, code: &str, map: &serde_json::Map<String, Value>) -> OAuthError {
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .map(|s| sanitize(s, MAX_DESCRIPTION_CHARS))
    };
    let invalid_fields = map
        .get("invalid_fields")
        .and_then(Value::as_object)
        .map(|fields| {
            fields
                .iter()
                .take(64)
                .map(|(k, v)| {
                    let msgs = match v {
                        Value::Array(items) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|s| sanitize(s, MAX_DESCRIPTION_CHARS))
                            .collect(),
                        Value::String(s) => vec![sanitize(s, MAX_DESCRIPTION_CHARS)],
                        _ => Vec::new(),
                    };
                    (sanitize(k, 128), msgs)
                })
                .collect()
        })
        .unwrap_or_default();
    OAuthError {
        status: resp.status,
        code: OAuthErrorCode::parse(&sanitize(code, 128)),
        description: text("error_description"),
        uri: text("error_uri"),
        invalid_fields,
        www_authenticate: resp
            .headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|s| sanitize(s, MAX_DESCRIPTION_CHARS)),
        retry_after: resp.retry_after(),
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| sanitize(s, 128))
}

/// `application/json`, or any `application/*+json` (e.g. `application/jwk-set+json`), any parameters.
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The longest server-supplied delay taken as is (a day); callers bound it further (the provider by
/// its backoff cap).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `Retry-After` (RFC 9110 §10.2.3) as delta-seconds or an HTTP-date, bounded by [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn response(status: u16, ct: Option<&str>, body: &str) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(ct) = ct {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retry_after_seconds_date_and_ms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        let mut far = HeaderMap::new();
        far.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 2099 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&far, now), Some(MAX_RETRY_AFTER));
        far.insert(header::RETRY_AFTER, HeaderValue::from_static("99999999999"));
        assert_eq!(retry_after(&far, now), Some(MAX_RETRY_AFTER));
        let mut bad = HeaderMap::new();
        bad.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&bad, now), None);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/jwk-set+json"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type("text/json+html"));
    }

    #[test]
    fn oauth_error_body_is_parsed_with_invalid_fields() {
        let r = response(
            400,
            Some("application/json"),
            r#"{"error":"invalid_client_metadata","error_description":"bad\nthing","invalid_fields":{"redirect_uris":["must be https"]}}"#,
        );
        let Error::OAuth(e) = r.error() else {
            panic!("not oauth")
        };
        assert_eq!(e.code, OAuthErrorCode::InvalidClientMetadata);
        assert_eq!(e.description.as_deref(), Some("bad thing"));
        assert_eq!(
            e.invalid_fields["redirect_uris"],
            vec!["must be https".to_owned()]
        );
    }

    #[test]
    fn html_error_page_is_unexpected_with_preview() {
        let r = response(
            502,
            Some("text/html"),
            "<html><body>Bad Gateway</body></html>",
        );
        let err = r.error();
        let Error::UnexpectedResponse(e) = &err else {
            panic!("not unexpected")
        };
        assert_eq!(e.reason, UnexpectedReason::ErrorStatus);
        assert!(e.preview.contains("Bad Gateway"));
        assert!(err.is_transient());
    }

    #[test]
    fn success_body_checks() {
        assert!(matches!(
            response(200, Some("application/json"), "").json_value(),
            Err(Error::UnexpectedResponse(e)) if e.reason == UnexpectedReason::EmptyBody
        ));
        assert!(matches!(
            response(200, Some("text/html"), "{}").json_value(),
            Err(Error::UnexpectedResponse(e)) if e.reason == UnexpectedReason::WrongContentType
        ));
        assert!(matches!(
            response(200, Some("application/json"), "{\"a\":").json_value(),
            Err(Error::UnexpectedResponse(e)) if matches!(e.reason, UnexpectedReason::InvalidJson { .. })
        ));
    }

    #[test]
    fn urls_must_be_https_unless_loopback_is_allowed() {
        let http = HttpClient::new().unwrap();
        assert!(
            http.check_url("https://api.telnyx.com/v2/oauth/token")
                .is_ok()
        );
        assert!(http.check_url("http://127.0.0.1:8080/token").is_err());
        assert!(http.check_url("http://example.com/token").is_err());
        assert!(http.check_url("not a url").is_err());
        let dev = http.allow_http_loopback(true);
        assert!(dev.check_url("http://127.0.0.1:8080/token").is_ok());
        assert!(dev.check_url("http://[::1]:8080/token").is_ok());
        assert!(dev.check_url("http://localhost/token").is_ok());
        assert!(dev.check_url("http://10.0.0.1/token").is_err());
        assert!(dev.check_url("ftp://127.0.0.1/token").is_err());
        // Errors never echo the URL, which may carry credentials.
        for bad in [
            "https://user:hunter2@[bad/token",
            "http://user:hunter2@10.0.0.1/x",
            "mailto:user:hunter2",
        ] {
            let e = dev.check_url(bad).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn urls_with_user_info_are_refused_without_echoing_it() {
        let http = HttpClient::new().unwrap();
        for url in [
            "https://user:pass@as.example/token",
            "https://user@as.example/token",
            "https://:pass@as.example/token",
        ] {
            let err = http.check_url(url).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{url}");
            let text = err.to_string();
            assert!(text.contains("user info"), "{text}");
            assert!(
                !text.contains("user:") && !text.contains(":pass") && !text.contains("user@"),
                "{text}"
            );
        }
        assert!(http.check_url("https://as.example/token").is_ok());
    }

    #[test]
    fn duplicate_members_in_a_response_are_a_typed_error() {
        let r = response(
            200,
            Some("application/json"),
            r#"{"issuer":"https://a","issuer":"https://evil"}"#,
        );
        let Err(Error::UnexpectedResponse(e)) = r.json_value() else {
            panic!("accepted a document with a repeated member")
        };
        assert_eq!(e.reason, UnexpectedReason::DuplicateMember);
    }
}
