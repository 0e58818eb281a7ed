//! The retry policy: what the layer and the middleware are configured to do, and how a 401 is
//! handled — one that rejected the token invalidates it (rate limited by the provider) and sends a
//! replayable request once more with a fresh token; one that asks for a DPoP nonce sends it once more
//! with the same token and a proof carrying the nonce.

use std::future::{Future, poll_fn};
use std::sync::Arc;

use super::authorize::{ProofSent, Verdict, authorize, judge, learn_nonce};
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

/// What reading the response needs: the token that was sent (to invalidate it), the DPoP proof it
/// went with (to learn the server's nonce), and, when the request can be replayed and retrying is on,
/// a copy of the request and a service to send it with. The copy is boxed: carried inline it would
/// make every response future as large as a request, and moving that costs more than one allocation
/// (see BENCHMARKS.md).
pub(crate) struct RetryState<S, R: BearerRequest> {
    pub(crate) token: Arc<CachedToken>,
    pub(crate) replay: Option<Box<(R::Replay, S)>>,
    pub(crate) sent: Option<Box<ProofSent>>,
    /// Whether 401s are handled (`retry_on_401`); off, the response is only read for DPoP nonces.
    pub(crate) handle_401: bool,
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
        let verdict = judge(
            &self.token,
            self.sent.as_deref(),
            response.status(),
            response.headers(),
            self.handle_401,
        );
        let provider = match verdict {
            Verdict::Done => return None,
            Verdict::NewNonce => None,
            Verdict::Rejected => Some(provider_for_retry(&self.token)?),
        };
        let (replay, mut service) = *self.replay?;
        let mut request = R::from_replay(replay);
        let same = self.token;
        Some(async move {
            let token = match provider {
                Some(provider) => provider.token().await.map_err(BearerError::Token)?,
                None => same,
            };
            let sent = authorize(&mut request, &token).map_err(BearerError::Dpop)?;
            tracing::debug!(
                generation = token.generation(),
                ?verdict,
                "retrying once after a 401"
            );
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(BearerError::Inner)?;
            let response = service.call(request).await.map_err(BearerError::Inner)?;
            // No second retry; the response may still bring a nonce for the next proofs.
            learn_nonce(&token, sent.as_deref(), response.headers());
            Ok(response)
        })
    }
}
