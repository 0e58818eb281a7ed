//! What the layer needs from a request and a response, for `http` types and for reqwest's own.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};

/// A request whose headers the layer can set, and that it may be able to send twice.
pub trait BearerRequest: Send + 'static {
    /// The request headers.
    fn headers(&self) -> &HeaderMap;
    /// The request headers, to set `Authorization`.
    fn headers_mut(&mut self) -> &mut HeaderMap;
    /// The target host, for choosing a provider per request.
    fn host(&self) -> Option<&str>;
    /// A copy to send again after a 401, when the body can be replayed; `None` otherwise.
    fn try_replay(&self) -> Option<Self>
    where
        Self: Sized;
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
    fn headers(&self) -> &HeaderMap {
        Request::headers(self)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        Request::headers_mut(self)
    }

    fn host(&self) -> Option<&str> {
        self.uri().host()
    }

    fn try_replay(&self) -> Option<Self> {
        let body = self.body().try_clone_body()?;
        let mut copy = Request::new(body);
        *copy.method_mut() = self.method().clone();
        *copy.uri_mut() = self.uri().clone();
        *copy.version_mut() = self.version();
        *copy.headers_mut() = Request::headers(self).clone();
        *copy.extensions_mut() = self.extensions().clone();
        Some(copy)
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
    fn headers(&self) -> &HeaderMap {
        reqwest::Request::headers(self)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        reqwest::Request::headers_mut(self)
    }

    fn host(&self) -> Option<&str> {
        self.url().host_str()
    }

    fn try_replay(&self) -> Option<Self> {
        self.try_clone()
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
