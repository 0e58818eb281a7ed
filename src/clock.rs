//! Wall-clock time — seconds since the Unix epoch, for JWT `exp`/`nbf`/`iat` and assertion lifetimes —
//! and the seam tests replace it with. Monotonic time (refresh schedules, backoff, cache ages) is
//! tokio's clock everywhere, which tests pause instead.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock: seconds since the Unix epoch, fractional. Injectable for exact tests.
pub(crate) type WallClock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Time since the Unix epoch, or `None` if the system clock is set before 1970.
pub(crate) fn since_epoch() -> Option<Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}

/// Whole seconds since the Unix epoch, for claims this crate signs (`iat`, `exp`): an error, not a
/// 1970 timestamp, when the system clock is set before 1970.
pub(crate) fn unix_secs() -> Result<u64, crate::Error> {
    since_epoch().map(|d| d.as_secs()).ok_or_else(|| {
        crate::Error::internal(
            crate::ErrorClass::Permanent,
            "the system clock is before 1970",
        )
    })
}

/// Seconds since the Unix epoch (0 if the system clock is set before 1970).
pub(crate) fn unix_now() -> f64 {
    since_epoch().map_or(0.0, |d| d.as_secs_f64())
}

/// The system wall clock as a [`WallClock`].
pub(crate) fn system() -> WallClock {
    Arc::new(unix_now)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wall_clock_is_after_2020() {
        assert!(super::unix_now() > 1_577_836_800.0);
        assert!(super::since_epoch().is_some());
    }
}
