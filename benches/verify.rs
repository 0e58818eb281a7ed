//! `Verifier::verify()` against, in the same run, the physical floor — an aws-lc-rs signature check
//! of the same token with the key parsed once — and a bare `jsonwebtoken::decode` with a prepared
//! `DecodingKey`. Bars (DESIGN §6, the hostile-input issue): `verify()` ≤ 1.10 × the floor for RS256,
//! ES256 and EdDSA; `VerifyLayer` ≤ 1.03 × `verify()` by hand; a verified-token cache hit ≥ 50 × faster
//! than the RS256 floor. A `Value` of claims is built on first read, so `verify()` alone does not
//! build it; the cost of a caller that reads them is printed too. The machine is noisy, so besides
//! criterion's groups the bench times the contenders in alternation (short blocks, many rounds) and
//! prints the median ratios.
//!
//! Run: `cargo bench --bench verify`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use telnyx_oauth::verify::Verifier;

// The tests' fixture helpers: the same catalogue, key set and verifier.
#[path = "../tests/support/verify_fixtures.rs"]
mod verify_fixtures;
use verify_fixtures::{case, fixture, fixture_verifier};

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().position(|&b| b != 0).unwrap();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_uint(b: &[u8], out: &mut Vec<u8>) {
    let b = &b[b.iter().position(|&x| x != 0).unwrap()..];
    out.push(2);
    let pad = b[0] & 0x80 != 0;
    der_len(b.len() + pad as usize, out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(b);
}

/// The floor's key: the same JWK, parsed once by aws-lc-rs.
fn floor_key(jwk: &Value) -> ParsedPublicKey {
    let d = |m: &str| URL_SAFE_NO_PAD.decode(jwk[m].as_str().unwrap()).unwrap();
    let (alg, bytes): (&'static dyn VerificationAlgorithm, Vec<u8>) =
        match jwk["kty"].as_str().unwrap() {
            "RSA" => {
                let mut inner = Vec::new();
                der_uint(&d("n"), &mut inner);
                der_uint(&d("e"), &mut inner);
                let mut seq = vec![0x30];
                der_len(inner.len(), &mut seq);
                seq.extend(inner);
                (&signature::RSA_PKCS1_2048_8192_SHA256, seq)
            }
            "EC" => (
                &signature::ECDSA_P256_SHA256_FIXED,
                [&[4u8][..], &d("x"), &d("y")].concat(),
            ),
            _ => (&signature::ED25519, d("x")),
        };
    ParsedPublicKey::new(alg, bytes).unwrap()
}

fn key_of(jwks: &Value, kid: &str) -> Value {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .clone()
}

/// The floor's parts for a token: its key parsed once, the signing input, and the raw signature.
fn floor_case<'t>(jwk: &Value, token: &'t str) -> (ParsedPublicKey, &'t str, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (floor_key(jwk), input, URL_SAFE_NO_PAD.decode(sig).unwrap())
}

fn ready<T>(f: impl Future<Output = T>) -> T {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("verification of a known key must not wait"),
    }
}

/// Interleaved measurements: this many rounds, each timing a block of calls of every contender in
/// turn. Short blocks keep the machine's drift (frequency, neighbours) the same for all of them.
const ROUNDS: usize = 1001;
const BLOCK: usize = 20;

/// Seconds taken by one block of `BLOCK` calls.
fn block<T>(mut call: impl FnMut() -> T) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..BLOCK {
        black_box(call());
    }
    start.elapsed().as_secs_f64()
}

/// The median of interleaved ratios, with the quartiles around it.
fn median(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    let at = |q: usize| ratios[(ratios.len() - 1) * q / 4];
    format!("{:.3}x (quartiles {:.3}x to {:.3}x)", at(2), at(1), at(3))
}

fn bench(c: &mut Criterion) {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokens = fixture("tokens.json");
    let jwks = fixture("jwks.json");
    let now = tokens["now"].as_f64().unwrap();
    let verifier = rt.block_on(fixture_verifier());
    let token = |name: &str| case(&tokens, name).to_owned();

    let mut g = c.benchmark_group("verify");
    for (alg, name, kid) in [
        ("RS256", "valid RS256", "rs256"),
        ("ES256", "valid ES256", "es256"),
        ("EdDSA", "valid EdDSA", "eddsa"),
    ] {
        let t = token(name);
        let jwk = key_of(&jwks, kid);
        let (key, input, sig) = floor_case(&jwk, &t);
        assert!(key.verify_sig(input.as_bytes(), &sig).is_ok());
        g.bench_function(format!("{alg} floor: parsed-key signature check"), |b| {
            b.iter(|| {
                key.verify_sig(black_box(input.as_bytes()), black_box(&sig))
                    .unwrap()
            })
        });
        let _guard = rt.enter();
        assert!(ready(verifier.verify::<Value>(&t)).is_ok());
        g.bench_function(format!("{alg} verify()"), |b| {
            b.iter(|| ready(verifier.verify::<Value>(black_box(&t))).unwrap())
        });
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.parse().unwrap());
        validation.set_audience(&["https://api.test"]);
        validation.set_issuer(&["https://issuer.test"]);
        assert!(jsonwebtoken::decode::<Value>(&t, &decoding, &validation).is_ok());
        g.bench_function(format!("{alg} jsonwebtoken::decode"), |b| {
            b.iter(|| jsonwebtoken::decode::<Value>(black_box(&t), &decoding, &validation).unwrap())
        });
    }
    let _guard = rt.enter();
    let unknown = token("unknown kid");
    assert!(ready(verifier.verify::<Value>(&unknown)).is_err());
    g.bench_function("unknown kid, rejected from memory", |b| {
        b.iter(|| ready(verifier.verify::<Value>(black_box(&unknown))).unwrap_err())
    });
    let cached = rt
        .block_on(
            Verifier::builder()
                .issuer_with_jwks("https://issuer.test", jwks.clone())
                .audience("https://api.test")
                .clock(move || now)
                .verified_cache(10_000)
                .build(),
        )
        .unwrap();
    let rs = token("valid RS256");
    ready(cached.verify::<Value>(&rs)).unwrap();
    g.bench_function("RS256 verify(), verified-token cache hit", |b| {
        b.iter(|| ready(cached.verify::<Value>(black_box(&rs))).unwrap())
    });
    // The full layer path: request in, token verified, inner service called. The request (header
    // value shared, built once) and the inner service are the same in the baseline, which calls
    // verify() and the inner service by hand: the difference is what the layer adds.
    let layer = telnyx_oauth::verify::VerifyLayer::new(verifier.clone());
    let inner = tower::service_fn(|req: http::Request<()>| {
        let status = if req
            .extensions()
            .get::<telnyx_oauth::verify::Verified>()
            .is_some()
        {
            200
        } else {
            500
        };
        let mut resp = http::Response::new(String::new());
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
        std::future::ready(Ok::<_, std::convert::Infallible>(resp))
    });
    let mut service = tower::Layer::layer(&layer, inner);
    let header: http::HeaderValue = format!("Bearer {rs}").parse().unwrap();
    let request = || {
        let mut req = http::Request::new(());
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, header.clone());
        req
    };
    let through_layer = |service: &mut telnyx_oauth::verify::VerifyService<_>| {
        let resp: http::Response<String> = ready(tower::Service::call(service, request())).unwrap();
        assert_eq!(resp.status(), 200);
    };
    let mut bare = inner;
    let mut by_hand = || {
        let mut req = request();
        let verified = {
            let token =
                &req.headers()[http::header::AUTHORIZATION].to_str().unwrap()["Bearer ".len()..];
            ready(verifier.verify::<Value>(token)).unwrap()
        };
        req.extensions_mut().insert(verified);
        let resp: http::Response<String> = ready(tower::Service::call(&mut bare, req)).unwrap();
        assert_eq!(resp.status(), 200);
    };
    through_layer(&mut service);
    by_hand();
    g.bench_function("RS256 through VerifyLayer", |b| {
        b.iter(|| through_layer(&mut service))
    });
    g.bench_function("RS256 verify() and the inner service by hand", |b| {
        b.iter(&mut by_hand)
    });
    g.finish();

    let (rs_key, rs_input, rs_sig) = floor_case(&key_of(&jwks, "rs256"), &rs);
    let mut rs_floor = || {
        rs_key
            .verify_sig(black_box(rs_input.as_bytes()), black_box(&rs_sig))
            .unwrap()
    };
    let mut ratios = Vec::new();
    let mut ratios_floor = Vec::new();
    for _ in 0..ROUNDS {
        let direct = block(&mut by_hand);
        let layered = block(|| through_layer(&mut service));
        let floor = block(&mut rs_floor);
        ratios.push(layered / direct);
        ratios_floor.push(layered / floor);
    }
    println!(
        "interleaved median ratio layer/(verify() by hand) for RS256: {}",
        median(ratios)
    );
    println!(
        "interleaved median ratio layer/floor for RS256: {}",
        median(ratios_floor)
    );

    // A verified-token cache hit against the RS256 floor, in alternation too.
    let speedups = (0..ROUNDS)
        .map(|_| {
            let floor = block(&mut rs_floor);
            floor / block(|| ready(cached.verify::<Value>(black_box(&rs))).unwrap())
        })
        .collect();
    println!(
        "interleaved median speed-up of a verified-token cache hit over the RS256 floor: {}",
        median(speedups)
    );

    // A caller that reads the claims: a `Value` is built on first read, so this is verify() plus
    // building every claim (what verify() itself cost before claims were built on demand).
    let read_claims = (0..ROUNDS)
        .map(|_| {
            let floor = block(&mut rs_floor);
            block(|| {
                let verified = ready(verifier.verify::<Value>(black_box(&rs))).unwrap();
                black_box(verified.claims());
                verified
            }) / floor
        })
        .collect();
    println!(
        "interleaved median ratio (verify() and claims() read)/floor for valid RS256: {}",
        median(read_claims)
    );

    // A caller with claims of its own type (deserialized at verification, for every caller).
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Mine {
        sub: String,
        client_id: String,
        scope: String,
        jti: String,
    }
    let typed = (0..ROUNDS)
        .map(|_| {
            let floor = block(&mut rs_floor);
            block(|| ready(verifier.verify::<Mine>(black_box(&rs))).unwrap()) / floor
        })
        .collect();
    println!(
        "interleaved median ratio verify::<a struct of 4 claims>()/floor for valid RS256: {}",
        median(typed)
    );

    // Floor and verify() in alternation, round after round, per algorithm.
    for (name, kid) in [
        ("valid RS256", "rs256"),
        ("valid ES256", "es256"),
        ("valid EdDSA", "eddsa"),
    ] {
        let t = token(name);
        let (key, input, sig) = floor_case(&key_of(&jwks, kid), &t);
        let ratios = (0..ROUNDS)
            .map(|_| {
                let floor = block(|| {
                    key.verify_sig(black_box(input.as_bytes()), black_box(&sig))
                        .unwrap()
                });
                block(|| ready(verifier.verify::<Value>(black_box(&t))).unwrap()) / floor
            })
            .collect();
        println!(
            "interleaved median ratio verify()/floor for {name}: {}",
            median(ratios)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
