//! JOSE primitives shared by every side of the crate: the JWS algorithm names and, for each, the
//! aws-lc-rs primitive that signs or verifies it, the DER encodings keys are built from, the keys that
//! sign (client assertions, DPoP proofs, the dev server's tokens) and RFC 7638 thumbprints. Client
//! assertions (`token/`), the verifier (`verify/`) and the dev server all match algorithms here and
//! nowhere else.

pub(crate) mod der;
mod signing;
mod thumbprint;

pub use signing::SigningKey;
pub(crate) use thumbprint::{sha256_b64, thumbprint};

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// A JWS algorithm (RFC 7518 names): what this crate signs client assertions and tokens with, and
/// verifies tokens under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512
    RS512,
    /// RSASSA-PSS with SHA-256
    PS256,
    /// RSASSA-PSS with SHA-384
    PS384,
    /// RSASSA-PSS with SHA-512
    PS512,
    /// ECDSA P-256 with SHA-256
    ES256,
    /// ECDSA P-384 with SHA-384
    ES384,
    /// Ed25519
    EdDSA,
    /// HMAC SHA-256 (`client_secret_jwt` only)
    HS256,
    /// HMAC SHA-384 (`client_secret_jwt` only)
    HS384,
    /// HMAC SHA-512 (`client_secret_jwt` only)
    HS512,
}

impl SigningAlgorithm {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Parses a JWS `alg` name (exact, case-sensitive as RFC 7515 requires).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The RSA signing encoding, for RS* and PS*.
    pub(crate) fn rsa_encoding(self) -> Option<&'static dyn signature::RsaEncoding> {
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_SHA512,
            Self::PS256 => &signature::RSA_PSS_SHA256,
            Self::PS384 => &signature::RSA_PSS_SHA384,
            Self::PS512 => &signature::RSA_PSS_SHA512,
            _ => return None,
        })
    }

    /// The ECDSA signing algorithm, for ES*.
    pub(crate) fn ecdsa(self) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        match self {
            Self::ES256 => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
            Self::ES384 => Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
            _ => None,
        }
    }

    /// The HMAC algorithm, for HS* — the one place HS* is matched.
    pub(crate) fn hmac(self) -> Option<hmac::Algorithm> {
        match self {
            Self::HS256 => Some(hmac::HMAC_SHA256),
            Self::HS384 => Some(hmac::HMAC_SHA384),
            Self::HS512 => Some(hmac::HMAC_SHA512),
            _ => None,
        }
    }
}

impl SigningAlgorithm {
    /// Every algorithm.
    pub(crate) const ALL: [Self; 12] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// The symmetric algorithms.
    pub(crate) const HMAC: [Self; 3] = [Self::HS256, Self::HS384, Self::HS512];

    /// Whether this is a symmetric (HMAC) algorithm: HS256, HS384 or HS512.
    pub fn is_hmac(self) -> bool {
        self.hmac().is_some()
    }

    /// The public-key verification algorithm, for every asymmetric `alg` (`None` for HS*).
    pub(crate) fn verification(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::EdDSA => &signature::ED25519,
            Self::HS256 | Self::HS384 | Self::HS512 => return None,
        })
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::SigningAlgorithm;

    #[test]
    fn names_round_trip_exactly_and_case_sensitively() {
        for alg in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::parse(alg.as_str()), Some(alg));
        }
        for name in ["none", "rs256", "EDDSA", "HS256 ", ""] {
            assert_eq!(SigningAlgorithm::parse(name), None, "{name}");
        }
        assert_eq!(
            SigningAlgorithm::ALL.iter().filter(|a| a.is_hmac()).count(),
            SigningAlgorithm::HMAC.len()
        );
    }
}
