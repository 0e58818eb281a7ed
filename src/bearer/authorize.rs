//! Putting a token on a request — `Authorization`, and for a DPoP-bound token a fresh proof naming
//! the request — and reading what the response says about it: the one implementation the layer, its
//! retry and the reqwest middleware share.

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, StatusCode};
use url::Url;

use super::challenge::{dpop_nonce_demanded, token_rejected_under};
use super::request::BearerRequest;
use crate::error::Error;
use crate::provider::CachedToken;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Where a DPoP proof went and which nonce it carried: a response with another nonce may be retried.
#[derive(Debug)]
pub(crate) struct ProofSent {
    url: Url,
    nonce: Option<String>,
}

/// Puts `token` on `request`. A bearer token is one header insert; a DPoP-bound token also gets a
/// fresh proof for the request's method and URL (which must be absolute), and what the proof carried
/// is returned for reading the response.
#[inline]
pub(crate) fn authorize<R: BearerRequest>(
    request: &mut R,
    token: &CachedToken,
) -> Result<Option<Box<ProofSent>>, Error> {
    let sent = match &token.dpop {
        None => None,
        Some(binding) => {
            let url = request.url().ok_or_else(|| {
                Error::config(
                    "a DPoP proof names the request's absolute URL, and this request has only a \
                     path: send the DPoP-bound token with an absolute URI",
                )
            })?;
            let proof = binding.proof(request.method(), &url)?;
            request.headers_mut().insert(DPOP, proof.proof);
            Some(Box::new(ProofSent {
                url,
                nonce: proof.nonce,
            }))
        }
    };
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.header().clone());
    Ok(sent)
}

/// What to do after a response to a request that carried `token`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Return the response.
    Done,
    /// The resource server asked for a DPoP nonce it has now given: send the request once more with
    /// the same token and a proof carrying that nonce.
    NewNonce,
    /// The 401 rejected the token: invalidate it and send once more with a fresh one.
    Rejected,
}

/// Remembers the `DPoP-Nonce` a response brings for the next proofs to its origin, whatever its
/// status; whether it is new to the proof `sent`.
pub(crate) fn learn_nonce(
    token: &CachedToken,
    sent: Option<&ProofSent>,
    headers: &HeaderMap,
) -> bool {
    match (&token.dpop, sent) {
        (Some(binding), Some(sent)) => {
            binding
                .dpop
                .learn(&sent.url, headers, sent.nonce.as_deref())
        }
        _ => false,
    }
}

/// Reads a response to a request that carried `token` (and, for a DPoP-bound token, the proof
/// `sent`): its nonce is learned, and with `handle_401` a 401 is judged.
pub(crate) fn judge(
    token: &CachedToken,
    sent: Option<&ProofSent>,
    status: StatusCode,
    headers: &HeaderMap,
    handle_401: bool,
) -> Verdict {
    let new_nonce = learn_nonce(token, sent, headers);
    if !handle_401 || status != StatusCode::UNAUTHORIZED {
        return Verdict::Done;
    }
    if token.dpop.is_some() {
        if new_nonce && dpop_nonce_demanded(headers) {
            return Verdict::NewNonce;
        }
        if token_rejected_under(headers, "DPoP") {
            return Verdict::Rejected;
        }
    } else if token_rejected_under(headers, "Bearer") {
        return Verdict::Rejected;
    }
    Verdict::Done
}
