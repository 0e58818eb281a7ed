//! RFC 7662 token introspection for opaque tokens, with a bounded cache keyed by SHA-256 of the token.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;

use super::Verified;
use super::error::VerifyError;
use super::validation::StandardClaims;
use crate::error::Error;
use crate::http::HttpClient;
use crate::metadata::AuthorizationServerMetadata;
use crate::token::ClientAuth;

/// Introspection answers are cached by the SHA-256 of the token, so the cache never holds a token
/// (a digest costs well under a microsecond against an introspection round trip).
type Digest = [u8; 32];

fn digest(token: &str) -> Digest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// What an [`Introspector`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IntrospectionStats {
    /// Introspection requests sent to the authorization server.
    pub requests: u64,
    /// Answers served from the cache instead.
    pub cache_hits: u64,
}

/// An introspection answer is reused for at most this long (and never past the token's `exp`).
pub const DEFAULT_INTROSPECTION_TTL: Duration = Duration::from_secs(60);
/// Answers kept in the introspection cache.
pub const DEFAULT_INTROSPECTION_CACHE: usize = 10_000;

type Answer = Result<Verified<Value>, VerifyError>;

struct Cache {
    map: HashMap<Digest, (Answer, Instant)>,
    order: VecDeque<Digest>,
}

struct IntrospectorState {
    url: Url,
    auth: ClientAuth,
    http: HttpClient,
    audiences: Vec<String>,
    ttl: Duration,
    capacity: usize,
    cache: Mutex<Cache>,
    calls: AtomicU64,
    hits: AtomicU64,
    clock: Arc<dyn Fn() -> f64 + Send + Sync>,
}

/// Validates opaque access tokens by asking the authorization server (RFC 7662). Cheap to clone.
///
/// ```no_run
/// use telnyx_oauth::{ClientAuth, ClientSecret, HttpClient, telnyx};
/// use telnyx_oauth::verify::Introspector;
///
/// let introspector = Introspector::new(
///     HttpClient::new()?,
///     telnyx::INTROSPECT_URL,
///     ClientAuth::basic("resource-server", ClientSecret::new("secret")),
/// )?
/// .audience("https://api.example.com");
/// # Ok::<(), telnyx_oauth::Error>(())
/// ```
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<IntrospectorState>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &crate::error::endpoint_label(&self.inner.url))
            .field("client", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// An introspector for the endpoint at `url`, authenticating as `auth`.
    pub fn new(http: HttpClient, url: &str, auth: ClientAuth) -> Result<Self, Error> {
        let url = http.check_url(url)?;
        Ok(Self::with_url(http, url, auth))
    }

    /// Finds `introspection_endpoint` in the issuer's RFC 8414 metadata.
    pub async fn discover(http: HttpClient, issuer: &str, auth: ClientAuth) -> Result<Self, Error> {
        let metadata = AuthorizationServerMetadata::discover(&http, issuer).await?;
        let url = metadata.introspection_endpoint_url(&http)?;
        Ok(Self::with_url(http, url, auth))
    }

    fn with_url(http: HttpClient, url: Url, auth: ClientAuth) -> Self {
        Self {
            inner: Arc::new(IntrospectorState {
                url,
                auth,
                http,
                audiences: Vec::new(),
                ttl: DEFAULT_INTROSPECTION_TTL,
                capacity: DEFAULT_INTROSPECTION_CACHE,
                cache: Mutex::new(Cache {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                }),
                calls: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                clock: crate::clock::system(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut IntrospectorState)) -> Self {
        // Only called while building, before any clone exists.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            f(inner);
        }
        self
    }

    /// Requires `aud`, when the server includes it, to contain this audience (repeatable).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        self.edit(|i| i.audiences.push(audience))
    }

    /// How long an answer is reused (default 60 s; 0 turns the cache off).
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.edit(|i| i.ttl = ttl)
    }

    /// Replaces the wall clock (seconds since the epoch), for tests.
    pub fn clock(self, clock: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.edit(|i| i.clock = Arc::new(clock))
    }

    /// Introspection requests made so far, and answers served from the cache.
    pub fn stats(&self) -> IntrospectionStats {
        IntrospectionStats {
            requests: self.inner.calls.load(Ordering::Relaxed),
            cache_hits: self.inner.hits.load(Ordering::Relaxed),
        }
    }

    /// Asks whether `token` is active; an inactive or unacceptable token is [`VerifyError`]; a failed
    /// request is [`VerifyError::IntrospectionUnavailable`] (the layer answers 503: this server cannot
    /// decide).
    pub async fn introspect(&self, token: &str) -> Answer {
        let inner = &*self.inner;
        let key = digest(token);
        let now = Instant::now();
        {
            let cache = crate::lock::lock(&inner.cache);
            if let Some((answer, until)) = cache.map.get(&key)
                && now < *until
            {
                inner.hits.fetch_add(1, Ordering::Relaxed);
                crate::observe::introspection(true);
                return answer.clone();
            }
        }
        inner.calls.fetch_add(1, Ordering::Relaxed);
        crate::observe::introspection(false);
        tracing::debug!("introspecting a token");
        let (answer, exp) = match self.ask(token).await {
            Ok(answer) => answer,
            // Not cached: the next request asks again.
            Err(e) => {
                tracing::warn!(error = %e, "token introspection failed");
                return Err(VerifyError::IntrospectionUnavailable {
                    retry_after: e
                        .retry_after()
                        .unwrap_or(Duration::from_secs(1))
                        .clamp(Duration::from_secs(1), Duration::from_secs(60)),
                });
            }
        };
        let mut ttl = inner.ttl;
        if let Some(exp) = exp {
            let left = (exp - (inner.clock)()).max(0.0);
            ttl = ttl.min(Duration::from_secs_f64(left));
        }
        if !ttl.is_zero() {
            let mut cache = crate::lock::lock(&inner.cache);
            while cache.map.len() >= inner.capacity {
                match cache.order.pop_front() {
                    Some(old) => {
                        cache.map.remove(&old);
                    }
                    None => break,
                }
            }
            if cache.map.insert(key, (answer.clone(), now + ttl)).is_none() {
                cache.order.push_back(key);
            }
        }
        answer
    }

    /// The server's RFC 7662 answer as sent (`active` and the token's metadata), without the cache and
    /// without judging it — for tools that show the answer rather than act on it.
    pub async fn response(&self, token: &str) -> Result<Map<String, Value>, Error> {
        let inner = &*self.inner;
        let params = [("token", token), ("token_type_hint", "access_token")];
        let request = inner.auth.form_request(
            inner.http.reqwest().post(inner.url.clone()),
            inner.url.as_str(),
            &params,
        )?;
        let response = inner.http.send(&inner.url, request).await?;
        if !response.status.is_success() {
            return Err(response.error());
        }
        match response.json_value()? {
            Value::Object(claims) => Ok(claims),
            _ => Err(Error::unexpected(
                response.status,
                response.content_type(),
                crate::error::UnexpectedReason::InvalidField {
                    field: "(body)",
                    problem: "is not a JSON object",
                },
                &[],
                None,
            )),
        }
    }

    async fn ask(&self, token: &str) -> Result<(Answer, Option<f64>), Error> {
        let claims = self.response(token).await?;
        let exp = claims.get("exp").and_then(Value::as_f64);
        Ok((self.judge(claims), exp))
    }

    /// RFC 7662 §2.2: `active` decides; then expiry, audience and shape.
    fn judge(&self, claims: Map<String, Value>) -> Answer {
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(VerifyError::Inactive);
        }
        let now = (self.inner.clock)();
        let number = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(VerifyError::InvalidClaim(name)),
        };
        let string = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(VerifyError::InvalidClaim(name)),
        };
        let exp = number("exp")?;
        if exp.is_some_and(|exp| now >= exp) {
            return Err(VerifyError::Expired);
        }
        let aud: Vec<String> = match claims.get("aud") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => return Err(VerifyError::InvalidClaim("aud")),
        };
        if !aud.is_empty()
            && !self.inner.audiences.is_empty()
            && !aud.iter().any(|a| self.inner.audiences.contains(a))
        {
            return Err(VerifyError::AudienceMismatch);
        }
        let scopes = super::validation::scopes(claims.get("scope"), None)?;
        let standard = StandardClaims {
            iss: string("iss")?.unwrap_or_default(),
            sub: string("sub")?,
            aud,
            exp: exp.unwrap_or(f64::MAX),
            nbf: number("nbf")?,
            iat: number("iat")?,
            jti: string("jti")?,
            client_id: string("client_id")?,
        };
        Ok(Verified::from_parts(
            Value::Object(claims),
            standard,
            scopes,
            None,
            None,
        ))
    }
}
