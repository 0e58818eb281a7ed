//! The request did not get a complete response.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Error;

/// What kind of network failure a [`TransportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed (e.g. an untrusted certificate). Not transient.
    Tls,
    /// The attempt did not finish within its timeout.
    Timeout,
    /// The connection broke while sending the request or reading the response.
    Io,
}

/// The request did not get a complete response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportError {
    /// What failed.
    pub kind: TransportErrorKind,
    /// The endpoint, without query string or user info.
    pub endpoint: String,
    /// The timeout that elapsed, for [`TransportErrorKind::Timeout`].
    pub timeout: Option<Duration>,
    pub(crate) source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn build(
        kind: TransportErrorKind,
        url: &url::Url,
        source: Option<Arc<dyn StdError + Send + Sync>>,
    ) -> Error {
        Error::Transport(Box::new(TransportError {
            kind,
            endpoint: endpoint_label(url),
            timeout: None,
            source,
        }))
    }

    pub(crate) fn timeout_of(what: &str, after: Duration) -> Error {
        Error::Transport(Box::new(TransportError {
            kind: TransportErrorKind::Timeout,
            endpoint: what.to_owned(),
            timeout: Some(after),
            source: None,
        }))
    }

    pub(crate) fn timeout(url: &url::Url, after: Duration) -> Error {
        Error::Transport(Box::new(TransportError {
            kind: TransportErrorKind::Timeout,
            endpoint: endpoint_label(url),
            timeout: Some(after),
            source: None,
        }))
    }
}

/// `scheme://host[:port]/path` — never the query string or user info, which may hold credentials.
pub(crate) fn endpoint_label(url: &url::Url) -> String {
    let mut label = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        label.push_str(&format!(":{port}"));
    }
    label.push_str(url.path());
    label
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "could not connect to",
            TransportErrorKind::Tls => "TLS handshake failed with",
            TransportErrorKind::Timeout => "timed out waiting for",
            TransportErrorKind::Io => "connection failed while talking to",
        };
        write!(f, "{what} {}", self.endpoint)?;
        if let Some(t) = self.timeout {
            write!(f, " (after {} ms)", t.as_millis())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_label_drops_query_and_userinfo() {
        let url = url::Url::parse("https://user:pw@as.example:8443/oauth/token?secret=1").unwrap();
        assert_eq!(endpoint_label(&url), "https://as.example:8443/oauth/token");
    }
}
