//! Turning a JWK Set into verification keys, each parsed once into an aws-lc-rs key object.
//!
//! A key is skipped — never failing the rest of the set — when its `use` is not `sig`, its `key_ops`
//! lack `verify`, it is symmetric (`oct`), it carries private members, it is an RSA key under 2048 or
//! over 8192 bits or with an unusual exponent, its EC point is not on its curve, or its type, curve or
//! algorithm is not supported.

use std::sync::Arc;

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::jose::SigningAlgorithm;
use crate::jose::der::rsa_public_key_der;

/// What kind of key, which decides the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self {
            KeyKind::Rsa => &[RS256, RS384, RS512, PS256, PS384, PS512],
            KeyKind::P256 => &[ES256],
            KeyKind::P384 => &[ES384],
            KeyKind::Ed25519 => &[EdDSA],
        }
    }
}

/// A verification key: its `kid`, its declared `alg` (if any), and one parsed key per algorithm it may
/// verify under this verifier's allowed set.
pub(crate) struct VerifyingKey {
    pub(crate) kid: Option<Arc<str>>,
    pub(crate) kind: KeyKind,
    parsed: Vec<(SigningAlgorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field(
                "algorithms",
                &self.parsed.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl VerifyingKey {
    /// Whether this key may verify `alg` (its declared `alg`, or its type's algorithms).
    pub(crate) fn accepts(&self, alg: SigningAlgorithm) -> bool {
        self.parsed.iter().any(|(a, _)| *a == alg)
    }

    /// Verifies `signature` over `message` with `alg`; false when the key does not accept `alg`.
    pub(crate) fn verify(&self, alg: SigningAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.parsed
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }
}

/// Why a key was left out of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) kid: Option<String>,
    pub(crate) reason: &'static str,
}

/// Members that only private (or symmetric) keys have.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn b64(key: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    let text = key
        .get(name)
        .and_then(Value::as_str)
        .ok_or("a required member is missing")?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "a member is not base64url")
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Ingests one JWK; `Err` says why it was skipped.
pub(crate) fn ingest_one(
    key: &Map<String, Value>,
    allowed: &[SigningAlgorithm],
) -> Result<VerifyingKey, &'static str> {
    if let Some(u) = key.get("use")
        && u.as_str() != Some("sig")
    {
        return Err("`use` is not `sig`");
    }
    if let Some(ops) = key.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return Err("`key_ops` does not include `verify`");
        }
    }
    if PRIVATE_MEMBERS.iter().any(|m| key.contains_key(*m)) {
        return Err("it carries private or symmetric key material");
    }
    let declared = match key.get("alg") {
        None => None,
        Some(Value::String(a)) => {
            Some(SigningAlgorithm::parse(a).ok_or("its `alg` is not supported")?)
        }
        Some(_) => return Err("its `alg` is not a string"),
    };
    let kid = match key.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(Arc::from(k.as_str())),
        Some(_) => return Err("its `kid` is not a string"),
    };
    let crv = key.get("crv").and_then(Value::as_str);
    let (kind, public): (KeyKind, Vec<u8>) = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let (n, e) = (b64(key, "n")?, b64(key, "e")?);
            let (n, e) = (strip_zeros(&n), strip_zeros(&e));
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if !(2048..=8192).contains(&bits) {
                return Err("its RSA modulus is not 2048 to 8192 bits");
            }
            let exponent = e.iter().fold(0u64, |acc, &b| {
                acc.saturating_mul(256).saturating_add(b as u64)
            });
            if e.len() > 4 || exponent < 3 || exponent % 2 == 0 {
                return Err("its RSA exponent is unusual");
            }
            (KeyKind::Rsa, rsa_public_key_der(n, e))
        }
        Some("EC") => {
            let (kind, size) = match crv {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                _ => return Err("its curve is not supported"),
            };
            let (x, y) = (b64(key, "x")?, b64(key, "y")?);
            if x.len() != size || y.len() != size {
                return Err("its EC coordinates have the wrong length");
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, point)
        }
        Some("OKP") => {
            if crv != Some("Ed25519") {
                return Err("its curve is not supported");
            }
            let x = b64(key, "x")?;
            if x.len() != 32 {
                return Err("its Ed25519 key has the wrong length");
            }
            (KeyKind::Ed25519, x)
        }
        Some("oct") => return Err("it is a symmetric key"),
        _ => return Err("its key type is not supported"),
    };
    let candidates: Vec<SigningAlgorithm> = match declared {
        Some(a) if kind.algorithms().contains(&a) => vec![a],
        Some(_) => return Err("its `alg` does not fit its key type"),
        None => kind.algorithms().to_vec(),
    };
    let mut parsed = Vec::new();
    for alg in candidates.into_iter().filter(|a| allowed.contains(a)) {
        let Some(v) = alg.verification() else {
            continue;
        };
        // Parsing validates the key: an EC point off its curve or a malformed RSA key fails here.
        let key = ParsedPublicKey::new(v, &public).map_err(|_| "its key material is invalid")?;
        parsed.push((alg, key));
    }
    if parsed.is_empty() {
        return Err("none of its algorithms is allowed");
    }
    Ok(VerifyingKey { kid, kind, parsed })
}

/// Ingests a JWK Set document: at most `max_keys` usable keys (keys that cannot be used do not count;
/// the rest of the set is skipped and reported). Keys may share a `kid` (an issuer moving from EC to
/// OKP keys keeps it): a token's key is chosen by `kid` *and* its `alg`, see [`select`].
pub(crate) fn ingest(
    set: &Value,
    allowed: &[SigningAlgorithm],
    max_keys: usize,
) -> (Vec<Arc<VerifyingKey>>, Vec<Skipped>) {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    let Some(items) = set.get("keys").and_then(Value::as_array) else {
        skipped.push(Skipped {
            kid: None,
            reason: "the document has no `keys` array",
        });
        return (keys, skipped);
    };
    for item in items {
        let Some(obj) = item.as_object() else {
            skipped.push(Skipped {
                kid: None,
                reason: "a key is not a JSON object",
            });
            continue;
        };
        let kid = || obj.get("kid").and_then(Value::as_str).map(str::to_owned);
        if keys.len() == max_keys {
            skipped.push(Skipped {
                kid: kid(),
                reason: "the set holds more usable keys than the policy's `max_keys`",
            });
            continue;
        }
        match ingest_one(obj, allowed) {
            Ok(k) => keys.push(Arc::new(k)),
            Err(reason) => skipped.push(Skipped { kid: kid(), reason }),
        }
    }
    (keys, skipped)
}

/// Which key verifies a token.
pub(crate) enum Selection {
    Found(Arc<VerifyingKey>),
    /// No key has the token's `kid` (or, without a `kid`, none fits its `alg`).
    Missing,
    /// Keys have the token's `kid`, but none fits its `alg`.
    Mismatch,
    /// More than one key fits: the token does not say which (no try-all-keys).
    Ambiguous,
}

/// The key for a token's `kid` and `alg`: among the keys with that `kid` (or all keys, without one),
/// exactly one may be compatible with `alg` (type, curve, declared `alg`; `use` and `key_ops` were
/// checked at ingestion). Bounded work per token: one pass, at most one signature check after it.
pub(crate) fn select(
    keys: &[Arc<VerifyingKey>],
    kid: Option<&str>,
    alg: SigningAlgorithm,
) -> Selection {
    let mut named = false;
    let mut found: Option<&Arc<VerifyingKey>> = None;
    for k in keys {
        if kid.is_some() && k.kid.as_deref() != kid {
            continue;
        }
        named = true;
        if k.accepts(alg) {
            if found.is_some() {
                return Selection::Ambiguous;
            }
            found = Some(k);
        }
    }
    match found {
        Some(k) => Selection::Found(k.clone()),
        None if named && kid.is_some() => Selection::Mismatch,
        None => Selection::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::DEFAULT_ALGORITHMS;

    fn fixture() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/verify/jwks.json")).unwrap()
    }

    fn key(kid: &str) -> Value {
        fixture()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    }

    fn skipped_reason(
        mut k: Value,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<&'static str> {
        edit(k.as_object_mut().unwrap());
        let (keys, skipped) = ingest(&serde_json::json!({ "keys": [k] }), DEFAULT_ALGORITHMS, 100);
        if keys.is_empty() {
            skipped.first().map(|s| s.reason)
        } else {
            None
        }
    }

    #[test]
    fn the_fixture_set_keeps_the_good_keys_and_skips_every_decoy() {
        let (keys, skipped) = ingest(&fixture(), DEFAULT_ALGORITHMS, 100);
        let mut kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        kids.sort();
        assert_eq!(
            kids,
            ["eddsa", "es256", "es256-b", "es384", "ps256", "rs256"]
        );
        let mut gone: Vec<_> = skipped
            .iter()
            .map(|s| (s.kid.clone().unwrap(), s.reason))
            .collect();
        gone.sort();
        assert_eq!(
            gone,
            [
                ("enc-key".to_owned(), "`use` is not `sig`"),
                (
                    "leaky".to_owned(),
                    "it carries private or symmetric key material"
                ),
                (
                    "oct".to_owned(),
                    "it carries private or symmetric key material"
                ),
                (
                    "rsa1024".to_owned(),
                    "its RSA modulus is not 2048 to 8192 bits"
                ),
            ]
        );
    }

    #[test]
    fn each_bad_key_is_skipped_for_its_own_reason() {
        assert_eq!(skipped_reason(key("es256"), |_| {}), None);
        let flip_last = |s: &str| {
            let mut b = URL_SAFE_NO_PAD.decode(s).unwrap();
            *b.last_mut().unwrap() ^= 1;
            URL_SAFE_NO_PAD.encode(b)
        };
        assert_eq!(
            skipped_reason(key("es256"), |k| {
                let y = flip_last(k["y"].as_str().unwrap());
                k.insert("y".into(), Value::String(y));
            }),
            Some("its key material is invalid"),
            "a point off the curve"
        );
        assert_eq!(
            skipped_reason(key("es256"), |k| {
                k.insert("crv".into(), "P-521".into());
            }),
            Some("its curve is not supported")
        );
        assert_eq!(
            skipped_reason(key("es256"), |k| {
                k.insert("key_ops".into(), serde_json::json!(["encrypt"]));
            }),
            Some("`key_ops` does not include `verify`")
        );
        assert_eq!(
            skipped_reason(key("es256"), |k| {
                k.insert("key_ops".into(), serde_json::json!(["verify"]));
            }),
            None
        );
        assert_eq!(
            skipped_reason(key("rs256"), |k| {
                k.insert("e".into(), "Ag".into());
            }),
            Some("its RSA exponent is unusual")
        );
        assert_eq!(
            skipped_reason(key("rs256"), |k| {
                k.insert("alg".into(), "ES256".into());
            }),
            Some("its `alg` does not fit its key type")
        );
        assert_eq!(
            skipped_reason(key("rs256"), |k| {
                k.insert("alg".into(), "RS1".into());
            }),
            Some("its `alg` is not supported")
        );
        assert_eq!(
            skipped_reason(key("rs256"), |k| {
                k.insert("kty".into(), "RSA-OAEP".into());
            }),
            Some("its key type is not supported")
        );
        assert_eq!(
            skipped_reason(key("rs256"), |k| {
                k.insert("n".into(), "!!".into());
            }),
            Some("a member is not base64url")
        );
        assert_eq!(
            skipped_reason(key("eddsa"), |k| {
                k.insert("crv".into(), "X25519".into());
            }),
            Some("its curve is not supported")
        );
    }

    #[test]
    fn keys_sharing_a_kid_are_chosen_by_alg_and_keys_without_alg_fit_their_type() {
        let a = key("es256");
        let mut b = key("es256-b");
        b.as_object_mut()
            .unwrap()
            .insert("kid".into(), "es256".into());
        let mut ed = key("eddsa");
        ed.as_object_mut()
            .unwrap()
            .insert("kid".into(), "es256".into());
        let (keys, skipped) = ingest(
            &serde_json::json!({ "keys": [a.clone(), ed.clone()] }),
            DEFAULT_ALGORITHMS,
            100,
        );
        assert!(skipped.is_empty());
        assert!(
            matches!(select(&keys, Some("es256"), SigningAlgorithm::ES256), Selection::Found(k) if k.accepts(SigningAlgorithm::ES256))
        );
        assert!(
            matches!(select(&keys, Some("es256"), SigningAlgorithm::EdDSA), Selection::Found(k) if k.accepts(SigningAlgorithm::EdDSA))
        );
        assert!(matches!(
            select(&keys, Some("es256"), SigningAlgorithm::RS256),
            Selection::Mismatch
        ));
        assert!(matches!(
            select(&keys, Some("nope"), SigningAlgorithm::ES256),
            Selection::Missing
        ));
        let (keys, _) = ingest(
            &serde_json::json!({ "keys": [a, b, ed] }),
            DEFAULT_ALGORITHMS,
            100,
        );
        assert!(matches!(
            select(&keys, Some("es256"), SigningAlgorithm::ES256),
            Selection::Ambiguous
        ));
        assert!(matches!(
            select(&keys, None, SigningAlgorithm::ES256),
            Selection::Ambiguous
        ));
        assert!(matches!(
            select(&keys, None, SigningAlgorithm::EdDSA),
            Selection::Found(_)
        ));
        // Only usable keys count against the limit.
        let junk = serde_json::json!({"kty": "oct", "k": "AAAA"});
        let (keys, skipped) = ingest(
            &serde_json::json!({ "keys": [junk.clone(), junk, key("es256"), key("eddsa"), key("rs256")] }),
            DEFAULT_ALGORITHMS,
            2,
        );
        assert_eq!(keys.len(), 2);
        assert_eq!(skipped.len(), 3);
        assert!(skipped[2].reason.contains("max_keys"));
        let mut rsa = key("rs256");
        rsa.as_object_mut().unwrap().remove("alg");
        let (keys, _) = ingest(
            &serde_json::json!({ "keys": [rsa] }),
            DEFAULT_ALGORITHMS,
            100,
        );
        assert!(
            keys[0].accepts(SigningAlgorithm::RS256) && keys[0].accepts(SigningAlgorithm::PS256)
        );
        assert!(
            !keys[0].accepts(SigningAlgorithm::RS512),
            "not in the allowed set"
        );
    }
}
