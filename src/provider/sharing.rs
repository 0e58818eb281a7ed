//! The provider's side of a [`SharedCache`]: adopt a shared token, or fetch one under the lease and
//! share it. See [`crate::shared`] for the protocol.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::cached::CachedToken;
use super::refresher::{Refresher, bump};
use crate::error::Error;
use crate::provider::BoxFuture;
use crate::shared::{self, SharedCache, StoreError, Stored, WriteIf};
use crate::token::Token;

/// A token obtained by a flight, and where it came from.
pub(crate) struct Obtained {
    pub(crate) token: Token,
    /// The shared generation it has (or, fetched without the store, the last one seen).
    pub(crate) shared_generation: u64,
}

/// A provider's shared cache: the settings, its keys in the store, and the store's health.
pub(crate) struct Sharing {
    cache: SharedCache,
    token_key: String,
    lease_key: String,
    /// This provider's lease owner value: random, so no other replica can release or write under it.
    owner: String,
    lease_ttl: Duration,
    poll: Duration,
    healthy: AtomicBool,
}

/// What a read of the shared value showed.
enum View {
    /// Nothing usable: missing, foreign or unopenable; a write expects `expected`.
    Empty { expected: u64 },
    /// A token set at `generation`.
    Token { generation: u64, token: Token },
}

impl View {
    fn generation(&self) -> u64 {
        match self {
            Self::Empty { expected } => *expected,
            Self::Token { generation, .. } => *generation,
        }
    }
}

impl Sharing {
    pub(crate) fn new(
        cache: SharedCache,
        identity: Option<&[String]>,
        default_lease: Duration,
    ) -> Result<Self, Error> {
        let (token_key, lease_key) = cache.keys_for(identity)?;
        Ok(Self {
            lease_ttl: cache
                .lease_ttl
                .unwrap_or(default_lease)
                .max(Duration::from_millis(1)),
            poll: cache.poll_interval.max(Duration::from_millis(1)),
            owner: crate::random::id()?,
            token_key,
            lease_key,
            cache,
            healthy: AtomicBool::new(true),
        })
    }

    /// One store call under the store timeout; a failure is logged once per outage and counted.
    async fn call<T>(
        &self,
        refresher: &Refresher,
        what: &'static str,
        call: BoxFuture<'_, Result<T, StoreError>>,
    ) -> Option<T> {
        let outcome = match tokio::time::timeout(self.cache.store_timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {:?}", self.cache.store_timeout)),
        };
        match outcome {
            Ok(v) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(namespace = %self.cache.namespace, "shared token store reachable again; sharing resumed");
                }
                Some(v)
            }
            Err(error) => {
                bump(&refresher.counters.store_failures);
                crate::observe::shared_store("store_error");
                if self.healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(namespace = %self.cache.namespace, operation = what, %error, "shared token store unavailable; fetching tokens locally until it answers");
                } else {
                    tracing::debug!(operation = what, %error, "shared token store still unavailable");
                }
                None
            }
        }
    }

    /// Reads and opens the shared value. `None`: the store did not answer.
    async fn look(&self, refresher: &Refresher) -> Option<View> {
        let sent = Instant::now();
        let stored = self
            .call(
                refresher,
                "read",
                self.cache
                    .store
                    .read(&self.token_key, shared::MAX_VALUE_BYTES),
            )
            .await?;
        let (generation, bytes, ttl) = match stored {
            Stored::Value {
                generation,
                bytes,
                ttl,
            } => (generation, bytes, ttl),
            Stored::Missing => return Some(View::Empty { expected: 0 }),
            Stored::Foreign { generation } => {
                self.unusable(refresher, shared::Unusable::Malformed);
                return Some(View::Empty {
                    expected: generation,
                });
            }
        };
        let opened = self
            .cache
            .keys
            .open(&self.token_key, generation, &bytes)
            .and_then(|plain| shared::decode(&plain, sent + ttl));
        Some(match opened {
            Ok(token) => View::Token { generation, token },
            Err(why) => {
                self.unusable(refresher, why);
                View::Empty {
                    expected: generation,
                }
            }
        })
    }

    fn unusable(&self, refresher: &Refresher, why: shared::Unusable) {
        bump(&refresher.counters.unusable_values);
        crate::observe::shared_store("unusable_value");
        tracing::warn!(namespace = %self.cache.namespace, reason = why.as_str(), "ignoring a shared token value that cannot be used; it will be replaced");
    }

    async fn release(&self, refresher: &Refresher) {
        self.call(
            refresher,
            "release",
            self.cache.store.release(&self.lease_key, &self.owner),
        )
        .await;
    }
}

impl Refresher {
    /// A new token for a flight: adopted from the shared cache when it holds a fresh one, otherwise
    /// fetched (under the lease when the store answers) and shared.
    pub(super) async fn obtain(
        &self,
        previous: Option<&CachedToken>,
        jitter: f64,
    ) -> Result<Obtained, Error> {
        let held = previous.map_or(0, |t| t.shared_generation);
        let Some(sharing) = &self.sharing else {
            return self.fetch(previous.map(|t| &t.token), held).await;
        };
        let fresh = |t: &Token| {
            Instant::now()
                < self
                    .policy
                    .schedule(t.obtained_at(), t.expires_in(), t.refresh_in(), jitter)
                    .refresh_at
        };
        // Holding nothing usable, a newer shared token that is due for refresh but still usable is
        // taken at once (callers get it now); the timer then refreshes it, under the lease.
        let holds_usable = previous.is_some_and(|t| t.usable_at(Instant::now()));
        let usable = |t: &Token| {
            self.policy
                .schedule(t.obtained_at(), t.expires_in(), t.refresh_in(), jitter)
                .usable_at(Instant::now())
        };
        // A holder that crashed leaves its lease for at most one lease time: after that, take it.
        let give_up_at = Instant::now() + sharing.lease_ttl + sharing.poll;
        let rounds = sharing.lease_ttl.as_millis() / sharing.poll.as_millis() + 3;
        let mut waited = false;
        for _ in 0..rounds {
            let Some(view) = sharing.look(self).await else {
                return self.fetch(previous.map(|t| &t.token), held).await;
            };
            if let View::Token { generation, token } = &view
                && *generation > held
                && (fresh(token) || !holds_usable && usable(token))
            {
                return Ok(self.adopted(token.clone(), *generation));
            }
            let Some(leased) = sharing
                .call(
                    self,
                    "lease",
                    sharing.cache.store.try_lease(
                        &sharing.lease_key,
                        &sharing.owner,
                        sharing.lease_ttl,
                    ),
                )
                .await
            else {
                return self.fetch(previous.map(|t| &t.token), held).await;
            };
            if leased {
                return self
                    .fetch_under_lease(sharing, previous, held, &fresh)
                    .await;
            }
            if !waited {
                waited = true;
                bump(&self.counters.lease_waits);
                crate::observe::shared_store("lease_wait");
            }
            if Instant::now() >= give_up_at {
                break;
            }
            tokio::time::sleep(sharing.poll).await;
        }
        // The lease never came free (a holder renewing it, or a store that misreports): fetch here.
        self.fetch(previous.map(|t| &t.token), held).await
    }

    fn adopted(&self, token: Token, generation: u64) -> Obtained {
        bump(&self.counters.adopted);
        crate::observe::shared_store("adopted");
        tracing::debug!(generation, "adopted the shared token");
        Obtained {
            token,
            shared_generation: generation,
        }
    }

    /// Holding the lease: read once more, then fetch with the newest token set and share the result.
    async fn fetch_under_lease(
        &self,
        sharing: &Sharing,
        previous: Option<&CachedToken>,
        held: u64,
        fresh: &impl Fn(&Token) -> bool,
    ) -> Result<Obtained, Error> {
        let view = sharing.look(self).await;
        if let Some(View::Token { generation, token }) = &view
            && *generation > held
            && fresh(token)
        {
            sharing.release(self).await;
            return Ok(self.adopted(token.clone(), *generation));
        }
        let expected = view.as_ref().map_or(held, View::generation);
        // The newest token set: the shared one when it is at least as new as ours (its refresh
        // token is the one the server expects next), else ours.
        let base = match &view {
            Some(View::Token { generation, token }) if *generation >= held => Some(token),
            _ => previous.map(|t| &t.token),
        };
        let fetched = match self.fetch(base, held).await {
            Ok(f) => f,
            Err(e) => {
                sharing.release(self).await;
                return Err(e);
            }
        };
        let generation = expected.max(held) + 1;
        let ttl = fetched.token.remaining(Instant::now());
        let mut shared_generation = held;
        let sealed = shared::encode(&fetched.token).and_then(|plain| {
            sharing
                .cache
                .keys
                .seal(&sharing.token_key, generation, &plain)
        });
        match sealed {
            Ok(bytes) if !ttl.is_zero() => {
                let wrote = sharing
                    .call(
                        self,
                        "write",
                        sharing.cache.store.write(WriteIf {
                            key: &sharing.token_key,
                            lease_key: &sharing.lease_key,
                            owner: &sharing.owner,
                            expected,
                            generation,
                            bytes: &bytes,
                            ttl,
                        }),
                    )
                    .await;
                match wrote {
                    Some(true) => {
                        shared_generation = generation;
                        bump(&self.counters.shared_writes);
                        crate::observe::shared_store("fetched");
                    }
                    Some(false) => tracing::warn!(
                        generation,
                        "the shared token changed or the lease expired during the fetch; keeping the new token locally"
                    ),
                    None => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the new token set could not be sealed; not shared")
            }
        }
        sharing.release(self).await;
        Ok(Obtained {
            token: fetched.token,
            shared_generation,
        })
    }
}
