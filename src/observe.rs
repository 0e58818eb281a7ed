//! Counters and histograms through the `metrics` facade (feature `metrics`); without the feature
//! nothing is recorded and the recording calls compile to nothing. Tracing events are emitted where
//! the work happens, always. The metric names are the constants below, for dashboards and tests:
//!
//! ```
//! use telnyx_oauth::observe;
//! assert_eq!(observe::TOKEN_FETCHES, "telnyx_oauth_token_fetches_total");
//! ```
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `telnyx_oauth_verify_accepted_total` | counter | |
//! | `telnyx_oauth_verify_rejections_total` | counter | `reason` (a stable code, e.g. `expired`) |
//! | `telnyx_oauth_jwks_fetches_total` | counter | `outcome` (`ok`, `error`) |
//! | `telnyx_oauth_jwks_fetch_seconds` | histogram | |
//! | `telnyx_oauth_introspection_requests_total` | counter | |
//! | `telnyx_oauth_introspection_cache_hits_total` | counter | |
//! | `telnyx_oauth_token_fetches_total` | counter | `outcome` (`ok`, `transient`, `permanent`) |
//! | `telnyx_oauth_token_fetch_seconds` | histogram | |
//! | `telnyx_oauth_shared_store_events_total` | counter | `event` (`adopted`, `fetched`, `lease_wait`, `store_error`, `unusable_value`) |

use std::time::Duration;

/// Tokens the verifier accepted (counter).
pub const VERIFY_ACCEPTED: &str = "telnyx_oauth_verify_accepted_total";
/// Tokens or requests the verifier rejected, labelled `reason` (counter).
pub const VERIFY_REJECTIONS: &str = "telnyx_oauth_verify_rejections_total";
/// JWKS fetches, labelled `outcome` (counter).
pub const JWKS_FETCHES: &str = "telnyx_oauth_jwks_fetches_total";
/// How long JWKS fetches took (histogram).
pub const JWKS_FETCH_SECONDS: &str = "telnyx_oauth_jwks_fetch_seconds";
/// Introspection requests sent (counter).
pub const INTROSPECTION_REQUESTS: &str = "telnyx_oauth_introspection_requests_total";
/// Introspection answers served from the cache (counter).
pub const INTROSPECTION_CACHE_HITS: &str = "telnyx_oauth_introspection_cache_hits_total";
/// Token-provider fetches, labelled `outcome` (counter).
pub const TOKEN_FETCHES: &str = "telnyx_oauth_token_fetches_total";
/// How long token-provider fetches took (histogram).
pub const TOKEN_FETCH_SECONDS: &str = "telnyx_oauth_token_fetch_seconds";

#[inline]
pub(crate) fn accepted() {
    #[cfg(feature = "metrics")]
    metrics::counter!(VERIFY_ACCEPTED).increment(1);
}

#[inline]
pub(crate) fn rejected(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(VERIFY_REJECTIONS, "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

#[inline]
pub(crate) fn jwks_fetch(ok: bool, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(JWKS_FETCHES, "outcome" => if ok { "ok" } else { "error" }).increment(1);
        metrics::histogram!(JWKS_FETCH_SECONDS).record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (ok, elapsed);
}

#[inline]
pub(crate) fn introspection(cache_hit: bool) {
    #[cfg(feature = "metrics")]
    {
        if cache_hit {
            metrics::counter!(INTROSPECTION_CACHE_HITS).increment(1);
        } else {
            metrics::counter!(INTROSPECTION_REQUESTS).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = cache_hit;
}

/// What a provider's shared token cache did (counter, label `event`).
pub const SHARED_STORE_EVENTS: &str = "telnyx_oauth_shared_store_events_total";

#[inline]
pub(crate) fn shared_store(event: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(SHARED_STORE_EVENTS, "event" => event).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = event;
}

#[inline]
pub(crate) fn token_fetch(outcome: &'static str, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(TOKEN_FETCHES, "outcome" => outcome).increment(1);
        metrics::histogram!(TOKEN_FETCH_SECONDS).record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome, elapsed);
}
