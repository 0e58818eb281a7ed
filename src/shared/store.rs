//! [`TokenStore`]: the four operations a shared token cache needs from a store, and [`MemoryStore`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::provider::BoxFuture;

/// What a read found at a key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stored {
    /// Nothing there (never written, or expired).
    Missing,
    /// A value written through [`TokenStore::write`].
    Value {
        /// Its generation (1 for the first value, one more for each replacement).
        generation: u64,
        /// The sealed bytes.
        bytes: Vec<u8>,
        /// How much longer the store keeps it, by the store's own clock.
        ttl: Duration,
    },
    /// Something else: another type, no generation, no expiry, or longer than the read's limit. It is
    /// replaced by a write that expects `generation`.
    Foreign {
        /// The generation a value there starts with, when it has one (else 0): what a write that
        /// replaces it must expect.
        generation: u64,
    },
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are sealed, but a debug line has no use for them.
        match self {
            Self::Missing => f.write_str("Missing"),
            Self::Value {
                generation,
                bytes,
                ttl,
            } => f
                .debug_struct("Value")
                .field("generation", generation)
                .field("len", &bytes.len())
                .field("ttl", ttl)
                .finish(),
            Self::Foreign { generation } => f
                .debug_struct("Foreign")
                .field("generation", generation)
                .finish(),
        }
    }
}

/// A store call that failed (unreachable, refused, timed out). The provider falls back to fetching
/// locally; the message is logged, so it must not hold a secret.
#[derive(Debug, Clone)]
pub struct StoreError(String);

impl StoreError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// A store shared by the replicas of a service: Redis ([`RedisStore`](super::RedisStore), feature
/// `redis`), [`MemoryStore`] in one process, or your own.
///
/// Values are sealed before they reach the store and opened after; a store never sees a token.
/// Every call is given a deadline by the caller, so an implementation need not add its own.
pub trait TokenStore: Send + Sync + 'static {
    /// Reads the value at `key`, reporting [`Stored::Foreign`] for one longer than `max_len` bytes
    /// (without transferring it) or one without an expiry.
    fn read<'a>(
        &'a self,
        key: &'a str,
        max_len: usize,
    ) -> BoxFuture<'a, Result<Stored, StoreError>>;

    /// Takes the lease `lease_key` for `owner` if nobody holds it, for `ttl`. Returns whether it did.
    fn try_lease<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Gives the lease back, only if `owner` still holds it. Returns whether it did.
    fn release<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Atomically: if `w.owner` holds `w.lease_key` and the generation at `w.key` is `w.expected` (0
    /// for a missing value or one without a generation), writes `w.bytes` there as `w.generation`
    /// (always more than `expected`), kept for `w.ttl`. Returns whether it wrote.
    fn write<'a>(&'a self, w: WriteIf<'a>) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// A conditional write, as [`TokenStore::write`] receives it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct WriteIf<'a> {
    /// Where the value goes.
    pub key: &'a str,
    /// The lease the writer must hold…
    pub lease_key: &'a str,
    /// …as this owner.
    pub owner: &'a str,
    /// The generation the value at `key` must have now.
    pub expected: u64,
    /// The new value's generation (more than `expected`).
    pub generation: u64,
    /// The sealed value.
    pub bytes: &'a [u8],
    /// How long the store keeps it.
    pub ttl: Duration,
}

impl fmt::Debug for WriteIf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteIf")
            .field("key", &self.key)
            .field("expected", &self.expected)
            .field("generation", &self.generation)
            .field("len", &self.bytes.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Slot {
    Value { generation: u64, bytes: Vec<u8> },
    Lease(String),
    Foreign,
}

/// A [`TokenStore`] in this process's memory, on Tokio's clock: for tests (a paused clock expires its
/// entries) and for several providers in one process.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (Slot, Option<Instant>)>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys held now (tokens and leases), sorted (for tests).
    pub fn keys(&self) -> Vec<String> {
        let mut keys = self.with(|m| m.keys().cloned().collect::<Vec<_>>());
        keys.sort();
        keys
    }

    /// Puts a value that is not one of ours at `key` (for tests of what a shared cache tolerates).
    pub fn plant_foreign(&self, key: &str) {
        self.with(|m| {
            m.insert(key.to_owned(), (Slot::Foreign, None));
        });
    }

    /// Puts raw `bytes` at `key` as `generation`, kept for `ttl` (for tests).
    pub fn plant(&self, key: &str, generation: u64, bytes: Vec<u8>, ttl: Duration) {
        self.with(|m| {
            m.insert(
                key.to_owned(),
                (
                    Slot::Value { generation, bytes },
                    Some(Instant::now() + ttl),
                ),
            );
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (Slot, Option<Instant>)>) -> R) -> R {
        let mut map = crate::lock::lock(&self.entries);
        let now = Instant::now();
        map.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        f(&mut map)
    }
}

fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl TokenStore for MemoryStore {
    fn read<'a>(
        &'a self,
        key: &'a str,
        max_len: usize,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        let now = Instant::now();
        ready(Ok(self.with(|m| match m.get(key) {
            None => Stored::Missing,
            Some((Slot::Value { generation, bytes }, Some(exp))) if bytes.len() <= max_len => {
                Stored::Value {
                    generation: *generation,
                    bytes: bytes.clone(),
                    ttl: exp.duration_since(now),
                }
            }
            Some((Slot::Value { generation, .. }, _)) => Stored::Foreign {
                generation: *generation,
            },
            Some(_) => Stored::Foreign { generation: 0 },
        })))
    }

    fn try_lease<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(Ok(self.with(|m| {
            if m.contains_key(lease_key) {
                return false;
            }
            m.insert(
                lease_key.to_owned(),
                (Slot::Lease(owner.to_owned()), Some(Instant::now() + ttl)),
            );
            true
        })))
    }

    fn release<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(Ok(self.with(|m| match m.get(lease_key) {
            Some((Slot::Lease(o), _)) if o == owner => {
                m.remove(lease_key);
                true
            }
            _ => false,
        })))
    }

    fn write<'a>(&'a self, w: WriteIf<'a>) -> BoxFuture<'a, Result<bool, StoreError>> {
        let WriteIf {
            key,
            lease_key,
            owner,
            expected,
            generation,
            bytes,
            ttl,
        } = w;
        ready(Ok(generation > expected
            && self.with(|m| {
                let holds = matches!(m.get(lease_key), Some((Slot::Lease(o), _)) if o == owner);
                let current = match m.get(key) {
                    Some((Slot::Value { generation, .. }, _)) => *generation,
                    _ => 0,
                };
                if !holds || current != expected {
                    return false;
                }
                m.insert(
                    key.to_owned(),
                    (
                        Slot::Value {
                            generation,
                            bytes: bytes.to_vec(),
                        },
                        Some(Instant::now() + ttl),
                    ),
                );
                true
            })))
    }
}

impl<T: TokenStore> TokenStore for std::sync::Arc<T> {
    fn read<'a>(
        &'a self,
        key: &'a str,
        max_len: usize,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        (**self).read(key, max_len)
    }

    fn try_lease<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).try_lease(lease_key, owner, ttl)
    }

    fn release<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).release(lease_key, owner)
    }

    fn write<'a>(&'a self, w: WriteIf<'a>) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).write(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn w(expected: u64, generation: u64, bytes: &[u8]) -> WriteIf<'_> {
        WriteIf {
            key: "k",
            lease_key: "l",
            owner: "a",
            expected,
            generation,
            bytes,
            ttl: S(9),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn leases_are_exclusive_expire_and_release_only_for_their_owner() {
        let store = MemoryStore::new();
        assert!(store.try_lease("l", "a", S(5)).await.unwrap());
        assert!(!store.try_lease("l", "b", S(5)).await.unwrap());
        assert!(!store.release("l", "b").await.unwrap());
        tokio::time::advance(S(5)).await;
        assert!(store.try_lease("l", "b", S(5)).await.unwrap(), "expired");
        assert!(!store.release("l", "a").await.unwrap());
        assert!(store.release("l", "b").await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn writes_need_the_lease_and_the_expected_generation() {
        let store = MemoryStore::new();
        assert!(!store.write(w(0, 1, b"v")).await.unwrap(), "no lease");
        store.try_lease("l", "a", S(5)).await.unwrap();
        assert!(!store.write(w(1, 2, b"v")).await.unwrap());
        assert!(store.write(w(0, 1, b"v1")).await.unwrap());
        assert!(!store.write(w(0, 1, b"v")).await.unwrap());
        assert!(store.write(w(1, 2, b"v2")).await.unwrap());
        let read = store.read("k", 100).await.unwrap();
        assert_eq!(
            read,
            Stored::Value {
                generation: 2,
                bytes: b"v2".to_vec(),
                ttl: S(9)
            }
        );
        assert_eq!(
            store.read("k", 1).await.unwrap(),
            Stored::Foreign { generation: 2 },
            "too long: its generation is still reported, for the write that replaces it"
        );
        store.plant_foreign("k");
        assert_eq!(
            store.read("k", 100).await.unwrap(),
            Stored::Foreign { generation: 0 }
        );
        assert!(
            store.write(w(0, 7, b"v3")).await.unwrap(),
            "replaces foreign"
        );
        tokio::time::advance(S(9)).await;
        assert_eq!(store.read("k", 100).await.unwrap(), Stored::Missing);
    }
}
