//! The few DER encodings this crate writes itself: RSA keys from JWK components (RFC 8017 A.1),
//! which aws-lc-rs then parses and validates.

/// DER `RSAPublicKey` (RFC 8017 A.1.1) from the big-endian modulus and exponent.
pub(crate) fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut content = der_integer(n);
    content.extend(der_integer(e));
    der_tlv(0x30, &content)
}

/// DER `RSAPrivateKey` (RFC 8017 A.1.2) from the JWK members n, e, d, p, q, dp, dq, qi.
pub(crate) fn rsa_private_key_der(parts: &[zeroize::Zeroizing<Vec<u8>>]) -> Vec<u8> {
    let mut content = der_integer(&[0]);
    for p in parts {
        content.extend(der_integer(p));
    }
    der_tlv(0x30, &content)
}

fn der_integer(be: &[u8]) -> Vec<u8> {
    let start = be
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(be.len().saturating_sub(1));
    let mut v = Vec::with_capacity(be.len() + 1);
    if be.is_empty() {
        v.push(0);
    } else {
        if be[start] & 0x80 != 0 {
            v.push(0);
        }
        v.extend_from_slice(&be[start..]);
    }
    der_tlv(0x02, &v)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        assert_eq!(der_integer(&[0]), vec![2, 1, 0]);
        assert_eq!(der_integer(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(der_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(der_tlv(0x30, &[0; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(der_tlv(0x30, &[0; 300])[..4], [0x30, 0x82, 1, 44]);
    }
}
