//! Strict parsing of a compact JWS, before any signature work: size, segments, canonical base64url,
//! JSON objects without duplicate members, and the header members this verifier refuses.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::error::VerifyError;
use crate::jose::SigningAlgorithm;

/// Largest token accepted, before decoding (DESIGN §5).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest `kid` looked up; a longer one is refused without a lookup.
const MAX_KID_CHARS: usize = 256;

const DUPLICATE: &str = "duplicate member";

fn decode_object(segment: &str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Base64)?;
    crate::json::parse_object(&bytes).map_err(|e| match e {
        crate::json::Invalid::Duplicate => VerifyError::DuplicateMember,
        crate::json::Invalid::Syntax { .. } => VerifyError::NotJsonObject,
    })
}

/// The header members that matter, checked.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) alg: SigningAlgorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    /// The embedded public key, only when parsing a DPoP proof ([`HeaderRules::dpop_proof`]).
    pub(crate) jwk: Option<Map<String, Value>>,
}

/// A parsed, not yet verified, compact JWS.
pub(crate) struct Jws<'a> {
    pub(crate) header: Header,
    pub(crate) claims: Map<String, Value>,
    /// `base64url(header) . base64url(payload)`: what the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Vec<u8>,
}

/// What the header may carry beyond what is checked always.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderRules {
    /// Ignore `jku`, `x5u`, `x5c` and `jwk` instead of refusing the token (RFC 8725 §3.10: keys a token
    /// names for itself are never used either way).
    pub(crate) ignore_header_keys: bool,
    /// A DPoP proof (RFC 9449 §4.2): `jwk` is its key, required and returned; `jku`, `x5u` and `x5c`
    /// are still refused.
    pub(crate) dpop_proof: bool,
}

/// Parses `token` strictly. `allowed` are the algorithms this verifier accepts.
pub(crate) fn parse<'a>(
    token: &'a str,
    max_bytes: usize,
    allowed: &[SigningAlgorithm],
    rules: HeaderRules,
) -> Result<Jws<'a>, VerifyError> {
    if token.len() > max_bytes {
        return Err(VerifyError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Segments);
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(VerifyError::Segments);
    }
    let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| VerifyError::Base64)?;
    let header = check_header(parse_header(&header_bytes)?, allowed, rules)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| VerifyError::Base64)?;
    let claims = decode_object(p)?;
    Ok(Jws {
        header,
        claims,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature,
    })
}

/// The header members this verifier reads; every other member is skipped without being stored.
/// `jwk`, `jku`, `x5u` and `x5c` are never used to find a key; by default their presence alone
/// refuses the token (RFC 8725 §3.10).
#[derive(Default)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    cty: Option<Value>,
    jwk: Option<Value>,
    refused: Option<&'static str>,
    header_key: Option<&'static str>,
    crit: bool,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<RawHeader, A::Error> {
                let mut h = RawHeader::default();
                let mut seen: Vec<std::borrow::Cow<'de, str>> = Vec::with_capacity(4);
                while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
                    if seen.contains(&key) {
                        return Err(de::Error::custom(DUPLICATE));
                    }
                    match key.as_ref() {
                        "alg" => h.alg = Some(access.next_value()?),
                        "kid" => h.kid = Some(access.next_value()?),
                        "typ" => h.typ = Some(access.next_value()?),
                        "cty" => h.cty = Some(access.next_value()?),
                        name => {
                            match name {
                                "crit" => h.crit = true,
                                "b64" => h.refused = h.refused.or(Some("b64")),
                                "zip" => h.refused = h.refused.or(Some("zip")),
                                "enc" => h.refused = h.refused.or(Some("enc")),
                                "jku" => h.header_key = h.header_key.or(Some("jku")),
                                "x5u" => h.header_key = h.header_key.or(Some("x5u")),
                                "x5c" => h.header_key = h.header_key.or(Some("x5c")),
                                "jwk" => {
                                    // Its members too are checked for duplicates: this key may be used.
                                    h.jwk = Some(access.next_value_seed(crate::json::UniqueValue)?);
                                    seen.push(key);
                                    continue;
                                }
                                _ => {}
                            }
                            access.next_value::<de::IgnoredAny>()?;
                        }
                    }
                    seen.push(key);
                }
                Ok(h)
            }
        }
        d.deserialize_map(V)
    }
}

fn parse_header(bytes: &[u8]) -> Result<RawHeader, VerifyError> {
    serde_json::from_slice::<RawHeader>(bytes).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            VerifyError::DuplicateMember
        } else {
            VerifyError::NotJsonObject
        }
    })
}

fn check_header(
    header: RawHeader,
    allowed: &[SigningAlgorithm],
    rules: HeaderRules,
) -> Result<Header, VerifyError> {
    let alg = match &header.alg {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => {
            return Err(VerifyError::AlgNone);
        }
        Some(Value::String(a)) => SigningAlgorithm::parse(a)
            .filter(|a| allowed.contains(a))
            .ok_or(VerifyError::AlgNotAllowed)?,
        _ => return Err(VerifyError::AlgNotAllowed),
    };
    // RFC 7515 §4.1.11: every name in crit must be understood; this verifier understands none.
    if header.crit {
        return Err(VerifyError::Crit);
    }
    if let Some(refused) = header.refused {
        return Err(VerifyError::UnsupportedHeader(refused));
    }
    let jwk = match header.jwk {
        Some(Value::Object(jwk)) if rules.dpop_proof => Some(jwk),
        Some(_) if rules.dpop_proof => return Err(VerifyError::HeaderKey("jwk")),
        None if rules.dpop_proof => return Err(VerifyError::MissingClaim("jwk")),
        Some(_) if !rules.ignore_header_keys => return Err(VerifyError::HeaderKey("jwk")),
        _ => None,
    };
    if let Some(member) = header.header_key
        && (rules.dpop_proof || !rules.ignore_header_keys)
    {
        return Err(VerifyError::HeaderKey(member));
    }
    match &header.cty {
        None => {}
        Some(Value::String(c)) if !c.eq_ignore_ascii_case("jwt") => {}
        Some(_) => return Err(VerifyError::UnsupportedHeader("cty")),
    }
    let kid = match header.kid {
        None => None,
        Some(Value::String(k)) if k.chars().count() <= MAX_KID_CHARS => Some(k),
        Some(_) => return Err(VerifyError::InvalidKid),
    };
    let typ = match header.typ {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => return Err(VerifyError::Typ),
    };
    Ok(Header { alg, kid, typ, jwk })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    const ALL: &[SigningAlgorithm] = &[SigningAlgorithm::RS256, SigningAlgorithm::ES256];

    fn err(t: &str) -> VerifyError {
        parse(t, DEFAULT_MAX_TOKEN_BYTES, ALL, HeaderRules::default())
            .err()
            .expect("refused")
    }

    #[test]
    fn structure() {
        assert!(
            parse(
                &token(r#"{"alg":"RS256"}"#, "{}"),
                100_000,
                ALL,
                HeaderRules::default()
            )
            .is_ok()
        );
        assert_eq!(err("a.b"), VerifyError::Segments);
        assert_eq!(err("a.b.c.d"), VerifyError::Segments);
        assert_eq!(err("a.b.c.d.e"), VerifyError::Segments);
        assert_eq!(err(".b.c"), VerifyError::Segments);
        assert_eq!(err(&"a".repeat(20_000)), VerifyError::TooLarge);
    }

    #[test]
    fn canonical_base64url_only() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        for bad in [
            format!("{good}="),
            good.replace('.', ". "),
            format!("{}+", good),
            format!("{}/", good),
        ] {
            assert!(
                matches!(err(&bad), VerifyError::Base64 | VerifyError::Segments),
                "{bad}"
            );
        }
        // "c2lnZ" has non-zero trailing bits where "c2lnZQ" is canonical.
        let (hp, _) = good.rsplit_once('.').unwrap();
        assert_eq!(err(&format!("{hp}.c2lnZR")), VerifyError::Base64);
    }

    #[test]
    fn json_objects_without_duplicates() {
        assert_eq!(
            err(&token(r#"{"alg":"RS256","alg":"none"}"#, "{}")),
            VerifyError::DuplicateMember
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256"}"#, r#"{"exp":1,"exp":2}"#)),
            VerifyError::DuplicateMember
        );
        assert_eq!(err(&token(r#"["alg"]"#, "{}")), VerifyError::NotJsonObject);
        assert_eq!(
            err(&token(r#"{"alg":"RS256"}"#, "not json")),
            VerifyError::NotJsonObject
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256"}"#, "{} {}")),
            VerifyError::NotJsonObject
        );
    }

    #[test]
    fn header_rules() {
        for none in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                err(&token(&format!(r#"{{"alg":"{none}"}}"#), "{}")),
                VerifyError::AlgNone
            );
        }
        assert_eq!(
            err(&token(r#"{"alg":"HS256"}"#, "{}")),
            VerifyError::AlgNotAllowed
        );
        assert_eq!(
            err(&token(r#"{"alg":"rs256"}"#, "{}")),
            VerifyError::AlgNotAllowed
        );
        assert_eq!(err(&token(r#"{}"#, "{}")), VerifyError::AlgNotAllowed);
        assert_eq!(
            err(&token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}")),
            VerifyError::Crit
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","crit":[]}"#, "{}")),
            VerifyError::Crit
        );
        assert_eq!(
            err(&token(
                r#"{"alg":"RS256","b64":false,"crit":["b64"]}"#,
                "{}"
            )),
            VerifyError::Crit
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","b64":false}"#, "{}")),
            VerifyError::UnsupportedHeader("b64")
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","zip":"DEF"}"#, "{}")),
            VerifyError::UnsupportedHeader("zip")
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","enc":"A128GCM"}"#, "{}")),
            VerifyError::UnsupportedHeader("enc")
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","cty":"jwt"}"#, "{}")),
            VerifyError::UnsupportedHeader("cty")
        );
        assert_eq!(
            err(&token(r#"{"alg":"RS256","kid":7}"#, "{}")),
            VerifyError::InvalidKid
        );
        let long = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(300));
        assert_eq!(err(&token(&long, "{}")), VerifyError::InvalidKid);
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"at+jwt","jku":"https://evil"}"#,
            "{}",
        );
        assert_eq!(err(&t), VerifyError::HeaderKey("jku"));
        let lenient = HeaderRules {
            ignore_header_keys: true,
            dpop_proof: false,
        };
        let ok = parse(&t, 100_000, ALL, lenient).unwrap();
        assert_eq!(ok.header.kid.as_deref(), Some("k1"));
        assert_eq!(ok.header.typ.as_deref(), Some("at+jwt"));
    }
}
