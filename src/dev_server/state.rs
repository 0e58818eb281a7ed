//! The dev server's in-memory state and rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::error::Error;
use crate::token::{SigningAlgorithm, SigningKey};

/// A client of the dev server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevClient {
    /// `client_id` (generated when empty).
    pub client_id: String,
    /// `name`
    pub name: String,
    /// `confidential` or `public`.
    pub confidential: bool,
    /// Allowed grant types (`client_credentials`, `authorization_code`, `refresh_token`).
    pub grant_types: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// PKCE required (always for public clients).
    pub require_pkce: bool,
    pub(crate) secret: Option<String>,
    pub(crate) created_at: String,
}

impl DevClient {
    /// A confidential `client_credentials` client.
    pub fn confidential(name: &str, scopes: &[&str]) -> Self {
        Self {
            client_id: String::new(),
            name: name.to_owned(),
            confidential: true,
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            redirect_uris: Vec::new(),
            require_pkce: false,
            secret: None,
            created_at: String::new(),
        }
    }

    /// A public authorization-code client (PKCE required) with refresh tokens.
    pub fn public(name: &str, scopes: &[&str], redirect_uri: &str) -> Self {
        Self {
            confidential: false,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![redirect_uri.to_owned()],
            require_pkce: true,
            ..Self::confidential(name, scopes)
        }
    }

    pub(crate) fn json(&self, with_secret: bool) -> Value {
        json!({
            "record_type": "oauth_client",
            "client_id": self.client_id,
            "name": self.name,
            "org_id": "dev-org",
            "user_id": "dev-user",
            "client_type": if self.confidential { "confidential" } else { "public" },
            "require_pkce": self.require_pkce,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "allowed_grant_types": self.grant_types,
            "allowed_scopes": self.scopes,
            "redirect_uris": self.redirect_uris,
            "client_secret": if with_secret { self.secret.clone() } else { None },
            "logo_uri": null, "tos_uri": null, "policy_uri": null,
        })
    }
}

pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) created_at: String,
    pub(crate) revoked: bool,
}

impl Grant {
    pub(crate) fn json(&self) -> Value {
        json!({"id": self.id, "record_type": "oauth_grant", "client_id": self.client_id, "scopes": self.scopes,
            "created_at": self.created_at, "last_used_at": null})
    }
}

pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) challenge: Option<String>,
}

pub(crate) struct Refresh {
    pub(crate) grant_id: String,
    pub(crate) used: bool,
    /// The DPoP key the refresh token is bound to (RFC 9449 §5), when it was issued with a proof.
    pub(crate) jkt: Option<String>,
}

#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) fail_next: u32,
    pub(crate) fail_status: u16,
    pub(crate) garbage_next: u32,
    pub(crate) latency: Duration,
    pub(crate) jwks_unavailable: bool,
}

pub(crate) struct ServerState {
    pub(crate) issuer: String,
    pub(crate) api_key: String,
    pub(crate) ttl: Mutex<Duration>,
    pub(crate) opaque: bool,
    alg: SigningAlgorithm,
    keys: Mutex<Vec<(Arc<SigningKey>, Value)>>,
    pub(crate) clients: Mutex<BTreeMap<String, DevClient>>,
    pub(crate) grants: Mutex<BTreeMap<String, Grant>>,
    pub(crate) codes: Mutex<HashMap<String, Code>>,
    pub(crate) refresh: Mutex<HashMap<String, Refresh>>,
    /// Every access token issued: token → (claims, grant id).
    pub(crate) issued: Mutex<HashMap<String, (Value, Option<String>)>>,
    faults: Mutex<Faults>,
    /// The DPoP proofs the token endpoint has seen.
    pub(crate) dpop_replay: crate::verify::ReplayCache,
    pub(crate) token_requests: AtomicU64,
    pub(crate) jwks_requests: AtomicU64,
}

pub(crate) use crate::lock::lock;

pub(crate) fn now() -> u64 {
    crate::clock::since_epoch().map_or(0, |d| d.as_secs())
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// An OAuth error as the server answers it.
pub(crate) struct OAuthFailure {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) description: &'static str,
}

pub(crate) fn fail(status: u16, code: &'static str, description: &'static str) -> OAuthFailure {
    OAuthFailure {
        status,
        code,
        description,
    }
}

impl ServerState {
    /// `<issuer>/v2/oauth/token`: where clients send token requests (and DPoP proofs name).
    pub(crate) fn token_url(&self) -> String {
        format!("{}/v2/oauth/token", self.issuer)
    }

    pub(crate) fn new(
        issuer: String,
        alg: SigningAlgorithm,
        ttl: Duration,
        opaque: bool,
    ) -> Result<Self, Error> {
        let (key, jwk) = SigningKey::generate(alg, "dev-1")?;
        Ok(Self {
            issuer,
            api_key: format!("KEY{}", crate::random::id()?),
            ttl: Mutex::new(ttl),
            opaque,
            alg,
            keys: Mutex::new(vec![(Arc::new(key), jwk)]),
            clients: Mutex::new(BTreeMap::new()),
            grants: Mutex::new(BTreeMap::new()),
            codes: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
            issued: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::default()),
            dpop_replay: crate::verify::ReplayCache::new(crate::verify::DEFAULT_REPLAY_CAPACITY),
            token_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
        })
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": lock(&self.keys).iter().map(|(_, jwk)| jwk.clone()).collect::<Vec<_>>() })
    }

    pub(crate) fn rotate_keys(&self) -> Result<(), Error> {
        let mut keys = lock(&self.keys);
        let (key, jwk) = SigningKey::generate(self.alg, format!("dev-{}", keys.len() + 1))?;
        keys.insert(0, (Arc::new(key), jwk));
        keys.truncate(2);
        Ok(())
    }

    pub(crate) fn add_client(&self, mut client: DevClient) -> (String, String) {
        if client.client_id.is_empty() {
            client.client_id = crate::random::id().unwrap_or_else(|_| "dev-client".into());
        }
        let secret = if client.confidential {
            crate::random::id().unwrap_or_else(|_| "dev-secret".into())
        } else {
            String::new()
        };
        client.secret = client.confidential.then(|| secret.clone());
        client.created_at = rfc3339_now();
        if !client.confidential {
            client.require_pkce = true;
        }
        let id = client.client_id.clone();
        lock(&self.clients).insert(id.clone(), client);
        (id, secret)
    }

    /// Client authentication: Basic (form-urlencoded id and secret, RFC 6749 §2.3.1) or the body.
    pub(crate) fn authenticate(
        &self,
        basic: Option<(String, String)>,
        form: &[(String, String)],
    ) -> Result<DevClient, OAuthFailure> {
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (id, secret) = match basic {
            Some((id, secret)) => (id, Some(secret)),
            None => match field("client_id") {
                Some(id) => (id, field("client_secret")),
                None => return Err(fail(400, "invalid_request", "no client authentication")),
            },
        };
        let client = lock(&self.clients).get(&id).cloned().ok_or(fail(
            401,
            "invalid_client",
            "client authentication failed",
        ))?;
        let ok = match (&client.secret, &secret) {
            (Some(expected), Some(given)) => aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                given.as_bytes(),
            )
            .is_ok(),
            (None, None) => true,
            _ => false,
        };
        if ok {
            Ok(client)
        } else {
            Err(fail(401, "invalid_client", "client authentication failed"))
        }
    }

    fn scopes(client: &DevClient, requested: Option<&str>) -> Result<Vec<String>, OAuthFailure> {
        match requested {
            None => Ok(client.scopes.clone()),
            Some(s) => {
                let wanted: Vec<String> = s
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if wanted.iter().all(|w| client.scopes.contains(w)) {
                    Ok(wanted)
                } else {
                    Err(fail(
                        400,
                        "invalid_scope",
                        "a requested scope is not allowed for this client",
                    ))
                }
            }
        }
    }

    /// Issues an access token (and, with a grant, a refresh token) as a token response.
    pub(crate) fn issue(
        &self,
        client: &DevClient,
        sub: &str,
        scopes: &[String],
        audience: Option<&str>,
        grant: Option<&str>,
        jkt: Option<&str>,
    ) -> Result<Value, OAuthFailure> {
        let ttl = *lock(&self.ttl);
        let iat = now();
        let jti = crate::random::id().map_err(|_| fail(500, "server_error", "no randomness"))?;
        let mut claims = json!({
            "iss": self.issuer, "sub": sub, "aud": audience.unwrap_or(&self.issuer), "client_id": client.client_id,
            "scope": scopes.join(" "), "iat": iat, "exp": iat + ttl.as_secs(), "jti": jti,
        });
        if let Some(jkt) = jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        let token = if self.opaque {
            format!(
                "dev_{}",
                crate::random::id().map_err(|_| fail(500, "server_error", "no randomness"))?
            )
        } else {
            let key = lock(&self.keys)[0].0.clone();
            key.sign_token("at+jwt", &claims)
                .map_err(|_| fail(500, "server_error", "signing failed"))?
        };
        lock(&self.issued).insert(token.clone(), (claims, grant.map(str::to_owned)));
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        let mut body = json!({"access_token": token, "token_type": token_type, "expires_in": ttl.as_secs(), "scope": scopes.join(" ")});
        if let Some(grant) = grant
            && client.grant_types.iter().any(|g| g == "refresh_token")
        {
            let rt = format!(
                "rt_{}",
                crate::random::id().map_err(|_| fail(500, "server_error", "no randomness"))?
            );
            lock(&self.refresh).insert(
                rt.clone(),
                Refresh {
                    grant_id: grant.to_owned(),
                    used: false,
                    jkt: jkt.map(str::to_owned),
                },
            );
            body["refresh_token"] = Value::String(rt);
        }
        Ok(body)
    }

    /// A token request; `jkt` is the key of the DPoP proof it came with, if any.
    pub(crate) fn token(
        &self,
        client: DevClient,
        form: &[(String, String)],
        jkt: Option<&str>,
    ) -> Result<Value, OAuthFailure> {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let allowed = |g: &str| client.grant_types.iter().any(|x| x == g);
        match field("grant_type") {
            Some("client_credentials") if allowed("client_credentials") => {
                let scopes = Self::scopes(&client, field("scope"))?;
                self.issue(
                    &client,
                    &client.client_id,
                    &scopes,
                    field("resource").or(field("audience")),
                    None,
                    jkt,
                )
            }
            Some("authorization_code") if allowed("authorization_code") => {
                let code = field("code").ok_or(fail(400, "invalid_request", "no code"))?;
                let pending = lock(&self.codes).remove(code).ok_or(fail(
                    400,
                    "invalid_grant",
                    "unknown or used code",
                ))?;
                if pending.client_id != client.client_id
                    || Some(pending.redirect_uri.as_str()) != field("redirect_uri")
                {
                    return Err(fail(
                        400,
                        "invalid_grant",
                        "the code was issued to another client or redirect URI",
                    ));
                }
                if let Some(challenge) = &pending.challenge {
                    let verifier = field("code_verifier").ok_or(fail(
                        400,
                        "invalid_grant",
                        "PKCE verifier missing",
                    ))?;
                    let digest =
                        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
                    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
                        return Err(fail(400, "invalid_grant", "PKCE verification failed"));
                    }
                }
                let grant_id = uuid_like();
                lock(&self.grants).insert(
                    grant_id.clone(),
                    Grant {
                        id: grant_id.clone(),
                        client_id: client.client_id.clone(),
                        scopes: pending.scopes.clone(),
                        created_at: rfc3339_now(),
                        revoked: false,
                    },
                );
                self.issue(
                    &client,
                    "dev-user",
                    &pending.scopes,
                    None,
                    Some(&grant_id),
                    jkt,
                )
            }
            Some("refresh_token") if allowed("refresh_token") => {
                let rt = field("refresh_token").ok_or(fail(
                    400,
                    "invalid_request",
                    "no refresh_token",
                ))?;
                let grant_id = {
                    let mut refresh = lock(&self.refresh);
                    let entry = refresh.get_mut(rt).ok_or(fail(
                        400,
                        "invalid_grant",
                        "unknown refresh token",
                    ))?;
                    if entry.used {
                        // Reuse of a rotated refresh token: revoke the whole grant (RFC 9700 §4.14.2).
                        let grant = entry.grant_id.clone();
                        drop(refresh);
                        if let Some(g) = lock(&self.grants).get_mut(&grant) {
                            g.revoked = true;
                        }
                        return Err(fail(
                            400,
                            "invalid_grant",
                            "refresh token reused; the grant is revoked",
                        ));
                    }
                    if entry.jkt.is_some() && entry.jkt.as_deref() != jkt {
                        return Err(fail(
                            400,
                            "invalid_dpop_proof",
                            "the refresh token is bound to a DPoP key: refresh with a proof by it",
                        ));
                    }
                    entry.used = true;
                    entry.grant_id.clone()
                };
                let scopes = {
                    let grants = lock(&self.grants);
                    let g = grants.get(&grant_id).filter(|g| !g.revoked).ok_or(fail(
                        400,
                        "invalid_grant",
                        "the grant is revoked",
                    ))?;
                    if g.client_id != client.client_id {
                        return Err(fail(
                            400,
                            "invalid_grant",
                            "the refresh token belongs to another client",
                        ));
                    }
                    g.scopes.clone()
                };
                self.issue(&client, "dev-user", &scopes, None, Some(&grant_id), jkt)
            }
            Some("client_credentials" | "authorization_code" | "refresh_token") => Err(fail(
                400,
                "unauthorized_client",
                "this client may not use this grant type",
            )),
            _ => Err(fail(
                400,
                "unsupported_grant_type",
                "unsupported grant type",
            )),
        }
    }

    pub(crate) fn introspect(&self, token: &str) -> Value {
        let issued = lock(&self.issued);
        let Some((claims, grant)) = issued.get(token) else {
            return json!({"active": false});
        };
        let revoked = grant
            .as_ref()
            .is_some_and(|g| lock(&self.grants).get(g).is_none_or(|g| g.revoked));
        let expired = claims["exp"].as_u64().is_none_or(|exp| now() >= exp);
        if revoked || expired {
            return json!({"active": false});
        }
        let mut out = claims.clone();
        out["active"] = Value::Bool(true);
        out
    }

    pub(crate) fn approve(&self, url: &url::Url) -> Result<url::Url, Error> {
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let bad = |why: &str| {
            Error::config(format!(
                "the authorization request is not acceptable: {why}"
            ))
        };
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err(bad("response_type must be code"));
        }
        let client_id = q.get("client_id").ok_or_else(|| bad("no client_id"))?;
        let client = lock(&self.clients)
            .get(client_id)
            .cloned()
            .ok_or_else(|| bad("unknown client"))?;
        let redirect = q
            .get("redirect_uri")
            .ok_or_else(|| bad("no redirect_uri"))?;
        if !client
            .redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, redirect))
        {
            return Err(bad("the redirect URI is not registered"));
        }
        let challenge = match (
            q.get("code_challenge"),
            q.get("code_challenge_method").map(String::as_str),
        ) {
            (Some(c), Some("S256")) => Some(c.clone()),
            (Some(_), _) => return Err(bad("only S256 PKCE is supported")),
            (None, _) if client.require_pkce => {
                return Err(bad("PKCE is required for this client"));
            }
            (None, _) => None,
        };
        let scopes = Self::scopes(&client, q.get("scope").map(String::as_str))
            .map_err(|_| bad("a scope is not allowed"))?;
        let code = crate::random::id()?;
        lock(&self.codes).insert(
            code.clone(),
            Code {
                client_id: client_id.clone(),
                redirect_uri: redirect.clone(),
                scopes,
                challenge,
            },
        );
        let mut out = url::Url::parse(redirect).map_err(|_| bad("bad redirect URI"))?;
        out.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = q.get("state") {
            out.query_pairs_mut().append_pair("state", state);
        }
        Ok(out)
    }
}

/// RFC 8252 §7.3: a registered loopback IP redirect (`http://127.0.0.1/…`, `http://[::1]/…`) matches
/// on any port, since a native app binds whatever port is free; every other redirect URI matches
/// exactly.
fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut registered), Ok(mut requested)) =
        (url::Url::parse(registered), url::Url::parse(requested))
    else {
        return false;
    };
    let loopback_ip = |u: &url::Url| u.scheme() == "http" && crate::http::is_loopback_ip(u);
    if !loopback_ip(&registered) || !loopback_ip(&requested) {
        return false;
    }
    let _ = registered.set_port(None);
    let _ = requested.set_port(None);
    registered == requested
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn loopback_ip_redirects_match_on_any_port_and_others_exactly() {
        let registered = "http://127.0.0.1:8976/callback";
        assert!(redirect_matches(registered, registered));
        assert!(redirect_matches(
            registered,
            "http://127.0.0.1:40123/callback"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:5000/cb"));
        // Path, host and scheme still have to match; localhost is a name, not a loopback IP.
        assert!(!redirect_matches(registered, "http://127.0.0.1:8976/other"));
        assert!(!redirect_matches(
            registered,
            "http://127.0.0.2:8976/callback"
        ));
        assert!(!redirect_matches(
            registered,
            "https://127.0.0.1:8976/callback"
        ));
        assert!(!redirect_matches(
            "http://localhost:8976/callback",
            "http://localhost:9000/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:8443/cb"
        ));
    }
}
