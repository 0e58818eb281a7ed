//! Keys that sign: client assertions (RFC 7523, `private_key_jwt` and `client_secret_jwt`), DPoP
//! proofs (RFC 9449) and the dev server's tokens.
//!
//! Keys are parsed once, when the [`SigningKey`] is built, straight into aws-lc-rs key objects; signing
//! does not go through any process-wide crypto provider, so no other crate's feature choices can make it
//! fail.

use std::fmt;

use aws_lc_rs::{hmac, rand, signature};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::error::{Error, ErrorClass};
use crate::jose::SigningAlgorithm;
use crate::jose::der::rsa_private_key_der;
use crate::secret::{ClientSecret, PrivateKeyBytes};

enum KeyMaterial {
    Rsa(Box<signature::RsaKeyPair>),
    Ecdsa(signature::EcdsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
    Hmac(Box<hmac::Key>),
}

/// A parsed private key (or HMAC secret) with its algorithm and optional key id (`kid`).
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: Option<String>,
    key: KeyMaterial,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn rejected(what: &str) -> Error {
    Error::config(format!("the private key could not be used: {what}"))
}

impl SigningKey {
    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`). The algorithm says how it will sign (an RSA key may be RS256 or PS256).
    pub fn from_pem(pem: &PrivateKeyBytes, alg: SigningAlgorithm) -> Result<Self, Error> {
        let (label, der) = decode_pem(pem.secret())?;
        let der = zeroize::Zeroizing::new(der);
        let label = label.as_str();
        let wrong_label = || rejected(&format!("a `{label}` PEM cannot sign {alg}"));
        if label == "ENCRYPTED PRIVATE KEY" {
            return Err(rejected(
                "encrypted PEM keys are not supported; decrypt it first",
            ));
        }
        let key = if alg.rsa_encoding().is_some() {
            let parsed = match label {
                "PRIVATE KEY" => signature::RsaKeyPair::from_pkcs8(&der),
                "RSA PRIVATE KEY" => signature::RsaKeyPair::from_der(&der),
                _ => return Err(wrong_label()),
            };
            KeyMaterial::Rsa(Box::new(parsed.map_err(|e| {
                rejected(&format!("not an RSA key usable for {alg} ({e})"))
            })?))
        } else if let Some(ec) = alg.ecdsa() {
            if !matches!(label, "PRIVATE KEY" | "EC PRIVATE KEY") {
                return Err(wrong_label());
            }
            KeyMaterial::Ecdsa(
                signature::EcdsaKeyPair::from_private_key_der(ec, &der)
                    .map_err(|e| rejected(&format!("not an EC key for {alg} ({e})")))?,
            )
        } else if alg == SigningAlgorithm::EdDSA && label == "PRIVATE KEY" {
            KeyMaterial::Ed25519(
                signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(|e| rejected(&format!("not an Ed25519 key ({e})")))?,
            )
        } else {
            return Err(wrong_label());
        };
        Ok(Self {
            alg,
            kid: None,
            key,
        })
    }

    /// Parses a private JWK (RFC 7517) of kty `RSA`, `EC` (P-256, P-384) or `OKP` (Ed25519). The algorithm
    /// comes from `alg` when given, else from the JWK's `alg`, else the key type's usual one
    /// (RS256, ES256/ES384, EdDSA). The JWK's `kid` becomes the assertion header's `kid`.
    pub fn from_jwk(jwk: &PrivateKeyBytes, alg: Option<SigningAlgorithm>) -> Result<Self, Error> {
        let jwk: Value = crate::json::parse(jwk.secret())
            .map_err(|_| rejected("the JWK is not valid JSON (or repeats a member)"))?;
        let member = |name: &str| -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| rejected(&format!("the JWK has no `{name}`")))?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map(zeroize::Zeroizing::new)
                .map_err(|_| rejected(&format!("the JWK's `{name}` is not base64url")))
        };
        let jwk_alg = jwk.get("alg").and_then(Value::as_str);
        let alg = match (alg, jwk_alg) {
            (Some(a), _) => a,
            (None, Some(name)) => SigningAlgorithm::parse(name)
                .ok_or_else(|| rejected(&format!("unsupported JWK alg `{name}`")))?,
            (None, None) => match (
                jwk.get("kty").and_then(Value::as_str),
                jwk.get("crv").and_then(Value::as_str),
            ) {
                (Some("RSA"), _) => SigningAlgorithm::RS256,
                (Some("EC"), Some("P-256")) => SigningAlgorithm::ES256,
                (Some("EC"), Some("P-384")) => SigningAlgorithm::ES384,
                (Some("OKP"), Some("Ed25519")) => SigningAlgorithm::EdDSA,
                _ => return Err(rejected("unsupported JWK kty/crv")),
            },
        };
        let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
        let key = match (kty, alg.rsa_encoding(), alg.ecdsa()) {
            ("RSA", Some(_), _) => {
                let parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
                    .into_iter()
                    .map(member)
                    .collect::<Result<Vec<_>, _>>()?;
                let der = zeroize::Zeroizing::new(rsa_private_key_der(&parts));
                KeyMaterial::Rsa(Box::new(
                    signature::RsaKeyPair::from_der(&der)
                        .map_err(|e| rejected(&format!("RSA JWK rejected ({e})")))?,
                ))
            }
            ("EC", _, Some(ec)) => {
                let (x, y, d) = (member("x")?, member("y")?, member("d")?);
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                KeyMaterial::Ecdsa(
                    signature::EcdsaKeyPair::from_private_key_and_public_key(ec, &d, &point)
                        .map_err(|e| rejected(&format!("EC JWK rejected for {alg} ({e})")))?,
                )
            }
            ("OKP", _, _) if alg == SigningAlgorithm::EdDSA => {
                if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                    return Err(rejected("only the Ed25519 curve is supported for EdDSA"));
                }
                let (x, d) = (member("x")?, member("d")?);
                KeyMaterial::Ed25519(
                    signature::Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map_err(|e| rejected(&format!("Ed25519 JWK rejected ({e})")))?,
                )
            }
            (other, _, _) => return Err(rejected(&format!("a `{other}` JWK cannot sign {alg}"))),
        };
        Ok(Self {
            alg,
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            key,
        })
    }

    /// An HMAC key from a client secret, for `client_secret_jwt` (RFC 7523 with HS256/384/512).
    pub fn hmac(secret: &ClientSecret, alg: SigningAlgorithm) -> Result<Self, Error> {
        let h = alg
            .hmac()
            .ok_or_else(|| rejected(&format!("{alg} is not an HMAC algorithm")))?;
        Ok(Self {
            alg,
            kid: None,
            key: KeyMaterial::Hmac(Box::new(hmac::Key::new(h, secret.secret().as_bytes()))),
        })
    }

    /// A fresh key for `alg` (RS256/PS256 → RSA-2048, ES256 → P-256, ES384 → P-384, EdDSA → Ed25519)
    /// and its public JWK (with `kid`, `alg` and `use: sig`), for servers that issue tokens (the dev
    /// server) and for tests.
    pub fn generate(alg: SigningAlgorithm, kid: impl Into<String>) -> Result<(Self, Value), Error> {
        let kid = kid.into();
        let failed = || {
            Error::internal(
                ErrorClass::Permanent,
                format!("generating a {alg} key failed"),
            )
        };
        let key = if alg.rsa_encoding().is_some() {
            KeyMaterial::Rsa(Box::new(
                signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| failed())?,
            ))
        } else if let Some(ec) = alg.ecdsa() {
            KeyMaterial::Ecdsa(signature::EcdsaKeyPair::generate(ec).map_err(|_| failed())?)
        } else if alg == SigningAlgorithm::EdDSA {
            KeyMaterial::Ed25519(signature::Ed25519KeyPair::generate().map_err(|_| failed())?)
        } else {
            return Err(Error::config(format!("{alg} keys are not generated here")));
        };
        let mut key = Self {
            alg,
            kid: None,
            key,
        };
        let mut jwk = Value::Object(key.public_jwk().ok_or_else(failed)?);
        jwk["kid"] = Value::String(kid.clone());
        jwk["alg"] = Value::String(alg.as_str().to_owned());
        jwk["use"] = Value::String("sig".to_owned());
        key.kid = Some(kid);
        Ok((key, jwk))
    }

    /// The public key as a JWK with only its required members (RFC 7638 §3.2: `kty` and the key's
    /// public parameters, no `kid`, `alg` or `use`); `None` for an HMAC key, which has no public half.
    pub(crate) fn public_jwk(&self) -> Option<serde_json::Map<String, Value>> {
        use aws_lc_rs::signature::KeyPair;
        let b64 = |b: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(b));
        let mut jwk = serde_json::Map::new();
        match &self.key {
            KeyMaterial::Rsa(kp) => {
                let public = kp.public_key();
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert(
                    "n".into(),
                    b64(public.modulus().big_endian_without_leading_zero()),
                );
                jwk.insert(
                    "e".into(),
                    b64(public.exponent().big_endian_without_leading_zero()),
                );
            }
            KeyMaterial::Ecdsa(kp) => {
                let point = kp.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if self.alg == SigningAlgorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), crv.into());
                jwk.insert("x".into(), b64(&point[1..1 + half]));
                jwk.insert("y".into(), b64(&point[1 + half..]));
            }
            KeyMaterial::Ed25519(kp) => {
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert("x".into(), b64(kp.public_key().as_ref()));
            }
            KeyMaterial::Hmac(_) => return None,
        }
        Some(jwk)
    }

    /// Signs `claims` as a compact JWS (header: `alg`, `typ`, and `kid` when set).
    pub fn sign_token(&self, typ: &str, claims: &Value) -> Result<String, Error> {
        self.sign_jws(typ, claims)
    }

    /// The same key with no `kid` in its headers.
    pub(crate) fn without_key_id(mut self) -> Self {
        self.kid = None;
        self
    }

    /// Sets the `kid` put in the JWS header.
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The signature of `message` (for tests that assemble a JWS by hand).
    #[cfg(test)]
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign(message)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = || {
            Error::internal(
                ErrorClass::Permanent,
                format!("signing with {} failed", self.alg),
            )
        };
        let rng = rand::SystemRandom::new();
        match &self.key {
            KeyMaterial::Rsa(k) => {
                let enc = self.alg.rsa_encoding().ok_or_else(failed)?;
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, message, &mut sig).map_err(|_| failed())?;
                Ok(sig)
            }
            KeyMaterial::Ecdsa(k) => Ok(k
                .sign(&rng, message)
                .map_err(|_| failed())?
                .as_ref()
                .to_vec()),
            KeyMaterial::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
            KeyMaterial::Hmac(k) => Ok(hmac::sign(k, message).as_ref().to_vec()),
        }
    }

    /// Signs `claims` as a compact JWS with header `{"alg", "typ": "JWT", "kid"?}`.
    pub(crate) fn sign_jwt(&self, claims: &Value) -> Result<String, Error> {
        self.sign_jws("JWT", claims)
    }

    fn sign_jws(&self, typ: &str, claims: &Value) -> Result<String, Error> {
        self.sign_jws_with(typ, None, claims)
    }

    /// Signs `claims` as a compact JWS whose header also carries `jwk` when given (a DPoP proof's
    /// public key, RFC 9449 §4.2).
    pub(crate) fn sign_jws_with(
        &self,
        typ: &str,
        jwk: Option<&serde_json::Map<String, Value>>,
        claims: &Value,
    ) -> Result<String, Error> {
        self.sign_prepared(&self.jws_header(typ, jwk), claims.to_string().as_bytes())
    }

    /// The base64url header `{"alg", "typ", "kid"?, "jwk"?}`: made once by a caller that signs many
    /// JWSs with the same header (DPoP proofs).
    pub(crate) fn jws_header(
        &self,
        typ: &str,
        jwk: Option<&serde_json::Map<String, Value>>,
    ) -> String {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), Value::String(self.alg.as_str().into()));
        header.insert("typ".into(), Value::String(typ.into()));
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), Value::String(kid.clone()));
        }
        if let Some(jwk) = jwk {
            header.insert("jwk".into(), Value::Object(jwk.clone()));
        }
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string())
    }

    /// A compact JWS of the serialized `claims` under a header made by [`jws_header`](Self::jws_header).
    pub(crate) fn sign_prepared(&self, header: &str, claims: &[u8]) -> Result<String, Error> {
        let mut jws = String::with_capacity(header.len() + claims.len() * 4 / 3 + 700);
        jws.push_str(header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
        let sig = self.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut jws);
        Ok(jws)
    }
}

/// Reads the first PEM block: its label and DER bytes.
fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>), Error> {
    let text = std::str::from_utf8(pem).map_err(|_| rejected("the PEM is not text"))?;
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or_else(|| rejected("no PEM `-----BEGIN` line found"))?
        .to_owned();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            return Err(rejected(
                "PEM headers (encrypted legacy keys) are not supported",
            ));
        }
        body.push_str(line);
    }
    if !ended {
        return Err(rejected("the PEM block has no matching `-----END` line"));
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| rejected("the PEM body is not base64"))?;
    zeroize::Zeroize::zeroize(&mut body);
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_are_typed() {
        let e = |s: &str| {
            SigningKey::from_pem(
                &PrivateKeyBytes::new(s.as_bytes().to_vec()),
                SigningAlgorithm::RS256,
            )
            .unwrap_err()
        };
        assert!(e("nothing here").to_string().contains("BEGIN"));
        assert!(
            e("-----BEGIN PRIVATE KEY-----\nAAAA\n")
                .to_string()
                .contains("END")
        );
        assert!(
            e("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----")
                .to_string()
                .contains("base64")
        );
        assert!(
            e("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")
                .to_string()
                .contains("encrypted")
        );
        assert!(
            e("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .to_string()
                .contains("RSA")
        );
    }

    #[test]
    fn hmac_keys_sign_verifiably() {
        let key = SigningKey::hmac(&ClientSecret::new("k"), SigningAlgorithm::HS256).unwrap();
        let jwt = key.sign_jwt(&serde_json::json!({"a": 1})).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"k"), input.as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), expected.as_ref());
        assert!(SigningKey::hmac(&ClientSecret::new("k"), SigningAlgorithm::RS256).is_err());
    }

    #[test]
    fn debug_does_not_show_key_material() {
        let key =
            SigningKey::hmac(&ClientSecret::new("topsecret"), SigningAlgorithm::HS256).unwrap();
        assert!(!format!("{key:?}").contains("topsecret"));
    }
}
