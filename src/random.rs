//! The system CSPRNG (aws-lc-rs), for jitter and unguessable identifiers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

/// A uniform draw from [0, 1) (falls back to 0.5 — half the jitter — if the random source fails).
pub(crate) fn unit() -> f64 {
    let mut bytes = [0u8; 8];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// 128 random bits, base64url: a `jti` nobody can guess or repeat.
pub(crate) fn id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        Error::internal(
            crate::ErrorClass::Transient,
            "the system random source failed",
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_are_in_range_and_ids_differ() {
        for _ in 0..1000 {
            let u = super::unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_ne!(super::id().unwrap(), super::id().unwrap());
    }
}
