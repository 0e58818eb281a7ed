//! `clients` and `grants`: the Telnyx management API, with auto-paging lists.

use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use futures_core::Stream;
use serde::Serialize;
use serde_json::{Value, json};
use telnyx_oauth::api::{
    ClientCreate, ClientListQuery, ClientType, ClientUpdate, GrantType, ListStream, OAuthClient,
    OAuthGrant, Telnyx,
};
use telnyx_oauth::{ClientSecret, telnyx};
use time::format_description::well_known::Rfc3339;

use crate::common::{
    Failure, Outcome, check_url, http_client, note, print_json, print_line, secret,
};

pub const CLIENTS_HELP: &str = "\
Examples:
  TELNYX_API_KEY=... telnyx-oauth clients list --json
  telnyx-oauth clients create --name billing --type confidential --grant client_credentials --scope read
  telnyx-oauth clients update CLIENT_ID --scope read --scope write
  telnyx-oauth clients delete CLIENT_ID";

pub const GRANTS_HELP: &str = "\
Examples:
  TELNYX_API_KEY=... telnyx-oauth grants list
  telnyx-oauth grants revoke GRANT_ID --json";

/// Where the API is and how to call it.
#[derive(Args)]
pub struct ApiArgs {
    /// The API base URL.
    #[arg(long, env = "TELNYX_BASE_URL", value_name = "URL", default_value = telnyx::API_BASE_URL)]
    base_url: String,
    /// A file holding the API key (default: TELNYX_API_KEY).
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Machine-readable JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl ApiArgs {
    fn client(&self, allow_http: bool) -> Result<Telnyx, Failure> {
        check_url(&self.base_url, allow_http, "--base-url")?;
        let key = secret(
            None,
            self.api_key_file.as_deref(),
            "TELNYX_API_KEY",
            "API key",
        )?
        .ok_or_else(|| {
            Failure::usage("no API key: set TELNYX_API_KEY or give --api-key-file FILE")
        })?;
        Ok(Telnyx::builder()
            .base_url(self.base_url.clone())
            .http(http_client(allow_http)?)
            .api_key(ClientSecret::new(key))
            .build()?)
    }
}

/// `clients …`
#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Lists every client (all pages).
    #[command(
        after_help = "Example:\n  TELNYX_API_KEY=... telnyx-oauth clients list --type confidential --json"
    )]
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Clients per page requested (1–100).
        #[arg(long, value_name = "N")]
        page_size: Option<u8>,
        /// Only clients of this type.
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        client_type: Option<Kind>,
        /// Only clients whose name contains this.
        #[arg(long, value_name = "TEXT")]
        name_contains: Option<String>,
    },
    /// Shows one client.
    #[command(after_help = "Example:\n  telnyx-oauth clients get CLIENT_ID --json")]
    Get {
        #[command(flatten)]
        api: ApiArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Creates a client. A confidential client's secret is printed once: store it.
    #[command(
        after_help = "Example:\n  telnyx-oauth clients create --name billing --type confidential \\\n    --grant client_credentials --scope read --scope write --json"
    )]
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// The client's name.
        #[arg(long)]
        name: String,
        /// confidential (has a secret) or public (PKCE).
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        client_type: Kind,
        /// An allowed grant type (repeatable; at least one).
        #[arg(long = "grant", value_enum, value_name = "GRANT", required = true)]
        grants: Vec<Grant>,
        /// An allowed scope (repeatable; at least one).
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// A redirect URI (repeatable; needed for authorization_code).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Requires PKCE.
        #[arg(long)]
        require_pkce: bool,
    },
    /// Changes a client; only the flags given change.
    #[command(
        after_help = "Example:\n  telnyx-oauth clients update CLIENT_ID --name billing-2 --scope read"
    )]
    Update {
        #[command(flatten)]
        api: ApiArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// The allowed scopes (repeatable; replaces the list).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The allowed grant types (repeatable; replaces the list).
        #[arg(long = "grant", value_enum, value_name = "GRANT")]
        grants: Vec<Grant>,
        /// The redirect URIs (repeatable; replaces the list).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Requires PKCE (true or false).
        #[arg(long, value_name = "BOOL")]
        require_pkce: Option<bool>,
    },
    /// Deletes a client.
    #[command(after_help = "Example:\n  telnyx-oauth clients delete CLIENT_ID")]
    Delete {
        #[command(flatten)]
        api: ApiArgs,
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `grants …`
#[derive(Subcommand)]
pub enum GrantsCommand {
    /// Lists every grant (all pages).
    #[command(after_help = "Example:\n  TELNYX_API_KEY=... telnyx-oauth grants list --json")]
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Grants per page requested (1–100).
        #[arg(long, value_name = "N")]
        page_size: Option<u8>,
    },
    /// Shows one grant.
    #[command(after_help = "Example:\n  telnyx-oauth grants get GRANT_ID")]
    Get {
        #[command(flatten)]
        api: ApiArgs,
        /// The grant id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Revokes a grant.
    #[command(after_help = "Example:\n  telnyx-oauth grants revoke GRANT_ID --json")]
    Revoke {
        #[command(flatten)]
        api: ApiArgs,
        /// The grant id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `--type`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Has a secret.
    Confidential,
    /// No secret; uses PKCE.
    Public,
}

impl From<Kind> for ClientType {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Confidential => ClientType::Confidential,
            Kind::Public => ClientType::Public,
        }
    }
}

/// `--grant`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Grant {
    /// client_credentials
    #[value(name = "client_credentials")]
    ClientCredentials,
    /// authorization_code
    #[value(name = "authorization_code")]
    AuthorizationCode,
    /// refresh_token
    #[value(name = "refresh_token")]
    RefreshToken,
}

impl From<Grant> for GrantType {
    fn from(grant: Grant) -> Self {
        match grant {
            Grant::ClientCredentials => GrantType::ClientCredentials,
            Grant::AuthorizationCode => GrantType::AuthorizationCode,
            Grant::RefreshToken => GrantType::RefreshToken,
        }
    }
}

pub async fn clients(command: ClientsCommand, allow_http: bool) -> Outcome {
    match command {
        ClientsCommand::List {
            api,
            page_size,
            client_type,
            name_contains,
        } => {
            let query = ClientListQuery {
                page_size,
                client_type: client_type.map(Into::into),
                name_contains,
                ..ClientListQuery::default()
            };
            let all = collect(api.client(allow_http)?.clients().list(query)).await?;
            if api.json {
                print_json(&to_json(&all)?)?;
            } else {
                print_table(
                    &["CLIENT ID", "NAME", "TYPE", "GRANTS", "SCOPES", "CREATED"],
                    all.iter().map(client_row).collect(),
                )?;
            }
        }
        ClientsCommand::Get { api, id } => {
            let client = api.client(allow_http)?.clients().retrieve(&id).await?;
            show_client(&client, api.json, false)?;
        }
        ClientsCommand::Create {
            api,
            name,
            client_type,
            grants,
            scopes,
            redirect_uris,
            require_pkce,
        } => {
            let mut request = ClientCreate::new(
                name,
                client_type.into(),
                grants.into_iter().map(Into::into),
                scopes,
            );
            for uri in redirect_uris {
                request = request.redirect_uri(uri);
            }
            if require_pkce {
                request = request.require_pkce(true);
            }
            let client = api.client(allow_http)?.clients().create(&request).await?;
            show_client(&client, api.json, true)?;
        }
        ClientsCommand::Update {
            api,
            id,
            name,
            scopes,
            grants,
            redirect_uris,
            require_pkce,
        } => {
            let mut update = ClientUpdate::new();
            if let Some(name) = name {
                update = update.name(name);
            }
            if !scopes.is_empty() {
                update = update.allowed_scopes(scopes);
            }
            if !grants.is_empty() {
                update = update.allowed_grant_types(grants.into_iter().map(Into::into));
            }
            if !redirect_uris.is_empty() {
                update = update.redirect_uris(redirect_uris);
            }
            if let Some(on) = require_pkce {
                update = update.require_pkce(on);
            }
            let client = api
                .client(allow_http)?
                .clients()
                .update(&id, &update)
                .await?;
            show_client(&client, api.json, false)?;
        }
        ClientsCommand::Delete { api, id } => {
            api.client(allow_http)?.clients().delete(&id).await?;
            if api.json {
                print_json(&json!({ "deleted": id }))?;
            } else {
                print_line(&format!("deleted client {id}"))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn grants(command: GrantsCommand, allow_http: bool) -> Outcome {
    let (api, grants, list) = match command {
        GrantsCommand::List { api, page_size } => {
            let all = collect(api.client(allow_http)?.grants().list(page_size)).await?;
            (api, all, true)
        }
        GrantsCommand::Get { api, id } => {
            let grant = api.client(allow_http)?.grants().retrieve(&id).await?;
            (api, vec![grant], false)
        }
        GrantsCommand::Revoke { api, id } => {
            let grant = api.client(allow_http)?.grants().revoke(&id).await?;
            (api, vec![grant], false)
        }
    };
    match (api.json, list, grants.as_slice()) {
        (true, false, [one]) => print_json(&to_json(one)?)?,
        (true, _, _) => print_json(&to_json(&grants)?)?,
        (false, _, _) => print_table(
            &["GRANT ID", "CLIENT ID", "SCOPES", "CREATED", "LAST USED"],
            grants.iter().map(grant_row).collect(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Every item of an auto-paging list.
async fn collect<T: Unpin>(mut stream: ListStream<T>) -> Result<Vec<T>, Failure> {
    let mut all = Vec::new();
    while let Some(item) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        all.push(item?);
    }
    Ok(all)
}

fn to_json(value: &impl Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value)
        .map_err(|e| Failure::failed(format!("cannot format the output: {e}")))
}

/// One client; a new confidential client's secret is shown (the only time it can be).
fn show_client(client: &OAuthClient, json: bool, created: bool) -> Result<(), Failure> {
    let secret = created
        .then(|| client.client_secret.as_ref().map(|s| s.secret().to_owned()))
        .flatten();
    if json {
        let mut value = to_json(client)?;
        if let Some(secret) = &secret {
            value["client_secret"] = json!(secret);
        }
        print_json(&value)?;
    } else {
        let mut rows = vec![
            vec!["client_id".to_owned(), client.client_id.clone()],
            vec!["name".to_owned(), client.name.clone()],
            vec![
                "client_type".to_owned(),
                client.client_type.as_str().to_owned(),
            ],
            vec![
                "allowed_grant_types".to_owned(),
                grant_list(&client.allowed_grant_types),
            ],
            vec!["allowed_scopes".to_owned(), client.allowed_scopes.join(" ")],
            vec!["redirect_uris".to_owned(), client.redirect_uris.join(" ")],
            vec!["require_pkce".to_owned(), client.require_pkce.to_string()],
            vec!["created_at".to_owned(), timestamp(client.created_at)],
            vec!["updated_at".to_owned(), timestamp(client.updated_at)],
        ];
        if let Some(secret) = &secret {
            rows.push(vec!["client_secret".to_owned(), secret.clone()]);
        }
        print_table(&["FIELD", "VALUE"], rows)?;
    }
    if secret.is_some() {
        note("Store the client_secret now: it is not shown again.");
    }
    Ok(())
}

fn grant_list(list: &[GrantType]) -> String {
    list.iter()
        .map(GrantType::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn timestamp(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn client_row(c: &OAuthClient) -> Vec<String> {
    vec![
        c.client_id.clone(),
        c.name.clone(),
        c.client_type.as_str().to_owned(),
        grant_list(&c.allowed_grant_types),
        c.allowed_scopes.join(" "),
        timestamp(c.created_at),
    ]
}

fn grant_row(g: &OAuthGrant) -> Vec<String> {
    vec![
        g.id.clone(),
        g.client_id.clone(),
        g.scopes.join(" "),
        timestamp(g.created_at),
        g.last_used_at.map(timestamp).unwrap_or_else(|| "-".into()),
    ]
}

/// Left-aligned columns, two spaces apart; control characters from the server are blanked.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<(), Failure> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    print_line(&line(headers.to_vec()))?;
    for row in &rows {
        print_line(&line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
