//! axum extractors (feature `axum`): a handler that takes [`Claims<C>`] needs a verified token; one that
//! takes `Option<Claims<C>>` accepts requests without one (behind an optional [`VerifyLayer`]).
//!
//! ```
//! use axum::{Router, routing::get};
//! use telnyx_oauth::verify::Claims;
//!
//! async fn me(Claims(verified): Claims) -> String {
//!     format!("hello {}", verified.subject().unwrap_or("anonymous"))
//! }
//! async fn maybe(claims: Option<Claims>) -> &'static str {
//!     if claims.is_some() { "with a token" } else { "without a token" }
//! }
//! // Put `VerifyLayer` around these routes (optional for `/maybe`).
//! let app: Router = Router::new().route("/me", get(me)).route("/maybe", get(maybe));
//! # let _ = app;
//! ```
//!
//! [`VerifyLayer`]: super::VerifyLayer

use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use serde_json::Value;

use super::Verified;
use super::layer::GrantedScopes;
use super::response::{ChallengeConfig, Rejection};

/// The verified token of the request, with claims of type `C` (as the `VerifyLayer` was told).
#[derive(Debug, Clone)]
pub struct Claims<C = Value>(pub Verified<C>);

impl<C> std::ops::Deref for Claims<C> {
    type Target = Verified<C>;
    fn deref(&self) -> &Verified<C> {
        &self.0
    }
}

/// No verified token in the request: answers 401 with the layer's challenge.
#[derive(Debug, Clone)]
pub struct ClaimsRejection {
    config: Arc<ChallengeConfig>,
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        self.config.response(&Rejection::MissingCredentials)
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Verified<C>>() {
            Some(v) => Ok(Claims(v.clone())),
            None => Err(ClaimsRejection {
                config: parts
                    .extensions
                    .get::<GrantedScopes>()
                    .map(|g| g.challenge.clone())
                    .or_else(|| parts.extensions.get::<Arc<ChallengeConfig>>().cloned())
                    .unwrap_or_default(),
            }),
        }
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Verified<C>>().cloned().map(Claims))
    }
}
