//! [`Verifier`]: checks a token against its issuer's keys and the rules, with an optional cache of
//! verified tokens.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::Value;

use super::cache;
use super::jwks::{JwksCache, KeysHealth};
use super::jwt;
use super::memo::Memo;
use super::validation::{self, Rules, TypProfile};
use super::verified::{Claims, ClaimsType};
use super::{DpopReason, Verified, VerifyError};
use crate::clock::WallClock;
use crate::jose::SigningAlgorithm;

pub(super) enum Keys {
    Jwks(Arc<JwksCache>),
    Hmac(Box<hmac::Key>, Vec<SigningAlgorithm>),
}

pub(super) struct IssuerEntry {
    pub(super) issuer: String,
    pub(super) keys: Keys,
}

/// What a [`Verifier`] holds: the issuers and their keys, and the rules.
pub(super) struct VerifierState {
    pub(super) issuers: Vec<IssuerEntry>,
    pub(super) audiences: Vec<String>,
    pub(super) allowed: Vec<SigningAlgorithm>,
    pub(super) leeway: f64,
    pub(super) profile: TypProfile,
    pub(super) accept_scp: bool,
    pub(super) header_rules: jwt::HeaderRules,
    /// Header segments of tokens that verified, as `allowed` and `header_rules` parsed them.
    pub(super) headers: Memo<jwt::HeaderSpans>,
    pub(super) max_token_bytes: usize,
    pub(super) clock: WallClock,
    pub(super) cache: Option<cache::VerifiedCache>,
    pub(super) dpop: Option<DpopState>,
}

/// A verifier's DPoP rules and the proofs it has seen.
pub(super) struct DpopState {
    pub(super) policy: super::DpopPolicy,
    pub(super) replay: super::dpop::ReplayCache,
}

/// Verifies JWT access tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    pub(super) inner: Arc<VerifierState>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(|i| &i.issuer)
                    .collect::<Vec<_>>(),
            )
            .field("audiences", &self.inner.audiences)
            .field("algorithms", &self.inner.allowed)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Verifies `token` and deserializes its claims into `C` (use `serde_json::Value` for all claims).
    ///
    /// A bearer token: one bound to a DPoP key (`cnf`) is refused here, however it was presented —
    /// use [`verify_dpop`](Self::verify_dpop) for `Authorization: DPoP`.
    pub async fn verify<C: ClaimsType>(&self, token: &str) -> Result<Verified<C>, VerifyError> {
        if let Some(dpop) = &self.inner.dpop
            && dpop.policy.mode == super::DpopMode::Required
        {
            return Err(VerifyError::Dpop(DpopReason::Required));
        }
        self.verify_token(token, None).await
    }

    /// Verifies a DPoP-bound `token` sent as `Authorization: DPoP <token>` on a request with this
    /// `method`, external `url` (as the client addressed it) and `headers` (which must hold exactly
    /// one `DPoP` proof): the token as [`verify`](Self::verify) does, except that it must carry
    /// `cnf.jkt`, then the proof (RFC 9449 §4.3, see [`DpopPolicy`](super::DpopPolicy)).
    pub async fn verify_dpop<C: ClaimsType>(
        &self,
        token: &str,
        method: &http::Method,
        url: &url::Url,
        headers: &http::HeaderMap,
    ) -> Result<Verified<C>, VerifyError> {
        let Some(dpop) = self.accepting_dpop() else {
            return Err(VerifyError::Dpop(DpopReason::NotAccepted));
        };
        let mut jkt = None;
        let verified = self.verify_token(token, Some(&mut jkt)).await?;
        let jkt = jkt.ok_or(VerifyError::Dpop(DpopReason::NotBound))?;
        let request = super::dpop::ProofRequest {
            method,
            url,
            headers,
            access_token: Some(token),
            jkt: Some(&jkt),
        };
        let now = (self.inner.clock)();
        let accepted = super::dpop::check_and_record(&request, &dpop.policy, now, &dpop.replay)
            .map_err(VerifyError::Dpop)?;
        if let Some(shared) = dpop.policy.shared_replay() {
            shared
                .record(&jkt, &accepted, now)
                .await
                .map_err(VerifyError::Dpop)?;
        }
        Ok(verified)
    }

    /// The `DPoP-Nonce` to hand out now, when the [`DpopPolicy`](super::DpopPolicy) requires server
    /// nonces: `VerifyLayer` sends it with every `use_dpop_nonce` answer and every response to a DPoP
    /// request; callers of [`verify_dpop`](Self::verify_dpop) send it themselves.
    pub fn dpop_nonce(&self) -> Option<http::HeaderValue> {
        let nonces = self.inner.dpop.as_ref()?.policy.nonces.as_ref()?;
        Some(nonces.current((self.inner.clock)()))
    }

    /// The token checks. `bound`: a DPoP request, where `cnf` is allowed and its `jkt` is written
    /// there (no verified-token cache: the proof is checked every time anyway).
    async fn verify_token<C: ClaimsType>(
        &self,
        token: &str,
        bound: Option<&mut Option<String>>,
    ) -> Result<Verified<C>, VerifyError> {
        let inner = &*self.inner;
        let cached = match &inner.cache {
            Some(cache) if bound.is_none() && token.len() <= inner.max_token_bytes => {
                if let Some(hit) = self.cache_hit::<C>(cache, token) {
                    return hit;
                }
                Some(cache)
            }
            _ => None,
        };
        let decoded = jwt::decode(token, inner.max_token_bytes)?;
        // A header seen before on a token that verified is not read again (it would read the same).
        let remembered = inner.headers.get(decoded.header_segment());
        // Only the registered claims are kept; the rest of the payload is checked, not built. On the
        // heap: they live across the rare wait for keys, where they would enlarge every
        // verification's future by their size (~350 bytes; the layer's boxed future would outgrow
        // the allocator's cache of small blocks).
        let read: jwt::Reader<Box<validation::Registered>> =
            |text| validation::Registered::read(text).map(Box::new);
        let jwt::Jws {
            header,
            claims: mut registered,
            payload,
            signing_input,
            signature,
        } = match remembered {
            Some(spans) => decoded.parse_remembered(spans, read)?,
            None => decoded.parse(&inner.allowed, inner.header_rules, read)?,
        };
        validation::check_typ(header.typ.as_deref(), inner.profile)?;
        // Choose the issuer's keys by the unverified `iss`; exact equality is required again below.
        let (issuer_index, entry) = match &registered.iss {
            Some(Value::String(iss)) => inner
                .issuers
                .iter()
                .enumerate()
                .find(|(_, e)| e.issuer == *iss)
                .ok_or(VerifyError::IssuerMismatch)?,
            Some(_) => return Err(VerifyError::InvalidClaim("iss")),
            None => return Err(VerifyError::MissingClaim("iss")),
        };
        let alg = header.alg;
        let header_kid = header.kid.as_deref();
        // The `kid` the token named, shared with its key where there is one.
        let kid: Option<Arc<str>> = match &entry.keys {
            Keys::Jwks(cache) => {
                if alg.is_hmac() {
                    return Err(VerifyError::AlgNotAllowed);
                }
                // Boxed: the wait for a fetch is rare, and its state would otherwise enlarge every
                // verification's future (and the layer's boxed future around it).
                let key = match cache.key_now(header_kid, alg) {
                    Some(decided) => decided?,
                    None => Box::pin(cache.key_for(header_kid, alg)).await?,
                };
                if !key.verify(alg, signing_input, signature) {
                    return Err(VerifyError::BadSignature);
                }
                // A token with a `kid` got the key with that very `kid`.
                header_kid.and_then(|_| key.kid.clone())
            }
            Keys::Hmac(key, algs) => {
                if !algs.contains(&alg) {
                    return Err(VerifyError::AlgNotAllowed);
                }
                let tag_ok = hmac::verify(key, signing_input, signature).is_ok();
                if !tag_ok {
                    return Err(VerifyError::BadSignature);
                }
                header_kid.map(Arc::from)
            }
        };
        // The signature verified: this header is the issuer's, worth remembering.
        if remembered.is_none()
            && let Some(spans) = decoded.spans(&header)
        {
            inner.headers.insert(decoded.header_segment(), spans);
        }
        let rules = Rules {
            issuer: &entry.issuer,
            audiences: &inner.audiences,
            leeway: inner.leeway,
            now: (inner.clock)(),
            profile: inner.profile,
            allow_cnf: bound.is_some(),
        };
        let standard = validation::validate(&mut registered, &rules)?;
        if let Some(jkt) = bound {
            *jkt = match &registered.cnf {
                None => None,
                Some(Value::Object(cnf)) => match cnf.get("jkt") {
                    Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
                    _ => return Err(VerifyError::InvalidClaim("cnf")),
                },
                Some(_) => return Err(VerifyError::InvalidClaim("cnf")),
            };
        }
        let standard = Arc::new(standard);
        let scp = registered.scp.as_ref().filter(|_| inner.accept_scp);
        let scopes: Arc<[String]> = validation::scopes(registered.scope.as_ref(), scp)?.into();
        let payload: Arc<str> = payload.into();
        let claims = Claims::<C>::from_payload(payload.clone())?;
        if let Some(cache) = cached {
            cache.insert(
                token,
                cache::Entry {
                    payload,
                    typed: Box::new(claims.clone()),
                    standard: standard.clone(),
                    scopes: scopes.clone(),
                    kid: kid.clone(),
                    alg,
                    issuer: issuer_index,
                },
            );
        }
        Ok(Verified {
            claims,
            standard,
            scopes,
            kid,
            alg: Some(alg),
        })
    }

    /// A cached verification of the same token, if it is still unexpired and its key is still
    /// published; a stale entry is removed.
    fn cache_hit<C: ClaimsType>(
        &self,
        cache: &cache::VerifiedCache,
        token: &str,
    ) -> Option<Result<Verified<C>, VerifyError>> {
        let inner = &*self.inner;
        let hit = cache.get(token)?;
        let now = (inner.clock)();
        let key_still_published = match &inner.issuers.get(hit.issuer)?.keys {
            Keys::Jwks(jwks) => jwks.has_key(hit.kid.as_deref(), hit.alg),
            Keys::Hmac(..) => true,
        };
        if now >= hit.standard.exp + inner.leeway || !key_still_published {
            cache.remove(token);
            return None;
        }
        // The claims as the type they were first verified for, shared; another type is read again.
        let claims = match hit.typed.downcast_ref::<Claims<C>>() {
            Some(same) => Ok(same.clone()),
            None => Claims::from_payload(hit.payload.clone()),
        };
        Some(claims.map(|claims| Verified {
            claims,
            standard: hit.standard.clone(),
            scopes: hit.scopes.clone(),
            kid: hit.kid.clone(),
            alg: Some(hit.alg),
        }))
    }

    /// The DPoP rules when DPoP-bound tokens are accepted at all.
    fn accepting_dpop(&self) -> Option<&DpopState> {
        self.inner
            .dpop
            .as_ref()
            .filter(|d| d.policy.mode != super::DpopMode::Refused)
    }

    /// The DPoP algorithms accepted, for challenges (`None`: DPoP-bound tokens are not accepted).
    pub(crate) fn dpop_algs(&self) -> Option<String> {
        self.accepting_dpop().map(|d| d.policy.algs())
    }

    /// Entries in the verified-token cache (0 when it is off).
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .cache
            .as_ref()
            .map_or(0, cache::VerifiedCache::len)
    }

    /// The key health of each issuer (HMAC issuers are always loaded).
    pub fn health(&self) -> Vec<(String, KeysHealth)> {
        self.inner
            .issuers
            .iter()
            .map(|e| {
                let h = match &e.keys {
                    Keys::Jwks(c) => c.health(),
                    Keys::Hmac(..) => KeysHealth::Loaded {
                        age: Duration::ZERO,
                    },
                };
                (e.issuer.clone(), h)
            })
            .collect()
    }

    /// How many JWKS fetches each issuer's cache has made (for tests and metrics).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner
            .issuers
            .iter()
            .map(|e| match &e.keys {
                Keys::Jwks(c) => c.fetches.load(std::sync::atomic::Ordering::Relaxed),
                Keys::Hmac(..) => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/verify/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Only a header whose token's signature verified is remembered, and a remembered header is
    /// used: a forged token under it still fails its signature check.
    #[tokio::test]
    async fn only_headers_of_tokens_that_verified_are_remembered() {
        let tokens = fixture("tokens.json");
        let now = tokens["now"].as_f64().unwrap();
        let v = Verifier::builder()
            .issuer_with_jwks("https://issuer.test", fixture("jwks.json"))
            .audience("https://api.test")
            .clock(move || now)
            .build()
            .await
            .unwrap();
        let case = |name: &str| {
            tokens["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let header = |t: &str| t.as_bytes()[..t.find('.').unwrap()].to_vec();
        // Refused at the signature or before it: nothing remembered.
        for name in [
            "flipped signature bit",
            "flipped payload bit",
            "embedded jwk, attacker kid",
            "unknown kid",
            "alg none with a signature",
            "HS256 keyed with the RSA public PEM",
            "typ text/jwt",
            "duplicate alg",
        ] {
            assert!(v.verify::<Value>(&case(name)).await.is_err(), "{name}");
            assert_eq!(v.inner.headers.len(), 0, "{name}");
        }
        // Refused after the signature verified (the header is the issuer's): remembered.
        let expired = case("exp past the leeway");
        assert_eq!(
            v.verify::<Value>(&expired).await.unwrap_err(),
            VerifyError::Expired
        );
        assert!(v.inner.headers.get(&header(&expired)).is_some());
        let valid = case("valid RS256");
        let verified = v.verify::<Value>(&valid).await.unwrap();
        assert_eq!(verified.kid(), Some("rs256"));
        let spans = v.inner.headers.get(&header(&valid)).expect("remembered");
        // Under the remembered header, forgeries still fail, and the header is not stored twice.
        let before = v.inner.headers.len();
        for name in ["flipped signature bit", "flipped payload bit"] {
            let forged = case(name);
            assert_eq!(header(&forged), header(&valid));
            assert_eq!(
                v.verify::<Value>(&forged).await.unwrap_err(),
                VerifyError::BadSignature,
                "{name}"
            );
        }
        let again = v.verify::<Value>(&valid).await.unwrap();
        assert_eq!((again.kid(), again.alg()), (Some("rs256"), verified.alg()));
        assert_eq!(v.inner.headers.get(&header(&valid)), Some(spans));
        assert_eq!(v.inner.headers.len(), before);
    }
}
