//! A typed client for every OAuth endpoint of the Telnyx API: discovery, authorize URL (PKCE),
//! consent, introspection, JWKS, dynamic registration, the token endpoint, and OAuth client and grant
//! management with auto-paging streams — retried like Telnyx's own SDKs, with both error formats typed.
//!
//! ```no_run
//! use telnyx_oauth::api::{ClientCreate, ClientType, GrantType, Telnyx};
//!
//! # async fn run() -> Result<(), telnyx_oauth::Error> {
//! let telnyx = Telnyx::from_env()?;
//! let created = telnyx
//!     .clients()
//!     .create(&ClientCreate::new(
//!         "billing-sync",
//!         ClientType::Confidential,
//!         [GrantType::ClientCredentials],
//!         ["billing.read"],
//!     ))
//!     .await?;
//! telnyx.clients().delete(&created.client_id).await?;
//! # Ok(()) }
//! ```
//!
//! Differences the contract leaves open are settings, not guesses: management paths default to the
//! spec's `/oauth_clients` and `/oauth_grants` ([`ManagementPaths::Slash`] selects `/oauth/clients`),
//! and errors are parsed as OAuth bodies (`{error, error_description, invalid_fields}`) or Telnyx
//! bodies (`{errors:[…]}`), whichever arrives.

mod authorize;
mod client;
mod management;
mod oauth;
mod pagination;
mod types;

pub use authorize::{AuthorizeRequest, PendingAuthorization};
pub use client::{
    Credentials, DEFAULT_API_TIMEOUT, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER, MAX_RETRY_DELAY, ManagementPaths, RetryPolicy, Telnyx, TelnyxBuilder,
};
pub use management::{ClientCreate, ClientListQuery, ClientUpdate, Clients, Grants};
pub use oauth::RegistrationRequest;
pub use pagination::{ListStream, MAX_PAGES};
pub use types::{
    ClientType, ConsentInfo, GrantType, IntrospectionResponse, Jwk, JwkSet, OAuthClient,
    OAuthGrant, Page, PaginationMeta, Registration, RequestedScope, TokenEndpointAuthMethod,
};
