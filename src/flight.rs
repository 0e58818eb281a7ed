//! One refreshing, single-flight cell — the machine under the token provider and the JWKS cache.
//!
//! A [`Cell`] holds a current value that readers load without a lock (`arc-swap`), and the state of
//! refreshing it behind a plain mutex that is never held across an `.await`: at most one flight (a
//! fetch running as its own task, so that a caller giving up does not cancel it), the count of
//! consecutive failures and when the next attempt may start. Waiters join the flight through a
//! `watch` channel and each waits only until its own deadline. [`Backoff`] is the one retry curve of
//! the crate (the provider, the JWKS cache and the API client each configure it), and [`Jitter`] the
//! one randomness seam; time is tokio's clock everywhere, so tests pause it.
//!
//! Each owner keeps what is particular to it (the provider's negative cache and timer, the JWKS
//! cache's unknown-kid memory) in the cell's extension `S`, under the same lock.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::watch;
use tokio::time::Instant;

/// Draws a number uniformly from [0, 1): the jitter source, injectable for exact tests.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The default jitter source: the system CSPRNG.
pub(crate) fn system_jitter() -> Jitter {
    Arc::new(crate::random::unit)
}

/// Exponential backoff with jitter: before the attempt that follows `failures` consecutive failures,
/// wait `ceiling × (floor + (1 − floor) × u)` where `ceiling = min(base × 2^(failures − 1), cap)` and
/// `u` is a jitter draw from [0, 1). `floor` 0 is full jitter; 0.75 keeps at least three quarters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) floor: f64,
}

impl Backoff {
    /// The delay after `failures` (≥ 1) consecutive failures.
    pub(crate) fn delay(&self, failures: u32, u: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let floor = self.floor.clamp(0.0, 1.0);
        ceiling.mul_f64(floor + (1.0 - floor) * u.clamp(0.0, 1.0))
    }

    /// Like [`delay`](Self::delay), but at least a server's `Retry-After`, itself capped at `cap`.
    pub(crate) fn delay_honouring(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        u: f64,
    ) -> Duration {
        let delay = self.delay(failures, u);
        match retry_after {
            Some(ra) => delay.max(ra.min(self.cap)),
            None => delay,
        }
    }
}

/// How a wait for a flight ended.
#[derive(Debug)]
pub(crate) enum Waited<R> {
    /// The flight landed with this outcome.
    Landed(R),
    /// The flight's task ended without landing (aborted, or its runtime shut down).
    Abandoned,
    /// The caller's deadline passed first; the flight goes on.
    TimedOut,
}

/// A handle on the flight in progress.
pub(crate) struct Waiter<R>(watch::Receiver<Option<R>>);

impl<R: Clone> Waiter<R> {
    /// Waits for the flight to land, until `deadline` at the latest (`None`: as long as it flies).
    pub(crate) async fn wait(mut self, deadline: Option<Instant>) -> Waited<R> {
        let landed = async {
            match self.0.wait_for(Option::is_some).await {
                Ok(v) => v.clone().map_or(Waited::Abandoned, Waited::Landed),
                Err(_) => Waited::Abandoned,
            }
        };
        match deadline {
            Some(at) => tokio::time::timeout_at(at, landed)
                .await
                .unwrap_or(Waited::TimedOut),
            None => landed.await,
        }
    }
}

/// The right, held by the flight's task, to publish its outcome.
pub(crate) struct Landing<R>(watch::Sender<Option<R>>);

impl<R> Landing<R> {
    /// Ends the flight with `outcome`. Taking the state proves the lock is held, so no caller can
    /// see "no flight" before the outcome is published.
    pub(crate) fn land<S>(self, state: &mut CellState<R, S>, outcome: R) {
        state.flight = None;
        let _ = self.0.send(Some(outcome));
    }
}

/// What is guarded by the cell's lock.
pub(crate) struct CellState<R, S> {
    flight: Option<watch::Receiver<Option<R>>>,
    /// Consecutive failed flights.
    pub(crate) failures: u32,
    /// No new flight (other than a forced one) starts before this.
    pub(crate) retry_at: Option<Instant>,
    /// The owner's own state.
    pub(crate) ext: S,
}

impl<R: Clone + Send + Sync + 'static, S> CellState<R, S> {
    /// The flight in progress, if any (one whose task ended without landing does not count).
    pub(crate) fn flight(&self) -> Option<Waiter<R>> {
        self.flight
            .as_ref()
            .filter(|rx| rx.has_changed().is_ok())
            .map(|rx| Waiter(rx.clone()))
    }

    /// Whether a flight is in progress.
    pub(crate) fn flying(&self) -> bool {
        self.flight().is_some()
    }

    /// Whether backoff allows a new flight at `now`.
    pub(crate) fn may_start(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }

    /// Starts a flight: `task` runs on the current Tokio runtime and must end with
    /// [`Landing::land`]. `None` (and no flight) outside a runtime.
    pub(crate) fn start<F, Fut>(&mut self, task: F) -> Option<Waiter<R>>
    where
        F: FnOnce(Landing<R>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = watch::channel(None);
        self.flight = Some(rx.clone());
        handle.spawn(task(Landing(tx)));
        Some(Waiter(rx))
    }

    /// The flight in progress, or a new one if backoff allows (`forced` ignores backoff).
    pub(crate) fn join_or_start<F, Fut>(
        &mut self,
        now: Instant,
        forced: bool,
        task: F,
    ) -> Option<Waiter<R>>
    where
        F: FnOnce(Landing<R>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Some(w) = self.flight() {
            return Some(w);
        }
        if !forced && !self.may_start(now) {
            return None;
        }
        self.start(task)
    }

    /// A flight succeeded: the backoff starts over.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// A flight failed: counts it and schedules the next attempt after `delay(failures)`, but not
    /// later than `not_after`. Returns when the next attempt may start.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        delay: impl FnOnce(u32) -> Duration,
        not_after: Option<Instant>,
    ) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let mut at = now + delay(self.failures);
        if let Some(limit) = not_after {
            at = at.min(limit);
        }
        self.retry_at = Some(at);
        at
    }
}

/// A current value, read without a lock, and the single flight that refreshes it.
pub(crate) struct Cell<T, R, S> {
    current: ArcSwapOption<T>,
    state: Mutex<CellState<R, S>>,
}

impl<T, R, S> Cell<T, R, S> {
    pub(crate) fn new(current: Option<Arc<T>>, ext: S) -> Self {
        Self {
            current: ArcSwapOption::new(current),
            state: Mutex::new(CellState {
                flight: None,
                failures: 0,
                retry_at: None,
                ext,
            }),
        }
    }

    /// The current value: one lock-free load.
    #[inline]
    pub(crate) fn load(&self) -> arc_swap::Guard<Option<Arc<T>>> {
        self.current.load()
    }

    /// The current value, owned.
    #[inline]
    pub(crate) fn load_full(&self) -> Option<Arc<T>> {
        self.current.load_full()
    }

    /// Publishes a new current value (callers hold the lock, so publishing and the state agree).
    pub(crate) fn store(&self, value: Option<Arc<T>>) {
        self.current.store(value);
    }

    /// The refresh state. Nothing panics while holding it; the data is recovered if something did.
    pub(crate) fn lock(&self) -> MutexGuard<'_, CellState<R, S>> {
        crate::lock::lock(&self.state)
    }

    /// The refresh state through `&mut self` (no locking), e.g. in `Drop`.
    pub(crate) fn state_mut(&mut self) -> &mut CellState<R, S> {
        self.state.get_mut().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_to_its_cap_within_the_jitter_band() {
        let full = Backoff {
            base: S(1),
            cap: S(60),
            floor: 0.0,
        };
        let seq: Vec<_> = (1..=8).map(|n| full.delay(n, 1.0)).collect();
        assert_eq!(seq, [1, 2, 4, 8, 16, 32, 60, 60].map(S));
        assert_eq!(full.delay(3, 0.5), S(2));
        assert_eq!(full.delay(3, 0.0), S(0));
        assert_eq!(full.delay(u32::MAX, 1.0), S(60));
        assert_eq!(full.delay_honouring(1, Some(S(17)), 1.0), S(17));
        assert_eq!(full.delay_honouring(7, Some(S(17)), 1.0), S(60));
        assert_eq!(full.delay_honouring(1, Some(S(2_300_000_000)), 0.0), S(60));
        let banded = Backoff {
            base: Duration::from_millis(500),
            cap: S(8),
            floor: 0.75,
        };
        assert_eq!(banded.delay(1, 0.0), Duration::from_millis(375));
        assert_eq!(banded.delay(1, 1.0), Duration::from_millis(500));
        assert_eq!(banded.delay(10, 1.0), S(8));
    }

    type TestCell = Cell<u32, u32, ()>;

    fn fly_after(cell: &Arc<TestCell>, delay: Duration, value: u32) -> Option<Waiter<u32>> {
        let c = cell.clone();
        cell.lock()
            .join_or_start(Instant::now(), false, move |landing| async move {
                tokio::time::sleep(delay).await;
                let mut st = c.lock();
                c.store(Some(Arc::new(value)));
                st.succeeded();
                landing.land(&mut st, value);
            })
    }

    #[tokio::test(start_paused = true)]
    async fn one_flight_at_a_time_and_each_waiter_keeps_its_own_deadline() {
        let cell = Arc::new(TestCell::new(None, ()));
        let first = fly_after(&cell, S(5), 7).unwrap();
        // A second start joins the first flight instead of starting another.
        let joined = fly_after(&cell, S(1), 8).unwrap();
        let start = Instant::now();
        assert!(matches!(
            joined.wait(Some(start + S(2))).await,
            Waited::TimedOut
        ));
        assert_eq!(Instant::now() - start, S(2));
        assert!(
            cell.lock().flying(),
            "the flight goes on after a waiter gives up"
        );
        assert!(matches!(first.wait(None).await, Waited::Landed(7)));
        assert_eq!(Instant::now() - start, S(5));
        assert_eq!(cell.load_full().as_deref(), Some(&7));
        assert!(!cell.lock().flying());
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_blocks_unforced_starts_and_an_abandoned_flight_does_not_block_the_next() {
        let cell = Arc::new(TestCell::new(None, ()));
        let now = Instant::now();
        let at = cell.lock().failed(now, |n| S(u64::from(n) * 10), None);
        assert_eq!(at, now + S(10));
        assert_eq!(
            cell.lock().failed(now, |_| S(99), Some(now + S(3))),
            now + S(3)
        );
        assert_eq!(cell.lock().failures, 2);
        assert!(fly_after(&cell, S(1), 1).is_none(), "backing off");
        let forced = cell
            .lock()
            .join_or_start(now, true, |landing| async move { drop(landing) })
            .unwrap();
        assert!(matches!(forced.wait(None).await, Waited::Abandoned));
        assert!(!cell.lock().flying(), "a flight that never landed is over");
        tokio::time::advance(S(3)).await;
        let w = fly_after(&cell, S(1), 2).unwrap();
        assert!(matches!(w.wait(None).await, Waited::Landed(2)));
        assert_eq!(cell.lock().failures, 0);
    }

    #[test]
    fn outside_a_runtime_nothing_starts() {
        let cell = Arc::new(TestCell::new(None, ()));
        assert!(fly_after(&cell, S(1), 1).is_none());
        assert!(!cell.lock().flying());
    }
}
