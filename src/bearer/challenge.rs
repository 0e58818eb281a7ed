//! Reading `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3) well enough to decide
//! whether a 401 means "your bearer token was rejected".

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;

/// One challenge: a scheme and its `name=value` parameters (token68 forms are kept as no parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (compare case-insensitively).
    pub scheme: String,
    /// Parameters in order, names lower-cased, quoted strings unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive), if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses every challenge in every `WWW-Authenticate` header. Malformed input ends the parse of that
/// header; what was read before is kept.
pub fn parse_challenges(headers: &HeaderMap) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        if let Ok(text) = value.to_str() {
            parse_into(text, &mut out);
        }
    }
    out
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b',') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.i < self.s.len() && is_tchar(self.s[self.i]) {
            self.i += 1;
        }
        (self.i > start).then(|| std::str::from_utf8(&self.s[start..self.i]).unwrap_or(""))
    }
    fn quoted(&mut self) -> Option<String> {
        // At the opening quote.
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.i += 1;
                    out.push(escaped);
                }
                _ => out.push(c),
            }
        }
        None
    }
}

fn parse_into(text: &str, out: &mut Vec<Challenge>) {
    let mut c = Cursor {
        s: text.as_bytes(),
        i: 0,
    };
    c.skip_ws_commas();
    // Bounded: every iteration consumes input or stops.
    while let Some(scheme) = c.token() {
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            params: Vec::new(),
        };
        c.skip_ws();
        loop {
            let save = c.i;
            c.skip_ws_commas();
            let Some(name) = c.token() else { break };
            c.skip_ws();
            if c.peek() != Some(b'=') {
                // A bare token: the next challenge's scheme (or a token68, which we do not need).
                c.i = save;
                break;
            }
            c.i += 1;
            c.skip_ws();
            let value = match c.peek() {
                Some(b'"') => match c.quoted() {
                    Some(v) => v,
                    None => {
                        out.push(challenge);
                        return;
                    }
                },
                _ => {
                    // token68 values may end in '='.
                    let v = c.token().unwrap_or("").to_owned();
                    while c.peek() == Some(b'=') {
                        c.i += 1;
                    }
                    v
                }
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
        c.skip_ws_commas();
    }
}

/// RFC 6750 §3.1: a 401 means "refresh and retry" when its Bearer challenge has `error="invalid_token"`
/// or no error at all. A 401 with no challenge is treated the same way (some APIs omit the header).
/// A 401 that only challenges another scheme, or a Bearer `invalid_request`/`insufficient_scope`, is not.
#[cfg(test)]
pub(crate) fn bearer_token_rejected(headers: &HeaderMap) -> bool {
    token_rejected_under(headers, "Bearer")
}

/// Whether a 401's challenges reject a token sent under `scheme` (`Bearer`, or `DPoP` per RFC 9449
/// §7.1, which uses the same error codes): that scheme's challenge with `error="invalid_token"` or no
/// error, or no challenge at all.
pub(crate) fn token_rejected_under(headers: &HeaderMap, scheme: &str) -> bool {
    let challenges = parse_challenges(headers);
    if challenges.is_empty() {
        return true;
    }
    challenges
        .iter()
        .filter(|c| c.scheme.eq_ignore_ascii_case(scheme))
        .any(|c| matches!(c.param("error"), None | Some("invalid_token")))
}

/// Whether a resource server's 401 asks for a DPoP nonce (RFC 9449 §9): a `DPoP` challenge with
/// `error="use_dpop_nonce"`.
pub(crate) fn dpop_nonce_demanded(headers: &HeaderMap) -> bool {
    parse_challenges(headers).iter().any(|c| {
        c.scheme.eq_ignore_ascii_case("dpop") && c.param("error") == Some("use_dpop_nonce")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_multiple_challenges_with_quoted_commas_and_escapes() {
        let c = parse_challenges(&headers(&[
            r#"Basic realm="a, b", Bearer realm="x", error="invalid_token", error_description="say \"hi\"""#,
        ]));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "Basic");
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[1].scheme, "Bearer");
        assert_eq!(c[1].param("ERROR"), Some("invalid_token"));
        assert_eq!(c[1].param("error_description"), Some(r#"say "hi""#));
    }

    #[test]
    fn token68_and_separate_headers() {
        let c = parse_challenges(&headers(&[
            "Negotiate abc123==",
            "bearer error=invalid_token",
        ]));
        assert_eq!(c[0].scheme, "Negotiate");
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("error"), Some("invalid_token"));
    }

    #[test]
    fn which_401s_mean_the_token_was_rejected() {
        assert!(bearer_token_rejected(&headers(&[])));
        assert!(bearer_token_rejected(&headers(&[r#"Bearer realm="api""#])));
        assert!(bearer_token_rejected(&headers(&[
            r#"Bearer error="invalid_token""#
        ])));
        assert!(bearer_token_rejected(&headers(&[
            r#"BEARER error="invalid_token""#
        ])));
        assert!(!bearer_token_rejected(&headers(&[r#"Basic realm="api""#])));
        assert!(!bearer_token_rejected(&headers(&[
            r#"Bearer error="invalid_request""#
        ])));
        assert!(!bearer_token_rejected(&headers(&[
            r#"Bearer error="insufficient_scope", scope="admin""#
        ])));
        assert!(!bearer_token_rejected(&headers(&[
            r#"DPoP error="invalid_token""#
        ])));
    }

    #[test]
    fn which_401s_reject_a_dpop_token_or_ask_for_a_nonce() {
        let rejected = |v: &[&str]| token_rejected_under(&headers(v), "DPoP");
        assert!(rejected(&[]));
        assert!(rejected(&[r#"DPoP error="invalid_token", algs="ES256""#]));
        assert!(rejected(&[r#"Bearer realm="api", DPoP algs="ES256""#]));
        // A server that only speaks Bearer: a new DPoP token would fare no better.
        assert!(!rejected(&[r#"Bearer error="invalid_token""#]));
        assert!(!rejected(&[r#"DPoP error="invalid_dpop_proof""#]));
        assert!(!rejected(&[r#"DPoP error="use_dpop_nonce""#]));
        assert!(dpop_nonce_demanded(&headers(&[
            r#"Bearer realm="api", DPoP error="use_dpop_nonce", algs="ES256""#
        ])));
        assert!(!dpop_nonce_demanded(&headers(&[
            r#"Bearer error="use_dpop_nonce""#
        ])));
        assert!(!dpop_nonce_demanded(&headers(&[
            r#"DPoP error="invalid_token""#
        ])));
    }

    #[test]
    fn malformed_input_never_panics() {
        for s in [
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer a=\\",
            "=",
            ",,,",
            "Bearer ,=,",
            "Bearer realm=\"x\\",
        ] {
            let _ = parse_challenges(&headers(&[s]));
        }
    }
}
