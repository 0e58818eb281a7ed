//! DPoP test parts shared by the suites: a bound HS256 access token minted by jsonwebtoken (an
//! independent JWT implementation) and a verifier for it, and a request's proof headers.

use std::time::Duration;

use telnyx_oauth::dpop::DpopKey;
use telnyx_oauth::verify::{DpopPolicy, Verifier};
use telnyx_oauth::{AccessToken, ClientSecret, SigningAlgorithm};

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "https://api.test";
const SECRET: &str = "a-test-hmac-secret-of-at-least-32-bytes";

/// An HS256 access token for [`ISSUER`] and [`AUDIENCE`], bound to `key` (`cnf.jkt`), valid an hour.
pub fn bound_token(key: &DpopKey) -> String {
    mint(Some(key.thumbprint()))
}

/// The same without a binding: a plain bearer token.
pub fn bearer_token() -> String {
    mint(None)
}

fn mint(jkt: Option<&str>) -> String {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let now = super::wall_clock_secs();
    let mut claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 3600,
    });
    if let Some(jkt) = jkt {
        claims["cnf"] = serde_json::json!({ "jkt": jkt });
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A verifier of [`bound_token`]s under `policy`.
pub async fn verifier(policy: DpopPolicy) -> Verifier {
    Verifier::builder()
        .issuer_with_hmac(ISSUER, ClientSecret::new(SECRET), SigningAlgorithm::HS256)
        .audience(AUDIENCE)
        .dpop(policy)
        .build()
        .await
        .unwrap()
}

/// Headers holding one fresh proof by `key` for `method` `url` with `token`.
pub fn proof_headers(
    key: &DpopKey,
    method: &http::Method,
    url: &url::Url,
    token: &str,
) -> http::HeaderMap {
    let proof = key
        .proof(method, url, Some(&AccessToken::new(token)), None)
        .unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("dpop", proof.parse().unwrap());
    headers
}

/// How long a replay record may live: the default window and leeway.
pub fn replay_lifetime() -> Duration {
    telnyx_oauth::verify::DEFAULT_PROOF_WINDOW + telnyx_oauth::verify::DEFAULT_PROOF_LEEWAY
}
