//! Server metadata: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata,
//! with discovery that checks the document really describes the issuer you asked for.
//!
//! ```no_run
//! use telnyx_oauth::{AuthorizationServerMetadata, HttpClient, telnyx};
//!
//! # async fn run() -> Result<(), telnyx_oauth::Error> {
//! let http = HttpClient::new()?;
//! let metadata = AuthorizationServerMetadata::discover(&http, telnyx::ISSUER).await?;
//! println!("token endpoint: {:?}", metadata.token_endpoint);
//! # Ok(()) }
//! ```
//!
//! Discovery follows RFC 8414 §3.1: for issuer `https://as.example/tenant` it asks
//! `https://as.example/.well-known/oauth-authorization-server/tenant`, and falls back to
//! `https://as.example/tenant/.well-known/openid-configuration` when the first answers 4xx. The document's
//! `issuer` must equal the configured issuer exactly (RFC 8414 §3.3), or discovery fails: a look-alike
//! document cannot redirect your tokens.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, UnexpectedReason};
use crate::http::HttpClient;
use crate::redact::sanitize;

/// RFC 8414 §2 authorization-server metadata, with the registered extensions; unknown members are kept
/// in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationServerMetadata {
    /// `issuer` — required; equal to the configured issuer.
    pub issuer: String,
    /// `authorization_endpoint`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `jwks_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `registration_endpoint` (RFC 7591)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// `scopes_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `response_types_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// `response_modes_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// `grant_types_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg_values_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// `service_documentation`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
    /// `ui_locales_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales_supported: Option<Vec<String>>,
    /// `op_policy_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_policy_uri: Option<String>,
    /// `op_tos_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_tos_uri: Option<String>,
    /// `revocation_endpoint` (RFC 7009)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// `revocation_endpoint_auth_methods_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `revocation_endpoint_auth_signing_alg_values_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// `introspection_endpoint` (RFC 7662)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `introspection_endpoint_auth_methods_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `introspection_endpoint_auth_signing_alg_values_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported` (RFC 7636)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `signed_metadata` (a JWT; not verified by this crate)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// `mtls_endpoint_aliases` (RFC 8705)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_endpoint_aliases: Option<Map<String, Value>>,
    /// `pushed_authorization_request_endpoint` (RFC 9126)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// `require_pushed_authorization_requests` (RFC 9126)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// `dpop_signing_alg_values_supported` (RFC 9449)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `protected_resources` (RFC 9728 §4)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_resources: Option<Vec<String>>,
    /// `userinfo_endpoint` (OpenID Connect Discovery)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// RFC 9728 §2 protected-resource metadata; unknown members are kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// `resource` — required; equal to the resource identifier it was fetched for.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<String>>,
    /// `jwks_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `scopes_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `bearer_methods_supported` (`header`, `body`, `query`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<String>>,
    /// `resource_signing_alg_values_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    /// `resource_name`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// `resource_documentation`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// `resource_policy_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// `resource_tos_uri`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// `tls_client_certificate_bound_access_tokens`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// `authorization_details_types_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_bound_access_tokens_required`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// `signed_metadata`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The RFC 8414 well-known suffix.
const OAUTH_AS_SUFFIX: &str = "oauth-authorization-server";
/// The OpenID Connect Discovery suffix, tried second.
const OPENID_SUFFIX: &str = "openid-configuration";
/// The RFC 9728 well-known suffix.
const PROTECTED_RESOURCE_SUFFIX: &str = "oauth-protected-resource";

impl AuthorizationServerMetadata {
    /// Fetches and checks the metadata of `issuer` (see the module docs for the URLs tried).
    pub async fn discover(http: &HttpClient, issuer: &str) -> Result<Self, Error> {
        let url = identifier_url(http, issuer, "issuer")?;
        let primary = well_known_inserted(&url, OAUTH_AS_SUFFIX);
        let metadata: Self = match http.get_json(&primary).await {
            Ok(m) => m,
            Err(e) if e.status().is_some_and(|s| s.is_client_error()) => {
                let fallback = well_known_appended(&url, OPENID_SUFFIX);
                tracing::debug!(
                    issuer,
                    "RFC 8414 metadata not found; trying OpenID discovery"
                );
                http.get_json(&fallback).await?
            }
            Err(e) => return Err(e),
        };
        if metadata.issuer != issuer {
            return Err(issuer_mismatch("issuer", issuer, &metadata.issuer));
        }
        Ok(metadata)
    }

    /// `token_endpoint`, parsed and checked against the client's URL policy.
    pub fn token_endpoint_url(&self, http: &HttpClient) -> Result<Url, Error> {
        endpoint(http, self.token_endpoint.as_deref(), "token_endpoint")
    }

    /// `jwks_uri`, parsed and checked against the client's URL policy.
    pub fn jwks_url(&self, http: &HttpClient) -> Result<Url, Error> {
        endpoint(http, self.jwks_uri.as_deref(), "jwks_uri")
    }

    /// `introspection_endpoint`, parsed and checked against the client's URL policy.
    pub fn introspection_endpoint_url(&self, http: &HttpClient) -> Result<Url, Error> {
        endpoint(
            http,
            self.introspection_endpoint.as_deref(),
            "introspection_endpoint",
        )
    }
}

impl ProtectedResourceMetadata {
    /// Fetches the RFC 9728 metadata of `resource` and checks that its `resource` equals it exactly.
    pub async fn discover(http: &HttpClient, resource: &str) -> Result<Self, Error> {
        let url = identifier_url(http, resource, "resource")?;
        let metadata: Self = http
            .get_json(&well_known_inserted(&url, PROTECTED_RESOURCE_SUFFIX))
            .await?;
        if metadata.resource != resource {
            return Err(issuer_mismatch("resource", resource, &metadata.resource));
        }
        Ok(metadata)
    }
}

fn endpoint(http: &HttpClient, value: Option<&str>, name: &'static str) -> Result<Url, Error> {
    let value = value.ok_or_else(|| Error::config(format!("the metadata has no `{name}`")))?;
    http.check_url(value)
}

/// RFC 8414 §2: an issuer is an https URL with no query or fragment.
fn identifier_url(http: &HttpClient, id: &str, what: &str) -> Result<Url, Error> {
    let url = http.check_url(id)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "the {what} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// RFC 8414 §3.1: `/.well-known/<suffix>` goes between the host and the issuer's path.
fn well_known_inserted(id: &Url, suffix: &str) -> Url {
    let mut url = id.clone();
    let path = id.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/{suffix}{path}"));
    url
}

/// OpenID Connect Discovery §4: `/.well-known/<suffix>` appended to the issuer's path.
fn well_known_appended(id: &Url, suffix: &str) -> Url {
    let mut url = id.clone();
    let path = id.path().trim_end_matches('/');
    url.set_path(&format!("{path}/.well-known/{suffix}"));
    url
}

fn issuer_mismatch(what: &'static str, expected: &str, got: &str) -> Error {
    tracing::warn!(
        expected,
        got = %sanitize(got, 200),
        "metadata {what} does not match the configured one"
    );
    Error::unexpected(
        http::StatusCode::OK,
        Some("application/json".to_owned()),
        UnexpectedReason::InvalidField {
            field: what,
            problem: "does not equal the configured identifier (RFC 8414 §3.3 / RFC 9728 §3.3)",
        },
        &[],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn well_known_urls_follow_rfc_8414_section_3_1() {
        assert_eq!(
            well_known_inserted(&url("https://api.telnyx.com"), OAUTH_AS_SUFFIX).as_str(),
            "https://api.telnyx.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            well_known_inserted(&url("https://as.example/tenant/one"), OAUTH_AS_SUFFIX).as_str(),
            "https://as.example/.well-known/oauth-authorization-server/tenant/one"
        );
        assert_eq!(
            well_known_appended(&url("https://as.example/tenant/"), OPENID_SUFFIX).as_str(),
            "https://as.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(
            well_known_appended(&url("https://as.example"), OPENID_SUFFIX).as_str(),
            "https://as.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn telnyx_document_parses_and_keeps_unknown_members() {
        let doc = r#"{
            "issuer": "https://api.telnyx.com",
            "authorization_endpoint": "https://api.telnyx.com/v2/oauth/authorize",
            "token_endpoint": "https://api.telnyx.com/v2/oauth/token",
            "introspection_endpoint": "https://api.telnyx.com/v2/oauth/introspect",
            "jwks_uri": "https://api.telnyx.com/v2/oauth/jwks",
            "registration_endpoint": "https://api.telnyx.com/v2/oauth/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials","authorization_code","refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none","client_secret_basic","client_secret_post"],
            "scopes_supported": ["messaging.read","messaging.write"],
            "protected_resources": ["https://api.telnyx.com","https://api.telnyx.com/v2/mcp"],
            "agent_auth": {"enabled": true}
        }"#;
        let m: AuthorizationServerMetadata = serde_json::from_str(doc).unwrap();
        assert_eq!(m.issuer, "https://api.telnyx.com");
        assert_eq!(
            m.code_challenge_methods_supported.as_deref(),
            Some(&["S256".to_owned()][..])
        );
        assert_eq!(m.protected_resources.as_ref().unwrap().len(), 2);
        assert_eq!(m.extra["agent_auth"]["enabled"], Value::Bool(true));
        let http = HttpClient::new().unwrap();
        assert_eq!(
            m.token_endpoint_url(&http).unwrap().as_str(),
            "https://api.telnyx.com/v2/oauth/token"
        );
    }

    #[test]
    fn issuer_with_query_is_refused() {
        let http = HttpClient::new().unwrap();
        assert!(identifier_url(&http, "https://as.example/?x=1", "issuer").is_err());
        assert!(identifier_url(&http, "https://as.example/#f", "issuer").is_err());
    }
}
