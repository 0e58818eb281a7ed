//! Inbound: verify JWT access tokens against a cached JWKS, strictly.
//!
//! ```no_run
//! use serde::Deserialize;
//! use telnyx_oauth::verify::Verifier;
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     tenant: Option<String>,
//! }
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .issuer("https://api.telnyx.com") // keys found through RFC 8414 discovery
//!     .audience("https://api.example.com")
//!     .build()
//!     .await?;
//! let verified = verifier.verify::<MyClaims>(token).await?;
//! println!("{:?} with scopes {:?}", verified.claims().tenant, verified.scopes());
//! # Ok(()) }
//! ```
//!
//! Protecting routes: [`VerifyLayer`] wraps any Tower HTTP service (axum routers included) and answers
//! as RFC 6750 §3 says — 401 with a bare `Bearer` challenge when there are no credentials, 400
//! `invalid_request` for a malformed request, 401 `invalid_token` (with a generic description; the
//! precise reason goes to tracing) for a token that fails, 403 `insufficient_scope` from
//! [`RequireScopes`], and 503 with `Retry-After` when no keys are available.
//!
//! ```
//! use axum::{Router, routing::get};
//! use telnyx_oauth::verify::{RequireScopes, Verifier, VerifyLayer, protected_resource_metadata_url};
//!
//! fn routes(verifier: Verifier) -> Router {
//!     Router::new()
//!         .route("/read", get(|| async { "ok" }).layer(RequireScopes::all(["read"])))
//!         .layer(
//!             VerifyLayer::new(verifier)
//!                 .realm("my-api")
//!                 .resource_metadata(protected_resource_metadata_url("https://api.example.com").unwrap()),
//!         )
//! }
//! # let _ = routes;
//! ```
//!
//! What it refuses before any signature work: tokens over 16 KiB; anything but three non-empty
//! segments of canonical unpadded base64url; headers and payloads that are not JSON objects or repeat a
//! member; `alg: none` in any casing and algorithms not allowed (RS256, PS256, ES256, ES384 and EdDSA by
//! default; HS* only with a local secret, never mixed with JWKS keys); `crit`; `b64`, `zip`, `enc` and
//! `cty: JWT`; a `typ` outside the profile; a non-string or oversized `kid`. Keys are found only by
//! `kid` in the issuer's own JWKS (never from `jwk`, `jku`, `x5u`, `x5c`); the token's `alg` must be the
//! key's; without a `kid` exactly one key may fit. Then the claims: `exp` required, `nbf`/`iat` checked,
//! 30 s leeway, `iss` exactly one configured issuer, `aud` any configured audience, no `cnf`.

#[cfg(feature = "axum")]
mod axum;
mod cache;
mod error;
mod introspect;
mod jwks;
mod jwt;
mod keys;
mod layer;
mod metadata_route;
mod response;
mod scopes;
mod validation;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[cfg(feature = "axum")]
pub use axum::{Claims, ClaimsRejection};
pub use cache::DEFAULT_VERIFIED_CACHE_CAPACITY;
pub use error::VerifyError;
pub use introspect::{
    DEFAULT_INTROSPECTION_CACHE, DEFAULT_INTROSPECTION_TTL, IntrospectionStats, Introspector,
};
pub use jwks::{
    DEFAULT_FRESH, DEFAULT_MAX_STALE, DEFAULT_MISS_COOLDOWN, JWKS_CONNECT_TIMEOUT, JWKS_MAX_BODY,
    JWKS_TIMEOUT, JwksPolicy, KeysHealth, MAX_FRESH, MIN_FRESH,
};
pub use jwt::DEFAULT_MAX_TOKEN_BYTES;
pub use layer::{GrantedScopes, VerifyLayer, VerifyService};
pub use metadata_route::{
    PROTECTED_RESOURCE_WELL_KNOWN, ProtectedResourceRoute, protected_resource_metadata_path,
    protected_resource_metadata_url,
};
pub use response::{ChallengeConfig, Rejection};
pub use scopes::{RequireScopes, RequireScopesService, ScopeFuture};
pub use validation::{DEFAULT_LEEWAY, StandardClaims, TypProfile};

use jwks::{JwksCache, Source};
use validation::Rules;

use crate::error::Error;
use crate::http::HttpClient;
use crate::jose::SigningAlgorithm;
use crate::secret::ClientSecret;

/// The algorithms accepted by default (DESIGN §5).
pub const DEFAULT_ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::RS256,
    SigningAlgorithm::PS256,
    SigningAlgorithm::ES256,
    SigningAlgorithm::ES384,
    SigningAlgorithm::EdDSA,
];

/// A verified token: typed custom claims, the standard claims, scopes, and what verified it.
#[derive(Debug, Clone)]
pub struct Verified<C = Value> {
    claims: C,
    standard: StandardClaims,
    scopes: Arc<[String]>,
    kid: Option<String>,
    alg: Option<SigningAlgorithm>,
}

impl Verified<Value> {
    pub(crate) fn from_parts(
        claims: Value,
        standard: StandardClaims,
        scopes: Vec<String>,
        kid: Option<String>,
        alg: Option<SigningAlgorithm>,
    ) -> Self {
        Self {
            claims,
            standard,
            scopes: scopes.into(),
            kid,
            alg,
        }
    }

    /// The same verification with the claims deserialized into `C`.
    pub fn into_typed<C: DeserializeOwned>(self) -> Result<Verified<C>, VerifyError> {
        Ok(Verified {
            claims: C::deserialize(self.claims).map_err(|_| VerifyError::CustomClaims)?,
            standard: self.standard,
            scopes: self.scopes,
            kid: self.kid,
            alg: self.alg,
        })
    }
}

impl<C> Verified<C> {
    /// The claims, deserialized into your type.
    pub fn claims(&self) -> &C {
        &self.claims
    }

    /// The claims, taken out.
    pub fn into_claims(self) -> C {
        self.claims
    }

    /// `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `client_id`.
    pub fn standard(&self) -> &StandardClaims {
        &self.standard
    }

    /// The issuer that verified it (equal to `iss`).
    pub fn issuer(&self) -> &str {
        &self.standard.iss
    }

    /// `sub`
    pub fn subject(&self) -> Option<&str> {
        self.standard.sub.as_deref()
    }

    /// `client_id`
    pub fn client_id(&self) -> Option<&str> {
        self.standard.client_id.as_deref()
    }

    /// The granted scopes, sorted and deduplicated.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The granted scopes, shared (a reference count, no copy).
    pub fn shared_scopes(&self) -> Arc<[String]> {
        self.scopes.clone()
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `alg` (`None` for a token validated by introspection).
    pub fn alg(&self) -> Option<SigningAlgorithm> {
        self.alg
    }
}

enum Keys {
    Jwks(Arc<JwksCache>),
    Hmac(Box<hmac::Key>, Vec<SigningAlgorithm>),
}

struct IssuerEntry {
    issuer: String,
    keys: Keys,
}

type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

struct Inner {
    issuers: Vec<IssuerEntry>,
    audiences: Vec<String>,
    allowed: Vec<SigningAlgorithm>,
    leeway: f64,
    profile: TypProfile,
    accept_scp: bool,
    max_token_bytes: usize,
    clock: Clock,
    cache: Option<cache::VerifiedCache>,
}

/// Verifies JWT access tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(|i| &i.issuer)
                    .collect::<Vec<_>>(),
            )
            .field("audiences", &self.inner.audiences)
            .field("algorithms", &self.inner.allowed)
            .finish_non_exhaustive()
    }
}

enum KeySpec {
    Discover,
    JwksUri(String),
    Jwks(Value),
    Hmac(ClientSecret, SigningAlgorithm),
}

/// Builds a [`Verifier`]; `build` refuses to make one without an issuer and an audience.
#[must_use]
pub struct VerifierBuilder {
    issuers: Vec<(String, KeySpec)>,
    audiences: Vec<String>,
    allowed: Vec<SigningAlgorithm>,
    leeway: Duration,
    profile: TypProfile,
    accept_scp: bool,
    max_token_bytes: usize,
    http: Option<HttpClient>,
    policy: JwksPolicy,
    fail_fast: bool,
    clock: Option<Clock>,
    jitter: Option<crate::flight::Jitter>,
    cache_capacity: Option<usize>,
}

impl std::fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field(
                "issuers",
                &self.issuers.iter().map(|(i, _)| i).collect::<Vec<_>>(),
            )
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Verifier {
    /// Starts a builder.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            issuers: Vec::new(),
            audiences: Vec::new(),
            allowed: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            profile: TypProfile::Compat,
            accept_scp: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            http: None,
            policy: JwksPolicy::default(),
            fail_fast: true,
            clock: None,
            jitter: None,
            cache_capacity: None,
        }
    }

    /// Verifies `token` and deserializes its claims into `C` (use `serde_json::Value` for all claims).
    pub async fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Verified<C>, VerifyError> {
        let inner = &*self.inner;
        let cached = match &inner.cache {
            Some(cache) if token.len() <= inner.max_token_bytes => {
                let key = cache::digest(token);
                if let Some(hit) = self.cache_hit::<C>(cache, &key) {
                    return hit;
                }
                Some((cache, key))
            }
            _ => None,
        };
        let jws = jwt::parse(token, inner.max_token_bytes, &inner.allowed)?;
        validation::check_typ(jws.header.typ.as_deref(), inner.profile)?;
        // Choose the issuer's keys by the unverified `iss`; exact equality is required again below.
        let (issuer_index, entry) = match jws.claims.get("iss") {
            Some(Value::String(iss)) => inner
                .issuers
                .iter()
                .enumerate()
                .find(|(_, e)| e.issuer == *iss)
                .ok_or(VerifyError::IssuerMismatch)?,
            Some(_) => return Err(VerifyError::InvalidClaim("iss")),
            None => return Err(VerifyError::MissingClaim("iss")),
        };
        let alg = jws.header.alg;
        match &entry.keys {
            Keys::Jwks(cache) => {
                if alg.is_hmac() {
                    return Err(VerifyError::AlgNotAllowed);
                }
                let key = cache.key_for(jws.header.kid.as_deref(), alg).await?;
                if !key.verify(alg, jws.signing_input, &jws.signature) {
                    return Err(VerifyError::BadSignature);
                }
            }
            Keys::Hmac(key, algs) => {
                if !algs.contains(&alg) {
                    return Err(VerifyError::AlgNotAllowed);
                }
                let tag_ok = hmac::verify(key, jws.signing_input, &jws.signature).is_ok();
                if !tag_ok {
                    return Err(VerifyError::BadSignature);
                }
            }
        }
        let rules = Rules {
            issuer: &entry.issuer,
            audiences: &inner.audiences,
            leeway: inner.leeway,
            now: (inner.clock)(),
            profile: inner.profile,
        };
        let standard = validation::validate(&jws.claims, &rules)?;
        let scopes: Arc<[String]> = validation::scopes(&jws.claims, inner.accept_scp)?.into();
        let claims_value = Value::Object(jws.claims);
        let Some((cache, key)) = cached else {
            // No cache: deserialize from the value itself, moving rather than copying its strings.
            return Ok(Verified {
                claims: C::deserialize(claims_value).map_err(|_| VerifyError::CustomClaims)?,
                standard,
                scopes,
                kid: jws.header.kid,
                alg: Some(alg),
            });
        };
        let claims = C::deserialize(&claims_value).map_err(|_| VerifyError::CustomClaims)?;
        cache.insert(
            key,
            cache::Entry {
                claims: claims_value,
                standard: standard.clone(),
                scopes: scopes.clone(),
                kid: jws.header.kid.clone(),
                alg,
                issuer: issuer_index,
            },
        );
        Ok(Verified {
            claims,
            standard,
            scopes,
            kid: jws.header.kid,
            alg: Some(alg),
        })
    }

    /// A cached verification of the same token, if it is still unexpired and its key is still
    /// published; a stale entry is removed.
    fn cache_hit<C: DeserializeOwned>(
        &self,
        cache: &cache::VerifiedCache,
        key: &cache::Digest,
    ) -> Option<Result<Verified<C>, VerifyError>> {
        let inner = &*self.inner;
        let hit = cache.get(key)?;
        let now = (inner.clock)();
        let key_still_published = match &inner.issuers.get(hit.issuer)?.keys {
            Keys::Jwks(jwks) => jwks.has_key(hit.kid.as_deref(), hit.alg),
            Keys::Hmac(..) => true,
        };
        if now >= hit.standard.exp + inner.leeway || !key_still_published {
            cache.remove(key);
            return None;
        }
        Some(
            C::deserialize(&hit.claims)
                .map_err(|_| VerifyError::CustomClaims)
                .map(|claims| Verified {
                    claims,
                    standard: hit.standard.clone(),
                    scopes: hit.scopes.clone(),
                    kid: hit.kid.clone(),
                    alg: Some(hit.alg),
                }),
        )
    }

    /// Entries in the verified-token cache (0 when it is off).
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .cache
            .as_ref()
            .map_or(0, cache::VerifiedCache::len)
    }

    /// The key health of each issuer (HMAC issuers are always loaded).
    pub fn health(&self) -> Vec<(String, KeysHealth)> {
        self.inner
            .issuers
            .iter()
            .map(|e| {
                let h = match &e.keys {
                    Keys::Jwks(c) => c.health(),
                    Keys::Hmac(..) => KeysHealth::Loaded {
                        age: Duration::ZERO,
                    },
                };
                (e.issuer.clone(), h)
            })
            .collect()
    }

    /// How many JWKS fetches each issuer's cache has made (for tests and metrics).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner
            .issuers
            .iter()
            .map(|e| match &e.keys {
                Keys::Jwks(c) => c.fetches.load(std::sync::atomic::Ordering::Relaxed),
                Keys::Hmac(..) => 0,
            })
            .sum()
    }
}

impl VerifierBuilder {
    /// Accepts tokens from `issuer`, finding its keys through RFC 8414 discovery (`jwks_uri`); the
    /// metadata's `issuer` must equal it exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push((issuer.into(), KeySpec::Discover));
        self
    }

    /// Accepts tokens from `issuer`, with its keys at an explicit `jwks_uri`.
    pub fn issuer_with_jwks_uri(
        mut self,
        issuer: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> Self {
        self.issuers
            .push((issuer.into(), KeySpec::JwksUri(jwks_uri.into())));
        self
    }

    /// Accepts tokens from `issuer`, verified with a fixed JWK Set (never refetched).
    pub fn issuer_with_jwks(mut self, issuer: impl Into<String>, jwks: Value) -> Self {
        self.issuers.push((issuer.into(), KeySpec::Jwks(jwks)));
        self
    }

    /// Accepts HMAC-signed tokens from `issuer` with a local shared secret. That issuer then has no
    /// JWKS: HMAC and public keys are never mixed.
    pub fn issuer_with_hmac(
        mut self,
        issuer: impl Into<String>,
        secret: ClientSecret,
        alg: SigningAlgorithm,
    ) -> Self {
        self.issuers
            .push((issuer.into(), KeySpec::Hmac(secret, alg)));
        self
    }

    /// Adds an accepted audience (any one `aud` element must match one).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Replaces the accepted public-key algorithms (default [`DEFAULT_ALGORITHMS`]). HS* here is ignored:
    /// use [`issuer_with_hmac`](Self::issuer_with_hmac).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.allowed = algorithms.into_iter().filter(|a| !a.is_hmac()).collect();
        self
    }

    /// Clock skew tolerated (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `typ` profile (default [`TypProfile::Compat`]).
    pub fn typ_profile(mut self, profile: TypProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Also read scopes from `scp` (a string or an array), as Azure AD and Okta send.
    pub fn accept_scp(mut self, accept: bool) -> Self {
        self.accept_scp = accept;
        self
    }

    /// Largest token accepted (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The HTTP client for discovery and JWKS fetches (its proxy/TLS settings; JWKS fetches are further
    /// limited to 5 s and 64 KiB). Use [`HttpClient::allow_http_loopback`] for a local dev server.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// JWKS cache timing.
    pub fn jwks_policy(mut self, policy: JwksPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether `build` fails when the first key fetch fails (default `true`); with `false` the verifier
    /// starts degraded, answers [`VerifyError::KeysUnavailable`], and keeps trying.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Remembers up to `capacity` verified tokens (by SHA-256), so a repeated token skips the signature
    /// check while it is unexpired and its key is still published. Off by default; 10 000 is a good size
    /// ([`DEFAULT_VERIFIED_CACHE_CAPACITY`]).
    pub fn verified_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// Replaces the wall clock (seconds since the epoch) that `exp`, `nbf` and `iat` are checked
    /// against, for tests. The key cache's timing runs on tokio's clock, which tests pause.
    pub fn clock(mut self, clock: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Replaces the jitter source of the key cache's retry backoff (a function returning a uniform
    /// draw from [0, 1)). Tests use a constant to make every retry instant exact.
    pub fn jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Some(Arc::new(jitter));
        self
    }

    /// Builds the verifier and fetches every issuer's keys once.
    pub async fn build(self) -> Result<Verifier, Error> {
        if self.issuers.is_empty() {
            return Err(Error::config("a verifier needs at least one issuer"));
        }
        if self.audiences.is_empty() {
            return Err(Error::config("a verifier needs at least one audience"));
        }
        let http = match self.http {
            Some(h) => h,
            None => HttpClient::with_connect_timeout(JWKS_CONNECT_TIMEOUT)?,
        };
        let jitter = self.jitter.unwrap_or_else(crate::flight::system_jitter);
        let mut issuers = Vec::new();
        for (issuer, spec) in self.issuers {
            let keys = match spec {
                KeySpec::Hmac(secret, alg) => {
                    let Some(h) = alg.hmac() else {
                        return Err(Error::config(format!("{alg} is not an HMAC algorithm")));
                    };
                    Keys::Hmac(
                        Box::new(hmac::Key::new(h, secret.secret().as_bytes())),
                        vec![alg],
                    )
                }
                KeySpec::Jwks(set) => {
                    Keys::Jwks(Arc::new(JwksCache::fixed(&set, self.allowed.clone())?))
                }
                KeySpec::JwksUri(uri) => {
                    let url = http.check_url(&uri)?;
                    Keys::Jwks(Arc::new(JwksCache::new(
                        Source::Url(url),
                        &http,
                        self.allowed.clone(),
                        self.policy.clone(),
                        jitter.clone(),
                    )))
                }
                KeySpec::Discover => {
                    http.check_url(&issuer)?;
                    Keys::Jwks(Arc::new(JwksCache::new(
                        Source::Discover(issuer.clone()),
                        &http,
                        self.allowed.clone(),
                        self.policy.clone(),
                        jitter.clone(),
                    )))
                }
            };
            if let Keys::Jwks(cache) = &keys
                && let Err(e) = cache.prime().await
                && self.fail_fast
            {
                return Err(e);
            }
            issuers.push(IssuerEntry { issuer, keys });
        }
        let has_hmac = issuers.iter().any(|e| matches!(e.keys, Keys::Hmac(..)));
        let mut allowed = self.allowed;
        if has_hmac {
            allowed.extend(SigningAlgorithm::HMAC);
        }
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                audiences: self.audiences,
                allowed,
                leeway: self.leeway.as_secs_f64(),
                profile: self.profile,
                accept_scp: self.accept_scp,
                max_token_bytes: self.max_token_bytes,
                clock: self.clock.unwrap_or_else(|| Arc::new(unix_now)),
                cache: self.cache_capacity.map(cache::VerifiedCache::new),
            }),
        })
    }
}
