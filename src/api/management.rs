//! OAuth clients (`/oauth_clients`) and grants (`/oauth_grants`) management.

use http::Method;
use serde::Serialize;

use super::client::{Auth, Body, ManagementPaths, Telnyx};
use super::pagination::ListStream;
use super::types::{ClientType, Data, GrantType, OAuthClient, OAuthGrant, Page, with_segment};
use crate::error::Error;

/// Filters and page size of `GET /oauth_clients`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientListQuery {
    /// `page[size]` (1–100; the server's default is 20).
    pub page_size: Option<u8>,
    /// `filter[client_type]`
    pub client_type: Option<ClientType>,
    /// `filter[verified]`
    pub verified: Option<bool>,
    /// `filter[allowed_grant_types][contains]`
    pub allowed_grant_type: Option<GrantType>,
    /// `filter[name]` (exact)
    pub name: Option<String>,
    /// `filter[name][contains]`
    pub name_contains: Option<String>,
    /// `filter[client_id]`
    pub client_id: Option<String>,
}

impl ClientListQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(s) = self.page_size {
            p.push(("page[size]", s.clamp(1, 100).to_string()));
        }
        if let Some(t) = &self.client_type {
            p.push(("filter[client_type]", t.as_str().to_owned()));
        }
        if let Some(v) = self.verified {
            p.push(("filter[verified]", v.to_string()));
        }
        if let Some(g) = &self.allowed_grant_type {
            p.push((
                "filter[allowed_grant_types][contains]",
                g.as_str().to_owned(),
            ));
        }
        if let Some(n) = &self.name {
            p.push(("filter[name]", n.clone()));
        }
        if let Some(n) = &self.name_contains {
            p.push(("filter[name][contains]", n.clone()));
        }
        if let Some(c) = &self.client_id {
            p.push(("filter[client_id]", c.clone()));
        }
        p
    }
}

/// `POST /oauth_clients`: cannot be built without its required fields.
#[derive(Debug, Clone, Serialize)]
#[must_use]
pub struct ClientCreate {
    name: String,
    allowed_scopes: Vec<String>,
    client_type: ClientType,
    allowed_grant_types: Vec<GrantType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    require_pkce: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
}

impl ClientCreate {
    /// The four required fields.
    pub fn new(
        name: impl Into<String>,
        client_type: ClientType,
        allowed_grant_types: impl IntoIterator<Item = GrantType>,
        allowed_scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            client_type,
            allowed_grant_types: allowed_grant_types.into_iter().collect(),
            allowed_scopes: allowed_scopes.into_iter().map(Into::into).collect(),
            redirect_uris: Vec::new(),
            require_pkce: None,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
        }
    }
    /// Adds a redirect URI (required for `authorization_code`).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }
    /// `require_pkce`
    pub fn require_pkce(mut self, on: bool) -> Self {
        self.require_pkce = Some(on);
        self
    }
    super::types::uri_setters!();
}

/// `PUT /oauth_clients/{id}`: every field optional (`client_type` cannot change).
#[derive(Debug, Clone, Default, Serialize)]
#[must_use]
pub struct ClientUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_grant_types: Option<Vec<GrantType>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    require_pkce: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
}

impl ClientUpdate {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// `name`
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// `allowed_scopes` (replaces the list).
    pub fn allowed_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
    /// `allowed_grant_types` (replaces the list).
    pub fn allowed_grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.allowed_grant_types = Some(grants.into_iter().collect());
        self
    }
    /// `redirect_uris` (replaces the list).
    pub fn redirect_uris(mut self, uris: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.redirect_uris = Some(uris.into_iter().map(Into::into).collect());
        self
    }
    /// `require_pkce`
    pub fn require_pkce(mut self, on: bool) -> Self {
        self.require_pkce = Some(on);
        self
    }
    super::types::uri_setters!();
}

fn with_query(mut url: url::Url, pairs: &[(&str, String)]) -> url::Url {
    if !pairs.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url
}

/// `telnyx.clients()`: the OAuth clients of the account.
#[derive(Debug, Clone)]
pub struct Clients {
    telnyx: Telnyx,
}

/// `telnyx.grants()`: the OAuth grants of the account.
#[derive(Debug, Clone)]
pub struct Grants {
    telnyx: Telnyx,
}

impl Telnyx {
    /// OAuth client management.
    pub fn clients(&self) -> Clients {
        Clients {
            telnyx: self.clone(),
        }
    }

    /// OAuth grant management.
    pub fn grants(&self) -> Grants {
        Grants {
            telnyx: self.clone(),
        }
    }

    fn collection(&self, which: &str) -> Result<url::Url, Error> {
        match self.paths() {
            ManagementPaths::Underscore => self.url(&format!("oauth_{which}")),
            ManagementPaths::Slash => self.url(&format!("oauth/{which}")),
        }
    }
}

impl Clients {
    /// One page (`page[number]` = `page`), with its `meta`.
    pub async fn list_page(
        &self,
        query: &ClientListQuery,
        page: u64,
    ) -> Result<Page<OAuthClient>, Error> {
        let mut pairs = query.pairs();
        pairs.push(("page[number]", page.max(1).to_string()));
        let url = with_query(self.telnyx.collection("clients")?, &pairs);
        self.telnyx.get(url, Auth::Bearer).await
    }

    /// Every client matching `query`, fetched page by page as the stream is read.
    pub fn list(&self, query: ClientListQuery) -> ListStream<OAuthClient> {
        let this = self.clone();
        ListStream::new(Box::new(move |page| {
            let (this, query) = (this.clone(), query.clone());
            Box::pin(async move { this.list_page(&query, page).await })
        }))
    }

    /// `POST`: creates a client (201). Not retried automatically.
    pub async fn create(&self, request: &ClientCreate) -> Result<OAuthClient, Error> {
        let body =
            Body::Json(serde_json::to_value(request).map_err(|_| Error::config("bad client"))?);
        let resp = self
            .telnyx
            .send(
                Method::POST,
                self.telnyx.collection("clients")?,
                body,
                Auth::Bearer,
                false,
            )
            .await?;
        Ok(resp.json::<Data<OAuthClient>>()?.data)
    }

    /// `GET /{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<OAuthClient, Error> {
        let url = with_segment(self.telnyx.collection("clients")?, id)?;
        Ok(self
            .telnyx
            .get::<Data<OAuthClient>>(url, Auth::Bearer)
            .await?
            .data)
    }

    /// `PUT /{id}`.
    pub async fn update(&self, id: &str, update: &ClientUpdate) -> Result<OAuthClient, Error> {
        let url = with_segment(self.telnyx.collection("clients")?, id)?;
        let body =
            Body::Json(serde_json::to_value(update).map_err(|_| Error::config("bad update"))?);
        let resp = self
            .telnyx
            .send(Method::PUT, url, body, Auth::Bearer, true)
            .await?;
        Ok(resp.json::<Data<OAuthClient>>()?.data)
    }

    /// `DELETE /{id}` (204).
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let url = with_segment(self.telnyx.collection("clients")?, id)?;
        self.telnyx
            .send(Method::DELETE, url, Body::None, Auth::Bearer, true)
            .await?;
        Ok(())
    }
}

impl Grants {
    /// One page, with its `meta`.
    pub async fn list_page(
        &self,
        page_size: Option<u8>,
        page: u64,
    ) -> Result<Page<OAuthGrant>, Error> {
        let mut pairs = Vec::new();
        if let Some(s) = page_size {
            pairs.push(("page[size]", s.clamp(1, 100).to_string()));
        }
        pairs.push(("page[number]", page.max(1).to_string()));
        let url = with_query(self.telnyx.collection("grants")?, &pairs);
        self.telnyx.get(url, Auth::Bearer).await
    }

    /// Every grant, fetched page by page as the stream is read.
    pub fn list(&self, page_size: Option<u8>) -> ListStream<OAuthGrant> {
        let this = self.clone();
        ListStream::new(Box::new(move |page| {
            let this = this.clone();
            Box::pin(async move { this.list_page(page_size, page).await })
        }))
    }

    /// `GET /{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<OAuthGrant, Error> {
        let url = with_segment(self.telnyx.collection("grants")?, id)?;
        Ok(self
            .telnyx
            .get::<Data<OAuthGrant>>(url, Auth::Bearer)
            .await?
            .data)
    }

    /// `DELETE /{id}`: revokes the grant; returns it (200, as the contract says).
    pub async fn revoke(&self, id: &str) -> Result<OAuthGrant, Error> {
        let url = with_segment(self.telnyx.collection("grants")?, id)?;
        let resp = self
            .telnyx
            .send(Method::DELETE, url, Body::None, Auth::Bearer, true)
            .await?;
        Ok(resp.json::<Data<OAuthGrant>>()?.data)
    }
}
