//! [`VerifyLayer`]: protects any Tower HTTP service with bearer-token verification (RFC 6750).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, Response};
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use super::introspect::Introspector;
use super::response::{ChallengeConfig, Rejection};
use super::{ClaimsType, DpopMode, DpopReason, Verified, Verifier, VerifyError};

/// What [`VerifyLayer`] puts in the request extensions besides `Verified<C>`: the granted scopes and
/// the challenge settings, for [`RequireScopes`](super::RequireScopes) and extractors that answer
/// without knowing the claims type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScopes {
    scopes: Arc<[String]>,
    pub(crate) challenge: Arc<ChallengeConfig>,
}

impl GrantedScopes {
    /// Whether `scope` was granted.
    pub fn contains(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

type RejectHook = Arc<dyn Fn(&Rejection) -> Option<Response<String>> + Send + Sync>;

#[derive(Clone)]
enum Validator {
    Jwt(Verifier),
    Introspect(Introspector),
    /// JWT-shaped tokens (three dot-separated parts) locally, everything else by introspection.
    Combined(Verifier, Introspector),
}

impl Validator {
    /// `Authorization: DPoP`: JWTs only (an introspected token's binding is not checked here).
    async fn validate_dpop<C: ClaimsType>(
        &self,
        token: &str,
        method: &http::Method,
        url: &url::Url,
        headers: &HeaderMap,
    ) -> Result<Verified<C>, VerifyError> {
        match self {
            Validator::Jwt(v) | Validator::Combined(v, _) => {
                v.verify_dpop::<C>(token, method, url, headers).await
            }
            Validator::Introspect(_) => Err(VerifyError::Dpop(super::DpopReason::NotAccepted)),
        }
    }

    /// The `DPoP-Nonce` to hand out now, when server nonces are required.
    fn dpop_nonce(&self) -> Option<http::HeaderValue> {
        match self {
            Validator::Jwt(v) | Validator::Combined(v, _) => v.dpop_nonce(),
            Validator::Introspect(_) => None,
        }
    }

    async fn validate<C: ClaimsType>(&self, token: &str) -> Result<Verified<C>, VerifyError> {
        // Introspection is a network call: its (large) future is boxed, so that it does not enlarge
        // the future of every request that carries a JWT.
        match self {
            Validator::Jwt(v) => v.verify::<C>(token).await,
            Validator::Introspect(i) => Box::pin(i.introspect(token)).await?.into_typed(),
            Validator::Combined(v, i) => {
                if token.bytes().filter(|b| *b == b'.').count() == 2 {
                    v.verify::<C>(token).await
                } else {
                    Box::pin(i.introspect(token)).await?.into_typed()
                }
            }
        }
    }
}

struct LayerState {
    validator: Validator,
    challenge: Arc<ChallengeConfig>,
    optional: bool,
    on_reject: Option<RejectHook>,
    /// The URL clients address this service by, for DPoP's `htu`.
    external_url: Option<url::Url>,
    /// This route's DPoP rule, on top of the verifier's.
    dpop_mode: Option<DpopMode>,
}

/// Verifies the bearer token of every request: on success the inner service gets the request with
/// [`Verified<C>`](Verified), [`GrantedScopes`] and the [`ChallengeConfig`] in its extensions;
/// otherwise the layer answers as RFC 6750 §3 says (see the module docs).
pub struct VerifyLayer<C = Value> {
    shared: Arc<LayerState>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for VerifyLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for VerifyLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyLayer")
            .field("challenge", &self.shared.challenge)
            .field("optional", &self.shared.optional)
            .finish_non_exhaustive()
    }
}

impl VerifyLayer<Value> {
    /// Verifies JWT access tokens with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self::with(Validator::Jwt(verifier))
    }

    /// Validates opaque tokens by introspection.
    pub fn introspection(introspector: Introspector) -> Self {
        Self::with(Validator::Introspect(introspector))
    }

    /// JWT-shaped tokens locally with `verifier`, every other token by introspection.
    pub fn combined(verifier: Verifier, introspector: Introspector) -> Self {
        Self::with(Validator::Combined(verifier, introspector))
    }

    fn with(validator: Validator) -> Self {
        let dpop_algs = match &validator {
            Validator::Jwt(v) | Validator::Combined(v, _) => v.dpop_algs(),
            Validator::Introspect(_) => None,
        };
        Self {
            shared: Arc::new(LayerState {
                validator,
                challenge: Arc::new(ChallengeConfig::default().with_dpop_algs(dpop_algs)),
                optional: false,
                on_reject: None,
                external_url: None,
                dpop_mode: None,
            }),
            _claims: PhantomData,
        }
    }
}

impl<C> VerifyLayer<C> {
    fn edit(self, f: impl FnOnce(&mut LayerState)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|arc| LayerState {
            validator: arc.validator.clone(),
            challenge: arc.challenge.clone(),
            optional: arc.optional,
            on_reject: arc.on_reject.clone(),
            external_url: arc.external_url.clone(),
            dpop_mode: arc.dpop_mode,
        });
        f(&mut shared);
        Self {
            shared: Arc::new(shared),
            _claims: PhantomData,
        }
    }

    /// Deserializes the claims into `C2` (put in the extensions as `Verified<C2>`).
    pub fn claims<C2>(self) -> VerifyLayer<C2> {
        VerifyLayer {
            shared: self.shared,
            _claims: PhantomData,
        }
    }

    /// The `realm` of every challenge (default `api`).
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.edit(|s| Arc::make_mut(&mut s.challenge).realm = realm)
    }

    /// Adds `resource_metadata="<url>"` (RFC 9728 §5.1) to every challenge; see
    /// [`protected_resource_metadata_url`](super::protected_resource_metadata_url).
    pub fn resource_metadata(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.edit(|s| Arc::make_mut(&mut s.challenge).resource_metadata = Some(url))
    }

    /// Answers with RFC 9457 `application/problem+json` bodies (default: empty bodies).
    pub fn problem_json(self, on: bool) -> Self {
        self.edit(|s| Arc::make_mut(&mut s.challenge).problem_json = on)
    }

    /// Optional authentication: a request without bearer credentials passes through without
    /// `Verified` in its extensions; a request with a bad token is still refused.
    pub fn optional(self, optional: bool) -> Self {
        self.edit(|s| s.optional = optional)
    }

    /// The URL clients reach this service at (scheme, host, port, and the path prefix it is mounted
    /// under), for checking a DPoP proof's `htu`: the request's path is appended to it. Set it behind
    /// a proxy or TLS terminator. Without it the request's own URI is used when it is absolute (as in
    /// HTTP/2), else `https://` and the `Host` header.
    pub fn external_url(self, url: url::Url) -> Self {
        self.edit(|s| s.external_url = Some(url))
    }

    /// This route's DPoP rule, applied on top of the verifier's [`DpopPolicy`](super::DpopPolicy)
    /// (it can only narrow it): [`DpopMode::Required`] refuses bearer tokens here (`dpop_required`),
    /// [`DpopMode::Refused`] refuses `Authorization: DPoP` here (`dpop_not_accepted`),
    /// [`DpopMode::Allowed`] leaves the verifier's rule. E.g. one verifier for the service, and
    /// `Required` on the routes that move money.
    pub fn dpop_mode(self, mode: DpopMode) -> Self {
        self.edit(|s| s.dpop_mode = Some(mode))
    }

    /// The key health of every issuer the layer verifies for (empty for introspection only), for a
    /// readiness probe: ready when none is [`KeysHealth::Unavailable`](super::KeysHealth).
    pub fn health(&self) -> Vec<(String, super::KeysHealth)> {
        match &self.shared.validator {
            Validator::Jwt(v) | Validator::Combined(v, _) => v.health(),
            Validator::Introspect(_) => Vec::new(),
        }
    }

    /// Your own answer for a rejection; `None` keeps the standard one.
    pub fn on_reject(
        self,
        hook: impl Fn(&Rejection) -> Option<Response<String>> + Send + Sync + 'static,
    ) -> Self {
        let hook: RejectHook = Arc::new(hook);
        self.edit(|s| s.on_reject = Some(hook))
    }
}

impl<S, C> Layer<S> for VerifyLayer<C> {
    type Service = VerifyService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            shared: self.shared.clone(),
            _claims: PhantomData,
        }
    }
}

/// The service [`VerifyLayer`] produces.
pub struct VerifyService<S, C = Value> {
    inner: S,
    shared: Arc<LayerState>,
    _claims: PhantomData<fn() -> C>,
}

inner_service_accessors!(VerifyService<S, C>);

impl<S: Clone, C> Clone for VerifyService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for VerifyService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Whether `b` is an RFC 7235 token68 character (before any trailing `=`). Written as comparisons
/// rather than a table lookup so that the check of a whole token compiles to vector instructions:
/// tokens are long, and this runs on every request.
fn is_token68(b: u8) -> bool {
    // Non-short-circuit `|`: no branches, so the loop over a token vectorizes.
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// The authentication scheme of a request's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// The URL a request was addressed to, as a DPoP proof's `htu` names it.
fn request_url<B>(external: Option<&url::Url>, req: &Request<B>) -> Result<url::Url, Rejection> {
    let path = req.uri().path();
    let text = match (external, req.uri().scheme(), req.uri().authority()) {
        (Some(base), _, _) => format!("{}{path}", base.as_str().trim_end_matches('/')),
        (None, Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}"),
        (None, _, _) => {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or(Rejection::InvalidRequest(
                    "a DPoP request needs a Host header",
                ))?;
            format!("https://{host}{path}")
        }
    };
    url::Url::parse(&text).map_err(|_| Rejection::InvalidRequest("the request URL is not valid"))
}

/// The token of a request and its scheme (`Bearer` or `DPoP`): `Ok(None)` when there are no such
/// credentials. One pass over the token: its bytes are checked against the token68 table, which also
/// proves them ASCII.
pub(crate) fn credentials(headers: &HeaderMap) -> Result<Option<(Scheme, &str)>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(Rejection::InvalidRequest(
                "more than one Authorization header",
            ));
        }
        (Some(v), None) => v.as_bytes(),
    };
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, &[][..]),
    };
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        return Ok(None);
    };
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let end = rest
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let token = &rest[start..end.max(start)];
    if token.is_empty() {
        return Err(Rejection::InvalidRequest("the bearer token is empty"));
    }
    // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=": the padding is
    // counted from the end, and the rest checked in one pass with no early exit (vectorizable).
    let body = token.len() - token.iter().rev().take_while(|b| **b == b'=').count();
    let all_token68 = token[..body].iter().fold(true, |ok, b| ok & is_token68(*b));
    if body == 0 || !all_token68 {
        return Err(Rejection::InvalidRequest(
            "the bearer token is not a token68 value",
        ));
    }
    std::str::from_utf8(token)
        .map(|t| Some((scheme, t)))
        .map_err(|_| Rejection::InvalidRequest("the bearer token is not a token68 value"))
}

fn reject<B: From<String>>(shared: &LayerState, rejection: &Rejection) -> Response<B> {
    reject_under(shared, rejection, None)
}

/// The answer to a refused request; `scheme` is how its token came, when it came at all. A token
/// under `DPoP` is answered in the `DPoP` challenge, with the current server nonce when there is one.
fn reject_under<B: From<String>>(
    shared: &LayerState,
    rejection: &Rejection,
    scheme: Option<Scheme>,
) -> Response<B> {
    crate::observe::rejected(rejection.reason());
    tracing::debug!(
        reason = rejection.reason(),
        status = rejection.status().as_u16(),
        "request refused"
    );
    let dpop = scheme == Some(Scheme::Dpop);
    let mut response = match &shared.on_reject {
        Some(hook) => match hook(rejection) {
            Some(custom) => custom.map(B::from),
            None => shared.challenge.response_under(rejection, dpop),
        },
        None => shared.challenge.response_under(rejection, dpop),
    };
    if dpop && let Some(nonce) = shared.validator.dpop_nonce() {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
    response
}

/// The response header carrying a server's DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, C, B, ResBody> Service<Request<B>> for VerifyService<S, C>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: From<String> + Send + 'static,
    C: ClaimsType,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // The token is borrowed from the request while it is checked; no copy.
            let (scheme, result) = match credentials(req.headers()) {
                Ok(Some((Scheme::Bearer, _))) if shared.dpop_mode == Some(DpopMode::Required) => {
                    (Scheme::Bearer, Err(VerifyError::Dpop(DpopReason::Required)))
                }
                Ok(Some((Scheme::Dpop, _))) if shared.dpop_mode == Some(DpopMode::Refused) => (
                    Scheme::Dpop,
                    Err(VerifyError::Dpop(DpopReason::NotAccepted)),
                ),
                Ok(Some((Scheme::Bearer, token))) => {
                    (Scheme::Bearer, shared.validator.validate::<C>(token).await)
                }
                Ok(Some((Scheme::Dpop, token))) => {
                    let url = match request_url(shared.external_url.as_ref(), &req) {
                        Ok(url) => url,
                        Err(rejection) => return Ok(reject(&shared, &rejection)),
                    };
                    // Boxed: a proof check costs a signature anyway, and its state would enlarge
                    // the future of every bearer request.
                    let result = Box::pin(shared.validator.validate_dpop::<C>(
                        token,
                        req.method(),
                        &url,
                        req.headers(),
                    ))
                    .await;
                    (Scheme::Dpop, result)
                }
                Ok(None) if shared.optional => {
                    req.extensions_mut().insert(shared.challenge.clone());
                    return inner.call(req).await;
                }
                Ok(None) => return Ok(reject(&shared, &Rejection::MissingCredentials)),
                Err(rejection) => return Ok(reject(&shared, &rejection)),
            };
            match result {
                Ok(verified) => {
                    crate::observe::accepted();
                    let ext = req.extensions_mut();
                    ext.insert(GrantedScopes {
                        scopes: verified.shared_scopes(),
                        challenge: shared.challenge.clone(),
                    });
                    ext.insert(verified);
                    let nonce = match scheme {
                        Scheme::Dpop => shared.validator.dpop_nonce(),
                        Scheme::Bearer => None,
                    };
                    let mut response = inner.call(req).await?;
                    // Rolling nonces: every DPoP response names the current one (RFC 9449 §9).
                    if let Some(nonce) = nonce {
                        response.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    Ok(response)
                }
                Err(e) => match e.retry_after() {
                    Some(retry_after) => {
                        tracing::warn!(
                            reason = e.code(),
                            "bearer token not judged: verifier unavailable"
                        );
                        Ok(reject(&shared, &Rejection::Unavailable { retry_after }))
                    }
                    None => {
                        tracing::info!(reason = e.code(), "access token refused");
                        Ok(reject_under(
                            &shared,
                            &Rejection::InvalidToken(e),
                            Some(scheme),
                        ))
                    }
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
        credentials(headers).map(|c| c.map(|(_, t)| t))
    }

    #[test]
    fn the_dpop_scheme_is_told_apart() {
        assert_eq!(
            credentials(&headers(&["DPoP abc"])),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert_eq!(
            credentials(&headers(&["dpop abc"])),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert_eq!(
            credentials(&headers(&["Bearer abc"])),
            Ok(Some((Scheme::Bearer, "abc")))
        );
        assert_eq!(credentials(&headers(&["DPoPx abc"])), Ok(None));
    }

    #[test]
    fn the_request_url_comes_from_the_external_url_the_uri_or_the_host() {
        let req = |uri: &str, host: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(h) = host {
                b = b.header("host", h);
            }
            b.body(()).unwrap()
        };
        let base = url::Url::parse("https://api.example.com/prefix/").unwrap();
        assert_eq!(
            request_url(Some(&base), &req("/v1/x?q=1", Some("internal:8080")))
                .unwrap()
                .as_str(),
            "https://api.example.com/prefix/v1/x"
        );
        assert_eq!(
            request_url(None, &req("http://a.example:8080/v1/x", None))
                .unwrap()
                .as_str(),
            "http://a.example:8080/v1/x"
        );
        assert_eq!(
            request_url(None, &req("/v1/x", Some("b.example")))
                .unwrap()
                .as_str(),
            "https://b.example/v1/x"
        );
        assert!(request_url(None, &req("/v1/x", None)).is_err());
    }

    #[test]
    fn extracting_the_bearer_token() {
        assert_eq!(bearer_token(&headers(&[])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Basic dXNlcjpwdw=="])), Ok(None));
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_~+/=="])),
            Ok(Some("abc.def-_~+/=="))
        );
        assert_eq!(bearer_token(&headers(&["bEaReR abc"])), Ok(Some("abc")));
        assert!(matches!(
            bearer_token(&headers(&["Bearer"])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer    "])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a b"])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a\"b"])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer ==="])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(Rejection::InvalidRequest(_))
        ));
        // Padding only at the end.
        assert!(matches!(
            bearer_token(&headers(&["Bearer ab=c"])),
            Err(Rejection::InvalidRequest(_))
        ));
        assert_eq!(bearer_token(&headers(&["Bearer a="])), Ok(Some("a=")));
    }

    /// The branch-free character check is exactly RFC 7235's token68 set, for every byte.
    #[test]
    fn token68_characters_are_exactly_the_rfc_7235_set() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token68(b), rfc, "byte {b:#04x}");
        }
    }
}
