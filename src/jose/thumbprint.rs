//! JWK thumbprints (RFC 7638): what a DPoP-bound token's `cnf.jkt` names (RFC 9449 §6.1).

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// base64url (no padding) of the SHA-256 of `bytes`: a thumbprint's last step, and a DPoP proof's
/// `ath` (RFC 9449 §4.2) of an access token.
pub(crate) fn sha256_b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, bytes))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK: its required members for its `kty`, in
/// lexicographic order, as JSON without whitespace. `None` for a key type without a definition here
/// (RSA, EC and OKP have one) or a required member that is missing or not a string.
pub(crate) fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    // The members are already in lexicographic order; serde_json writes each string as RFC 7638 §3.3
    // requires (RFC 8259 escaping, no whitespace).
    let mut canonical = String::from("{");
    for (i, name) in required.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&Value::String((*name).to_owned()).to_string());
        canonical.push(':');
        canonical.push_str(&Value::String(value.to_owned()).to_string());
    }
    canonical.push('}');
    Some(sha256_b64(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_rfc_7638_example_key_has_the_rfc_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = object(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }));
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn optional_members_do_not_change_it_and_missing_ones_give_none() {
        let ec = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"});
        let mut with_extra = ec.clone();
        with_extra["kid"] = "k".into();
        with_extra["use"] = "sig".into();
        assert_eq!(
            thumbprint(&object(ec.clone())),
            thumbprint(&object(with_extra))
        );
        let mut missing = ec;
        missing.as_object_mut().unwrap().remove("y");
        assert_eq!(thumbprint(&object(missing)), None);
        assert_eq!(
            thumbprint(&object(serde_json::json!({"kty": "oct", "k": "x"}))),
            None
        );
        assert_eq!(
            thumbprint(&object(
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": 5})
            )),
            None
        );
    }
}
