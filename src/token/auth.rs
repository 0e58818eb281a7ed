//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2, OIDC Core §9).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use crate::error::Error;
use crate::jose::{SigningAlgorithm, SigningKey};
use crate::secret::ClientSecret;

/// Lifetime of a client assertion (DESIGN §4 / RFC 7523: short-lived; a fresh one every attempt).
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// `client_assertion_type` for JWT client authentication (RFC 7523 §2.2).
const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client proves its identity to the token endpoint.
///
/// ```
/// use telnyx_oauth::{ClientAuth, ClientSecret};
///
/// let auth = ClientAuth::basic("my-client", ClientSecret::new("p@ss:w/rd+%&= x"));
/// assert_eq!(auth.method_name(), "client_secret_basic");
/// assert!(!format!("{auth:?}").contains("p@ss"));
/// ```
#[derive(Clone, Debug)]
pub struct ClientAuth {
    client_id: String,
    method: Method,
    assertion_audience: Option<String>,
}

#[derive(Clone, Debug)]
enum Method {
    Basic(ClientSecret),
    Post(ClientSecret),
    Jwt(Arc<SigningKey>, &'static str),
    None,
}

impl ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the id and secret each form-urlencoded first
    /// (RFC 6749 §2.3.1), so secrets with `:`, `%`, `+` or spaces work.
    pub fn basic(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self::with(client_id, Method::Basic(secret))
    }

    /// `client_secret_post`: id and secret in the form body.
    pub fn post(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self::with(client_id, Method::Post(secret))
    }

    /// `client_secret_jwt`: an HS256 assertion keyed with the client secret (RFC 7523).
    pub fn client_secret_jwt(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        // HS256 is always an HMAC algorithm, so this cannot fail; keep the fallible path typed anyway.
        match SigningKey::hmac(&secret, SigningAlgorithm::HS256) {
            Ok(key) => Self::with(client_id, Method::Jwt(Arc::new(key), "client_secret_jwt")),
            Err(_) => Self::with(client_id, Method::None),
        }
    }

    /// `client_secret_jwt` with a chosen HMAC algorithm (HS256, HS384, HS512).
    pub fn client_secret_jwt_with(
        client_id: impl Into<String>,
        secret: ClientSecret,
        alg: SigningAlgorithm,
    ) -> Result<Self, Error> {
        let key = SigningKey::hmac(&secret, alg)?;
        Ok(Self::with(
            client_id,
            Method::Jwt(Arc::new(key), "client_secret_jwt"),
        ))
    }

    /// `private_key_jwt`: an assertion signed with the client's private key (RFC 7523).
    pub fn private_key_jwt(client_id: impl Into<String>, key: SigningKey) -> Self {
        Self::with(client_id, Method::Jwt(Arc::new(key), "private_key_jwt"))
    }

    /// `none`: a public client that sends only its `client_id` (use PKCE).
    pub fn none(client_id: impl Into<String>) -> Self {
        Self::with(client_id, Method::None)
    }

    fn with(client_id: impl Into<String>, method: Method) -> Self {
        Self {
            client_id: client_id.into(),
            method,
            assertion_audience: None,
        }
    }

    /// Sets the `aud` of client assertions. Default: the token endpoint URL (RFC 7523 §3); some servers
    /// want their issuer identifier instead.
    pub fn with_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The RFC 7591 name of the method (`client_secret_basic`, `private_key_jwt`, …).
    pub fn method_name(&self) -> &'static str {
        match &self.method {
            Method::Basic(_) => "client_secret_basic",
            Method::Post(_) => "client_secret_post",
            Method::Jwt(_, name) => name,
            Method::None => "none",
        }
    }

    /// Adds the credentials to a request: a header for Basic, form members otherwise. A JWT assertion
    /// is minted fresh on every call (new `jti`, `iat` now, `exp` 60 s later).
    pub(crate) fn apply(
        &self,
        endpoint: &str,
        form: &mut Vec<(&'static str, String)>,
        headers: &mut HeaderMap,
    ) -> Result<(), Error> {
        match &self.method {
            Method::Basic(secret) => {
                let user = form_encode(&self.client_id);
                let pass = zeroize::Zeroizing::new(form_encode(secret.secret()));
                let joined = zeroize::Zeroizing::new(format!("{user}:{}", *pass));
                let mut value =
                    HeaderValue::try_from(format!("Basic {}", STANDARD.encode(joined.as_bytes())))
                        .map_err(|_| Error::config("the Basic credentials cannot form a header"))?;
                value.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, value);
            }
            Method::Post(secret) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.secret().to_owned()));
            }
            Method::Jwt(key, _) => {
                let assertion = self.assertion(key, endpoint)?;
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()));
                form.push(("client_assertion", assertion));
            }
            Method::None => form.push(("client_id", self.client_id.clone())),
        }
        Ok(())
    }

    /// A client-authenticated form POST: `params` plus the credentials (a header for Basic, form members
    /// otherwise), form-encoded into a body that is wiped after it is copied into the request.
    pub(crate) fn form_request(
        &self,
        request: reqwest::RequestBuilder,
        endpoint: &str,
        params: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder, Error> {
        let mut credentials = Vec::new();
        let mut headers = HeaderMap::new();
        self.apply(endpoint, &mut credentials, &mut headers)?;
        let mut pairs = params.to_vec();
        pairs.extend(credentials.iter().map(|(k, v)| (*k, v.as_str())));
        let body = zeroize::Zeroizing::new(
            serde_urlencoded::to_string(&pairs)
                .map_err(|_| Error::config("the form could not be encoded"))?,
        );
        Ok(request
            .headers(headers)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body.as_bytes().to_vec()))
    }

    fn assertion(&self, key: &SigningKey, endpoint: &str) -> Result<String, Error> {
        let now = crate::clock::unix_secs()?;
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.assertion_audience.as_deref().unwrap_or(endpoint),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
            "jti": crate::random::id()?,
        });
        key.sign_jwt(&claims)
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (space becomes `+`).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn apply(auth: &ClientAuth) -> (Vec<(&'static str, String)>, HeaderMap) {
        let mut form = Vec::new();
        let mut headers = HeaderMap::new();
        auth.apply("https://as.example/token", &mut form, &mut headers)
            .unwrap();
        (form, headers)
    }

    #[test]
    fn basic_auth_form_encodes_client_secret() {
        let (form, headers) = apply(&ClientAuth::basic(
            "id:1",
            ClientSecret::new("p@ss:w/rd+%&= x"),
        ));
        assert!(form.is_empty());
        let value = headers.get(header::AUTHORIZATION).unwrap();
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:p%40ss%3Aw%2Frd%2B%25%26%3D+x");
    }

    #[test]
    fn post_puts_credentials_in_the_body_and_no_header() {
        let (form, headers) = apply(&ClientAuth::post("id", ClientSecret::new("s")));
        assert!(headers.is_empty());
        assert_eq!(
            form,
            vec![
                ("client_id", "id".to_owned()),
                ("client_secret", "s".to_owned())
            ]
        );
    }

    #[test]
    fn none_sends_only_the_client_id() {
        let (form, headers) = apply(&ClientAuth::none("public"));
        assert!(headers.is_empty());
        assert_eq!(form, vec![("client_id", "public".to_owned())]);
    }

    #[test]
    fn client_secret_jwt_assertion_has_the_rfc_7523_claims_and_a_fresh_jti() {
        let auth = ClientAuth::client_secret_jwt("cid", ClientSecret::new("secret"));
        let claims = |form: &[(&str, String)]| {
            assert_eq!(
                form[1],
                ("client_assertion_type", JWT_BEARER_ASSERTION.to_owned())
            );
            let jwt = &form[2].1;
            let payload = jwt.split('.').nth(1).unwrap();
            serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
        };
        let (a, _) = apply(&auth);
        let (b, _) = apply(&auth);
        let (ca, cb) = (claims(&a), claims(&b));
        assert_eq!(ca["iss"], "cid");
        assert_eq!(ca["sub"], "cid");
        assert_eq!(ca["aud"], "https://as.example/token");
        assert_eq!(
            ca["exp"].as_u64().unwrap() - ca["iat"].as_u64().unwrap(),
            60
        );
        assert_ne!(ca["jti"], cb["jti"]);
        let aud = auth.with_assertion_audience("https://as.example");
        let (c, _) = apply(&aud);
        assert_eq!(claims(&c)["aud"], "https://as.example");
    }
}
