//! A small memo of byte strings already read and authenticated: the verifier keeps the JWS header
//! segments of tokens whose signature verified, with what the header check made of them, so that the
//! next token with the same header — every token an issuer signs with one key, until it rotates —
//! skips reading it again.
//!
//! Bounded: at most [`SLOTS`] entries of at most [`MAX_KEY_BYTES`] bytes, the oldest replaced first.
//! Reads take no lock (one `arc-swap` load and a comparison per entry); an insert copies the few
//! entries. The memo never decides anything itself: a hit is an exact byte-for-byte match of a key
//! inserted by its owner, and the owner inserts only what it has authenticated, so a hostile caller
//! can neither fill the slots nor be served another key's value.

use std::sync::Arc;

use arc_swap::ArcSwap;

/// Entries kept: enough for the headers of a few issuers through a key rotation.
pub(crate) const SLOTS: usize = 8;
/// Longest key remembered; a longer one is simply read again each time.
pub(crate) const MAX_KEY_BYTES: usize = 512;

/// The entries and the slot the next insert replaces once all are used.
struct Slots<V> {
    entries: Vec<(Arc<[u8]>, V)>,
    next: usize,
}

/// Byte strings and a small value for each (see the module docs).
pub(crate) struct Memo<V> {
    slots: ArcSwap<Slots<V>>,
}

impl<V: Copy> Memo<V> {
    pub(crate) fn new() -> Self {
        Self {
            slots: ArcSwap::from_pointee(Slots {
                entries: Vec::new(),
                next: 0,
            }),
        }
    }

    /// The value remembered for exactly `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<V> {
        self.slots
            .load()
            .entries
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|(_, v)| *v)
    }

    /// Remembers `value` for `key` (unless the key is too long or already there), replacing the
    /// oldest entry when all slots are used.
    pub(crate) fn insert(&self, key: &[u8], value: V) {
        if key.len() > MAX_KEY_BYTES {
            return;
        }
        let key: Arc<[u8]> = Arc::from(key);
        self.slots.rcu(|current| {
            let mut entries = current.entries.clone();
            let mut next = current.next;
            if !entries.iter().any(|(k, _)| *k == key) {
                if entries.len() < SLOTS {
                    entries.push((key.clone(), value));
                } else {
                    entries[next] = (key.clone(), value);
                    next = (next + 1) % SLOTS;
                }
            }
            Slots { entries, next }
        });
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.load().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_is_an_exact_match_and_the_memo_is_bounded_oldest_out_first() {
        let memo = Memo::new();
        assert_eq!(memo.get(b"a"), None);
        memo.insert(b"a", 1);
        memo.insert(b"a", 2); // already there: kept as first remembered
        assert_eq!((memo.get(b"a"), memo.len()), (Some(1), 1));
        // Neither a prefix nor an extension of a key matches it.
        assert_eq!(memo.get(b""), None);
        assert_eq!(memo.get(b"ab"), None);
        for i in 0..SLOTS as u8 {
            memo.insert(&[b'k', i], i.into());
        }
        assert_eq!(memo.len(), SLOTS);
        // "a" was the oldest: the eighth new key replaced it; the others are all still there.
        assert_eq!(memo.get(b"a"), None);
        for i in 0..SLOTS as u8 {
            assert_eq!(memo.get(&[b'k', i]), Some(i32::from(i)), "k{i}");
        }
        memo.insert(b"new", 99);
        assert_eq!(memo.get(&[b'k', 0]), None, "the next oldest goes next");
        assert_eq!((memo.get(b"new"), memo.len()), (Some(99), SLOTS));
        let long = vec![b'x'; MAX_KEY_BYTES + 1];
        memo.insert(&long, 7);
        assert_eq!(memo.get(&long), None);
        assert_eq!(memo.get(&long[..MAX_KEY_BYTES]), None);
    }

    #[test]
    fn concurrent_inserts_keep_every_entry_once_within_the_bound() {
        let memo = Arc::new(Memo::new());
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let memo = memo.clone();
                std::thread::spawn(move || {
                    for i in 0..200u8 {
                        memo.insert(&[t, i % 2], u32::from(t));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(memo.len(), SLOTS);
        for t in 0..4u8 {
            for i in 0..2u8 {
                assert_eq!(memo.get(&[t, i]), Some(u32::from(t)));
            }
        }
    }
}
