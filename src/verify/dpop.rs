//! DPoP on the resource server (RFC 9449 §4.3, §7): the checks a proof must pass before a bound token
//! is accepted, and the replay cache.
//!
//! A token whose claims carry `cnf.jkt` is accepted only through
//! [`Verifier::verify_dpop`](super::Verifier::verify_dpop) (which `VerifyLayer` calls for
//! `Authorization: DPoP …`), with exactly one `DPoP` header whose proof: is a JWS with `typ`
//! `dpop+jwt` and an allowed asymmetric `alg`, signed by the `jwk` it embeds (public members only);
//! whose RFC 7638 thumbprint is the token's `cnf.jkt`; whose `htm` and `htu` are this request's method
//! and URL (without query and fragment, RFC 3986-normalized); whose `iat` is within the window; whose
//! `ath` is the token's hash; and whose `jti` has not been seen in the window. The `jti` is recorded
//! only after every other check passed, so a flood of bad proofs cannot fill the cache.
//!
//! Optional: server nonces ([`DpopPolicy::with_nonces`], see [`DpopNonces`]) and a replay cache shared
//! by every replica through the shared token cache's store ([`DpopPolicy::with_shared_replay`]).
//!
//! ```
//! use std::time::Duration;
//! use telnyx_oauth::verify::{DpopMode, DpopPolicy};
//!
//! let policy = DpopPolicy::default()
//!     .with_mode(DpopMode::Required) // bearer tokens refused
//!     .with_window(Duration::from_secs(30));
//! assert_eq!(policy.replay_capacity, telnyx_oauth::verify::DEFAULT_REPLAY_CAPACITY);
//! ```

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::Value;
use url::Url;

use super::dpop_nonce::{DpopNonces, NonceCheck};
use super::error::VerifyError;
use super::jwt::{self, HeaderRules};
use crate::dpop::{DPOP_ALGORITHMS, PROOF_TYP, htu};
use crate::jose::SigningAlgorithm;
use crate::shared::{SharedCache, TokenStore};

/// How old a proof may be (its `iat` before now).
pub const DEFAULT_PROOF_WINDOW: Duration = Duration::from_secs(60);
/// How far in the future a proof's `iat` may be (the client's clock ahead of ours).
pub const DEFAULT_PROOF_LEEWAY: Duration = Duration::from_secs(5);
/// Longest proof read (an RSA-4096 key in its header fits with room to spare).
pub const DEFAULT_MAX_PROOF_BYTES: usize = 8 * 1024;
/// Proofs remembered at most for replay detection; when it is full of unexpired proofs, new ones are
/// refused (`dpop_replay_cache_full`) rather than let through unchecked.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;
/// Longest `jti` accepted.
const MAX_JTI_CHARS: usize = 256;

/// Whether bearer tokens are still accepted next to DPoP-bound ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// DPoP-bound tokens with their proofs, and unbound bearer tokens.
    #[default]
    Allowed,
    /// DPoP-bound tokens only: a bearer token is refused (`dpop_required`).
    Required,
    /// Bearer tokens only: `Authorization: DPoP` is refused (`dpop_not_accepted`) — for a route
    /// ([`VerifyLayer::dpop_mode`](super::VerifyLayer::dpop_mode)) that must not take bound tokens.
    Refused,
}

/// The resource server's DPoP rules. Every field has a default (the constants in this module).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DpopPolicy {
    /// Whether bearer tokens are accepted too.
    pub mode: DpopMode,
    /// See [`DEFAULT_PROOF_WINDOW`].
    pub window: Duration,
    /// See [`DEFAULT_PROOF_LEEWAY`].
    pub leeway: Duration,
    /// Proof algorithms accepted (asymmetric only; HMAC and `none` are never accepted).
    pub algorithms: Vec<SigningAlgorithm>,
    /// See [`DEFAULT_MAX_PROOF_BYTES`].
    pub max_proof_bytes: usize,
    /// See [`DEFAULT_REPLAY_CAPACITY`].
    pub replay_capacity: usize,
    /// Server nonces (RFC 9449 §9): when set, a proof must carry a recent one, and a proof without
    /// it is answered `use_dpop_nonce` with the current nonce. Off by default.
    pub nonces: Option<DpopNonces>,
    /// The replay cache shared by the replicas, next to the local one
    /// ([`with_shared_replay`](Self::with_shared_replay)).
    shared_replay: Option<SharedReplay>,
}

/// The `jti`s seen by any replica, in the shared token cache's store: one `SET NX PX` per accepted
/// proof (the store's lease operation), under a key that holds a hash, never the `jti` itself.
#[derive(Clone)]
pub(crate) struct SharedReplay {
    store: Arc<dyn TokenStore>,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for SharedReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReplay")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SharedReplay {
    /// Records an accepted proof fleet-wide: refused when another replica recorded it first. A store
    /// that fails or does not answer within its timeout leaves the local cache as the only guard
    /// (warned and counted), so an outage of the store is not an outage of the API.
    pub(crate) async fn record(
        &self,
        jkt: &str,
        accepted: &Accepted,
        now: f64,
    ) -> Result<(), DpopReason> {
        let hash = crate::shared::key_hash(&[jkt.as_bytes(), accepted.jti.as_bytes()]);
        let key = format!("{}{hash}", self.prefix);
        let ttl = Duration::from_secs_f64((accepted.forget_after - now).clamp(0.001, 86_400.0));
        let outcome =
            tokio::time::timeout(self.timeout, self.store.try_lease(&key, "1", ttl)).await;
        match outcome {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(DpopReason::Replayed),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the shared DPoP replay cache failed; checked locally only");
                crate::observe::shared_store("replay_store_failure");
                Ok(())
            }
            Err(_) => {
                tracing::warn!("the shared DPoP replay cache timed out; checked locally only");
                crate::observe::shared_store("replay_store_failure");
                Ok(())
            }
        }
    }
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            mode: DpopMode::default(),
            window: DEFAULT_PROOF_WINDOW,
            leeway: DEFAULT_PROOF_LEEWAY,
            algorithms: DPOP_ALGORITHMS.to_vec(),
            max_proof_bytes: DEFAULT_MAX_PROOF_BYTES,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
            nonces: None,
            shared_replay: None,
        }
    }
}

policy_setters!(DpopPolicy {
    with_mode => mode: DpopMode,
    with_window => window: Duration,
    with_leeway => leeway: Duration,
    with_max_proof_bytes => max_proof_bytes: usize,
    with_replay_capacity => replay_capacity: usize,
});

impl DpopPolicy {
    /// Sets [`algorithms`](Self::algorithms) (HMAC algorithms are dropped).
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algs.into_iter().filter(|a| !a.is_hmac()).collect();
        self
    }

    /// Shares the replay cache with every replica using `cache`'s store (the shared token cache's, e.g.
    /// Redis): a proof accepted by one replica is refused by all, for as long as its `iat` is in the
    /// window. Each accepted proof costs one store call (`SET NX PX`), bounded by the cache's
    /// [`store_timeout`](crate::shared::SharedCache::store_timeout); when the store fails or is slow,
    /// the local cache alone guards that proof (warned, and counted as
    /// `telnyx_oauth_shared_store_events_total{event="replay_store_failure"}`).
    pub fn with_shared_replay(mut self, cache: &SharedCache) -> Self {
        self.shared_replay = Some(SharedReplay {
            store: cache.store.clone(),
            prefix: format!("{}:dpop-jti:", cache.namespace),
            timeout: cache.store_timeout,
        });
        self
    }

    /// The shared replay cache, if any.
    pub(crate) fn shared_replay(&self) -> Option<&SharedReplay> {
        self.shared_replay.as_ref()
    }

    /// Requires recent server nonces in every proof (see [`DpopNonces`]).
    pub fn with_nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The accepted algorithms as a challenge's `algs` value (RFC 9449 §7.1).
    pub(crate) fn algs(&self) -> String {
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.as_str()).collect();
        names.join(" ")
    }
}

/// Why a DPoP proof (or its absence) was refused. [`code`](Self::code) is a stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopReason {
    /// No `DPoP` header with a DPoP-bound token.
    Missing,
    /// More than one `DPoP` header.
    Multiple,
    /// The proof is longer than [`DpopPolicy::max_proof_bytes`].
    TooLarge,
    /// Not a well-formed JWS (segments, base64url, JSON, duplicate members, header members).
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Typ,
    /// `alg` is `none`, HMAC, or not allowed.
    Alg,
    /// `jwk` is missing, not a usable public key, or carries private members.
    Jwk,
    /// The proof is not signed by its `jwk`.
    BadSignature,
    /// `htm` is not the request's method.
    Htm,
    /// `htu` is not the request's URL.
    Htu,
    /// `iat` is missing, not a number, too old or in the future.
    Iat,
    /// `ath` is missing or not the hash of the access token.
    Ath,
    /// The `jwk`'s thumbprint is not the token's `cnf.jkt`.
    Thumbprint,
    /// `jti` is missing, not a string, empty or longer than 256 characters.
    Jti,
    /// This `jti` was seen within the window.
    Replayed,
    /// The replay cache is full of unexpired proofs.
    ReplayCacheFull,
    /// Server nonces are required and the proof carries none, or not a recent one: the client
    /// should retry with the nonce of the `use_dpop_nonce` answer.
    UseNonce,
    /// `Authorization: DPoP` with a token that is not DPoP-bound (no `cnf.jkt`).
    NotBound,
    /// A bearer token where [`DpopMode::Required`] asks for a DPoP-bound one.
    Required,
    /// A DPoP-bound token, and this verifier was not given a [`DpopPolicy`].
    NotAccepted,
}

impl DpopReason {
    /// A stable, machine-readable reason code (e.g. `dpop_replayed`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "dpop_missing",
            Self::Multiple => "dpop_multiple",
            Self::TooLarge => "dpop_too_large",
            Self::Malformed => "dpop_malformed",
            Self::Typ => "dpop_typ",
            Self::Alg => "dpop_alg",
            Self::Jwk => "dpop_jwk",
            Self::BadSignature => "dpop_bad_signature",
            Self::Htm => "dpop_htm",
            Self::Htu => "dpop_htu",
            Self::Iat => "dpop_iat",
            Self::Ath => "dpop_ath",
            Self::Thumbprint => "dpop_thumbprint",
            Self::Jti => "dpop_jti",
            Self::Replayed => "dpop_replayed",
            Self::ReplayCacheFull => "dpop_replay_cache_full",
            Self::UseNonce => "dpop_use_nonce",
            Self::NotBound => "dpop_not_bound",
            Self::Required => "dpop_required",
            Self::NotAccepted => "dpop_not_accepted",
        }
    }

    /// Whether the proof itself is at fault (`invalid_dpop_proof`, RFC 9449 §7.1), rather than the
    /// token (`invalid_token`).
    pub fn is_proof_error(self) -> bool {
        !matches!(self, Self::NotBound | Self::Required | Self::NotAccepted)
    }
}

impl fmt::Display for DpopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "a DPoP-bound token needs a DPoP proof",
            Self::Multiple => "more than one DPoP proof",
            Self::TooLarge => "the DPoP proof is too large",
            Self::Malformed => "the DPoP proof is not a well-formed JWS",
            Self::Typ => "the DPoP proof's typ is not dpop+jwt",
            Self::Alg => "the DPoP proof's algorithm is not allowed",
            Self::Jwk => "the DPoP proof's jwk is not a usable public key",
            Self::BadSignature => "the DPoP proof's signature does not verify",
            Self::Htm => "the DPoP proof is for another method",
            Self::Htu => "the DPoP proof is for another URL",
            Self::Iat => "the DPoP proof's iat is outside the accepted window",
            Self::Ath => "the DPoP proof is for another access token",
            Self::Thumbprint => "the DPoP proof's key is not the one the token is bound to",
            Self::Jti => "the DPoP proof's jti is missing or invalid",
            Self::Replayed => "the DPoP proof was already used",
            Self::ReplayCacheFull => "too many DPoP proofs in the window",
            Self::UseNonce => "the DPoP proof needs the server's current nonce",
            Self::NotBound => "the token is not DPoP-bound",
            Self::Required => "a DPoP-bound token is required",
            Self::NotAccepted => "DPoP-bound tokens are not accepted here",
        })
    }
}

/// The proofs seen within the window, by (thumbprint, `jti`), bounded.
pub(crate) struct ReplayCache {
    capacity: usize,
    hasher: std::collections::hash_map::RandomState,
    state: Mutex<ReplayState>,
}

#[derive(Default)]
struct ReplayState {
    seen: HashSet<u64>,
    /// In insertion order: (forget after, key).
    order: VecDeque<(f64, u64)>,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            hasher: std::collections::hash_map::RandomState::new(),
            state: Mutex::new(ReplayState::default()),
        }
    }

    /// Records the proof; refuses it when it was seen (a 64-bit keyed hash: a collision, ~1 in 10^10
    /// at capacity, refuses a good proof, never accepts a replay) or the cache is full.
    fn record(&self, jkt: &str, jti: &str, forget_after: f64, now: f64) -> Result<(), DpopReason> {
        let key = self.hasher.hash_one((jkt, jti));
        let mut state = crate::lock::lock(&self.state);
        while let Some(&(at, old)) = state.order.front() {
            if at > now {
                break;
            }
            state.order.pop_front();
            state.seen.remove(&old);
        }
        if state.seen.contains(&key) {
            return Err(DpopReason::Replayed);
        }
        if state.seen.len() >= self.capacity {
            return Err(DpopReason::ReplayCacheFull);
        }
        state.seen.insert(key);
        state.order.push_back((forget_after, key));
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        crate::lock::lock(&self.state).seen.len()
    }
}

/// What a proof is checked against: the request it came with and the token it accompanies.
pub(crate) struct ProofRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a HeaderMap,
    /// The access token sent with the proof (its `ath` is checked); `None` at a token endpoint.
    pub(crate) access_token: Option<&'a str>,
    /// The key the token is bound to; `None` at a token endpoint, which learns it from the proof.
    pub(crate) jkt: Option<&'a str>,
}

fn typ_is_dpop(typ: Option<&str>) -> bool {
    typ.and_then(super::validation::application_subtype)
        .is_some_and(|sub| sub.eq_ignore_ascii_case(PROOF_TYP))
}

/// A proof sent to a token endpoint at `url` (RFC 9449 §5): checked as a resource server checks one,
/// except that it comes with no access token and its key is the one the new token will be bound to.
/// Returns that key's thumbprint, the `cnf.jkt` to issue.
#[cfg(feature = "dev-server")]
pub(crate) fn check_token_request(
    headers: &HeaderMap,
    url: &Url,
    now: f64,
    replay: &ReplayCache,
) -> Result<String, DpopReason> {
    let request = ProofRequest {
        method: &Method::POST,
        url,
        headers,
        access_token: None,
        jkt: None,
    };
    check_and_record(&request, &DpopPolicy::default(), now, replay).map(|a| a.jkt)
}

/// A proof that passed every check and was recorded locally: what the shared cache records too.
pub(crate) struct Accepted {
    /// The RFC 7638 thumbprint of the proof's key (read by the dev server's token endpoint).
    #[cfg_attr(not(feature = "dev-server"), allow(dead_code))]
    pub(crate) jkt: String,
    jti: String,
    /// When no proof with its `iat` can be accepted any more.
    forget_after: f64,
}

/// Checks the request's one `DPoP` proof; on success its `jti` is recorded.
#[cfg(test)]
pub(crate) fn check_proof(
    request: &ProofRequest<'_>,
    policy: &DpopPolicy,
    now: f64,
    replay: &ReplayCache,
) -> Result<(), DpopReason> {
    check_and_record(request, policy, now, replay).map(|_| ())
}

/// Checks the request's one `DPoP` proof; on success its `jti` is recorded in `replay`.
pub(crate) fn check_and_record(
    request: &ProofRequest<'_>,
    policy: &DpopPolicy,
    now: f64,
    replay: &ReplayCache,
) -> Result<Accepted, DpopReason> {
    let mut values = request.headers.get_all("dpop").iter();
    let proof = match (values.next(), values.next()) {
        (None, _) => return Err(DpopReason::Missing),
        (Some(_), Some(_)) => return Err(DpopReason::Multiple),
        (Some(v), None) => v,
    };
    if proof.len() > policy.max_proof_bytes {
        return Err(DpopReason::TooLarge);
    }
    let proof = proof.to_str().map_err(|_| DpopReason::Malformed)?;
    let rules = HeaderRules {
        ignore_header_keys: false,
        dpop_proof: true,
    };
    let reason = |e| match e {
        VerifyError::AlgNone | VerifyError::AlgNotAllowed => DpopReason::Alg,
        VerifyError::HeaderKey(_) | VerifyError::MissingClaim("jwk") => DpopReason::Jwk,
        _ => DpopReason::Malformed,
    };
    let decoded = jwt::decode(proof, policy.max_proof_bytes).map_err(reason)?;
    let jws = decoded
        .parse(&policy.algorithms, rules, crate::json::parse_object)
        .map_err(reason)?;
    if !typ_is_dpop(jws.header.typ.as_deref()) {
        return Err(DpopReason::Typ);
    }
    let jwk = jws.header.jwk.as_ref().ok_or(DpopReason::Jwk)?;
    let key = super::keys::ingest_one(jwk, &[jws.header.alg]).map_err(|_| DpopReason::Jwk)?;
    // The cheap checks first: a proof for another key, request or token costs no signature check.
    let jkt = crate::jose::thumbprint(jwk).ok_or(DpopReason::Jwk)?;
    if request.jkt.is_some_and(|bound| bound != jkt) {
        return Err(DpopReason::Thumbprint);
    }
    let claims = &jws.claims;
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    if string("htm") != Some(request.method.as_str()) {
        return Err(DpopReason::Htm);
    }
    let claimed = string("htu")
        .and_then(|u| Url::parse(u).ok())
        .ok_or(DpopReason::Htu)?;
    if htu(&claimed) != htu(request.url) {
        return Err(DpopReason::Htu);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .ok_or(DpopReason::Iat)?;
    let (window, leeway) = (policy.window.as_secs_f64(), policy.leeway.as_secs_f64());
    if iat < now - window || iat > now + leeway {
        return Err(DpopReason::Iat);
    }
    if let Some(token) = request.access_token {
        let ath = crate::jose::sha256_b64(token.as_bytes());
        if string("ath") != Some(ath.as_str()) {
            return Err(DpopReason::Ath);
        }
    }
    let jti = string("jti")
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or(DpopReason::Jti)?;
    if !key.verify(jws.header.alg, jws.signing_input, jws.signature) {
        return Err(DpopReason::BadSignature);
    }
    // After the signature: only the key's holder is told to come back with a nonce.
    if let Some(nonces) = &policy.nonces
        && nonces.check(string("nonce"), now) == NonceCheck::Refused
    {
        return Err(DpopReason::UseNonce);
    }
    // Kept until no proof with this iat can be accepted any more.
    let forget_after = iat + window + leeway;
    replay.record(&jkt, jti, forget_after, now)?;
    Ok(Accepted {
        jkt,
        jti: jti.to_owned(),
        forget_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_cache_refuses_repeats_forgets_after_the_window_and_stays_bounded() {
        let cache = ReplayCache::new(3);
        assert_eq!(cache.record("k", "a", 100.0, 0.0), Ok(()));
        assert_eq!(
            cache.record("k", "a", 100.0, 1.0),
            Err(DpopReason::Replayed)
        );
        assert_eq!(
            cache.record("other-key", "a", 100.0, 1.0),
            Ok(()),
            "per key"
        );
        assert_eq!(cache.record("k", "b", 150.0, 2.0), Ok(()));
        assert_eq!(
            cache.record("k", "c", 150.0, 3.0),
            Err(DpopReason::ReplayCacheFull)
        );
        assert_eq!(cache.len(), 3);
        // Past the first two entries' time, they are forgotten and room is made.
        assert_eq!(cache.record("k", "c", 200.0, 100.0), Ok(()));
        assert_eq!(
            cache.record("k", "a", 200.0, 100.0),
            Ok(()),
            "forgotten after its window"
        );
        assert!(cache.len() <= 3);
    }

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use crate::dpop::DpopKey;
    use crate::jose::SigningKey;

    const NOW: f64 = 1_800_000_000.0;
    const TOKEN: &str = "the-access-token";

    /// A proof assembled by hand from exactly this header and these claims.
    fn mint(key: &SigningKey, header: &Value, claims: &Value) -> String {
        let mut jws = URL_SAFE_NO_PAD.encode(header.to_string());
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = key.sign_bytes(jws.as_bytes()).unwrap();
        format!("{jws}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    struct Case {
        key: SigningKey,
        jwk: Value,
        jkt: String,
    }

    impl Case {
        fn new(alg: SigningAlgorithm) -> Self {
            let (key, _) = SigningKey::generate(alg, "k").unwrap();
            let key = key.without_key_id();
            let jwk = Value::Object(key.public_jwk().unwrap());
            let jkt = crate::jose::thumbprint(jwk.as_object().unwrap()).unwrap();
            Self { key, jwk, jkt }
        }
        fn header(&self) -> Value {
            json!({"typ": "dpop+jwt", "alg": self.key.algorithm().as_str(), "jwk": self.jwk})
        }
        fn claims(&self, jti: &str) -> Value {
            json!({"jti": jti, "htm": "POST", "htu": "https://api.example.com/v2/calls", "iat": NOW,
                   "ath": crate::jose::sha256_b64(TOKEN.as_bytes())})
        }
    }

    fn check_with(
        proofs: &[&str],
        method: &str,
        url: &str,
        jkt: &str,
        replay: &ReplayCache,
    ) -> Result<(), DpopReason> {
        let mut headers = HeaderMap::new();
        for p in proofs {
            headers.append("DPoP", p.parse().unwrap());
        }
        let url = Url::parse(url).unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let request = ProofRequest {
            method: &method,
            url: &url,
            headers: &headers,
            access_token: Some(TOKEN),
            jkt: Some(jkt),
        };
        check_proof(&request, &DpopPolicy::default(), NOW, replay)
    }

    const URL: &str = "https://api.example.com/v2/calls";

    #[test]
    fn proofs_from_our_client_pass_for_every_algorithm_and_only_once() {
        for alg in DPOP_ALGORITHMS {
            let key = DpopKey::generate(*alg).unwrap();
            let replay = ReplayCache::new(10);
            let url = Url::parse("https://API.example.com:443/v2/calls?page=2").unwrap();
            let proof = key
                .proof(
                    &Method::POST,
                    &url,
                    Some(&crate::AccessToken::new(TOKEN)),
                    None,
                )
                .unwrap();
            // The client's clock is the real one; check at its time.
            let mut headers = HeaderMap::new();
            headers.insert("dpop", proof.parse().unwrap());
            let request = ProofRequest {
                method: &Method::POST,
                url: &Url::parse(URL).unwrap(),
                headers: &headers,
                access_token: Some(TOKEN),
                jkt: Some(key.thumbprint()),
            };
            let now = crate::clock::unix_now();
            let policy = DpopPolicy::default();
            assert_eq!(
                check_proof(&request, &policy, now, &replay),
                Ok(()),
                "{alg}"
            );
            assert_eq!(
                check_proof(&request, &policy, now, &replay),
                Err(DpopReason::Replayed),
                "{alg}"
            );
        }
    }

    #[test]
    fn every_hostile_proof_is_refused_for_its_own_reason() {
        let c = Case::new(SigningAlgorithm::ES256);
        let other = Case::new(SigningAlgorithm::ES256);
        let with = |f: &dyn Fn(&mut Value, &mut Value)| {
            let (mut h, mut cl) = (c.header(), c.claims("j-1"));
            f(&mut h, &mut cl);
            mint(&c.key, &h, &cl)
        };
        let mut private_jwk = c.jwk.clone();
        private_jwk["d"] = "AAAA".into();
        let long_jti = "j".repeat(300);
        let cases: Vec<(&str, String, &str, &str, DpopReason)> = vec![
            (
                "wrong htm",
                with(&|_, cl| cl["htm"] = "GET".into()),
                "POST",
                URL,
                DpopReason::Htm,
            ),
            (
                "lower-case htm",
                with(&|_, cl| cl["htm"] = "post".into()),
                "POST",
                URL,
                DpopReason::Htm,
            ),
            (
                "htu: other path",
                with(&|_, cl| cl["htu"] = "https://api.example.com/v2/other".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "htu: path prefix",
                with(&|_, cl| cl["htu"] = "https://api.example.com/v2".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "htu: other port",
                with(&|_, cl| cl["htu"] = "https://api.example.com:8443/v2/calls".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "htu: http",
                with(&|_, cl| cl["htu"] = "http://api.example.com/v2/calls".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "htu: path case",
                with(&|_, cl| cl["htu"] = "https://api.example.com/V2/calls".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "htu: not a URL",
                with(&|_, cl| cl["htu"] = "/v2/calls".into()),
                "POST",
                URL,
                DpopReason::Htu,
            ),
            (
                "iat: stale",
                with(&|_, cl| cl["iat"] = (NOW - 61.0).into()),
                "POST",
                URL,
                DpopReason::Iat,
            ),
            (
                "iat: future",
                with(&|_, cl| cl["iat"] = (NOW + 6.0).into()),
                "POST",
                URL,
                DpopReason::Iat,
            ),
            (
                "iat: a string",
                with(&|_, cl| cl["iat"] = "1800000000".into()),
                "POST",
                URL,
                DpopReason::Iat,
            ),
            (
                "iat: missing",
                with(&|_, cl| {
                    cl.as_object_mut().unwrap().remove("iat");
                }),
                "POST",
                URL,
                DpopReason::Iat,
            ),
            (
                "ath: another token",
                with(&|_, cl| cl["ath"] = crate::jose::sha256_b64(b"other").into()),
                "POST",
                URL,
                DpopReason::Ath,
            ),
            (
                "ath: missing",
                with(&|_, cl| {
                    cl.as_object_mut().unwrap().remove("ath");
                }),
                "POST",
                URL,
                DpopReason::Ath,
            ),
            (
                "jti: missing",
                with(&|_, cl| {
                    cl.as_object_mut().unwrap().remove("jti");
                }),
                "POST",
                URL,
                DpopReason::Jti,
            ),
            (
                "jti: too long",
                with(&|_, cl| cl["jti"] = long_jti.clone().into()),
                "POST",
                URL,
                DpopReason::Jti,
            ),
            (
                "jti: empty",
                with(&|_, cl| cl["jti"] = "".into()),
                "POST",
                URL,
                DpopReason::Jti,
            ),
            (
                "jwk with private members",
                with(&|h, _| h["jwk"] = private_jwk.clone()),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "jwk missing",
                with(&|h, _| {
                    h.as_object_mut().unwrap().remove("jwk");
                }),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "jwk not an object",
                with(&|h, _| h["jwk"] = "key".into()),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "jwk symmetric",
                with(&|h, _| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "jku next to jwk",
                with(&|h, _| h["jku"] = "https://evil.example/jwks".into()),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "alg none",
                with(&|h, _| h["alg"] = "none".into()),
                "POST",
                URL,
                DpopReason::Alg,
            ),
            (
                "alg HS256",
                with(&|h, _| h["alg"] = "HS256".into()),
                "POST",
                URL,
                DpopReason::Alg,
            ),
            (
                "alg of another key type",
                with(&|h, _| h["alg"] = "RS256".into()),
                "POST",
                URL,
                DpopReason::Jwk,
            ),
            (
                "typ jwt",
                with(&|h, _| h["typ"] = "jwt".into()),
                "POST",
                URL,
                DpopReason::Typ,
            ),
            (
                "typ missing",
                with(&|h, _| {
                    h.as_object_mut().unwrap().remove("typ");
                }),
                "POST",
                URL,
                DpopReason::Typ,
            ),
            (
                "crit",
                with(&|h, _| h["crit"] = json!(["x"])),
                "POST",
                URL,
                DpopReason::Malformed,
            ),
            (
                "key of another client",
                mint(&other.key, &other.header(), &other.claims("j-1")),
                "POST",
                URL,
                DpopReason::Thumbprint,
            ),
            (
                "signed by another key than its jwk",
                mint(&other.key, &c.header(), &c.claims("j-1")),
                "POST",
                URL,
                DpopReason::BadSignature,
            ),
            (
                "not a JWS",
                "not.a-proof".to_owned(),
                "POST",
                URL,
                DpopReason::Malformed,
            ),
            (
                "oversized",
                format!("{}.{}.sig", "a".repeat(5000), "b".repeat(5000)),
                "POST",
                URL,
                DpopReason::TooLarge,
            ),
        ];
        let replay = ReplayCache::new(100);
        for (what, proof, method, url, expected) in &cases {
            assert_eq!(
                check_with(&[proof], method, url, &c.jkt, &replay),
                Err(*expected),
                "{what}"
            );
        }
        // A duplicate member inside the embedded key (a parser differential) is malformed.
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","x":"{x}","y":"{y}"}}}}"#,
            x = c.jwk["x"].as_str().unwrap(),
            y = c.jwk["y"].as_str().unwrap()
        );
        let mut jws = URL_SAFE_NO_PAD.encode(header);
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(c.claims("j-1").to_string()));
        let sig = c.key.sign_bytes(jws.as_bytes()).unwrap();
        let duplicate = format!("{jws}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            check_with(&[&duplicate], "POST", URL, &c.jkt, &replay),
            Err(DpopReason::Malformed)
        );
        // No proof, two proofs.
        let good = mint(&c.key, &c.header(), &c.claims("j-1"));
        assert_eq!(
            check_with(&[], "POST", URL, &c.jkt, &replay),
            Err(DpopReason::Missing)
        );
        assert_eq!(
            check_with(&[&good, &good], "POST", URL, &c.jkt, &replay),
            Err(DpopReason::Multiple)
        );
        // None of the refused proofs was recorded: the same jti, in a good proof, passes once.
        assert_eq!(replay.len(), 0);
        assert_eq!(check_with(&[&good], "POST", URL, &c.jkt, &replay), Ok(()));
        assert_eq!(
            check_with(&[&good], "POST", URL, &c.jkt, &replay),
            Err(DpopReason::Replayed)
        );
        // What normalization allows: host case, the default port, a query or fragment in htu.
        for (i, htu) in [
            "https://API.Example.COM/v2/calls",
            "https://api.example.com:443/v2/calls",
            "https://api.example.com/v2/calls?x=1#f",
            "https://api.example.com/v2/./calls",
        ]
        .iter()
        .enumerate()
        {
            let mut cl = c.claims(&format!("n-{i}"));
            cl["htu"] = (*htu).into();
            let proof = mint(&c.key, &c.header(), &cl);
            assert_eq!(
                check_with(&[&proof], "POST", URL, &c.jkt, &replay),
                Ok(()),
                "{htu}"
            );
        }
        // The request's own URL is compared without its query.
        let proof = mint(&c.key, &c.header(), &c.claims("q-1"));
        assert_eq!(
            check_with(
                &[&proof],
                "POST",
                "https://api.example.com/v2/calls?page=3",
                &c.jkt,
                &replay
            ),
            Ok(())
        );
    }

    #[test]
    fn typ_is_a_media_type() {
        for ok in [
            "dpop+jwt",
            "DPoP+JWT",
            "application/dpop+jwt",
            "Application/DPOP+jwt",
        ] {
            assert!(typ_is_dpop(Some(ok)), "{ok}");
        }
        for bad in [
            "jwt",
            "at+jwt",
            "application/jwt",
            "dpop",
            "",
            "application/",
        ] {
            assert!(!typ_is_dpop(Some(bad)), "{bad}");
        }
        assert!(!typ_is_dpop(None));
    }
}

#[cfg(test)]
mod nonce_tests {
    use super::*;
    use crate::dpop::DpopKey;

    const NOW: f64 = 1_800_000_000.0;
    const TOKEN: &str = "the-access-token";

    /// With server nonces required, a proof is accepted only with a recent nonce of this server; the
    /// refusal comes after the signature check, and records no `jti` (the retry is a new proof anyway).
    #[test]
    fn server_nonces_are_required_only_when_configured_and_checked_after_the_signature() {
        let nonces = DpopNonces::with_secret(&[9; 32], Duration::from_secs(60)).unwrap();
        let policy = DpopPolicy::default()
            .with_nonces(nonces.clone())
            .with_window(Duration::from_secs(1_000_000_000));
        let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
        let url = Url::parse("https://api.example.com/v2/calls").unwrap();
        let check = |nonce: Option<&str>, policy: &DpopPolicy, replay: &ReplayCache| {
            let proof = key
                .proof(
                    &Method::GET,
                    &url,
                    Some(&crate::AccessToken::new(TOKEN)),
                    nonce,
                )
                .unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("dpop", proof.parse().unwrap());
            let request = ProofRequest {
                method: &Method::GET,
                url: &url,
                headers: &headers,
                access_token: Some(TOKEN),
                jkt: Some(key.thumbprint()),
            };
            check_proof(&request, policy, NOW, replay)
        };
        let replay = ReplayCache::new(10);
        assert_eq!(check(None, &policy, &replay), Err(DpopReason::UseNonce));
        assert_eq!(
            check(Some("made-up"), &policy, &replay),
            Err(DpopReason::UseNonce)
        );
        let stale = nonces.current(NOW - 120.0);
        assert_eq!(
            check(Some(stale.to_str().unwrap()), &policy, &replay),
            Err(DpopReason::UseNonce)
        );
        assert_eq!(replay.len(), 0, "refused proofs are not recorded");
        let current = nonces.current(NOW);
        assert_eq!(
            check(Some(current.to_str().unwrap()), &policy, &replay),
            Ok(())
        );
        let previous = nonces.current(NOW - 60.0);
        assert_eq!(
            check(Some(previous.to_str().unwrap()), &policy, &replay),
            Ok(())
        );
        // Without nonces configured, a proof carrying one or none is fine.
        let plain = DpopPolicy::default().with_window(Duration::from_secs(1_000_000_000));
        assert_eq!(check(None, &plain, &replay), Ok(()));
        assert_eq!(check(Some("anything"), &plain, &replay), Ok(()));
    }
}
