//! The token endpoint (RFC 6749): grants, client authentication, PKCE, and strict response parsing.
//!
//! ```no_run
//! use telnyx_oauth::{
//!     ClientAuth, ClientCredentials, HttpClient, PrivateKeyBytes, SigningAlgorithm, SigningKey,
//!     TokenEndpoint,
//! };
//!
//! # async fn run() -> Result<(), telnyx_oauth::Error> {
//! // Any RFC 8414 server: discover its token endpoint from the issuer.
//! let pem = PrivateKeyBytes::new(std::fs::read("client-key.pem").unwrap());
//! let key = SigningKey::from_pem(&pem, SigningAlgorithm::ES256)?.with_key_id("key-1");
//! let endpoint = TokenEndpoint::discover(
//!     HttpClient::new()?,
//!     "https://auth.example.com",
//!     ClientAuth::private_key_jwt("my-client", key),
//! )
//! .await?;
//! let token = endpoint.client_credentials(&ClientCredentials::new().scope("read")).await?;
//! assert!(token.expires_in().as_secs() > 0);
//! # Ok(()) }
//! ```

mod auth;
mod endpoint;
mod pkce;
mod response;

pub use crate::jose::{SigningAlgorithm, SigningKey};
pub use auth::{ASSERTION_LIFETIME, ClientAuth};
pub use endpoint::{ClientCredentials, TokenEndpoint};
pub use pkce::PkcePair;
#[cfg(feature = "fuzzing")]
pub(crate) use response::parse_token_response;
pub use response::{DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, Token};
