//! The Telnyx OAuth API's types, as the contract describes them: required fields required, nullable
//! fields `Option`, enums open (`Unknown`), scopes free strings, unknown fields kept, timestamps parsed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::secret::ClientSecret;

/// The `{"data": …}` wrapper of most Telnyx API responses.
#[derive(Deserialize)]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

/// `url` with one more path segment (percent-encoded), e.g. a resource id.
pub(crate) fn with_segment(mut url: url::Url, segment: &str) -> Result<url::Url, crate::Error> {
    url.path_segments_mut()
        .map_err(|_| crate::Error::config("bad base URL"))?
        .pop_if_empty()
        .push(segment);
    Ok(url)
}

/// The `logo_uri`, `policy_uri` and `tos_uri` setters every client-describing request shares.
macro_rules! uri_setters {
    () => {
        /// `logo_uri`
        pub fn logo_uri(mut self, uri: impl Into<String>) -> Self {
            self.logo_uri = Some(uri.into());
            self
        }
        /// `policy_uri`
        pub fn policy_uri(mut self, uri: impl Into<String>) -> Self {
            self.policy_uri = Some(uri.into());
            self
        }
        /// `tos_uri`
        pub fn tos_uri(mut self, uri: impl Into<String>) -> Self {
            self.tos_uri = Some(uri.into());
            self
        }
    };
}
pub(crate) use uri_setters;

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, as sent.
            Unknown(String),
        }

        impl $name {
            /// The value on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}

open_enum!(
    /// `client_type`
    ClientType {
        /// `public`: no secret; uses PKCE.
        Public => "public",
        /// `confidential`: has a secret.
        Confidential => "confidential",
    }
);

open_enum!(
    /// A grant type (`allowed_grant_types`, `grant_types`).
    GrantType {
        /// `client_credentials`
        ClientCredentials => "client_credentials",
        /// `authorization_code`
        AuthorizationCode => "authorization_code",
        /// `refresh_token`
        RefreshToken => "refresh_token",
    }
);

open_enum!(
    /// `token_endpoint_auth_method` of dynamic registration.
    TokenEndpointAuthMethod {
        /// `none`
        None => "none",
        /// `client_secret_basic`
        ClientSecretBasic => "client_secret_basic",
        /// `client_secret_post`
        ClientSecretPost => "client_secret_post",
    }
);

fn secret_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientSecret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(ClientSecret::new))
}

/// An OAuth client (`record_type: oauth_client`). Serializes back to the API's shape, without
/// `client_secret`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct OAuthClient {
    /// `record_type` (`oauth_client`).
    pub record_type: String,
    /// `client_id`
    pub client_id: String,
    /// `name`
    pub name: String,
    /// `org_id`
    pub org_id: String,
    /// `user_id`
    pub user_id: String,
    /// `client_type`
    pub client_type: ClientType,
    /// `require_pkce`
    pub require_pkce: bool,
    /// `created_at`
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `updated_at`
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// `allowed_grant_types`
    #[serde(default)]
    pub allowed_grant_types: Vec<GrantType>,
    /// `allowed_scopes`
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// `redirect_uris`
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `client_secret` — only when available (at creation, for confidential clients). Redacted in
    /// `Debug` and never serialized.
    #[serde(default, deserialize_with = "secret_opt", skip_serializing)]
    pub client_secret: Option<ClientSecret>,
    /// `logo_uri`
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// `tos_uri`
    #[serde(default)]
    pub tos_uri: Option<String>,
    /// `policy_uri`
    #[serde(default)]
    pub policy_uri: Option<String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An OAuth grant (`record_type: oauth_grant`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct OAuthGrant {
    /// `id`
    pub id: String,
    /// `record_type` (`oauth_grant`).
    pub record_type: String,
    /// `client_id`
    pub client_id: String,
    /// `scopes`
    pub scopes: Vec<String>,
    /// `created_at`
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `last_used_at`
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `meta` of a list page (every field optional, as the contract says).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaginationMeta {
    /// `page_number`
    #[serde(default)]
    pub page_number: Option<u64>,
    /// `page_size`
    #[serde(default)]
    pub page_size: Option<u64>,
    /// `total_pages`
    #[serde(default)]
    pub total_pages: Option<u64>,
    /// `total_results`
    #[serde(default)]
    pub total_results: Option<u64>,
}

/// One page of a list: `data` and `meta`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items (`data`; missing counts as empty).
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// `meta`
    #[serde(default)]
    pub meta: PaginationMeta,
}

/// A requested scope on the consent screen.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestedScope {
    /// `id`
    #[serde(default)]
    pub id: Option<String>,
    /// `name`
    #[serde(default)]
    pub name: Option<String>,
    /// `description`
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /oauth/consent/{token}` (`data`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ConsentInfo {
    /// `client_id`
    #[serde(default)]
    pub client_id: Option<String>,
    /// `name`
    #[serde(default)]
    pub name: Option<String>,
    /// `logo_uri`
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// `policy_uri`
    #[serde(default)]
    pub policy_uri: Option<String>,
    /// `tos_uri`
    #[serde(default)]
    pub tos_uri: Option<String>,
    /// `redirect_uri`
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// `verified`
    #[serde(default)]
    pub verified: Option<bool>,
    /// `requested_scopes`
    #[serde(default)]
    pub requested_scopes: Vec<RequestedScope>,
}

/// `POST /oauth/introspect` (RFC 7662).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IntrospectionResponse {
    /// `active` — required.
    pub active: bool,
    /// `scope`
    #[serde(default)]
    pub scope: Option<String>,
    /// `client_id`
    #[serde(default)]
    pub client_id: Option<String>,
    /// `exp`
    #[serde(default)]
    pub exp: Option<i64>,
    /// `iat`
    #[serde(default)]
    pub iat: Option<i64>,
    /// `iss`
    #[serde(default)]
    pub iss: Option<String>,
    /// `aud` (a string per the contract; an array is kept in `extra` shape as sent)
    #[serde(default)]
    pub aud: Option<Value>,
    /// `sub`
    #[serde(default)]
    pub sub: Option<String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One key of `GET /oauth/jwks`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Jwk {
    /// `kty`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    /// `kid`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `alg`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `use`
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Key material and every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /oauth/jwks`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct JwkSet {
    /// `keys`
    pub keys: Vec<Jwk>,
}

/// `POST /oauth/register` response (RFC 7591, HTTP 201).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Registration {
    /// `client_id` — required.
    pub client_id: String,
    /// `client_id_issued_at` — required by the contract; tolerated when absent (RFC 7591 makes it optional).
    #[serde(default)]
    pub client_id_issued_at: Option<i64>,
    /// `client_secret` (confidential clients). Redacted in `Debug`.
    #[serde(default, deserialize_with = "secret_opt")]
    pub client_secret: Option<ClientSecret>,
    /// `client_name`
    #[serde(default)]
    pub client_name: Option<String>,
    /// `scope`
    #[serde(default)]
    pub scope: Option<String>,
    /// `token_endpoint_auth_method`
    #[serde(default)]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `grant_types`
    #[serde(default)]
    pub grant_types: Vec<GrantType>,
    /// `response_types`
    #[serde(default)]
    pub response_types: Vec<String>,
    /// `redirect_uris`
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_client_decodes_and_hides_its_secret() {
        let c: OAuthClient = serde_json::from_value(serde_json::json!({
            "record_type": "oauth_client",
            "client_id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
            "name": "My App",
            "org_id": "org-1",
            "user_id": "user-1",
            "client_type": "confidential",
            "require_pkce": false,
            "created_at": "2025-09-10T12:00:00Z",
            "updated_at": "2025-09-11T08:30:00.123Z",
            "allowed_grant_types": ["client_credentials", "device_code"],
            "allowed_scopes": ["messaging.read"],
            "redirect_uris": [],
            "client_secret": "s3cret",
            "logo_uri": null,
            "new_field": 1
        }))
        .unwrap();
        assert_eq!(c.client_type, ClientType::Confidential);
        assert_eq!(
            c.allowed_grant_types,
            [
                GrantType::ClientCredentials,
                GrantType::Unknown("device_code".into())
            ]
        );
        assert_eq!(c.created_at.year(), 2025);
        assert_eq!(c.client_secret.as_ref().unwrap().secret(), "s3cret");
        assert!(c.logo_uri.is_none());
        assert_eq!(c.extra["new_field"], 1);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn pages_tolerate_missing_data_and_meta() {
        let p: Page<OAuthGrant> = serde_json::from_str("{}").unwrap();
        assert!(p.data.is_empty());
        assert_eq!(p.meta, PaginationMeta::default());
    }
}
