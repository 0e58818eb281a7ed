//! What the layer needs from a request, a response and the service it wraps, for `http` types and
//! for reqwest's own.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use tower_service::Service;
use url::Url;

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

/// A request whose headers the layer can set, and that it may be able to send twice.
pub trait BearerRequest: Sized + Send + 'static {
    /// What is kept of a request to send it again after a 401. It is taken for every request (while
    /// retrying is on) and turned back into a request only for a retry, so it should be cheap to take.
    type Replay: Send + 'static;
    /// The request headers.
    fn headers(&self) -> &HeaderMap;
    /// The request headers, to set `Authorization`.
    fn headers_mut(&mut self) -> &mut HeaderMap;
    /// The target host, for choosing a provider per request.
    fn host(&self) -> Option<&str>;
    /// The request method, for a DPoP proof's `htm`.
    fn method(&self) -> &Method;
    /// The absolute request URL, for a DPoP proof's `htu`; `None` when the request names only a path
    /// (a request for a DPoP-bound token is then not sent: the proof must name where it goes).
    fn url(&self) -> Option<Url>;
    /// What is needed to send this request again, when its body can be replayed; `None` otherwise.
    fn try_replay(&self) -> Option<Self::Replay>;
    /// The request again, from what [`try_replay`](Self::try_replay) kept.
    fn from_replay(replay: Self::Replay) -> Self;
}

/// What is kept of an `http::Request` to send it again: its parts, taken without building a
/// request (most are reference-counted, and empty header maps are not copied).
pub struct HttpReplay<B> {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: HeaderMap,
    extensions: http::Extensions,
    body: B,
}

impl<B> std::fmt::Debug for HttpReplay<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may carry credentials of their own: only their count is shown.
        f.debug_struct("HttpReplay")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &self.headers.len())
            .finish_non_exhaustive()
    }
}

/// A response whose status and headers the layer can read.
pub trait BearerResponse {
    /// The status code.
    fn status(&self) -> StatusCode;
    /// The response headers.
    fn headers(&self) -> &HeaderMap;
}

/// A body that may be sent again: `Some(copy)` for buffered bodies, `None` for streams.
///
/// Implemented for the buffered bodies of `http-body-util` and for byte containers; streaming bodies
/// answer `None`, and a request carrying one is never retried. Implement it for your own body type
/// in one line.
///
/// While retrying is on, every request's body is kept this way until its response arrives: `Bytes`,
/// `Full<Bytes>` and static slices share their bytes, but `String` and `Vec<u8>` bodies are copied —
/// prefer `Bytes` for large bodies, or switch the retry off.
pub trait ReplayBody: Sized {
    /// A copy of the body, or `None` if it cannot be replayed.
    fn try_clone_body(&self) -> Option<Self>;
}

macro_rules! replay_by_clone {
    ($($t:ty),* $(,)?) => {$(
        impl ReplayBody for $t {
            fn try_clone_body(&self) -> Option<Self> {
                Some(self.clone())
            }
        }
    )*};
}

replay_by_clone!(String, Vec<u8>, Bytes, &'static str, &'static [u8], ());

impl<D: Clone> ReplayBody for http_body_util::Full<D> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for http_body_util::Empty<D> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(http_body_util::Empty::new())
    }
}

impl<D, E> ReplayBody for http_body_util::combinators::BoxBody<D, E> {
    fn try_clone_body(&self) -> Option<Self> {
        None
    }
}

impl<D, E> ReplayBody for http_body_util::combinators::UnsyncBoxBody<D, E> {
    fn try_clone_body(&self) -> Option<Self> {
        None
    }
}

/// gRPC requests are never replayed (and gRPC reports authentication failures in trailers, not as 401).
#[cfg(feature = "tonic")]
impl ReplayBody for tonic::body::Body {
    fn try_clone_body(&self) -> Option<Self> {
        None
    }
}

impl<L: ReplayBody, R: ReplayBody> ReplayBody for http_body_util::Either<L, R> {
    fn try_clone_body(&self) -> Option<Self> {
        match self {
            http_body_util::Either::Left(l) => l.try_clone_body().map(http_body_util::Either::Left),
            http_body_util::Either::Right(r) => {
                r.try_clone_body().map(http_body_util::Either::Right)
            }
        }
    }
}

impl<B: ReplayBody + Send + 'static> BearerRequest for Request<B> {
    type Replay = HttpReplay<B>;

    fn headers(&self) -> &HeaderMap {
        Request::headers(self)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        Request::headers_mut(self)
    }

    fn host(&self) -> Option<&str> {
        self.uri().host()
    }

    fn method(&self) -> &Method {
        Request::method(self)
    }

    fn url(&self) -> Option<Url> {
        let uri = self.uri();
        if uri.scheme().is_none() || uri.authority().is_none() {
            return None;
        }
        Url::parse(&uri.to_string()).ok()
    }

    #[inline]
    fn try_replay(&self) -> Option<HttpReplay<B>> {
        let body = self.body().try_clone_body()?;
        let headers = Request::headers(self);
        Some(HttpReplay {
            method: self.method().clone(),
            uri: self.uri().clone(),
            version: self.version(),
            // Cloning even an empty map costs more than making a new one.
            headers: if headers.is_empty() {
                HeaderMap::new()
            } else {
                headers.clone()
            },
            extensions: self.extensions().clone(),
            body,
        })
    }

    fn from_replay(replay: HttpReplay<B>) -> Self {
        let mut request = Request::new(replay.body);
        *request.method_mut() = replay.method;
        *request.uri_mut() = replay.uri;
        *request.version_mut() = replay.version;
        *request.headers_mut() = replay.headers;
        *request.extensions_mut() = replay.extensions;
        request
    }
}

impl<B> BearerResponse for Response<B> {
    fn status(&self) -> StatusCode {
        Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        Response::headers(self)
    }
}

impl BearerRequest for reqwest::Request {
    type Replay = reqwest::Request;

    fn headers(&self) -> &HeaderMap {
        reqwest::Request::headers(self)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        reqwest::Request::headers_mut(self)
    }

    fn host(&self) -> Option<&str> {
        reqwest::Request::url(self).host_str()
    }

    fn method(&self) -> &Method {
        reqwest::Request::method(self)
    }

    fn url(&self) -> Option<Url> {
        Some(reqwest::Request::url(self).clone())
    }

    fn try_replay(&self) -> Option<Self> {
        self.try_clone()
    }

    fn from_replay(replay: Self) -> Self {
        replay
    }
}

impl BearerResponse for reqwest::Response {
    fn status(&self) -> StatusCode {
        reqwest::Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        reqwest::Response::headers(self)
    }
}
