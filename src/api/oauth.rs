//! The OAuth protocol endpoints of the Telnyx API: discovery, consent, introspection, JWKS, dynamic
//! registration, the token endpoint and the authorization URL.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::authorize::{AuthorizeRequest, PendingAuthorization};
use super::client::{Auth, Body, Telnyx};
use super::types::{
    ConsentInfo, Data, GrantType, IntrospectionResponse, JwkSet, Registration,
    TokenEndpointAuthMethod, with_segment,
};
use crate::error::Error;
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use crate::token::TokenEndpoint;

/// A dynamic client registration request (RFC 7591). Every member is optional.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[must_use]
pub struct RegistrationRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grant_types: Vec<GrantType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    response_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
}

impl RegistrationRequest {
    /// An empty request (the server's defaults: `authorization_code`, `client_secret_basic`).
    pub fn new() -> Self {
        Self::default()
    }
    /// `client_name`
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }
    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }
    /// Adds a grant type.
    pub fn grant_type(mut self, grant: GrantType) -> Self {
        self.grant_types.push(grant);
        self
    }
    /// Adds a response type.
    pub fn response_type(mut self, rt: impl Into<String>) -> Self {
        self.response_types.push(rt.into());
        self
    }
    /// `scope` (space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
    /// `token_endpoint_auth_method`
    pub fn token_endpoint_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.token_endpoint_auth_method = Some(method);
        self
    }
    super::types::uri_setters!();
}

#[derive(Deserialize)]
struct RedirectUri {
    redirect_uri: String,
}

impl Telnyx {
    /// `GET /.well-known/oauth-authorization-server` at the host root, with the issuer checked against
    /// the host root URL (RFC 8414 §3.3).
    pub async fn authorization_server_metadata(
        &self,
    ) -> Result<AuthorizationServerMetadata, Error> {
        let issuer = self.inner.root.as_str().trim_end_matches('/').to_owned();
        AuthorizationServerMetadata::discover(&self.inner.http, &issuer).await
    }

    /// `GET /.well-known/oauth-protected-resource` at the host root.
    pub async fn protected_resource_metadata(&self) -> Result<ProtectedResourceMetadata, Error> {
        self.get(
            self.root_url("/.well-known/oauth-protected-resource")?,
            Auth::Anonymous,
        )
        .await
    }

    /// The authorization URL (`/oauth/authorize`) for `request`, with PKCE S256 and a fresh `state`.
    pub fn authorize_url(
        &self,
        request: AuthorizeRequest,
    ) -> Result<(url::Url, PendingAuthorization), Error> {
        request.build_at(self.url("oauth/authorize")?.as_str())
    }

    /// `GET /oauth/consent/{consent_token}`: what the user is asked to approve.
    pub async fn consent(&self, consent_token: &str) -> Result<ConsentInfo, Error> {
        let url = with_segment(self.url("oauth/consent")?, consent_token)?;
        Ok(self.get::<Data<ConsentInfo>>(url, Auth::Bearer).await?.data)
    }

    /// `POST /oauth/grants`: the user's decision; returns the redirect URI (with the code or an error).
    /// Not retried automatically.
    pub async fn decide_consent(
        &self,
        consent_token: &str,
        allowed: bool,
    ) -> Result<String, Error> {
        let body = Body::Json(json!({ "allowed": allowed, "consent_token": consent_token }));
        let resp = self
            .send(
                Method::POST,
                self.url("oauth/grants")?,
                body,
                Auth::Bearer,
                false,
            )
            .await?;
        Ok(resp.json::<RedirectUri>()?.redirect_uri)
    }

    /// `POST /oauth/introspect` (RFC 7662), authenticated with the client credentials. Retried.
    pub async fn introspect(
        &self,
        token: &crate::AccessToken,
    ) -> Result<IntrospectionResponse, Error> {
        let body = Body::Form(vec![("token", token.secret().to_owned())]);
        self.send(
            Method::POST,
            self.url("oauth/introspect")?,
            body,
            Auth::Client,
            true,
        )
        .await?
        .json()
    }

    /// `GET /oauth/jwks`.
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        self.get(self.url("oauth/jwks")?, Auth::Anonymous).await
    }

    /// `POST /oauth/register` (RFC 7591): 201 with the new client. Not retried automatically; an
    /// `invalid_client_metadata` error carries `invalid_fields`.
    pub async fn register(&self, request: &RegistrationRequest) -> Result<Registration, Error> {
        let body = Body::Json(
            serde_json::to_value(request).map_err(|_| Error::config("bad registration request"))?,
        );
        self.send(
            Method::POST,
            self.url("oauth/register")?,
            body,
            Auth::Anonymous,
            false,
        )
        .await?
        .json()
    }

    /// The token endpoint (`/oauth/token`) with this client's credentials, for all three grants.
    pub fn token_endpoint(&self) -> Result<TokenEndpoint, Error> {
        let auth = self
            .inner
            .client_auth
            .clone()
            .ok_or_else(|| Error::config("the token endpoint needs client credentials (TELNYX_CLIENT_ID / TELNYX_CLIENT_SECRET)"))?;
        Ok(TokenEndpoint::new_with_http(
            self.inner.http.clone(),
            self.url("oauth/token")?.as_str(),
            auth,
        )?
        .reading_errors_with(crate::telnyx::errors::api_error))
    }

    /// Raw access to a JSON value, for fields this crate does not model yet.
    pub async fn get_json(&self, path: &str) -> Result<Value, Error> {
        self.get(self.url(path)?, Auth::Bearer).await
    }
}
