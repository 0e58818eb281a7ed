//! Choosing the token provider for a request: one provider for everything, or one per host.

use std::collections::HashMap;

use crate::provider::TokenProvider;

/// Chooses the [`TokenProvider`] for a request from its target host. `None` means "no provider for
/// this request": the layer then fails the request with [`BearerError::NoProvider`](super::BearerError)
/// instead of sending it without credentials.
pub trait SelectProvider: Send + Sync + 'static {
    /// The provider for a request to `host`.
    fn select(&self, host: Option<&str>) -> Option<&TokenProvider>;

    /// The provider when it does not depend on the request at all, so the layer can skip looking at
    /// the request's host. The default says it does depend on it.
    #[inline]
    fn only(&self) -> Option<&TokenProvider> {
        None
    }
}

impl SelectProvider for TokenProvider {
    #[inline]
    fn select(&self, _host: Option<&str>) -> Option<&TokenProvider> {
        Some(self)
    }

    #[inline]
    fn only(&self) -> Option<&TokenProvider> {
        Some(self)
    }
}

/// One provider per host (exact, case-insensitive match), with an optional default.
///
/// ```
/// # use telnyx_oauth::bearer::ByHost;
/// # fn demo(telnyx: telnyx_oauth::TokenProvider, partner: telnyx_oauth::TokenProvider) {
/// let selector = ByHost::new()
///     .host("api.telnyx.com", telnyx)
///     .host("api.partner.example", partner);
/// # let _ = selector; }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ByHost {
    hosts: HashMap<String, TokenProvider>,
    default: Option<TokenProvider>,
}

impl ByHost {
    /// No hosts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `provider` for requests to `host`.
    pub fn host(mut self, host: impl Into<String>, provider: TokenProvider) -> Self {
        self.hosts
            .insert(host.into().to_ascii_lowercase(), provider);
        self
    }

    /// Uses `provider` for every other host.
    pub fn default_provider(mut self, provider: TokenProvider) -> Self {
        self.default = Some(provider);
        self
    }
}

impl SelectProvider for ByHost {
    fn select(&self, host: Option<&str>) -> Option<&TokenProvider> {
        let found = host.and_then(|h| {
            self.hosts.get(h).or_else(|| {
                h.bytes()
                    .any(|b| b.is_ascii_uppercase())
                    .then(|| self.hosts.get(&h.to_ascii_lowercase()))
                    .flatten()
            })
        });
        found.or(self.default.as_ref())
    }
}
