//! [`Verified`]: what a verified token yields — typed claims, standard claims, scopes, key.

use std::any::Any;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::VerifyError;
use super::validation::StandardClaims;
use crate::jose::SigningAlgorithm;

/// What a claims type must be: deserializable, and shareable between requests and the verified-token
/// cache (every `Deserialize` struct of owned, thread-safe fields is: `String`, numbers, `Vec`, `Value`…).
pub trait ClaimsType: DeserializeOwned + Send + Sync + 'static {}

impl<C: DeserializeOwned + Send + Sync + 'static> ClaimsType for C {}

/// The claims object as `C`: handed over as it is when `C` is `Value` (no copy), else deserialized
/// from it (moving its strings).
pub(crate) fn claims_from_value<C: ClaimsType>(value: Value) -> Result<C, VerifyError> {
    let mut slot = Some(value);
    if let Some(same) = (&mut slot as &mut dyn Any).downcast_mut::<Option<C>>()
        && let Some(claims) = same.take()
    {
        return Ok(claims);
    }
    C::deserialize(slot.unwrap_or_default()).map_err(|_| VerifyError::CustomClaims)
}

/// The shared claims object as `C`: the same allocation when `C` is `Value`, else a deserialized copy.
pub(crate) fn claims_from_shared<C: ClaimsType>(value: &Arc<Value>) -> Result<Arc<C>, VerifyError> {
    let any: Arc<dyn Any + Send + Sync> = value.clone();
    match any.downcast::<C>() {
        Ok(same) => Ok(same),
        Err(_) => C::deserialize(&**value)
            .map(Arc::new)
            .map_err(|_| VerifyError::CustomClaims),
    }
}

/// A verified token: typed custom claims, the standard claims, scopes, and what verified it.
///
/// Cheap to clone: the claims are shared (an `Arc`), between clones and with the verified-token cache.
#[derive(Debug)]
pub struct Verified<C = Value> {
    pub(super) claims: Arc<C>,
    pub(super) standard: Arc<StandardClaims>,
    pub(super) scopes: Arc<[String]>,
    pub(super) kid: Option<Arc<str>>,
    pub(super) alg: Option<SigningAlgorithm>,
}

impl<C> Clone for Verified<C> {
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
            claims: Arc::new(claims),
            standard: Arc::new(standard),
            scopes: scopes.into(),
            kid: kid.map(Arc::from),
            alg,
        }
    }

    /// The same verification with the claims deserialized into `C`.
    pub fn into_typed<C: ClaimsType>(self) -> Result<Verified<C>, VerifyError> {
        let claims = match Arc::try_unwrap(self.claims) {
            Ok(value) => Arc::new(claims_from_value(value)?),
            Err(shared) => claims_from_shared(&shared)?,
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
    /// The claims, deserialized into your type.
    pub fn claims(&self) -> &C {
        &self.claims
    }

    /// The claims, shared (a reference count, no copy).
    pub fn shared_claims(&self) -> Arc<C> {
        self.claims.clone()
    }

    /// The claims, taken out: moved when this is their only holder, else cloned (a verified-token
    /// cache hit shares them with the cache).
    pub fn into_claims(self) -> C
    where
        C: Clone,
    {
        Arc::unwrap_or_clone(self.claims)
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
