//! [`BearerLayer`]: a Tower layer that puts `Authorization: Bearer <token>` on outbound requests from a
//! [`TokenProvider`](crate::TokenProvider) — or `Authorization: DPoP <token>` and a fresh proof for a
//! DPoP-bound token — and retries once after a 401 that rejected the token.
//!
//! It wraps any `Service<http::Request<B>>` whose body type `B` implements [`ReplayBody`] — hyper-util's
//! client, tower-http stacks, tonic channels (feature `tonic`) — and `reqwest::Client` itself (a
//! `Service<reqwest::Request>`); reqwest-middleware users get `BearerMiddleware` behind the
//! `reqwest-middleware` feature.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use http_body_util::Empty;
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use telnyx_oauth::bearer::BearerLayer;
//! # use telnyx_oauth::{AccessToken, Token, TokenProvider};
//! # use telnyx_oauth::provider::{BoxFuture, TokenSource};
//! # struct Fixed;
//! # impl TokenSource for Fixed {
//! #     fn fetch<'a>(&'a self, _: Option<&'a Token>) -> BoxFuture<'a, Result<Token, telnyx_oauth::Error>> {
//! #         Box::pin(async { Ok(Token::new(AccessToken::new("abc"), std::time::Duration::from_secs(3600), tokio::time::Instant::now())) })
//! #     }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let provider = TokenProvider::from_source(Fixed, None).build()?;
//! // `provider` is a TokenProvider (e.g. TokenProvider::client_credentials(...)).
//! let client = ServiceBuilder::new()
//!     .layer(BearerLayer::new(provider))
//!     .service(service_fn(|req: Request<Empty<Bytes>>| async move {
//!         // Stands in for hyper-util's client: the header is there, marked sensitive.
//!         let auth = req.headers()["authorization"].clone();
//!         assert!(auth.is_sensitive());
//!         Ok::<_, Infallible>(Response::new(auth.to_str().unwrap().to_owned()))
//!     }));
//! let response = client.oneshot(Request::new(Empty::new())).await?;
//! assert_eq!(response.body(), "Bearer abc");
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! - A request that already carries `Authorization` passes through untouched (unless
//!   [`replace_existing`](BearerLayer::replace_existing)).
//! - `poll_ready` is the inner service's; the token is taken in `call` — at once when the provider has a
//!   fresh one (no boxed future on that path), else inside the response future, after which the readied
//!   inner service is called (it is taken out and a clone left behind, as Tower prescribes).
//! - No token, no request: when the provider fails, the request is not sent and the caller gets
//!   [`BearerError::Token`]; the inner service's errors arrive as [`BearerError::Inner`].
//! - A 401 whose `WWW-Authenticate` is `Bearer` with `error="invalid_token"` or no error code (or a 401
//!   with no challenge at all) invalidates the token that was sent — only if it is still the provider's
//!   current token, so concurrent 401s cause one refresh — and the request is sent once more with a
//!   fresh token. Only replayable requests are retried (empty and buffered bodies, see [`ReplayBody`];
//!   reqwest requests that `try_clone()`); a 403, a 401 for another scheme, or a second 401 is returned
//!   as is.
//! - **DPoP** (RFC 9449): when the provider's token is DPoP-bound (its endpoint has a
//!   [`DpopKey`](crate::dpop::DpopKey)), each request gets `Authorization: DPoP <token>` and a `DPoP`
//!   header with a fresh proof: `htm` the method, `htu` the URL without query or fragment, `ath` the
//!   token's hash, and the latest nonce the request's origin sent. Nonces are learned from every
//!   response (per origin, shared with the token endpoint). A 401 whose `DPoP` challenge says
//!   `error="use_dpop_nonce"` and brings a new `DPoP-Nonce` is sent once more with the same token
//!   and a proof carrying that nonce — one retry in all, under the same replay rules as above. A
//!   `DPoP` challenge with `invalid_token` (or none) rejects the token as for Bearer; a server that
//!   only challenges `Bearer` is not asking for a new DPoP token. The request must have an absolute
//!   URI (the proof names it); one with only a path fails with [`BearerError::Dpop`], unsent.
//! - Cost: with [`retry_on_401(false)`](BearerLayer::retry_on_401) the warm path is a token read and a
//!   header clone, and allocates nothing beyond what inserting the header does. With the retry on (the
//!   default) each replayable request is copied before it is sent — one small allocation plus a clone
//!   of its header map — because after a 401 there is no other way to send it again.

mod authorize;
mod challenge;
mod error;
mod future;
mod layer;
#[cfg(feature = "reqwest-middleware")]
mod middleware;
mod request;
mod retry;
mod select;
mod service;

pub use challenge::{Challenge, parse_challenges};
pub use error::BearerError;
pub use future::ResponseFuture;
pub use layer::BearerLayer;
#[cfg(feature = "reqwest-middleware")]
pub use middleware::BearerMiddleware;
pub use request::{BearerRequest, BearerResponse, HttpReplay, InnerService, ReplayBody};
pub use select::{ByHost, SelectProvider};
pub use service::Bearer;
