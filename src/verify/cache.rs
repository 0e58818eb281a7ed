//! The optional verified-token cache: a repeat of an already verified token skips the signature check.
//!
//! Bounded (oldest entries evicted first), keyed by the SHA-256 of the token (the token itself is
//! never stored), and an entry is used only while the token is unexpired and the key that verified it
//! is still in the issuer's key set.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::validation::StandardClaims;
use crate::jose::SigningAlgorithm;

/// Entries kept when the cache is enabled without a size.
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: usize = 10_000;

pub(crate) type Digest = [u8; 32];

pub(crate) fn digest(token: &str) -> Digest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// What a successful verification established.
pub(crate) struct Entry {
    pub(crate) claims: Value,
    pub(crate) standard: StandardClaims,
    pub(crate) scopes: Arc<[String]>,
    pub(crate) kid: Option<String>,
    pub(crate) alg: SigningAlgorithm,
    pub(crate) issuer: usize,
}

struct Entries {
    map: HashMap<Digest, Arc<Entry>>,
    order: VecDeque<Digest>,
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

    pub(crate) fn get(&self, key: &Digest) -> Option<Arc<Entry>> {
        self.lock().map.get(key).cloned()
    }

    pub(crate) fn remove(&self, key: &Digest) {
        self.lock().map.remove(key);
    }

    pub(crate) fn insert(&self, key: Digest, entry: Entry) {
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
        if inner.map.insert(key, Arc::new(entry)).is_none() {
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
            claims: Value::Null,
            standard: StandardClaims {
                iss: "i".into(),
                sub: None,
                aud: vec![],
                exp: 0.0,
                nbf: None,
                iat: None,
                jti: None,
                client_id: None,
            },
            scopes: Arc::from(Vec::new()),
            kid: None,
            alg: SigningAlgorithm::RS256,
            issuer: 0,
        }
    }

    #[test]
    fn bounded_oldest_first_and_keyed_by_digest() {
        let cache = VerifiedCache::new(2);
        for t in ["a", "b", "c", "d", "e"] {
            cache.insert(digest(t), entry());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&digest("a")).is_none());
        assert!(cache.get(&digest("e")).is_some() && cache.get(&digest("d")).is_some());
        cache.remove(&digest("e"));
        for t in 0..100 {
            cache.insert(digest(&t.to_string()), entry());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.lock().order.len() <= 4);
        assert_ne!(digest("a"), digest("b"));
    }
}
