//! The retry policy: what the layer and the middleware are configured to do, and how a 401 that
//! rejected the token is handled — invalidate it (rate limited by the provider) and send a replayable
//! request once more with a fresh token.

use std::future::{Future, poll_fn};
use std::sync::Arc;

use http::StatusCode;
use http::header::AUTHORIZATION;

use super::challenge::bearer_token_rejected;
use super::error::BearerError;
use super::request::{BearerRequest, BearerResponse, InnerService};
use crate::provider::{CachedToken, TokenProvider};

/// What a `BearerLayer` or `BearerMiddleware` is told to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BearerConfig {
    pub(crate) replace_existing: bool,
    pub(crate) retry_on_401: bool,
}

impl Default for BearerConfig {
    fn default() -> Self {
        Self {
            replace_existing: false,
            retry_on_401: true,
        }
    }
}

/// What handling a 401 needs: the token that was sent (to invalidate it) and, when the request can be
/// replayed and retrying is on, a copy of the request and a service to send it with. The copy is boxed:
/// carried inline it would make every response future as large as a request, and moving that costs
/// more than one allocation (see BENCHMARKS.md).
pub(crate) struct RetryState<S, R: BearerRequest> {
    pub(crate) token: Arc<CachedToken>,
    pub(crate) replay: Option<Box<(R::Replay, S)>>,
}

/// The provider to ask for a new token after `sent` was rejected, or `None` when retrying would only
/// resend the same token (the provider refused to invalidate it within its rate limit) or the
/// provider is gone.
pub(crate) fn provider_for_retry(sent: &CachedToken) -> Option<TokenProvider> {
    let provider = sent.provider()?;
    provider.invalidate(sent);
    match provider.cached() {
        Some(current) if current.generation() == sent.generation() => None,
        _ => Some(provider),
    }
}

/// Whether a response is a 401 that rejected the bearer token (RFC 6750 §3.1).
pub(crate) fn token_rejected(status: StatusCode, headers: &http::HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED && bearer_token_rejected(headers)
}

impl<S, R> RetryState<S, R>
where
    R: BearerRequest,
    S: InnerService<R>,
{
    /// After the first response: the retry to run instead of returning it, if any. A 401 that rejected
    /// the token invalidates it even when the request cannot be retried, so the next request gets a
    /// fresh one.
    pub(crate) fn after(
        self,
        response: &S::Response,
    ) -> Option<impl Future<Output = Result<S::Response, BearerError<S::Error>>> + Send + 'static>
    {
        if !token_rejected(response.status(), response.headers()) {
            return None;
        }
        let provider = provider_for_retry(&self.token)?;
        let (replay, mut service) = *self.replay?;
        let mut request = R::from_replay(replay);
        Some(async move {
            let token = provider.token().await.map_err(BearerError::Token)?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, token.header().clone());
            tracing::debug!(generation = token.generation(), "retrying once after a 401");
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(BearerError::Inner)?;
            service.call(request).await.map_err(BearerError::Inner)
        })
    }
}
