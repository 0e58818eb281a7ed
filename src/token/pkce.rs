//! PKCE (RFC 7636): a random verifier and its S256 challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;
use crate::secret::PkceVerifier;

/// A PKCE verifier and its `S256` challenge.
///
/// ```
/// use telnyx_oauth::PkcePair;
///
/// let pkce = PkcePair::generate()?;
/// assert_eq!(pkce.method(), "S256");
/// assert_eq!(pkce.challenge().len(), 43);
/// // RFC 7636 Appendix B
/// let known = PkcePair::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")?;
/// assert_eq!(known.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// # Ok::<(), telnyx_oauth::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PkcePair {
    verifier: PkceVerifier,
    challenge: String,
}

impl PkcePair {
    /// A fresh verifier from 32 random bytes (43 base64url characters, 256 bits of entropy).
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| {
            Error::internal(
                crate::ErrorClass::Transient,
                "the system random source failed",
            )
        })?;
        Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
    }

    /// Uses a given verifier: 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    pub fn from_verifier(verifier: impl Into<String>) -> Result<Self, Error> {
        let verifier = PkceVerifier::new(verifier);
        let v = verifier.secret();
        let valid_char =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        if !(43..=128).contains(&v.len()) || !v.bytes().all(valid_char) {
            return Err(Error::config(
                "a PKCE verifier is 43-128 characters of A-Z a-z 0-9 - . _ ~",
            ));
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
        Ok(Self {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier,
        })
    }

    /// The `code_challenge` to put in the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The `code_challenge_method`: always `S256`.
    pub fn method(&self) -> &'static str {
        "S256"
    }

    /// The verifier to send with the code exchange.
    pub fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_validated() {
        assert!(PkcePair::from_verifier("short").is_err());
        assert!(PkcePair::from_verifier("a".repeat(129)).is_err());
        assert!(PkcePair::from_verifier(format!("{}+", "a".repeat(43))).is_err());
        assert!(PkcePair::from_verifier("a".repeat(43)).is_ok());
    }

    #[test]
    fn generated_verifiers_differ() {
        let a = PkcePair::generate().unwrap();
        let b = PkcePair::generate().unwrap();
        assert_ne!(a.verifier().secret(), b.verifier().secret());
        assert_eq!(a.verifier().secret().len(), 43);
    }
}
