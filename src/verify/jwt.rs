//! Strict parsing of a compact JWS, before any signature work: size, segments, canonical base64url,
//! JSON objects without duplicate members, and the header members this verifier refuses.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::VerifyError;
use crate::jose::SigningAlgorithm;

/// Largest token accepted, before decoding (DESIGN §5).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest `kid` looked up; a longer one is refused without a lookup.
const MAX_KID_CHARS: usize = 256;

/// The header members that matter, checked; strings borrowed from the decoded header.
#[derive(Debug, Clone)]
pub(crate) struct Header<'a> {
    pub(crate) alg: SigningAlgorithm,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
    /// The embedded public key, only when parsing a DPoP proof ([`HeaderRules::dpop_proof`]).
    pub(crate) jwk: Option<Map<String, Value>>,
}

/// A compact JWS cut into its segments and base64url-decoded into one buffer, not yet parsed.
pub(crate) struct Decoded<'t> {
    /// `base64url(header) . base64url(payload)`: what the signature covers.
    signing_input: &'t [u8],
    /// Characters of `base64url(header)`.
    header_segment_len: usize,
    /// Header, payload, then signature.
    bytes: Vec<u8>,
    payload_at: usize,
    signature_at: usize,
    /// Whether the payload and the signature decoded (a failure is reported after the header's own).
    rest_decoded: bool,
    /// Whether the signature segment holds a further dot (more than three segments).
    extra_segment: bool,
}

/// A parsed, not yet verified, compact JWS, borrowing from its [`Decoded`] bytes; its claims as the
/// caller's reader made them.
pub(crate) struct Jws<'a, C> {
    pub(crate) header: Header<'a>,
    pub(crate) claims: C,
    /// The decoded payload: UTF-8, and accepted by the reader.
    pub(crate) payload: &'a str,
    /// `base64url(header) . base64url(payload)`: what the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: &'a [u8],
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

/// Cuts `token` into three non-empty segments and decodes them: no JSON is read yet.
pub(crate) fn decode(token: &str, max_bytes: usize) -> Result<Decoded<'_>, VerifyError> {
    if token.len() > max_bytes {
        return Err(VerifyError::TooLarge);
    }
    let Some((h, rest)) = token.split_once('.') else {
        return Err(VerifyError::Segments);
    };
    let Some((p, sig)) = rest.split_once('.') else {
        return Err(VerifyError::Segments);
    };
    if h.is_empty() || p.is_empty() || sig.is_empty() {
        return Err(VerifyError::Segments);
    }
    let decode = |segment: &str, out: &mut Vec<u8>| {
        base64_simd::URL_SAFE_NO_PAD
            .decode_append(segment, out)
            .map_err(|_| VerifyError::Base64)
    };
    let mut bytes = Vec::with_capacity((h.len() + p.len() + sig.len()) / 4 * 3 + 6);
    // The signature segment is not searched for a further dot up front: base64url refuses one, and
    // whatever refused the token then, the dot means it had more than three segments.
    let extra_segment = || sig.contains('.');
    if let Err(e) = decode(h, &mut bytes) {
        return Err(if extra_segment() {
            VerifyError::Segments
        } else {
            e
        });
    }
    let payload_at = bytes.len();
    let rest = decode(p, &mut bytes);
    let signature_at = bytes.len();
    let rest = rest.and_then(|()| decode(sig, &mut bytes));
    Ok(Decoded {
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        header_segment_len: h.len(),
        payload_at,
        signature_at,
        rest_decoded: rest.is_ok(),
        extra_segment: rest.is_err() && extra_segment(),
        bytes,
    })
}

/// How the payload is read: into the claims a caller needs, refusing what [`json::parse`] refuses
/// (duplicate names at any depth, anything but one JSON object).
///
/// [`json::parse`]: crate::json::parse
pub(crate) type Reader<C> = fn(&str) -> Result<C, crate::json::Invalid>;

impl<'t> Decoded<'t> {
    /// Parses the header (checked first, as `allowed` and `rules` say), then the payload with `read`.
    pub(crate) fn parse<C>(
        &self,
        allowed: &[SigningAlgorithm],
        rules: HeaderRules,
        read: Reader<C>,
    ) -> Result<Jws<'_, C>, VerifyError> {
        let header = parse_header(self.header_text())
            .and_then(|raw| check_header(raw, allowed, rules))
            .map_err(|e| self.segments_first(e))?;
        self.with_header(header, read)
    }

    /// Parses the payload of a token whose header segment is one already parsed and checked (under
    /// the same rules) into `spans`: the header is what parsing it again would give.
    pub(crate) fn parse_remembered<C>(
        &self,
        spans: HeaderSpans,
        read: Reader<C>,
    ) -> Result<Jws<'_, C>, VerifyError> {
        let text = self.header_text();
        let at = |span: Option<Span>| match span {
            None => Ok(None),
            // The spans were string boundaries of this very text; anything else is a memo misuse.
            Some((start, len)) => text
                .get(usize::from(start)..usize::from(start) + usize::from(len))
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .map(|s| Some(Cow::Borrowed(s)))
                .ok_or(VerifyError::NotJsonObject),
        };
        let header = Header {
            alg: spans.alg,
            kid: at(spans.kid)?,
            typ: at(spans.typ)?,
            jwk: None,
        };
        self.with_header(header, read)
    }

    /// `base64url(header)` as it was in the token.
    pub(crate) fn header_segment(&self) -> &'t [u8] {
        &self.signing_input[..self.header_segment_len]
    }

    /// What [`parse_remembered`](Self::parse_remembered) needs to give `header` (parsed from these
    /// bytes) again: `None` when a string in it is not a span of the header's text (it had escapes)
    /// or the header carries a key.
    pub(crate) fn spans(&self, header: &Header<'_>) -> Option<HeaderSpans> {
        if header.jwk.is_some() {
            return None;
        }
        let text = self.header_text();
        let span = |s: &Option<Cow<'_, str>>| match s {
            None => Some(None),
            Some(Cow::Owned(_)) => None,
            Some(Cow::Borrowed(s)) => {
                let start = (s.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
                (start + s.len() <= text.len()).then_some(())?;
                Some(Some((
                    u16::try_from(start).ok()?,
                    u16::try_from(s.len()).ok()?,
                )))
            }
        };
        Some(HeaderSpans {
            alg: header.alg,
            kid: span(&header.kid)?,
            typ: span(&header.typ)?,
        })
    }

    fn header_text(&self) -> &[u8] {
        &self.bytes[..self.payload_at]
    }

    /// More than three segments is the reason given, whatever else failed.
    fn segments_first(&self, e: VerifyError) -> VerifyError {
        if self.extra_segment {
            VerifyError::Segments
        } else {
            e
        }
    }

    /// The token with its checked `header`: the rest decoded, the payload read.
    fn with_header<'a, C>(
        &'a self,
        header: Header<'a>,
        read: Reader<C>,
    ) -> Result<Jws<'a, C>, VerifyError> {
        if !self.rest_decoded {
            return Err(self.segments_first(VerifyError::Base64));
        }
        let payload = std::str::from_utf8(&self.bytes[self.payload_at..self.signature_at])
            .map_err(|_| self.segments_first(VerifyError::NotJsonObject))?;
        let claims = read(payload).map_err(|e| self.segments_first(refusal(e)))?;
        Ok(Jws {
            header,
            claims,
            payload,
            signing_input: self.signing_input,
            signature: &self.bytes[self.signature_at..],
        })
    }
}

/// Where a string lies in a header's decoded text: start and length in bytes.
type Span = (u16, u16);

/// A checked header as positions in its own text (see [`Decoded::spans`]): small and `Copy`, for
/// the verifier's memo of headers already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderSpans {
    alg: SigningAlgorithm,
    kid: Option<Span>,
    typ: Option<Span>,
}

/// A header member's name or value as this verifier reads it: a string (borrowed from the decoded
/// header unless it had escapes; serde's own `Cow<str>` always copies) or anything else. Objects and
/// arrays are still checked for duplicate member names at every depth.
enum Member<'de> {
    Str(Cow<'de, str>),
    Other,
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_unit<E>(self) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Member<'de>, A::Error> {
                crate::json::Checked
                    .visit_seq(access)
                    .map(|()| Member::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Member<'de>, A::Error> {
                crate::json::Checked
                    .visit_map(access)
                    .map(|()| Member::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// The header members this verifier reads, borrowed from the decoded header. `jwk`, `jku`, `x5u` and
/// `x5c` are never used to find a key; by default their presence alone refuses the token (RFC 8725
/// §3.10). Every other member is checked for duplicates and skipped.
#[derive(Default)]
struct RawHeader<'de> {
    alg: Option<Member<'de>>,
    kid: Option<Member<'de>>,
    typ: Option<Member<'de>>,
    cty: Option<Member<'de>>,
    jwk: Option<Value>,
    refused: Option<&'static str>,
    header_key: Option<&'static str>,
    crit: bool,
}

/// The names [`RawHeader`] tells apart, as the name itself and its bit in the set of names seen (a
/// `match`: a few integer compares, no search).
fn known(name: &str) -> Option<(&'static str, u16)> {
    let (name, bit) = match name {
        "alg" => ("alg", 0),
        "kid" => ("kid", 1),
        "typ" => ("typ", 2),
        "cty" => ("cty", 3),
        "jwk" => ("jwk", 4),
        "crit" => ("crit", 5),
        "b64" => ("b64", 6),
        "zip" => ("zip", 7),
        "enc" => ("enc", 8),
        "jku" => ("jku", 9),
        "x5u" => ("x5u", 10),
        "x5c" => ("x5c", 11),
        _ => return None,
    };
    Some((name, 1 << bit))
}

impl<'de> Deserialize<'de> for RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<RawHeader<'de>, A::Error> {
                let mut h = RawHeader::default();
                // Known names as bits; other names (rare) in a list made only when one appears.
                let mut known_seen = 0u16;
                // Other names are sorted once the header has been read to find repeats (a
                // search per name would make a 16 KiB header of short names cost milliseconds).
                let mut others = Vec::new();
                let mut repeated = false;
                while let Some(name) = access.next_key::<crate::json::Name<'de>>()? {
                    let Some((name, bit)) = known(&name.0) else {
                        access.next_value_seed(crate::json::Checked)?;
                        others.push(name);
                        continue;
                    };
                    if known_seen & bit != 0 {
                        repeated = true;
                    }
                    known_seen |= bit;
                    match name {
                        "alg" => h.alg = Some(access.next_value()?),
                        "kid" => h.kid = Some(access.next_value()?),
                        "typ" => h.typ = Some(access.next_value()?),
                        "cty" => h.cty = Some(access.next_value()?),
                        // Its members too are checked for duplicates: this key may be used.
                        "jwk" => h.jwk = Some(access.next_value_seed(crate::json::UniqueValue)?),
                        name => {
                            match name {
                                "crit" => h.crit = true,
                                "b64" | "zip" | "enc" => h.refused = h.refused.or(Some(name)),
                                _ => h.header_key = h.header_key.or(Some(name)),
                            }
                            access.next_value::<Member<'de>>()?;
                        }
                    }
                }
                if repeated || crate::json::repeats(&mut others) {
                    return Err(crate::json::duplicate());
                }
                Ok(h)
            }
        }
        d.deserialize_map(V)
    }
}

fn parse_header(bytes: &[u8]) -> Result<RawHeader<'_>, VerifyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| VerifyError::NotJsonObject)?;
    crate::json::read(text, std::marker::PhantomData::<RawHeader<'_>>).map_err(refusal)
}

/// A JSON document's refusal as the token's.
fn refusal(e: crate::json::Invalid) -> VerifyError {
    match e {
        crate::json::Invalid::Duplicate => VerifyError::DuplicateMember,
        crate::json::Invalid::Syntax { .. } => VerifyError::NotJsonObject,
    }
}

fn check_header<'a>(
    header: RawHeader<'a>,
    allowed: &[SigningAlgorithm],
    rules: HeaderRules,
) -> Result<Header<'a>, VerifyError> {
    let alg = match &header.alg {
        Some(Member::Str(a)) if a.eq_ignore_ascii_case("none") => {
            return Err(VerifyError::AlgNone);
        }
        Some(Member::Str(a)) => SigningAlgorithm::parse(a)
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
        Some(Member::Str(c)) if !c.eq_ignore_ascii_case("jwt") => {}
        Some(_) => return Err(VerifyError::UnsupportedHeader("cty")),
    }
    let kid = match header.kid {
        None => None,
        Some(Member::Str(k)) if k.chars().count() <= MAX_KID_CHARS => Some(k),
        Some(_) => return Err(VerifyError::InvalidKid),
    };
    let typ = match header.typ {
        None => None,
        Some(Member::Str(t)) => Some(t),
        Some(_) => return Err(VerifyError::Typ),
    };
    Ok(Header { alg, kid, typ, jwk })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    const ALL: &[SigningAlgorithm] = &[SigningAlgorithm::RS256, SigningAlgorithm::ES256];

    /// What `decode` then `parse` make of `t`: the header's `kid` and `typ`, or the refusal.
    fn parse(
        t: &str,
        max_bytes: usize,
        allowed: &[SigningAlgorithm],
        rules: HeaderRules,
    ) -> Result<(Option<String>, Option<String>), VerifyError> {
        let decoded = decode(t, max_bytes)?;
        let jws = decoded.parse(allowed, rules, crate::json::parse_object)?;
        let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        Ok((owned(jws.header.kid), owned(jws.header.typ)))
    }

    fn err(t: &str) -> VerifyError {
        parse(t, DEFAULT_MAX_TOKEN_BYTES, ALL, HeaderRules::default()).expect_err("refused")
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
        // The header too: escapes do not hide a repeat, and members this verifier skips are still
        // checked at every depth.
        for header in [
            r#"{"alg":"RS256","\u0061lg":"none"}"#,
            r#"{"alg":"RS256","x":1,"x":2}"#,
            r#"{"alg":"RS256","x":{"a":1,"a":2}}"#,
            r#"{"alg":"RS256","crit2":[{"b":1,"b":2}]}"#,
            r#"{"alg":"RS256","kid":"k","kid":"k"}"#,
        ] {
            assert_eq!(
                err(&token(header, "{}")),
                VerifyError::DuplicateMember,
                "{header}"
            );
        }
        assert_eq!(
            err(&token(r#"{"alg":"RS256","kid":{"a":1}}"#, "{}")),
            VerifyError::InvalidKid
        );
        // Many names (found repeated by sorting once, not by a search per name): distinct ones
        // pass, one repeat among them is found wherever it is.
        let many: String = (0..1000).map(|i| format!(r#","n{i}":0"#)).collect();
        let header = format!(r#"{{"alg":"RS256"{many}}}"#);
        assert!(parse(&token(&header, "{}"), 100_000, ALL, HeaderRules::default()).is_ok());
        for repeat in [r#","n0":1"#, r#","n999":1"#, r#","\u006e500":1"#] {
            let header = format!(r#"{{"alg":"RS256"{many}{repeat}}}"#);
            assert_eq!(
                err(&token(&header, "{}")),
                VerifyError::DuplicateMember,
                "{repeat}"
            );
        }
        // Not UTF-8: refused as not JSON.
        let latin1 = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(b"{\"alg\":\"RS256\",\"x\":\"\xff\"}"),
            b64("{}"),
            b64("sig")
        );
        assert_eq!(err(&latin1), VerifyError::NotJsonObject);
        assert!(
            parse(
                &token(r#"{"alg":"RS256","x":{"a":[1,{"b":2}]}}"#, "{}"),
                100_000,
                ALL,
                HeaderRules::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn every_known_header_name_has_its_own_bit() {
        let names = [
            "alg", "kid", "typ", "cty", "jwk", "crit", "b64", "zip", "enc", "jku", "x5u", "x5c",
        ];
        let mut bits = 0u16;
        for name in names {
            let (same, bit) = known(name).unwrap();
            assert_eq!(same, name);
            assert_eq!(bit.count_ones(), 1, "{name}");
            assert_eq!(bits & bit, 0, "{name} shares a bit");
            bits |= bit;
        }
        assert_eq!(known("ALG"), None);
        assert_eq!(known("x5t"), None);
    }

    /// A fourth segment is reported as such whatever else is wrong with the token, though the
    /// signature segment is not searched for dots before decoding.
    #[test]
    fn more_than_three_segments_whatever_else_fails() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        for bad in [
            format!("{good}.x"),
            format!("{good}."),
            format!("!!!.{}", &good[good.find('.').unwrap() + 1..]) + ".x",
            format!("{}.x", token(r#"{"alg":"none"}"#, "{}")),
            format!("{}.x", token(r#"{"alg":"RS256"}"#, "not json")),
        ] {
            assert_eq!(err(&bad), VerifyError::Segments, "{bad}");
        }
        assert_eq!(err(&format!("{good}!")), VerifyError::Base64);
    }

    /// A header given again from its spans is the header parsing gives: the same algorithm, `kid`
    /// and `typ` (borrowed from the new token's own text), the same claims, and the same refusal of
    /// whatever is wrong after the header.
    #[test]
    fn a_remembered_header_reads_as_parsing_it_again() {
        let lenient = HeaderRules {
            ignore_header_keys: true,
            dpop_proof: false,
        };
        for (header, rules) in [
            (
                r#"{"alg":"RS256","kid":"rs256","typ":"at+jwt"}"#,
                HeaderRules::default(),
            ),
            (r#"{"typ":"JWT","alg":"ES256"}"#, HeaderRules::default()),
            (r#"{"alg":"RS256"}"#, HeaderRules::default()),
            (
                r#" { "kid" : "é-ü" , "alg":"ES256", "x":[1,{"y":2}] } "#,
                HeaderRules::default(),
            ),
            (r#"{"alg":"RS256","kid":"k","jku":"https://x"}"#, lenient),
        ] {
            let first = token(header, r#"{"sub":"a"}"#);
            let decoded = decode(&first, 100_000).unwrap();
            let parsed = decoded
                .parse(ALL, rules, crate::json::parse_object)
                .unwrap();
            let spans = decoded.spans(&parsed.header).expect(header);
            // Another token with the same header segment.
            let second = token(header, r#"{"sub":"b","n":[1]}"#);
            let again = decode(&second, 100_000).unwrap();
            assert_eq!(again.header_segment(), decoded.header_segment());
            let fresh = again.parse(ALL, rules, crate::json::parse_object).unwrap();
            let remembered = again
                .parse_remembered(spans, crate::json::parse_object)
                .unwrap();
            assert_eq!(remembered.header.alg, fresh.header.alg, "{header}");
            assert_eq!(remembered.header.kid, fresh.header.kid, "{header}");
            assert_eq!(remembered.header.typ, fresh.header.typ, "{header}");
            assert_eq!(remembered.claims, fresh.claims);
            assert_eq!(remembered.signature, fresh.signature);
            assert_eq!(
                remembered.signing_input,
                second.rsplit_once('.').unwrap().0.as_bytes()
            );
            let segment = &second[..second.find('.').unwrap()];
            for bad in [
                format!("{segment}.{}.{}", b64(r#"{"a":1,"a":2}"#), b64("sig")),
                format!("{segment}.{}.{}", b64("[1]"), b64("sig")),
                format!("{segment}.{}=.{}", b64("{}"), b64("sig")),
                format!("{segment}.{}.{}.x", b64("{}"), b64("sig")),
                format!("{segment}.{}.{}!", b64("{}"), b64("sig")),
            ] {
                let d = decode(&bad, 100_000).unwrap();
                assert_eq!(
                    d.parse_remembered(spans, crate::json::parse_object).err(),
                    d.parse(ALL, rules, crate::json::parse_object).err(),
                    "{bad}"
                );
            }
        }
        // Not remembered: a `kid` or `typ` with escapes is not a span of the text.
        for header in [
            r#"{"alg":"RS256","kid":"a\u0062"}"#,
            r#"{"alg":"RS256","typ":"at+jw\u0074"}"#,
        ] {
            let t = token(header, "{}");
            let decoded = decode(&t, 100_000).unwrap();
            let parsed = decoded
                .parse(ALL, HeaderRules::default(), crate::json::parse_object)
                .unwrap();
            assert_eq!(decoded.spans(&parsed.header), None, "{header}");
        }
        // Nor a header carrying its key (a DPoP proof's).
        let proof = token(
            r#"{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"EC"}}"#,
            "{}",
        );
        let rules = HeaderRules {
            ignore_header_keys: false,
            dpop_proof: true,
        };
        let decoded = decode(&proof, 100_000).unwrap();
        let parsed = decoded
            .parse(ALL, rules, crate::json::parse_object)
            .unwrap();
        assert_eq!(decoded.spans(&parsed.header), None);
    }

    /// Decoding accepts exactly what the `base64` crate's strict unpadded URL-safe engine accepts,
    /// with the same bytes: every string of up to five characters over an alphabet of boundary
    /// characters (ends of the alphabet, padding, the standard alphabet's extra characters, dots,
    /// spaces and a non-ASCII byte).
    #[test]
    fn base64url_decoding_is_exactly_the_strict_canonical_one() {
        let chars = [
            "A", "Q", "g", "w", "_", "-", "9", "=", "+", "/", ".", " ", "é",
        ];
        let mut inputs = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..5 {
            last = last
                .iter()
                .flat_map(|p| chars.iter().map(move |c| format!("{p}{c}")))
                .collect();
            inputs.extend(last.iter().cloned());
        }
        assert!(inputs.len() > 400_000);
        let mut accepted = 0;
        for input in &inputs {
            let ours = {
                let mut out = Vec::new();
                base64_simd::URL_SAFE_NO_PAD
                    .decode_append(input, &mut out)
                    .map(|()| out)
            };
            let reference = URL_SAFE_NO_PAD.decode(input);
            assert_eq!(ours.is_ok(), reference.is_ok(), "{input:?}");
            if let (Ok(a), Ok(b)) = (ours, reference) {
                assert_eq!(a, b, "{input:?}");
                accepted += 1;
            }
        }
        assert!(accepted > 1000, "{accepted}");
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
        let (kid, typ) = parse(&t, 100_000, ALL, lenient).unwrap();
        assert_eq!(kid.as_deref(), Some("k1"));
        assert_eq!(typ.as_deref(), Some("at+jwt"));
    }
}
