//! OAuth 2.0 on both sides of an HTTP call, with Telnyx as the default authorization server and any
//! RFC 8414 server working as well.
//!
//! The parts, from the bottom up:
//!
//! - [`token`], [`metadata`], [`error`], [`secret`], [`http`]: the protocol core (below);
//! - [`provider`]: [`TokenProvider`], cached, refreshed-ahead, single-flight tokens;
//! - [`bearer`]: `BearerLayer`, bearer tokens on any Tower HTTP client, one retry after a 401;
//! - [`verify`]: `Verifier` and `VerifyLayer`, strict JWT verification and RFC 6750 protection;
//! - [`api`]: `Telnyx`, the typed client for every OAuth endpoint of the Telnyx API.
//!
//! The protocol core:
//!
//! - [`TokenEndpoint`]: the `client_credentials`, `refresh_token` and `authorization_code` (+ PKCE)
//!   grants, with every client authentication method — [`ClientAuth::basic`] (RFC 6749 §2.3.1 encoding),
//!   [`ClientAuth::post`], [`ClientAuth::private_key_jwt`], [`ClientAuth::client_secret_jwt`] and
//!   [`ClientAuth::none`];
//! - [`AuthorizationServerMetadata`] and [`ProtectedResourceMetadata`] discovery (RFC 8414, RFC 9728)
//!   with the issuer checked exactly;
//! - one [`Error`] type that tells transient failures from permanent ones;
//! - secrets as redacting, zeroizing newtypes ([`ClientSecret`], [`AccessToken`], [`RefreshToken`]).
//!
//! Every network call has a timeout (10 s), a body limit (1 MiB), no redirects, and https only unless
//! loopback http is explicitly allowed.
//!
//! ```no_run
//! use telnyx_oauth::{ClientAuth, ClientCredentials, ClientSecret, TokenEndpoint};
//!
//! # async fn run() -> Result<(), telnyx_oauth::Error> {
//! let endpoint = TokenEndpoint::telnyx(ClientAuth::basic(
//!     std::env::var("TELNYX_CLIENT_ID").unwrap_or_default(),
//!     ClientSecret::new(std::env::var("TELNYX_CLIENT_SECRET").unwrap_or_default()),
//! ))?;
//! let token = endpoint.client_credentials(&ClientCredentials::new()).await?;
//! let header = token.access_token().bearer_header()?; // sensitive `Bearer …` header value
//! # let _ = header;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code handles every failure; tests may unwrap (clippy.toml).
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
pub mod bearer;
mod der;
#[cfg(feature = "dev-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev-server")))]
pub mod dev_server;
pub mod error;
pub mod http;
pub mod metadata;
pub mod observe;
pub mod provider;
mod random;
pub mod secret;
pub mod telnyx;
pub mod token;
pub mod verify;

pub use error::{Error, ErrorClass};
pub use http::HttpClient;
pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use provider::{CachedToken, ProviderStats, RefreshPolicy, TokenProvider};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, PkceVerifier, PrivateKeyBytes, RefreshToken,
};
pub use token::{
    ClientAuth, ClientCredentials, PkcePair, SigningAlgorithm, SigningKey, Token, TokenEndpoint,
};
