//! [`BearerMiddleware`] for `reqwest-middleware` (feature `reqwest-middleware`).

use std::sync::Arc;

use http::Extensions;
use http::header::AUTHORIZATION;
use reqwest_middleware::{Middleware, Next, Result};

use super::authorize::{Verdict, authorize, judge, learn_nonce};
use super::error::BearerError;
use super::retry::{BearerConfig, provider_for_retry};
use super::select::SelectProvider;
use crate::provider::TokenProvider;

/// The same behaviour as [`BearerLayer`](super::BearerLayer), as a `reqwest_middleware::Middleware`.
///
/// ```
/// # fn demo(provider: telnyx_oauth::TokenProvider) {
/// use telnyx_oauth::bearer::BearerMiddleware;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(provider))
///     .build();
/// # let _ = client; }
/// ```
pub struct BearerMiddleware {
    selector: Arc<dyn SelectProvider>,
    config: BearerConfig,
}

impl std::fmt::Debug for BearerMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerMiddleware")
            .field("replace_existing", &self.config.replace_existing)
            .field("retry_on_401", &self.config.retry_on_401)
            .finish_non_exhaustive()
    }
}

impl BearerMiddleware {
    /// One provider for every request.
    pub fn new(provider: TokenProvider) -> Self {
        Self::from_selector(provider)
    }

    /// A provider chosen per request.
    pub fn from_selector(selector: impl SelectProvider) -> Self {
        Self {
            selector: Arc::new(selector),
            config: BearerConfig::default(),
        }
    }

    /// See [`BearerLayer::replace_existing`](super::BearerLayer::replace_existing).
    pub fn replace_existing(mut self, replace: bool) -> Self {
        self.config.replace_existing = replace;
        self
    }

    /// See [`BearerLayer::retry_on_401`](super::BearerLayer::retry_on_401).
    pub fn retry_on_401(mut self, retry: bool) -> Self {
        self.config.retry_on_401 = retry;
        self
    }
}

fn failed(err: BearerError<std::convert::Infallible>) -> reqwest_middleware::Error {
    match err {
        BearerError::Token(e) | BearerError::Dpop(e) => reqwest_middleware::Error::middleware(e),
        other => message_error(other.to_string()),
    }
}

/// An error carrying only a message, for failures that have no error value of their own.
fn message_error(message: String) -> reqwest_middleware::Error {
    #[derive(Debug)]
    struct Message(String);
    impl std::fmt::Display for Message {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Message {}
    reqwest_middleware::Error::middleware(Message(message))
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<reqwest::Response> {
        if !self.config.replace_existing && req.headers().contains_key(AUTHORIZATION) {
            return next.run(req, extensions).await;
        }
        let host = req.url().host_str().map(str::to_owned);
        let Some(provider) = self.selector.select(host.as_deref()) else {
            return Err(failed(BearerError::NoProvider { host }));
        };
        let token = provider
            .token()
            .await
            .map_err(|e| failed(BearerError::Token(e)))?;
        let replay = if self.config.retry_on_401 {
            req.try_clone()
        } else {
            None
        };
        let sent = authorize(&mut req, &token).map_err(|e| failed(BearerError::Dpop(e)))?;
        let response = next.clone().run(req, extensions).await?;
        let verdict = judge(
            &token,
            sent.as_deref(),
            response.status(),
            response.headers(),
            self.config.retry_on_401,
        );
        let token = match verdict {
            Verdict::Done => return Ok(response),
            Verdict::NewNonce => token,
            // Invalidate even when the request cannot be replayed, so the next one gets a fresh token.
            Verdict::Rejected => match provider_for_retry(&token) {
                Some(provider) if replay.is_some() => provider
                    .token()
                    .await
                    .map_err(|e| failed(BearerError::Token(e)))?,
                _ => return Ok(response),
            },
        };
        let Some(mut replay) = replay else {
            return Ok(response);
        };
        let sent = authorize(&mut replay, &token).map_err(|e| failed(BearerError::Dpop(e)))?;
        let response = next.run(replay, extensions).await?;
        // No second retry; the response may still bring a nonce for the next proofs.
        learn_nonce(&token, sent.as_deref(), response.headers());
        Ok(response)
    }
}
