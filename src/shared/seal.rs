//! Token sets at rest: serialized, then sealed with AES-256-GCM under a key the user supplies.
//!
//! A sealed value is `tx1` · key-id length (1 byte) · key id · 96-bit random nonce · ciphertext and
//! tag. The additional authenticated data is the store key and the record's generation, so a value
//! copied to another key or replayed under another generation does not open. Opening tries the key
//! named by the key id only: rotating keys means adding the new key as current and keeping the old
//! one as a decrypt-only key until every value written with it has expired.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::secret::{AccessToken, RefreshToken};
use crate::token::Token;

const MAGIC: &[u8] = b"tx1";

/// A 256-bit AES-GCM key with an id, for the values a shared cache writes.
///
/// Every replica sharing a cache needs the same key (from your secret store; 32 random bytes, e.g.
/// `openssl rand -base64 32`). The id is stored in clear next to each value so that a key can be
/// rotated; it must not be secret and must be at most 64 bytes. Cloning shares the key.
#[derive(Clone)]
pub struct SealingKey {
    id: String,
    key: std::sync::Arc<LessSafeKey>,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("key", &crate::redact::REDACTED)
            .finish()
    }
}

impl SealingKey {
    /// A key from its 32 bytes.
    pub fn new(id: impl Into<String>, bytes: [u8; 32]) -> Result<Self, Error> {
        let bytes = Zeroizing::new(bytes);
        let id = id.into();
        if id.is_empty() || id.len() > 64 {
            return Err(Error::config("a sealing key id must be 1 to 64 bytes long"));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes[..])
            .map_err(|_| Error::config("the sealing key was refused by AES-256-GCM"))?;
        Ok(Self {
            id,
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        })
    }

    /// A key from 32 bytes in standard base64 (as `openssl rand -base64 32` prints them).
    pub fn from_base64(id: impl Into<String>, encoded: &str) -> Result<Self, Error> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| Error::config("the sealing key is not valid base64"))?,
        );
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::config("a sealing key must be exactly 32 bytes"))?;
        Self::new(id, bytes)
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The key values are sealed with, and older keys that may still open them.
#[derive(Debug)]
pub(crate) struct Keyring {
    pub(crate) current: SealingKey,
    pub(crate) previous: Vec<SealingKey>,
}

/// Why a stored value was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// Not in this format at all, or cut short.
    Malformed,
    /// Sealed with a key id this replica does not have.
    UnknownKey,
    /// The key id is known but the value does not open (wrong key, tampered, moved).
    Unauthentic,
    /// Opened, but the token set inside is not one we wrote.
    BadContent,
}

impl Unusable {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown key id",
            Self::Unauthentic => "failed authentication",
            Self::BadContent => "bad content",
        }
    }
}

fn aad(store_key: &str, generation: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(store_key.len() + 9);
    aad.extend_from_slice(store_key.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&generation.to_be_bytes());
    aad
}

impl Keyring {
    /// Seals `plaintext` for `store_key` at `generation`.
    pub(crate) fn seal(
        &self,
        store_key: &str,
        generation: u64,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| {
            Error::internal(
                crate::ErrorClass::Transient,
                "the system random source failed",
            )
        })?;
        let id = self.current.id.as_bytes();
        let mut out =
            Vec::with_capacity(MAGIC.len() + 1 + id.len() + NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(MAGIC);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        let body_at = out.len();
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(body_at);
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(store_key, generation)),
                &mut body,
            )
            .map_err(|_| {
                Error::internal(crate::ErrorClass::Transient, "sealing a token set failed")
            })?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value sealed by [`seal`](Self::seal) for the same key and generation.
    pub(crate) fn open(
        &self,
        store_key: &str,
        generation: u64,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Unusable> {
        let rest = sealed.strip_prefix(MAGIC).ok_or(Unusable::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(Unusable::Malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + 16 {
            return Err(Unusable::Malformed);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id.as_bytes() == id)
            .ok_or(Unusable::UnknownKey)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unusable::Malformed)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = key
            .key
            .open_in_place(nonce, Aad::from(aad(store_key, generation)), &mut buf)
            .map_err(|_| Unusable::Unauthentic)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// A token set as it is written (inside the seal). Durations are whole milliseconds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    access_token: String,
    token_type: String,
    lifetime_ms: u64,
    #[serde(default)]
    lifetime_defaulted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_in_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    extra: Map<String, Value>,
}

impl Drop for Record {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        if let Some(rt) = &mut self.refresh_token {
            rt.zeroize();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The token set's plaintext form (wiped from memory when dropped).
pub(crate) fn encode(token: &Token) -> Result<Zeroizing<Vec<u8>>, Error> {
    let record = Record {
        access_token: token.access_token().secret().to_owned(),
        token_type: token.token_type().to_owned(),
        lifetime_ms: millis(token.expires_in()),
        lifetime_defaulted: token.expires_in_defaulted(),
        refresh_token: token.refresh_token().map(|r| r.secret().to_owned()),
        scope: token.scope().map(str::to_owned),
        refresh_in_ms: token.refresh_in().map(millis),
        extra: token.extra().clone(),
    };
    serde_json::to_vec(&record)
        .map(Zeroizing::new)
        .map_err(|_| {
            Error::internal(
                crate::ErrorClass::Permanent,
                "a token set could not be serialized",
            )
        })
}

/// A token set read back. `expires_at` is when the store says the value expires, as an instant of
/// this process's clock; the token's lifetime is kept, so its refresh schedule is the writer's.
pub(crate) fn decode(plaintext: &[u8], expires_at: Instant) -> Result<Token, Unusable> {
    let record: Record = crate::json::parse(plaintext)
        .map_err(|_| Unusable::BadContent)
        .and_then(|v| serde_json::from_value(v).map_err(|_| Unusable::BadContent))?;
    if record.access_token.is_empty() {
        return Err(Unusable::BadContent);
    }
    let lifetime = Duration::from_millis(record.lifetime_ms);
    // Counted back from the expiry the store measured; a lifetime longer than this process's clock
    // reaches back (just after boot) is shortened instead.
    let (obtained_at, lifetime) = match expires_at.checked_sub(lifetime) {
        Some(at) => (at, lifetime),
        None => {
            let now = Instant::now();
            (now, expires_at.saturating_duration_since(now))
        }
    };
    let mut token = Token::new(
        AccessToken::new(record.access_token.as_str()),
        lifetime,
        obtained_at,
    )
    .with_stored_parts(
        record.token_type.clone(),
        record.lifetime_defaulted,
        record.extra.clone(),
    );
    if let Some(rt) = &record.refresh_token {
        token = token.with_refresh_token(RefreshToken::new(rt.as_str()));
    }
    if let Some(scope) = &record.scope {
        token = token.with_scope(scope.as_str());
    }
    if let Some(ms) = record.refresh_in_ms {
        token = token.with_refresh_in(Duration::from_millis(ms));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(id: &str, byte: u8) -> Keyring {
        Keyring {
            current: SealingKey::new(id, [byte; 32]).unwrap(),
            previous: Vec::new(),
        }
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_key_generation_and_key() {
        let ring = ring("k1", 7);
        let sealed = ring.seal("ns:{a}:token", 3, b"hello").unwrap();
        assert!(
            !sealed.windows(5).any(|w| w == b"hello"),
            "ciphertext, not plaintext"
        );
        assert_eq!(
            &ring.open("ns:{a}:token", 3, &sealed).unwrap()[..],
            b"hello"
        );
        assert_eq!(
            ring.open("ns:{a}:token", 4, &sealed),
            Err(Unusable::Unauthentic)
        );
        assert_eq!(
            ring.open("ns:{b}:token", 3, &sealed),
            Err(Unusable::Unauthentic)
        );
        let other = super::tests::ring("k1", 8);
        assert_eq!(
            other.open("ns:{a}:token", 3, &sealed),
            Err(Unusable::Unauthentic)
        );
        let unknown = super::tests::ring("k2", 7);
        assert_eq!(
            unknown.open("ns:{a}:token", 3, &sealed),
            Err(Unusable::UnknownKey)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            ring.open("ns:{a}:token", 3, &tampered),
            Err(Unusable::Unauthentic)
        );
        for cut in [0, 2, 3, 4, 10, sealed.len() - 17] {
            assert_eq!(
                ring.open("ns:{a}:token", 3, &sealed[..cut]),
                Err(Unusable::Malformed),
                "cut at {cut}"
            );
        }
        assert_ne!(
            ring.seal("k", 1, b"x").unwrap(),
            ring.seal("k", 1, b"x").unwrap(),
            "fresh nonce"
        );
    }

    #[test]
    fn rotation_opens_values_of_the_previous_key() {
        let old = ring("old", 1);
        let sealed = old.seal("k", 1, b"v").unwrap();
        let rotated = Keyring {
            current: SealingKey::new("new", [2; 32]).unwrap(),
            previous: vec![SealingKey::new("old", [1; 32]).unwrap()],
        };
        assert_eq!(&rotated.open("k", 1, &sealed).unwrap()[..], b"v");
        let resealed = rotated.seal("k", 2, b"v").unwrap();
        assert_eq!(old.open("k", 2, &resealed), Err(Unusable::UnknownKey));
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert!(SealingKey::new("", [0; 32]).is_err());
        assert!(SealingKey::new("x".repeat(65), [0; 32]).is_err());
        assert!(SealingKey::from_base64("k", "c2hvcnQ=").is_err());
        let b64 = STANDARD.encode([9u8; 32]);
        let key = SealingKey::from_base64("k", &b64).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("[redacted]") && !shown.contains(&b64));
    }

    #[test]
    fn a_token_set_survives_the_round_trip_and_its_expiry_comes_from_the_store() {
        let now = Instant::now();
        let token = Token::new(AccessToken::new("at-1"), Duration::from_secs(300), now)
            .with_refresh_token(RefreshToken::new("rt-1"))
            .with_scope("a b")
            .with_refresh_in(Duration::from_secs(100));
        let plain = encode(&token).unwrap();
        let expires_at = now + Duration::from_secs(200);
        let back = decode(&plain, expires_at).unwrap();
        assert_eq!(back.access_token().secret(), "at-1");
        assert_eq!(back.refresh_token().unwrap().secret(), "rt-1");
        assert_eq!(back.scope(), Some("a b"));
        assert_eq!(back.refresh_in(), Some(Duration::from_secs(100)));
        assert_eq!(back.expires_in(), Duration::from_secs(300));
        assert_eq!(back.expires_at(), expires_at);
        for bad in [
            &b"{}"[..],
            b"[]",
            b"{\"access_token\":\"\",\"token_type\":\"Bearer\",\"lifetime_ms\":1}",
            b"\xff",
        ] {
            assert_eq!(decode(bad, expires_at).err(), Some(Unusable::BadContent));
        }
        let dup =
            br#"{"access_token":"a","access_token":"b","token_type":"Bearer","lifetime_ms":1}"#;
        assert_eq!(decode(dup, expires_at).err(), Some(Unusable::BadContent));
    }
}
