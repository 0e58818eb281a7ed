//! [`Verified`]: what a verified token yields — typed claims, standard claims, scopes, key.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::VerifyError;
use super::validation::StandardClaims;
use crate::jose::SigningAlgorithm;

/// What a claims type must be: deserializable, and shareable between requests and the verified-token
/// cache (every `Deserialize` struct of owned, thread-safe fields is: `String`, numbers, `Vec`, `Value`…).
pub trait ClaimsType: DeserializeOwned + Send + Sync + 'static {}

impl<C: DeserializeOwned + Send + Sync + 'static> ClaimsType for C {}

/// The claims object as `C`: the same allocation when `C` is `Value` (shared, not copied), else
/// deserialized from it — moving its strings when nothing else holds it (an introspection cache hit
/// does).
fn claims_from_value<C: ClaimsType>(value: Arc<Value>) -> Result<Arc<C>, VerifyError> {
    let any: Arc<dyn Any + Send + Sync> = value.clone();
    if let Ok(same) = any.downcast::<C>() {
        return Ok(same);
    }
    match Arc::try_unwrap(value) {
        Ok(value) => C::deserialize(value),
        Err(shared) => C::deserialize(&*shared),
    }
    .map(Arc::new)
    .map_err(|_| VerifyError::CustomClaims)
}

/// The claims of a verified token as `C`, shared by clones of its [`Verified`] (and with the
/// verified-token cache).
///
/// A claims type of your own is deserialized at verification, so that a token whose claims do not
/// fit it is refused there. A `Value` is built on first read: the checks need only the registered
/// claims, and many callers read nothing else (`subject()`, `scopes()`…), so verifying does not pay
/// for building every claim.
pub(crate) enum Claims<C> {
    Ready(Arc<C>),
    Lazy(Arc<LazyValue<C>>),
}

/// A `Value` not built yet: the payload it is built from, and the build (only ever made for `C` =
/// `Value`; see [`Claims::from_payload`]).
pub(crate) struct LazyValue<C> {
    payload: Arc<str>,
    build: fn(&str) -> C,
    built: OnceLock<Arc<C>>,
}

/// The claims object of `payload`, which the verifier has read already: one JSON object, unique
/// member names at every depth — so parsing it again cannot fail, and the empty object below is
/// never made.
fn build_value(payload: &str) -> Value {
    crate::json::read(payload, crate::json::UniqueValue)
        .unwrap_or_else(|_| Value::Object(Map::new()))
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        match self {
            Self::Ready(c) => Self::Ready(c.clone()),
            Self::Lazy(l) => Self::Lazy(l.clone()),
        }
    }
}

impl<C> Claims<C> {
    fn shared(&self) -> &Arc<C> {
        match self {
            Self::Ready(c) => c,
            Self::Lazy(l) => l.built.get_or_init(|| Arc::new((l.build)(&l.payload))),
        }
    }
}

impl<C: ClaimsType> Claims<C> {
    /// The claims of `payload` — a claims set already read by the verifier (one JSON object, unique
    /// member names at every depth) — as `C`: built on first read for `Value`, deserialized now
    /// for any other type.
    pub(crate) fn from_payload(payload: Arc<str>) -> Result<Self, VerifyError> {
        let build: &dyn Any = &(build_value as fn(&str) -> Value);
        if let Some(build) = build.downcast_ref::<fn(&str) -> C>() {
            return Ok(Self::Lazy(Arc::new(LazyValue {
                payload,
                build: *build,
                built: OnceLock::new(),
            })));
        }
        serde_json::from_str::<C>(&payload)
            .map(|claims| Self::Ready(Arc::new(claims)))
            .map_err(|_| VerifyError::CustomClaims)
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared().fmt(f)
    }
}

/// A verified token: typed custom claims, the standard claims, scopes, and what verified it.
///
/// Cheap to clone: the claims are shared (an `Arc`), between clones and with the verified-token cache.
/// Claims as a `Value` (the default) are built when first read — verifying reads only the registered
/// claims it checks — and then shared the same way; a claims type of your own is deserialized at
/// verification.
#[derive(Debug)]
pub struct Verified<C = Value> {
    pub(super) claims: Claims<C>,
    pub(super) standard: Arc<StandardClaims>,
    pub(super) scopes: Arc<[String]>,
    pub(super) kid: Option<Arc<str>>,
    pub(super) alg: Option<SigningAlgorithm>,
}

impl<C> Clone for Verified<C> {
    // Not derived: that would ask for `C: Clone`.
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            standard: self.standard.clone(),
            scopes: self.scopes.clone(),
            kid: self.kid.clone(),
            alg: self.alg,
        }
    }
}

impl Verified<Value> {
    pub(crate) fn from_parts(
        claims: Value,
        standard: StandardClaims,
        scopes: Vec<String>,
        kid: Option<String>,
        alg: Option<SigningAlgorithm>,
    ) -> Self {
        Self {
            claims: Claims::Ready(Arc::new(claims)),
            standard: Arc::new(standard),
            scopes: scopes.into(),
            kid: kid.map(Arc::from),
            alg,
        }
    }

    /// The same verification with the claims deserialized into `C`.
    pub fn into_typed<C: ClaimsType>(self) -> Result<Verified<C>, VerifyError> {
        let claims = match self.claims {
            Claims::Lazy(lazy) => Claims::from_payload(lazy.payload.clone())?,
            Claims::Ready(value) => Claims::Ready(claims_from_value(value)?),
        };
        Ok(Verified {
            claims,
            standard: self.standard,
            scopes: self.scopes,
            kid: self.kid,
            alg: self.alg,
        })
    }
}

impl<C> Verified<C> {
    /// The claims, deserialized into your type (a `Value` is built on the first read, and shared
    /// by every clone of this `Verified`).
    pub fn claims(&self) -> &C {
        self.claims.shared()
    }

    /// The claims, shared (a reference count, no copy).
    pub fn shared_claims(&self) -> Arc<C> {
        self.claims.shared().clone()
    }

    /// The claims, taken out: moved when this is their only holder, else cloned (a verified-token
    /// cache hit shares them with the cache).
    pub fn into_claims(self) -> C
    where
        C: Clone,
    {
        let shared = match self.claims {
            Claims::Ready(claims) => claims,
            Claims::Lazy(lazy) => match Arc::try_unwrap(lazy) {
                Ok(lazy) => match lazy.built.into_inner() {
                    Some(built) => built,
                    None => return (lazy.build)(&lazy.payload),
                },
                Err(shared) => Claims::Lazy(shared).shared().clone(),
            },
        };
        Arc::unwrap_or_clone(shared)
    }

    /// `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `client_id`.
    pub fn standard(&self) -> &StandardClaims {
        &self.standard
    }

    /// The issuer that verified it (equal to `iss`).
    pub fn issuer(&self) -> &str {
        &self.standard.iss
    }

    /// `sub`
    pub fn subject(&self) -> Option<&str> {
        self.standard.sub.as_deref()
    }

    /// `client_id`
    pub fn client_id(&self) -> Option<&str> {
        self.standard.client_id.as_deref()
    }

    /// The granted scopes, sorted and deduplicated.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The granted scopes, shared (a reference count, no copy).
    pub fn shared_scopes(&self) -> Arc<[String]> {
        self.scopes.clone()
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `alg` (`None` for a token validated by introspection).
    pub fn alg(&self) -> Option<SigningAlgorithm> {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer() -> Verified<Value> {
        let standard = StandardClaims {
            iss: "i".into(),
            sub: Some("s".into()),
            aud: vec![],
            exp: 1.0,
            nbf: None,
            iat: None,
            jti: None,
            client_id: None,
        };
        Verified::from_parts(json!({"sub": "s", "n": 1}), standard, vec![], None, None)
    }

    /// An introspection cache hit is a clone of a shared answer: as a `Value` it stays shared, as a
    /// type of its own it is read in place; held alone, it is moved.
    #[test]
    fn into_typed_shares_a_value_and_reads_other_types_from_it() {
        #[derive(serde::Deserialize, Clone)]
        struct Sub {
            sub: String,
        }
        let cached = answer();
        let hit = cached.clone().into_typed::<Value>().unwrap();
        assert!(Arc::ptr_eq(&hit.shared_claims(), &cached.shared_claims()));
        assert_eq!(
            cached.clone().into_typed::<Sub>().unwrap().claims().sub,
            "s"
        );
        assert_eq!(answer().into_typed::<Sub>().unwrap().into_claims().sub, "s");
        assert_eq!(
            answer().into_typed::<Vec<String>>().err(),
            Some(VerifyError::CustomClaims)
        );
    }
}
