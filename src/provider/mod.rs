//! [`TokenProvider`]: one cached token per client, refreshed before it expires, fetched once for any
//! number of concurrent callers, and kept in service while the token endpoint is down.
//!
//! ```no_run
//! use telnyx_oauth::{ClientAuth, ClientCredentials, ClientSecret, TokenEndpoint, TokenProvider};
//!
//! # async fn run() -> Result<(), telnyx_oauth::Error> {
//! let endpoint = TokenEndpoint::telnyx(ClientAuth::basic("client-id", ClientSecret::new("secret")))?;
//! let provider = TokenProvider::client_credentials(endpoint, ClientCredentials::new()).build()?;
//!
//! // Cheap to clone and share; every clone uses the same cache.
//! let token = provider.token().await?;
//! let header = token.header(); // `Bearer …`, marked sensitive, built once per token
//! # let _ = header;
//! # Ok(()) }
//! ```
//!
//! # How it behaves (defaults in [`RefreshPolicy`])
//!
//! - **Warm path**: when the current token is fresh, `token()` is one lock-free `arc-swap` load and a
//!   flag check — no lock, no clock read, no allocation. A timer task flips the flag when the token's
//!   mandatory window opens.
//! - **Background refresh**: at about half the token's lifetime (RFC-style tiers, a server `refresh_in`
//!   hint when sent, early jitter of at most 10 % / 5 min) the timer fetches a new token while callers
//!   keep using the current one.
//! - **Mandatory window** (the last 60 s, or the last 10 % of a short token): callers wait for the one
//!   shared fetch.
//! - **Single flight**: at most one fetch per provider at a time; all waiters share its result. A caller
//!   that stops waiting (wrap `token()` in `tokio::time::timeout` to bound your own wait) does not cancel
//!   the fetch for the others.
//! - **Outages**: a failed fetch while the token is still valid is invisible to callers — they keep
//!   getting the valid token — and is retried with full-jitter backoff (1 s doubling to 60 s, at least
//!   `Retry-After`, never past expiry). Once the token has expired, callers get the typed error; never a
//!   missing or expired token.
//! - **Permanent errors** (`invalid_client`, `invalid_grant`, …) are answered from memory for 5 s
//!   instead of asking the endpoint again.
//! - **Refresh-token rotation**: fetches are strictly sequential and each uses the latest refresh token;
//!   the new access and refresh tokens are published together. The optional persistence hook sees every
//!   new token set before it is published. If the hook fails or times out, the set is still published —
//!   the server has already rotated, so the previous refresh token is dead and withholding the new one
//!   would strand the client — and the failure is logged and counted in [`ProviderStats::hook_failures`].
//!   A refresh whose response is lost in transit cannot be told apart from one the server never saw; the
//!   next attempt then reuses the old refresh token, which a rotating server may answer with
//!   `invalid_grant`.
//! - **DPoP**: over an endpoint with a [`DpopKey`]
//!   ([`TokenEndpoint::with_dpop`]) the tokens are bound to the key: [`CachedToken::header`] is
//!   `DPoP <token>`, and each request needs a proof ([`CachedToken::dpop_proof`], which
//!   `BearerLayer` adds). A bound token the provider has no key for fails the fetch instead of
//!   going out as a bearer token.
//! - **Lifecycle**: the timer task ends when the last handle is dropped, and parks after one full token
//!   lifetime without a `token()` call (the next call wakes it).

mod cached;
pub mod policy;
mod refresher;
mod sharing;
mod source;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use cached::CachedToken;
pub use policy::RefreshPolicy;
pub use refresher::{JitterFn, PersistHook};
pub use source::{BoxFuture, TokenSource};

use refresher::Refresher;
use source::{EndpointSource, Grant};

use crate::dpop::{Dpop, DpopKey};
use crate::error::Error;
use crate::shared::SharedCache;
use crate::token::{ClientCredentials, Token, TokenEndpoint};

/// A shared, self-refreshing source of access tokens. Cheap to clone (`Arc` inside), `Send + Sync`.
#[derive(Clone)]
pub struct TokenProvider {
    pub(crate) shared: Arc<Refresher>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field(
                "generation",
                &self.shared.cell.load().as_ref().map(|t| t.generation),
            )
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenProvider`].
#[must_use]
pub struct TokenProviderBuilder {
    source: Box<dyn TokenSource>,
    seed: Option<Token>,
    policy: RefreshPolicy,
    jitter: JitterFn,
    hook: Option<PersistHook>,
    shared: Option<SharedCache>,
    /// What the token is, for the shared cache's key: endpoint, client, grant and parameters
    /// (`None` for a custom source).
    identity: Option<Vec<String>>,
    /// A refresh-token grant: sharing it needs a subject (whose grant it is).
    needs_subject: bool,
    /// The DPoP key bound tokens go out with: the endpoint's, or one given for a custom source.
    dpop: Option<Arc<Dpop>>,
    /// A second key was given on top of the endpoint's (refused by `build`).
    dpop_conflict: bool,
}

impl fmt::Debug for TokenProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProviderBuilder")
            .field("policy", &self.policy)
            .field("seeded", &self.seed.is_some())
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl TokenProviderBuilder {
    fn new(source: Box<dyn TokenSource>, seed: Option<Token>) -> Self {
        Self {
            source,
            seed,
            policy: RefreshPolicy::default(),
            jitter: crate::flight::system_jitter(),
            hook: None,
            shared: None,
            identity: None,
            needs_subject: false,
            dpop: None,
            dpop_conflict: false,
        }
    }

    fn identified(mut self, identity: Vec<String>, needs_subject: bool) -> Self {
        self.identity = Some(identity);
        self.needs_subject = needs_subject;
        self
    }

    /// Shares this provider's token with every replica using the same cache (see [`crate::shared`]).
    /// The key is derived from the token endpoint, the client id and the grant's parameters (and the
    /// cache's subject); a refresh-token grant or a custom source needs [`SharedCache::subject`].
    pub fn shared(mut self, cache: SharedCache) -> Self {
        self.shared = Some(cache);
        self
    }

    /// Replaces the timing policy.
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Replaces the jitter source (a function returning a uniform draw from [0, 1)). Tests use a
    /// constant to make every instant exact.
    pub fn jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// Runs `hook` with every new token set before it is published — e.g. to persist a rotated refresh
    /// token. See the module docs for what happens when it fails.
    pub fn on_new_token<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Token) -> BoxFuture<'static, Result<(), Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + Sync
            + 'static,
    {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The DPoP key the tokens of a custom [`TokenSource`] are bound to, so that `BearerLayer` can send
    /// them with proofs. Providers over a [`TokenEndpoint`] take the endpoint's key
    /// ([`TokenEndpoint::with_dpop`]); giving them another one is refused by `build`.
    pub fn dpop_key(mut self, key: DpopKey) -> Self {
        self.dpop_conflict |= self.dpop.is_some();
        self.dpop = Some(Arc::new(Dpop::new(key)));
        self
    }

    /// Builds the provider. Nothing is fetched until the first `token()` call.
    pub fn build(self) -> Result<TokenProvider, Error> {
        if self.dpop_conflict {
            return Err(Error::config(
                "the token endpoint already has a DPoP key; TokenProviderBuilder::dpop_key is for \
                 custom token sources",
            ));
        }
        let sharing = match self.shared {
            Some(cache) => {
                if self.needs_subject && cache.subject.is_none() {
                    return Err(Error::config(
                        "sharing a refresh-token grant needs SharedCache::subject (whose grant it is)",
                    ));
                }
                // A live holder finishes its attempt and its hook before its lease runs out.
                let lease = self.policy.attempt_timeout
                    + self.policy.hook_timeout
                    + std::time::Duration::from_secs(1);
                Some(sharing::Sharing::new(
                    cache,
                    self.identity.as_deref(),
                    lease,
                )?)
            }
            None => None,
        };
        let shared = Refresher::build(
            self.source,
            self.seed,
            self.policy,
            self.jitter,
            self.hook,
            sharing,
            self.dpop,
        )?;
        Ok(TokenProvider { shared })
    }
}

/// A snapshot of what a provider has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Fetches that produced a token (tokens adopted from a shared cache included).
    pub fetches_ok: u64,
    /// Fetches that failed.
    pub fetches_failed: u64,
    /// Callers that waited for a fetch (cold start, mandatory window, invalidation) and shared its result.
    pub waited: u64,
    /// Times a still-valid token was served because a fetch failed or was backing off.
    pub stale_served: u64,
    /// Effective `invalidate()` calls.
    pub invalidations: u64,
    /// Persistence hook failures and timeouts.
    pub hook_failures: u64,
    /// Tokens adopted from the shared cache, written by another replica (no token request).
    pub adopted: u64,
    /// Token sets this provider fetched and wrote to the shared cache.
    pub shared_writes: u64,
    /// Flights that found another replica holding the lease and waited for its token.
    pub lease_waits: u64,
    /// Shared-store calls that failed or timed out (each time, the provider went on locally).
    pub store_failures: u64,
    /// Shared values ignored because they did not open or parse (and were then replaced).
    pub unusable_values: u64,
    /// The current token's generation (0 before the first token).
    pub generation: u64,
    /// Time left on the current token, if there is one.
    pub remaining: Option<Duration>,
}

impl TokenProvider {
    /// A provider running the `client_credentials` grant against `endpoint`.
    pub fn client_credentials(
        endpoint: TokenEndpoint,
        request: ClientCredentials,
    ) -> TokenProviderBuilder {
        let identity = endpoint.share_identity("client_credentials", request.share_identity());
        let dpop = endpoint.dpop().cloned();
        let mut builder = TokenProviderBuilder::new(
            Box::new(EndpointSource {
                endpoint,
                grant: Grant::ClientCredentials(request),
            }),
            None,
        )
        .identified(identity, false);
        builder.dpop = dpop;
        builder
    }

    /// A provider running the `refresh_token` grant, seeded with a token set obtained elsewhere (e.g. the
    /// authorization-code flow). The seed's access token is served while it is valid.
    pub fn refresh_token(
        endpoint: TokenEndpoint,
        seed: Token,
    ) -> Result<TokenProviderBuilder, Error> {
        Self::refresh_token_with_scopes(endpoint, seed, Vec::new())
    }

    /// Like [`refresh_token`](Self::refresh_token), narrowing every refresh to `scopes`.
    pub fn refresh_token_with_scopes(
        endpoint: TokenEndpoint,
        seed: Token,
        scopes: Vec<String>,
    ) -> Result<TokenProviderBuilder, Error> {
        if seed.refresh_token().is_none() {
            return Err(Error::config("the seed token set has no refresh token"));
        }
        let mut sorted = scopes.clone();
        sorted.sort();
        let identity = endpoint.share_identity("refresh_token", sorted);
        let dpop = endpoint.dpop().cloned();
        let mut builder = TokenProviderBuilder::new(
            Box::new(EndpointSource {
                endpoint,
                grant: Grant::RefreshToken { scopes },
            }),
            Some(seed),
        )
        .identified(identity, true);
        builder.dpop = dpop;
        Ok(builder)
    }

    /// A provider over any [`TokenSource`], optionally seeded.
    pub fn from_source(source: impl TokenSource, seed: Option<Token>) -> TokenProviderBuilder {
        TokenProviderBuilder::new(Box::new(source), seed)
    }

    /// The current token, fetching or waiting for a refresh only when the token cannot be used as is.
    ///
    /// When the cached token is fresh this is a lock-free load: no lock, no allocation, no I/O.
    ///
    /// What it may wait for, whatever the token endpoint does (hang, refuse, 5xx, a slow reply):
    /// - while a *usable* token exists (more than [`RefreshPolicy::min_remaining`] of its life left,
    ///   life counted from when its request was sent, less [`RefreshPolicy::expiry_skew`]) it returns
    ///   that token, never an error; in the mandatory window it waits for the refresh in flight at
    ///   most [`RefreshPolicy::max_wait`] (never past the token's usable life), then returns the current
    ///   token while the fetch goes on in the background;
    /// - without a usable token it waits for one fetch at most [`RefreshPolicy::attempt_timeout`], then
    ///   returns that fetch's typed error; during a backoff it returns the last error at once.
    #[inline]
    pub async fn token(&self) -> Result<Arc<CachedToken>, Error> {
        match self.warm() {
            Some(t) => Ok(t),
            None => self.shared.acquire().await,
        }
    }

    /// The warm path without the future: the current token when it can be taken as is.
    #[inline]
    pub(crate) fn warm(&self) -> Option<Arc<CachedToken>> {
        let guard = self.shared.cell.load();
        let t = guard.as_ref()?;
        if t.stale.load(Ordering::Acquire) {
            return None;
        }
        self.shared.mark_used();
        Some(Arc::clone(t))
    }

    /// Whether `token`, taken from this provider's warm path earlier, is still the one to send: it is
    /// the current token and not stale. Two atomic loads: for a layer that keeps the token it used last.
    #[inline]
    pub(crate) fn still_warm(&self, token: &CachedToken) -> bool {
        if token.stale.load(Ordering::Acquire)
            || self.shared.current_generation.load(Ordering::Acquire) != token.generation
        {
            return false;
        }
        self.shared.mark_used();
        true
    }

    /// The current token if it is still usable (not invalidated, and more than
    /// [`RefreshPolicy::min_remaining`] of its life left), without fetching.
    pub fn cached(&self) -> Option<Arc<CachedToken>> {
        let now = tokio::time::Instant::now();
        self.shared.cell.load_full().filter(|t| t.usable_at(now))
    }

    /// Marks `token` as rejected (e.g. after a 401) **only if it is still the current token**, so that
    /// a burst of 401s for one token causes one refresh. Forced refreshes happen at most once per
    /// [`RefreshPolicy::min_invalidate_interval`] unless the token has expired. Returns whether the token
    /// was invalidated; the next `token()` call fetches a new one. It never waits: the invalidated token
    /// is no longer usable, so the callers that follow wait as for a missing token (at most one attempt
    /// timeout).
    pub fn invalidate(&self, token: &CachedToken) -> bool {
        self.shared.invalidate(token)
    }

    /// Fetches a new token now (sharing a fetch already in flight), regardless of the schedule.
    ///
    /// It waits for that fetch and returns its own outcome (an error too, even while a usable token
    /// exists — use `token()` for static stability): at most the floor between fetches
    /// ([`RefreshPolicy::min_fetch_interval`]), one [`RefreshPolicy::attempt_timeout`] and the
    /// persistence hook's [`RefreshPolicy::hook_timeout`].
    pub async fn refresh(&self) -> Result<Arc<CachedToken>, Error> {
        self.shared.refresh_now().await
    }

    /// What the provider has done so far.
    pub fn stats(&self) -> ProviderStats {
        let c = &self.shared.counters;
        let current = self.shared.cell.load_full();
        ProviderStats {
            fetches_ok: c.fetches_ok.load(Ordering::Relaxed),
            fetches_failed: c.fetches_failed.load(Ordering::Relaxed),
            waited: c.waited.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            hook_failures: c.hook_failures.load(Ordering::Relaxed),
            adopted: c.adopted.load(Ordering::Relaxed),
            shared_writes: c.shared_writes.load(Ordering::Relaxed),
            lease_waits: c.lease_waits.load(Ordering::Relaxed),
            store_failures: c.store_failures.load(Ordering::Relaxed),
            unusable_values: c.unusable_values.load(Ordering::Relaxed),
            generation: current.as_ref().map_or(0, |t| t.generation),
            remaining: refresher::remaining(current.as_deref()),
        }
    }

    /// The timing policy in force.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.shared.policy
    }
}
