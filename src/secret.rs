//! Redacting newtypes for credentials: they never print, and their memory is wiped on drop.
//!
//! Every secret this crate handles — client secrets, access and refresh tokens, private keys — lives in
//! one of these types. `Debug` and `Display` print a fixed `[redacted]` marker; the value is reachable
//! only through an explicitly named method (`secret()`), so a stray `{:?}` in a log line leaks nothing.
//!
//! ```
//! use telnyx_oauth::{AccessToken, ClientSecret};
//!
//! let secret = ClientSecret::new("s3cr3t");
//! assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
//! assert_eq!(secret.to_string(), "[redacted]");
//! assert_eq!(secret.secret(), "s3cr3t");
//!
//! let token = AccessToken::new("eyJhbGciOi...");
//! let header = token.bearer_header().unwrap();
//! assert!(header.is_sensitive());
//! ```

use std::fmt;

use http::HeaderValue;
use zeroize::Zeroizing;

/// What `Debug` and `Display` print in place of a secret.
pub(crate) use crate::redact::REDACTED;

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a value. The original `String`'s buffer is moved, not copied.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret value itself. Named so that every place that reveals it is easy to find.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_string!(
    /// An OAuth client secret (RFC 6749 §2.3.1), also the HMAC key of `client_secret_jwt`.
    ClientSecret
);
secret_string!(
    /// An OAuth access token, as received from the token endpoint (RFC 6749 §1.4).
    AccessToken
);
secret_string!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_string!(
    /// A PKCE code verifier (RFC 7636 §4.1): the secret half of a PKCE pair.
    PkceVerifier
);
secret_string!(
    /// An authorization code returned to the redirect URI (RFC 6749 §4.1.2).
    AuthorizationCode
);

impl AccessToken {
    /// An `Authorization: Bearer <token>` header value, marked sensitive so that HTTP/2 HPACK never
    /// indexes it and `http`'s own `Debug` hides it.
    ///
    /// Fails only when the token holds bytes that are not allowed in a header (e.g. a newline),
    /// which an RFC 6750 `b64token` never does.
    pub fn bearer_header(&self) -> Result<HeaderValue, crate::Error> {
        self.authorization("Bearer")
    }

    /// An `Authorization: DPoP <token>` header value (RFC 9449 §7.1), marked sensitive like
    /// [`bearer_header`](Self::bearer_header): for a token bound to a DPoP key, sent with a proof.
    pub fn dpop_header(&self) -> Result<HeaderValue, crate::Error> {
        self.authorization("DPoP")
    }

    fn authorization(&self, scheme: &str) -> Result<HeaderValue, crate::Error> {
        let mut value =
            HeaderValue::try_from(format!("{scheme} {}", self.secret())).map_err(|_| {
                crate::Error::config(
                    "access token contains bytes that cannot be sent in an HTTP header",
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Bytes of a private key (PEM text or a JWK), zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyBytes(Zeroizing<Vec<u8>>);

impl PrivateKeyBytes {
    /// Wraps key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The key bytes themselves.
    pub fn secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKeyBytes({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let values = [
            format!("{:?}", ClientSecret::new("hunter2")),
            format!("{}", ClientSecret::new("hunter2")),
            format!("{:?}", AccessToken::new("hunter2")),
            format!("{}", RefreshToken::new("hunter2")),
            format!("{:?}", PkceVerifier::new("hunter2")),
            format!("{:?}", AuthorizationCode::new("hunter2")),
            format!("{:?}", PrivateKeyBytes::new(b"hunter2".to_vec())),
            format!("{:#?}", Some(RefreshToken::new("hunter2"))),
        ];
        for v in values {
            assert!(!v.contains("hunter2"), "{v}");
            assert!(v.contains(REDACTED), "{v}");
        }
    }

    #[test]
    fn bearer_header_is_sensitive_and_well_formed() {
        let h = AccessToken::new("abc.def").bearer_header().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h.as_bytes(), b"Bearer abc.def");
        assert!(!format!("{h:?}").contains("abc.def"));
    }

    #[test]
    fn bearer_header_rejects_control_characters_without_echoing() {
        let err = AccessToken::new("abc\ndef").bearer_header().unwrap_err();
        assert!(!err.to_string().contains("abc"));
    }
}
