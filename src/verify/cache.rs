//! The optional verified-token cache: a repeat of an already verified token skips the signature check.
//!
//! Bounded (oldest entries evicted first), and an entry is used only while the token is unexpired
//! and the key that verified it is still in the issuer's key set.
//!
//! **Lookup.** The map is keyed by the token itself and confirmed by a full comparison of the token's
//! bytes: a hit is exactly the same token, never a collision. What is hashed is the token's length
//! and its last 32 bytes — the end of the signature — with the standard library's keyed SipHash-1-3
//! (a random key per map). No cryptographic digest is needed on the hit path: only tokens that
//! verified are ever inserted, and the end of a valid signature is chosen by the issuer's key, not by
//! whoever presents the token, so nobody can make inserted tokens collide (the random key would stop
//! that too). A forged token may share a valid one's tail: it then costs one comparison more and
//! goes on to the normal check, which refuses it.
//!
//! **Memory.** Each entry keeps its token (wiped from memory when the entry is dropped), its payload
//! text, and its claims as the type first asked for — a typed claims struct, or a `Value` once some
//! caller has read it — so that hits of that type share them instead of copying (another type is
//! read from the payload); with the default 10 000 entries and ~1 KiB tokens that is about 10–20 MiB.

use std::any::Any;
use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::validation::StandardClaims;
use crate::jose::SigningAlgorithm;

/// Entries kept when the cache is enabled without a size.
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: usize = 10_000;

/// A cached token: shared by the map and the eviction queue, wiped when the last copy goes.
#[derive(Clone)]
struct TokenKey(Arc<Zeroizing<String>>);

impl TokenKey {
    fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TokenKey {}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Probe::new(self.as_str()).hash(state);
    }
}

/// A lookup by a borrowed token: hashes and compares exactly as [`TokenKey`] does.
#[derive(PartialEq, Eq)]
struct Probe<'a>(&'a str);

impl<'a> Probe<'a> {
    fn new(token: &'a str) -> Self {
        Self(token)
    }

    /// The length and the last 32 bytes (the end of the signature).
    fn tail(&self) -> (usize, &[u8]) {
        let bytes = self.0.as_bytes();
        (bytes.len(), &bytes[bytes.len().saturating_sub(32)..])
    }
}

impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (len, tail) = self.tail();
        state.write_usize(len);
        state.write(tail);
    }
}

/// Lets the map be searched with a [`Probe`] without building a key (the `Borrow` contract holds:
/// both hash the same tail and compare the whole token).
trait AsProbe {
    fn probe(&self) -> Probe<'_>;
}

impl AsProbe for TokenKey {
    fn probe(&self) -> Probe<'_> {
        Probe::new(self.as_str())
    }
}

impl AsProbe for Probe<'_> {
    fn probe(&self) -> Probe<'_> {
        Probe::new(self.0)
    }
}

impl<'a> Borrow<dyn AsProbe + 'a> for TokenKey {
    fn borrow(&self) -> &(dyn AsProbe + 'a) {
        self
    }
}

impl PartialEq for dyn AsProbe + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.probe() == other.probe()
    }
}

impl Eq for dyn AsProbe + '_ {}

impl Hash for dyn AsProbe + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.probe().hash(state);
    }
}

/// What a successful verification established, shared by every hit.
pub(crate) struct Entry {
    /// The payload's text (a claims set already read), for a claims type other than the first.
    pub(crate) payload: Arc<str>,
    /// The claims as the type they were verified for (a [`Claims<C>`](super::verified::Claims)),
    /// handed out without a copy.
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    pub(crate) standard: Arc<StandardClaims>,
    pub(crate) scopes: Arc<[String]>,
    pub(crate) kid: Option<Arc<str>>,
    pub(crate) alg: SigningAlgorithm,
    pub(crate) issuer: usize,
}

struct Entries {
    map: HashMap<TokenKey, Arc<Entry>>,
    order: VecDeque<TokenKey>,
}

pub(crate) struct VerifiedCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        crate::lock::lock(&self.inner)
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<Entry>> {
        self.lock()
            .map
            .get(&Probe::new(token) as &dyn AsProbe)
            .cloned()
    }

    pub(crate) fn remove(&self, token: &str) {
        self.lock().map.remove(&Probe::new(token) as &dyn AsProbe);
    }

    pub(crate) fn insert(&self, token: &str, entry: Entry) {
        let key = TokenKey(Arc::new(Zeroizing::new(token.to_owned())));
        let mut inner = self.lock();
        // Bounded: evict the oldest (skipping keys already removed) until there is room.
        while inner.map.len() >= self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.map.remove(&old);
                }
                None => break,
            }
        }
        if inner.map.insert(key.clone(), Arc::new(entry)).is_none() {
            inner.order.push_back(key);
        }
        // Keep the order queue from growing past the map with removed keys.
        if inner.order.len() > 2 * self.capacity {
            let Entries { map, order } = &mut *inner;
            order.retain(|k| map.contains_key(k));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            payload: Arc::from("{}"),
            typed: Box::new(()),
            standard: Arc::new(StandardClaims {
                iss: "i".into(),
                sub: None,
                aud: vec![],
                exp: 0.0,
                nbf: None,
                iat: None,
                jti: None,
                client_id: None,
            }),
            scopes: Arc::from(Vec::new()),
            kid: None,
            alg: SigningAlgorithm::RS256,
            issuer: 0,
        }
    }

    #[test]
    fn bounded_oldest_first_and_keyed_by_the_whole_token() {
        let cache = VerifiedCache::new(2);
        for t in ["a", "b", "c", "d", "e"] {
            cache.insert(t, entry());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a").is_none());
        assert!(cache.get("e").is_some() && cache.get("d").is_some());
        // A prefix or an extension of a cached token is not a hit.
        assert!(cache.get("").is_none() && cache.get("ee").is_none());
        // Same length and same last 32 bytes, different start: found by hash, refused by comparison.
        let tail = "t".repeat(40);
        cache.insert(&format!("A{tail}"), entry());
        assert!(cache.get(&format!("A{tail}")).is_some());
        assert!(cache.get(&format!("B{tail}")).is_none());
        cache.remove("e");
        assert!(cache.get("e").is_none());
        for t in 0..100 {
            cache.insert(&t.to_string(), entry());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.lock().order.len() <= 4);
    }

    #[test]
    fn reinserting_a_token_keeps_one_entry_and_one_queue_slot() {
        let cache = VerifiedCache::new(4);
        for _ in 0..10 {
            cache.insert("same", entry());
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lock().order.len(), 1);
    }
}
