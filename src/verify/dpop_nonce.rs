//! Server nonces for DPoP proofs (RFC 9449 §9): stateless and rolling. A nonce names a time step and
//! carries an HMAC of it under the verifier's secret, so checking one needs no storage, replicas
//! given the same secret accept each other's nonces, and a nonce is good for the step it was issued
//! in and the next one (one to two periods).
//!
//! ```
//! use std::time::Duration;
//! use telnyx_oauth::verify::{DpopNonces, DpopPolicy};
//!
//! # fn main() -> Result<(), telnyx_oauth::Error> {
//! // One secret for every replica behind the same URL (32 bytes or more, e.g. from your secret store).
//! let nonces = DpopNonces::with_secret(&[7u8; 32], Duration::from_secs(300))?;
//! let policy = DpopPolicy::default().with_nonces(nonces);
//! # let _ = policy; Ok(()) }
//! ```

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;

use crate::error::Error;

/// How long a nonce's time step lasts by default; a nonce is accepted for one to two of them.
pub const DEFAULT_NONCE_PERIOD: Duration = Duration::from_secs(300);
/// The shortest secret accepted.
const MIN_SECRET_BYTES: usize = 32;
/// Bytes of the HMAC a nonce carries (128 bits: not guessable within a period).
const TAG_BYTES: usize = 16;
/// A nonce's length: 8 bytes of step and the tag, base64url.
const NONCE_CHARS: usize = (8 + TAG_BYTES) * 4 / 3;

/// Whether a proof's nonce is one this server issued recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Issued in this step or the one before.
    Valid,
    /// Missing, forged, malformed or older: the client must retry with the current nonce.
    Refused,
}

/// Issues and checks DPoP server nonces. Cheap to clone.
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    period: Duration,
    /// The current step's nonce, made once per step.
    current: std::sync::Arc<Mutex<Option<(u64, HeaderValue)>>>,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces under a fresh random secret: for a single instance (another replica would refuse them).
    pub fn new(period: Duration) -> Result<Self, Error> {
        let mut secret = zeroize::Zeroizing::new([0u8; MIN_SECRET_BYTES]);
        aws_lc_rs::rand::fill(secret.as_mut()).map_err(|_| {
            Error::internal(
                crate::ErrorClass::Transient,
                "the system random source failed",
            )
        })?;
        Self::with_secret(secret.as_ref(), period)
    }

    /// Nonces under `secret` (at least 32 bytes): every replica given the same secret and period
    /// accepts the nonces any of them issued.
    pub fn with_secret(secret: &[u8], period: Duration) -> Result<Self, Error> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::config(format!(
                "a DPoP nonce secret needs at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        if period < Duration::from_secs(1) {
            return Err(Error::config("a DPoP nonce period is at least one second"));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            period,
            current: Default::default(),
        })
    }

    /// The time step lasting one period.
    pub fn period(&self) -> Duration {
        self.period
    }

    fn step(&self, now: f64) -> u64 {
        (now.max(0.0) / self.period.as_secs_f64()) as u64
    }

    fn nonce_for(&self, step: u64) -> String {
        let mut bytes = [0u8; 8 + TAG_BYTES];
        bytes[..8].copy_from_slice(&step.to_be_bytes());
        let tag = hmac::sign(&self.key, &bytes[..8]);
        bytes[8..].copy_from_slice(&tag.as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The nonce to hand out at `now` (unix seconds), as a `DPoP-Nonce` header value.
    pub(crate) fn current(&self, now: f64) -> HeaderValue {
        let step = self.step(now);
        let mut current = crate::lock::lock(&self.current);
        if let Some((at, value)) = current.as_ref()
            && *at == step
        {
            return value.clone();
        }
        // base64url is always a valid header value.
        let value = HeaderValue::try_from(self.nonce_for(step))
            .unwrap_or_else(|_| HeaderValue::from_static("-"));
        *current = Some((step, value.clone()));
        value
    }

    /// Whether `nonce` was issued in the current step or the one before (constant-time tag check).
    pub(crate) fn check(&self, nonce: Option<&str>, now: f64) -> NonceCheck {
        let Some(bytes) = nonce
            .filter(|n| n.len() == NONCE_CHARS)
            .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
            .filter(|b| b.len() == 8 + TAG_BYTES)
        else {
            return NonceCheck::Refused;
        };
        let mut step = [0u8; 8];
        step.copy_from_slice(&bytes[..8]);
        let step = u64::from_be_bytes(step);
        let now = self.step(now);
        if step != now && step.checked_add(1) != Some(now) {
            return NonceCheck::Refused;
        }
        let tag = hmac::sign(&self.key, &bytes[..8]);
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            &tag.as_ref()[..TAG_BYTES],
            &bytes[8..],
        )
        .is_ok()
        {
            NonceCheck::Valid
        } else {
            NonceCheck::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_for_its_step_and_the_next_and_only_under_its_secret() {
        let nonces = DpopNonces::with_secret(&[1; 32], Duration::from_secs(100)).unwrap();
        let issued = nonces.current(1_000.0);
        let issued = issued.to_str().unwrap();
        assert!(crate::dpop::valid_nonce(issued), "{issued}");
        assert_eq!(
            nonces.current(1_099.0).to_str().unwrap(),
            issued,
            "same step"
        );
        assert_eq!(nonces.check(Some(issued), 1_000.0), NonceCheck::Valid);
        assert_eq!(nonces.check(Some(issued), 1_199.0), NonceCheck::Valid);
        assert_eq!(nonces.check(Some(issued), 1_200.0), NonceCheck::Refused);
        assert_eq!(nonces.check(Some(issued), 999.0), NonceCheck::Refused);
        assert_ne!(nonces.current(1_100.0).to_str().unwrap(), issued, "rolled");
        // Another replica with the same secret accepts it; one with another secret does not.
        let same = DpopNonces::with_secret(&[1; 32], Duration::from_secs(100)).unwrap();
        let other = DpopNonces::with_secret(&[2; 32], Duration::from_secs(100)).unwrap();
        assert_eq!(same.check(Some(issued), 1_050.0), NonceCheck::Valid);
        assert_eq!(other.check(Some(issued), 1_050.0), NonceCheck::Refused);
        // A forged tag, a truncated nonce, garbage, none.
        let mut forged = issued.to_owned().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        for bad in [
            Some(forged.as_str()),
            Some(&issued[1..]),
            Some("x"),
            Some(""),
            None,
        ] {
            assert_eq!(nonces.check(bad, 1_000.0), NonceCheck::Refused, "{bad:?}");
        }
        assert!(DpopNonces::with_secret(&[1; 31], Duration::from_secs(100)).is_err());
        assert!(DpopNonces::with_secret(&[1; 32], Duration::ZERO).is_err());
        assert!(!format!("{nonces:?}").contains("1, 1"));
    }
}
