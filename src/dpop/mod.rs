//! DPoP (RFC 9449), the client's side: a key the client holds, the proof it signs for each request, and
//! the nonces servers hand out. A token obtained with a proof is bound to the key (`cnf.jkt`): stolen,
//! it is useless without the key.
//!
//! Give a [`TokenEndpoint`](crate::TokenEndpoint) a [`DpopKey`] with
//! [`with_dpop`](crate::TokenEndpoint::with_dpop) and every token request carries a fresh proof; a
//! server that answers `use_dpop_nonce` gets exactly one retry with the nonce it sent, and nonces are
//! remembered per server origin from every response that carries one. The token that comes back says
//! whether it is bound ([`Token::is_dpop_bound`](crate::Token::is_dpop_bound)).
//!
//! A [`TokenProvider`](crate::TokenProvider) over such an endpoint keeps the key with each bound token,
//! and [`BearerLayer`](crate::bearer::BearerLayer) sends such a token as `Authorization: DPoP <token>`
//! with a fresh proof per request (its `ath` the token's hash), retrying once when a resource server
//! answers `use_dpop_nonce`. Without the layer, [`CachedToken::dpop_proof`](crate::CachedToken::dpop_proof)
//! makes the proof for a request, and [`DpopKey::proof`] signs one for anything else.
//!
//! ```
//! use telnyx_oauth::SigningAlgorithm;
//! use telnyx_oauth::dpop::DpopKey;
//!
//! # fn main() -> Result<(), telnyx_oauth::Error> {
//! let key = DpopKey::generate(SigningAlgorithm::ES256)?;
//! let url = url::Url::parse("https://api.example.com/v2/calls?page=2").unwrap();
//! let proof = key.proof(&http::Method::POST, &url, None, None)?;
//! assert_eq!(proof.split('.').count(), 3); // a compact JWS, `typ: dpop+jwt`, the public key inside
//! assert_eq!(key.thumbprint().len(), 43); // what the server puts in the token's `cnf.jkt`
//! # Ok(()) }
//! ```

mod nonce;

use std::fmt;

use http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

pub(crate) use nonce::NonceCache;
#[cfg(test)]
pub(crate) use nonce::valid_nonce;

use crate::error::Error;
use crate::jose::{SigningAlgorithm, SigningKey};
use crate::secret::{AccessToken, PrivateKeyBytes};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// The algorithms a DPoP key may sign with: asymmetric ones only (RFC 9449 §4.2).
pub const DPOP_ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::ES256,
    SigningAlgorithm::ES384,
    SigningAlgorithm::EdDSA,
    SigningAlgorithm::RS256,
    SigningAlgorithm::PS256,
];

/// A private key that signs DPoP proofs, with its public JWK and RFC 7638 thumbprint.
///
/// ES256 is the usual choice (every DPoP server accepts it); EdDSA, ES384, RS256 and PS256 work where
/// the server allows them. Generate one per process (tokens bound to it die with it, which is usually
/// what you want) or load one from PEM or JWK to keep bound tokens across restarts.
pub struct DpopKey {
    key: SigningKey,
    jwk: Map<String, Value>,
    thumbprint: String,
    /// The base64url proof header (`typ`, `alg`, `jwk`): the same for every proof, so made once.
    header: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.algorithm())
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn not_for_dpop(alg: SigningAlgorithm) -> Error {
    Error::config(format!(
        "{alg} cannot sign DPoP proofs (ES256, ES384, EdDSA, RS256 or PS256 can)"
    ))
}

impl DpopKey {
    fn from_signing_key(key: SigningKey) -> Result<Self, Error> {
        let alg = key.algorithm();
        if !DPOP_ALGORITHMS.contains(&alg) {
            return Err(not_for_dpop(alg));
        }
        let jwk = key.public_jwk().ok_or_else(|| not_for_dpop(alg))?;
        let thumbprint = crate::jose::thumbprint(&jwk).ok_or_else(|| not_for_dpop(alg))?;
        let header = key.jws_header(PROOF_TYP, Some(&jwk));
        Ok(Self {
            key,
            jwk,
            thumbprint,
            header,
        })
    }

    /// A fresh key in memory (RS256/PS256: RSA-2048; ES256: P-256; ES384: P-384; EdDSA: Ed25519).
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, Error> {
        if !DPOP_ALGORITHMS.contains(&alg) {
            return Err(not_for_dpop(alg));
        }
        let (key, _) = SigningKey::generate(alg, "dpop")?;
        // Proofs carry the key itself; a `kid` would only add bytes.
        Self::from_signing_key(SigningKey::without_key_id(key))
    }

    /// A key from a PEM private key (PKCS#8, PKCS#1 or SEC1), signing with `alg`.
    pub fn from_pem(pem: &PrivateKeyBytes, alg: SigningAlgorithm) -> Result<Self, Error> {
        if !DPOP_ALGORITHMS.contains(&alg) {
            return Err(not_for_dpop(alg));
        }
        Self::from_signing_key(SigningKey::from_pem(pem, alg)?)
    }

    /// A key from a private JWK (its `alg`, or the key type's usual algorithm).
    pub fn from_jwk(jwk: &PrivateKeyBytes) -> Result<Self, Error> {
        Self::from_signing_key(SigningKey::without_key_id(SigningKey::from_jwk(jwk, None)?))
    }

    /// The algorithm proofs are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.key.algorithm()
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: the `jkt` a bound token's `cnf` carries.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public key as a JWK (required members only): what each proof's header carries.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.jwk
    }

    /// A fresh proof for one request: `htm` the method, `htu` the URL without query and fragment,
    /// `iat` now, a random `jti`, `ath` when the request carries `access_token`, and `nonce` when the
    /// server gave one.
    pub fn proof(
        &self,
        method: &http::Method,
        url: &Url,
        access_token: Option<&AccessToken>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        let ath = access_token.map(ath);
        self.sign_proof(method, url, ath.as_deref(), nonce)
    }

    /// A proof with `ath` given as the token's hash already (a provider computes it once per token).
    pub(crate) fn sign_proof(
        &self,
        method: &http::Method,
        url: &Url,
        ath: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        let jti = crate::random::id()?;
        let htu = htu(url);
        let claims = ProofClaims {
            jti: &jti,
            htm: method.as_str(),
            htu: &htu,
            iat: crate::clock::unix_secs()?,
            ath,
            nonce,
        };
        let claims = serde_json::to_vec(&claims).map_err(|_| {
            Error::internal(
                crate::ErrorClass::Permanent,
                "a DPoP proof did not serialize",
            )
        })?;
        self.key.sign_prepared(&self.header, &claims)
    }
}

/// A proof's claims (RFC 9449 §4.2), serialized straight from borrowed parts.
#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// The `ath` of a proof sent with `token`: base64url SHA-256 of its bytes (RFC 9449 §4.2).
pub(crate) fn ath(token: &AccessToken) -> String {
    crate::jose::sha256_b64(token.secret().as_bytes())
}

/// A DPoP key and the nonces servers gave it: shared by a token endpoint, the provider over it and the
/// layers that send its tokens, so a nonce learned by one is used by all.
#[derive(Debug)]
pub(crate) struct Dpop {
    pub(crate) key: DpopKey,
    pub(crate) nonces: NonceCache,
}

/// A proof as sent, with the nonce it carried: a response bringing another nonce may be retried.
#[derive(Debug)]
pub(crate) struct SentProof {
    pub(crate) proof: http::HeaderValue,
    pub(crate) nonce: Option<String>,
}

impl Dpop {
    pub(crate) fn new(key: DpopKey) -> Self {
        Self {
            key,
            nonces: NonceCache::default(),
        }
    }

    /// A proof for a request to `url`, with the latest nonce its origin sent.
    pub(crate) fn proof_for(
        &self,
        method: &http::Method,
        url: &Url,
        ath: Option<&str>,
    ) -> Result<SentProof, Error> {
        let nonce = self.nonces.get(url);
        let proof = self.key.sign_proof(method, url, ath, nonce.as_deref())?;
        let mut proof = http::HeaderValue::try_from(proof).map_err(|_| {
            Error::internal(
                crate::ErrorClass::Permanent,
                "a DPoP proof is not a header value",
            )
        })?;
        // With the token it names, an unused proof is a credential until its window closes.
        proof.set_sensitive(true);
        Ok(SentProof { proof, nonce })
    }

    /// Remembers the nonce of a response from `url`; whether it differs from the one `sent` carried,
    /// so that a retry with it can succeed.
    pub(crate) fn learn(&self, url: &Url, headers: &HeaderMap, sent: Option<&str>) -> bool {
        self.nonces
            .update(url, headers)
            .is_some_and(|nonce| Some(nonce.as_str()) != sent)
    }
}

/// A request URL as a proof's `htu` names it (RFC 9449 §4.2, §4.3): without query and fragment, the
/// scheme and host in lower case and a default port left out (the URL parser normalizes those, and
/// percent-encodings and dot segments in the path, per RFC 3986 §6.2.2).
pub(crate) fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn part(jws: &str, i: usize) -> Value {
        let seg = jws.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_carries_the_public_key_and_the_request() {
        for alg in DPOP_ALGORITHMS {
            let key = DpopKey::generate(*alg).unwrap();
            let url = Url::parse("HTTPS://Server.Example.COM:443/a/../token?x=1#frag").unwrap();
            let token = AccessToken::new("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
            let proof = key
                .proof(&http::Method::GET, &url, Some(&token), Some("n-1"))
                .unwrap();
            let (header, claims) = (part(&proof, 0), part(&proof, 1));
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], alg.as_str());
            assert!(header.get("kid").is_none());
            assert_eq!(&header["jwk"], &Value::Object(key.public_jwk().clone()));
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(header["jwk"].get(private).is_none(), "{alg}: {private}");
            }
            assert_eq!(claims["htm"], "GET");
            assert_eq!(claims["htu"], "https://server.example.com/token");
            assert_eq!(claims["nonce"], "n-1");
            assert!(claims["iat"].as_u64().unwrap() > 1_700_000_000);
            assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
            // RFC 9449 §7.1's example: this access token's `ath`.
            assert_eq!(claims["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
            assert_eq!(
                key.thumbprint(),
                crate::jose::thumbprint(key.public_jwk()).unwrap()
            );
        }
    }

    #[test]
    fn every_proof_has_its_own_jti_and_symmetric_keys_are_refused() {
        let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
        let url = Url::parse("https://as.example/token").unwrap();
        let a = part(
            &key.proof(&http::Method::POST, &url, None, None).unwrap(),
            1,
        );
        let b = part(
            &key.proof(&http::Method::POST, &url, None, None).unwrap(),
            1,
        );
        assert_ne!(a["jti"], b["jti"]);
        assert!(a.get("ath").is_none() && a.get("nonce").is_none());
        assert!(DpopKey::generate(SigningAlgorithm::HS256).is_err());
        let hmac_jwk =
            PrivateKeyBytes::new(br#"{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}"#.to_vec());
        assert!(DpopKey::from_jwk(&hmac_jwk).is_err());
        assert!(!format!("{key:?}").contains("\"d\""));
    }
}
