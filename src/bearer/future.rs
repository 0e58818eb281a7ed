//! The response future of [`Bearer`](super::Bearer): unboxed on the warm path, boxed only when a
//! token must be fetched or a 401 retried.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::StatusCode;
use http::header::AUTHORIZATION;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::challenge::bearer_token_rejected;
use super::error::BearerError;
use super::layer::Config;
use super::request::{BearerRequest, BearerResponse};
use crate::provider::{CachedToken, TokenProvider};

/// What the layer needs of the service it wraps: sendable, with a readable response. Implemented for
/// every such service; named once so the bounds are not repeated at each use.
pub trait InnerService<R>:
    Service<
        R,
        Response: BearerResponse + Send + 'static,
        Error: Send + 'static,
        Future: Send + 'static,
    > + Send
    + 'static
{
}

impl<S, R> InnerService<R> for S
where
    S: Service<R> + Send + 'static,
    S::Response: BearerResponse + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
}

type Boxed<S, R> = Pin<
    Box<
        dyn Future<
                Output = Result<<S as Service<R>>::Response, BearerError<<S as Service<R>>::Error>>,
            > + Send,
    >,
>;

/// What handling a 401 needs: the token that was sent (to invalidate it) and, when the request can be
/// replayed and retrying is on, a copy of the request and a service to send it with. The copy is boxed:
/// carried inline it would make every response future as large as a request, and moving that costs
/// more than one allocation (see BENCHMARKS.md).
pub(crate) struct RetryState<S, R: BearerRequest> {
    pub(crate) token: Arc<CachedToken>,
    pub(crate) replay: Option<Box<(R::Replay, S)>>,
}

pin_project! {
    /// The future returned by [`Bearer`](super::Bearer).
    pub struct ResponseFuture<S, R>
    where
        S: Service<R>,
        R: BearerRequest,
    {
        #[pin]
        state: State<S, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R>
    where
        S: Service<R>,
        R: BearerRequest,
    {
        Sent {
            #[pin]
            future: S::Future,
            retry: Option<RetryState<S, R>>,
        },
        Boxed {
            future: Boxed<S, R>,
        },
        Failed {
            error: Option<BearerError<S::Error>>,
        },
    }
}

impl<S: Service<R>, R: BearerRequest> ResponseFuture<S, R> {
    pub(crate) fn sent(future: S::Future, retry: Option<RetryState<S, R>>) -> Self {
        Self {
            state: State::Sent { future, retry },
        }
    }

    pub(crate) fn boxed(
        future: impl Future<Output = Result<S::Response, BearerError<S::Error>>> + Send + 'static,
    ) -> Self {
        Self {
            state: State::Boxed {
                future: Box::pin(future),
            },
        }
    }

    pub(crate) fn failed(error: BearerError<S::Error>) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<S, R> Future for ResponseFuture<S, R>
where
    R: BearerRequest,
    S: InnerService<R>,
{
    type Output = Result<S::Response, BearerError<S::Error>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Bounded: at most one transition from Sent to Boxed.
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Sent { future, retry } => {
                    let response = ready!(future.poll(cx)).map_err(BearerError::Inner)?;
                    match retry.take().and_then(|r| r.after(&response)) {
                        Some(again) => Box::pin(again) as Boxed<S, R>,
                        None => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::Boxed { future } => return future.as_mut().poll(cx),
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                        BearerError::Token(crate::Error::internal(
                            crate::ErrorClass::Permanent,
                            "future polled after completion",
                        ))
                    })));
                }
            };
            self.as_mut()
                .project()
                .state
                .set(State::Boxed { future: next });
        }
    }
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
    fn after(
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

/// The request when no warm token was at hand: wait for the provider, then send (and maybe retry).
pub(crate) async fn slow_path<S, R>(
    provider: TokenProvider,
    mut ready: S,
    mut request: R,
    config: Config,
) -> Result<S::Response, BearerError<S::Error>>
where
    R: BearerRequest,
    S: InnerService<R> + Clone,
{
    let token = provider.token().await.map_err(BearerError::Token)?;
    let replay = if config.retry_on_401 {
        request.try_replay()
    } else {
        None
    };
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.header().clone());
    let retry = config.retry_on_401.then(|| RetryState {
        token,
        replay: replay.map(|request| Box::new((request, ready.clone()))),
    });
    let response = ready.call(request).await.map_err(BearerError::Inner)?;
    match retry.and_then(|r| r.after(&response)) {
        Some(again) => again.await,
        None => Ok(response),
    }
}
