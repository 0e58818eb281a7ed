//! [`VerifierBuilder`]: issuers and their keys, audiences, algorithms and the rest, checked at `build`.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::Value;

use super::cache;
use super::jwks::{JWKS_CONNECT_TIMEOUT, JwksCache, JwksPolicy, Source};
use super::validation::{DEFAULT_LEEWAY, TypProfile};
use super::verifier::{IssuerEntry, Keys, Verifier, VerifierState};
use super::{DEFAULT_ALGORITHMS, DEFAULT_MAX_TOKEN_BYTES};
use crate::clock::WallClock;
use crate::error::Error;
use crate::http::HttpClient;
use crate::jose::SigningAlgorithm;
use crate::secret::ClientSecret;

pub(super) enum KeySpec {
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
    ignore_header_keys: bool,
    max_token_bytes: usize,
    http: Option<HttpClient>,
    policy: JwksPolicy,
    fail_fast: bool,
    clock: Option<WallClock>,
    jitter: Option<crate::flight::Jitter>,
    cache_capacity: Option<usize>,
    dpop: Option<super::DpopPolicy>,
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

impl Verifier {
    /// Starts a builder.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::new()
    }
}

impl VerifierBuilder {
    fn new() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            allowed: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            profile: TypProfile::Compat,
            accept_scp: false,
            ignore_header_keys: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            http: None,
            policy: JwksPolicy::default(),
            fail_fast: true,
            clock: None,
            jitter: None,
            cache_capacity: None,
            dpop: None,
        }
    }

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

    /// Ignore `jku`, `x5u`, `x5c` and `jwk` in token headers instead of refusing the token — for an
    /// issuer known to add them. Default `false`: their presence alone refuses the token
    /// ([`VerifyError::HeaderKey`](super::VerifyError::HeaderKey), RFC 8725 §3.10). Either way the
    /// key is only ever taken from the issuer's own key set.
    pub fn ignore_header_keys(mut self, ignore: bool) -> Self {
        self.ignore_header_keys = ignore;
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
    /// starts degraded, answers [`VerifyError::KeysUnavailable`](super::VerifyError::KeysUnavailable), and keeps trying.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }
    /// Accepts DPoP-bound tokens (RFC 9449) through [`Verifier::verify_dpop`] — which `VerifyLayer`
    /// calls for `Authorization: DPoP` — under `policy`: each proof checked, its `jti` remembered for
    /// the window. Without this, a token with `cnf` is refused (`sender_constrained`).
    pub fn dpop(mut self, policy: super::DpopPolicy) -> Self {
        self.dpop = Some(policy);
        self
    }

    /// Remembers up to `capacity` verified tokens (keyed by the token itself and compared in full), so a
    /// repeated token skips parsing and the signature check while it is unexpired and its key is still
    /// published. A hit shares the claims the first verification produced (see
    /// [`Verified::shared_claims`](super::Verified::shared_claims)) when they are asked for as the same
    /// type; another type is deserialized from the token's payload, kept with it. Off by default; 10 000 is a good size
    /// ([`DEFAULT_VERIFIED_CACHE_CAPACITY`](super::DEFAULT_VERIFIED_CACHE_CAPACITY)).
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
            None => HttpClient::new_with_connect_timeout(JWKS_CONNECT_TIMEOUT)?,
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
            inner: Arc::new(VerifierState {
                issuers,
                audiences: self.audiences,
                allowed,
                leeway: self.leeway.as_secs_f64(),
                profile: self.profile,
                accept_scp: self.accept_scp,
                header_rules: super::jwt::HeaderRules {
                    ignore_header_keys: self.ignore_header_keys,
                    dpop_proof: false,
                },
                headers: super::memo::Memo::new(),
                dpop: self.dpop.map(|policy| super::verifier::DpopState {
                    replay: super::dpop::ReplayCache::new(policy.replay_capacity),
                    policy,
                }),
                max_token_bytes: self.max_token_bytes,
                clock: self.clock.unwrap_or_else(crate::clock::system),
                cache: self.cache_capacity.map(cache::VerifiedCache::new),
            }),
        })
    }
}
