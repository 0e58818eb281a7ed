//! Claim validation (RFC 7519 §4.1, RFC 9068): time claims, issuer, audience, type profile, `cnf`,
//! and scopes.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::error::VerifyError;
use crate::json;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (DESIGN §5).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Which `typ` header values are accepted. `typ` is a media type (RFC 7515 §4.1.9): compared without
/// regard to case, and a value without `/` stands for `application/<value>` — so `JWT` and
/// `application/jwt` are the same, as are `at+jwt` and `application/at+jwt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypProfile {
    /// Absent, `JWT` or `at+jwt` (in any of their media-type spellings): what most servers issue.
    #[default]
    Compat,
    /// RFC 9068 strictly: `at+jwt` (or `application/at+jwt`) and its required claims
    /// (`iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`).
    Strict,
}

/// The `application/` subtype a `typ` names (RFC 7515 §4.1.9), or `None` for another top-level type.
pub(crate) fn application_subtype(typ: &str) -> Option<&str> {
    match typ.split_once('/') {
        None => Some(typ),
        Some((top, sub)) if top.eq_ignore_ascii_case("application") => Some(sub),
        Some(_) => None,
    }
}

pub(crate) fn check_typ(typ: Option<&str>, profile: TypProfile) -> Result<(), VerifyError> {
    let sub = typ.map(application_subtype);
    let is = |sub: Option<&str>, name: &str| sub.is_some_and(|s| s.eq_ignore_ascii_case(name));
    let ok = match (profile, sub) {
        (TypProfile::Compat, None) => true,
        (TypProfile::Compat, Some(s)) => is(s, "at+jwt") || is(s, "jwt"),
        (TypProfile::Strict, Some(s)) => is(s, "at+jwt"),
        (TypProfile::Strict, None) => false,
    };
    if ok { Ok(()) } else { Err(VerifyError::Typ) }
}

/// NumericDate (RFC 7519 §2) values are accepted in [0, 2^53): beyond that a float no longer holds
/// whole seconds, and no real token needs it.
const MAX_NUMERIC_DATE: f64 = 9_007_199_254_740_992.0;

fn numeric_date(value: Option<&Value>, name: &'static str) -> Result<Option<f64>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite() && (0.0..MAX_NUMERIC_DATE).contains(v))
            .map(Some)
            .ok_or(VerifyError::InvalidNumericDate(name)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

/// The claims the checks read, kept from one pass over the payload. Every other member is checked
/// (syntax, unique names at every depth) and skipped: nothing of it is built.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Registered {
    pub(crate) iss: Option<Value>,
    pub(crate) sub: Option<Value>,
    pub(crate) aud: Option<Value>,
    pub(crate) exp: Option<Value>,
    pub(crate) nbf: Option<Value>,
    pub(crate) iat: Option<Value>,
    pub(crate) jti: Option<Value>,
    pub(crate) client_id: Option<Value>,
    pub(crate) cnf: Option<Value>,
    pub(crate) scope: Option<Value>,
    pub(crate) scp: Option<Value>,
}

impl Registered {
    /// Reads a claims set: one JSON object with unique member names at every depth (what
    /// [`json::parse`] accepts, and nothing else).
    pub(crate) fn read(text: &str) -> Result<Self, json::Invalid> {
        json::read(text, PhantomData::<Self>)
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "iss" => &mut self.iss,
            "sub" => &mut self.sub,
            "aud" => &mut self.aud,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "jti" => &mut self.jti,
            "client_id" => &mut self.client_id,
            "cnf" => &mut self.cnf,
            "scope" => &mut self.scope,
            "scp" => &mut self.scp,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Registered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Registered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Registered, A::Error> {
                let mut claims = Registered::default();
                // A registered name repeats when its slot is taken; other names (allocated only
                // when one appears) are sorted to find repeats. Either is refused once the object
                // has been read, as the full parser does: the same text fails for the same reason.
                let mut repeated = false;
                let mut others = Vec::new();
                while let Some(name) = access.next_key::<json::Name<'de>>()? {
                    match claims.slot(&name.0) {
                        Some(Some(_)) => {
                            repeated = true;
                            access.next_value_seed(json::Checked)?;
                        }
                        Some(slot) => *slot = Some(access.next_value_seed(json::UniqueValue)?),
                        None => {
                            access.next_value_seed(json::Checked)?;
                            others.push(name);
                        }
                    }
                }
                if repeated || json::repeats(&mut others) {
                    return Err(json::duplicate());
                }
                Ok(claims)
            }
        }
        d.deserialize_map(V)
    }
}

/// The fuzzed property of [`Registered::read`]: it accepts exactly the JSON objects the full parser
/// accepts, refuses any other object for the same reason (a repeat, or not JSON), and keeps the
/// registered claims as the full parse holds them.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check_read_agrees(text: &str) {
    let one_pass = Registered::read(text);
    match (json::parse_object(text), one_pass) {
        (Ok(full), Ok(mut read)) => {
            for (name, value) in &full {
                if let Some(slot) = read.slot(name) {
                    assert_eq!(slot.take().as_ref(), Some(value), "{name} read differently");
                }
            }
            // Nothing kept that the full parse does not hold.
            assert_eq!(
                read,
                Registered::default(),
                "claims kept that are not in the text"
            );
        }
        // Not an object at all (an array, say) is the one-pass reader's reason whatever the value
        // holds; an object is refused for the same reason by both.
        (Err(full), Err(read))
            if text
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .starts_with('{') =>
        {
            assert_eq!(
                matches!(full, json::Invalid::Duplicate),
                matches!(read, json::Invalid::Duplicate),
                "refused for another reason: {full:?} / {read:?}"
            )
        }
        (Err(_), Err(_)) => {}
        (full, read) => panic!(
            "the readers disagree: {:?} / {:?}",
            full.is_ok(),
            read.is_ok()
        ),
    }
}

/// The registered claims, checked and copied out of the payload.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StandardClaims {
    /// `iss`
    pub iss: String,
    /// `sub`
    pub sub: Option<String>,
    /// `aud`, as a list (a single string becomes one element).
    pub aud: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub exp: f64,
    /// `nbf`
    pub nbf: Option<f64>,
    /// `iat`
    pub iat: Option<f64>,
    /// `jti`
    pub jti: Option<String>,
    /// `client_id` (RFC 9068)
    pub client_id: Option<String>,
}

/// A string claim, moved out of `value` (left `None`).
fn string(value: &mut Option<Value>, name: &'static str) -> Result<Option<String>, VerifyError> {
    match value.take() {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

/// What the validator needs to know.
pub(crate) struct Rules<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audiences: &'a [String],
    pub(crate) leeway: f64,
    pub(crate) now: f64,
    pub(crate) profile: TypProfile,
    /// A DPoP-checked request: `cnf` is the binding the proof is checked against, not a refusal.
    pub(crate) allow_cnf: bool,
}

/// Checks the claims against `rules` and moves the registered ones into [`StandardClaims`] (`cnf`,
/// `scope` and `scp` stay behind).
pub(crate) fn validate(
    claims: &mut Registered,
    rules: &Rules<'_>,
) -> Result<StandardClaims, VerifyError> {
    let exp = numeric_date(claims.exp.as_ref(), "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if rules.now >= exp + rules.leeway {
        return Err(VerifyError::Expired);
    }
    let nbf = numeric_date(claims.nbf.as_ref(), "nbf")?;
    if nbf.is_some_and(|nbf| rules.now + rules.leeway < nbf) {
        return Err(VerifyError::NotYetValid);
    }
    let iat = numeric_date(claims.iat.as_ref(), "iat")?;
    if iat.is_some_and(|iat| iat > rules.now + rules.leeway) {
        return Err(VerifyError::IssuedInFuture);
    }
    let iss = match claims.iss.take() {
        Some(Value::String(iss)) if iss == rules.issuer => iss,
        Some(Value::String(_)) => return Err(VerifyError::IssuerMismatch),
        Some(_) => return Err(VerifyError::InvalidClaim("iss")),
        None => return Err(VerifyError::MissingClaim("iss")),
    };
    let aud = match claims.aud.take() {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(VerifyError::InvalidClaim("aud")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(VerifyError::InvalidClaim("aud")),
        None => return Err(VerifyError::MissingClaim("aud")),
    };
    if !aud.iter().any(|a| rules.audiences.iter().any(|c| c == a)) {
        return Err(VerifyError::AudienceMismatch);
    }
    if claims.cnf.is_some() && !rules.allow_cnf {
        return Err(VerifyError::SenderConstrained);
    }
    let standard = StandardClaims {
        iss,
        sub: string(&mut claims.sub, "sub")?,
        aud,
        exp,
        nbf,
        iat,
        jti: string(&mut claims.jti, "jti")?,
        client_id: string(&mut claims.client_id, "client_id")?,
    };
    if rules.profile == TypProfile::Strict {
        if standard.sub.is_none() {
            return Err(VerifyError::MissingClaim("sub"));
        }
        if standard.client_id.is_none() {
            return Err(VerifyError::MissingClaim("client_id"));
        }
        if standard.iat.is_none() {
            return Err(VerifyError::MissingClaim("iat"));
        }
        if standard.jti.is_none() {
            return Err(VerifyError::MissingClaim("jti"));
        }
    }
    Ok(standard)
}

/// The words of a space-separated scope string (runs of spaces separate, as RFC 6749 §3.3 allows).
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Scopes from `scope` (space-separated, RFC 8693 §4.2 / RFC 9068 §2.2.3) and, when given, `scp`
/// (a string or an array of strings; read only where the verifier accepts it).
pub(crate) fn scopes(
    scope: Option<&Value>,
    scp: Option<&Value>,
) -> Result<Vec<String>, VerifyError> {
    let mut out: Vec<String> = match scope {
        None => Vec::new(),
        Some(Value::String(s)) => words(s).collect(),
        Some(_) => return Err(VerifyError::InvalidClaim("scope")),
    };
    match scp {
        None => {}
        Some(Value::String(s)) => out.extend(words(s)),
        Some(Value::Array(items)) => {
            for item in items {
                out.push(
                    item.as_str()
                        .ok_or(VerifyError::InvalidClaim("scp"))?
                        .to_owned(),
                );
            }
        }
        Some(_) => return Err(VerifyError::InvalidClaim("scp")),
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(now: f64) -> Rules<'static> {
        static AUD: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        Rules {
            issuer: "https://as.example",
            audiences: AUD.get_or_init(|| vec!["api".to_owned()]),
            leeway: 30.0,
            now,
            profile: TypProfile::Compat,
            allow_cnf: false,
        }
    }

    fn check(claims: Value) -> Result<StandardClaims, VerifyError> {
        validate(
            &mut Registered::read(&claims.to_string()).unwrap(),
            &rules(1000.0),
        )
    }

    fn base() -> Value {
        json!({"iss": "https://as.example", "aud": "api", "exp": 2000, "sub": "s"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = base();
        v[key] = value;
        v
    }

    #[test]
    fn time_claims_with_leeway() {
        assert!(check(base()).is_ok());
        assert!(check(with("exp", json!(1000.5))).is_ok());
        assert!(check(with("exp", json!(971))).is_ok(), "within leeway");
        assert_eq!(
            check(with("exp", json!(970))).unwrap_err(),
            VerifyError::Expired
        );
        // NumericDate bounds: [0, 2^53), each outside value with its own reason.
        for bad in [json!(-1), json!(1e300), json!(9_007_199_254_740_992u64)] {
            assert_eq!(
                check(with("exp", bad.clone())).unwrap_err(),
                VerifyError::InvalidNumericDate("exp"),
                "{bad}"
            );
            assert_eq!(
                check(with("nbf", bad.clone())).unwrap_err(),
                VerifyError::InvalidNumericDate("nbf")
            );
            assert_eq!(
                check(with("iat", bad)).unwrap_err(),
                VerifyError::InvalidNumericDate("iat")
            );
        }
        assert!(check(with("exp", json!(9_007_199_254_740_991u64))).is_ok());
        assert_eq!(
            check(with("exp", json!("2000"))).unwrap_err(),
            VerifyError::InvalidClaim("exp")
        );
        assert_eq!(
            check(with("exp", json!(true))).unwrap_err(),
            VerifyError::InvalidClaim("exp")
        );
        let mut no_exp = base();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(check(no_exp).unwrap_err(), VerifyError::MissingClaim("exp"));
        assert!(check(with("nbf", json!(1030))).is_ok());
        assert_eq!(
            check(with("nbf", json!(1031))).unwrap_err(),
            VerifyError::NotYetValid
        );
        assert_eq!(
            check(with("nbf", json!("1"))).unwrap_err(),
            VerifyError::InvalidClaim("nbf")
        );
        assert_eq!(
            check(with("iat", json!(1031))).unwrap_err(),
            VerifyError::IssuedInFuture
        );
        assert_eq!(
            check(with("iat", json!(false))).unwrap_err(),
            VerifyError::InvalidClaim("iat")
        );
    }

    #[test]
    fn issuer_and_audience() {
        assert_eq!(
            check(with("iss", json!(["https://as.example"]))).unwrap_err(),
            VerifyError::InvalidClaim("iss")
        );
        assert_eq!(
            check(with("iss", json!("https://as.example/"))).unwrap_err(),
            VerifyError::IssuerMismatch
        );
        assert!(check(with("aud", json!(["other", "api"]))).is_ok());
        assert_eq!(
            check(with("aud", json!([]))).unwrap_err(),
            VerifyError::InvalidClaim("aud")
        );
        assert_eq!(
            check(with("aud", json!(7))).unwrap_err(),
            VerifyError::InvalidClaim("aud")
        );
        assert_eq!(
            check(with("aud", json!(["api", 7]))).unwrap_err(),
            VerifyError::InvalidClaim("aud")
        );
        assert_eq!(
            check(with("aud", json!("API"))).unwrap_err(),
            VerifyError::AudienceMismatch
        );
        assert_eq!(
            check(with("cnf", json!({"jkt": "x"}))).unwrap_err(),
            VerifyError::SenderConstrained
        );
    }

    #[test]
    fn typ_profiles() {
        for ok in [
            None,
            Some("JWT"),
            Some("jwt"),
            Some("at+jwt"),
            Some("application/AT+JWT"),
        ] {
            assert!(check_typ(ok, TypProfile::Compat).is_ok(), "{ok:?}");
        }
        for bad in ["dpop+jwt", "logout+jwt", "secevent+jwt", "JOSE"] {
            assert_eq!(
                check_typ(Some(bad), TypProfile::Compat),
                Err(VerifyError::Typ)
            );
        }
        assert!(check_typ(Some("at+jwt"), TypProfile::Strict).is_ok());
        assert_eq!(
            check_typ(Some("JWT"), TypProfile::Strict),
            Err(VerifyError::Typ)
        );
        assert_eq!(check_typ(None, TypProfile::Strict), Err(VerifyError::Typ));
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let (scope, scp) = (json!("read  write"), json!(["admin", "read"]));
        assert_eq!(scopes(Some(&scope), None).unwrap(), ["read", "write"]);
        assert_eq!(
            scopes(Some(&scope), Some(&scp)).unwrap(),
            ["admin", "read", "write"]
        );
        assert_eq!(scopes(None, Some(&json!("b a"))).unwrap(), ["a", "b"]);
        assert_eq!(
            scopes(Some(&json!(["a"])), None),
            Err(VerifyError::InvalidClaim("scope"))
        );
        assert_eq!(
            scopes(None, Some(&json!(["a", 1]))),
            Err(VerifyError::InvalidClaim("scp"))
        );
    }

    /// One pass keeps the registered claims and checks the rest as the full parser would: the same
    /// documents are refused (repeats at any depth, however spelled), and nothing else.
    #[test]
    fn registered_claims_are_read_as_the_full_parser_reads_them() {
        let text =
            r#"{"iss":"i","aud":["a"],"exp":5,"x":{"y":[1,{"z":null}]},"cnf":{"jkt":"t"},"w":1e3}"#;
        let read = Registered::read(text).unwrap();
        assert_eq!(read.iss, Some(json!("i")));
        assert_eq!(read.aud, Some(json!(["a"])));
        assert_eq!(read.exp, Some(json!(5)));
        assert_eq!(read.cnf, Some(json!({"jkt": "t"})));
        assert_eq!((read.sub, read.scope, read.scp), (None, None, None));
        check_read_agrees(text);
        // A repeat found early and a syntax error later: refused as the full parser refuses it.
        check_read_agrees(r#"{"iss":"a","iss":"b","x":}"#);
        check_read_agrees(r#"{"x":1,"x":2,"y":[}"#);
        // Not an object: refused by both (the full parser names the repeat inside).
        check_read_agrees(r#"[{"x":1,"x":2}]"#);
        for refused in [
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"iss":"a","\u0069ss":"b"}"#,
            r#"{"x":1,"y":2,"x":3}"#,
            r#"{"x":1,"\u0078":3}"#,
            r#"{"x":{"a":1,"a":2}}"#,
            r#"{"x":[{"a":1,"a":2}]}"#,
            r#"{"cnf":{"jkt":"a","jkt":"b"}}"#,
            r#"{"x":1e999}"#,
            r#"{"x":1} {}"#,
            r#"["iss"]"#,
            r#"{"x":"\ud800"}"#,
            "not json",
        ] {
            assert!(Registered::read(refused).is_err(), "{refused}");
            check_read_agrees(refused);
        }
    }
}
