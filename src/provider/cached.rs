//! [`CachedToken`]: what `TokenProvider::token()` hands out.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use http::HeaderValue;
use tokio::time::Instant;
use url::Url;

use super::TokenProvider;
use super::policy::Schedule;
use crate::dpop::{Dpop, SentProof};
use crate::error::Error;
use crate::secret::AccessToken;
use crate::token::Token;

/// What a token knows of the provider that issued it: enough to hand out a provider handle after a
/// 401, and nothing of its internals.
pub(crate) trait Issuer: Send + Sync {
    /// A handle on this provider.
    fn handle(self: Arc<Self>) -> TokenProvider;
}

/// What sending a DPoP-bound token takes besides the token: the key that proves possession (with the
/// servers' nonces) and the token's `ath`, hashed once.
pub(crate) struct DpopBinding {
    pub(crate) dpop: Arc<Dpop>,
    pub(crate) ath: String,
}

impl DpopBinding {
    /// A proof for one request with this token.
    pub(crate) fn proof(&self, method: &http::Method, url: &Url) -> Result<SentProof, Error> {
        self.dpop.proof_for(method, url, Some(&self.ath))
    }
}

/// How `token` goes out: its `Authorization` value, and what its proofs need when it is DPoP-bound.
/// A bound token without a key to prove possession is refused: sent as a bearer token it would
/// only be rejected.
pub(crate) fn presentation(
    token: &Token,
    dpop: Option<&Arc<Dpop>>,
) -> Result<(HeaderValue, Option<DpopBinding>), Error> {
    if !token.is_dpop_bound() {
        return Ok((token.access_token().bearer_header()?, None));
    }
    let dpop = dpop.ok_or_else(|| {
        Error::config(
            "the token is DPoP-bound (token_type DPoP) but the provider has no DPoP key to send \
             its proofs with: give the TokenEndpoint the key (TokenEndpoint::with_dpop), or a custom \
             source's provider TokenProviderBuilder::dpop_key",
        )
    })?;
    let binding = DpopBinding {
        dpop: dpop.clone(),
        ath: crate::dpop::ath(token.access_token()),
    };
    Ok((token.access_token().dpop_header()?, Some(binding)))
}

/// A token as the provider holds it: the token set, a ready-made sensitive `Authorization` header
/// value (so outbound layers never format per request), and a generation number that identifies it
/// for [`TokenProvider::invalidate`](super::TokenProvider::invalidate).
pub struct CachedToken {
    pub(crate) token: Token,
    pub(crate) header: HeaderValue,
    /// Set when the token is DPoP-bound: each request needs a proof.
    pub(crate) dpop: Option<DpopBinding>,
    pub(crate) generation: u64,
    /// Its generation in the shared cache (0: not from one), to tell a newer shared value from it.
    pub(crate) shared_generation: u64,
    pub(crate) schedule: Schedule,
    /// Set by the provider's timer when callers must no longer take this token without a clock check.
    pub(crate) stale: AtomicBool,
    /// Set by `invalidate()`: the server rejected it; never serve it again.
    pub(crate) invalidated: AtomicBool,
    /// The provider that issued it, so that a layer holding only the token can ask for a new one after
    /// a 401 without keeping a provider handle per request.
    pub(crate) provider: Weak<dyn Issuer>,
}

impl CachedToken {
    pub(crate) fn new(
        token: Token,
        (header, dpop): (HeaderValue, Option<DpopBinding>),
        generation: u64,
        schedule: Schedule,
        now: Instant,
        provider: Weak<dyn Issuer>,
    ) -> Self {
        // The header's bytes start out uniquely owned; the first clone converts them to a shared
        // buffer, which allocates. Do that here, once per token, not on some request's hot path.
        drop(header.clone());
        Self {
            provider,
            stale: AtomicBool::new(now >= schedule.mandatory_at),
            token,
            header,
            dpop,
            generation,
            shared_generation: 0,
            schedule,
            invalidated: AtomicBool::new(false),
        }
    }

    /// The same token, marked with its shared-cache generation.
    pub(crate) fn shared_at(mut self, generation: u64) -> Self {
        self.shared_generation = generation;
        self
    }

    /// The token set (access token, refresh token, scope, lifetimes).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        self.token.access_token()
    }

    /// The `Authorization` value, marked sensitive: `Bearer <access token>`, or `DPoP <access token>`
    /// for a DPoP-bound token (which also needs [`dpop_proof`](Self::dpop_proof) on each request).
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// Whether the token is bound to the provider's DPoP key (RFC 9449): it goes out with a proof.
    pub fn is_dpop_bound(&self) -> bool {
        self.dpop.is_some()
    }

    /// The `DPoP` header value for one request with this token — a fresh proof naming `method` and
    /// `url`, with the token's `ath` and the latest nonce `url`'s server sent — or `None` for a
    /// bearer token. [`BearerLayer`](crate::bearer::BearerLayer) does this for you.
    pub fn dpop_proof(
        &self,
        method: &http::Method,
        url: &Url,
    ) -> Result<Option<HeaderValue>, Error> {
        match &self.dpop {
            Some(binding) => Ok(Some(binding.proof(method, url)?.proof)),
            None => Ok(None),
        }
    }

    /// Increases by one with every token the provider obtains.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the access token expires.
    pub fn expires_at(&self) -> Instant {
        self.schedule.expires_at
    }

    /// Whether `invalidate()` has marked this token as rejected.
    pub fn is_invalidated(&self) -> bool {
        self.invalidated.load(Ordering::Acquire)
    }

    /// Usable without waiting for a refresh: not invalidated and before the mandatory window.
    pub(crate) fn usable_without_wait(&self, now: Instant) -> bool {
        !self.is_invalidated() && now < self.schedule.mandatory_at
    }

    /// May be handed out: not invalidated, and enough of its life left to carry a request.
    pub(crate) fn usable_at(&self, now: Instant) -> bool {
        !self.is_invalidated() && self.schedule.usable_at(now)
    }

    /// Still valid: not invalidated and not expired.
    pub(crate) fn valid_at(&self, now: Instant) -> bool {
        !self.is_invalidated() && now < self.schedule.expires_at
    }

    /// The provider that issued this token, while it is alive.
    pub(crate) fn provider(&self) -> Option<TokenProvider> {
        self.provider.upgrade().map(Issuer::handle)
    }

    pub(crate) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("generation", &self.generation)
            .field("token", &self.token)
            .field("invalidated", &self.is_invalidated())
            .field("dpop_bound", &self.is_dpop_bound())
            .finish_non_exhaustive()
    }
}
