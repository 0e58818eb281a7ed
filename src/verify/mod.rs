//! Inbound: verify JWT access tokens against a cached JWKS, strictly.
//!
//! ```no_run
//! use serde::Deserialize;
//! use telnyx_oauth::verify::Verifier;
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     tenant: Option<String>,
//! }
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .issuer("https://api.telnyx.com") // keys found through RFC 8414 discovery
//!     .audience("https://api.example.com")
//!     .build()
//!     .await?;
//! let verified = verifier.verify::<MyClaims>(token).await?;
//! println!("{:?} with scopes {:?}", verified.claims().tenant, verified.scopes());
//! # Ok(()) }
//! ```
//!
//! Protecting routes: [`VerifyLayer`] wraps any Tower HTTP service (axum routers included) and answers
//! as RFC 6750 §3 says — 401 with a bare `Bearer` challenge when there are no credentials, 400
//! `invalid_request` for a malformed request, 401 `invalid_token` (with a generic description; the
//! precise reason goes to tracing) for a token that fails, 403 `insufficient_scope` from
//! [`RequireScopes`], and 503 with `Retry-After` when no keys are available.
//!
//! ```
//! use axum::{Router, routing::get};
//! use telnyx_oauth::verify::{RequireScopes, Verifier, VerifyLayer, protected_resource_metadata_url};
//!
//! fn routes(verifier: Verifier) -> Router {
//!     Router::new()
//!         .route("/read", get(|| async { "ok" }).layer(RequireScopes::all(["read"])))
//!         .layer(
//!             VerifyLayer::new(verifier)
//!                 .realm("my-api")
//!                 .resource_metadata(protected_resource_metadata_url("https://api.example.com").unwrap()),
//!         )
//! }
//! # let _ = routes;
//! ```
//!
//! What it refuses before any signature work: tokens over 16 KiB; anything but three non-empty
//! segments of canonical unpadded base64url; headers and payloads that are not JSON objects or repeat a
//! member; `alg: none` in any casing and algorithms not allowed (RS256, PS256, ES256, ES384 and EdDSA by
//! default; HS* only with a local secret, never mixed with JWKS keys); `crit`; `b64`, `zip`, `enc` and
//! `cty: JWT`; a `typ` outside the profile (compared as a media type: `application/at+jwt` is
//! `at+jwt`); a non-string or oversized `kid`; a header naming its own key (`jwk`, `jku`, `x5u`,
//! `x5c`, RFC 8725 §3.10 — [`VerifierBuilder::ignore_header_keys`] for issuers known to add them).
//! Keys are found only in the issuer's own JWKS, by `kid` *and* compatibility with the token's `alg`
//! (one `kid` may name an EC and an OKP key during a rotation); exactly one key may fit, with or
//! without a `kid` — no key is tried after another. Then the claims: `exp` required, `exp`/`nbf`/`iat`
//! NumericDates in [0, 2^53), 30 s leeway, `iss` exactly one configured issuer, `aud` any configured
//! audience, no `cnf`. Duplicate member names are refused at every depth of the header and the claims.
//!
//! A verifier remembers the header segments of the last few tokens whose signature verified (every
//! token an issuer signs with one key has the same header) and does not parse those again: the same
//! segment always reads the same, so nothing above changes, and a token that fails its signature
//! leaves nothing behind.
//!
//! Of the payload, verification keeps only the registered claims it checks; the rest is checked
//! (JSON, unique names at every depth) and not built. A claims type of your own is deserialized
//! from the payload at verification; claims as a `Value` are built on first read
//! ([`Verified::claims`]) — a caller that reads only [`Verified::subject`] or [`Verified::scopes`]
//! never builds them.

#[cfg(feature = "axum")]
mod axum;
mod builder;
mod cache;
mod dpop;
mod dpop_nonce;
mod error;
mod introspect;
mod jwks;
mod jwt;
mod keys;
mod layer;
mod memo;
mod metadata_route;
mod response;
mod scopes;
mod validation;
mod verified;
mod verifier;

#[cfg(feature = "axum")]
pub use axum::{Claims, ClaimsRejection};
pub use builder::VerifierBuilder;
pub use cache::DEFAULT_VERIFIED_CACHE_CAPACITY;
pub use dpop::{
    DEFAULT_MAX_PROOF_BYTES, DEFAULT_PROOF_LEEWAY, DEFAULT_PROOF_WINDOW, DEFAULT_REPLAY_CAPACITY,
    DpopMode, DpopPolicy, DpopReason,
};
#[cfg(feature = "dev-server")]
pub(crate) use dpop::{ReplayCache, check_token_request};
pub use dpop_nonce::{DEFAULT_NONCE_PERIOD, DpopNonces};
pub use error::VerifyError;
pub use introspect::{
    DEFAULT_INTROSPECTION_CACHE, DEFAULT_INTROSPECTION_TTL, IntrospectionStats, Introspector,
};
pub use jwks::{
    DEFAULT_FRESH, DEFAULT_MAX_KEYS, DEFAULT_MAX_STALE, DEFAULT_MISS_COOLDOWN,
    JWKS_CONNECT_TIMEOUT, JWKS_MAX_BODY, JWKS_TIMEOUT, JwksPolicy, KeysHealth, MAX_FRESH,
    MIN_FRESH,
};
pub use jwt::DEFAULT_MAX_TOKEN_BYTES;
pub use layer::{GrantedScopes, VerifyLayer, VerifyService};
pub use metadata_route::{
    PROTECTED_RESOURCE_WELL_KNOWN, ProtectedResourceRoute, protected_resource_metadata_path,
    protected_resource_metadata_url,
};
pub use response::{ChallengeConfig, Rejection};
pub use scopes::{RequireScopes, RequireScopesService, ScopeFuture};
pub use validation::{DEFAULT_LEEWAY, StandardClaims, TypProfile};
pub use verified::{ClaimsType, Verified};
pub use verifier::Verifier;

#[cfg(feature = "fuzzing")]
pub(crate) use validation::check_read_agrees as check_claims_read_agrees;

/// For the fuzzers: a JWK Set ingested as the key cache does (count of usable keys, count skipped).
#[cfg(feature = "fuzzing")]
pub(crate) fn ingest_jwks(
    set: &serde_json::Value,
    allowed: &[SigningAlgorithm],
    max_keys: usize,
) -> (usize, usize) {
    let (keys, skipped) = keys::ingest(set, allowed, max_keys);
    (keys.len(), skipped.len())
}

use crate::jose::SigningAlgorithm;

/// The algorithms accepted by default (DESIGN §5).
pub const DEFAULT_ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::RS256,
    SigningAlgorithm::PS256,
    SigningAlgorithm::ES256,
    SigningAlgorithm::ES384,
    SigningAlgorithm::EdDSA,
];
