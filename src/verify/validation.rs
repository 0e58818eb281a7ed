//! Claim validation (RFC 7519 §4.1, RFC 9068): time claims, issuer, audience, type profile, `cnf`,
//! and scopes.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::VerifyError;

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

/// The claims the checks read, found in one pass over the payload (rather than one map search each).
#[derive(Default, Clone, Copy)]
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<&'a Value>,
    pub(crate) sub: Option<&'a Value>,
    pub(crate) aud: Option<&'a Value>,
    pub(crate) exp: Option<&'a Value>,
    pub(crate) nbf: Option<&'a Value>,
    pub(crate) iat: Option<&'a Value>,
    pub(crate) jti: Option<&'a Value>,
    pub(crate) client_id: Option<&'a Value>,
    pub(crate) cnf: Option<&'a Value>,
    pub(crate) scope: Option<&'a Value>,
    pub(crate) scp: Option<&'a Value>,
}

impl<'a> Registered<'a> {
    pub(crate) fn find(claims: &'a Map<String, Value>) -> Self {
        let mut r = Self::default();
        for (name, value) in claims {
            let slot = match name.as_str() {
                "iss" => &mut r.iss,
                "sub" => &mut r.sub,
                "aud" => &mut r.aud,
                "exp" => &mut r.exp,
                "nbf" => &mut r.nbf,
                "iat" => &mut r.iat,
                "jti" => &mut r.jti,
                "client_id" => &mut r.client_id,
                "cnf" => &mut r.cnf,
                "scope" => &mut r.scope,
                "scp" => &mut r.scp,
                _ => continue,
            };
            *slot = Some(value);
        }
        r
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

fn string(value: Option<&Value>, name: &'static str) -> Result<Option<String>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
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

pub(crate) fn validate(
    claims: &Registered<'_>,
    rules: &Rules<'_>,
) -> Result<StandardClaims, VerifyError> {
    let exp = numeric_date(claims.exp, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if rules.now >= exp + rules.leeway {
        return Err(VerifyError::Expired);
    }
    let nbf = numeric_date(claims.nbf, "nbf")?;
    if nbf.is_some_and(|nbf| rules.now + rules.leeway < nbf) {
        return Err(VerifyError::NotYetValid);
    }
    let iat = numeric_date(claims.iat, "iat")?;
    if iat.is_some_and(|iat| iat > rules.now + rules.leeway) {
        return Err(VerifyError::IssuedInFuture);
    }
    let iss = match claims.iss {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(VerifyError::InvalidClaim("iss")),
        None => return Err(VerifyError::MissingClaim("iss")),
    };
    if iss != rules.issuer {
        return Err(VerifyError::IssuerMismatch);
    }
    let aud = match claims.aud {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(VerifyError::InvalidClaim("aud"))
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
        sub: string(claims.sub, "sub")?,
        aud,
        exp,
        nbf,
        iat,
        jti: string(claims.jti, "jti")?,
        client_id: string(claims.client_id, "client_id")?,
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

/// Scopes from `scope` (space-separated, RFC 8693 §4.2 / RFC 9068 §2.2.3) and, when enabled, `scp`
/// (a string or an array of strings).
pub(crate) fn scopes(
    claims: &Registered<'_>,
    accept_scp: bool,
) -> Result<Vec<String>, VerifyError> {
    let mut out: Vec<String> = match claims.scope {
        None => Vec::new(),
        Some(Value::String(s)) => words(s).collect(),
        Some(_) => return Err(VerifyError::InvalidClaim("scope")),
    };
    if accept_scp {
        match claims.scp {
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
            &Registered::find(claims.as_object().unwrap()),
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
        let c = json!({"scope": "read  write", "scp": ["admin", "read"]});
        assert_eq!(
            scopes(&Registered::find(c.as_object().unwrap()), false).unwrap(),
            ["read", "write"]
        );
        assert_eq!(
            scopes(&Registered::find(c.as_object().unwrap()), true).unwrap(),
            ["admin", "read", "write"]
        );
        assert!(
            scopes(
                &Registered::find(json!({"scope": ["a"]}).as_object().unwrap()),
                false
            )
            .is_err()
        );
    }
}
