//! [`Verified`]: what a verified token yields — typed claims, standard claims, scopes, key.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::VerifyError;
use super::validation::StandardClaims;
use crate::jose::SigningAlgorithm;

/// A verified token: typed custom claims, the standard claims, scopes, and what verified it.
#[derive(Debug, Clone)]
pub struct Verified<C = Value> {
    pub(super) claims: C,
    pub(super) standard: Arc<StandardClaims>,
    pub(super) scopes: Arc<[String]>,
    pub(super) kid: Option<Arc<str>>,
    pub(super) alg: Option<SigningAlgorithm>,
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
            claims,
            standard: Arc::new(standard),
            scopes: scopes.into(),
            kid: kid.map(Arc::from),
            alg,
        }
    }

    /// The same verification with the claims deserialized into `C`.
    pub fn into_typed<C: DeserializeOwned>(self) -> Result<Verified<C>, VerifyError> {
        Ok(Verified {
            claims: C::deserialize(self.claims).map_err(|_| VerifyError::CustomClaims)?,
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

    /// The claims, taken out.
    pub fn into_claims(self) -> C {
        self.claims
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
