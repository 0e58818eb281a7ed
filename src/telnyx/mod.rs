//! Telnyx's endpoints: the default authorization server.
//!
//! Telnyx's metadata documents sit at the host root (no `/v2`); everything else under `/v2`.
//!
//! ```
//! use telnyx_oauth::telnyx;
//!
//! assert_eq!(telnyx::ISSUER, "https://api.telnyx.com");
//! assert!(telnyx::TOKEN_URL.ends_with("/v2/oauth/token"));
//! ```

pub(crate) mod errors;

/// The issuer identifier, as Telnyx's RFC 8414 document states it.
pub const ISSUER: &str = "https://api.telnyx.com";
/// The API base URL.
pub const API_BASE_URL: &str = "https://api.telnyx.com/v2";
/// The token endpoint.
pub const TOKEN_URL: &str = "https://api.telnyx.com/v2/oauth/token";
/// The authorization endpoint.
pub const AUTHORIZE_URL: &str = "https://api.telnyx.com/v2/oauth/authorize";
/// The introspection endpoint (RFC 7662).
pub const INTROSPECT_URL: &str = "https://api.telnyx.com/v2/oauth/introspect";
/// The JWKS.
pub const JWKS_URL: &str = "https://api.telnyx.com/v2/oauth/jwks";
