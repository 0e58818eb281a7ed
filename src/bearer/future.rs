//! The response future of [`Bearer`](super::Bearer): unboxed on the warm path, boxed only when a
//! token must be fetched or a 401 retried.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::authorize::authorize;
use super::error::BearerError;
use super::request::{BearerRequest, InnerService};
use super::retry::{BearerConfig, RetryState};
use crate::provider::TokenProvider;

type Boxed<S, R> = Pin<
    Box<
        dyn Future<
                Output = Result<<S as Service<R>>::Response, BearerError<<S as Service<R>>::Error>>,
            > + Send,
    >,
>;

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

/// The request when no warm token was at hand: wait for the provider, then send (and maybe retry).
pub(crate) async fn slow_path<S, R>(
    provider: TokenProvider,
    mut ready: S,
    mut request: R,
    config: BearerConfig,
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
    let sent = authorize(&mut request, &token).map_err(BearerError::Dpop)?;
    let retry = RetryState {
        token,
        replay: replay.map(|request| Box::new((request, ready.clone()))),
        sent,
        handle_401: config.retry_on_401,
    };
    let response = ready.call(request).await.map_err(BearerError::Inner)?;
    match retry.after(&response) {
        Some(again) => again.await,
        None => Ok(response),
    }
}
