//! The dev server's routes, at the Telnyx API's paths.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::state::{DevClient, OAuthFailure, ServerState, fail, lock};

type S = AxState<Arc<ServerState>>;

pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route("/v2/oauth/jwks", get(jwks))
        .route("/v2/oauth/token", post(token))
        .route("/v2/oauth/introspect", post(introspect))
        .route("/v2/oauth/register", post(register))
        .route("/v2/oauth/authorize", get(authorize))
        .route("/v2/oauth_clients", get(list_clients).post(create_client))
        .route(
            "/v2/oauth_clients/{id}",
            get(get_client).put(update_client).delete(delete_client),
        )
        .route("/v2/oauth_grants", get(list_grants))
        .route("/v2/oauth_grants/{id}", get(get_grant).delete(revoke_grant))
        .with_state(state)
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn oauth_error(f: OAuthFailure) -> Response {
    let mut r = json_response(
        f.status,
        json!({"error": f.code, "error_description": f.description}),
    );
    if f.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(r#"Basic realm="dev", error="invalid_client""#),
        );
    }
    r
}

fn api_unauthorized() -> Response {
    json_response(
        401,
        json!({"errors": [{"code": "10009", "title": "Authentication failed", "detail": "The API key is missing or wrong."}]}),
    )
}

fn not_found() -> Response {
    json_response(
        404,
        json!({"errors": [{"code": "10005", "title": "Resource not found"}]}),
    )
}

async fn metadata(AxState(s): S) -> Response {
    let i = &s.issuer;
    json_response(
        200,
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/v2/oauth/authorize"),
            "token_endpoint": s.token_url(),
            "introspection_endpoint": format!("{i}/v2/oauth/introspect"),
            "jwks_uri": format!("{i}/v2/oauth/jwks"),
            "registration_endpoint": format!("{i}/v2/oauth/register"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "dpop_signing_alg_values_supported": crate::dpop::DPOP_ALGORITHMS.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        }),
    )
}

async fn resource_metadata(AxState(s): S) -> Response {
    json_response(
        200,
        json!({"resource": s.issuer, "authorization_servers": [s.issuer], "bearer_methods_supported": ["header"]}),
    )
}

async fn jwks(AxState(s): S) -> Response {
    s.jwks_requests.fetch_add(1, Ordering::Relaxed);
    if s.faults().jwks_unavailable {
        return json_response(503, json!({"error": "temporarily_unavailable"}));
    }
    json_response(200, s.jwks())
}

/// Basic credentials, each half form-urlencoded (RFC 6749 §2.3.1).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unform = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unform(id)?, unform(secret)?))
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn token(AxState(s): S, headers: HeaderMap, body: Bytes) -> Response {
    s.token_requests.fetch_add(1, Ordering::Relaxed);
    let (latency, fail_status, garbage) = {
        let mut f = s.faults();
        let fail_status = (f.fail_next > 0).then(|| {
            f.fail_next -= 1;
            f.fail_status
        });
        let garbage = f.garbage_next > 0;
        if garbage {
            f.garbage_next -= 1;
        }
        (f.latency, fail_status, garbage)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = fail_status {
        return json_response(
            status,
            json!({"error": "server_error", "error_description": "injected failure"}),
        );
    }
    if garbage {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>garbage</html>",
        )
            .into_response();
    }
    let form = form(&body);
    let client = match s.authenticate(basic(&headers), &form) {
        Ok(c) => c,
        Err(f) => return oauth_error(f),
    };
    // A DPoP proof binds the token to its key (RFC 9449 §5); a bad one is refused.
    let jkt = if headers.contains_key("dpop") {
        let url = url::Url::parse(&s.token_url());
        let now = super::state::now() as f64;
        match url.map(|url| crate::verify::check_token_request(&headers, &url, now, &s.dpop_replay))
        {
            Ok(Ok(jkt)) => Some(jkt),
            Ok(Err(reason)) => {
                return json_response(
                    400,
                    json!({"error": "invalid_dpop_proof", "error_description": reason.to_string()}),
                );
            }
            Err(_) => return oauth_error(fail(500, "server_error", "no token URL")),
        }
    } else {
        None
    };
    match s.token(client, &form, jkt.as_deref()) {
        Ok(body) => json_response(200, body),
        Err(f) => oauth_error(f),
    }
}

async fn introspect(AxState(s): S, headers: HeaderMap, body: Bytes) -> Response {
    let form = form(&body);
    if let Err(f) = s.authenticate(basic(&headers), &form) {
        return oauth_error(f);
    }
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    json_response(200, s.introspect(token))
}

async fn register(AxState(s): S, body: Bytes) -> Response {
    let Ok(req) = crate::json::parse(&body) else {
        return oauth_error(fail(400, "invalid_client_metadata", "the body is not JSON"));
    };
    let strings = |name: &str| -> Vec<String> {
        req[name]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let method = req["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_basic")
        .to_owned();
    let grant_types = {
        let g = strings("grant_types");
        if g.is_empty() {
            vec!["authorization_code".to_owned()]
        } else {
            g
        }
    };
    let redirect_uris = strings("redirect_uris");
    if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return json_response(
            400,
            json!({"error": "invalid_client_metadata", "error_description": "redirect_uris are required",
            "invalid_fields": {"redirect_uris": ["required for authorization_code"]}}),
        );
    }
    let mut client =
        DevClient::confidential(req["client_name"].as_str().unwrap_or("registered"), &[]);
    client.confidential = method != "none";
    client.grant_types = grant_types;
    client.redirect_uris = redirect_uris;
    client.scopes = req["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let (id, secret) = s.add_client(client.clone());
    json_response(
        201,
        json!({
            "client_id": id, "client_id_issued_at": super::state::now(),
            "client_secret": (!secret.is_empty()).then_some(secret),
            "client_name": client.name, "scope": client.scopes.join(" "), "token_endpoint_auth_method": method,
            "grant_types": client.grant_types, "response_types": ["code"], "redirect_uris": client.redirect_uris,
        }),
    )
}

async fn authorize(AxState(s): S, uri: axum::http::Uri) -> Response {
    let Ok(url) = url::Url::parse(&format!("{}{}", s.issuer, uri)) else {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    };
    match s.approve(&url) {
        Ok(redirect) => (
            StatusCode::FOUND,
            [(header::LOCATION, redirect.to_string())],
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html")],
            format!("<html>{e}</html>"),
        )
            .into_response(),
    }
}

fn api_key_ok(s: &ServerState, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    given.is_some_and(|g| {
        aws_lc_rs::constant_time::verify_slices_are_equal(g.as_bytes(), s.api_key.as_bytes())
            .is_ok()
    })
}

fn page<T: Clone>(items: &[T], q: &HashMap<String, String>, render: impl Fn(&T) -> Value) -> Value {
    let size = q
        .get("page[size]")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let number = q
        .get("page[number]")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total_pages = items.len().div_ceil(size).max(1);
    let data: Vec<Value> = items
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .map(render)
        .collect();
    json!({"data": data, "meta": {"page_number": number, "page_size": size, "total_pages": total_pages, "total_results": items.len()}})
}

async fn list_clients(
    AxState(s): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    let clients: Vec<DevClient> = lock(&s.clients).values().cloned().collect();
    json_response(200, page(&clients, &q, |c| c.json(false)))
}

async fn create_client(AxState(s): S, headers: HeaderMap, body: Bytes) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    let Ok(req) = crate::json::parse(&body) else {
        return json_response(
            422,
            json!({"errors": [{"code": "10015", "title": "Bad request body"}]}),
        );
    };
    let strings = |name: &str| -> Option<Vec<String>> {
        req[name].as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    let (Some(name), Some(scopes), Some(kind), Some(grants)) = (
        req["name"].as_str(),
        strings("allowed_scopes"),
        req["client_type"].as_str(),
        strings("allowed_grant_types"),
    ) else {
        return json_response(
            422,
            json!({"errors": [{"code": "10015", "title": "Missing required fields"}]}),
        );
    };
    let mut client = DevClient::confidential(name, &[]);
    client.scopes = scopes;
    client.confidential = kind != "public";
    client.grant_types = grants;
    client.redirect_uris = strings("redirect_uris").unwrap_or_default();
    client.require_pkce = req["require_pkce"].as_bool().unwrap_or(false);
    let (id, _) = s.add_client(client);
    let created = lock(&s.clients)
        .get(&id)
        .map(|c| c.json(true))
        .unwrap_or(Value::Null);
    json_response(201, json!({"data": created}))
}

async fn get_client(AxState(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    match lock(&s.clients).get(&id) {
        Some(c) => json_response(200, json!({"data": c.json(false)})),
        None => not_found(),
    }
}

async fn update_client(
    AxState(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    let req: Value = crate::json::parse(&body).unwrap_or(Value::Null);
    let mut clients = lock(&s.clients);
    let Some(c) = clients.get_mut(&id) else {
        return not_found();
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    if let Some(n) = req["name"].as_str() {
        c.name = n.to_owned();
    }
    if let Some(v) = strings(&req["allowed_scopes"]) {
        c.scopes = v;
    }
    if let Some(v) = strings(&req["allowed_grant_types"]) {
        c.grant_types = v;
    }
    if let Some(v) = strings(&req["redirect_uris"]) {
        c.redirect_uris = v;
    }
    if let Some(v) = req["require_pkce"].as_bool() {
        c.require_pkce = v || !c.confidential;
    }
    json_response(200, json!({"data": c.json(false)}))
}

async fn delete_client(AxState(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    match lock(&s.clients).remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

async fn list_grants(
    AxState(s): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    let grants: Vec<Value> = lock(&s.grants)
        .values()
        .filter(|g| !g.revoked)
        .map(|g| g.json())
        .collect();
    json_response(200, page(&grants, &q, Value::clone))
}

async fn get_grant(AxState(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    match lock(&s.grants).get(&id).filter(|g| !g.revoked) {
        Some(g) => json_response(200, json!({"data": g.json()})),
        None => not_found(),
    }
}

async fn revoke_grant(AxState(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !api_key_ok(&s, &headers) {
        return api_unauthorized();
    }
    let mut grants = lock(&s.grants);
    match grants.get_mut(&id).filter(|g| !g.revoked) {
        Some(g) => {
            g.revoked = true;
            json_response(200, json!({"data": g.json()}))
        }
        None => not_found(),
    }
}
