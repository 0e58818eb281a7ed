//! DPoP nonces (RFC 9449 §8, §9) on the client: the latest one each server origin sent.

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use url::Url;

/// Origins remembered at most; one more replaces the lot (a client talks to a handful of servers).
const MAX_ORIGINS: usize = 64;
/// Longest nonce kept; a longer one is ignored.
const MAX_NONCE_LEN: usize = 512;

/// Whether `nonce` is a nonce RFC 9449 §8.1 allows: 1 or more `NQCHAR` (printable ASCII but `"` and
/// `\`), here at most 512 of them.
pub(crate) fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The latest nonce per origin, updated from every response that carries a `DPoP-Nonce` header.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceCache {
    /// The nonce to put in the next proof for `url`, if its server sent one.
    pub(crate) fn get(&self, url: &Url) -> Option<String> {
        crate::lock::lock(&self.by_origin)
            .get(&origin(url))
            .cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `url`, and returns it when it is valid. Several
    /// headers, or an invalid value, are ignored.
    pub(crate) fn update(&self, url: &Url, headers: &HeaderMap) -> Option<String> {
        let mut values = headers.get_all("dpop-nonce").iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return None;
        };
        let nonce = value.to_str().ok().filter(|n| valid_nonce(n))?;
        let mut map = crate::lock::lock(&self.by_origin);
        let key = origin(url);
        if map.get(&key).is_some_and(|n| n == nonce) {
            return Some(nonce.to_owned());
        }
        if map.len() >= MAX_ORIGINS && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, nonce.to_owned());
        Some(nonce.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("DPoP-Nonce", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn nonces_are_kept_per_origin_and_only_new_valid_ones_count() {
        let cache = NonceCache::default();
        let a = Url::parse("https://as.example/token").unwrap();
        let a2 = Url::parse("https://AS.example:443/other?x").unwrap();
        let b = Url::parse("https://as.example:8443/token").unwrap();
        assert_eq!(cache.update(&a, &headers(&["n1"])).as_deref(), Some("n1"));
        assert_eq!(
            cache.update(&a2, &headers(&["n1"])).as_deref(),
            Some("n1"),
            "same origin, same nonce"
        );
        assert_eq!(cache.get(&a2).as_deref(), Some("n1"));
        assert_eq!(cache.get(&b), None, "another port is another origin");
        assert_eq!(cache.update(&a, &headers(&["has space"])), None);
        assert_eq!(
            cache.update(&a, &headers(&["n2", "n3"])),
            None,
            "two headers"
        );
        assert_eq!(cache.update(&a, &headers(&[])), None);
        assert_eq!(cache.get(&a).as_deref(), Some("n1"));
        assert!(
            !valid_nonce(&"x".repeat(513))
                && !valid_nonce("a\"b")
                && valid_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v")
        );
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = NonceCache::default();
        for i in 0..(3 * MAX_ORIGINS) {
            let url = Url::parse(&format!("https://h{i}.example/")).unwrap();
            cache.update(&url, &headers(&["n"]));
            assert!(crate::lock::lock(&cache.by_origin).len() <= MAX_ORIGINS);
        }
    }
}
