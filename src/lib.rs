//! OAuth 2.0 on both sides of an HTTP call, with Telnyx as the default authorization server and any
//! RFC 8414 server working as well.
//!
//! The parts, from the bottom up:
//!
//! - [`token`], [`metadata`], [`error`], [`secret`], [`http`]: the protocol core — every grant and
//!   client authentication method, discovery with an exact issuer check, typed errors, redacting secrets;
//! - [`provider`]: [`TokenProvider`], one cached, refreshed-ahead, single-flight token per client;
//! - [`bearer`]: `BearerLayer`, bearer tokens on any Tower HTTP client, one retry after a 401;
//! - [`verify`]: `Verifier` and `VerifyLayer`, strict JWT verification and RFC 6750 protection;
//! - [`api`]: `Telnyx`, the typed client for every OAuth endpoint of the Telnyx API;
//! - `dev_server` (feature `dev-server`): an in-process authorization server for development and tests;
//! - the `telnyx-oauth` command-line tool (feature `cli`, `cargo install telnyx-oauth --features cli`):
//!   get, verify, decode and introspect tokens, discover servers, manage clients and grants, run the
//!   dev server — built on the parts above.
//!
//! Every network call has a timeout, a body limit, no redirects, and https only unless loopback http is
//! explicitly allowed.
//!
//! # Getting tokens
//!
//! A [`TokenProvider`] over any token source (here a stand-in; in production
//! `TokenProvider::client_credentials(TokenEndpoint::telnyx(auth)?, request)`):
//!
//! ```
//! use std::time::Duration;
//! use telnyx_oauth::provider::{BoxFuture, TokenSource};
//! use telnyx_oauth::{AccessToken, Error, Token, TokenProvider};
//!
//! struct Issuer;
//! impl TokenSource for Issuer {
//!     fn fetch<'a>(&'a self, _: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
//!         Box::pin(async {
//!             Ok(Token::new(AccessToken::new("abc"), Duration::from_secs(3600), tokio::time::Instant::now()))
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let provider = TokenProvider::from_source(Issuer, None).build()?;
//! let token = provider.token().await?; // fetched once, shared by every caller
//! assert_eq!(token.header().as_bytes(), b"Bearer abc");
//! assert!(token.header().is_sensitive());
//! # Ok(()) }
//! ```
//!
//! # Calling APIs
//!
//! `BearerLayer` wraps any Tower HTTP client (hyper-util, `reqwest::Client`, tonic): see [`bearer`].
//!
//! # Protecting APIs
//!
//! ```
//! use serde_json::json;
//! use telnyx_oauth::verify::Verifier;
//! use telnyx_oauth::{ClientSecret, SigningAlgorithm, SigningKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A local HMAC issuer keeps this example offline; real issuers publish a JWKS.
//! let secret = ClientSecret::new("a-shared-secret-of-at-least-32-bytes!!");
//! let verifier = Verifier::builder()
//!     .issuer_with_hmac("https://issuer.example", secret.clone(), SigningAlgorithm::HS256)
//!     .audience("https://api.example")
//!     .build()
//!     .await?;
//! let token = SigningKey::hmac(&secret, SigningAlgorithm::HS256)?.sign_token(
//!     "at+jwt",
//!     &json!({"iss": "https://issuer.example", "aud": "https://api.example", "exp": 4102444800u64,
//!             "sub": "user-1", "scope": "read write"}),
//! )?;
//! let verified = verifier.verify::<serde_json::Value>(&token).await?;
//! assert_eq!(verified.subject(), Some("user-1"));
//! assert!(verified.has_scope("write"));
//! # Ok(()) }
//! ```
//!
//! # Managing OAuth clients on Telnyx
//!
//! ```
//! use telnyx_oauth::api::{AuthorizeRequest, Telnyx};
//!
//! let telnyx = Telnyx::builder().build()?; // Telnyx::from_env() reads TELNYX_API_KEY and friends
//! let (url, pending) = telnyx.authorize_url(AuthorizeRequest::new("client-id", "http://127.0.0.1:8080/cb"))?;
//! assert!(url.as_str().starts_with("https://api.telnyx.com/v2/oauth/authorize?response_type=code"));
//! assert_eq!(pending.pkce().method(), "S256");
//! # Ok::<(), telnyx_oauth::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code handles every failure; tests may unwrap (clippy.toml).
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Chainable `with_<field>` setters for the public fields of a `#[non_exhaustive]` policy struct,
/// so that users change what they need without a struct literal: `Policy::default().with_x(…)`.
macro_rules! policy_setters {
    ($ty:ty { $($setter:ident => $field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                #[must_use]
                pub fn $setter(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

/// `get_ref`, `get_mut` and `into_inner` on a Tower service wrapper whose wrapped service is `inner: S`,
/// as tower-http's middleware have them.
macro_rules! inner_service_accessors {
    ($name:ident<S $(, $g:ident)*>) => {
        impl<S $(, $g)*> $name<S $(, $g)*> {
            /// The wrapped service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The wrapped service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Consumes the wrapper, returning the wrapped service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    };
}

pub mod api;
pub mod bearer;
mod clock;
#[cfg(feature = "dev-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev-server")))]
pub mod dev_server;
pub mod dpop;
pub mod error;
mod flight;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
mod jose;
mod json;
mod lock;
pub mod metadata;
pub mod observe;
pub mod provider;
mod random;
mod redact;
pub mod secret;
pub mod shared;
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
