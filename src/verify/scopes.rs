//! Per-route authorization behind [`VerifyLayer`](super::VerifyLayer): required scopes, or any
//! predicate on the verified claims; answers 403 `insufficient_scope` (RFC 6750 §3.1).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use super::Verified;
use super::layer::GrantedScopes;
use super::response::{ChallengeConfig, Rejection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Any,
}

type Predicate<C> = Arc<dyn Fn(&Verified<C>) -> bool + Send + Sync>;

enum Check<C> {
    Scopes(Mode, Arc<[String]>),
    Claims(Predicate<C>),
}

impl<C> Clone for Check<C> {
    fn clone(&self) -> Self {
        match self {
            Check::Scopes(m, s) => Check::Scopes(*m, s.clone()),
            Check::Claims(p) => Check::Claims(p.clone()),
        }
    }
}

/// Requires scopes (or a claims predicate) on a route or router behind `VerifyLayer`.
///
/// ```
/// use telnyx_oauth::verify::RequireScopes;
///
/// let read = RequireScopes::all(["messages.read"]);
/// let admin_or_owner = RequireScopes::any(["admin", "owner"]);
/// # let _ = (read, admin_or_owner);
/// ```
pub struct RequireScopes<C = Value> {
    check: Check<C>,
}

impl<C> Clone for RequireScopes<C> {
    fn clone(&self) -> Self {
        Self {
            check: self.check.clone(),
        }
    }
}

impl<C> std::fmt::Debug for RequireScopes<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.check {
            Check::Scopes(mode, scopes) => f
                .debug_struct("RequireScopes")
                .field("mode", mode)
                .field("scopes", scopes)
                .finish(),
            Check::Claims(_) => f
                .debug_struct("RequireScopes")
                .field("predicate", &"..")
                .finish(),
        }
    }
}

impl RequireScopes<Value> {
    /// Every one of `scopes` must be granted.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            check: Check::Scopes(Mode::All, scopes.into_iter().map(Into::into).collect()),
        }
    }

    /// At least one of `scopes` must be granted.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            check: Check::Scopes(Mode::Any, scopes.into_iter().map(Into::into).collect()),
        }
    }
}

impl<C: Send + Sync + 'static> RequireScopes<C> {
    /// A custom check on the verified claims (of the type the `VerifyLayer` deserializes); `false`
    /// answers 403 `insufficient_scope`.
    pub fn predicate(check: impl Fn(&Verified<C>) -> bool + Send + Sync + 'static) -> Self {
        Self {
            check: Check::Claims(Arc::new(check)),
        }
    }
}

impl<S, C> Layer<S> for RequireScopes<C> {
    type Service = RequireScopesService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            check: self.check.clone(),
            _claims: PhantomData,
        }
    }
}

/// The service [`RequireScopes`] produces.
pub struct RequireScopesService<S, C = Value> {
    inner: S,
    check: Check<C>,
    _claims: PhantomData<fn() -> C>,
}

inner_service_accessors!(RequireScopesService<S, C>);

impl<S: Clone, C> Clone for RequireScopesService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            check: self.check.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for RequireScopesService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScopesService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The future of [`RequireScopesService`].
    pub struct ScopeFuture<F, R> {
        #[pin]
        state: State<F, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, R> {
        Inner { #[pin] future: F },
        Refused { response: Option<R> },
    }
}

impl<F, R, E> Future for ScopeFuture<F, R>
where
    F: Future<Output = Result<R, E>>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Refused { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                // Polled after completion: stay pending rather than panic.
                None => Poll::Pending,
            },
        }
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for RequireScopesService<S, C>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<String>,
    C: Send + Sync + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ScopeFuture<S::Future, Response<ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let refusal = match &self.check {
            Check::Scopes(mode, required) => match req.extensions().get::<GrantedScopes>() {
                None => Some(Rejection::MissingCredentials),
                Some(granted) => {
                    let ok = match mode {
                        Mode::All => required.iter().all(|s| granted.contains(s)),
                        Mode::Any => required.iter().any(|s| granted.contains(s)),
                    };
                    (!ok).then(|| Rejection::InsufficientScope {
                        required: required.to_vec(),
                    })
                }
            },
            Check::Claims(predicate) => match req.extensions().get::<Verified<C>>() {
                None => Some(Rejection::MissingCredentials),
                Some(v) => (!predicate(v)).then(|| Rejection::InsufficientScope {
                    required: Vec::new(),
                }),
            },
        };
        match refusal {
            None => ScopeFuture {
                state: State::Inner {
                    future: self.inner.call(req),
                },
            },
            Some(rejection) => {
                let ext = req.extensions();
                let config = ext
                    .get::<GrantedScopes>()
                    .map(|g| g.challenge.clone())
                    .or_else(|| ext.get::<Arc<ChallengeConfig>>().cloned())
                    .unwrap_or_default();
                tracing::debug!(reason = rejection.reason(), "route requirement not met");
                ScopeFuture {
                    state: State::Refused {
                        response: Some(config.response(&rejection)),
                    },
                }
            }
        }
    }
}
