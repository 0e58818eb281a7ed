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

/// No verified token in the request.
///
/// Behind a [`VerifyLayer`](super::VerifyLayer) (an optional one let a request without a token
/// through) it answers 401 with the layer's challenge. Without any `VerifyLayer` in front of the
/// handler it answers **500**: that is a bug in the server's routing, not a client that failed to
/// authenticate (axum answers a missing extension the same way).
#[derive(Debug, Clone)]
pub struct ClaimsRejection {
    /// The layer's challenge; `None` when no layer ran.
    config: Option<Arc<ChallengeConfig>>,
}

impl ClaimsRejection {
    /// Whether the rejection comes from a missing `VerifyLayer` (a server bug, answered 500).
    pub fn is_missing_layer(&self) -> bool {
        self.config.is_none()
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match self.config {
            Some(config) => config.response(&Rejection::MissingCredentials),
            None => {
                tracing::error!("a handler extracts Claims but no VerifyLayer runs in front of it");
                (
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "Missing request extension: the Claims extractor needs a VerifyLayer in front of the handler",
                )
                    .into_response()
            }
        }
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
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
                    .or_else(|| parts.extensions.get::<Arc<ChallengeConfig>>().cloned()),
            }),
        }
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Verified<C>>().cloned().map(Claims))
    }
}
