//! The provider's refresher: the token [`Cell`](crate::flight::Cell), what a fetch does, and the
//! timer task.
//!
//! Concurrency in one paragraph: readers load the current token from the cell and take it when its
//! `stale` flag is clear — no lock, no clock. Everything else (deciding to fetch, backoff, negative
//! caching, parking) happens under the cell's lock, which is never held across an `.await`. A fetch
//! is the cell's flight, a task of its own, so a caller that gives up waiting does not cancel it. The
//! timer task holds only a `Weak`, so dropping the last handle ends it; it marks tokens stale when
//! their mandatory window opens, starts the background refresh, and parks after a full token
//! lifetime without callers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::TokenProvider;
use super::cached::{CachedToken, Issuer, presentation};
use super::policy::RefreshPolicy;
use super::sharing::{Obtained, Sharing};
use super::source::{BoxFuture, TokenSource};
use crate::dpop::Dpop;
use crate::error::{Error, ErrorClass, TransportError, UnexpectedReason};
use crate::flight::{Cell, CellState, Jitter, Landing, Waited, Waiter};
use crate::token::Token;

/// A persistence hook: receives every new token set before it is published.
pub type PersistHook = Arc<
    dyn Fn(&Token) -> BoxFuture<'static, Result<(), Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Sync,
>;

/// Draws a number uniformly from [0, 1): the jitter source, injectable for exact tests.
pub type JitterFn = Jitter;

/// A fetch's outcome, as its waiters see it.
type Fetched = Result<Arc<CachedToken>, Error>;

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) fetches_ok: AtomicU64,
    pub(crate) fetches_failed: AtomicU64,
    pub(crate) waited: AtomicU64,
    pub(crate) stale_served: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) hook_failures: AtomicU64,
    pub(crate) adopted: AtomicU64,
    pub(crate) shared_writes: AtomicU64,
    pub(crate) lease_waits: AtomicU64,
    pub(crate) store_failures: AtomicU64,
    pub(crate) unusable_values: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What the provider keeps next to the cell's flight and backoff, under the same lock.
pub(crate) struct Bookkeeping {
    generation: u64,
    /// When the latest fetch started (or is reserved to start): the floor between fetches counts from it.
    last_fetch_at: Option<Instant>,
    negative_until: Option<Instant>,
    last_error: Option<Error>,
    last_forced: Option<Instant>,
    task: Option<AbortHandle>,
    parked: bool,
    last_seen_used: Instant,
}

type TokenCell = Cell<CachedToken, Fetched, Bookkeeping>;
type Locked<'a> = std::sync::MutexGuard<'a, CellState<Fetched, Bookkeeping>>;

pub(crate) struct Refresher {
    pub(crate) cell: TokenCell,
    /// The generation of the current token, stored after it: a caller that kept the token it used
    /// last can check that it is still current with one load, without the `arc-swap` read.
    pub(crate) current_generation: AtomicU64,
    used: AtomicBool,
    wake: Arc<Notify>,
    source: Box<dyn TokenSource>,
    pub(crate) policy: RefreshPolicy,
    jitter: JitterFn,
    hook: Option<PersistHook>,
    /// The fleet-wide cache in front of the source, if any.
    pub(super) sharing: Option<Sharing>,
    /// The DPoP key bound tokens are sent with, if any.
    dpop: Option<Arc<Dpop>>,
    pub(crate) counters: Counters,
}

impl Issuer for Refresher {
    fn handle(self: Arc<Self>) -> TokenProvider {
        TokenProvider { shared: self }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        if let Some(task) = self.cell.state_mut().ext.task.take() {
            task.abort();
        }
    }
}

fn no_runtime() -> Error {
    Error::config("TokenProvider needs to run inside a Tokio runtime")
}

impl Refresher {
    pub(crate) fn build(
        source: Box<dyn TokenSource>,
        seed: Option<Token>,
        policy: RefreshPolicy,
        jitter: JitterFn,
        hook: Option<PersistHook>,
        sharing: Option<Sharing>,
        dpop: Option<Arc<Dpop>>,
    ) -> Result<Arc<Self>, Error> {
        let now = Instant::now();
        let seed = match seed {
            Some(token) => Some((presentation(&token, dpop.as_ref())?, token)),
            None => None,
        };
        Ok(Arc::new_cyclic(|weak| {
            let current = seed.map(|(presented, token)| {
                let schedule = policy.schedule(
                    token.obtained_at(),
                    token.expires_in(),
                    token.refresh_in(),
                    jitter(),
                );
                let cached = CachedToken::new(
                    token,
                    presented,
                    1,
                    schedule,
                    now,
                    weak.clone() as Weak<Refresher>,
                );
                // No timer runs yet: the first caller must take the slow path and start it.
                cached.mark_stale();
                Arc::new(cached)
            });
            Self {
                current_generation: AtomicU64::new(u64::from(current.is_some())),
                used: AtomicBool::new(false),
                cell: Cell::new(
                    current,
                    Bookkeeping {
                        generation: 1,
                        last_fetch_at: None,
                        negative_until: None,
                        last_error: None,
                        last_forced: None,
                        task: None,
                        parked: false,
                        last_seen_used: now,
                    },
                ),
                wake: Arc::new(Notify::new()),
                source,
                policy,
                jitter,
                hook,
                sharing,
                dpop,
                counters: Counters::default(),
            }
        }))
    }

    fn lock(&self) -> Locked<'_> {
        self.cell.lock()
    }

    /// The hot path's only write, and only when the flag is not already set (no cache-line ping-pong).
    #[inline]
    pub(crate) fn mark_used(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// Everything `token()` does when the current token cannot be taken as is.
    ///
    /// Every wait is bounded: while a usable token exists a caller waits for a refresh in flight at
    /// most [`RefreshPolicy::max_wait`] (and never past the moment the token stops being usable), then
    /// gets that token; without one, at most [`RefreshPolicy::attempt_timeout`], then the error.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Arc<CachedToken>, Error> {
        // Bounded: every round either returns or waits (bounded) for a flight that then completed.
        for _ in 0..4 {
            let (waiter, usable, now) = {
                let mut ctl = self.lock();
                let now = Instant::now();
                self.ensure_task(&mut ctl)?;
                self.mark_used();
                let current = self.cell.load_full();
                if let Some(t) = &current
                    && t.usable_without_wait(now)
                {
                    // The timer is running (ensured above) and will mark it stale again on time.
                    t.stale.store(false, Ordering::Release);
                    return Ok(t.clone());
                }
                match self.join_or_start(&mut ctl, now, false) {
                    Some(w) => (w, current.filter(|t| t.usable_at(now)), now),
                    None => return self.without_fetch(current, now, &ctl),
                }
            };
            bump(&self.counters.waited);
            let deadline = match &usable {
                Some(t) => (now + self.policy.max_wait).min(t.schedule.usable_until),
                None => now + self.policy.attempt_timeout,
            };
            match waiter.wait(Some(deadline)).await {
                Waited::Landed(Ok(t)) if t.usable_at(Instant::now()) => return Ok(t),
                Waited::Landed(Ok(_)) | Waited::Abandoned => continue,
                Waited::Landed(Err(e)) => return self.serve_usable_or(e),
                // The flight goes on in the background; this caller has waited long enough. The
                // token it saw usable is still valid here (the deadline is at most `usable_until`).
                Waited::TimedOut => {
                    return match usable.filter(|t| t.valid_at(Instant::now())) {
                        Some(t) => {
                            bump(&self.counters.stale_served);
                            Ok(t)
                        }
                        None => self.serve_usable_or(TransportError::timeout_of(
                            "token source",
                            self.policy.attempt_timeout,
                        )),
                    };
                }
            }
        }
        self.serve_usable_or(Error::internal(
            ErrorClass::Transient,
            "the token provider could not settle on a token",
        ))
    }

    /// A fetch now, ignoring the refresh schedule and backoff (but not the floor between fetches).
    /// Waits for that fetch (it is bounded by the floor, one attempt timeout and the hook timeout).
    pub(crate) async fn refresh_now(self: &Arc<Self>) -> Result<Arc<CachedToken>, Error> {
        let waiter = {
            let mut ctl = self.lock();
            self.ensure_task(&mut ctl)?;
            self.join_or_start(&mut ctl, Instant::now(), true)
        };
        match waiter {
            Some(w) => match w.wait(None).await {
                Waited::Landed(result) => result,
                Waited::Abandoned | Waited::TimedOut => Err(Error::internal(
                    ErrorClass::Transient,
                    "the token fetch was abandoned",
                )),
            },
            None => Err(no_runtime()),
        }
    }

    /// No fetch may start now (backoff or negative cache): serve a usable token or the last error.
    fn without_fetch(
        &self,
        current: Option<Arc<CachedToken>>,
        now: Instant,
        ctl: &Locked<'_>,
    ) -> Result<Arc<CachedToken>, Error> {
        if let Some(t) = current.filter(|t| t.usable_at(now)) {
            bump(&self.counters.stale_served);
            return Ok(t);
        }
        Err(ctl
            .ext
            .last_error
            .clone()
            .unwrap_or_else(|| Error::internal(ErrorClass::Transient, "no token is available yet")))
    }

    /// The flight failed or is late: a usable token keeps being served (static stability); otherwise
    /// the error.
    fn serve_usable_or(&self, err: Error) -> Result<Arc<CachedToken>, Error> {
        let now = Instant::now();
        match self.cell.load_full().filter(|t| t.usable_at(now)) {
            Some(t) => {
                bump(&self.counters.stale_served);
                Ok(t)
            }
            None => Err(err),
        }
    }

    /// Marks `token` rejected if it is still the current one; rate limited unless it has expired.
    pub(crate) fn invalidate(&self, token: &CachedToken) -> bool {
        let current = self.cell.load();
        let Some(cur) = current.as_ref() else {
            return false;
        };
        if cur.generation != token.generation || cur.is_invalidated() {
            return false;
        }
        let mut ctl = self.lock();
        let now = Instant::now();
        let expired = now >= cur.schedule.expires_at;
        if !expired
            && ctl
                .ext
                .last_forced
                .is_some_and(|t| now.duration_since(t) < self.policy.min_invalidate_interval)
        {
            return false;
        }
        ctl.ext.last_forced = Some(now);
        cur.invalidated.store(true, Ordering::Release);
        cur.mark_stale();
        bump(&self.counters.invalidations);
        tracing::debug!(generation = cur.generation, "token invalidated");
        true
    }

    fn ensure_task(self: &Arc<Self>, ctl: &mut Locked<'_>) -> Result<(), Error> {
        if ctl.ext.task.is_none() {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| no_runtime())?;
            let task = handle.spawn(run_timer(Arc::downgrade(self), self.wake.clone()));
            ctl.ext.task = Some(task.abort_handle());
        }
        if ctl.ext.parked {
            ctl.ext.parked = false;
            ctl.ext.last_seen_used = Instant::now();
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The fetch in flight, or a new one unless backoff or the negative cache forbid it (`forced`
    /// ignores both, but not the floor between fetches).
    fn join_or_start(
        self: &Arc<Self>,
        ctl: &mut Locked<'_>,
        now: Instant,
        forced: bool,
    ) -> Option<Waiter<Fetched>> {
        if let Some(w) = ctl.flight() {
            return Some(w);
        }
        let negative = ctl.ext.negative_until.is_some_and(|t| now < t);
        if !forced && (negative || !ctl.may_start(now)) {
            return None;
        }
        self.start_flight(ctl, now)
    }

    /// Starts a fetch (no flight is in progress), after the floor between fetches.
    fn start_flight(
        self: &Arc<Self>,
        ctl: &mut Locked<'_>,
        now: Instant,
    ) -> Option<Waiter<Fetched>> {
        let start_at = self.next_start(ctl, now);
        let this = self.clone();
        let waiter = ctl.start(move |landing| this.fly(landing, start_at))?;
        ctl.ext.last_fetch_at = Some(start_at.unwrap_or(now));
        Some(waiter)
    }

    /// When a fetch starting now may go out: after the floor between fetches.
    fn next_start(&self, ctl: &Locked<'_>, now: Instant) -> Option<Instant> {
        ctl.ext
            .last_fetch_at
            .map(|t| t + self.policy.min_fetch_interval)
            .filter(|t| *t > now)
    }

    /// One fetch, from start to publish. Runs as its own task.
    async fn fly(self: Arc<Self>, landing: Landing<Fetched>, start_at: Option<Instant>) {
        if let Some(at) = start_at {
            tokio::time::sleep_until(at).await;
        }
        let previous = self.cell.load_full();
        let span = tracing::debug_span!(
            "oauth.token_provider.fetch",
            generation = previous.as_ref().map(|t| t.generation)
        );
        let started = Instant::now();
        // One draw for this flight: the adoption check and the new token's schedule agree.
        let jitter = (self.jitter)();
        let result = async {
            let obtained = self.obtain(previous.as_deref(), jitter).await?;
            let presented = presentation(&obtained.token, self.dpop.as_ref())?;
            Ok::<_, Error>((obtained, presented))
        }
        .instrument(span.clone())
        .await;

        let mut ctl = self.lock();
        let now = Instant::now();
        let elapsed_ms = now.duration_since(started).as_millis() as u64;
        crate::observe::token_fetch(
            match &result {
                Ok(_) => "ok",
                Err(e) if e.is_transient() => "transient",
                Err(_) => "permanent",
            },
            now.duration_since(started),
        );
        let outcome = match result {
            Ok((obtained, presented)) => {
                ctl.ext.generation += 1;
                let token = obtained.token;
                let schedule = self.policy.schedule(
                    token.obtained_at(),
                    token.expires_in(),
                    token.refresh_in(),
                    jitter,
                );
                let cached = Arc::new(
                    CachedToken::new(
                        token,
                        presented,
                        ctl.ext.generation,
                        schedule,
                        now,
                        Arc::downgrade(&self) as Weak<Refresher>,
                    )
                    .shared_at(obtained.shared_generation),
                );
                self.cell.store(Some(cached.clone()));
                self.current_generation
                    .store(cached.generation, Ordering::Release);
                ctl.succeeded();
                ctl.ext.negative_until = None;
                ctl.ext.last_error = None;
                bump(&self.counters.fetches_ok);
                span.in_scope(|| {
                    tracing::debug!(
                        elapsed_ms,
                        generation = cached.generation,
                        expires_in_s = cached.token.expires_in().as_secs(),
                        "token fetched"
                    )
                });
                Ok(cached)
            }
            Err(err) => {
                bump(&self.counters.fetches_failed);
                if err.is_permanent() {
                    ctl.ext.negative_until = Some(now + self.policy.negative_cache);
                    ctl.retry_at = None;
                } else {
                    // Never let a retry wait past the point where a token we still hold is needed:
                    // the mandatory window, or (once inside it) half the usable life left, so that
                    // the next attempts still happen while the token can be handed out.
                    let not_after = self
                        .cell
                        .load_full()
                        .filter(|t| t.usable_at(now))
                        .map(|cur| {
                            let s = cur.schedule;
                            if now < s.mandatory_at {
                                s.mandatory_at
                            } else {
                                now + (s.usable_until - now) / 2
                            }
                        });
                    let u = (self.jitter)();
                    let retry_after = err.retry_after();
                    ctl.failed(
                        now,
                        |failures| self.policy.backoff(failures, retry_after, u),
                        not_after,
                    );
                }
                span.in_scope(|| {
                    tracing::warn!(
                        elapsed_ms,
                        transient = err.is_transient(),
                        failures = ctl.failures,
                        error = %err,
                        "token fetch failed"
                    )
                });
                ctl.ext.last_error = Some(err.clone());
                Err(err)
            }
        };
        landing.land(&mut ctl, outcome);
        drop(ctl);
        self.wake.notify_one();
    }

    /// One request to the token source, bounded by the attempt timeout, then the persistence hook.
    pub(super) async fn fetch(
        &self,
        current: Option<&Token>,
        held: u64,
    ) -> Result<Obtained, Error> {
        let fetched = tokio::time::timeout(self.policy.attempt_timeout, self.source.fetch(current))
            .await
            .unwrap_or_else(|_| {
                Err(TransportError::timeout_of(
                    "token source",
                    self.policy.attempt_timeout,
                ))
            })?;
        if fetched.expires_in().is_zero() {
            return Err(Error::unexpected(
                http::StatusCode::OK,
                None,
                UnexpectedReason::InvalidField {
                    field: "expires_in",
                    problem: "is zero: the token was expired on arrival",
                },
                &[],
                None,
            ));
        }
        self.run_hook(&fetched).await;
        Ok(Obtained {
            token: fetched,
            shared_generation: held,
        })
    }

    async fn run_hook(&self, token: &Token) {
        let Some(hook) = &self.hook else { return };
        match tokio::time::timeout(self.policy.hook_timeout, hook(token)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                bump(&self.counters.hook_failures);
                tracing::error!(error = %e, "token persistence hook failed; the new token set is published anyway");
            }
            Err(_) => {
                bump(&self.counters.hook_failures);
                tracing::error!(
                    "token persistence hook timed out; the new token set is published anyway"
                );
            }
        }
    }

    /// One timer step: mark staleness, start a due background refresh, park when idle.
    /// Returns when to run again, or `None` to sleep until woken.
    fn tick(self: &Arc<Self>) -> Option<Instant> {
        let mut ctl = self.lock();
        let now = Instant::now();
        if self.used.swap(false, Ordering::Relaxed) {
            ctl.ext.last_seen_used = now;
        }
        let current = self.cell.load_full()?;
        let s = current.schedule;
        if now >= s.mandatory_at || current.is_invalidated() {
            current.mark_stale();
        }
        // A full lifetime without a caller: stop refreshing until someone asks again.
        let idle_limit = current
            .token
            .expires_in()
            .max(self.policy.min_fetch_interval);
        if now >= ctl.ext.last_seen_used + idle_limit {
            if !ctl.ext.parked {
                tracing::debug!("token provider idle for a token lifetime; parking");
            }
            ctl.ext.parked = true;
            current.mark_stale();
            return None;
        }
        let due = [Some(s.refresh_at), ctl.retry_at, ctl.ext.negative_until]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(s.refresh_at);
        if now >= due && !ctl.flying() && s.usable_at(now) {
            self.start_flight(&mut ctl, now);
        }
        [
            Some(due),
            Some(s.mandatory_at),
            Some(ctl.ext.last_seen_used + idle_limit),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .min()
    }

    pub(crate) fn on_timer_gone(&self) {
        let mut ctl = self.lock();
        ctl.ext.task = None;
        if let Some(t) = self.cell.load_full() {
            t.mark_stale();
        }
    }
}

/// Marks the token stale when the timer stops for any reason (its runtime shut down, say), so that
/// the next caller's slow path notices and starts a new timer instead of trusting a stale flag.
struct TimerGuard(Weak<Refresher>);

impl Drop for TimerGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.on_timer_gone();
        }
    }
}

async fn run_timer(weak: Weak<Refresher>, wake: Arc<Notify>) {
    let _guard = TimerGuard(weak.clone());
    loop {
        let next = match weak.upgrade() {
            Some(shared) => shared.tick(),
            None => return,
        };
        // Hold no strong reference while sleeping: dropping the last handle must end this task.
        let notified = wake.notified();
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

/// Time left on the current token, for stats.
pub(crate) fn remaining(current: Option<&CachedToken>) -> Option<Duration> {
    current.map(|t| {
        t.schedule
            .expires_at
            .saturating_duration_since(Instant::now())
    })
}
