//! RFC 9728 protected-resource metadata: the document a resource server publishes, and the URL every
//! challenge points to. Built from configuration only — never from the request's `Host` header.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_service::Service;
use url::Url;

use crate::error::Error;
use crate::metadata::ProtectedResourceMetadata;

/// The RFC 9728 well-known suffix.
pub const PROTECTED_RESOURCE_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The path to serve the metadata of `resource` at (RFC 9728 §3.1: the well-known segment goes
/// between the host and the resource's path): `https://api.example/v2` → `/.well-known/oauth-protected-resource/v2`.
pub fn protected_resource_metadata_path(resource: &str) -> Result<String, Error> {
    let url = Url::parse(resource)
        .map_err(|e| Error::config(format!("the resource is not a URL: {e}")))?;
    Ok(format!(
        "{PROTECTED_RESOURCE_WELL_KNOWN}{}",
        url.path().trim_end_matches('/')
    ))
}

/// The absolute URL of `resource`'s metadata, for `resource_metadata="…"` in challenges.
pub fn protected_resource_metadata_url(resource: &str) -> Result<String, Error> {
    let mut url = Url::parse(resource)
        .map_err(|e| Error::config(format!("the resource is not a URL: {e}")))?;
    let path = protected_resource_metadata_path(resource)?;
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.to_string())
}

/// A Tower service answering `GET` with the metadata document (serialized once).
///
/// ```
/// use telnyx_oauth::ProtectedResourceMetadata;
/// use telnyx_oauth::verify::{ProtectedResourceRoute, protected_resource_metadata_path};
///
/// let mut metadata = ProtectedResourceMetadata::default();
/// metadata.resource = "https://api.example.com".into();
/// metadata.authorization_servers = Some(vec!["https://api.telnyx.com".into()]);
/// metadata.bearer_methods_supported = Some(vec!["header".into()]);
/// let route = ProtectedResourceRoute::new(&metadata);
/// let path = protected_resource_metadata_path(&metadata.resource)?;
/// assert_eq!(path, "/.well-known/oauth-protected-resource");
/// // axum: Router::new().route_service(&path, route)
/// # let _ = route;
/// # Ok::<(), telnyx_oauth::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProtectedResourceRoute {
    body: Arc<str>,
}

impl ProtectedResourceRoute {
    /// Serves `metadata`.
    pub fn new(metadata: &ProtectedResourceMetadata) -> Self {
        let body = serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned());
        Self { body: body.into() }
    }
}

impl<B> Service<Request<B>> for ProtectedResourceRoute {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut response = Response::new(String::new());
        if req.method() == Method::GET || req.method() == Method::HEAD {
            if req.method() == Method::GET {
                *response.body_mut() = self.body.to_string();
            }
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
        } else {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_rfc_9728_section_3_1() {
        assert_eq!(
            protected_resource_metadata_url("https://api.example.com").unwrap(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            protected_resource_metadata_url("https://api.example.com/v2/").unwrap(),
            "https://api.example.com/.well-known/oauth-protected-resource/v2"
        );
        assert_eq!(
            protected_resource_metadata_path("https://api.example.com/v2").unwrap(),
            "/.well-known/oauth-protected-resource/v2"
        );
        assert!(protected_resource_metadata_url("not a url").is_err());
    }
}
