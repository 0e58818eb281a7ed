//! When to refresh, when callers must wait, and how long to back off: every number the provider uses,
//! as named defaults and pure functions of a token's lifetime (so tests can check every boundary).

use std::time::Duration;

use tokio::time::Instant;

/// Callers wait for the shared refresh once a token is this close to expiry (Spring, Duende and the
/// AWS SDKs use 60 s; Go's 10 s drew years of complaints about tokens expiring in flight).
pub const DEFAULT_MANDATORY_MARGIN: Duration = Duration::from_secs(60);
/// Share of a short token's lifetime that is the mandatory window (the last 10 %).
pub const SHORT_TOKEN_MANDATORY_FRACTION: f64 = 0.10;
/// Early jitter: at most this share of the lifetime…
pub const DEFAULT_JITTER_FRACTION: f64 = 0.10;
/// …and at most this long, so that replicas do not all refresh at the same instant.
pub const DEFAULT_MAX_JITTER: Duration = Duration::from_secs(5 * 60);
/// At least this long between two fetches, so a server handing out nearly-expired tokens cannot cause
/// a hot loop.
pub const DEFAULT_MIN_FETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Each fetch attempt, including client authentication, must finish within this (DESIGN §4).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay after a transient failure; doubles per failure…
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// …up to this cap (full jitter below it).
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(60);
/// How long a permanent failure (`invalid_client`, …) is answered from memory before the endpoint is
/// asked again: a misconfigured client must not hammer the endpoint.
pub const DEFAULT_NEGATIVE_CACHE: Duration = Duration::from_secs(5);
/// A forced refresh through `invalidate()` happens at most this often unless the token has expired,
/// so a burst of 401s costs one refresh.
pub const DEFAULT_MIN_INVALIDATE_INTERVAL: Duration = Duration::from_secs(30);
/// The persistence hook must finish within this; a hook that hangs must not stall every caller.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// A token is taken to expire this much before `sent + expires_in` (at most 5 % of its lifetime, so a
/// 5 s token loses 250 ms and a 1 h token 5 s): room for clock skew between the authorization server
/// and the resource servers that check `exp`.
pub const DEFAULT_EXPIRY_SKEW: Duration = Duration::from_secs(5);
/// A token is *usable* while at least this much of its life is left (at most 5 % of its lifetime), so
/// that the request carrying it still arrives before it expires. Below that it is never handed out.
pub const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(1);
/// While a usable token exists, a caller that joins a refresh in flight waits at most this long for it,
/// then gets the current token (the fetch goes on in the background).
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);
/// Share of the lifetime that [`DEFAULT_EXPIRY_SKEW`] and [`DEFAULT_MIN_REMAINING`] may take at most.
pub const MARGIN_FRACTION: f64 = 0.05;

/// The provider's timing policy. Every field has a default (see the constants in this module).
///
/// Worked example with the defaults: a token that lives 60 min is refreshed in the background at 30 min
/// minus up to 5 min of jitter (so between 25 and 30 min); callers only wait for a refresh if it is still
/// not done when 1 min is left (59:00).
///
/// Change what you need and keep the rest:
///
/// ```
/// # use std::time::Duration;
/// # use telnyx_oauth::RefreshPolicy;
/// let policy = RefreshPolicy::default()
///     .with_mandatory_margin(Duration::from_secs(30))
///     .with_max_wait(Duration::from_millis(500));
/// assert_eq!(policy.max_wait, Duration::from_millis(500));
/// ```
///
/// New fields may be added in a minor release (the struct is `#[non_exhaustive]`), so build it from
/// [`Default`] and the setters, or assign the public fields of a default value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// See [`DEFAULT_MANDATORY_MARGIN`].
    pub mandatory_margin: Duration,
    /// See [`DEFAULT_JITTER_FRACTION`].
    pub jitter_fraction: f64,
    /// See [`DEFAULT_MAX_JITTER`].
    pub max_jitter: Duration,
    /// See [`DEFAULT_MIN_FETCH_INTERVAL`].
    pub min_fetch_interval: Duration,
    /// See [`DEFAULT_ATTEMPT_TIMEOUT`].
    pub attempt_timeout: Duration,
    /// See [`DEFAULT_BACKOFF_BASE`].
    pub backoff_base: Duration,
    /// See [`DEFAULT_BACKOFF_CAP`].
    pub backoff_cap: Duration,
    /// See [`DEFAULT_NEGATIVE_CACHE`].
    pub negative_cache: Duration,
    /// See [`DEFAULT_MIN_INVALIDATE_INTERVAL`].
    pub min_invalidate_interval: Duration,
    /// See [`DEFAULT_HOOK_TIMEOUT`].
    pub hook_timeout: Duration,
    /// See [`DEFAULT_EXPIRY_SKEW`].
    pub expiry_skew: Duration,
    /// See [`DEFAULT_MIN_REMAINING`].
    pub min_remaining: Duration,
    /// See [`DEFAULT_MAX_WAIT`].
    pub max_wait: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            mandatory_margin: DEFAULT_MANDATORY_MARGIN,
            jitter_fraction: DEFAULT_JITTER_FRACTION,
            max_jitter: DEFAULT_MAX_JITTER,
            min_fetch_interval: DEFAULT_MIN_FETCH_INTERVAL,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            negative_cache: DEFAULT_NEGATIVE_CACHE,
            min_invalidate_interval: DEFAULT_MIN_INVALIDATE_INTERVAL,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            expiry_skew: DEFAULT_EXPIRY_SKEW,
            min_remaining: DEFAULT_MIN_REMAINING,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

policy_setters!(RefreshPolicy {
    with_mandatory_margin => mandatory_margin: Duration,
    with_jitter_fraction => jitter_fraction: f64,
    with_max_jitter => max_jitter: Duration,
    with_min_fetch_interval => min_fetch_interval: Duration,
    with_attempt_timeout => attempt_timeout: Duration,
    with_backoff_base => backoff_base: Duration,
    with_backoff_cap => backoff_cap: Duration,
    with_negative_cache => negative_cache: Duration,
    with_min_invalidate_interval => min_invalidate_interval: Duration,
    with_hook_timeout => hook_timeout: Duration,
    with_expiry_skew => expiry_skew: Duration,
    with_min_remaining => min_remaining: Duration,
    with_max_wait => max_wait: Duration,
});

/// The instants that matter for one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// The background refresh starts here (callers keep the current token).
    pub(crate) refresh_at: Instant,
    /// From here on callers wait for the shared refresh.
    pub(crate) mandatory_at: Instant,
    /// The token is not handed out from here on: too little of its life is left to carry a request.
    pub(crate) usable_until: Instant,
    /// The token is expired from here on (`sent + expires_in`, less the skew margin).
    pub(crate) expires_at: Instant,
}

impl Schedule {
    /// Whether a token with this schedule may still be handed out at `now`.
    pub(crate) fn usable_at(&self, now: Instant) -> bool {
        now < self.usable_until
    }
}

impl RefreshPolicy {
    /// Whether a token of this lifetime is "short": its lifetime is under twice the mandatory margin.
    pub(crate) fn is_short(&self, lifetime: Duration) -> bool {
        lifetime < self.mandatory_margin * 2
    }

    /// The schedule of a token whose request was sent at `obtained` and that lives `expires_in`, with
    /// an optional server `refresh_in` hint, and `jitter` drawn uniformly from [0, 1).
    ///
    /// Every instant is laid out on the lifetime less the skew margin, so the token is never taken to
    /// live longer than its `exp`; it stops being handed out `min_remaining` before that.
    pub(crate) fn schedule(
        &self,
        obtained: Instant,
        expires_in: Duration,
        refresh_in: Option<Duration>,
        jitter: f64,
    ) -> Schedule {
        let margin = |cap: Duration| cap.min(expires_in.mul_f64(MARGIN_FRACTION));
        let lifetime = expires_in.saturating_sub(margin(self.expiry_skew));
        let expires_at = obtained + lifetime;
        let usable_until = expires_at - margin(self.min_remaining);
        if self.is_short(lifetime) {
            // A short token: refresh at half its life, and let callers wait only in its last 10 %.
            return Schedule {
                refresh_at: obtained + lifetime / 2,
                mandatory_at: (expires_at - lifetime.mul_f64(SHORT_TOKEN_MANDATORY_FRACTION))
                    .min(usable_until),
                usable_until,
                expires_at,
            };
        }
        let mandatory_offset = lifetime - self.mandatory_margin;
        let advisory_offset = match refresh_in {
            Some(hint) => hint,
            // The lifetime tier, never later than half the lifetime nor earlier than a quarter of it
            // (a 5 min token would otherwise be "5 min early" — refreshed the moment it arrives).
            None => lifetime
                .saturating_sub(advisory_lead(lifetime))
                .clamp(lifetime / 4, lifetime / 2),
        };
        let max_jitter = lifetime.mul_f64(self.jitter_fraction).min(self.max_jitter);
        let jittered = advisory_offset.saturating_sub(max_jitter.mul_f64(jitter.clamp(0.0, 1.0)));
        Schedule {
            refresh_at: obtained + jittered.min(mandatory_offset),
            mandatory_at: (obtained + mandatory_offset).min(usable_until),
            usable_until,
            expires_at,
        }
    }

    /// Delay before retry number `failures` (1 for the first retry): full jitter below
    /// `base × 2^(failures-1)`, capped, never shorter than the server's `Retry-After` — which is itself
    /// bounded by the cap, so a date far in the future cannot stop the provider.
    pub(crate) fn backoff(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        crate::flight::Backoff {
            base: self.backoff_base,
            cap: self.backoff_cap,
            floor: 0.0,
        }
        .delay_honouring(failures, retry_after, jitter)
    }
}

/// How long before expiry the background refresh aims to run, by lifetime (the AWS cross-SDK tiers):
/// under 20 min → 5 min early; 20 to 90 min → 15 min; 90 min or more → 60 min (then clamped to
/// 25–50 % of the lifetime by the caller).
fn advisory_lead(lifetime: Duration) -> Duration {
    const MIN: u64 = 60;
    if lifetime < Duration::from_secs(20 * MIN) {
        Duration::from_secs(5 * MIN)
    } else if lifetime < Duration::from_secs(90 * MIN) {
        Duration::from_secs(15 * MIN)
    } else {
        Duration::from_secs(60 * MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// The default policy without the skew and remaining-life margins, so the tiers read exactly.
    fn exact() -> RefreshPolicy {
        RefreshPolicy {
            expiry_skew: Duration::ZERO,
            min_remaining: Duration::ZERO,
            ..RefreshPolicy::default()
        }
    }

    fn at(policy: &RefreshPolicy, lifetime: u64, jitter: f64) -> (Duration, Duration) {
        let t0 = Instant::now();
        let s = policy.schedule(t0, S(lifetime), None, jitter);
        assert_eq!(s.expires_at - t0, S(lifetime));
        (s.refresh_at - t0, s.mandatory_at - t0)
    }

    #[test]
    fn expiry_is_counted_less_a_skew_margin_that_suits_short_and_long_tokens() {
        let p = RefreshPolicy::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // 5 s token: 5 % = 250 ms of skew, then 250 ms of minimum remaining life.
        let s = p.schedule(t0, S(5), None, 0.0);
        assert_eq!(s.expires_at - t0, ms(4750));
        assert_eq!(s.usable_until - t0, ms(4500));
        assert_eq!(s.refresh_at - t0, ms(2375));
        assert_eq!(s.mandatory_at - t0, ms(4275));
        assert!(s.usable_at(t0 + ms(4499)) && !s.usable_at(t0 + ms(4500)));
        // 1 h token: the caps (5 s skew, 1 s remaining) apply.
        let s = p.schedule(t0, S(3600), None, 0.0);
        assert_eq!(s.expires_at - t0, S(3595));
        assert_eq!(s.usable_until - t0, S(3594));
        assert_eq!(s.mandatory_at - t0, S(3535));
        // The mandatory window always opens while the token is still usable.
        for lifetime in [1, 2, 5, 10, 59, 60, 119, 120, 121, 300, 3600, 86_400] {
            let s = p.schedule(t0, S(lifetime), None, 1.0);
            assert!(s.refresh_at <= s.mandatory_at, "{lifetime}");
            assert!(s.mandatory_at < s.usable_until, "{lifetime}");
            assert!(s.usable_until < s.expires_at, "{lifetime}");
            assert!(s.expires_at < t0 + S(lifetime), "{lifetime}");
        }
    }

    #[test]
    fn lifetime_tiers_capped_at_half_the_lifetime() {
        let p = exact();
        // 10 min: 5 min early = 5:00 (exactly half).
        assert_eq!(at(&p, 600, 0.0), (S(300), S(540)));
        // 15 min: 5 min early would be 10:00; capped at half = 7:30.
        assert_eq!(at(&p, 900, 0.0), (S(450), S(840)));
        // 40 min: 15 min early = 25:00, later than half (20:00) → 20:00.
        assert_eq!(at(&p, 2400, 0.0), (S(1200), S(2340)));
        // 100 min: 60 min early = 40:00, earlier than half → 40:00.
        assert_eq!(at(&p, 6000, 0.0), (S(2400), S(5940)));
        // 24 h: 23 h would be later than half → 12 h.
        assert_eq!(at(&p, 86_400, 0.0), (S(43_200), S(86_340)));
        // 6 min 40 s: 5 min early = 1:40, exactly a quarter.
        assert_eq!(at(&p, 400, 0.0), (S(100), S(340)));
        // 5 min and 130 s: "5 min early" is before they arrive → a quarter of the lifetime.
        assert_eq!(at(&p, 300, 0.0), (S(75), S(240)));
        assert_eq!(at(&p, 130, 0.0), (Duration::from_millis(32_500), S(70)));
    }

    #[test]
    fn jitter_is_early_and_bounded() {
        let p = exact();
        // 10 min token: jitter ≤ 10 % = 60 s.
        assert_eq!(at(&p, 600, 1.0).0, S(240));
        assert_eq!(at(&p, 600, 0.5).0, S(270));
        // 24 h token: 10 % would be 2.4 h; capped at 5 min.
        assert_eq!(at(&p, 86_400, 1.0).0, S(43_200 - 300));
        // Out-of-range jitter values are clamped.
        assert_eq!(at(&p, 600, 7.0).0, S(240));
    }

    #[test]
    fn short_tokens_refresh_at_half_and_wait_only_in_the_last_tenth() {
        let p = exact();
        assert!(p.is_short(S(119)) && !p.is_short(S(120)));
        let t0 = Instant::now();
        let s = p.schedule(t0, S(5), None, 1.0);
        assert_eq!(s.refresh_at - t0, Duration::from_millis(2500));
        assert_eq!(s.mandatory_at - t0, Duration::from_millis(4500));
        // At exactly 2 × margin the normal rules apply: a quarter (30 s), wait from 60 s.
        assert_eq!(at(&p, 120, 0.0), (S(30), S(60)));
    }

    #[test]
    fn server_refresh_in_hint_is_used_but_never_after_the_mandatory_window() {
        let p = exact();
        let t0 = Instant::now();
        let s = p.schedule(t0, S(3600), Some(S(600)), 0.0);
        assert_eq!(s.refresh_at - t0, S(600));
        let s = p.schedule(t0, S(3600), Some(S(7200)), 0.0);
        assert_eq!(s.refresh_at - t0, S(3540));
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_full_jitter_and_honours_retry_after() {
        let p = exact();
        let seq: Vec<_> = (1..=8).map(|n| p.backoff(n, None, 1.0)).collect();
        assert_eq!(seq, [1, 2, 4, 8, 16, 32, 60, 60].map(S));
        assert_eq!(p.backoff(3, None, 0.5), S(2));
        assert_eq!(p.backoff(3, None, 0.0), S(0));
        assert_eq!(p.backoff(1_000, None, 1.0), S(60));
        assert_eq!(p.backoff(1, Some(S(17)), 1.0), S(17));
        assert_eq!(p.backoff(7, Some(S(17)), 1.0), S(60));
        // A Retry-After far in the future (an HTTP-date in 2099) is bounded by the cap.
        assert_eq!(p.backoff(1, Some(S(2_300_000_000)), 0.0), S(60));
    }
}
