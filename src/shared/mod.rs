//! A token cache shared by many replicas: one fetch per token lifetime for the whole fleet, and
//! refresh-token rotation that never sends a superseded refresh token.
//!
//! Give a [`TokenProvider`](crate::TokenProvider) a [`SharedCache`] and its fetches go through the
//! store first. The provider's own lock-free cell stays the first level: a warm `token()` never
//! touches the store. When a fetch is due, the provider
//!
//! 1. reads the shared value; one that is newer than the token it holds and not yet due for refresh
//!    (by this provider's own schedule) is **adopted** — no token request;
//! 2. otherwise takes the **lease** (one holder at a time, for [`SharedCache::lease_ttl`]), reads
//!    again, fetches — for a refresh-token grant with the newest refresh token in the store — runs the
//!    persistence hook, and **writes** the new set with compare-and-set on its generation, only while
//!    it still holds the lease; then gives the lease back;
//! 3. while another replica holds the lease, polls for its value every
//!    [`SharedCache::poll_interval`]; a holder that crashed costs at most one lease time.
//!
//! Callers never wait longer than the provider's rules allow: a caller holding a usable token waits at
//! most `max_wait`, as without a store. Every store call has a deadline
//! ([`SharedCache::store_timeout`], 200 ms); when the store is down, slow or refuses, the provider
//! fetches locally (still single-flight within the process), warns once, counts it
//! ([`ProviderStats::store_failures`](crate::provider::ProviderStats::store_failures) and the
//! `telnyx_oauth_shared_store_events_total` metric) and shares again as soon as the store answers.
//!
//! **Secrets at rest**: values are sealed with AES-256-GCM under your [`SealingKey`] (its id stored in
//! clear so keys can rotate; older keys are added with [`SharedCache::decrypt_also`]). A value that
//! does not open or parse is ignored with a warning and replaced — never used. Keys hold a namespace
//! and a hash, never a client id or a token.
//!
//! **Time**: a value's expiry is the store's own time-to-live for it (Redis `PX` on write, `PTTL` on
//! read), counted down by the store's clock; a reader converts it to its monotonic clock from the
//! moment it sent the read. No replica's wall clock is read, so a replica whose clock is off — by
//! 30 s or by an hour — sees the same expiry as the others.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use telnyx_oauth::provider::{BoxFuture, TokenSource};
//! use telnyx_oauth::shared::{MemoryStore, SealingKey, SharedCache};
//! use telnyx_oauth::{AccessToken, Error, Token, TokenProvider};
//!
//! struct Issuer;
//! impl TokenSource for Issuer {
//!     fn fetch<'a>(&'a self, _: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
//!         Box::pin(async {
//!             Ok(Token::new(AccessToken::new("abc"), Duration::from_secs(3600), tokio::time::Instant::now()))
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! // In production: `RedisStore::open("redis://…")?` (feature `redis`) and the key from a secret store.
//! let store = Arc::new(MemoryStore::new());
//! let cache = || -> Result<SharedCache, Error> {
//!     Ok(SharedCache::new(store.clone(), SealingKey::new("2026-12", [7; 32])?)
//!         .namespace("billing")
//!         .subject("issuer-a")) // a custom source names what it shares
//! };
//! let a = TokenProvider::from_source(Issuer, None).shared(cache()?).build()?;
//! let b = TokenProvider::from_source(Issuer, None).shared(cache()?).build()?;
//! let first = a.token().await?;
//! let second = b.token().await?; // adopted from the store: no second fetch
//! assert_eq!(first.access_token().secret(), second.access_token().secret());
//! assert_eq!(b.stats().adopted, 1);
//! # Ok(()) }
//! ```

#[cfg(feature = "redis")]
mod redis;
mod seal;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_REDIS_TIMEOUT, RedisStore};
pub use seal::SealingKey;
pub use store::{MemoryStore, StoreError, Stored, TokenStore, WriteIf};

pub(crate) use seal::{Keyring, Unusable, decode, encode};

use crate::error::Error;

/// How long each store call may take before the provider stops waiting and fetches locally.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(200);
/// How often a replica waiting for another's lease looks for its value.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(25);
/// The key prefix when none is set.
pub const DEFAULT_NAMESPACE: &str = "telnyx-oauth";
/// The largest value read from the store; anything longer is treated as foreign and replaced.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A shared token cache: the store, the sealing keys, and what is shared. See the [module docs](self).
pub struct SharedCache {
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) keys: Keyring,
    pub(crate) namespace: String,
    pub(crate) subject: Option<String>,
    pub(crate) store_timeout: Duration,
    pub(crate) lease_ttl: Option<Duration>,
    pub(crate) poll_interval: Duration,
}

impl fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCache")
            .field("namespace", &self.namespace)
            .field("key_id", &self.keys.current.id())
            .field("store_timeout", &self.store_timeout)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl SharedCache {
    /// A cache on `store`, sealing values with `key`.
    pub fn new(store: impl TokenStore, key: SealingKey) -> Self {
        Self {
            store: Arc::new(store),
            keys: Keyring {
                current: key,
                previous: Vec::new(),
            },
            namespace: DEFAULT_NAMESPACE.to_owned(),
            subject: None,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            lease_ttl: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// The key prefix (default [`DEFAULT_NAMESPACE`]): 1 to 128 bytes, without `{`, `}` or spaces.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// What the token belongs to beyond the client and grant — required for a refresh-token grant
    /// (e.g. the user id: two users of one client must never share a token) and for a custom
    /// [`TokenSource`](crate::provider::TokenSource). It is hashed into the key.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Also opens values sealed with `key` (a key being rotated out); new values use the current key.
    pub fn decrypt_also(mut self, key: SealingKey) -> Self {
        self.keys.previous.push(key);
        self
    }

    /// The deadline of each store call (default [`DEFAULT_STORE_TIMEOUT`]).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// How long a lease lasts (default: the provider's attempt timeout plus its hook timeout plus one
    /// second, so that a live holder always finishes first).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = Some(ttl);
        self
    }

    /// How often a waiting replica polls for the lease holder's value (default
    /// [`DEFAULT_POLL_INTERVAL`]; at least 1 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The store keys for a provider whose token is described by `identity` (the token endpoint, the
    /// client and the grant's parameters), and the subject: `<ns>:{<hash>}:token` and `…:lease`.
    pub(crate) fn keys_for(&self, identity: Option<&[String]>) -> Result<(String, String), Error> {
        let ns = &self.namespace;
        if ns.is_empty()
            || ns.len() > 128
            || ns.contains(['{', '}'])
            || ns.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::config(
                "a shared cache namespace must be 1 to 128 bytes, without braces or spaces",
            ));
        }
        if self.store_timeout.is_zero() {
            return Err(Error::config(
                "a shared cache needs a store timeout above zero",
            ));
        }
        if identity.is_none() && self.subject.is_none() {
            return Err(Error::config(
                "a shared cache over a custom token source needs a subject naming what it shares",
            ));
        }
        let mut parts: Vec<&[u8]> = vec![b"telnyx-oauth shared token v1"];
        parts.extend(identity.unwrap_or_default().iter().map(|p| p.as_bytes()));
        parts.push(b"subject");
        parts.push(self.subject.as_deref().unwrap_or("").as_bytes());
        let hash = key_hash(&parts);
        Ok((
            format!("{ns}:{{{hash}}}:token"),
            format!("{ns}:{{{hash}}}:lease"),
        ))
    }
}

/// What a store key holds instead of what it names: 128 bits of SHA-256 over the length-prefixed
/// parts, in hex.
pub(crate) fn key_hash(parts: &[&[u8]]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let digest = ctx.finish();
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> SharedCache {
        SharedCache::new(MemoryStore::new(), SealingKey::new("k", [1; 32]).unwrap())
    }

    #[test]
    fn keys_are_namespaced_hashed_and_differ_by_every_part() {
        let id = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (token, lease) = cache()
            .keys_for(Some(&id(&["https://as/token", "client-a"])))
            .unwrap();
        assert!(
            token.starts_with("telnyx-oauth:{") && token.ends_with("}:token"),
            "{token}"
        );
        assert_eq!(token.replace(":token", ":lease"), lease);
        assert!(!token.contains("client-a"));
        let other = cache()
            .keys_for(Some(&id(&["https://as/token", "client-b"])))
            .unwrap();
        assert_ne!(token, other.0);
        // Length-prefixed parts: moving a boundary changes the key.
        let shifted = cache()
            .keys_for(Some(&id(&["https://as/tokenc", "lient-a"])))
            .unwrap();
        assert_ne!(token, shifted.0);
        let subject = cache()
            .subject("user-1")
            .keys_for(Some(&id(&["https://as/token", "client-a"])))
            .unwrap();
        assert_ne!(token, subject.0);
        let ns = cache()
            .namespace("svc")
            .keys_for(Some(&id(&["https://as/token", "client-a"])))
            .unwrap();
        assert!(ns.0.starts_with("svc:{"));
    }

    #[test]
    fn bad_settings_are_refused() {
        for ns in ["", "a{b", "a b", &"x".repeat(129)] {
            assert!(cache().namespace(ns).keys_for(Some(&[])).is_err(), "{ns:?}");
        }
        assert!(
            cache().keys_for(None).is_err(),
            "a custom source needs a subject"
        );
        assert!(cache().subject("s").keys_for(None).is_ok());
        assert!(
            cache()
                .store_timeout(Duration::ZERO)
                .keys_for(Some(&[]))
                .is_err()
        );
    }
}
