//! [`VerifyError`]: precisely why a token was refused — for logs and metrics; never containing the token.

use std::fmt;
use std::time::Duration;

/// Why a token was refused. [`code`](Self::code) is a stable machine-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Longer than the limit (16 KiB by default), before any decoding.
    TooLarge,
    /// Not three non-empty dot-separated segments (a JWE, or truncated).
    Segments,
    /// A segment is not canonical unpadded base64url.
    Base64,
    /// The header or payload is not a UTF-8 JSON object.
    NotJsonObject,
    /// The header or payload repeats a member name.
    DuplicateMember,
    /// `alg` is `none` (in any casing).
    AlgNone,
    /// `alg` is missing, not a string, or not allowed.
    AlgNotAllowed,
    /// The token's `alg` does not match the selected key's algorithm or type.
    AlgKeyMismatch,
    /// `crit` is malformed or names an extension this verifier does not understand.
    Crit,
    /// A header member this verifier refuses: `b64`, `zip`, `enc`, or `cty: JWT` (nested token).
    UnsupportedHeader(&'static str),
    /// The header names a key for itself (`jku`, `x5u`, `x5c` or `jwk`): refused by default
    /// (RFC 8725 §3.10), even when a trusted key signed the token.
    HeaderKey(&'static str),
    /// `typ` is not allowed by the profile (e.g. `dpop+jwt`, `logout+jwt`).
    Typ,
    /// `kid` is not a string, or longer than 256 characters.
    InvalidKid,
    /// No key with this `kid` (after one shared refetch, within the cooldown).
    UnknownKey,
    /// No `kid`, and not exactly one key fits the algorithm.
    AmbiguousKey,
    /// The signature does not verify.
    BadSignature,
    /// The authorization server says the token is not active (RFC 7662).
    Inactive,
    /// `exp` has passed (with leeway).
    Expired,
    /// `nbf` is in the future (with leeway).
    NotYetValid,
    /// `iat` is in the future (with leeway).
    IssuedInFuture,
    /// A required claim is missing.
    MissingClaim(&'static str),
    /// A claim has the wrong type or shape.
    InvalidClaim(&'static str),
    /// `exp`, `nbf` or `iat` is a number outside the NumericDate range [0, 2^53) (e.g. `1e300`).
    InvalidNumericDate(&'static str),
    /// `iss` is not a configured issuer.
    IssuerMismatch,
    /// No `aud` element is a configured audience.
    AudienceMismatch,
    /// The token is sender-constrained (`cnf`), and this verifier does not check proof of possession.
    SenderConstrained,
    /// The claims do not deserialize into the requested type.
    CustomClaims,
    /// DPoP (RFC 9449): the proof, or the token's binding, was refused.
    Dpop(super::DpopReason),
    /// No keys are available (never fetched, or last good keys older than `max_stale`).
    KeysUnavailable {
        /// When to try again.
        retry_after: Duration,
    },
    /// The introspection endpoint could not be asked (down, slow, or an unreadable answer), so this
    /// server cannot decide about the token. Not cached: the next request asks again.
    IntrospectionUnavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

impl VerifyError {
    /// A stable, machine-readable reason code (e.g. `expired`, `bad_signature`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Segments => "malformed_segments",
            Self::Base64 => "malformed_base64",
            Self::NotJsonObject => "malformed_json",
            Self::DuplicateMember => "duplicate_member",
            Self::AlgNone => "alg_none",
            Self::AlgNotAllowed => "alg_not_allowed",
            Self::AlgKeyMismatch => "alg_key_mismatch",
            Self::Crit => "crit",
            Self::UnsupportedHeader(_) => "unsupported_header",
            Self::HeaderKey(_) => "header_key",
            Self::Typ => "typ",
            Self::InvalidKid => "invalid_kid",
            Self::UnknownKey => "unknown_key",
            Self::AmbiguousKey => "ambiguous_key",
            Self::BadSignature => "bad_signature",
            Self::Inactive => "inactive",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::InvalidNumericDate(_) => "invalid_numeric_date",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::AudienceMismatch => "audience_mismatch",
            Self::SenderConstrained => "sender_constrained",
            Self::CustomClaims => "custom_claims",
            Self::Dpop(reason) => reason.code(),
            Self::KeysUnavailable { .. } => "keys_unavailable",
            Self::IntrospectionUnavailable { .. } => "introspection_unavailable",
        }
    }

    /// Whether a DPoP proof was at fault (answered `invalid_dpop_proof`, RFC 9449 §7.1).
    pub fn is_dpop_proof_error(&self) -> bool {
        matches!(self, Self::Dpop(r) if r.is_proof_error())
    }

    /// Whether this is the verifier's own outage (no keys, or no introspection answer), not a fault
    /// of the token: answer 503.
    pub fn is_unavailable(&self) -> bool {
        self.retry_after().is_some()
    }

    /// For an outage ([`is_unavailable`](Self::is_unavailable)), when to try again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::KeysUnavailable { retry_after }
            | Self::IntrospectionUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::TooLarge => "token is too large",
            Self::Segments => "token is not a three-part JWS",
            Self::Base64 => "token segment is not canonical base64url",
            Self::NotJsonObject => "token header or payload is not a JSON object",
            Self::DuplicateMember => "token header or payload repeats a member",
            Self::AlgNone => "unsigned tokens (alg none) are refused",
            Self::AlgNotAllowed => "token algorithm is not allowed",
            Self::AlgKeyMismatch => "token algorithm does not match the key",
            Self::Crit => "token has critical header extensions that are not understood",
            Self::UnsupportedHeader(h) => return write!(f, "token header `{h}` is not supported"),
            Self::HeaderKey(h) => {
                return write!(
                    f,
                    "token header `{h}` names a key; keys come only from the issuer"
                );
            }
            Self::Typ => "token type is not accepted",
            Self::InvalidKid => "token kid is invalid",
            Self::UnknownKey => "no key matches the token's kid",
            Self::AmbiguousKey => "token has no kid and no single key fits",
            Self::BadSignature => "token signature is invalid",
            Self::Inactive => "the authorization server says the token is not active",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not valid yet",
            Self::IssuedInFuture => "token was issued in the future",
            Self::MissingClaim(c) => return write!(f, "token has no `{c}` claim"),
            Self::InvalidClaim(c) => return write!(f, "token claim `{c}` is invalid"),
            Self::InvalidNumericDate(c) => {
                return write!(f, "token claim `{c}` is not a NumericDate in [0, 2^53)");
            }
            Self::IssuerMismatch => "token issuer is not accepted",
            Self::AudienceMismatch => "token audience is not accepted",
            Self::SenderConstrained => "sender-constrained tokens (cnf) are not accepted",
            Self::CustomClaims => "token claims do not have the expected shape",
            Self::Dpop(reason) => return fmt::Display::fmt(reason, f),
            Self::KeysUnavailable { .. } => "verification keys are unavailable",
            Self::IntrospectionUnavailable { .. } => "token introspection is unavailable",
        };
        f.write_str(text)
    }
}

impl std::error::Error for VerifyError {}
