//! The JWKS cache: lock-free reads of the current key set, refreshed ahead in the background, one
//! shared refetch for an unknown `kid` at most once per cooldown, last known good keys through an
//! outage up to `max_stale`, then fail closed.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::header;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::error::VerifyError;
use super::keys::{Selection, VerifyingKey, ingest, select};
use crate::error::{Error, ErrorClass};
use crate::flight::{Backoff, Cell, CellState, Jitter, Landing, Waited, Waiter};
use crate::http::HttpClient;
use crate::jose::SigningAlgorithm;
use crate::metadata::AuthorizationServerMetadata;

/// A key set is fresh this long unless `Cache-Control: max-age` says otherwise (DESIGN §5).
pub const DEFAULT_FRESH: Duration = Duration::from_secs(5 * 60);
/// `max-age` is clamped to at least this…
pub const MIN_FRESH: Duration = Duration::from_secs(60);
/// …and at most this.
pub const MAX_FRESH: Duration = Duration::from_secs(60 * 60);
/// An unknown `kid` triggers a refetch at most this often.
pub const DEFAULT_MISS_COOLDOWN: Duration = Duration::from_secs(30);
/// Last known good keys keep serving this long through an outage; then verification fails closed.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(12 * 60 * 60);
/// JWKS fetch: connect timeout.
pub const JWKS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// JWKS fetch: whole-request timeout.
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// JWKS fetch: largest body read.
pub const JWKS_MAX_BODY: usize = 64 * 1024;
/// At most this many usable keys are read from a JWKS (keys that cannot be used do not count).
pub const DEFAULT_MAX_KEYS: usize = 100;
/// At most this many unknown kids are remembered between successful fetches.
const MAX_NEGATIVE_KIDS: usize = 10_000;

/// Timing of the JWKS cache. Change what you need and keep the rest:
/// `JwksPolicy::default().with_miss_cooldown(Duration::from_secs(10))`. New fields may be added in a
/// minor release (the struct is `#[non_exhaustive]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksPolicy {
    /// See [`DEFAULT_FRESH`].
    pub fresh: Duration,
    /// See [`DEFAULT_MISS_COOLDOWN`].
    pub miss_cooldown: Duration,
    /// See [`DEFAULT_MAX_STALE`].
    pub max_stale: Duration,
    /// See [`DEFAULT_MAX_KEYS`]; the rest of a larger set is skipped and logged once.
    pub max_keys: usize,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            fresh: DEFAULT_FRESH,
            miss_cooldown: DEFAULT_MISS_COOLDOWN,
            max_stale: DEFAULT_MAX_STALE,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

policy_setters!(JwksPolicy {
    with_fresh => fresh: Duration,
    with_miss_cooldown => miss_cooldown: Duration,
    with_max_stale => max_stale: Duration,
    with_max_keys => max_keys: usize,
});

/// How the keys of one issuer are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysHealth {
    /// Keys are loaded and fresh.
    Loaded {
        /// Time since the last successful fetch.
        age: Duration,
    },
    /// Keys are past their freshness (a refresh is due or failing) but still served.
    Stale {
        /// Time since the last successful fetch.
        age: Duration,
    },
    /// No usable keys: never fetched, or older than `max_stale`.
    Unavailable,
}

pub(crate) struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    fetched_at: Instant,
    /// The background refresh starts here, ahead of `stale_at`, so no request waits for it.
    refresh_at: Instant,
    /// Freshness ends here (`max-age`, or the policy's default).
    stale_at: Instant,
}

/// The background refresh starts when this share of the freshness has passed.
const REFRESH_AHEAD: f64 = 0.8;

impl KeySet {
    fn new(keys: Vec<Arc<VerifyingKey>>, now: Instant, fresh: Duration) -> Self {
        Self {
            keys,
            fetched_at: now,
            refresh_at: now + fresh.mul_f64(REFRESH_AHEAD),
            stale_at: now + fresh,
        }
    }
}

pub(crate) enum Source {
    Url(Url),
    Discover(String),
    Static,
}

/// A fetch's outcome, as its waiters see it.
type Fetched = Result<(), Error>;

/// What the JWKS cache keeps next to the cell's flight and backoff, under the same lock.
struct KidMemory {
    last_miss_fetch: Option<Instant>,
    negative: HashSet<String>,
    /// Skipped keys already logged, so a key that stays unusable is reported once, not every fetch.
    logged_skips: HashSet<(Option<String>, &'static str)>,
}

/// The key set of one issuer.
pub(crate) struct JwksCache {
    source: Source,
    resolved: OnceLock<Url>,
    http: HttpClient,
    allowed: Vec<SigningAlgorithm>,
    policy: JwksPolicy,
    cell: Cell<KeySet, Fetched, KidMemory>,
    jitter: Jitter,
    pub(crate) fetches: std::sync::atomic::AtomicU64,
}

type Locked<'a> = std::sync::MutexGuard<'a, CellState<Fetched, KidMemory>>;

/// A selection's answer, or `None` when no key has the token's `kid` (a refetch may find it).
fn decided(selection: Selection) -> Option<Result<Arc<VerifyingKey>, VerifyError>> {
    match selection {
        Selection::Found(key) => Some(Ok(key)),
        Selection::Mismatch => Some(Err(VerifyError::AlgKeyMismatch)),
        Selection::Ambiguous => Some(Err(VerifyError::AmbiguousKey)),
        Selection::Missing => None,
    }
}

impl JwksCache {
    pub(crate) fn new(
        source: Source,
        http: &HttpClient,
        allowed: Vec<SigningAlgorithm>,
        policy: JwksPolicy,
        jitter: Jitter,
    ) -> Self {
        let http = http
            .clone()
            .with_timeout(JWKS_TIMEOUT.min(http.timeout()))
            .with_max_body(JWKS_MAX_BODY);
        Self {
            source,
            resolved: OnceLock::new(),
            http,
            allowed,
            policy,
            cell: Cell::new(
                None,
                KidMemory {
                    last_miss_fetch: None,
                    negative: HashSet::new(),
                    logged_skips: HashSet::new(),
                },
            ),
            jitter,
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A cache over a fixed JWK Set, never fetched. Fails when no key in it is usable.
    pub(crate) fn fixed(set: &Value, allowed: Vec<SigningAlgorithm>) -> Result<Self, Error> {
        let (keys, skipped) = ingest(set, &allowed, DEFAULT_MAX_KEYS);
        log_skipped(&skipped);
        if keys.is_empty() {
            return Err(Error::config("the JWK Set has no usable verification key"));
        }
        let cache = Self::new(
            Source::Static,
            &HttpClient::from_reqwest(reqwest::Client::new()),
            allowed,
            JwksPolicy::default(),
            crate::flight::system_jitter(),
        );
        let now = Instant::now();
        cache.cell.store(Some(Arc::new(KeySet::new(
            keys,
            now,
            Duration::from_secs(100 * 365 * 24 * 3600),
        ))));
        Ok(cache)
    }

    fn lock(&self) -> Locked<'_> {
        self.cell.lock()
    }

    /// How long a caller waits for a fetch: discovery and the fetch, each bounded by the HTTP timeout.
    fn wait_bound(&self) -> Instant {
        Instant::now() + self.http.timeout() * 2
    }

    pub(crate) fn health(&self) -> KeysHealth {
        let now = Instant::now();
        match self.cell.load().as_ref() {
            None => KeysHealth::Unavailable,
            Some(set) => {
                let age = now.saturating_duration_since(set.fetched_at);
                if matches!(self.source, Source::Static) || now < set.stale_at {
                    KeysHealth::Loaded { age }
                } else if age <= self.policy.max_stale {
                    KeysHealth::Stale { age }
                } else {
                    KeysHealth::Unavailable
                }
            }
        }
    }

    /// Whether the current key set still holds the key a token was verified with (no fetch).
    pub(crate) fn has_key(&self, kid: Option<&str>, alg: SigningAlgorithm) -> bool {
        self.cell
            .load()
            .as_ref()
            .is_some_and(|set| matches!(select(&set.keys, kid, alg), Selection::Found(_)))
    }

    /// The key for a token's `kid` and `alg` when that is decided without waiting — keys loaded, and
    /// the `kid` found (or a mismatch or ambiguity found); `None` means [`key_for`](Self::key_for) is
    /// needed, which may wait for a fetch. The common case thus needs no future at all.
    pub(crate) fn key_now(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Option<Result<Arc<VerifyingKey>, VerifyError>> {
        let set = self.usable_set_now().ok()?;
        decided(select(&set.keys, kid, alg))
    }

    /// The key for a token's `kid` and `alg`, refetching once (shared, per cooldown) for an unknown kid.
    pub(crate) async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let set = self.usable_set().await?;
        match decided(select(&set.keys, kid, alg)) {
            Some(decided) => decided,
            None => {
                let Some(kid) = kid else {
                    return Err(VerifyError::UnknownKey);
                };
                let waiter = {
                    let mut ctl = self.lock();
                    if ctl.ext.negative.contains(kid) || matches!(self.source, Source::Static) {
                        return Err(VerifyError::UnknownKey);
                    }
                    let now = Instant::now();
                    let cooled = ctl
                        .ext
                        .last_miss_fetch
                        .is_none_or(|t| now.duration_since(t) >= self.policy.miss_cooldown);
                    match ctl.flight() {
                        Some(w) => Some(w),
                        None if cooled => {
                            ctl.ext.last_miss_fetch = Some(now);
                            self.start_fetch(&mut ctl)
                        }
                        None => None,
                    }
                };
                if let Some(w) = waiter {
                    w.wait(Some(self.wait_bound())).await;
                }
                let set = self.usable_set_now()?;
                decided(select(&set.keys, Some(kid), alg)).unwrap_or_else(|| {
                    let mut ctl = self.lock();
                    if ctl.ext.negative.len() < MAX_NEGATIVE_KIDS {
                        ctl.ext.negative.insert(kid.to_owned());
                    }
                    Err(VerifyError::UnknownKey)
                })
            }
        }
    }

    /// The current set if it may be used; starts a background refresh when one is due.
    fn usable_set_now(self: &Arc<Self>) -> Result<Arc<KeySet>, VerifyError> {
        let now = Instant::now();
        let current = self.cell.load_full();
        if let Some(set) = &current
            && now >= set.refresh_at
            && !matches!(self.source, Source::Static)
        {
            let mut ctl = self.lock();
            if !ctl.flying() && ctl.may_start(now) {
                self.start_fetch(&mut ctl);
            }
        }
        match current {
            Some(set)
                if now.saturating_duration_since(set.fetched_at) <= self.policy.max_stale
                    || matches!(self.source, Source::Static) =>
            {
                Ok(set)
            }
            _ => Err(VerifyError::KeysUnavailable {
                retry_after: self.retry_after(now),
            }),
        }
    }

    /// Like [`usable_set_now`](Self::usable_set_now), but with no keys at all it waits for a fetch
    /// (bounded by the fetch timeout) before failing closed.
    async fn usable_set(self: &Arc<Self>) -> Result<Arc<KeySet>, VerifyError> {
        match self.usable_set_now() {
            Ok(set) => Ok(set),
            Err(e) => {
                let waiter = self.join_or_start(false);
                match waiter {
                    Some(w) => {
                        w.wait(Some(self.wait_bound())).await;
                        self.usable_set_now()
                    }
                    None => Err(e),
                }
            }
        }
    }

    fn retry_after(&self, now: Instant) -> Duration {
        let ctl = self.lock();
        ctl.retry_at
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1))
    }

    /// Starts a fetch as the cell's flight (`None` outside a Tokio runtime: nothing to wait for).
    fn start_fetch(self: &Arc<Self>, ctl: &mut Locked<'_>) -> Option<Waiter<Fetched>> {
        let this = self.clone();
        ctl.start(move |landing| this.fly(landing))
    }

    /// The fetch in flight, or a new one if the backoff allows it (`forced` ignores the backoff).
    fn join_or_start(self: &Arc<Self>, forced: bool) -> Option<Waiter<Fetched>> {
        let this = self.clone();
        self.lock()
            .join_or_start(Instant::now(), forced, move |landing| this.fly(landing))
    }

    /// The backoff while fetches fail: 1 s doubling, at most the cooldown, keeping at least half.
    fn backoff(&self) -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: self.policy.miss_cooldown.max(Duration::from_secs(1)),
            floor: 0.5,
        }
    }

    /// One fetch, as the cell's flight: a caller giving up does not cancel it.
    async fn fly(self: Arc<Self>, landing: Landing<Fetched>) {
        let started = Instant::now();
        let result = self.fetch_once().await;
        let now = Instant::now();
        crate::observe::jwks_fetch(result.is_ok(), now.duration_since(started));
        let mut ctl = self.lock();
        let outcome = match result {
            Ok((keys, fresh)) => {
                self.cell
                    .store(Some(Arc::new(KeySet::new(keys, now, fresh))));
                ctl.succeeded();
                ctl.ext.negative.clear();
                tracing::debug!(
                    elapsed_ms = now.duration_since(started).as_millis() as u64,
                    "JWKS fetched"
                );
                Ok(())
            }
            Err(err) => {
                let u = (self.jitter)();
                let backoff = self.backoff();
                ctl.failed(now, |failures| backoff.delay(failures, u), None);
                tracing::warn!(error = %err, failures = ctl.failures, "JWKS fetch failed; keeping the last good keys");
                Err(err)
            }
        };
        landing.land(&mut ctl, outcome);
    }

    /// The eager first fetch at build time, as a flight like any other; reports its error so the
    /// caller can fail fast.
    pub(crate) async fn prime(self: &Arc<Self>) -> Result<(), Error> {
        if matches!(self.source, Source::Static) {
            return Ok(());
        }
        let Some(waiter) = self.join_or_start(true) else {
            return Err(Error::config(
                "the JWKS cache needs to run inside a Tokio runtime",
            ));
        };
        match waiter.wait(Some(self.wait_bound())).await {
            Waited::Landed(result) => result,
            Waited::Abandoned | Waited::TimedOut => Err(Error::internal(
                ErrorClass::Transient,
                "the JWKS fetch was abandoned",
            )),
        }
    }

    async fn url(&self) -> Result<Url, Error> {
        if let Some(u) = self.resolved.get() {
            return Ok(u.clone());
        }
        let url = match &self.source {
            Source::Url(u) => u.clone(),
            Source::Discover(issuer) => AuthorizationServerMetadata::discover(&self.http, issuer)
                .await?
                .jwks_url(&self.http)?,
            Source::Static => return Err(Error::config("a fixed key set is never fetched")),
        };
        let _ = self.resolved.set(url.clone());
        Ok(url)
    }

    async fn fetch_once(&self) -> Result<(Vec<Arc<VerifyingKey>>, Duration), Error> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = self.url().await?;
        let request = self
            .http
            .reqwest()
            .get(url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json");
        let response = self.http.send(&url, request).await?;
        if response.status != http::StatusCode::OK {
            return Err(response.error());
        }
        let document = response.json_value()?;
        let (keys, skipped) = ingest(&document, &self.allowed, self.policy.max_keys);
        {
            let mut ctl = self.lock();
            let fresh_skips: Vec<_> = skipped
                .into_iter()
                .filter(|s| ctl.ext.logged_skips.insert((s.kid.clone(), s.reason)))
                .collect();
            log_skipped(&fresh_skips);
        }
        if keys.is_empty() {
            return Err(Error::unexpected(
                response.status,
                response.content_type(),
                crate::error::UnexpectedReason::InvalidField {
                    field: "keys",
                    problem: "holds no usable verification key",
                },
                &[],
                None,
            ));
        }
        let fresh = max_age(&response.headers).unwrap_or(self.policy.fresh);
        Ok((keys, fresh))
    }
}

fn log_skipped(skipped: &[super::keys::Skipped]) {
    for s in skipped {
        tracing::info!(kid = ?s.kid, reason = s.reason, "JWKS key skipped");
    }
}

/// `Cache-Control: max-age`, clamped to [`MIN_FRESH`, `MAX_FRESH`]; `no-cache`/`no-store` → the minimum.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(MIN_FRESH);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            found = v
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found.map(|d| d.clamp(MIN_FRESH, MAX_FRESH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn cache_control_max_age_is_clamped() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
            max_age(&m)
        };
        assert_eq!(h("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(h("max-age=5"), Some(MIN_FRESH));
        assert_eq!(h("max-age=999999"), Some(MAX_FRESH));
        assert_eq!(h("no-store"), Some(MIN_FRESH));
        assert_eq!(h("public"), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }
}
