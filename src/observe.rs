//! Counters and histograms through the `metrics` facade (feature `metrics`); without the feature every
//! function here compiles to nothing. Tracing events are emitted where the work happens, always.
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

use std::time::Duration;

#[inline]
pub(crate) fn accepted() {
    #[cfg(feature = "metrics")]
    metrics::counter!("telnyx_oauth_verify_accepted_total").increment(1);
}

#[inline]
pub(crate) fn rejected(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("telnyx_oauth_verify_rejections_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

#[inline]
pub(crate) fn jwks_fetch(ok: bool, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("telnyx_oauth_jwks_fetches_total", "outcome" => if ok { "ok" } else { "error" }).increment(1);
        metrics::histogram!("telnyx_oauth_jwks_fetch_seconds").record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (ok, elapsed);
}

#[inline]
pub(crate) fn introspection(cache_hit: bool) {
    #[cfg(feature = "metrics")]
    {
        if cache_hit {
            metrics::counter!("telnyx_oauth_introspection_cache_hits_total").increment(1);
        } else {
            metrics::counter!("telnyx_oauth_introspection_requests_total").increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = cache_hit;
}

#[inline]
pub(crate) fn token_fetch(outcome: &'static str, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("telnyx_oauth_token_fetches_total", "outcome" => outcome).increment(1);
        metrics::histogram!("telnyx_oauth_token_fetch_seconds").record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome, elapsed);
}
